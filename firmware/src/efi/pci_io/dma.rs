//! PCI I/O DMA (UEFI 2.10 section 14.4): `Map`, `Unmap`, `AllocateBuffer`, `FreeBuffer` and `Flush`, all through
//! the firmware's one `dma::Dma` (`crates/dma`), and the `DmaMemory` it runs on.
//!
//! - **Memory**: pages come from the UEFI memory map (`EfiBootServicesData`, or the type `AllocateBuffer` asked
//!   for); "below 4 GiB" is `AllocateMaxAddress` at 4 GiB - 1. Memory is identity-mapped, so a copy is a plain
//!   `memmove` between physical addresses and device addresses equal host addresses unless a bounce is needed.
//! - **64-bit DMA**: the PCI I/O operations are the three 32-bit ones; a function whose driver enabled
//!   `EFI_PCI_IO_ATTRIBUTE_DUAL_ADDRESS_CYCLE` gets the `...64` variants of the DMA layer (no bounce above 4 GiB).
//!   `AllocateBuffer` places a buffer above 4 GiB only when its `Attributes` ask for dual address cycle *and*
//!   the function has it enabled, since a 32-bit common-buffer mapping could not reach it otherwise.
//! - **Ownership**: every mapping and buffer carries the controller handle as owner; `Unmap`/`FreeBuffer` of
//!   another function's mapping or buffer is `EFI_INVALID_PARAMETER`.
//! - **Locking**: the DMA state is borrowed with the TPL raised to at least `TPL_NOTIFY`, so the memory-map-change
//!   notifications a page allocation queues run after the borrow ends (spec: these services are callable at
//!   `TPL_NOTIFY` and below).
//! - **Exit**: [`release_at_exit`] is the ExitBootServices final action; it allocates nothing.

use core::ffi::c_void;

use boot_services::memory::AllocateType;
use boot_services::tpl::Tpl;
use dma::{Dma, DmaError, DmaMemory, MapToken, Operation, Policy, FOUR_GIB};
use r_efi::efi::{self, Status};
use r_efi::protocols::pci_io;

use super::{device, owner_bdf, DeviceView, LOG};
use crate::efi::memory::with_map;
use crate::efi::state::{events, Global};

/// `AllocateBuffer` attributes the spec allows (UEFI 2.10 section 14.4); any other bit is `EFI_UNSUPPORTED`.
const ALLOCATE_ATTRIBUTES: u64 = pci_io::ATTRIBUTE_MEMORY_WRITE_COMBINE
    | pci_io::ATTRIBUTE_MEMORY_CACHED
    | pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE;

/// The UEFI memory map as the DMA layer's physical memory.
pub struct UefiPages {
    /// Memory type of the next page allocation (`EfiBootServicesData` except inside `AllocateBuffer`).
    memory_type: u32,
}

impl DmaMemory for UefiPages {
    fn allocate_pages(&mut self, pages: usize, below_4g: bool) -> Result<u64, Status> {
        let kind = if below_4g {
            AllocateType::MaxAddress(FOUR_GIB - 1)
        } else {
            AllocateType::AnyPages
        };
        let memory_type = self.memory_type;
        with_map(|map| map.allocate_pages(kind, memory_type, pages as u64))
    }

    fn free_pages(&mut self, addr: u64, pages: usize) -> Result<(), Status> {
        with_map(|map| map.free_pages(addr, pages as u64))
    }

    fn copy(&mut self, dst: u64, src: u64, len: usize) {
        // SAFETY: identity-mapped physical memory; the DMA layer passes pages it allocated or a range a Map()
        // caller owns (UEFI trusts HostAddress). `copy` is a memmove and allocates nothing.
        unsafe { core::ptr::copy(src as *const u8, dst as *mut u8, len) };
    }
}

/// The one DMA layer (`None` until [`init`]).
static DMA: Global<Option<Dma<UefiPages>>> = Global::new(None);

/// Creates the DMA layer. Errors: `ALREADY_STARTED` if it exists.
pub fn init() -> Result<(), Status> {
    DMA.with(|d| {
        if d.is_some() {
            return Err(Status::ALREADY_STARTED);
        }
        let memory = UefiPages {
            memory_type: efi::BOOT_SERVICES_DATA,
        };
        *d = Some(Dma::new(memory, Policy::default()));
        Ok(())
    })
}

/// Runs `f` on the DMA layer with the TPL at least `TPL_NOTIFY` (module notes).
fn with_dma<R>(f: impl FnOnce(&mut Dma<UefiPages>) -> Result<R, Status>) -> Result<R, Status> {
    let ev = events();
    let old = ev.raise_tpl(ev.current_tpl().max(Tpl::NOTIFY));
    let result = DMA.with(|d| match d.as_mut() {
        Some(d) => f(d),
        None => Err(Status::NOT_READY),
    });
    ev.restore_tpl(old);
    result
}

/// Logs a refused DMA call and converts it to its status.
fn refused(dev: &DeviceView, call: &str, e: DmaError) -> Status {
    log::debug!(target: LOG, "{}: {call}: {e}", dev.bdf);
    e.status()
}

