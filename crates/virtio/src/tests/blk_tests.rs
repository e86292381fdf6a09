//! virtio-blk transfers, failures and the quiesce (virtio 1.2 §5.2.6, §2.1.2) against the mock block device.

use alloc::vec;
use alloc::vec::Vec;

use super::blk_rig::*;
use crate::blk::config::{VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SIZE_MAX};
use crate::blk::config::{VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX};
use crate::blk::request::{
    Limits, MAX_REQUEST_BYTES, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH,
    VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use crate::blk::{BlkDevice, DeviceState};
use crate::features::VIRTIO_F_VERSION_1;
use crate::transport::TransportKind;
use crate::Error;

#[test]
fn multi_block_read_lands_in_place() {
    let (mut blk, data) = modern();
    data.device_write(0, &[0xaa; 0x1000 + 64 * 512 + 0x1000]);
    blk.read(10, DATA_BASE + 0x1000, 64 * 512).unwrap();
    assert_eq!(data.device_bytes(0x1000, 64 * 512), pattern_range(10, 64));
    assert_eq!(
        data.device_bytes(0, 0x1000),
        vec![0xaa; 0x1000],
        "bytes before the buffer untouched"
    );
    assert_eq!(
        data.device_bytes(0x1000 + 64 * 512, 0x1000),
        vec![0xaa; 0x1000],
        "bytes after untouched"
    );
    let backend = &blk.transport().backend;
    assert_eq!(backend.requests.len(), 1, "64 blocks in one request");
    assert_eq!(
        (backend.requests[0].request_type, backend.requests[0].sector),
        (VIRTIO_BLK_T_IN, 10)
    );
    assert!(backend.violations.is_empty(), "{:?}", backend.violations);
}

#[test]
fn write_then_read_back() {
    let (mut blk, data) = modern();
    let payload: Vec<u8> = (0..16 * 512).map(|i| (i * 7 % 251) as u8).collect();
    data.device_write(0, &payload);
    blk.write(100, DATA_BASE, payload.len() as u64).unwrap();
    let disk = &blk.transport().backend.disk;
    assert_eq!(&disk[100 * 512..116 * 512], &payload[..]);
    assert_eq!(
        &disk[99 * 512..100 * 512],
        &pattern(99)[..],
        "neighbours untouched"
    );
    assert_eq!(&disk[116 * 512..117 * 512], &pattern(116)[..]);
    blk.read(100, DATA_BASE + 0x10_0000, payload.len() as u64)
        .unwrap();
    assert_eq!(data.device_bytes(0x10_0000, payload.len()), payload);
    let requests = &blk.transport().backend.requests;
    assert_eq!(requests[0].request_type, VIRTIO_BLK_T_OUT);
}

#[test]
fn seg_max_and_size_max_split_requests_and_segments() {
    let (mut blk, data) = start(
        TransportKind::Modern,
        MODERN | VIRTIO_BLK_F_SIZE_MAX,
        256,
        &config(Some(4), Some(4096)),
    );
    assert_eq!(
        *blk.limits(),
        Limits {
            max_segments: 4,
            max_segment_len: 4096,
            max_request_bytes: 16384
        }
    );
    blk.read(7, DATA_BASE, 64 * 1024).unwrap();
    assert_eq!(data.device_bytes(0, 64 * 1024), pattern_range(7, 128));
    let backend = &blk.transport().backend;
    assert!(backend.violations.is_empty(), "{:?}", backend.violations);
    let shape: Vec<(u64, Vec<u32>)> = backend
        .requests
        .iter()
        .map(|r| (r.sector, r.segments.clone()))
        .collect();
    assert_eq!(
        shape,
        (0..4)
            .map(|i| (7 + 32 * i, vec![4096; 4]))
            .collect::<Vec<_>>()
    );
}

#[test]
fn queue_size_bounds_the_segments() {
    // No seg_max: an 8-entry queue leaves 6 data descriptors; size_max 512 makes every block a segment.
    let (mut blk, data) = start(
        TransportKind::Modern,
        VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_SIZE_MAX,
        8,
        &config(None, Some(512)),
    );
    assert_eq!(blk.limits().max_segments, 6);
    blk.read(0, DATA_BASE, 20 * 512).unwrap();
    assert_eq!(data.device_bytes(0, 20 * 512), pattern_range(0, 20));
    let counts: Vec<usize> = blk
        .transport()
        .backend
        .requests
        .iter()
        .map(|r| r.segments.len())
        .collect();
    assert_eq!(counts, vec![6, 6, 6, 2]);
}

#[test]
fn large_transfer_is_cut_at_max_request_bytes() {
    let (mut blk, data) = modern();
    let len = 6 << 20;
    blk.read(1, DATA_BASE, len).unwrap();
    assert_eq!(
        data.device_bytes(0, len as usize),
        pattern_range(1, len / 512)
    );
    let requests = &blk.transport().backend.requests;
    let sectors: Vec<u64> = requests.iter().map(|r| r.sector).collect();
    assert_eq!(sectors, vec![1, 1 + MAX_REQUEST_BYTES / 512]);
    let total: u64 = requests
        .iter()
        .flat_map(|r| r.segments.iter())
        .map(|&s| u64::from(s))
        .sum();
    assert_eq!(total, len);
}

#[test]
fn read_only_device_refuses_writes_without_sending_them() {
    let (mut blk, data) = start(
        TransportKind::Modern,
        MODERN | VIRTIO_BLK_F_RO,
        256,
        &config(Some(254), None),
    );
    assert!(blk.media().read_only);
    assert_eq!(blk.write(0, DATA_BASE, 512), Err(Error::ReadOnly));
    assert!(blk.transport().backend.requests.is_empty());
    blk.read(5, DATA_BASE, 512).unwrap();
    assert_eq!(data.device_bytes(0, 512), pattern(5));
}

#[test]
fn error_statuses_fail_the_request_and_leave_the_device_usable() {
    let (mut blk, data) = modern();
    for status in [VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, 0x7f] {
        blk.transport_mut().backend.fail_with = Some(status);
        assert_eq!(
            blk.read(3, DATA_BASE, 1024),
            Err(Error::RequestFailed {
                request_type: VIRTIO_BLK_T_IN,
                sector: 3,
                status
            })
        );
        assert_eq!(blk.state(), DeviceState::Ready);
    }
    blk.transport_mut().backend.fail_with = None;
    blk.read(3, DATA_BASE, 1024).unwrap();
    assert_eq!(data.device_bytes(0, 1024), pattern_range(3, 2));
}

#[test]
fn timeout_resets_the_device_and_recovers_it() {
    let (mut blk, data) = modern();
    blk.set_timeout_us(1000);
    blk.transport_mut().respond = false;
    let writes_before = blk.transport().device.status_writes.len();
    let result = blk.read(0, DATA_BASE, 512);
    assert!(
        matches!(result, Err(Error::RequestTimeout { waited_us, .. }) if waited_us >= 1000),
        "{result:?}"
    );
    let writes = &blk.transport().device.status_writes[writes_before..];
    assert_eq!(
        writes.first(),
        Some(&0),
        "the device is reset first: {writes:?}"
    );
    assert_eq!(
        writes.last(),
        Some(&0x0f),
        "then initialised again: {writes:?}"
    );
    assert_eq!(blk.state(), DeviceState::Ready);
    blk.transport_mut().respond = true;
    blk.read(9, DATA_BASE, 512).unwrap();
    assert_eq!(data.device_bytes(0, 512), pattern(9));
}

#[test]
fn unacknowledged_reset_makes_the_device_unresponsive() {
    let (mut blk, _) = modern();
    blk.set_timeout_us(10);
    blk.transport_mut().respond = false;
    blk.transport_mut().device.reset_delay = u32::MAX;
    assert!(matches!(
        blk.read(0, DATA_BASE, 512),
        Err(Error::RequestTimeout { .. })
    ));
    assert_eq!(blk.state(), DeviceState::Unresponsive);
    assert_eq!(blk.read(0, DATA_BASE, 512), Err(Error::DeviceNotReady));
}

#[test]
fn quiesce_touches_only_device_status() {
    let (mock, [queue, request, data]) =
        device(TransportKind::Modern, MODERN, 256, &config(Some(254), None));
    let clock = StepClock { now: 0, step: 1 };
    let mut blk = BlkDevice::new(mock, queue.clone(), request.clone(), clock).unwrap();
    blk.read(0, DATA_BASE, 4096).unwrap();
    queue.clear_events();
    request.clear_events();
    let notifications = blk.transport().device.notifications.len();
    let writes = blk.transport().device.status_writes.len();
    let config_reads = blk.transport().device.status_reads;
    blk.quiesce().unwrap();
    let device = &blk.transport().device;
    assert_eq!(&device.status_writes[writes..], &[0]);
    assert!(
        device.status_reads > config_reads,
        "the reset is waited for"
    );
    assert_eq!(device.notifications.len(), notifications);
    assert!(queue.events().is_empty() && request.events().is_empty());
    assert_eq!(blk.state(), DeviceState::Stopped);
    assert_eq!(blk.read(0, DATA_BASE, 512), Err(Error::DeviceNotReady));
    assert_eq!(data.device_bytes(0, 4096), pattern_range(0, 8));
}

#[test]
fn range_and_length_errors() {
    let (mut blk, _) = modern();
    let blocks = blk.media().blocks;
    assert_eq!(blocks, CAPACITY);
    assert_eq!(
        blk.read(blocks, DATA_BASE, 512),
        Err(Error::BlockOutOfRange {
            lba: blocks,
            blocks: 1,
            device_blocks: blocks
        })
    );
    assert_eq!(
        blk.read(blocks - 1, DATA_BASE, 1024),
        Err(Error::BlockOutOfRange {
            lba: blocks - 1,
            blocks: 2,
            device_blocks: blocks
        })
    );
    assert!(matches!(
        blk.write(u64::MAX, DATA_BASE, 512),
        Err(Error::BlockOutOfRange { .. })
    ));
    assert_eq!(
        blk.read(0, DATA_BASE, 100),
        Err(Error::LengthNotBlockMultiple {
            len: 100,
            block_size: 512
        })
    );
    assert_eq!(
        blk.read(u64::MAX, DATA_BASE, 0),
        Ok(()),
        "zero length is valid and sends nothing"
    );
    assert!(blk.transport().backend.requests.is_empty());
    blk.read(blocks - 1, DATA_BASE, 512).unwrap();
}

#[test]
fn flush_is_sent_only_when_negotiated() {
    let (mut blk, _) = modern();
    blk.flush().unwrap();
    let requests = &blk.transport().backend.requests;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (
            requests[0].request_type,
            requests[0].sector,
            requests[0].segments.len()
        ),
        (VIRTIO_BLK_T_FLUSH, 0, 0)
    );
    let (mut blk, _) = start(
        TransportKind::Modern,
        VIRTIO_F_VERSION_1,
        256,
        &config(None, None),
    );
    blk.flush().unwrap();
    assert!(blk.transport().backend.requests.is_empty());
}

