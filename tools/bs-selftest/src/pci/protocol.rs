//! The PCI I/O protocol as the checks see it: its declaration from the specification (`uefi-raw` has none), the
//! constants the checks use, and small helpers over the raw table: the handle list, one opened function, and a
//! configuration read through mechanism #1 to compare against.

use core::ffi::c_void;
use core::ptr;

use hw::PortIo;
use uefi_raw::table::boot::Tpl;
use uefi_raw::{guid, Guid, Handle, Status};

use crate::memory::free_pool;
use crate::ports::X86Ports;
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome};
use crate::{boot_services, expect_status};

/// `EFI_PCI_IO_PROTOCOL_GUID`.
pub const PCI_IO_GUID: Guid = guid!("4cf5b200-68b8-4ca5-9eec-b23e3f50029a");
/// `EFI_DEVICE_PATH_PROTOCOL_GUID`.
pub const DEVICE_PATH_GUID: Guid = guid!("09576e91-6d3f-11d2-8e39-00a0c969723b");
/// LocateHandleBuffer `ByProtocol`.
pub const BY_PROTOCOL: i32 = 2;
/// `EISA_PNP_ID(0x0A03)`: PNP0A03, a PCI host bridge.
pub const PNP0A03: u32 = 0x0a03_41d0;

pub const WIDTH_UINT8: u32 = 0;
pub const WIDTH_UINT16: u32 = 1;
pub const WIDTH_UINT32: u32 = 2;
pub const WIDTH_UINT64: u32 = 3;
pub const WIDTH_FIFO_UINT32: u32 = 6;
pub const WIDTH_FILL_UINT32: u32 = 10;
pub const WIDTH_MAXIMUM: u32 = 12;
pub const OPERATION_BUS_MASTER_READ: u32 = 0;
pub const OPERATION_BUS_MASTER_COMMON_BUFFER: u32 = 2;
pub const ATTRIBUTE_OPERATION_GET: u32 = 0;
pub const ATTRIBUTE_OPERATION_ENABLE: u32 = 2;
pub const ATTRIBUTE_OPERATION_DISABLE: u32 = 3;
pub const ATTRIBUTE_OPERATION_SUPPORTED: u32 = 4;
pub const ATTRIBUTE_OPERATION_MAXIMUM: u32 = 5;
pub const ATTRIBUTE_BUS_MASTER: u64 = 0x400;
pub const PASS_THROUGH_BAR: u8 = 0xff;
pub const BOOT_SERVICES_DATA: u32 = 4;
pub const FOUR_GIB: u64 = 1 << 32;

pub type PollFn =
    unsafe extern "efiapi" fn(*mut PciIo, u32, u8, u64, u64, u64, u64, *mut u64) -> Status;
pub type IoMemFn =
    unsafe extern "efiapi" fn(*mut PciIo, u32, u8, u64, usize, *mut c_void) -> Status;
pub type ConfigFn = unsafe extern "efiapi" fn(*mut PciIo, u32, u32, usize, *mut c_void) -> Status;

/// `EFI_PCI_IO_PROTOCOL_ACCESS` / `EFI_PCI_IO_PROTOCOL_CONFIG_ACCESS`.
#[repr(C)]
pub struct Access<F> {
    pub read: F,
    pub write: F,
}

/// `EFI_PCI_IO_PROTOCOL` (UEFI 2.10 §14.4). Members the checks do not call are declared for the layout only.
#[allow(dead_code)]
#[repr(C)]
pub struct PciIo {
    pub poll_mem: PollFn,
    pub poll_io: PollFn,
    pub mem: Access<IoMemFn>,
    pub io: Access<IoMemFn>,
    pub pci: Access<ConfigFn>,
    pub copy_mem: unsafe extern "efiapi" fn(*mut PciIo, u32, u8, u64, u8, u64, usize) -> Status,
    pub map: unsafe extern "efiapi" fn(
        *mut PciIo,
        u32,
        *mut c_void,
        *mut usize,
        *mut u64,
        *mut *mut c_void,
    ) -> Status,
    pub unmap: unsafe extern "efiapi" fn(*mut PciIo, *mut c_void) -> Status,
    pub allocate_buffer:
        unsafe extern "efiapi" fn(*mut PciIo, u32, u32, usize, *mut *mut c_void, u64) -> Status,
    pub free_buffer: unsafe extern "efiapi" fn(*mut PciIo, usize, *mut c_void) -> Status,
    pub flush: unsafe extern "efiapi" fn(*mut PciIo) -> Status,
    pub get_location: unsafe extern "efiapi" fn(
        *mut PciIo,
        *mut usize,
        *mut usize,
        *mut usize,
        *mut usize,
    ) -> Status,
    pub attributes: unsafe extern "efiapi" fn(*mut PciIo, u32, u64, *mut u64) -> Status,
    pub get_bar_attributes:
        unsafe extern "efiapi" fn(*mut PciIo, u8, *mut u64, *mut *mut c_void) -> Status,
    pub set_bar_attributes:
        unsafe extern "efiapi" fn(*mut PciIo, u64, u8, *mut u64, *mut u64) -> Status,
    pub rom_size: u64,
    pub rom_image: *mut c_void,
}

