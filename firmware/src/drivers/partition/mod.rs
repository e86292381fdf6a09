//! The partition driver (UEFI 2.10 sections 13.3.1-13.3.3 partition discovery, 5.2 MBR, 5.3 GPT, 13.18
//! Partition Info): one child handle per partition of a disk.
//!
//! - `Supported`: the controller has a device path, a Block I/O that is not itself a partition
//!   (`LogicalPartition = FALSE`: nested tables are not scanned), and a Disk I/O that can be opened `BY_DRIVER`.
//! - `Start`: opens Disk I/O `BY_DRIVER` (the Disk I/O driver already holds Block I/O `BY_DRIVER`, so Block I/O
//!   and the device path are opened `GET_PROTOCOL`), reads the table with `storage::partition` (GPT first, its
//!   backup header when the primary is invalid, then MBR), and installs one child per partition (see
//!   [`child`]); each child opens the parent's Disk I/O `BY_CHILD_CONTROLLER`, which is how ConnectController
//!   finds the children to recurse into. No partition (no table, a file system at LBA 0, or an invalid table)
//!   closes Disk I/O again and returns `EFI_NOT_FOUND`, leaving the whole disk to the FAT driver.
//! - `Stop`: with children, uninstalls them (closing their `BY_CHILD_CONTROLLER` opens); without, closes Disk I/O.
//!
//! Corrupt tables never fault: every reason is a `storage::partition` error value, logged with the disk's
//! device path text. A primary GPT that is invalid while the backup is valid gives a `warn` line; both invalid an
//! `error` line naming both reasons, and no children.

pub mod child;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_void;

use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::{block_io, device_path, disk_io, driver_binding, partition_info};
use storage::partition::gpt::HeaderSource;
use storage::partition::{read_partition_table, PartitionError, PartitionTable};

use crate::drivers::binding::{
    agent_of, close, describe, device_path_of, install_binding, open, open_by_driver,
    probe_by_driver, BindingFns,
};
use crate::drivers::component_name::{self, ucs2_name};
use crate::drivers::disk_io::device::{media_of, DiskIoDevice};
use crate::efi::protocol::services;
use crate::efi::state::Global;
use child::{Child, CHILDREN};

const LOG: &str = "drivers::partition";
/// Driver Binding `Version`: above the FAT driver's, so a disk's table is read before anything tries a file
/// system on the whole disk.
const VERSION: u32 = 0x20;

/// Installs the partition driver's binding (image handle `core`) and its Component Name 2.
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
        ucs2_name!("vmfw partition driver (GPT, MBR)"),
        component_name,
    )
}

