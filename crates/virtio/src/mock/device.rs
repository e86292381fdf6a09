//! [`MockDevice`]: an in-memory virtio device implementing [`Transport`] and consuming split queues the way a
//! device does (§2.7.5–§2.7.8): it reads `avail.idx`, walks each new chain through the descriptor table, lets a
//! handler "perform" the request, writes the used element and then `used.idx`.

use alloc::vec::Vec;

use super::memory::SharedMemory;
use crate::queue::split::{VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT};
use crate::status::DeviceStatus;
use crate::transport::{QueueAddresses, Transport, TransportKind};
use crate::Error;

/// A descriptor as the device reads it from the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// Buffer address.
    pub addr: u64,
    /// Buffer length.
    pub len: u32,
    /// `VIRTQ_DESC_F_*` flags.
    pub flags: u16,
    /// Next descriptor index (meaningful with `VIRTQ_DESC_F_NEXT`).
    pub next: u16,
}

/// What the mock device found wrong while consuming a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceError {
    /// The queue has not been set up and enabled.
    QueueNotReady {
        /// Queue index.
        queue: u16,
    },
    /// A ring or the table lies outside the given memory.
    RingOutsideMemory {
        /// The offending device address.
        address: u64,
    },
    /// A ring entry or `next` names a descriptor index not below the queue size.
    DescriptorOutOfRange {
        /// The index.
        index: u16,
    },
    /// A chain is longer than the queue size (it loops).
    ChainLoop {
        /// The chain's head.
        head: u16,
    },
    /// A descriptor has `VIRTQ_DESC_F_INDIRECT`, which the driver never negotiates.
    UnexpectedIndirect {
        /// The descriptor index.
        index: u16,
    },
}

/// Device-side state of one virtqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MockQueue {
    /// Maximum (legacy: only) size the device reports; 0 = the queue does not exist.
    pub max_size: u16,
    /// Size programmed by the driver.
    pub size: u16,
    /// Addresses programmed by the driver.
    pub addresses: Option<QueueAddresses>,
    /// Whether the driver enabled the queue.
    pub enabled: bool,
    /// Next available-ring index the device will consume.
    pub last_avail: u16,
    /// The device's `used.idx`.
    pub used_idx: u16,
}

/// A fake virtio device. Public fields configure it and record what the driver did.
#[derive(Debug, Clone)]
pub struct MockDevice {
    /// Interface it pretends to be.
    pub kind: TransportKind,
    /// Features offered.
    pub device_features: u64,
    /// Last features written by the driver.
    pub driver_features: Option<u64>,
    /// Whether `FEATURES_OK` sticks (it never does when the driver wrote features not offered).
    pub accept_features: bool,
    /// Status reads after a reset write that still return the old status (`u32::MAX`: forever).
    pub reset_delay: u32,
    /// Every value written to `device_status`, in order.
    pub status_writes: Vec<u8>,
    /// Number of `device_status` reads.
    pub status_reads: u32,
    /// The queues.
    pub queues: Vec<MockQueue>,
    /// Every queue index notified, in order.
    pub notifications: Vec<u16>,
    /// Device-specific configuration bytes.
    pub config: Vec<u8>,
    /// `config_generation`.
    pub generation: u32,
    /// Whether every `config_generation` read changes it (a device updating its configuration all the time).
    pub unstable_generation: bool,
    status: u8,
    stale_status: u8,
    stale_reads: u32,
}

impl MockDevice {
    /// A device of `kind` offering `device_features`, with one queue per entry of `queue_max_sizes`; it accepts
    /// features and resets at once.
    pub fn new(kind: TransportKind, device_features: u64, queue_max_sizes: &[u16]) -> Self {
        Self {
            kind,
            device_features,
            driver_features: None,
            accept_features: true,
            reset_delay: 0,
            status_writes: Vec::new(),
            status_reads: 0,
            queues: queue_max_sizes
                .iter()
                .map(|&max_size| MockQueue {
                    max_size,
                    ..MockQueue::default()
                })
                .collect(),
            notifications: Vec::new(),
            config: Vec::new(),
            generation: 0,
            unstable_generation: false,
            status: 0,
            stale_status: 0,
            stale_reads: 0,
        }
    }

