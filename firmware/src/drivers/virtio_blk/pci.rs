//! The driver's view of one PCI function: safe calls into its `EFI_PCI_IO_PROTOCOL` (UEFI 2.10 section 14.4), and
//! `virtio::pci::PciAccess` over them so the virtio transports reach the device through PCI I/O only.
//!
//! Every call goes through the protocol's function pointers, exactly as a driver loaded from disk would: the DMA
//! layer behind `Map`/`AllocateBuffer` sees every mapping this driver makes. The register accessors of
//! `PciAccess` cannot fail; a refused access (which would be a bug: the transports only touch registers inside
//! the BARs and capabilities they checked) is logged and reads as all ones, like a master abort.

use core::ffi::c_void;

use r_efi::efi::{self, Status};
use r_efi::protocols::pci_io;
use virtio::pci::PciAccess;

use super::LOG;

/// Configuration-space offset of BAR 0 (PCI LB 3.0 section 6.2.5.1).
const BAR0: u32 = 0x10;
/// Bit 0 of a BAR register: I/O space.
const BAR_IO_SPACE: u32 = 1;
/// Bits 2:1 of a memory BAR register: its type; `10b` = 64-bit.
const BAR_MEM_TYPE_MASK: u32 = 0b110;
const BAR_MEM_TYPE_64: u32 = 0b100;
/// QWORD Address Space Descriptor tag and the offset of its length field (ACPI 6.5 section 6.4.3.5.1).
const QWORD_DESCRIPTOR: u8 = 0x8a;
const QWORD_LENGTH_OFFSET: usize = 38;

/// A PCI function's PCI I/O protocol (copyable: a pointer plus which BARs are I/O BARs).
#[derive(Clone, Copy, Debug)]
pub struct PciIo {
    protocol: *mut pci_io::Protocol,
    /// Bit i set: BAR i is an I/O BAR (accessed with `Io.Read/Write`, the others with `Mem.Read/Write`).
    io_bars: u8,
}

impl PciIo {
    /// Wraps the interface OpenProtocol returned and learns the BAR kinds from the BAR registers.
    ///
    /// # Safety
    /// `protocol` must be an installed PCI I/O protocol that stays valid while this value is used (the driver
    /// holds it open `BY_DRIVER`).
    pub unsafe fn new(protocol: *mut pci_io::Protocol) -> Self {
        let mut pci = PciIo {
            protocol,
            io_bars: 0,
        };
        let mut bar = 0u8;
        while bar < 6 {
            let register = pci
                .config_read::<u32>(BAR0 + 4 * u32::from(bar))
                .unwrap_or(0);
            if register & BAR_IO_SPACE != 0 {
                pci.io_bars |= 1 << bar;
            } else if register & BAR_MEM_TYPE_MASK == BAR_MEM_TYPE_64 {
                // The next register is this BAR's upper half, not a BAR of its own.
                bar += 1;
            }
            bar += 1;
        }
        pci
    }

    /// Reads one configuration-space value of width `T` (1, 2 or 4 bytes) at `offset`.
    pub fn config_read<T: Copy + Default>(&self, offset: u32) -> Result<T, Status> {
        let width = match core::mem::size_of::<T>() {
            1 => pci_io::WIDTH_UINT8,
            2 => pci_io::WIDTH_UINT16,
            _ => pci_io::WIDTH_UINT32,
        };
        let mut value = T::default();
        // SAFETY: `protocol` is valid (constructor contract); the buffer is one `T` of the requested width.
        let status = unsafe {
            ((*self.protocol).pci.read)(
                self.protocol,
                width,
                offset,
                1,
                (&mut value as *mut T).cast(),
            )
        };
        check(status).map(|()| value)
    }

    /// `Attributes(operation, attributes)`; returns the attributes result for Get and Supported.
    pub fn attributes(
        &self,
        operation: pci_io::AttributeOperation,
        attributes: u64,
    ) -> Result<u64, Status> {
        let mut result = 0u64;
        // SAFETY: as in `config_read`; `result` is a valid OUT UINT64.
        let status = unsafe {
            ((*self.protocol).attributes)(self.protocol, operation, attributes, &mut result)
        };
        check(status).map(|()| result)
    }

    /// `GetLocation`: (bus, device, function).
    pub fn location(&self) -> Result<(usize, usize, usize), Status> {
        let (mut segment, mut bus, mut device, mut function) = (0, 0, 0, 0);
        // SAFETY: as in `config_read`; four valid OUT UINTNs.
        let status = unsafe {
            ((*self.protocol).get_location)(
                self.protocol,
                &mut segment,
                &mut bus,
                &mut device,
                &mut function,
            )
        };
        check(status).map(|()| (bus, device, function))
    }

    /// The size of BAR `bar` in bytes, from `GetBarAttributes` (0 when the BAR is not implemented or unassigned).
    pub fn bar_size(&self, bar: u8) -> u64 {
        let mut resources: *mut c_void = core::ptr::null_mut();
        // SAFETY: as in `config_read`; `resources` is a valid OUT pointer; Supports may be NULL.
        let status = unsafe {
            ((*self.protocol).get_bar_attributes)(
                self.protocol,
                bar,
                core::ptr::null_mut(),
                &mut resources,
            )
        };
        if status != Status::SUCCESS || resources.is_null() {
            return 0;
        }
        let bytes = resources as *const u8;
        // SAFETY: on success the resource list is at least one QWORD descriptor (46 bytes) and an end tag; the
        // tag byte is read first and the length only from a QWORD descriptor.
        let size = unsafe {
            if bytes.read() == QWORD_DESCRIPTOR {
                (bytes.add(QWORD_LENGTH_OFFSET) as *const u64).read_unaligned()
            } else {
                0
            }
        };
        let _ = crate::efi::memory::free_pool(resources);
        size
    }

