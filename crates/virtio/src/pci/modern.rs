//! The modern virtio PCI interface (virtio 1.2 §4.1.4).
//!
//! Common configuration structure (`struct virtio_pci_common_cfg`, §4.1.4.3), offsets used here:
//! `device_feature_select` 0x00, `device_feature` 0x04, `driver_feature_select` 0x08, `driver_feature` 0x0c,
//! `config_msix_vector` 0x10, `num_queues` 0x12, `device_status` 0x14, `config_generation` 0x15, `queue_select`
//! 0x16, `queue_size` 0x18, `queue_msix_vector` 0x1a, `queue_enable` 0x1c, `queue_notify_off` 0x1e, `queue_desc`
//! 0x20, `queue_driver` 0x28, `queue_device` 0x30. 64-bit fields are written as two 32-bit halves, low first
//! (§4.1.3.1 allows it and some implementations accept nothing wider).
//!
//! A queue's notification address is `notify.offset + queue_notify_off * notify_off_multiplier` (§4.1.4.4); it is
//! computed and bounds-checked when the queue is set up and remembered, so `notify` is one 16-bit write of the
//! queue index.

use alloc::vec::Vec;

use super::caps::{parse_capabilities, StructureLocation, VirtioCapabilities};
use super::{PciAccess, StatusRegister};
use crate::status::DeviceStatus;
use crate::transport::{QueueAddresses, Transport, TransportKind};
use crate::Error;

/// `device_feature_select`.
pub const DEVICE_FEATURE_SELECT: u64 = 0x00;
/// `device_feature`.
pub const DEVICE_FEATURE: u64 = 0x04;
/// `driver_feature_select`.
pub const DRIVER_FEATURE_SELECT: u64 = 0x08;
/// `driver_feature`.
pub const DRIVER_FEATURE: u64 = 0x0c;
/// `config_msix_vector`.
pub const CONFIG_MSIX_VECTOR: u64 = 0x10;
/// `num_queues`.
pub const NUM_QUEUES: u64 = 0x12;
/// `device_status`.
pub const DEVICE_STATUS: u64 = 0x14;
/// `config_generation`.
pub const CONFIG_GENERATION: u64 = 0x15;
/// `queue_select`.
pub const QUEUE_SELECT: u64 = 0x16;
/// `queue_size`.
pub const QUEUE_SIZE: u64 = 0x18;
/// `queue_msix_vector`.
pub const QUEUE_MSIX_VECTOR: u64 = 0x1a;
/// `queue_enable`.
pub const QUEUE_ENABLE: u64 = 0x1c;
/// `queue_notify_off`.
pub const QUEUE_NOTIFY_OFF: u64 = 0x1e;
/// `queue_desc`.
pub const QUEUE_DESC: u64 = 0x20;
/// `queue_driver` (available ring).
pub const QUEUE_DRIVER: u64 = 0x28;
/// `queue_device` (used ring).
pub const QUEUE_DEVICE: u64 = 0x30;

/// A modern virtio PCI function reached through `A`.
pub struct ModernTransport<A: PciAccess> {
    access: A,
    caps: VirtioCapabilities,
    num_queues: u16,
    notify_addresses: Vec<(u16, u64)>,
}

impl<A: PciAccess> ModernTransport<A> {
    /// Parses the function's virtio capabilities (see [`parse_capabilities`]; `bar_sizes[i]` is BAR i's size in
    /// bytes, 0 when absent) and reads `num_queues`.
    ///
    /// Errors: those of [`parse_capabilities`].
    pub fn new(mut access: A, bar_sizes: [u64; 6]) -> Result<Self, Error> {
        let caps = parse_capabilities(&mut access, &bar_sizes)?;
        let num_queues =
            access.bar_read16(caps.common.bar, u64::from(caps.common.offset) + NUM_QUEUES);
        log::debug!("modern virtio: {caps:x?}, {num_queues} queues");
        Ok(Self {
            access,
            caps,
            num_queues,
            notify_addresses: Vec::new(),
        })
    }

    /// The structures found.
    pub fn capabilities(&self) -> &VirtioCapabilities {
        &self.caps
    }

    /// `num_queues` as read at construction.
    pub fn num_queues(&self) -> u16 {
        self.num_queues
    }

    /// Reads (and thereby clears) the ISR status byte (§4.1.4.5); `None` without an ISR structure.
    pub fn read_isr(&mut self) -> Option<u8> {
        let isr = self.caps.isr?;
        Some(self.access.bar_read8(isr.bar, u64::from(isr.offset)))
    }

    /// Gives the access back.
    pub fn into_inner(self) -> A {
        self.access
    }

    /// Where `device_status` is: offset 0x14 of the common configuration structure.
    pub fn status_register(&self) -> StatusRegister {
        let (bar, offset) = self.common(DEVICE_STATUS);
        StatusRegister { bar, offset }
    }

    fn common(&self, register: u64) -> (u8, u64) {
        (
            self.caps.common.bar,
            u64::from(self.caps.common.offset) + register,
        )
    }

    fn write_common16(&mut self, register: u64, value: u16) {
        let (bar, offset) = self.common(register);
        self.access.bar_write16(bar, offset, value);
    }