    fn queue_mut(&mut self, queue: u16) -> Result<&mut MockQueue, Error> {
        self.queues
            .get_mut(usize::from(queue))
            .filter(|q| q.max_size != 0)
            .ok_or(Error::QueueUnavailable { queue })
    }

    fn config_bytes<const N: usize>(&self, offset: u32) -> Result<[u8; N], Error> {
        let start = offset as usize;
        let bytes =
            self.config
                .get(start..start.saturating_add(N))
                .ok_or(Error::ConfigOutOfRange {
                    offset,
                    width: N as u8,
                    length: self.config.len() as u32,
                })?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Consumes every new available chain of `queue` in `memory`: for each, calls `handler` with the chain's
    /// descriptors and uses its return value as the used length, writes the used element, then `used.idx`.
    /// Returns how many chains were consumed.
    ///
    /// Errors: [`DeviceError`]; entries consumed before the error stay consumed.
    pub fn process<F>(
        &mut self,
        queue: u16,
        memory: &SharedMemory,
        mut handler: F,
    ) -> Result<usize, DeviceError>
    where
        F: FnMut(&[Descriptor]) -> u32,
    {
        let q = *self
            .queues
            .get(usize::from(queue))
            .filter(|q| q.enabled)
            .ok_or(DeviceError::QueueNotReady { queue })?;
        let addresses = q.addresses.ok_or(DeviceError::QueueNotReady { queue })?;
        let size = usize::from(q.size);
        let locate = |address: u64, len: usize| {
            memory
                .offset_of(address, len)
                .ok_or(DeviceError::RingOutsideMemory { address })
        };
        let desc = locate(addresses.desc, 16 * size)?;
        let avail = locate(addresses.avail, 6 + 2 * size)?;
        locate(addresses.used, 6 + 8 * size)?;

        let avail_idx = memory.device_read16(avail + 2);
        let mut consumed = 0;
        while self.queues[usize::from(queue)].last_avail != avail_idx {
            let last_avail = self.queues[usize::from(queue)].last_avail;
            let head = memory.device_read16(avail + 4 + 2 * (usize::from(last_avail) % size));
            let mut chain = Vec::new();
            let mut index = head;
            loop {
                if usize::from(index) >= size {
                    return Err(DeviceError::DescriptorOutOfRange { index });
                }
                if chain.len() == size {
                    return Err(DeviceError::ChainLoop { head });
                }
                let at = desc + 16 * usize::from(index);
                let descriptor = Descriptor {
                    addr: memory.device_read64(at),
                    len: memory.device_read32(at + 8),
                    flags: memory.device_read16(at + 12),
                    next: memory.device_read16(at + 14),
                };
                if descriptor.flags & VIRTQ_DESC_F_INDIRECT != 0 {
                    return Err(DeviceError::UnexpectedIndirect { index });
                }
                chain.push(descriptor);
                if descriptor.flags & VIRTQ_DESC_F_NEXT == 0 {
                    break;
                }
                index = descriptor.next;
            }
            let written = handler(&chain);
            self.queues[usize::from(queue)].last_avail = last_avail.wrapping_add(1);
            self.push_used(queue, memory, u32::from(head), written)?;
            consumed += 1;
        }
        Ok(consumed)
    }

    /// Writes the used element `{id, len}` into `queue`'s used ring and then advances `used.idx`, whatever `id`
    /// is (tests use it to play a misbehaving device).
    ///
    /// Errors: [`DeviceError::QueueNotReady`], [`DeviceError::RingOutsideMemory`].
    pub fn push_used(
        &mut self,
        queue: u16,
        memory: &SharedMemory,
        id: u32,
        len: u32,
    ) -> Result<(), DeviceError> {
        let q = self
            .queues
            .get_mut(usize::from(queue))
            .filter(|q| q.enabled)
            .ok_or(DeviceError::QueueNotReady { queue })?;
        let addresses = q.addresses.ok_or(DeviceError::QueueNotReady { queue })?;
        let size = usize::from(q.size);
        let used = memory.offset_of(addresses.used, 6 + 8 * size).ok_or(
            DeviceError::RingOutsideMemory {
                address: addresses.used,
            },
        )?;
        let slot = used + 4 + 8 * (usize::from(q.used_idx) % size);
        memory.device_write(slot, &id.to_le_bytes());
        memory.device_write(slot + 4, &len.to_le_bytes());
        q.used_idx = q.used_idx.wrapping_add(1);
        memory.device_write(used + 2, &q.used_idx.to_le_bytes());
        Ok(())
    }
}

impl Transport for MockDevice {
    fn kind(&self) -> TransportKind {
        self.kind
    }

