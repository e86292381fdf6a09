//! The transport abstraction: how a driver reaches a virtio device's registers (virtio 1.2 §4).
//!
//! [`Transport`] is the set of operations the generic code needs (status, features, queue registers, notification
//! and device-specific configuration). [`crate::pci`] implements it for the modern and legacy PCI interfaces;
//! [`crate::mock`] implements it in memory for tests. Methods that can only fail on bad arguments return
//! [`Error`]; plain register reads cannot fail.

use crate::status::DeviceStatus;
use crate::Error;

/// Which interface a transport speaks; it decides feature width, the `FEATURES_OK` step and queue layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Virtio 1.x interface: 64+ feature bits, `FEATURES_OK`, three independent queue addresses.
    Modern,
    /// Pre-1.0 ("legacy") interface: 32 feature bits, no `FEATURES_OK`, one page frame number per queue with the
    /// fixed legacy layout.
    Legacy,
}

/// Device-visible addresses of a split virtqueue's three parts (§2.7): what `queue_desc`, `queue_driver` and
/// `queue_device` are programmed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAddresses {
    /// Descriptor table (16-byte aligned; 4096 on legacy).
    pub desc: u64,
    /// Available ring, the "driver area" (2-byte aligned).
    pub avail: u64,
    /// Used ring, the "device area" (4-byte aligned; 4096 on legacy).
    pub used: u64,
}

/// Driver access to one virtio device's registers.
///
/// Queue indices are the device's virtqueue numbers; configuration offsets are byte offsets into the
/// device-specific configuration structure, values little-endian.
pub trait Transport {
    /// The interface this transport speaks.
    fn kind(&self) -> TransportKind;

    /// Reads the device's offered features (bits 0–63; the legacy interface fills only bits 0–31).
    fn read_device_features(&mut self) -> u64;

    /// Writes the features the driver accepts (legacy: bits 32–63 are dropped).
    fn write_driver_features(&mut self, features: u64);

    /// Reads `device_status`.
    fn status(&mut self) -> DeviceStatus;

    /// Writes `device_status`; writing the empty set resets the device (§2.1).
    fn set_status(&mut self, status: DeviceStatus);

    /// Maximum size of queue `queue` (legacy: its only size); 0 when the queue does not exist.
    fn max_queue_size(&mut self, queue: u16) -> u16;

    /// Programs queue `queue` with `size` entries at `addresses`.
    ///
    /// Errors: [`Error::QueueUnavailable`] for a queue the device lacks, [`Error::InvalidQueueSize`] /
    /// [`Error::LegacyQueueSizeMismatch`] for a size the device cannot take, [`Error::LegacyLayoutMismatch`] for
    /// legacy addresses that are not one legacy-layout block, [`Error::NotifyOutOfRange`] when the queue's
    /// notification address lies outside the notify structure.
    fn set_queue(&mut self, queue: u16, size: u16, addresses: QueueAddresses) -> Result<(), Error>;

    /// Enables queue `queue` (modern: `queue_enable = 1`; legacy: the address write already did, so this only
    /// checks that the queue address is set).
    ///
    /// Errors: [`Error::QueueUnavailable`] (modern), [`Error::QueueNotConfigured`] (no queue address set).
    fn enable_queue(&mut self, queue: u16) -> Result<(), Error>;

    /// Tells the device that queue `queue` has new available buffers (§2.9).
    ///
    /// Errors: [`Error::QueueNotConfigured`] if `set_queue` did not succeed for it on this transport (the legacy
    /// transport keeps no record and always writes the notify register).
    fn notify(&mut self, queue: u16) -> Result<(), Error>;

    /// Reads the byte at `offset` of the device-specific configuration.
    ///
    /// Errors: [`Error::ConfigOutOfRange`].
    fn config_read8(&mut self, offset: u32) -> Result<u8, Error>;

    /// Reads the 16-bit field at `offset` of the device-specific configuration.
    ///
    /// Errors: [`Error::ConfigOutOfRange`].
    fn config_read16(&mut self, offset: u32) -> Result<u16, Error>;

    /// Reads the 32-bit field at `offset` of the device-specific configuration.
    ///
    /// Errors: [`Error::ConfigOutOfRange`].
    fn config_read32(&mut self, offset: u32) -> Result<u32, Error>;

    /// Reads `config_generation` (§2.5.1); the legacy interface has none and returns 0.
    fn config_generation(&mut self) -> u32;
}

/// How many times [`read_config_stable`] re-reads before giving up.
pub const CONFIG_RETRY_LIMIT: u32 = 16;

/// Runs `read` until `config_generation` is the same before and after it (§2.5.1: fields wider than 32 bits or
/// spread over several fields must be read this way), at most [`CONFIG_RETRY_LIMIT`] times.
///
/// Errors: whatever `read` returns, or [`Error::ConfigUnstable`].
pub fn read_config_stable<T, R, F>(transport: &mut T, mut read: F) -> Result<R, Error>
where
    T: Transport + ?Sized,
    F: FnMut(&mut T) -> Result<R, Error>,
{
    for _ in 0..CONFIG_RETRY_LIMIT {
        let before = transport.config_generation();
        let value = read(transport)?;
        if transport.config_generation() == before {
            return Ok(value);
        }
    }
    Err(Error::ConfigUnstable {
        attempts: CONFIG_RETRY_LIMIT,
    })
}

/// Reads the 64-bit field at `offset` of the device-specific configuration as two 32-bit reads (low first) under
/// [`read_config_stable`].
///
/// Errors: [`Error::ConfigOutOfRange`], [`Error::ConfigUnstable`].
pub fn config_read64<T: Transport + ?Sized>(transport: &mut T, offset: u32) -> Result<u64, Error> {
    let high_offset = offset.checked_add(4).ok_or(Error::ConfigOutOfRange {
        offset,
        width: 8,
        length: 0,
    })?;
    read_config_stable(transport, |t| {
        let low = t.config_read32(offset)?;
        let high = t.config_read32(high_offset)?;
        Ok(u64::from(low) | (u64::from(high) << 32))
    })
}

/// A mutable borrow of a transport is a transport (so a caller can keep the device after handing it to a driver).
impl<T: Transport + ?Sized> Transport for &mut T {
    fn kind(&self) -> TransportKind {
        (**self).kind()
    }
    fn read_device_features(&mut self) -> u64 {
        (**self).read_device_features()
    }
    fn write_driver_features(&mut self, features: u64) {
        (**self).write_driver_features(features)
    }
    fn status(&mut self) -> DeviceStatus {
        (**self).status()
    }
    fn set_status(&mut self, status: DeviceStatus) {
        (**self).set_status(status)
    }
    fn max_queue_size(&mut self, queue: u16) -> u16 {
        (**self).max_queue_size(queue)
    }
    fn set_queue(&mut self, queue: u16, size: u16, addresses: QueueAddresses) -> Result<(), Error> {
        (**self).set_queue(queue, size, addresses)
    }
    fn enable_queue(&mut self, queue: u16) -> Result<(), Error> {
        (**self).enable_queue(queue)
    }
    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        (**self).notify(queue)
    }
    fn config_read8(&mut self, offset: u32) -> Result<u8, Error> {
        (**self).config_read8(offset)
    }
    fn config_read16(&mut self, offset: u32) -> Result<u16, Error> {
        (**self).config_read16(offset)
    }
    fn config_read32(&mut self, offset: u32) -> Result<u32, Error> {
        (**self).config_read32(offset)
    }
    fn config_generation(&mut self) -> u32 {
        (**self).config_generation()
    }
}
