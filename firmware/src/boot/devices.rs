//! The bootable devices present after `connect_all`: every Simple File System (UEFI 2.10 section 13.4), and every
//! whole disk (a Block I/O device with media that is not a partition, section 13.9) with no file system on it, so
//! that a disk whose partition table or file system could not be read still shows up as tried and failed.
//!
//! Both lists are in handle-creation order, which follows PCI enumeration. Device paths are read through each
//! handle's Device Path protocol; a handle without one (or with a malformed one) cannot be a boot option and is
//! skipped.

use alloc::vec::Vec;

use boot_manager::device_path::{self, starts_with, Node};
use boot_services::protocol::{DatabaseLock, LocateSearch};
use r_efi::efi::{Guid, Handle};
use r_efi::protocols::{block_io, device_path as dp, simple_file_system};

use crate::efi::protocol::{device_path_bytes, Lock};

/// The devices found.
pub struct Devices {
    /// Device paths of the Simple File System handles.
    pub file_systems: Vec<Vec<Node>>,
    /// Device paths of the whole disks with media and no file system on or below them.
    pub bare_disks: Vec<Vec<Node>>,
}

fn handles_with(guid: Guid) -> Vec<Handle> {
    Lock.with(|db| db.locate_handle(LocateSearch::ByProtocol(guid)))
        .unwrap_or_default()
}

fn path_of(handle: Handle) -> Option<Vec<Node>> {
    let interface = Lock
        .with(|db| db.handle_protocol(handle, &dp::PROTOCOL_GUID))
        .ok()?;
    let bytes = device_path_bytes(interface as *const u8)?;
    device_path::parse(&bytes).ok()
}

/// Whether a Block I/O device is a whole disk with media (`MediaPresent` and not `LogicalPartition`).
fn is_disk_with_media(handle: Handle) -> bool {
    let Ok(interface) = Lock.with(|db| db.handle_protocol(handle, &block_io::PROTOCOL_GUID)) else {
        return false;
    };
    let protocol = interface as *const block_io::Protocol;
    // SAFETY: an installed Block I/O interface; its Media pointer is read as bytes (the BOOLEAN fields are read
    // as u8 so that a driver's odd values cannot make an invalid `bool`): MediaPresent at offset 5,
    // LogicalPartition at offset 6 of EFI_BLOCK_IO_MEDIA.
    unsafe {
        let media = (*protocol).media as *const u8;
        !media.is_null() && media.add(5).read() != 0 && media.add(6).read() == 0
    }
}

/// Finds the bootable devices.
pub fn scan() -> Devices {
    let file_systems: Vec<Vec<Node>> = handles_with(simple_file_system::PROTOCOL_GUID)
        .into_iter()
        .filter_map(path_of)
        .collect();
    let bare_disks = handles_with(block_io::PROTOCOL_GUID)
        .into_iter()
        .filter(|&h| is_disk_with_media(h))
        .filter_map(path_of)
        .filter(|disk| !file_systems.iter().any(|fs| starts_with(fs, disk)))
        .collect();
    Devices {
        file_systems,
        bare_disks,
    }
}