#[test]
fn block_size_scales_sectors() {
    let mut config = config(Some(254), None);
    config.blk_size = Some(4096);
    let (mut blk, data) = start(
        TransportKind::Modern,
        MODERN | VIRTIO_BLK_F_BLK_SIZE,
        256,
        &config,
    );
    assert_eq!(
        (blk.media().block_size, blk.media().blocks),
        (4096, CAPACITY / 8)
    );
    assert_eq!(
        blk.read(0, DATA_BASE, 512),
        Err(Error::LengthNotBlockMultiple {
            len: 512,
            block_size: 4096
        })
    );
    blk.read(3, DATA_BASE, 2 * 4096).unwrap();
    assert_eq!(blk.transport().backend.requests[0].sector, 24);
    assert_eq!(data.device_bytes(0, 8192), pattern_range(24, 16));
}

#[test]
fn legacy_device_reads_and_writes() {
    let (mut blk, data) = start(
        TransportKind::Legacy,
        VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX,
        256,
        &config(Some(126), None),
    );
    assert_eq!(blk.features(), VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX);
    assert_eq!(
        blk.transport().device.status_writes.last(),
        Some(&0x07),
        "no FEATURES_OK on legacy"
    );
    blk.read(40, DATA_BASE, 1 << 20).unwrap();
    assert_eq!(data.device_bytes(0, 1 << 20), pattern_range(40, 2048));
    data.device_write(0, &[0x5a; 1024]);
    blk.write(1, DATA_BASE, 1024).unwrap();
    assert_eq!(&blk.transport().backend.disk[512..1536], &[0x5a; 1024][..]);
    assert!(blk.transport().backend.violations.is_empty());
}

#[test]
fn reinitialize_is_a_working_reset() {
    let (mut blk, data) = modern();
    blk.read(0, DATA_BASE, 512).unwrap();
    blk.reinitialize().unwrap();
    assert_eq!(blk.state(), DeviceState::Ready);
    blk.read(77, DATA_BASE, 512).unwrap();
    assert_eq!(data.device_bytes(0, 512), pattern(77));
    assert!(blk.transport().backend.violations.is_empty());
}