    fn write_common32(&mut self, register: u64, value: u32) {
        let (bar, offset) = self.common(register);
        self.access.bar_write32(bar, offset, value);
    }

    fn read_common16(&mut self, register: u64) -> u16 {
        let (bar, offset) = self.common(register);
        self.access.bar_read16(bar, offset)
    }

    fn write_common64(&mut self, register: u64, value: u64) {
        self.write_common32(register, value as u32);
        self.write_common32(register + 4, (value >> 32) as u32);
    }

    fn select_queue(&mut self, queue: u16) -> Result<(), Error> {
        if queue >= self.num_queues {
            return Err(Error::QueueUnavailable { queue });
        }
        self.write_common16(QUEUE_SELECT, queue);
        Ok(())
    }

    fn device_config(&self, offset: u32, width: u8) -> Result<(u8, u64), Error> {
        let out_of_range = |length| Error::ConfigOutOfRange {
            offset,
            width,
            length,
        };
        let device: StructureLocation = self.caps.device.ok_or(out_of_range(0))?;
        if u64::from(offset) + u64::from(width) > u64::from(device.length) {
            return Err(out_of_range(device.length));
        }
        Ok((device.bar, u64::from(device.offset) + u64::from(offset)))
    }
}

impl<A: PciAccess> Transport for ModernTransport<A> {
    fn kind(&self) -> TransportKind {
        TransportKind::Modern
    }

    fn read_device_features(&mut self) -> u64 {
        let (bar, offset) = self.common(DEVICE_FEATURE);
        self.write_common32(DEVICE_FEATURE_SELECT, 0);
        let low = self.access.bar_read32(bar, offset);
        self.write_common32(DEVICE_FEATURE_SELECT, 1);
        let high = self.access.bar_read32(bar, offset);
        u64::from(low) | (u64::from(high) << 32)
    }

    fn write_driver_features(&mut self, features: u64) {
        self.write_common32(DRIVER_FEATURE_SELECT, 0);
        self.write_common32(DRIVER_FEATURE, features as u32);
        self.write_common32(DRIVER_FEATURE_SELECT, 1);
        self.write_common32(DRIVER_FEATURE, (features >> 32) as u32);
    }

    fn status(&mut self) -> DeviceStatus {
        let (bar, offset) = self.common(DEVICE_STATUS);
        DeviceStatus::from_bits_retain(self.access.bar_read8(bar, offset))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        let (bar, offset) = self.common(DEVICE_STATUS);
        self.access.bar_write8(bar, offset, status.bits());
        if status.is_empty() {
            self.notify_addresses.clear();
        }
    }

    fn max_queue_size(&mut self, queue: u16) -> u16 {
        match self.select_queue(queue) {
            Ok(()) => self.read_common16(QUEUE_SIZE),
            Err(_) => 0,
        }
    }

    fn set_queue(&mut self, queue: u16, size: u16, addresses: QueueAddresses) -> Result<(), Error> {
        self.select_queue(queue)?;
        let max = self.read_common16(QUEUE_SIZE);
        if max == 0 {
            return Err(Error::QueueUnavailable { queue });
        }
        crate::queue::layout::check_size(size, max)?;
        let queue_notify_off = self.read_common16(QUEUE_NOTIFY_OFF);
        let notify = self.caps.notify;
        let relative = u64::from(queue_notify_off) * u64::from(self.caps.notify_off_multiplier);
        if relative + 2 > u64::from(notify.length) {
            return Err(Error::NotifyOutOfRange {
                queue,
                queue_notify_off,
            });
        }
        self.write_common16(QUEUE_SIZE, size);
        self.write_common64(QUEUE_DESC, addresses.desc);
        self.write_common64(QUEUE_DRIVER, addresses.avail);
        self.write_common64(QUEUE_DEVICE, addresses.used);
        let address = u64::from(notify.offset) + relative;
        self.notify_addresses.retain(|&(q, _)| q != queue);
        self.notify_addresses.push((queue, address));
        Ok(())
    }

    fn enable_queue(&mut self, queue: u16) -> Result<(), Error> {
        self.select_queue(queue)?;
        self.write_common16(QUEUE_ENABLE, 1);
        Ok(())
    }

    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        let &(_, address) = self
            .notify_addresses
            .iter()
            .find(|&&(q, _)| q == queue)
            .ok_or(Error::QueueNotConfigured { queue })?;
        self.access
            .bar_write16(self.caps.notify.bar, address, queue);
        Ok(())
    }

    fn config_read8(&mut self, offset: u32) -> Result<u8, Error> {
        let (bar, at) = self.device_config(offset, 1)?;
        Ok(self.access.bar_read8(bar, at))
    }

    fn config_read16(&mut self, offset: u32) -> Result<u16, Error> {
        let (bar, at) = self.device_config(offset, 2)?;
        Ok(self.access.bar_read16(bar, at))
    }

    fn config_read32(&mut self, offset: u32) -> Result<u32, Error> {
        let (bar, at) = self.device_config(offset, 4)?;
        Ok(self.access.bar_read32(bar, at))
    }

    fn config_generation(&mut self) -> u32 {
        let (bar, offset) = self.common(CONFIG_GENERATION);
        u32::from(self.access.bar_read8(bar, offset))
    }
}
