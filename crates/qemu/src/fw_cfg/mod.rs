//! QEMU firmware configuration device (fw_cfg), x86 I/O-port flavour.
//!
//! Source: QEMU `docs/specs/fw_cfg.txt`. Registers on x86:
//!
//! | port  | width | use                                                                     |
//! |-------|-------|-------------------------------------------------------------------------|
//! | 0x510 | 16    | selector: write an item key, resets the item's data offset to 0         |
//! | 0x511 | 8     | data: each read returns the next byte of the selected item (0 past end) |
//! | 0x514 | 32    | DMA address, high half (big-endian register)                            |
//! | 0x518 | 32    | DMA address, low half; writing it starts the DMA transfer               |
//!
//! Design note / invariants:
//! - [`FwCfg::new`] checks the signature item and caches the feature bitmap and the file directory, so
//!   [`FwCfg::files`] never touches hardware. The directory is parsed defensively (see [`directory`]).
//! - Data reads go through DMA when the feature bitmap advertises it (bit 1), otherwise through the data port.
//!   Writes only exist through DMA (the legacy data-port write was removed from QEMU in 2.4).
//! - A DMA transfer hands QEMU the address of an access structure `{u32 control, u32 length, u64 address}`
//!   (big-endian) living on this function's stack; the firmware identity-maps memory, so a pointer *is* a physical
//!   address. The pointer is exposed with `expose_provenance`, stores are fenced before the trigger, and `control`
//!   is polled with volatile reads until it is 0 (done) or has the error bit, for a bounded number of polls.
//!   QEMU completes the transfer synchronously during the trigger write, so the first poll normally succeeds.

pub mod directory;
#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{fence, Ordering};

use hw::PortIo;

pub use directory::{parse_directory, FwCfgFile};

/// Selector port (16-bit writes).
pub const SELECTOR_PORT: u16 = 0x510;
/// Data port (8-bit reads).
pub const DATA_PORT: u16 = 0x511;
/// DMA address register, high 32 bits (written big-endian).
pub const DMA_ADDRESS_HIGH_PORT: u16 = 0x514;
/// DMA address register, low 32 bits (written big-endian); writing it triggers the transfer.
pub const DMA_ADDRESS_LOW_PORT: u16 = 0x518;

/// Item key of the signature (4 bytes, `"QEMU"`).
pub const KEY_SIGNATURE: u16 = 0x0000;
/// Item key of the feature bitmap (u32, little-endian).
pub const KEY_ID: u16 = 0x0001;
/// Item key of the file directory.
pub const KEY_FILE_DIR: u16 = 0x0019;

/// Feature bitmap bit 0: the traditional (port I/O) interface exists.
pub const FEATURE_TRADITIONAL: u32 = 1 << 0;
/// Feature bitmap bit 1: the DMA interface exists.
pub const FEATURE_DMA: u32 = 1 << 1;

/// DMA control bit: the transfer failed (set by the device).
pub const DMA_CTL_ERROR: u32 = 0x01;
/// DMA control bit: read `length` bytes of the selected item to `address`.
pub const DMA_CTL_READ: u32 = 0x02;
/// DMA control bit: advance the item's data offset by `length` bytes.
pub const DMA_CTL_SKIP: u32 = 0x04;
/// DMA control bit: select the item whose key is in control bits 31..16 first.
pub const DMA_CTL_SELECT: u32 = 0x08;
/// DMA control bit: write `length` bytes from `address` to the selected item.
pub const DMA_CTL_WRITE: u32 = 0x10;

/// Upper bound on directory entries accepted from the device (QEMU uses at most a few hundred).
pub const MAX_FILES: u32 = 4096;
/// Number of `control` polls before a DMA transfer is declared stuck.
const DMA_POLL_LIMIT: u32 = 1_000_000;

/// Errors of the fw_cfg driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwCfgError {
    /// The signature item did not read `"QEMU"`; the bytes read are given (no fw_cfg device present).
    BadSignature([u8; 4]),
    /// The directory count needs more entries than the directory data holds.
    DirectoryTruncated {
        /// Entry count claimed by the directory header.
        count: u32,
        /// Complete entries actually present.
        available: u32,
    },
    /// The directory count exceeds [`MAX_FILES`].
    DirectoryTooLarge {
        /// Entry count claimed by the directory header.
        count: u32,
    },
    /// Directory entry `index` has no NUL in its 56-byte name field.
    FileNameNotTerminated {
        /// Position of the entry in the directory.
        index: u32,
    },
    /// Directory entry `index` has an empty name (typical of reading past the end of the directory).
    FileNameEmpty {
        /// Position of the entry in the directory.
        index: u32,
    },
    /// Directory entry `index` has a name that is not UTF-8.
    FileNameNotUtf8 {
        /// Position of the entry in the directory.
        index: u32,
    },
    /// No file of that name is in the directory.
    FileNotFound,
    /// The destination buffer is smaller than the file.
    BufferTooSmall {
        /// File size in bytes.
        needed: usize,
        /// Buffer size in bytes.
        provided: usize,
    },
    /// A write was requested but the device has no DMA interface (writes exist only through DMA).
    WriteNeedsDma,
    /// `offset + len` of a write goes past the end of the file.
    WriteOutOfBounds {
        /// Requested start offset.
        offset: u32,
        /// Requested length.
        len: usize,
        /// File size.
        size: u32,
    },
    /// The device set the DMA error bit (e.g. write to a read-only file).
    DmaError,
    /// The device did not complete a DMA transfer within the poll limit.
    DmaTimeout,
}

