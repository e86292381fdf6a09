//! [`Dma`]: `Map()`, `Unmap()`, `AllocateBuffer()`, `FreeBuffer()` (UEFI 2.10 section 14.4) over one tracked list.
//!
//! Storage: two `Vec`s in creation order (mappings, common buffers) searched linearly -- firmware drivers hold
//! tens of mappings, not thousands -- plus `exit_owners`, scratch space for the final phase whose capacity is
//! kept at least `mappings.len() + buffers.len()` by reserving (fallibly) before anything is created. Tokens
//! come from a counter that only grows, so a stale token can never alias a newer mapping.

use alloc::vec::Vec;

use crate::error::DmaError;
use crate::memory::{pages_for, DmaMemory, FOUR_GIB, PAGE_SIZE};
use crate::operation::Operation;
use crate::Result;

const LOG: &str = "dma";

/// Identifies one live mapping; the PCI I/O protocol hands it out as the opaque `Mapping` value and takes it
/// back in `Unmap()`. Never 0, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapToken(u64);

impl MapToken {
    /// Rebuild a token from the raw value the ABI handed back (any value is accepted here; an unknown one is
    /// reported by [`Dma::unmap`]).
    pub fn from_raw(raw: u64) -> Self {
        MapToken(raw)
    }

    /// The raw value to hand out as the `Mapping` pointer (never 0).
    pub fn as_raw(self) -> u64 {
        self.0
    }
}

/// Mapping policy of a [`Dma`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Bounce every bus-master read/write mapping, even when the device could reach the buffer (tests; later
    /// SEV shared memory or an IOMMU). Common-buffer mappings never bounce.
    pub force_bounce: bool,
}

/// What `Map()` returns: the address to program into the device, the mapped length and the token for `Unmap()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Bus address the device must use (`DeviceAddress`): the host address for identity mappings, the bounce
    /// buffer's base otherwise.
    pub device_address: u64,
    /// Mapped length in bytes (`NumberOfBytes` on return): always the requested length.
    pub len: usize,
    /// The `Mapping` value for `Unmap()`.
    pub token: MapToken,
}

/// Bounce pages of a mapping: allocated by [`DmaMemory::allocate_pages`], below 4 GiB for 32-bit operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounce {
    /// Page-aligned physical base.
    pub address: u64,
    /// Number of 4 KiB pages.
    pub pages: usize,
}

impl Bounce {
    /// Exclusive end address (bytes, physical).
    pub fn end(&self) -> u64 {
        self.address + self.pages as u64 * PAGE_SIZE
    }
}

/// One entry of the live-mapping list ([`Dma::live_mappings`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveMapping {
    /// The token `Unmap()` takes.
    pub token: MapToken,
    /// Owner tag given at map time (the controller handle).
    pub owner: u64,
    /// The `Map()` operation.
    pub operation: Operation,
    /// Caller's buffer (`HostAddress`, physical).
    pub host_address: u64,
    /// Address the device uses.
    pub device_address: u64,
    /// Length in bytes.
    pub len: usize,
    /// The bounce pages, if the mapping bounces.
    pub bounce: Option<Bounce>,
}

/// One live buffer from `AllocateBuffer()` ([`Dma::live_buffers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommonBuffer {
    /// Owner tag given at allocation (the controller handle).
    pub owner: u64,
    /// Page-aligned physical base.
    pub address: u64,
    /// Number of 4 KiB pages.
    pub pages: usize,
}

impl CommonBuffer {
    /// Exclusive end address (bytes, physical).
    pub fn end(&self) -> u64 {
        self.address + self.pages as u64 * PAGE_SIZE
    }
}

/// The DMA-mapping layer: the single owner of every DMA mapping and common buffer (see the crate docs for the
/// invariants).
pub struct Dma<M: DmaMemory> {
    pub(crate) memory: M,
    policy: Policy,
    pub(crate) mappings: Vec<LiveMapping>,
    pub(crate) buffers: Vec<CommonBuffer>,
    /// Scratch list for [`Dma::release_all_at_exit`]; empty outside it, capacity >= tracked item count.
    pub(crate) exit_owners: Vec<u64>,
    next_token: u64,
    pub(crate) exited: bool,
}

impl<M: DmaMemory> Dma<M> {
    /// A layer with no mappings over `memory`.
    pub fn new(memory: M, policy: Policy) -> Self {
        Dma {
            memory,
            policy,
            mappings: Vec::new(),
            buffers: Vec::new(),
            exit_owners: Vec::new(),
            next_token: 1,
            exited: false,
        }
    }