    fn read_device_features(&mut self) -> u64 {
        match self.kind {
            TransportKind::Modern => self.device_features,
            TransportKind::Legacy => self.device_features & u64::from(u32::MAX),
        }
    }

    fn write_driver_features(&mut self, features: u64) {
        self.driver_features = Some(match self.kind {
            TransportKind::Modern => features,
            TransportKind::Legacy => features & u64::from(u32::MAX),
        });
    }

    fn status(&mut self) -> DeviceStatus {
        self.status_reads += 1;
        if self.stale_reads > 0 {
            if self.stale_reads != u32::MAX {
                self.stale_reads -= 1;
            }
            return DeviceStatus::from_bits_retain(self.stale_status);
        }
        DeviceStatus::from_bits_retain(self.status)
    }

    fn set_status(&mut self, status: DeviceStatus) {
        let mut value = status.bits();
        self.status_writes.push(value);
        if value == 0 {
            self.stale_status = self.status;
            self.stale_reads = self.reset_delay;
            for q in &mut self.queues {
                *q = MockQueue {
                    max_size: q.max_size,
                    ..MockQueue::default()
                };
            }
        }
        let offered_only = self.driver_features.unwrap_or(0) & !self.device_features == 0;
        if status.contains(DeviceStatus::FEATURES_OK) && !(self.accept_features && offered_only) {
            value &= !DeviceStatus::FEATURES_OK.bits();
        }
        self.status = value;
    }

    fn max_queue_size(&mut self, queue: u16) -> u16 {
        self.queues
            .get(usize::from(queue))
            .map_or(0, |q| q.max_size)
    }

    fn set_queue(&mut self, queue: u16, size: u16, addresses: QueueAddresses) -> Result<(), Error> {
        let kind = self.kind;
        let q = self.queue_mut(queue)?;
        if kind == TransportKind::Legacy && size != q.max_size {
            return Err(Error::LegacyQueueSizeMismatch {
                size,
                device: q.max_size,
            });
        }
        crate::queue::layout::check_size(size, q.max_size)?;
        q.size = size;
        q.addresses = Some(addresses);
        q.enabled = kind == TransportKind::Legacy;
        Ok(())
    }

    fn enable_queue(&mut self, queue: u16) -> Result<(), Error> {
        let q = self.queue_mut(queue)?;
        if q.addresses.is_none() {
            return Err(Error::QueueNotConfigured { queue });
        }
        q.enabled = true;
        Ok(())
    }

    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        if !self.queue_mut(queue)?.enabled {
            return Err(Error::QueueNotConfigured { queue });
        }
        self.notifications.push(queue);
        Ok(())
    }

    fn config_read8(&mut self, offset: u32) -> Result<u8, Error> {
        Ok(self.config_bytes::<1>(offset)?[0])
    }

    fn config_read16(&mut self, offset: u32) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.config_bytes(offset)?))
    }

    fn config_read32(&mut self, offset: u32) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.config_bytes(offset)?))
    }

    fn config_generation(&mut self) -> u32 {
        if self.unstable_generation {
            self.generation = self.generation.wrapping_add(1);
        }
        self.generation
    }
}