impl core::fmt::Display for FwCfgError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

/// The DMA access structure (`FWCfgDmaAccess`); every field is stored big-endian.
#[repr(C, align(8))]
struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

/// Driver for the fw_cfg device reached through `P`.
pub struct FwCfg<P: PortIo> {
    io: P,
    features: u32,
    files: Vec<FwCfgFile>,
}

impl<P: PortIo> FwCfg<P> {
    /// Probes the device: checks the signature, reads the feature bitmap and the file directory.
    ///
    /// Errors: [`FwCfgError::BadSignature`] when no fw_cfg is present; [`FwCfgError::DirectoryTooLarge`] and the
    /// directory parse errors of [`parse_directory`]; DMA errors while reading the directory.
    pub fn new(io: P) -> Result<Self, FwCfgError> {
        let mut fw = FwCfg {
            io,
            features: 0,
            files: Vec::new(),
        };
        let mut signature = [0u8; 4];
        fw.port_read(KEY_SIGNATURE, &mut signature);
        if &signature != b"QEMU" {
            return Err(FwCfgError::BadSignature(signature));
        }
        let mut id = [0u8; 4];
        fw.port_read(KEY_ID, &mut id);
        fw.features = u32::from_le_bytes(id);

        let mut head = [0u8; 4];
        fw.read_item(KEY_FILE_DIR, &mut head)?;
        let count = u32::from_be_bytes(head);
        if count > MAX_FILES {
            return Err(FwCfgError::DirectoryTooLarge { count });
        }
        let mut dir = vec![0u8; 4 + count as usize * directory::DIR_ENTRY_SIZE];
        fw.read_item(KEY_FILE_DIR, &mut dir)?;
        fw.files = parse_directory(&dir)?;
        log::debug!(
            "fw_cfg: features {:#x} (dma: {}), {} files",
            fw.features,
            fw.has_dma(),
            fw.files.len()
        );
        Ok(fw)
    }

    /// The feature bitmap (item 0x0001): [`FEATURE_TRADITIONAL`], [`FEATURE_DMA`].
    pub fn features(&self) -> u32 {
        self.features
    }

    /// Whether the DMA interface is advertised (feature bit 1).
    pub fn has_dma(&self) -> bool {
        self.features & FEATURE_DMA != 0
    }

    /// The file directory read at probe time.
    pub fn files(&self) -> &[FwCfgFile] {
        &self.files
    }

    /// Looks a file up by exact name.
    pub fn find(&self, name: &str) -> Option<&FwCfgFile> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Mutable access to the port I/O backend (e.g. to share it with other drivers).
    pub fn io_mut(&mut self) -> &mut P {
        &mut self.io
    }

    /// Returns the port I/O backend.
    pub fn into_inner(self) -> P {
        self.io
    }

    /// Selects item `key` and reads its first `buf.len()` bytes. Bytes past the item's end read as 0.
    ///
    /// Errors: DMA errors ([`FwCfgError::DmaError`], [`FwCfgError::DmaTimeout`]) when DMA is used.
    pub fn read_item(&mut self, key: u16, buf: &mut [u8]) -> Result<(), FwCfgError> {
        if self.has_dma() {
            self.dma_read(key, buf)
        } else {
            self.port_read(key, buf);
            Ok(())
        }
    }

    /// Reads the whole file `name` into a new vector of the directory's size.
    ///
    /// Errors: [`FwCfgError::FileNotFound`]; DMA errors.
    pub fn read_file(&mut self, name: &str) -> Result<Vec<u8>, FwCfgError> {
        let file = self.find(name).ok_or(FwCfgError::FileNotFound)?;
        let (key, size) = (file.select, file.size as usize);
        let mut data = vec![0u8; size];
        self.read_item(key, &mut data)?;
        Ok(data)
    }

