//! Status, negotiation and reset rules (virtio 1.2 §2.1, §2.2, §3.1.1), driven against the mock device.

use alloc::vec;
use alloc::vec::Vec;

use crate::features::{
    VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
};
use crate::mock::MockDevice;
use crate::status::{initialize, reset, reset_with_limit, DeviceStatus};
use crate::transport::{config_read64, Transport, TransportKind};
use crate::Error;

const ACK: u8 = 1;
const DRIVER: u8 = 2;
const DRIVER_OK: u8 = 4;
const FEATURES_OK: u8 = 8;
const FAILED: u8 = 0x80;

/// A device-specific feature (virtio-blk `VIRTIO_BLK_F_BLK_SIZE`, bit 6) and one the driver does not support.
const BLK_SIZE: u64 = 1 << 6;
const FLUSH: u64 = 1 << 9;

#[test]
fn init_sequence_sets_status_bits_in_order() {
    let mut dev = MockDevice::new(
        TransportKind::Modern,
        VIRTIO_F_VERSION_1 | BLK_SIZE | FLUSH,
        &[256],
    );
    let mut seen_in_callback = Vec::new();
    let features = initialize(&mut dev, BLK_SIZE, |t, negotiated| {
        seen_in_callback.push((t.status().bits(), negotiated));
        Ok(())
    })
    .expect("init");
    assert_eq!(features, VIRTIO_F_VERSION_1 | BLK_SIZE);
    assert_eq!(dev.driver_features, Some(VIRTIO_F_VERSION_1 | BLK_SIZE));
    assert_eq!(
        dev.status_writes,
        vec![
            0,
            ACK,
            ACK | DRIVER,
            ACK | DRIVER | FEATURES_OK,
            ACK | DRIVER | FEATURES_OK | DRIVER_OK
        ]
    );
    // Queues are set up after FEATURES_OK was accepted and before DRIVER_OK.
    assert_eq!(
        seen_in_callback,
        vec![(ACK | DRIVER | FEATURES_OK, features)]
    );
}

#[test]
fn legacy_init_skips_features_ok_and_keeps_32_bits() {
    let mut dev = MockDevice::new(TransportKind::Legacy, BLK_SIZE | (1 << 31), &[256]);
    let features = initialize(&mut dev, u64::MAX, |_, _| Ok(())).expect("init");
    assert_eq!(features, BLK_SIZE);
    assert_eq!(
        dev.status_writes,
        vec![0, ACK, ACK | DRIVER, ACK | DRIVER | DRIVER_OK]
    );
}

#[test]
fn negotiation_requires_version_1_on_modern() {
    let mut dev = MockDevice::new(TransportKind::Modern, BLK_SIZE, &[256]);
    let mut called = false;
    let result = initialize(&mut dev, BLK_SIZE, |_, _| {
        called = true;
        Ok(())
    });
    assert_eq!(
        result,
        Err(Error::Version1NotOffered {
            device_features: BLK_SIZE
        })
    );
    assert!(!called);
    assert_eq!(
        dev.driver_features, None,
        "no features written after a failed negotiation"
    );
    assert_eq!(dev.status_writes.last(), Some(&(ACK | DRIVER | FAILED)));
}

#[test]
fn negotiation_accepts_access_platform_and_drops_ring_features() {
    let offered = VIRTIO_F_VERSION_1
        | VIRTIO_F_ACCESS_PLATFORM
        | VIRTIO_F_EVENT_IDX
        | VIRTIO_F_INDIRECT_DESC
        | BLK_SIZE;
    let mut dev = MockDevice::new(TransportKind::Modern, offered, &[256]);
    let features = initialize(&mut dev, u64::MAX, |_, _| Ok(())).expect("init");
    assert_eq!(
        features,
        VIRTIO_F_VERSION_1 | VIRTIO_F_ACCESS_PLATFORM | BLK_SIZE
    );
}

#[test]
fn features_ok_not_accepted_sets_failed() {
    let mut dev = MockDevice::new(TransportKind::Modern, VIRTIO_F_VERSION_1 | BLK_SIZE, &[256]);
    dev.accept_features = false;
    let mut called = false;
    let result = initialize(&mut dev, BLK_SIZE, |_, _| {
        called = true;
        Ok(())
    });
    assert_eq!(
        result,
        Err(Error::FeaturesNotAccepted {
            driver_features: VIRTIO_F_VERSION_1 | BLK_SIZE,
            status: ACK | DRIVER,
        })
    );
    assert!(
        !called,
        "queues must not be set up when FEATURES_OK was refused"
    );
    assert_eq!(dev.status_writes.last(), Some(&(ACK | DRIVER | FAILED)));
    assert!(!dev.status_writes.iter().any(|s| s & DRIVER_OK != 0));
}

#[test]
fn queue_setup_error_sets_failed_and_is_returned() {
    let mut dev = MockDevice::new(TransportKind::Modern, VIRTIO_F_VERSION_1, &[256]);
    let result = initialize(&mut dev, 0, |_, _| {
        Err(Error::QueueUnavailable { queue: 3 })
    });
    assert_eq!(result, Err(Error::QueueUnavailable { queue: 3 }));
    assert_eq!(
        dev.status_writes.last(),
        Some(&(ACK | DRIVER | FEATURES_OK | FAILED))
    );
}

#[test]
fn reset_writes_zero_and_waits() {
    let mut dev = MockDevice::new(TransportKind::Modern, VIRTIO_F_VERSION_1, &[256]);
    dev.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::DRIVER_OK);
    dev.status_writes.clear();
    dev.reset_delay = 5;
    reset(&mut dev).expect("reset");
    assert_eq!(
        dev.status_writes,
        vec![0],
        "the quiesce writes status 0 and nothing else"
    );
    assert_eq!(
        dev.status_reads, 6,
        "five stale reads, then the read that saw 0"
    );
    assert!(dev.status().is_empty());

    dev.set_status(DeviceStatus::ACKNOWLEDGE);
    dev.reset_delay = u32::MAX;
    dev.status_reads = 0;
    assert_eq!(
        reset_with_limit(&mut dev, 100),
        Err(Error::ResetTimeout {
            status: ACK,
            polls: 100
        })
    );
    assert_eq!(dev.status_reads, 100, "the wait is bounded");
}

#[test]
fn reset_timeout_during_init_sets_failed() {
    let mut dev = MockDevice::new(TransportKind::Modern, VIRTIO_F_VERSION_1, &[256]);
    dev.set_status(DeviceStatus::ACKNOWLEDGE);
    dev.reset_delay = u32::MAX;
    dev.status_writes.clear();
    let result = initialize(&mut dev, 0, |_, _| Ok(()));
    assert!(
        matches!(result, Err(Error::ResetTimeout { status: ACK, .. })),
        "{result:?}"
    );
    assert_eq!(dev.status_writes, vec![0, FAILED]);
}

#[test]
fn config_read64_rereads_until_generation_is_stable() {
    let mut dev = MockDevice::new(TransportKind::Modern, VIRTIO_F_VERSION_1, &[256]);
    dev.config = 0x1122_3344_5566_7788u64.to_le_bytes().to_vec();
    assert_eq!(config_read64(&mut dev, 0), Ok(0x1122_3344_5566_7788));
    assert_eq!(
        config_read64(&mut dev, 4),
        Err(Error::ConfigOutOfRange {
            offset: 8,
            width: 4,
            length: 8
        })
    );
    dev.unstable_generation = true;
    assert_eq!(
        config_read64(&mut dev, 0),
        Err(Error::ConfigUnstable { attempts: 16 })
    );
}
