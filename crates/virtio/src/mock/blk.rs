//! [`MockBlk`]: a virtio-blk device in memory (virtio 1.2 §5.2): a [`MockDevice`] for the registers, a disk image,
//! and the device side of requests. On every notification of queue 0 it consumes the new chains like a device
//! does: parses the header, checks the chain's shape against the spec and its own `seg_max`/`size_max`, copies
//! between the disk and the buffers (found by device address in its DMA regions), writes the status byte and
//! returns the chain in the used ring.
//!
//! Knobs for failure tests: `respond = false` (requests are never completed), `backend.fail_with` (complete
//! with that status instead of performing the request). Everything the driver sent is in `backend.requests`;
//! every rule the driver broke is in `backend.violations` (a test asserts it is empty).

use alloc::vec;
use alloc::vec::Vec;

use super::device::{Descriptor, MockDevice};
use super::memory::SharedMemory;
use crate::blk::config::{self as cfg, BlkConfig, SECTOR_SIZE};
use crate::blk::request::{
    HEADER_LEN, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH,
    VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use crate::queue::split::VIRTQ_DESC_F_WRITE;
use crate::status::DeviceStatus;
use crate::transport::{QueueAddresses, Transport, TransportKind};
use crate::Error;

/// One request as the mock device received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkRequest {
    /// Header `type`.
    pub request_type: u32,
    /// Header `sector`.
    pub sector: u64,
    /// Lengths of the data segments, in order.
    pub segments: Vec<u32>,
    /// Status the device answered.
    pub status: u8,
}

/// A rule of §5.2.6 (or of the device's advertised limits) the driver broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlkViolation {
    /// The chain has fewer than two descriptors, or its header descriptor is not 16 readable bytes.
    BadHeader,
    /// The last descriptor is not one device-writable byte.
    BadStatus,
    /// A data descriptor's direction does not match the request type.
    WrongDirection,
    /// More data segments than `seg_max`.
    TooManySegments(usize),
    /// A data segment longer than `size_max`.
    SegmentTooLong(u32),
    /// The data length is not a whole number of sectors.
    PartialSector(u64),
    /// A buffer lies outside every DMA region.
    BufferOutsideMemory(u64),
}

/// The device side of a [`MockBlk`]: the disk and what happened to it.
pub struct BlkBackend {
    /// The disk's bytes (a multiple of 512).
    pub disk: Vec<u8>,
    /// Memory the device can reach: the queue memory, the request area and the data buffers.
    pub regions: Vec<SharedMemory>,
    /// Complete requests with this status instead of performing them.
    pub fail_with: Option<u8>,
    /// Every request received.
    pub requests: Vec<BlkRequest>,
    /// Every broken rule seen.
    pub violations: Vec<BlkViolation>,
    /// The medium is read-only (the device offers `VIRTIO_BLK_F_RO`): writes fail with `IOERR`.
    pub read_only: bool,
    seg_max: Option<u32>,
    size_max: Option<u32>,
}

/// A fake virtio-blk device (module notes).
pub struct MockBlk {
    /// Registers, features and queue state.
    pub device: MockDevice,
    /// The disk and the record of requests.
    pub backend: BlkBackend,
    /// Whether notified requests are completed at all.
    pub respond: bool,
}

/// Encodes `config` as the device-specific configuration bytes of §5.2.4 (36 bytes).
pub fn encode_config(config: &BlkConfig) -> Vec<u8> {
    let mut bytes = vec![0u8; 36];
    let mut put = |offset: u32, value: &[u8]| {
        let at = offset as usize;
        bytes[at..at + value.len()].copy_from_slice(value);
    };
    put(cfg::CAPACITY, &config.capacity.to_le_bytes());
    put(cfg::SIZE_MAX, &config.size_max.unwrap_or(0).to_le_bytes());
    put(cfg::SEG_MAX, &config.seg_max.unwrap_or(0).to_le_bytes());
    put(cfg::BLK_SIZE, &config.blk_size.unwrap_or(0).to_le_bytes());
    let topology = config.topology.unwrap_or_default();
    put(cfg::PHYSICAL_BLOCK_EXP, &[topology.physical_block_exp]);
    put(cfg::ALIGNMENT_OFFSET, &[topology.alignment_offset]);
    put(cfg::MIN_IO_SIZE, &topology.min_io_size.to_le_bytes());
    put(cfg::OPT_IO_SIZE, &topology.opt_io_size.to_le_bytes());
    put(
        cfg::WRITEBACK,
        &[u8::from(config.writeback.unwrap_or(false))],
    );
    bytes
}

