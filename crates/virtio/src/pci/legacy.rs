//! The legacy virtio PCI interface in I/O BAR0 (virtio 1.2 §4.1.4.8).
//!
//! Header layout: device features (32 bits) 0x00, guest (driver) features 0x04, queue address (page frame number
//! in 4096-byte units) 0x08, queue size 0x0c, queue select 0x0e, queue notify 0x10, device status 0x12, ISR 0x13;
//! with MSI-X enabled the two vector registers follow at 0x14/0x16 and device configuration starts at 0x18,
//! otherwise at 0x14. Only 32 feature bits exist, the queue size is fixed by the device, and a queue is located by
//! one PFN, so its memory must follow the legacy layout ([`crate::queue::Layout`] with
//! [`crate::TransportKind::Legacy`]). Writing the PFN activates the queue; there is no `FEATURES_OK` step and no
//! configuration generation.

use super::caps::{find_capability, PCI_CAP_ID_MSIX};
use super::{PciAccess, StatusRegister};
use crate::queue::layout::{Layout, LEGACY_ALIGN};
use crate::status::DeviceStatus;
use crate::transport::{QueueAddresses, Transport, TransportKind};
use crate::Error;

/// Device features.
pub const DEVICE_FEATURES: u64 = 0x00;
/// Guest (driver) features.
pub const GUEST_FEATURES: u64 = 0x04;
/// Queue address (PFN).
pub const QUEUE_ADDRESS: u64 = 0x08;
/// Queue size (read-only).
pub const QUEUE_SIZE: u64 = 0x0c;
/// Queue select.
pub const QUEUE_SELECT: u64 = 0x0e;
/// Queue notify.
pub const QUEUE_NOTIFY: u64 = 0x10;
/// Device status.
pub const DEVICE_STATUS: u64 = 0x12;
/// ISR status.
pub const ISR_STATUS: u64 = 0x13;
/// Device configuration without MSI-X.
pub const CONFIG_OFFSET: u64 = 0x14;
/// Device configuration with MSI-X enabled.
pub const CONFIG_OFFSET_MSIX: u64 = 0x18;

const MSIX_ENABLE: u16 = 1 << 15;
const BAR: u8 = 0;

/// A legacy (or transitional, driven legacy-style) virtio PCI function reached through `A`'s BAR 0.
pub struct LegacyTransport<A: PciAccess> {
    access: A,
    config_offset: u64,
    bar_size: u64,
}

impl<A: PciAccess> LegacyTransport<A> {
    /// Wraps a function whose I/O BAR0 is `bar_size` bytes; finds out from the MSI-X capability's enable bit where
    /// device configuration starts.
    ///
    /// Errors: [`Error::CapabilityListMalformed`], [`Error::LegacyBarTooSmall`].
    pub fn new(mut access: A, bar_size: u64) -> Result<Self, Error> {
        let msix_enabled = match find_capability(&mut access, PCI_CAP_ID_MSIX)? {
            Some(pointer) => access.config_read16(u16::from(pointer) + 2) & MSIX_ENABLE != 0,
            None => false,
        };
        let config_offset = if msix_enabled {
            CONFIG_OFFSET_MSIX
        } else {
            CONFIG_OFFSET
        };
        if bar_size < config_offset {
            return Err(Error::LegacyBarTooSmall {
                bar_size,
                required: config_offset,
            });
        }
        Ok(Self {
            access,
            config_offset,
            bar_size,
        })
    }

    /// Offset of device configuration in BAR0 (0x14, or 0x18 with MSI-X enabled).
    pub fn config_offset(&self) -> u64 {
        self.config_offset
    }

    /// Reads (and thereby clears) the ISR status byte.
    pub fn read_isr(&mut self) -> u8 {
        self.access.bar_read8(BAR, ISR_STATUS)
    }

    /// Gives the access back.
    pub fn into_inner(self) -> A {
        self.access
    }