/// The PCI I/O handles, in a LocateHandleBuffer pool buffer freed on drop.
pub struct Handles {
    pub buffer: *mut Handle,
    pub count: usize,
}

impl Handles {
    pub fn locate() -> Result<Handles, Detail> {
        let (mut count, mut buffer) = (0usize, ptr::null_mut::<Handle>());
        // SAFETY: out-pointers are valid; ByProtocol takes no search key.
        let status = unsafe {
            (boot_services().locate_handle_buffer)(
                BY_PROTOCOL,
                &PCI_IO_GUID,
                ptr::null(),
                &mut count,
                &mut buffer,
            )
        };
        expect_status(
            "LocateHandleBuffer(ByProtocol, PCI I/O)",
            status,
            Status::SUCCESS,
        )?;
        ensure!(
            !buffer.is_null(),
            "LocateHandleBuffer returned {count} handles at NULL"
        );
        Ok(Handles { buffer, count })
    }

    pub fn iter(&self) -> impl Iterator<Item = Handle> + '_ {
        // SAFETY: the firmware returned `count` handles in this pool buffer, alive until drop.
        unsafe { core::slice::from_raw_parts(self.buffer, self.count) }
            .iter()
            .copied()
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        let _ = free_pool(self.buffer.cast());
    }
}

/// One function: its handle, protocol and location.
pub struct Function {
    pub handle: Handle,
    pub io: *mut PciIo,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl Function {
    pub fn open(handle: Handle) -> Result<Function, Detail> {
        let io = handle_protocol(handle, &PCI_IO_GUID)
            .map_err(|s| Detail::new(format_args!("HandleProtocol(PCI I/O) returned {s:?}")))?
            .cast::<PciIo>();
        let (mut seg, mut bus, mut dev, mut fun) = (usize::MAX, 0usize, 0usize, 0usize);
        // SAFETY: `io` is the firmware's PCI I/O instance; out-pointers are valid.
        let status = unsafe { ((*io).get_location)(io, &mut seg, &mut bus, &mut dev, &mut fun) };
        expect_status("GetLocation", status, Status::SUCCESS)?;
        ensure!(
            seg == 0 && bus < 256 && dev < 32 && fun < 8,
            "GetLocation gave {seg}/{bus}/{dev}/{fun}"
        );
        Ok(Function {
            handle,
            io,
            bus: bus as u8,
            device: dev as u8,
            function: fun as u8,
        })
    }

    pub fn name(&self) -> Name {
        Name(self.bus, self.device, self.function)
    }

    /// Pci.Read of `count` elements of `width` at `offset` into `out`.
    pub fn config_read(&self, width: u32, offset: u32, count: usize, out: *mut c_void) -> Status {
        // SAFETY: `out` holds `count` elements of `width` (callers pass matching buffers).
        unsafe { ((*self.io).pci.read)(self.io, width, offset, count, out) }
    }

    pub fn config16(&self, offset: u32) -> Result<u16, Detail> {
        let mut value = 0u16;
        let status = self.config_read(WIDTH_UINT16, offset, 1, ptr::from_mut(&mut value).cast());
        expect_status("Pci.Read(Uint16)", status, Status::SUCCESS)?;
        Ok(value)
    }

    pub fn mem(
        &self,
        write: bool,
        width: u32,
        bar: u8,
        offset: u64,
        count: usize,
        buffer: *mut c_void,
    ) -> Status {
        // SAFETY: `buffer` holds the elements the width and count describe (callers pass matching buffers).
        unsafe {
            if write {
                ((*self.io).mem.write)(self.io, width, bar, offset, count, buffer)
            } else {
                ((*self.io).mem.read)(self.io, width, bar, offset, count, buffer)
            }
        }
    }
}

/// `bb:dd.f` for details.
pub struct Name(pub u8, pub u8, pub u8);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{:x}", self.0, self.1, self.2)
    }
}

/// A dword of configuration space through mechanism #1 (ports 0xCF8/0xCFC), with the TPL at HIGH_LEVEL so no
/// firmware code can interleave its own configuration cycle.
pub fn legacy_config32(bus: u8, device: u8, function: u8, offset: u8) -> u32 {
    let address =
        0x8000_0000 | u32::from(bus) << 16 | u32::from(device) << 11 | u32::from(function) << 8;
    let bs = boot_services();
    // SAFETY: raising to TPL_HIGH_LEVEL from the application's TPL; restored right after two port accesses.
    let old = unsafe { (bs.raise_tpl)(Tpl::HIGH_LEVEL) };
    X86Ports.write32(0xcf8, address | u32::from(offset & 0xfc));
    let value = X86Ports.read32(0xcfc);
    // SAFETY: restores the TPL RaiseTPL returned.
    unsafe { (bs.restore_tpl)(old) };
    value
}

pub fn for_each_function(mut check: impl FnMut(&Function) -> Outcome) -> Outcome {
    let handles = Handles::locate()?;
    for handle in handles.iter() {
        check(&Function::open(handle)?)?;
    }
    Ok(())
}