pub extern "efiapi" fn map(
    this: *mut pci_io::Protocol,
    operation: pci_io::Operation,
    host_address: *mut c_void,
    number_of_bytes: *mut usize,
    device_address: *mut efi::PhysicalAddress,
    mapping: *mut *mut c_void,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        if operation >= pci_io::OPERATION_MAXIMUM
            || host_address.is_null()
            || number_of_bytes.is_null()
            || device_address.is_null()
            || mapping.is_null()
        {
            return Err(Status::INVALID_PARAMETER);
        }
        let raw = operation + if dev.dual_address_cycle { 3 } else { 0 };
        let operation = Operation::from_raw(raw).map_err(|e| e.status())?;
        // SAFETY: non-null IN/OUT UINTN (Map contract).
        let len = unsafe { number_of_bytes.read_unaligned() };
        let mapped = with_dma(|d| {
            d.map(dev.owner, operation, host_address as u64, len)
                .map_err(|e| refused(&dev, "Map", e))
        })?;
        // SAFETY: the three OUT pointers are non-null (checked above) and point at caller storage.
        unsafe {
            number_of_bytes.write_unaligned(mapped.len);
            device_address.write_unaligned(mapped.device_address);
            mapping.write_unaligned(mapped.token.as_raw() as usize as *mut c_void);
        }
        Ok(())
    };
    crate::efi::status(run())
}

pub extern "efiapi" fn unmap(this: *mut pci_io::Protocol, mapping: *mut c_void) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        let token = MapToken::from_raw(mapping as usize as u64);
        with_dma(|d| {
            let owner = d
                .live_mappings()
                .find(|m| m.token == token)
                .map(|m| m.owner);
            if owner != Some(dev.owner) {
                log::debug!(target: LOG, "{}: Unmap of a mapping it does not hold ({mapping:p})", dev.bdf);
                return Err(Status::INVALID_PARAMETER);
            }
            d.unmap(token).map_err(|e| refused(&dev, "Unmap", e))
        })
    };
    crate::efi::status(run())
}

pub extern "efiapi" fn allocate_buffer(
    this: *mut pci_io::Protocol,
    _allocate_type: efi::AllocateType,
    memory_type: efi::MemoryType,
    pages: usize,
    host_address: *mut *mut c_void,
    attributes: u64,
) -> Status {
    // `Type` is not used and must be ignored (UEFI 2.10 section 14.4, AllocateBuffer).
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        if host_address.is_null()
            || (memory_type != efi::BOOT_SERVICES_DATA && memory_type != efi::RUNTIME_SERVICES_DATA)
        {
            return Err(Status::INVALID_PARAMETER);
        }
        if attributes & !ALLOCATE_ATTRIBUTES != 0 {
            return Err(Status::UNSUPPORTED);
        }
        let dac = attributes & pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE != 0 && dev.dual_address_cycle;
        let address = with_dma(|d| {
            d.memory_mut().memory_type = memory_type;
            let r = d.allocate_buffer(dev.owner, pages, !dac);
            d.memory_mut().memory_type = efi::BOOT_SERVICES_DATA;
            r.map_err(|e| refused(&dev, "AllocateBuffer", e))
        })?;
        // SAFETY: non-null OUT VOID** (AllocateBuffer contract).
        unsafe { host_address.write_unaligned(address as usize as *mut c_void) };
        Ok(())
    };
    crate::efi::status(run())
}

pub extern "efiapi" fn free_buffer(
    this: *mut pci_io::Protocol,
    pages: usize,
    host_address: *mut c_void,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        let address = host_address as usize as u64;
        with_dma(|d| {
            let owner = d
                .live_buffers()
                .find(|b| b.address == address)
                .map(|b| b.owner);
            if owner != Some(dev.owner) {
                log::debug!(target: LOG, "{}: FreeBuffer of {address:#x}, not its buffer", dev.bdf);
                return Err(Status::INVALID_PARAMETER);
            }
            d.free_buffer(address, pages)
                .map_err(|e| refused(&dev, "FreeBuffer", e))
        })
    };
    crate::efi::status(run())
}

/// Flush: nothing is posted between host and device (identity mapping, coherent DMA under QEMU), so it only
/// validates `This`.
pub extern "efiapi" fn flush(this: *mut pci_io::Protocol) -> Status {
    crate::efi::status(device(this))
}

/// The ExitBootServices final action: release every mapping and common buffer (completing bounced bus-master
/// writes) and log the functions that still held any. That is the normal case for a function whose driver is
/// started: its quiesce reset the device and left the memory to this phase, which runs after every handler. Allocates nothing: the DMA layer's release is
/// allocation-free, the report borrows its owner list, and logging formats into the serial console.
pub fn release_at_exit() {
    DMA.with(|d| {
        let Some(d) = d.as_mut() else {
            return;
        };
        let report = d.release_all_at_exit();
        if report.is_clean() {
            log::info!(target: LOG, "exit: no DMA mapping or common buffer was left");
            return;
        }
        for &owner in report.owners {
            match owner_bdf(owner) {
                Some(bdf) => {
                    log::info!(target: LOG, "exit: released the DMA mappings and buffers {bdf} still held")
                }
                None => log::warn!(target: LOG, "exit: released DMA mappings or buffers of an unknown owner {owner:#x}"),
            }
        }
        if report.owners_truncated {
            log::error!(target: LOG, "exit: the owner list was truncated");
        }
    });
}