    /// Where `device_status` is: offset 0x12 of BAR 0.
    pub fn status_register(&self) -> StatusRegister {
        StatusRegister {
            bar: BAR,
            offset: DEVICE_STATUS,
        }
    }

    fn config_at(&self, offset: u32, width: u8) -> Result<u64, Error> {
        let length = self.bar_size - self.config_offset;
        if u64::from(offset) + u64::from(width) > length {
            return Err(Error::ConfigOutOfRange {
                offset,
                width,
                length: u32::try_from(length).unwrap_or(u32::MAX),
            });
        }
        Ok(self.config_offset + u64::from(offset))
    }
}

/// Checks that `addresses` describe one legacy-layout queue of `size` entries and returns its PFN.
fn legacy_pfn(size: u16, addresses: QueueAddresses) -> Result<u32, Error> {
    let mismatch = Error::LegacyLayoutMismatch {
        desc: addresses.desc,
        avail: addresses.avail,
        used: addresses.used,
    };
    let layout = Layout::new(TransportKind::Legacy, size)?;
    let avail = addresses.desc.checked_add(layout.avail_offset as u64);
    let used = addresses.desc.checked_add(layout.used_offset as u64);
    if addresses.desc & (LEGACY_ALIGN as u64 - 1) != 0
        || avail != Some(addresses.avail)
        || used != Some(addresses.used)
    {
        return Err(mismatch);
    }
    u32::try_from(addresses.desc / LEGACY_ALIGN as u64).map_err(|_| mismatch)
}

impl<A: PciAccess> Transport for LegacyTransport<A> {
    fn kind(&self) -> TransportKind {
        TransportKind::Legacy
    }

    fn read_device_features(&mut self) -> u64 {
        u64::from(self.access.bar_read32(BAR, DEVICE_FEATURES))
    }

    fn write_driver_features(&mut self, features: u64) {
        self.access
            .bar_write32(BAR, GUEST_FEATURES, features as u32);
    }

    fn status(&mut self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(self.access.bar_read8(BAR, DEVICE_STATUS))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.access.bar_write8(BAR, DEVICE_STATUS, status.bits());
    }

    fn max_queue_size(&mut self, queue: u16) -> u16 {
        self.access.bar_write16(BAR, QUEUE_SELECT, queue);
        self.access.bar_read16(BAR, QUEUE_SIZE)
    }

    fn set_queue(&mut self, queue: u16, size: u16, addresses: QueueAddresses) -> Result<(), Error> {
        let device = self.max_queue_size(queue);
        if device == 0 {
            return Err(Error::QueueUnavailable { queue });
        }
        if size != device {
            return Err(Error::LegacyQueueSizeMismatch { size, device });
        }
        let pfn = legacy_pfn(size, addresses)?;
        self.access.bar_write32(BAR, QUEUE_ADDRESS, pfn);
        Ok(())
    }

    fn enable_queue(&mut self, queue: u16) -> Result<(), Error> {
        self.access.bar_write16(BAR, QUEUE_SELECT, queue);
        if self.access.bar_read32(BAR, QUEUE_ADDRESS) == 0 {
            return Err(Error::QueueNotConfigured { queue });
        }
        Ok(())
    }

    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        self.access.bar_write16(BAR, QUEUE_NOTIFY, queue);
        Ok(())
    }

    fn config_read8(&mut self, offset: u32) -> Result<u8, Error> {
        let at = self.config_at(offset, 1)?;
        Ok(self.access.bar_read8(BAR, at))
    }

    fn config_read16(&mut self, offset: u32) -> Result<u16, Error> {
        let at = self.config_at(offset, 2)?;
        Ok(self.access.bar_read16(BAR, at))
    }

    fn config_read32(&mut self, offset: u32) -> Result<u32, Error> {
        let at = self.config_at(offset, 4)?;
        Ok(self.access.bar_read32(BAR, at))
    }

    fn config_generation(&mut self) -> u32 {
        0
    }
}
