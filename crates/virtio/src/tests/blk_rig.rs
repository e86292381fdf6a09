//! The rig of the virtio-blk tests: a patterned mock disk, the memories, a stepping clock, a started driver.

use alloc::vec::Vec;

use crate::blk::config::{BlkConfig, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX};
use crate::blk::BlkDevice;
use crate::clock::Clock;
use crate::features::VIRTIO_F_VERSION_1;
use crate::mock::{MockBlk, SharedMemory};
use crate::transport::TransportKind;

pub const QUEUE_BASE: u64 = 0x10_0000;
pub const REQUEST_BASE: u64 = 0x20_0000;
pub const DATA_BASE: u64 = 0x100_0000;
pub const DATA_LEN: usize = 8 << 20;
/// 16 MiB disk.
pub const CAPACITY: u64 = 32 * 1024;
pub const MODERN: u64 = VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX;

/// Advances by `step` microseconds on every read.
pub struct StepClock {
    pub now: u64,
    pub step: u64,
}

impl Clock for StepClock {
    fn now_us(&mut self) -> u64 {
        self.now += self.step;
        self.now
    }
}

pub type Blk = BlkDevice<MockBlk, SharedMemory, StepClock>;

/// Sector `sector` of the test disk: 64 little-endian words `sector << 8 | i`.
pub fn pattern(sector: u64) -> Vec<u8> {
    (0..64u64)
        .flat_map(|i| ((sector << 8) | i).to_le_bytes())
        .collect()
}

pub fn pattern_range(first: u64, sectors: u64) -> Vec<u8> {
    (first..first + sectors).flat_map(pattern).collect()
}

pub fn config(seg_max: Option<u32>, size_max: Option<u32>) -> BlkConfig {
    BlkConfig {
        capacity: CAPACITY,
        seg_max,
        size_max,
        ..BlkConfig::default()
    }
}

/// A mock device of `kind` with `features`, `config` and a patterned disk, and the memories, before the driver.
pub fn device(
    kind: TransportKind,
    features: u64,
    queue_max: u16,
    config: &BlkConfig,
) -> (MockBlk, [SharedMemory; 3]) {
    let memories = [
        SharedMemory::new(QUEUE_BASE, 64 * 1024),
        SharedMemory::new(REQUEST_BASE, 64),
        SharedMemory::new(DATA_BASE, DATA_LEN),
    ];
    let mut mock = MockBlk::new(kind, features, queue_max, config, memories.to_vec());
    mock.backend.disk = pattern_range(0, config.capacity);
    (mock, memories)
}

pub fn start(
    kind: TransportKind,
    features: u64,
    queue_max: u16,
    config: &BlkConfig,
) -> (Blk, SharedMemory) {
    let (mock, [queue, request, data]) = device(kind, features, queue_max, config);
    let clock = StepClock { now: 0, step: 1 };
    let blk = BlkDevice::new(mock, queue, request, clock).expect("initialisation");
    (blk, data)
}

pub fn modern() -> (Blk, SharedMemory) {
    start(TransportKind::Modern, MODERN, 256, &config(Some(254), None))
}
