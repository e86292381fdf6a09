//! The FAT file system driver (UEFI 2.10 sections 13.3 file system format, 13.4 Simple File System, 13.5 File
//! protocol): mounts FAT12/16/32 with `storage::fat` and installs `EFI_SIMPLE_FILE_SYSTEM_PROTOCOL`. What the
//! file functions do is `storage::sfs` (host-tested); [`file`] is the ABI shell around it.
//!
//! - `Supported`: Disk I/O can be opened `BY_DRIVER` and the handle has Block I/O. On a partitioned disk the
//!   partition driver (higher version) already holds the disk's Disk I/O, so this driver binds to the partition
//!   children; on a disk without a table (a "superfloppy") the partition driver declines and this driver mounts
//!   the whole disk.
//! - `Start`: opens Disk I/O `BY_DRIVER` and Block I/O `GET_PROTOCOL`, mounts (a volume that is not FAT is
//!   `EFI_UNSUPPORTED`; on an EFI system partition that is worth a warning), installs Simple File System.
//! - `Stop`: uninstalls Simple File System and closes Disk I/O. Files still open stay valid handles that answer
//!   `EFI_NO_MEDIA`; the volume's memory goes with the last of them.
//!
//! State: each volume is a [`VolumeInstance`] whose `storage::sfs::Volume` sits in a [`TplCell`] (TPL raised to
//! `TPL_CALLBACK` for each call, as the UEFI FAT driver locks). `This` pointers of both protocols are checked
//! against registries before use. Times of new and written files come from the RTC (`GetTime`).

pub mod file;

use alloc::boxed::Box;
use alloc::string::String;
use core::ffi::c_void;

use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::{
    block_io, device_path, disk_io, driver_binding, file as efi_file, simple_file_system,
};
use storage::fat::{FatFs, FatType};
use storage::sfs::Volume;

use crate::drivers::binding::{
    agent_of, close, describe, has_protocol, install_binding, open, open_by_driver,
    probe_by_driver, BindingFns, Registry, TplCell,
};
use crate::drivers::component_name::{self, ucs2_name, ControllerName};
use crate::drivers::disk_io::device::DiskIoDevice;
use crate::drivers::partition::child::EFI_SYSTEM_PART_GUID;
use crate::efi::protocol::services;

const LOG: &str = "drivers::fat";
/// Driver Binding `Version` (below the partition driver's).
const VERSION: u32 = 0x10;

/// A mounted volume; `This` of its Simple File System points at `protocol`.
#[repr(C)]
pub struct VolumeInstance {
    /// The installed protocol (first, so `This` is the instance).
    pub protocol: simple_file_system::Protocol,
    /// The controller carrying it.
    pub controller: Handle,
    /// The volume; `None` once the driver stopped (open files then answer `EFI_NO_MEDIA`).
    pub state: TplCell<Option<Volume<DiskIoDevice>>>,
    /// Open file handles of this volume (the instance is freed when it is stopped and this reaches 0).
    pub open_files: core::cell::Cell<usize>,
    /// False once the driver stopped on it.
    pub mounted: core::cell::Cell<bool>,
    /// The device path text, for log lines.
    pub name: String,
    /// Component Name 2 controller name: `FAT32 file system on <device path>` (FAT12/16/32).
    component_name: ControllerName,
}

/// Every volume instance not yet freed.
pub static VOLUMES: Registry<VolumeInstance> = Registry::new();

/// Installs the FAT driver's binding (image handle `core`) and its Component Name 2.
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
    component_name::install(
        handle,
        ucs2_name!("vmfw FAT file system driver"),
        component_name,
    )
}

/// Component Name 2 `GetControllerName()` (see `drivers::component_name`): the name of the volume mounted on
/// `controller`; `None` when none is (a stopped volume whose files are still open does not count), or with a
/// `child` (the driver creates none).
fn component_name(controller: Handle, child: Option<Handle>) -> Option<*const u16> {
    if child.is_some() {
        return None;
    }
    // SAFETY: registered instances are live (unregistered before they are freed).
    let volume =
        VOLUMES.find(|v| unsafe { (*v).controller == controller && (*v).mounted.get() })?;
    // SAFETY: as above; the name lives as long as the instance.
    Some(unsafe { (*volume).component_name.as_ptr() })
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
    if !has_protocol(controller, block_io::PROTOCOL_GUID, agent) {
        return Status::UNSUPPORTED;
    }
    probe_by_driver(controller, disk_io::PROTOCOL_GUID, agent)
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
    let dio = match open_by_driver(controller, disk_io::PROTOCOL_GUID, agent) {
        Ok(p) => p as *mut disk_io::Protocol,
        Err(e) => return e,
    };
    let name = describe(controller, agent);
    match mount(controller, agent, dio, &name) {
        Ok(()) => Status::SUCCESS,
        Err(e) => {
            close(controller, disk_io::PROTOCOL_GUID, agent, controller);
            e
        }
    }
}