impl MockBlk {
    /// A `kind` device offering `features` with one `queue_max`-entry queue, configuration `config` (its
    /// `capacity` sizes the zeroed disk; `seg_max`/`size_max` are enforced when set) and DMA `regions`.
    pub fn new(
        kind: TransportKind,
        features: u64,
        queue_max: u16,
        config: &BlkConfig,
        regions: Vec<SharedMemory>,
    ) -> Self {
        let mut device = MockDevice::new(kind, features, &[queue_max]);
        device.config = encode_config(config);
        Self {
            device,
            backend: BlkBackend {
                disk: vec![0; (config.capacity * u64::from(SECTOR_SIZE)) as usize],
                regions,
                fail_with: None,
                requests: Vec::new(),
                violations: Vec::new(),
                read_only: features & cfg::VIRTIO_BLK_F_RO != 0,
                seg_max: config.seg_max,
                size_max: config.size_max,
            },
            respond: true,
        }
    }

    /// Consumes queue 0's new chains (module notes).
    fn serve(&mut self) {
        let Some(addresses) = self.device.queues[0].addresses else {
            return;
        };
        let Some((ring, _)) = self.backend.region_of(addresses.desc, 16) else {
            self.backend
                .violations
                .push(BlkViolation::BufferOutsideMemory(addresses.desc));
            return;
        };
        let ring = ring.clone();
        let backend = &mut self.backend;
        if let Err(error) = self
            .device
            .process(0, &ring, |chain| backend.perform(chain))
        {
            panic!("mock virtio-blk: the driver's queue is malformed: {error:?}");
        }
    }
}

impl BlkBackend {
    fn region_of(&self, addr: u64, len: usize) -> Option<(&SharedMemory, usize)> {
        self.regions
            .iter()
            .find_map(|r| r.offset_of(addr, len).map(|offset| (r, offset)))
    }

    /// Performs one request; returns the bytes written into device-writable buffers.
    fn perform(&mut self, chain: &[Descriptor]) -> u32 {
        let writable = |d: &Descriptor| d.flags & VIRTQ_DESC_F_WRITE != 0;
        let (Some(header), Some(status)) = (chain.first(), chain.last()) else {
            self.violations.push(BlkViolation::BadHeader);
            return 0;
        };
        if chain.len() < 2 || header.len as usize != HEADER_LEN || writable(header) {
            self.violations.push(BlkViolation::BadHeader);
            return 0;
        }
        if status.len != 1 || !writable(status) {
            self.violations.push(BlkViolation::BadStatus);
            return 0;
        }
        let Some((memory, at)) = self.region_of(header.addr, HEADER_LEN) else {
            self.violations
                .push(BlkViolation::BufferOutsideMemory(header.addr));
            return 0;
        };
        let request_type = memory.device_read32(at);
        let sector = memory.device_read64(at + 8);
        let data = &chain[1..chain.len() - 1];
        let outcome = self.check_and_copy(request_type, sector, data);
        let code = self.fail_with.unwrap_or(outcome);
        let Some((memory, at)) = self.region_of(status.addr, 1) else {
            self.violations
                .push(BlkViolation::BufferOutsideMemory(status.addr));
            return 0;
        };
        memory.device_write(at, &[code]);
        self.requests.push(BlkRequest {
            request_type,
            sector,
            segments: data.iter().map(|d| d.len).collect(),
            status: code,
        });
        let read_bytes: u32 = if request_type == VIRTIO_BLK_T_IN && code == VIRTIO_BLK_S_OK {
            data.iter().map(|d| d.len).sum()
        } else {
            0
        };
        read_bytes + 1
    }

