//! One started virtio-blk controller: what Start() builds and Stop() takes apart, and the registry of live ones.
//!
//! A [`Controller`] is boxed and never moves; its first field is the `EFI_BLOCK_IO_PROTOCOL` installed on the
//! controller handle, so `This` of a Block I/O call is the controller's address. The registry ([`LIVE`]) lists
//! the live controllers; an entry point only acts on a `This` found there (anything else is
//! `EFI_INVALID_PARAMETER`, never a dereference of caller memory), and Stop removes the entry before it tears
//! the controller down.
//!
//! Start order (each step undone in reverse on a later failure): PCI I/O attributes saved, interface chosen
//! (`virtio::pci::PciTransport::probe`), decode + bus master enabled, common buffer allocated and mapped, device
//! initialised (`DRIVER_OK`), exit quiesce registered, controller registered, Block I/O installed.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use core::cell::RefCell;

use boot_services::exit::QuiesceToken;
use boot_services::tpl::Tpl;
use r_efi::efi::{Handle, Status};
use r_efi::protocols::{block_io, pci_io};
use virtio::blk::BlkDevice;
use virtio::clock::Clock;
use virtio::pci::{PciTransport, StatusRegister};
use virtio::{Transport, TransportKind};

use super::dma::{CommonBuffer, DmaWindow};
use super::pci::PciIo;
use super::{block_io as bio, quiesce, LOG};
use crate::efi::protocol::services;
use crate::efi::state::{events, Global};

/// The clock of request time-outs: the calibrated TSC.
pub struct TscClock;

impl Clock for TscClock {
    fn now_us(&mut self) -> u64 {
        crate::platform::timer::micros_since_reset()
    }
}

/// The driver core for one device.
pub type Device = BlkDevice<PciTransport<PciIo>, DmaWindow, TscClock>;

/// A started controller (module notes). `repr(C)`: `block_io` must stay the first field.
#[repr(C)]
pub struct Controller {
    /// The installed protocol; `This` of Block I/O calls points here.
    pub block_io: block_io::Protocol,
    /// The media the protocol points at.
    pub media: block_io::Media,
    /// The controller (PCI function) handle.
    pub handle: Handle,
    /// The PCI I/O protocol, opened `BY_DRIVER`.
    pub pci: PciIo,
    /// `device_status`, for the exit quiesce (read without borrowing `device`).
    pub status_register: StatusRegister,
    /// The driver core; borrowed by one Block I/O call at a time.
    pub device: RefCell<Device>,
    /// Human-readable name, e.g. `virtio-blk 00:04.0`.
    pub name: alloc::string::String,
    attributes_before: u64,
    buffer: Option<CommonBuffer>,
    quiesce: Option<QuiesceToken>,
}

/// The live controllers (boxes leaked by `start`, reclaimed by `teardown`).
static LIVE: Global<Vec<*mut Controller>> = Global::new(Vec::new());

/// The live controller whose Block I/O protocol is `this`.
pub fn lookup(this: *mut block_io::Protocol) -> Option<&'static Controller> {
    let found = LIVE.with(|r| r.iter().copied().find(|&c| c.cast() == this))?;
    // SAFETY: registered controllers are live boxes (Stop unregisters before freeing); only shared access is
    // handed out, mutation goes through the `RefCell`.
    Some(unsafe { &*found })
}

/// The live controller on handle `handle`.
fn by_handle(handle: Handle) -> Option<*mut Controller> {
    // SAFETY: as in `lookup`.
    LIVE.with(|r| {
        r.iter()
            .copied()
            .find(|&c| unsafe { (*c).handle } == handle)
    })
}

/// Disables bus mastering of a device that did not acknowledge a reset (it might still be writing memory).
pub fn cut_bus_master(pci: &PciIo, name: &str) {
    log::error!(target: LOG, "{name}: reset not acknowledged: disabling bus mastering");
    if let Err(status) = pci.attributes(
        pci_io::ATTRIBUTE_OPERATION_DISABLE,
        pci_io::ATTRIBUTE_BUS_MASTER,
    ) {
        log::error!(target: LOG, "{name}: disabling bus mastering failed: {status:?}");
    }
}