    /// Reads the whole file `name` into the start of `buf`; returns the file size.
    ///
    /// With DMA, the device writes straight into `buf`, so `buf` may be memory whose address is the physical
    /// address (e.g. an ACPI table allocation). Errors: [`FwCfgError::FileNotFound`],
    /// [`FwCfgError::BufferTooSmall`]; DMA errors.
    pub fn read_file_into(&mut self, name: &str, buf: &mut [u8]) -> Result<usize, FwCfgError> {
        let file = self.find(name).ok_or(FwCfgError::FileNotFound)?;
        let (key, size) = (file.select, file.size as usize);
        if buf.len() < size {
            return Err(FwCfgError::BufferTooSmall {
                needed: size,
                provided: buf.len(),
            });
        }
        self.read_item(key, &mut buf[..size])?;
        Ok(size)
    }

    /// Writes `data` into file `name` starting at byte `offset` (DMA select + skip, then write).
    ///
    /// Errors: [`FwCfgError::FileNotFound`], [`FwCfgError::WriteOutOfBounds`] when `offset + data.len()` exceeds
    /// the file size, [`FwCfgError::WriteNeedsDma`] without DMA, [`FwCfgError::DmaError`] when the device refuses
    /// (read-only file), [`FwCfgError::DmaTimeout`].
    pub fn write_file(&mut self, name: &str, offset: u32, data: &[u8]) -> Result<(), FwCfgError> {
        let file = self.find(name).ok_or(FwCfgError::FileNotFound)?;
        let (key, size) = (file.select, file.size);
        if offset as u64 + data.len() as u64 > size as u64 {
            return Err(FwCfgError::WriteOutOfBounds {
                offset,
                len: data.len(),
                size,
            });
        }
        if !self.has_dma() {
            return Err(FwCfgError::WriteNeedsDma);
        }
        // `data.len() <= size <= u32::MAX`, checked above.
        self.dma_transfer(control_select(key) | DMA_CTL_SKIP, offset, 0)?;
        let address = data.as_ptr().expose_provenance() as u64;
        self.dma_transfer(DMA_CTL_WRITE, data.len() as u32, address)
    }

    /// Traditional interface: select `key`, then read `buf.len()` bytes from the data port.
    fn port_read(&mut self, key: u16, buf: &mut [u8]) {
        self.io.write16(SELECTOR_PORT, key);
        for byte in buf.iter_mut() {
            *byte = self.io.read8(DATA_PORT);
        }
    }

    /// DMA interface: select `key` and read `buf.len()` bytes into `buf`, in chunks of at most `u32::MAX` bytes.
    fn dma_read(&mut self, key: u16, buf: &mut [u8]) -> Result<(), FwCfgError> {
        let mut control = control_select(key) | DMA_CTL_READ;
        if buf.is_empty() {
            return self.dma_transfer(control, 0, 0);
        }
        for chunk in buf.chunks_mut(u32::MAX as usize) {
            let address = chunk.as_mut_ptr().expose_provenance() as u64;
            self.dma_transfer(control, chunk.len() as u32, address)?;
            control = DMA_CTL_READ;
        }
        Ok(())
    }

    /// Runs one DMA transfer described by `control`/`length`/`address` and waits for completion.
    fn dma_transfer(&mut self, control: u32, length: u32, address: u64) -> Result<(), FwCfgError> {
        let mut access = DmaAccess {
            control: control.to_be(),
            length: length.to_be(),
            address: address.to_be(),
        };
        let access_ptr: *mut DmaAccess = &mut access;
        let physical = access_ptr.expose_provenance() as u64;
        // The device reads the structure (and the buffer at `address`) from memory: make the stores visible first.
        fence(Ordering::SeqCst);
        self.io
            .write32(DMA_ADDRESS_HIGH_PORT, ((physical >> 32) as u32).to_be());
        self.io
            .write32(DMA_ADDRESS_LOW_PORT, (physical as u32).to_be());
        for _ in 0..DMA_POLL_LIMIT {
            fence(Ordering::SeqCst);
            // SAFETY: `access_ptr` points to the live, aligned local `access`; the device may have rewritten
            // `control` behind the compiler's back, hence the volatile read.
            let status =
                u32::from_be(unsafe { core::ptr::addr_of!((*access_ptr).control).read_volatile() });
            if status & DMA_CTL_ERROR != 0 {
                log::warn!(
                    "fw_cfg: DMA error (control {:#x}, length {})",
                    control,
                    length
                );
                return Err(FwCfgError::DmaError);
            }
            if status == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(FwCfgError::DmaTimeout)
    }
}

/// DMA control word selecting `key` (key in bits 31..16 plus [`DMA_CTL_SELECT`]).
fn control_select(key: u16) -> u32 {
    (key as u32) << 16 | DMA_CTL_SELECT
}