    /// Validates a request's data segments and, when `fail_with` is not set, performs it. Returns its status.
    fn check_and_copy(&mut self, request_type: u32, sector: u64, data: &[Descriptor]) -> u8 {
        let device_writes = request_type == VIRTIO_BLK_T_IN;
        if data
            .iter()
            .any(|d| (d.flags & VIRTQ_DESC_F_WRITE != 0) != device_writes)
        {
            self.violations.push(BlkViolation::WrongDirection);
            return VIRTIO_BLK_S_IOERR;
        }
        if let Some(max) = self.seg_max {
            if data.len() as u64 > u64::from(max) {
                self.violations
                    .push(BlkViolation::TooManySegments(data.len()));
            }
        }
        if let Some(max) = self.size_max {
            for d in data.iter().filter(|d| d.len > max) {
                self.violations.push(BlkViolation::SegmentTooLong(d.len));
            }
        }
        let total: u64 = data.iter().map(|d| u64::from(d.len)).sum();
        if !total.is_multiple_of(u64::from(SECTOR_SIZE)) {
            self.violations.push(BlkViolation::PartialSector(total));
            return VIRTIO_BLK_S_IOERR;
        }
        match request_type {
            VIRTIO_BLK_T_FLUSH => return VIRTIO_BLK_S_OK,
            VIRTIO_BLK_T_IN | VIRTIO_BLK_T_OUT => {}
            _ => return VIRTIO_BLK_S_UNSUPP,
        }
        let start = sector.saturating_mul(u64::from(SECTOR_SIZE));
        if start.saturating_add(total) > self.disk.len() as u64 {
            return VIRTIO_BLK_S_IOERR;
        }
        if request_type == VIRTIO_BLK_T_OUT && self.read_only {
            return VIRTIO_BLK_S_IOERR;
        }
        if self.fail_with.is_some() {
            return VIRTIO_BLK_S_OK;
        }
        let mut position = start as usize;
        for d in data {
            let len = d.len as usize;
            let Some((memory, at)) = self.region_of(d.addr, len) else {
                self.violations
                    .push(BlkViolation::BufferOutsideMemory(d.addr));
                return VIRTIO_BLK_S_IOERR;
            };
            if device_writes {
                memory.device_write(at, &self.disk[position..position + len]);
            } else {
                let bytes = memory.device_bytes(at, len);
                self.disk[position..position + len].copy_from_slice(&bytes);
            }
            position += len;
        }
        VIRTIO_BLK_S_OK
    }
}

impl Transport for MockBlk {
    fn kind(&self) -> TransportKind {
        self.device.kind()
    }
    fn read_device_features(&mut self) -> u64 {
        self.device.read_device_features()
    }
    fn write_driver_features(&mut self, features: u64) {
        self.device.write_driver_features(features)
    }
    fn status(&mut self) -> DeviceStatus {
        self.device.status()
    }
    fn set_status(&mut self, status: DeviceStatus) {
        self.device.set_status(status)
    }
    fn max_queue_size(&mut self, queue: u16) -> u16 {
        self.device.max_queue_size(queue)
    }
    fn set_queue(&mut self, queue: u16, size: u16, addresses: QueueAddresses) -> Result<(), Error> {
        self.device.set_queue(queue, size, addresses)
    }
    fn enable_queue(&mut self, queue: u16) -> Result<(), Error> {
        self.device.enable_queue(queue)
    }
    /// Records the notification and, when `respond` is set and the device is `DRIVER_OK`, serves queue 0.
    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        self.device.notify(queue)?;
        let live = self.device.status_writes.last().copied().unwrap_or(0)
            & DeviceStatus::DRIVER_OK.bits()
            != 0;
        if self.respond && queue == 0 && live {
            self.serve();
        }
        Ok(())
    }
    fn config_read8(&mut self, offset: u32) -> Result<u8, Error> {
        self.device.config_read8(offset)
    }
    fn config_read16(&mut self, offset: u32) -> Result<u16, Error> {
        self.device.config_read16(offset)
    }
    fn config_read32(&mut self, offset: u32) -> Result<u32, Error> {
        self.device.config_read32(offset)
    }
    fn config_generation(&mut self) -> u32 {
        self.device.config_generation()
    }
}
