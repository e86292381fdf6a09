//! `EFI_BLOCK_IO_PROTOCOL` (UEFI 2.10 section 13.9) for a virtio-blk controller: Reset, ReadBlocks, WriteBlocks,
//! FlushBlocks, and the revision 3 media.
//!
//! Checks, in this order, each with its status and a log line: a `This` that is not a live controller
//! (`INVALID_PARAMETER`); a `MediaId` other than the media's (`MEDIA_CHANGED`); a zero `BufferSize` (`SUCCESS`,
//! nothing is done); a device without blocks (`NO_MEDIA`); a NULL buffer or one not aligned to `IoAlign`
//! (`INVALID_PARAMETER`); a size that is not a multiple of the block size (`BAD_BUFFER_SIZE`); blocks past
//! `LastBlock` (`INVALID_PARAMETER`); a write to a read-only device (`WRITE_PROTECTED`). The device's own errors
//! (error status, time-out, a broken queue, a device left unusable) are `DEVICE_ERROR`.
//!
//! Data buffers go through PCI I/O `Map` (`BusMasterWrite` to read blocks into, `BusMasterRead` to write blocks
//! from) and `Unmap` around the requests, so the DMA layer tracks every live mapping and bounces what the device
//! cannot reach. A Map that covers only part of the buffer is used for the whole blocks it covers, and the rest is
//! mapped next. A time-out or protocol error reset the device before the driver core returned, so the Unmap that
//! follows never releases memory the device still uses; a device that did not even acknowledge the reset loses
//! bus mastering first.
//!
//! Calls run with the TPL raised to `TPL_CALLBACK` (the highest level Block I/O may be called at), so no other
//! Block I/O call on the same device can start in between; the device is additionally behind a `RefCell`, and a
//! call that still finds it borrowed (a caller breaking the TPL rules) gets `DEVICE_ERROR`.

use core::ffi::c_void;

use boot_services::tpl::Tpl;
use r_efi::efi::{Boolean, Lba, Status};
use r_efi::protocols::{block_io, pci_io};
use virtio::blk::{DeviceState, Media};
use virtio::Error;

use super::controller::{cut_bus_master, lookup, Controller};
use super::LOG;
use crate::efi::state::events;

/// `IoAlign`: virtio-blk places no alignment requirement on data buffers (the DMA layer maps any address), so 0
/// ("anywhere", UEFI 2.10 section 13.9).
const IO_ALIGN: u32 = 0;

/// The protocol instance of a new controller (`media` is set once the controller has its address).
pub fn protocol() -> block_io::Protocol {
    block_io::Protocol {
        revision: block_io::REVISION3,
        media: core::ptr::null(),
        reset,
        read_blocks,
        write_blocks,
        flush_blocks,
    }
}

/// The revision 3 media of a virtio-blk disk: fixed (never removable), whole device.
pub fn media(media: &Media) -> block_io::Media {
    block_io::Media {
        media_id: 0,
        removable_media: false,
        media_present: media.blocks > 0,
        logical_partition: false,
        read_only: media.read_only,
        write_caching: media.write_cache,
        block_size: media.block_size,
        io_align: IO_ALIGN,
        last_block: media.blocks.saturating_sub(1),
        lowest_aligned_lba: media.lowest_aligned_lba,
        logical_blocks_per_physical_block: media.logical_per_physical,
        optimal_transfer_length_granularity: media.optimal_transfer_blocks,
    }
}

/// Runs `f` on the controller behind `this` with the TPL at least `TPL_CALLBACK` (module notes).
fn with_controller(
    this: *mut block_io::Protocol,
    call: &str,
    f: impl FnOnce(&Controller) -> Result<(), Status>,
) -> Status {
    let Some(controller) = lookup(this) else {
        log::warn!(target: LOG, "{call}: {this:p} is not a virtio-blk Block I/O instance");
        return Status::INVALID_PARAMETER;
    };
    let ev = events();
    let old = ev.raise_tpl(ev.current_tpl().max(Tpl::CALLBACK));
    let result = f(controller);
    ev.restore_tpl(old);
    crate::efi::status(result)
}

/// A status's name in log lines.
struct Name(Status);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self.0 {
            Status::INVALID_PARAMETER => "INVALID_PARAMETER",
            Status::BAD_BUFFER_SIZE => "BAD_BUFFER_SIZE",
            Status::WRITE_PROTECTED => "WRITE_PROTECTED",
            Status::MEDIA_CHANGED => "MEDIA_CHANGED",
            Status::NO_MEDIA => "NO_MEDIA",
            Status::DEVICE_ERROR => "DEVICE_ERROR",
            other => return write!(f, "{other:?}"),
        };
        f.write_str(name)
    }
}

