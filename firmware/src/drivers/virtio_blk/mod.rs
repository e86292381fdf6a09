//! The virtio-blk UEFI driver: a UEFI Driver Model device driver (UEFI 2.10 section 11) that turns every virtio
//! block PCI function (virtio 1.2 §5.2, over §4.1) into an `EFI_BLOCK_IO_PROTOCOL` (UEFI 2.10 section 13.9) on
//! the function's own handle, as edk2's VirtioBlkDxe does: the disk's device path is its
//! `PciRoot(0x0)/Pci(D,F)` path. The design note is `docs/virtio-blk.md`.
//!
//! ```text
//!              Start(): open PCI I/O BY_DRIVER, attributes, interface, DMA buffer,
//!                       device DRIVER_OK, exit quiesce registered, Block I/O installed
//!   Stopped  ----------------------------------------------------------------->  Started
//!            <-----------------------------------------------------------------
//!              Stop(): Block I/O uninstalled, device reset, quiesce withdrawn,
//!                      DMA buffer unmapped + freed, attributes restored, PCI I/O closed
//!
//!   Started --ExitBootServices--> device reset (device_status = 0) by the quiesce; the DMA layer's final
//!                                 phase then releases the mappings; nothing else happens.
//! ```
//!
//! Files, one concern each:
//! - `binding`: the Driver Binding Protocol (Supported/Start/Stop) and its installation;
//! - `controller`: one started controller, its Start/Stop steps and the registry of live ones;
//! - `block_io`: the Block I/O protocol (Reset/ReadBlocks/WriteBlocks/FlushBlocks) and its media;
//! - `quiesce`: the ExitBootServices handler;
//! - `pci`: the calls into the PCI I/O protocol, and `virtio::pci::PciAccess` over them;
//! - `dma`: the common buffer holding the queue and the request area.
//!
//! The virtio logic (features, queue, requests, splitting by `seg_max`/`size_max`, time-outs, recovery) is the
//! host-tested `virtio::blk::BlkDevice`; this module is the UEFI shell around it.

mod binding;
mod block_io;
mod controller;
mod dma;
mod pci;
mod quiesce;

pub use binding::install;

/// `log` target of the driver.
const LOG: &str = "virtio_blk";
