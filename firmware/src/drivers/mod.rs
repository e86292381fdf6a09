//! The firmware's own UEFI drivers (UEFI 2.10 section 11, "Protocols — UEFI Driver Model").
//!
//! Each driver installs an `EFI_DRIVER_BINDING_PROTOCOL` on its own image handle and does its work only from
//! `Start()`; `Stop()` undoes all of it. The boot manager then connects every controller recursively, which
//! is how a PCI function becomes a block device, partitions and a file system. A driver that can do DMA
//! registers its exit-boot-services quiesce in `Start()` and removes it in `Stop()`
//! (see `docs/boot-services.md`).

mod disk_io;
mod fat;
mod partition;
mod virtio_blk;

use alloc::vec::Vec;

use r_efi::efi::{Handle, Status};

use crate::efi::protocol::services;

/// A driver's installer: installs its Driver Binding protocol for the firmware core image `core`.
type Installer = fn(core: Handle) -> Result<(), Status>;

/// Installs every driver binding. Drivers are independent: one failing to install is logged and the rest go on.
pub fn install_all(core: Handle) {
    let drivers: &[(&str, Installer)] = &[
        ("virtio-blk", virtio_blk::install),
        ("disk-io", disk_io::install),
        ("partition", partition::install),
        ("fat", fat::install),
    ];
    for (name, install) in drivers {
        if let Err(status) = install(core) {
            log::error!(target: "drivers", "{name}: driver not installed: {status:?}");
        }
    }
}

/// ConnectController(recursive) on every handle present now (UEFI 2.10 section 7.3.12), as a boot manager does
/// before it looks for boot options. Handles created by the connects are covered by the recursion.
pub fn connect_all() {
    let handles: Vec<Handle> = services().with_db(|db| {
        db.locate_handle(boot_services::protocol::LocateSearch::AllHandles)
            .unwrap_or_default()
    });
    for handle in handles {
        // Not every handle has a driver; NOT_FOUND is the normal answer for those.
        let _ = services().connect_controller(handle, &[], core::ptr::null_mut(), true);
    }
}