/// The status of a driver-core error, logging it.
fn status_of(c: &Controller, call: &str, error: Error) -> Status {
    let status = match error {
        Error::LengthNotBlockMultiple { .. } => Status::BAD_BUFFER_SIZE,
        Error::BlockOutOfRange { .. } => Status::INVALID_PARAMETER,
        Error::ReadOnly => Status::WRITE_PROTECTED,
        _ => Status::DEVICE_ERROR,
    };
    log::warn!(target: LOG, "{}: {call}: {error:?} -> {}", c.name, Name(status));
    status
}

extern "efiapi" fn reset(this: *mut block_io::Protocol, _extended_verification: Boolean) -> Status {
    with_controller(this, "Reset", |c| {
        let mut device = c
            .device
            .try_borrow_mut()
            .map_err(|_| Status::DEVICE_ERROR)?;
        let before = device.state();
        let result = device.reinitialize();
        if before != DeviceState::Unresponsive && device.state() == DeviceState::Unresponsive {
            cut_bus_master(&c.pci, &c.name);
        }
        result.map_err(|e| status_of(c, "Reset", e))
    })
}

extern "efiapi" fn read_blocks(
    this: *mut block_io::Protocol,
    media_id: u32,
    lba: Lba,
    buffer_size: usize,
    buffer: *mut c_void,
) -> Status {
    with_controller(this, "ReadBlocks", |c| {
        transfer(c, false, media_id, lba, buffer_size, buffer)
    })
}

extern "efiapi" fn write_blocks(
    this: *mut block_io::Protocol,
    media_id: u32,
    lba: Lba,
    buffer_size: usize,
    buffer: *mut c_void,
) -> Status {
    with_controller(this, "WriteBlocks", |c| {
        transfer(c, true, media_id, lba, buffer_size, buffer)
    })
}

extern "efiapi" fn flush_blocks(this: *mut block_io::Protocol) -> Status {
    with_controller(this, "FlushBlocks", |c| {
        if !c.media.media_present {
            return Err(Status::NO_MEDIA);
        }
        let mut device = c
            .device
            .try_borrow_mut()
            .map_err(|_| Status::DEVICE_ERROR)?;
        device.flush().map_err(|e| status_of(c, "FlushBlocks", e))
    })
}

/// ReadBlocks/WriteBlocks after `This` was resolved (checks and mapping in the module notes).
fn transfer(
    c: &Controller,
    write: bool,
    media_id: u32,
    lba: Lba,
    size: usize,
    buffer: *mut c_void,
) -> Result<(), Status> {
    let call = if write { "WriteBlocks" } else { "ReadBlocks" };
    let refuse = |status: Status, why: &str| {
        log::warn!(target: LOG, "{}: {call}(LBA {lba}, {size} bytes, {buffer:p}): {why} -> {}", c.name, Name(status));
        Err(status)
    };
    if media_id != c.media.media_id {
        return refuse(Status::MEDIA_CHANGED, "MediaId mismatch");
    }
    if size == 0 {
        return Ok(());
    }
    if !c.media.media_present {
        return refuse(Status::NO_MEDIA, "no media");
    }
    let align = c.media.io_align.max(1) as usize;
    if buffer.is_null() || !(buffer as usize).is_multiple_of(align) {
        return refuse(Status::INVALID_PARAMETER, "NULL or misaligned buffer");
    }
    let mut device = c
        .device
        .try_borrow_mut()
        .map_err(|_| Status::DEVICE_ERROR)?;
    device
        .check(lba, size as u64, write)
        .map_err(|e| status_of(c, call, e))?;
    let operation = if write {
        pci_io::OPERATION_BUS_MASTER_READ
    } else {
        pci_io::OPERATION_BUS_MASTER_WRITE
    };
    let block_size = c.media.block_size as usize;
    let mut done = 0usize;
    while done < size {
        let host = buffer as u64 + done as u64;
        let (device_address, mapped, mapping) = c.pci.map(operation, host, size - done).map_err(|status| {
            log::warn!(target: LOG, "{}: {call}: Map of {} bytes failed: {status:?}", c.name, size - done);
            Status::DEVICE_ERROR
        })?;
        let usable = mapped.min(size - done) / block_size * block_size;
        if usable == 0 {
            log::error!(target: LOG, "{}: {call}: Map covered {mapped} bytes, less than a block", c.name);
            let _ = c.pci.unmap(mapping);
            return Err(Status::DEVICE_ERROR);
        }
        let block = lba + (done / block_size) as u64;
        let before = device.state();
        let result = if write {
            device.write(block, device_address, usable as u64)
        } else {
            device.read(block, device_address, usable as u64)
        };
        if before != DeviceState::Unresponsive && device.state() == DeviceState::Unresponsive {
            cut_bus_master(&c.pci, &c.name);
        }
        if let Err(status) = c.pci.unmap(mapping) {
            log::error!(target: LOG, "{}: {call}: Unmap failed: {status:?}", c.name);
        }
        result.map_err(|e| status_of(c, call, e))?;
        done += usable;
    }
    Ok(())
}
