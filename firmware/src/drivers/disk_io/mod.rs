//! The Disk I/O driver (UEFI 2.10 section 13.7): on every handle with `EFI_BLOCK_IO_PROTOCOL` it installs an
//! `EFI_DISK_IO_PROTOCOL`, byte offsets over the device's blocks. The splitting into head, whole blocks and
//! tail, and the read-modify-write of partial blocks, are `storage::disk_io` (host-tested); this file is the
//! Driver Binding and the ABI shell.
//!
//! - `Supported`: the controller's Block I/O can be opened `BY_DRIVER` (so it is not managed yet).
//! - `Start`: opens Block I/O `BY_DRIVER`, installs Disk I/O on the same handle.
//! - `Stop`: uninstalls Disk I/O (which first disconnects its own `BY_DRIVER` users: the partition and FAT
//!   drivers), closes Block I/O.
//! - `ReadDisk`/`WriteDisk`: `This` must be an instance we installed (else `EFI_INVALID_PARAMETER`); `MediaId`
//!   must be the current medium's (`EFI_MEDIA_CHANGED`), a medium must be present (`EFI_NO_MEDIA`); a range
//!   outside the device is `EFI_INVALID_PARAMETER`; a null buffer with a non-zero size is
//!   `EFI_INVALID_PARAMETER`; writes to read-only media are `EFI_WRITE_PROTECTED`.
//!
//! `EFI_DISK_IO2_PROTOCOL` is not produced: it only adds asynchronous transfers on top of
//! `EFI_BLOCK_IO2_PROTOCOL`, which no vmfw block driver produces, so it would be a synchronous copy of this one.
//!
//! [`binding`] and [`device`] are shared with the partition and FAT drivers.

pub mod device;

use alloc::boxed::Box;
use core::ffi::c_void;

use r_efi::efi::{Handle, Status};
use r_efi::protocols::{block_io, device_path, disk_io, driver_binding};

use super::binding::{
    agent_of, close, install_binding, open_by_driver, probe_by_driver, BindingFns, Registry,
};
use device::BlockIoDevice;

use crate::drivers::component_name::{self, ucs2_name, ControllerName};

const LOG: &str = "drivers::disk_io";
/// Driver Binding `Version` (above the partition and FAT drivers', so it starts first on a new block device).
const VERSION: u32 = 0x30;

/// One installed Disk I/O protocol; `This` points at `protocol`.
#[repr(C)]
struct Instance {
    protocol: disk_io::Protocol,
    block_io: *mut block_io::Protocol,
    controller: Handle,
    /// Component Name 2 controller name: `Disk I/O on <device path>`.
    name: ControllerName,
}

static INSTANCES: Registry<Instance> = Registry::new();

/// Installs the Disk I/O driver's binding (image handle `core`) and its Component Name 2.
pub fn install(core: Handle) -> Result<(), Status> {
    let handle = install_binding(
        core,
        VERSION,
        BindingFns {
            supported,
            start,
            stop,
        },
    )?;
    component_name::install(handle, ucs2_name!("vmfw Disk I/O driver"), component_name)
}

/// Component Name 2 `GetControllerName()` (see `drivers::component_name`): the name of a Block I/O handle this
/// driver started on; `None` for any other, or with a `child` (the driver creates none).
fn component_name(controller: Handle, child: Option<Handle>) -> Option<*const u16> {
    if child.is_some() {
        return None;
    }
    // SAFETY: registered instances are live (removed from the registry before they are freed).
    let instance = INSTANCES.find(|p| unsafe { (*p).controller } == controller)?;
    // SAFETY: as above; the name lives as long as its instance.
    Some(unsafe { (*instance).name.as_ptr() })
}

extern "efiapi" fn supported(
    this: *mut driver_binding::Protocol,
    controller: Handle,
    _remaining: *mut device_path::Protocol,
) -> Status {
    let agent = match agent_of(this) {
        Ok(a) => a,
        Err(e) => return e,
    };
    probe_by_driver(controller, block_io::PROTOCOL_GUID, agent)
}

