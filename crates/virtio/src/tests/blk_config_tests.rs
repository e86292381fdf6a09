//! virtio-blk configuration, negotiation, limits and initialisation (virtio 1.2 §5.2.3–§5.2.5, §3.1.1) against the
//! mock block device.

use alloc::vec;
use alloc::vec::Vec;

use super::blk_rig::*;
use crate::blk::config::{
    BlkConfig, Media, Topology, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_CONFIG_WCE,
    VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_GEOMETRY, VIRTIO_BLK_F_MQ,
    VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_TOPOLOGY,
};
use crate::blk::request::{Limits, MAX_REQUEST_BYTES};
use crate::blk::{BlkDevice, DeviceState};
use crate::features::{
    VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
};
use crate::mock::{encode_config, MockDevice, SharedMemory};
use crate::transport::TransportKind;
use crate::Error;

#[test]
fn config_fields_are_read_only_when_their_feature_is_negotiated() {
    let mut dev = MockDevice::new(TransportKind::Modern, 0, &[16]);
    let full = BlkConfig {
        capacity: 0x1_2345_6789,
        size_max: Some(65536),
        seg_max: Some(126),
        blk_size: Some(4096),
        topology: Some(Topology {
            physical_block_exp: 3,
            alignment_offset: 1,
            min_io_size: 8,
            opt_io_size: 256,
        }),
        writeback: Some(true),
    };
    dev.config = encode_config(&full);
    assert_eq!(
        BlkConfig::read(
            &mut dev,
            VIRTIO_BLK_F_SIZE_MAX
                | VIRTIO_BLK_F_SEG_MAX
                | VIRTIO_BLK_F_BLK_SIZE
                | VIRTIO_BLK_F_TOPOLOGY
                | VIRTIO_BLK_F_CONFIG_WCE
        ),
        Ok(full)
    );
    let bare = BlkConfig::read(&mut dev, VIRTIO_BLK_F_SEG_MAX).unwrap();
    assert_eq!(
        bare,
        BlkConfig {
            capacity: 0x1_2345_6789,
            seg_max: Some(126),
            ..BlkConfig::default()
        }
    );
    dev.unstable_generation = true;
    assert!(matches!(
        BlkConfig::read(&mut dev, 0),
        Err(Error::ConfigUnstable { .. })
    ));
}

#[test]
fn media_follows_block_size_topology_and_cache_mode() {
    let mut config = BlkConfig {
        capacity: 1000,
        blk_size: Some(4096),
        topology: Some(Topology {
            physical_block_exp: 2,
            alignment_offset: 3,
            min_io_size: 1,
            opt_io_size: 64,
        }),
        writeback: Some(false),
        ..BlkConfig::default()
    };
    let media = Media::new(
        &config,
        VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_CONFIG_WCE | VIRTIO_BLK_F_RO,
    );
    assert_eq!(media.block_size, 4096);
    assert_eq!(
        media.blocks, 125,
        "1000 sectors of 512 = 125 blocks of 4096"
    );
    assert_eq!(media.sectors_per_block(), 8);
    assert!(media.read_only && media.flush && !media.write_cache);
    assert_eq!(
        (
            media.lowest_aligned_lba,
            media.logical_per_physical,
            media.optimal_transfer_blocks
        ),
        (3, 4, 64)
    );
    // FLUSH without CONFIG_WCE means a writeback device; an odd blk_size falls back to 512.
    config.writeback = None;
    config.blk_size = Some(1000);
    let media = Media::new(&config, VIRTIO_BLK_F_FLUSH);
    assert!(media.write_cache && !media.read_only);
    assert_eq!((media.block_size, media.blocks), (512, 1000));
}