/// Component Name 2 `GetControllerName()` (see `drivers::component_name`). The driver manages a disk exactly
/// while it has children on it (Start closes Disk I/O again when it installs none): the disk is named by its
/// table, a child by its number and the disk's device path text. `None` for a disk without our children, or a
/// `child` that is not ours on that disk.
fn component_name(controller: Handle, child: Option<Handle>) -> Option<*const u16> {
    match child {
        Some(handle) => {
            // SAFETY: registered children are live (unregistered before they are freed).
            let found =
                CHILDREN.find(|c| unsafe { (*c).handle == handle && (*c).parent == controller })?;
            // SAFETY: as above; the name lives as long as the child.
            Some(unsafe { (*found).name.as_ptr() })
        }
        None => {
            // SAFETY: as above.
            let any = CHILDREN.find(|c| unsafe { (*c).parent == controller })?;
            // SAFETY: as above; only the plain `type` field is read.
            let gpt = unsafe { (*any).info.r#type } == partition_info::TYPE_GPT;
            Some(if gpt {
                ucs2_name!("disk with a GPT partition table").as_ptr()
            } else {
                ucs2_name!("disk with an MBR partition table").as_ptr()
            })
        }
    }
}

fn get_protocol(controller: Handle, guid: efi::Guid, agent: Handle) -> Result<*mut c_void, Status> {
    open(
        controller,
        guid,
        agent,
        controller,
        efi::OPEN_PROTOCOL_GET_PROTOCOL,
    )
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
    let bio = match get_protocol(controller, block_io::PROTOCOL_GUID, agent) {
        Ok(p) => p as *mut block_io::Protocol,
        Err(_) => return Status::UNSUPPORTED,
    };
    match media_of(bio) {
        Ok(m) if !m.logical_partition => {}
        _ => return Status::UNSUPPORTED,
    }
    if get_protocol(controller, device_path::PROTOCOL_GUID, agent).is_err() {
        return Status::UNSUPPORTED;
    }
    probe_by_driver(controller, disk_io::PROTOCOL_GUID, agent)
}

/// Disks whose bad table was already reported: a later ConnectController (a boot manager's, an application's)
/// finds the same table and logs it at `debug` level only.
static REPORTED: Global<Vec<String>> = Global::new(Vec::new());

/// True the first time `name` is reported.
fn first_report(name: &str) -> bool {
    let first = REPORTED.with(|r| {
        let new = !r.iter().any(|n| n == name);
        if new {
            r.push(name.into());
        }
        new
    });
    if !first {
        log::debug!(target: LOG, "{name}: partition table still invalid (reported before)");
    }
    first
}

/// Reads the table of the disk behind `dio`/`bio`; logs why there is none.
fn table_of(
    dio: *mut disk_io::Protocol,
    bio: *mut block_io::Protocol,
    name: &str,
) -> Option<PartitionTable> {
    let mut dev = match DiskIoDevice::new(dio, bio) {
        Ok(d) => d,
        Err(e) => {
            log::debug!(target: LOG, "{name}: not scanned: {e:?}");
            return None;
        }
    };
    match read_partition_table(&mut dev) {
        Ok(PartitionTable::Gpt(gpt)) => {
            if let (HeaderSource::Backup, Some(why)) = (gpt.source, gpt.primary_error) {
                log::warn!(target: LOG,
                    "{name}: primary GPT header (LBA 1) invalid: {why}; using the backup header at LBA {}",
                    gpt.header.my_lba);
            }
            Some(PartitionTable::Gpt(gpt))
        }
        Ok(table) => Some(table),
        Err(e @ PartitionError::GptInvalid { .. }) => {
            if first_report(name) {
                log::error!(target: LOG, "{name}: {e}; no partitions");
            }
            None
        }
        Err(e @ (PartitionError::Mbr(_) | PartitionError::Io(_))) => {
            if first_report(name) {
                log::warn!(target: LOG, "{name}: {e}; no partitions");
            }
            None
        }
        Err(e) => {
            log::debug!(target: LOG, "{name}: {e}");
            None
        }
    }
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
    let bio = get_protocol(controller, block_io::PROTOCOL_GUID, agent);
    let path = device_path_of(controller, agent);
    let name = describe(controller, agent);
    let (Ok(bio), Some(path)) = (bio, path) else {
        close(controller, disk_io::PROTOCOL_GUID, agent, controller);
        return Status::UNSUPPORTED;
    };
    let bio = bio as *mut block_io::Protocol;
    let Some(table) = table_of(dio, bio, &name) else {
        close(controller, disk_io::PROTOCOL_GUID, agent, controller);
        return Status::NOT_FOUND;
    };
    let mut installed = 0;
    for part in table.partitions() {
        match install_child(controller, agent, bio, (&path, &name), &part) {
            Ok(handle) => {
                installed += 1;
                log::info!(target: LOG, "{name}: partition {} at LBA {:#x}, {:#x} blocks{} on {handle:p}",
                    part.node.partition_number, part.node.partition_start, part.node.partition_size,
                    if part.is_esp { " (EFI system partition)" } else { "" });
            }
            Err(e) => log::error!(target: LOG, "{name}: partition {}: not installed: {e:?}",
                part.node.partition_number),
        }
    }
    if installed == 0 {
        log::info!(target: LOG, "{name}: the partition table lists no usable partition");
        close(controller, disk_io::PROTOCOL_GUID, agent, controller);
        return Status::NOT_FOUND;
    }
    Status::SUCCESS
}

/// Installs one child and opens the parent's Disk I/O for it `BY_CHILD_CONTROLLER`; returns its handle.
/// `(parent_path, parent_name)` are the disk's device path and its text.
fn install_child(
    parent: Handle,
    agent: Handle,
    bio: *mut block_io::Protocol,
    (parent_path, parent_name): (&[u8], &str),
    part: &storage::partition::Partition,
) -> Result<Handle, Status> {
    let child = Box::into_raw(Box::new(child::new_child(
        parent,
        bio,
        parent_path,
        parent_name,
        part,
    )?));
    CHILDREN.add(child);
    let pairs = child::protocols(child);
    let handle = match services().install_multiple_protocol_interfaces(None, &pairs) {
        Ok(h) => h,
        Err(e) => {
            CHILDREN.remove(child);
            // SAFETY: created above and never installed.
            drop(unsafe { Box::from_raw(child) });
            return Err(e);
        }
    };
    // SAFETY: `child` is live and registered.
    unsafe { (*child).handle = handle };
    if let Err(e) = open(
        parent,
        disk_io::PROTOCOL_GUID,
        agent,
        handle,
        efi::OPEN_PROTOCOL_BY_CHILD_CONTROLLER,
    ) {
        log::error!(target: LOG, "partition child {handle:p}: opening the parent BY_CHILD_CONTROLLER failed: {e:?}");
        let _ = remove_child(child);
        return Err(e);
    }
    Ok(handle)
}

/// Uninstalls a child's protocols and frees it. Errors: the uninstall's (something still uses the child).
fn remove_child(child: *mut Child) -> Result<(), Status> {
    let pairs = child::protocols(child);
    // SAFETY: `child` is live and registered.
    let handle = unsafe { (*child).handle };
    services().uninstall_multiple_protocol_interfaces(handle, &pairs)?;
    CHILDREN.remove(child);
    // SAFETY: created by Box::into_raw in install_child; no longer installed or registered.
    drop(unsafe { Box::from_raw(child) });
    Ok(())
}

extern "efiapi" fn stop(
    this: *mut driver_binding::Protocol,
    controller: Handle,
    count: usize,
    children: *mut Handle,
) -> Status {
    let agent = match agent_of(this) {
        Ok(a) => a,
        Err(e) => return e,
    };
    if count == 0 {
        close(controller, disk_io::PROTOCOL_GUID, agent, controller);
        return Status::SUCCESS;
    }
    if children.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: the engine passes `count` child handles (DisconnectController contract).
    let handles: Vec<Handle> = unsafe { core::slice::from_raw_parts(children, count) }.to_vec();
    let mut all_stopped = true;
    for handle in handles {
        // SAFETY (of the closure's read): registered children are live.
        let Some(child) = CHILDREN.find(|c| unsafe { (*c).handle } == handle) else {
            all_stopped = false;
            continue;
        };
        close(controller, disk_io::PROTOCOL_GUID, agent, handle);
        if let Err(e) = remove_child(child) {
            log::warn!(target: LOG, "partition child {handle:p} still in use: {e:?}");
            let _ = open(
                controller,
                disk_io::PROTOCOL_GUID,
                agent,
                handle,
                efi::OPEN_PROTOCOL_BY_CHILD_CONTROLLER,
            );
            all_stopped = false;
        }
    }
    if all_stopped {
        Status::SUCCESS
    } else {
        Status::DEVICE_ERROR
    }
}