extern "efiapi" fn start(
    this: *mut driver_binding::Protocol,
    controller: Handle,
    _remaining: *mut device_path::Protocol,
) -> Status {
    let agent = match agent_of(this) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let bio = match open_by_driver(controller, block_io::PROTOCOL_GUID, agent) {
        Ok(p) => p as *mut block_io::Protocol,
        Err(e) => return e,
    };
    let instance = Box::into_raw(Box::new(Instance {
        protocol: disk_io::Protocol {
            revision: disk_io::REVISION,
            read_disk,
            write_disk,
        },
        block_io: bio,
        controller,
        name: ControllerName::new(&alloc::format!(
            "Disk I/O on {}",
            super::binding::describe(controller, agent)
        )),
    }));
    INSTANCES.add(instance);
    let interface = instance as *mut c_void;
    if let Err(e) = crate::efi::protocol::services().install_protocol_interface(
        Some(controller),
        disk_io::PROTOCOL_GUID,
        interface,
    ) {
        log::error!(target: LOG, "{controller:p}: installing Disk I/O failed: {e:?}");
        INSTANCES.remove(instance);
        // SAFETY: created above by Box::into_raw and never published.
        drop(unsafe { Box::from_raw(instance) });
        close(controller, block_io::PROTOCOL_GUID, agent, controller);
        return e;
    }
    log::debug!(target: LOG, "Disk I/O on {}", super::binding::describe(controller, agent));
    Status::SUCCESS
}

extern "efiapi" fn stop(
    this: *mut driver_binding::Protocol,
    controller: Handle,
    _children: usize,
    _child_handles: *mut Handle,
) -> Status {
    let agent = match agent_of(this) {
        Ok(a) => a,
        Err(e) => return e,
    };
    // SAFETY (of the closure's read): only registered instances, which stay valid until removed below.
    let Some(instance) = INSTANCES.find(|p| unsafe { (*p).controller } == controller) else {
        return Status::DEVICE_ERROR;
    };
    if let Err(e) = crate::efi::protocol::services().uninstall_protocol_interface(
        controller,
        disk_io::PROTOCOL_GUID,
        instance as *mut c_void,
    ) {
        log::warn!(target: LOG, "{controller:p}: Disk I/O still in use, not stopped: {e:?}");
        return e;
    }
    INSTANCES.remove(instance);
    // SAFETY: the instance was created by Box::into_raw in start() and is no longer installed or registered.
    drop(unsafe { Box::from_raw(instance) });
    close(controller, block_io::PROTOCOL_GUID, agent, controller);
    Status::SUCCESS
}

/// The Block I/O device behind `this` for `media_id`, after the checks every Disk I/O call makes.
fn device_for(this: *mut disk_io::Protocol, media_id: u32) -> Result<BlockIoDevice, Status> {
    let instance = INSTANCES.check(this as *mut Instance)?;
    // SAFETY: registered instances are live (removed from the registry before they are freed).
    let bio = unsafe { (*instance).block_io };
    BlockIoDevice::new(bio, media_id)
}

/// `EFI_DISK_IO_PROTOCOL.ReadDisk()` (UEFI 2.10 section 13.7.2).
extern "efiapi" fn read_disk(
    this: *mut disk_io::Protocol,
    media_id: u32,
    offset: u64,
    size: usize,
    buffer: *mut c_void,
) -> Status {
    if buffer.is_null() && size != 0 {
        return Status::INVALID_PARAMETER;
    }
    let mut dev = match device_for(this, media_id) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let buf: &mut [u8] = if size == 0 {
        &mut []
    } else {
        // SAFETY: the caller owns `size` bytes at `buffer` (ReadDisk contract); non-null checked above.
        unsafe { core::slice::from_raw_parts_mut(buffer as *mut u8, size) }
    };
    match storage::disk_io::read_disk(&mut dev, offset, buf) {
        Ok(()) => Status::SUCCESS,
        Err(e) => {
            log::debug!(target: LOG, "ReadDisk({offset:#x}, {size:#x}): {e:?}");
            e.status()
        }
    }
}

/// `EFI_DISK_IO_PROTOCOL.WriteDisk()` (UEFI 2.10 section 13.7.3).
extern "efiapi" fn write_disk(
    this: *mut disk_io::Protocol,
    media_id: u32,
    offset: u64,
    size: usize,
    buffer: *mut c_void,
) -> Status {
    if buffer.is_null() && size != 0 {
        return Status::INVALID_PARAMETER;
    }
    let mut dev = match device_for(this, media_id) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let data: &[u8] = if size == 0 {
        &[]
    } else {
        // SAFETY: the caller owns `size` readable bytes at `buffer` (WriteDisk contract).
        unsafe { core::slice::from_raw_parts(buffer as *const u8, size) }
    };
    match storage::disk_io::write_disk(&mut dev, offset, data) {
        Ok(()) => Status::SUCCESS,
        Err(e) => {
            log::debug!(target: LOG, "WriteDisk({offset:#x}, {size:#x}): {e:?}");
            e.status()
        }
    }
}