#[test]
fn negotiation_takes_the_blk_features_and_access_platform_only() {
    let offered = VIRTIO_F_VERSION_1
        | VIRTIO_F_ACCESS_PLATFORM
        | VIRTIO_F_INDIRECT_DESC
        | VIRTIO_F_EVENT_IDX
        | VIRTIO_BLK_F_RO
        | VIRTIO_BLK_F_BLK_SIZE
        | VIRTIO_BLK_F_FLUSH
        | VIRTIO_BLK_F_SEG_MAX
        | VIRTIO_BLK_F_SIZE_MAX
        | VIRTIO_BLK_F_TOPOLOGY
        | VIRTIO_BLK_F_GEOMETRY
        | VIRTIO_BLK_F_MQ
        | VIRTIO_BLK_F_DISCARD;
    let mut config = config(Some(254), Some(1 << 20));
    config.blk_size = Some(512);
    let (blk, _) = start(TransportKind::Modern, offered, 256, &config);
    let expected = offered
        & !(VIRTIO_F_INDIRECT_DESC
            | VIRTIO_F_EVENT_IDX
            | VIRTIO_BLK_F_GEOMETRY
            | VIRTIO_BLK_F_MQ
            | VIRTIO_BLK_F_DISCARD);
    assert_eq!(blk.features(), expected);
    assert_eq!(blk.transport().device.driver_features, Some(expected));
    assert_eq!(blk.state(), DeviceState::Ready);
}

#[test]
fn failed_initialisation_leaves_the_device_reset() {
    let clock = || StepClock { now: 0, step: 1 };
    // FEATURES_OK refused: FAILED is reported, then the device is reset so it forgets the queue.
    let (mut mock, [queue, request, _]) =
        device(TransportKind::Modern, MODERN, 256, &config(None, None));
    mock.device.accept_features = false;
    let result = BlkDevice::new(&mut mock, queue, request, clock());
    assert!(matches!(result, Err(Error::FeaturesNotAccepted { .. })));
    let writes = &mock.device.status_writes;
    assert_eq!(writes.last(), Some(&0), "{writes:?}");
    assert_ne!(
        writes[writes.len() - 2] & 0x80,
        0,
        "FAILED before the reset: {writes:?}"
    );

    let (mut mock, [queue, request, _]) = device(
        TransportKind::Modern,
        VIRTIO_BLK_F_FLUSH,
        256,
        &config(None, None),
    );
    let result = BlkDevice::new(&mut mock, queue, request, clock());
    assert!(matches!(result, Err(Error::Version1NotOffered { .. })));
    assert_eq!(mock.device.status_writes.last(), Some(&0));

    let (mut mock, [queue, _, _]) = device(TransportKind::Modern, MODERN, 256, &config(None, None));
    let tiny = SharedMemory::new(REQUEST_BASE, 8);
    let result = BlkDevice::new(&mut mock, queue, tiny, clock());
    assert!(matches!(
        result,
        Err(Error::RequestAreaTooSmall {
            needed: 17,
            available: 8
        })
    ));

    let (mut mock, [queue, request, _]) =
        device(TransportKind::Modern, MODERN, 2, &config(None, None));
    let result = BlkDevice::new(&mut mock, queue, request, clock());
    assert!(matches!(
        result,
        Err(Error::InvalidQueueSize { size: 2, max: 2 })
    ));
    assert_eq!(mock.device.status_writes.last(), Some(&0));
}

#[test]
fn limits_and_their_iterators() {
    let limits = Limits::new(256, Some(3), Some(1000), 512);
    assert_eq!(
        limits.max_request_bytes, 2560,
        "3 x 1000 bytes rounded down to whole blocks"
    );
    let requests: Vec<_> = limits.requests(6000).collect();
    assert_eq!(requests, vec![0..2560, 2560..5120, 5120..6000]);
    let segments: Vec<_> = limits.segments(0x1000, 2560).collect();
    assert_eq!(
        segments,
        vec![(0x1000, 1000), (0x13e8, 1000), (0x17d0, 560)]
    );
    assert_eq!(
        Limits::new(256, Some(1), Some(100), 512).max_request_bytes,
        0
    );
    assert_eq!(
        Limits::new(256, None, None, 512).max_request_bytes,
        MAX_REQUEST_BYTES
    );
    // A device whose limits leave no room for one block is refused.
    let (mut mock, [queue, request, _]) = device(
        TransportKind::Modern,
        MODERN | VIRTIO_BLK_F_SIZE_MAX,
        256,
        &config(Some(1), Some(256)),
    );
    let result = BlkDevice::new(&mut mock, queue, request, StepClock { now: 0, step: 1 });
    assert!(matches!(
        result,
        Err(Error::TransferLimitsTooSmall {
            max_request_bytes: 256,
            block_size: 512
        })
    ));
}
