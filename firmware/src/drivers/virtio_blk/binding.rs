//! `EFI_DRIVER_BINDING_PROTOCOL` of the virtio-blk driver (UEFI 2.10 section 11.1): Supported, Start, Stop.
//!
//! - **Supported** opens the controller's PCI I/O `BY_DRIVER` (so a controller another driver manages answers
//!   `ACCESS_DENIED`/`ALREADY_STARTED` from OpenProtocol), reads the vendor and device ids from configuration
//!   space, closes the protocol again, and accepts vendor 0x1af4 with device 0x1001 (transitional) or 0x1042
//!   (modern). It touches nothing else.
//! - **Start** opens PCI I/O `BY_DRIVER`, keeps it open while started, and builds the controller
//!   (`controller::start`); on failure it closes PCI I/O again.
//! - **Stop** uninstalls Block I/O and tears the controller down (`controller::stop`), then closes PCI I/O. The
//!   driver creates no child handles, so `NumberOfChildren` is always 0 for it.

use core::sync::atomic::{AtomicPtr, Ordering};

use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::{device_path, driver_binding, pci_io};
use virtio::pci::VIRTIO_VENDOR_ID;

use super::pci::PciIo;
use super::{controller, LOG};
use crate::efi::protocol::services;

/// Device id of a transitional virtio block device (virtio 1.2 §4.1.2.1).
pub const TRANSITIONAL_BLOCK: u16 = 0x1001;
/// Device id of a modern virtio block device: 0x1040 + device type 2 (§4.1.2).
pub const MODERN_BLOCK: u16 = 0x1042;

/// The installed binding (null before `install`).
static BINDING: AtomicPtr<driver_binding::Protocol> = AtomicPtr::new(core::ptr::null_mut());

/// Installs the binding on a new handle, with `image` (the firmware core) as its image handle.
///
/// Errors: the status of InstallProtocolInterface.
pub fn install(image: Handle) -> Result<(), Status> {
    let binding = alloc::boxed::Box::leak(alloc::boxed::Box::new(driver_binding::Protocol {
        supported,
        start,
        stop,
        version: 0x10,
        image_handle: image,
        driver_binding_handle: core::ptr::null_mut(),
    }));
    let handle = services().install_protocol_interface(
        None,
        driver_binding::PROTOCOL_GUID,
        (binding as *mut driver_binding::Protocol).cast(),
    )?;
    binding.driver_binding_handle = handle;
    BINDING.store(binding, Ordering::Release);
    log::debug!(target: LOG, "driver binding on handle {handle:p}");
    Ok(())
}

/// The binding's handle (the agent of its opens), if `this` is the installed binding.
fn agent(this: *mut driver_binding::Protocol) -> Result<Handle, Status> {
    let ours = BINDING.load(Ordering::Acquire);
    if this.is_null() || this != ours {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: `this` is the leaked, never-freed binding installed by `install`.
    Ok(unsafe { (*this).driver_binding_handle })
}

/// Opens the controller's PCI I/O `BY_DRIVER` for `agent`.
fn open(agent: Handle, controller: Handle) -> Result<PciIo, Status> {
    let interface = services().open_protocol(
        controller,
        pci_io::PROTOCOL_GUID,
        agent,
        controller,
        efi::OPEN_PROTOCOL_BY_DRIVER,
    )?;
    // SAFETY: OpenProtocol returned the installed PCI I/O interface, which stays valid while it is open.
    Ok(unsafe { PciIo::new(interface.cast()) })
}

fn close(agent: Handle, controller: Handle) {
    if let Err(status) =
        services().close_protocol(controller, pci_io::PROTOCOL_GUID, agent, controller)
    {
        log::error!(target: LOG, "CloseProtocol(PCI I/O) of {controller:p}: {status:?}");
    }
}

/// Whether the function is a virtio block device.
fn is_virtio_blk(pci: &PciIo) -> bool {
    let ids = pci.config_read::<u32>(0).unwrap_or(u32::MAX);
    let (vendor, device) = (ids as u16, (ids >> 16) as u16);
    vendor == VIRTIO_VENDOR_ID && (device == TRANSITIONAL_BLOCK || device == MODERN_BLOCK)
}

extern "efiapi" fn supported(
    this: *mut driver_binding::Protocol,
    controller: Handle,
    _remaining: *mut device_path::Protocol,
) -> Status {
    let run = || -> Result<(), Status> {
        let agent = agent(this)?;
        let pci = open(agent, controller)?;
        let ours = is_virtio_blk(&pci);
        close(agent, controller);
        if ours {
            Ok(())
        } else {
            Err(Status::UNSUPPORTED)
        }
    };
    crate::efi::status(run())
}

extern "efiapi" fn start(
    this: *mut driver_binding::Protocol,
    controller: Handle,
    _remaining: *mut device_path::Protocol,
) -> Status {
    let run = || -> Result<(), Status> {
        let agent = agent(this)?;
        let pci = open(agent, controller)?;
        let started = if is_virtio_blk(&pci) {
            controller::start(controller, pci)
        } else {
            Err(Status::UNSUPPORTED)
        };
        if started.is_err() {
            close(agent, controller);
        }
        started
    };
    crate::efi::status(run())
}

extern "efiapi" fn stop(
    this: *mut driver_binding::Protocol,
    controller: Handle,
    number_of_children: usize,
    _children: *mut Handle,
) -> Status {
    let run = || -> Result<(), Status> {
        let agent = agent(this)?;
        if number_of_children != 0 {
            log::warn!(target: LOG, "Stop with {number_of_children} children: this driver creates none");
            return Err(Status::INVALID_PARAMETER);
        }
        controller::stop(controller)?;
        close(agent, controller);
        Ok(())
    };
    crate::efi::status(run())
}