fn mount(
    controller: Handle,
    agent: Handle,
    dio: *mut disk_io::Protocol,
    name: &str,
) -> Result<(), Status> {
    let bio = open(
        controller,
        block_io::PROTOCOL_GUID,
        agent,
        controller,
        efi::OPEN_PROTOCOL_GET_PROTOCOL,
    )? as *mut block_io::Protocol;
    let dev = DiskIoDevice::new(dio, bio)?;
    let read_only = dev.media().read_only;
    let fs = match FatFs::mount(dev) {
        Ok(fs) => fs,
        Err(e) => {
            if has_protocol(controller, EFI_SYSTEM_PART_GUID, agent) {
                log::warn!(target: LOG, "{name}: EFI system partition without a usable FAT file system: {e}");
            } else {
                log::debug!(target: LOG, "{name}: no FAT file system: {e}");
            }
            return Err(Status::UNSUPPORTED);
        }
    };
    let fat_type = match fs.fat_type() {
        FatType::Fat12 => "FAT12",
        FatType::Fat16 => "FAT16",
        FatType::Fat32 => "FAT32",
    };
    log::info!(target: LOG, "{name}: {:?} volume, {} clusters of {} bytes{}", fs.fat_type(),
        fs.bpb().cluster_count, fs.bpb().cluster_bytes(), if read_only { ", read-only" } else { "" });
    let instance = Box::into_raw(Box::new(VolumeInstance {
        protocol: simple_file_system::Protocol {
            revision: simple_file_system::REVISION,
            open_volume,
        },
        controller,
        state: TplCell::new(Some(Volume::new(fs, name.into(), read_only))),
        open_files: core::cell::Cell::new(0),
        mounted: core::cell::Cell::new(true),
        name: name.into(),
        component_name: ControllerName::new(&alloc::format!("{fat_type} file system on {name}")),
    }));
    VOLUMES.add(instance);
    if let Err(e) = services().install_protocol_interface(
        Some(controller),
        simple_file_system::PROTOCOL_GUID,
        instance as *mut c_void,
    ) {
        log::error!(target: LOG, "{name}: installing Simple File System failed: {e:?}");
        VOLUMES.remove(instance);
        // SAFETY: created above and never installed.
        drop(unsafe { Box::from_raw(instance) });
        return Err(e);
    }
    Ok(())
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
    // SAFETY (of the closure's reads): registered instances are live.
    let Some(instance) =
        VOLUMES.find(|v| unsafe { (*v).controller == controller && (*v).mounted.get() })
    else {
        return Status::DEVICE_ERROR;
    };
    if let Err(e) = services().uninstall_protocol_interface(
        controller,
        simple_file_system::PROTOCOL_GUID,
        instance as *mut c_void,
    ) {
        log::warn!(target: LOG, "{controller:p}: Simple File System still in use: {e:?}");
        return e;
    }
    // SAFETY: registered and live; the protocol is no longer installed.
    let (unmounted, files) = unsafe {
        (*instance).mounted.set(false);
        (
            (*instance).state.with("FAT stop", |s| s.take()),
            (*instance).open_files.get(),
        )
    };
    if let Ok(Some(mut volume)) = unmounted {
        let _ = volume.fs().flush();
    }
    close(controller, disk_io::PROTOCOL_GUID, agent, controller);
    if files == 0 {
        free_volume(instance);
    } else {
        log::warn!(target: LOG, "{controller:p}: stopped with {files} file(s) open; they now answer NO_MEDIA");
    }
    Status::SUCCESS
}

/// Unregisters and frees a stopped volume with no open files.
pub fn free_volume(instance: *mut VolumeInstance) {
    if VOLUMES.remove(instance) {
        // SAFETY: created by Box::into_raw in mount(); unregistered, uninstalled, no files refer to it.
        drop(unsafe { Box::from_raw(instance) });
    }
}

/// `EFI_SIMPLE_FILE_SYSTEM_PROTOCOL.OpenVolume()` (UEFI 2.10 section 13.4.2).
extern "efiapi" fn open_volume(
    this: *mut simple_file_system::Protocol,
    root: *mut *mut efi_file::Protocol,
) -> Status {
    if root.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let instance = match VOLUMES.check(this as *mut VolumeInstance) {
        Ok(i) => i,
        Err(e) => return e,
    };
    // SAFETY: registered instances are live.
    let opened = unsafe {
        (*instance)
            .state
            .with("OpenVolume", |s| s.as_mut().map(|v| v.open_root()))
    };
    match opened {
        Ok(Some(id)) => {
            let file = file::new_handle(instance, id);
            // SAFETY: `root` is a non-null OUT pointer.
            unsafe { root.write_unaligned(file) };
            Status::SUCCESS
        }
        Ok(None) => Status::NO_MEDIA,
        Err(e) => e,
    }
}