    /// `Map(operation, host, len)`: returns the device address, the bytes mapped (possibly fewer) and the token.
    pub fn map(
        &self,
        operation: pci_io::Operation,
        host: u64,
        len: usize,
    ) -> Result<(u64, usize, *mut c_void), Status> {
        let mut bytes = len;
        let mut device: efi::PhysicalAddress = 0;
        let mut mapping: *mut c_void = core::ptr::null_mut();
        // SAFETY: as in `config_read`; the three OUT pointers are valid locals. `host` is the caller's buffer (the
        // UEFI contract of Map: the driver passes the memory it was given).
        let status = unsafe {
            ((*self.protocol).map)(
                self.protocol,
                operation,
                host as *mut c_void,
                &mut bytes,
                &mut device,
                &mut mapping,
            )
        };
        check(status).map(|()| (device, bytes, mapping))
    }

    /// `Unmap(mapping)`.
    pub fn unmap(&self, mapping: *mut c_void) -> Result<(), Status> {
        // SAFETY: as in `config_read`; `mapping` came from this protocol's Map.
        check(unsafe { ((*self.protocol).unmap)(self.protocol, mapping) })
    }

    /// `AllocateBuffer(pages)` of boot-services data; `attributes` may ask for dual address cycle.
    pub fn allocate_buffer(&self, pages: usize, attributes: u64) -> Result<*mut u8, Status> {
        let mut host: *mut c_void = core::ptr::null_mut();
        // SAFETY: as in `config_read`; `host` is a valid OUT pointer.
        let status = unsafe {
            ((*self.protocol).allocate_buffer)(
                self.protocol,
                efi::ALLOCATE_ANY_PAGES,
                efi::BOOT_SERVICES_DATA,
                pages,
                &mut host,
                attributes,
            )
        };
        check(status).map(|()| host.cast())
    }

    /// `FreeBuffer(pages, host)`.
    pub fn free_buffer(&self, pages: usize, host: *mut u8) -> Result<(), Status> {
        // SAFETY: as in `config_read`; `host` came from this protocol's AllocateBuffer with `pages` pages.
        check(unsafe { ((*self.protocol).free_buffer)(self.protocol, pages, host.cast()) })
    }

    fn bar_access(&self, bar: u8) -> &pci_io::Access {
        // SAFETY: `protocol` is valid (constructor contract); the accessor tables are plain fields.
        unsafe {
            if self.io_bars & (1 << bar) != 0 {
                &(*self.protocol).io
            } else {
                &(*self.protocol).mem
            }
        }
    }

    fn bar_read(&self, bar: u8, offset: u64, width: pci_io::Width, out: *mut c_void) {
        // SAFETY: `out` points at a local of the width's size (callers below).
        let status =
            unsafe { (self.bar_access(bar).read)(self.protocol, width, bar, offset, 1, out) };
        if status != Status::SUCCESS {
            log::error!(target: LOG, "BAR {bar} read at {offset:#x} refused: {status:?}");
        }
    }

    fn bar_write(&self, bar: u8, offset: u64, width: pci_io::Width, value: *mut c_void) {
        // SAFETY: `value` points at a local of the width's size (callers below).
        let status =
            unsafe { (self.bar_access(bar).write)(self.protocol, width, bar, offset, 1, value) };
        if status != Status::SUCCESS {
            log::error!(target: LOG, "BAR {bar} write at {offset:#x} refused: {status:?}");
        }
    }
}

fn check(status: Status) -> Result<(), Status> {
    if status == Status::SUCCESS {
        Ok(())
    } else {
        Err(status)
    }
}

/// Generates a `PciAccess` BAR accessor pair for one width.
macro_rules! bar_accessors {
    ($read:ident, $write:ident, $ty:ty, $width:expr) => {
        fn $read(&mut self, bar: u8, offset: u64) -> $ty {
            let mut value = <$ty>::MAX;
            self.bar_read(bar, offset, $width, (&mut value as *mut $ty).cast());
            value
        }
        fn $write(&mut self, bar: u8, offset: u64, value: $ty) {
            let mut value = value;
            self.bar_write(bar, offset, $width, (&mut value as *mut $ty).cast());
        }
    };
}

impl PciAccess for PciIo {
    fn config_read8(&mut self, offset: u16) -> u8 {
        self.config_read(u32::from(offset)).unwrap_or(u8::MAX)
    }
    fn config_read16(&mut self, offset: u16) -> u16 {
        self.config_read(u32::from(offset)).unwrap_or(u16::MAX)
    }
    fn config_read32(&mut self, offset: u16) -> u32 {
        self.config_read(u32::from(offset)).unwrap_or(u32::MAX)
    }
    bar_accessors!(bar_read8, bar_write8, u8, pci_io::WIDTH_UINT8);
    bar_accessors!(bar_read16, bar_write16, u16, pci_io::WIDTH_UINT16);
    bar_accessors!(bar_read32, bar_write32, u32, pci_io::WIDTH_UINT32);
}