    /// The mapping policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The physical-memory backend.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// The physical-memory backend, mutably (tests use it to play the device).
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.memory
    }

    /// True once [`Dma::release_all_at_exit`] ran.
    pub fn has_exited(&self) -> bool {
        self.exited
    }

    /// `Map()` (UEFI 2.10 section 14.4): make `len` bytes at `host_address` available to a bus master for
    /// `operation`, on behalf of `owner`. Identity when the device reaches the buffer (a `...64` operation or a
    /// buffer ending at or below 4 GiB) and the policy does not force bouncing; otherwise read/write operations
    /// go through bounce pages (filled from the host buffer now) and common-buffer operations fail.
    ///
    /// # Errors
    /// [`DmaError::AfterExitBootServices`], [`DmaError::ZeroLength`], [`DmaError::AddressOverflow`],
    /// [`DmaError::TokensExhausted`], [`DmaError::TrackingOutOfMemory`], for common buffers
    /// [`DmaError::CommonBufferNotAllocated`] / [`DmaError::CommonBufferUnreachable`], for bounces
    /// [`DmaError::AllocatePages`] / [`DmaError::PagesAbove4GiB`]. Nothing is mapped or allocated on error.
    pub fn map(
        &mut self,
        owner: u64,
        operation: Operation,
        host_address: u64,
        len: usize,
    ) -> Result<Mapping> {
        self.ensure_live()?;
        if len == 0 {
            return Err(DmaError::ZeroLength);
        }
        let end = host_address
            .checked_add(len as u64)
            .ok_or(DmaError::AddressOverflow { host_address, len })?;
        let token = MapToken(self.next_token);
        let next_token = self
            .next_token
            .checked_add(1)
            .ok_or(DmaError::TokensExhausted)?;
        self.reserve_tracking(1, 0)?;

        let (device_address, bounce) = if operation.is_common_buffer() {
            self.check_common_buffer(operation, host_address, end, len)?;
            (host_address, None)
        } else if !self.policy.force_bounce && (operation.is_64bit() || end <= FOUR_GIB) {
            (host_address, None)
        } else {
            let bounce = self.allocate_pages_checked(pages_for(len), !operation.is_64bit())?;
            // Reads need the data now; writes get it too so bytes the device leaves alone copy back unchanged.
            self.memory.copy(bounce.address, host_address, len);
            (bounce.address, Some(bounce))
        };

        self.mappings.push(LiveMapping {
            token,
            owner,
            operation,
            host_address,
            device_address,
            len,
            bounce,
        });
        self.next_token = next_token;
        log::debug!(
            target: LOG,
            "map #{} owner {owner:#x} {operation:?} {host_address:#x}+{len:#x} -> {device_address:#x}{}",
            token.0,
            if bounce.is_some() { " (bounce)" } else { "" }
        );
        Ok(Mapping {
            device_address,
            len,
            token,
        })
    }

    /// `Unmap()` (UEFI 2.10 section 14.4): end the mapping `token`. A bounced bus-master write copies the bounce
    /// pages back to the host buffer first; bounce pages are then freed. The mapping leaves the list even if
    /// freeing fails.
    ///
    /// # Errors
    /// [`DmaError::AfterExitBootServices`], [`DmaError::UnknownToken`] (never issued or no longer live),
    /// [`DmaError::FreePages`] (the copy-back happened; the pages leak).
    pub fn unmap(&mut self, token: MapToken) -> Result<()> {
        self.ensure_live()?;
        let index = self
            .mappings
            .iter()
            .position(|m| m.token == token)
            .ok_or(DmaError::UnknownToken(token))?;
        let mapping = self.mappings.remove(index);
        log::debug!(target: LOG, "unmap #{} owner {:#x}", token.0, mapping.owner);
        if let Some(bounce) = mapping.bounce {
            if mapping.operation.is_write() {
                self.memory
                    .copy(mapping.host_address, bounce.address, mapping.len);
            }
            self.memory
                .free_pages(bounce.address, bounce.pages)
                .map_err(DmaError::FreePages)?;
        }
        Ok(())
    }

    /// `AllocateBuffer()` (UEFI 2.10 section 14.4): allocate `pages` pages for common-buffer mappings on behalf
    /// of `owner`; `below_4g` unless the caller passed `EFI_PCI_ATTRIBUTE_DUAL_ADDRESS_CYCLE`. Returns the
    /// page-aligned physical base.
    ///
    /// # Errors
    /// [`DmaError::AfterExitBootServices`], [`DmaError::ZeroPages`], [`DmaError::TrackingOutOfMemory`],
    /// [`DmaError::AllocatePages`], [`DmaError::PagesAbove4GiB`].
    pub fn allocate_buffer(&mut self, owner: u64, pages: usize, below_4g: bool) -> Result<u64> {
        self.ensure_live()?;
        if pages == 0 {
            return Err(DmaError::ZeroPages);
        }
        self.reserve_tracking(0, 1)?;
        let Bounce { address, pages } = self.allocate_pages_checked(pages, below_4g)?;
        self.buffers.push(CommonBuffer {
            owner,
            address,
            pages,
        });
        log::debug!(target: LOG, "allocate buffer owner {owner:#x} {address:#x} ({pages} pages)");
        Ok(address)
    }

    /// `FreeBuffer()` (UEFI 2.10 section 14.4): free a buffer from [`Dma::allocate_buffer`] given its base and
    /// page count.
    ///
    /// # Errors
    /// [`DmaError::AfterExitBootServices`], [`DmaError::ZeroPages`], [`DmaError::BufferNotAllocated`],
    /// [`DmaError::BufferPagesMismatch`], [`DmaError::BufferStillMapped`] (nothing changes on these), and
    /// [`DmaError::FreePages`] (the buffer leaves the list; its pages leak).
    pub fn free_buffer(&mut self, address: u64, pages: usize) -> Result<()> {
        self.ensure_live()?;
        if pages == 0 {
            return Err(DmaError::ZeroPages);
        }
        let index = self
            .buffers
            .iter()
            .position(|b| b.address == address)
            .ok_or(DmaError::BufferNotAllocated { address })?;
        let buffer = self.buffers[index];
        if buffer.pages != pages {
            return Err(DmaError::BufferPagesMismatch {
                address,
                allocated: buffer.pages,
                given: pages,
            });
        }
        if let Some(m) = self.mappings.iter().find(|m| {
            m.operation.is_common_buffer()
                && m.host_address >= address
                && m.host_address < buffer.end()
        }) {
            return Err(DmaError::BufferStillMapped {
                address,
                token: m.token,
            });
        }
        self.buffers.remove(index);
        log::debug!(target: LOG, "free buffer owner {:#x} {address:#x} ({pages} pages)", buffer.owner);
        self.memory
            .free_pages(address, pages)
            .map_err(DmaError::FreePages)
    }

    /// Every live mapping, in creation order.
    pub fn live_mappings(&self) -> impl Iterator<Item = &LiveMapping> {
        self.mappings.iter()
    }

    /// Every live common buffer, in allocation order.
    pub fn live_buffers(&self) -> impl Iterator<Item = &CommonBuffer> {
        self.buffers.iter()
    }

    /// The live mappings made for `owner`.
    pub fn mappings_of(&self, owner: u64) -> impl Iterator<Item = &LiveMapping> {
        self.mappings.iter().filter(move |m| m.owner == owner)
    }

    /// The live common buffers allocated for `owner`.
    pub fn buffers_of(&self, owner: u64) -> impl Iterator<Item = &CommonBuffer> {
        self.buffers.iter().filter(move |b| b.owner == owner)
    }

    /// For a driver's `Stop()`: succeed only if `owner` holds no mapping and no common buffer.
    ///
    /// # Errors
    /// [`DmaError::OwnerStillHolds`] with the counts of what is left.
    pub fn check_released(&self, owner: u64) -> Result<()> {
        let mappings = self.mappings_of(owner).count();
        let buffers = self.buffers_of(owner).count();
        if mappings == 0 && buffers == 0 {
            Ok(())
        } else {
            Err(DmaError::OwnerStillHolds {
                owner,
                mappings,
                buffers,
            })
        }
    }

    fn ensure_live(&self) -> Result<()> {
        if self.exited {
            Err(DmaError::AfterExitBootServices)
        } else {
            Ok(())
        }
    }

    /// Reserve room for the new items and keep `exit_owners` able to hold one owner per tracked item, so the
    /// final phase never grows a `Vec`.
    fn reserve_tracking(&mut self, more_mappings: usize, more_buffers: usize) -> Result<()> {
        let total = self.mappings.len() + self.buffers.len() + more_mappings + more_buffers;
        self.mappings
            .try_reserve(more_mappings)
            .and_then(|()| self.buffers.try_reserve(more_buffers))
            // `exit_owners` is empty outside the final phase, so reserving `total` makes capacity >= total.
            .and_then(|()| self.exit_owners.try_reserve(total))
            .map_err(|_| DmaError::TrackingOutOfMemory)
    }

    /// Allocate pages and verify the below-4-GiB promise; a broken promise frees the pages again.
    fn allocate_pages_checked(&mut self, pages: usize, below_4g: bool) -> Result<Bounce> {
        let address = self
            .memory
            .allocate_pages(pages, below_4g)
            .map_err(DmaError::AllocatePages)?;
        let bytes = pages as u64 * PAGE_SIZE;
        let error = match address.checked_add(bytes) {
            None => DmaError::AddressOverflow {
                host_address: address,
                len: bytes as usize,
            },
            Some(end) if below_4g && end > FOUR_GIB => DmaError::PagesAbove4GiB { address, pages },
            Some(_) => return Ok(Bounce { address, pages }),
        };
        if let Err(status) = self.memory.free_pages(address, pages) {
            log::error!(target: LOG, "freeing misplaced pages {address:#x} failed: {:#x}", status.as_usize());
        }
        Err(error)
    }

    fn check_common_buffer(
        &self,
        operation: Operation,
        host_address: u64,
        end: u64,
        len: usize,
    ) -> Result<()> {
        if !self
            .buffers
            .iter()
            .any(|b| b.address <= host_address && end <= b.end())
        {
            return Err(DmaError::CommonBufferNotAllocated { host_address, len });
        }
        if !operation.is_64bit() && end > FOUR_GIB {
            return Err(DmaError::CommonBufferUnreachable { host_address, len });
        }
        Ok(())
    }
}