/// Start() after PCI I/O was opened: builds, registers and publishes the controller (order in the module notes).
/// On error everything done so far is undone; the caller closes PCI I/O.
pub fn start(handle: Handle, pci: PciIo) -> Result<(), Status> {
    let name = location(&pci);
    let attributes_before = pci.attributes(pci_io::ATTRIBUTE_OPERATION_GET, 0)?;
    let supported = pci.attributes(pci_io::ATTRIBUTE_OPERATION_SUPPORTED, 0)?;
    let bar_sizes = core::array::from_fn(|bar| pci.bar_size(bar as u8));
    let transport = PciTransport::probe(pci, bar_sizes).map_err(|e| {
        log::error!(target: LOG, "{name}: no usable virtio interface: {e:?}");
        Status::UNSUPPORTED
    })?;
    let modern = transport.kind() == TransportKind::Modern;
    let decode = if modern {
        pci_io::ATTRIBUTE_MEMORY
    } else {
        pci_io::ATTRIBUTE_IO
    };
    let dac = modern && supported & pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE != 0;
    let enable = decode
        | pci_io::ATTRIBUTE_BUS_MASTER
        | if dac {
            pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE
        } else {
            0
        };
    if supported & (decode | pci_io::ATTRIBUTE_BUS_MASTER) != decode | pci_io::ATTRIBUTE_BUS_MASTER
    {
        log::error!(target: LOG, "{name}: attributes {supported:#x} lack decode or bus mastering");
        return Err(Status::UNSUPPORTED);
    }
    pci.attributes(pci_io::ATTRIBUTE_OPERATION_ENABLE, enable)?;
    let restore = |status: Status| {
        let _ = pci.attributes(pci_io::ATTRIBUTE_OPERATION_SET, attributes_before);
        status
    };
    let status_register = transport.status_register();
    let buffer = CommonBuffer::new(pci, dac).map_err(restore)?;
    let device = match BlkDevice::new(
        transport,
        buffer.queue_window(),
        buffer.request_window(),
        TscClock,
    ) {
        Ok(device) => device,
        Err(e) => {
            log::error!(target: LOG, "{name}: initialisation failed: {e:?}");
            buffer.release();
            return Err(restore(Status::DEVICE_ERROR));
        }
    };
    let media = bio::media(device.media());
    let blocks = device.media().blocks;
    let mut controller = Box::new(Controller {
        block_io: bio::protocol(),
        media,
        handle,
        pci,
        status_register,
        device: RefCell::new(device),
        name,
        attributes_before,
        buffer: Some(buffer),
        quiesce: None,
    });
    controller.block_io.media = &controller.media;
    let raw = Box::into_raw(controller);
    // SAFETY: `raw` is the box just leaked; it stays valid until `teardown` turns it back into a box.
    let c = unsafe { &mut *raw };
    match events().register_quiesce(&c.name, Tpl::NOTIFY, quiesce::on_exit, raw.cast()) {
        Ok(token) => c.quiesce = Some(token),
        Err(status) => {
            log::error!(target: LOG, "{}: exit quiesce not registered: {status:?}", c.name);
            teardown(raw);
            return Err(status);
        }
    }
    LIVE.with(|r| r.push(raw));
    let installed = services().install_protocol_interface(
        Some(handle),
        block_io::PROTOCOL_GUID,
        (&mut c.block_io as *mut block_io::Protocol).cast(),
    );
    if let Err(status) = installed {
        log::error!(target: LOG, "{}: Block I/O not installed: {status:?}", c.name);
        LIVE.with(|r| r.retain(|&x| x != raw));
        teardown(raw);
        return Err(status);
    }
    log::info!(
        target: LOG,
        "{}: Block I/O installed ({} interface, {} blocks of {} bytes{})",
        c.name,
        if modern { "modern" } else { "legacy" },
        blocks,
        c.media.block_size,
        if c.media.read_only { ", read-only" } else { "" }
    );
    Ok(())
}

/// Stop() before PCI I/O is closed: uninstalls Block I/O (which may be refused while a consumer holds it), then
/// tears the controller down.
///
/// Errors: `DEVICE_ERROR` when `handle` has no live controller; the uninstall's status (the controller then
/// keeps running).
pub fn stop(handle: Handle) -> Result<(), Status> {
    let raw = by_handle(handle).ok_or(Status::DEVICE_ERROR)?;
    // SAFETY: registered, so live (see `lookup`).
    let c = unsafe { &mut *raw };
    services().uninstall_protocol_interface(
        handle,
        block_io::PROTOCOL_GUID,
        (&mut c.block_io as *mut block_io::Protocol).cast(),
    )?;
    LIVE.with(|r| r.retain(|&x| x != raw));
    teardown(raw);
    Ok(())
}

/// Resets the device, withdraws the quiesce, releases the DMA memory, restores the attributes and frees the
/// controller. `raw` must be unregistered and have no Block I/O installed.
fn teardown(raw: *mut Controller) {
    // SAFETY: `raw` came from `Box::into_raw` in `start` and is no longer reachable through the registry or an
    // installed protocol, so this is the only reference.
    let mut c = unsafe { Box::from_raw(raw) };
    if c.device.get_mut().quiesce().is_err() {
        cut_bus_master(&c.pci, &c.name);
    }
    if let Some(token) = c.quiesce.take() {
        if let Err(status) = events().unregister_quiesce(token) {
            log::error!(target: LOG, "{}: exit quiesce not withdrawn: {status:?}", c.name);
        }
    }
    if let Some(buffer) = c.buffer.take() {
        buffer.release();
    }
    if let Err(status) = c
        .pci
        .attributes(pci_io::ATTRIBUTE_OPERATION_SET, c.attributes_before)
    {
        log::error!(target: LOG, "{}: attributes not restored: {status:?}", c.name);
    }
    log::info!(target: LOG, "{}: stopped", c.name);
}

/// `virtio-blk BB:DD.F` from GetLocation (just `virtio-blk` if it fails).
fn location(pci: &PciIo) -> alloc::string::String {
    match pci.location() {
        Ok((bus, device, function)) => format!("virtio-blk {bus:02x}:{device:02x}.{function}"),
        Err(_) => alloc::string::String::from("virtio-blk"),
    }
}
