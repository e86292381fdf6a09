//! Feature bits and the negotiation rule (virtio 1.2 §2.2, §6).
//!
//! Feature bits 0–23 and 50–127 are device-type specific: they are accepted when both the device offers them and
//! the driver passes them as supported. Bits 24–49 are reserved for the queue and transport; this core implements
//! none of the optional ones (no indirect descriptors, no event index, no packed ring, no in-order), so from that
//! range it only ever accepts:
//! - `VIRTIO_F_VERSION_1` (bit 32), required on the modern transport and always accepted there;
//! - `VIRTIO_F_ACCESS_PLATFORM` (bit 33), accepted whenever offered: it means the device's memory accesses go
//!   through the platform's DMA translation, which vmfw's drivers always use for every buffer they hand out.
//!
//! The legacy transport has only 32 feature bits, so it never sees either of them.

use crate::transport::TransportKind;
use crate::Error;

/// `VIRTIO_F_INDIRECT_DESC` (bit 28): indirect descriptor tables. Never negotiated by this core.
pub const VIRTIO_F_INDIRECT_DESC: u64 = 1 << 28;
/// `VIRTIO_F_EVENT_IDX` (bit 29): `used_event`/`avail_event` notification suppression. Never negotiated.
pub const VIRTIO_F_EVENT_IDX: u64 = 1 << 29;
/// `VIRTIO_F_VERSION_1` (bit 32): the device complies with virtio 1.x (§6.1).
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// `VIRTIO_F_ACCESS_PLATFORM` (bit 33): device memory accesses are translated by the platform (IOMMU) (§6.1).
pub const VIRTIO_F_ACCESS_PLATFORM: u64 = 1 << 33;
/// `VIRTIO_F_RING_PACKED` (bit 34): packed virtqueue layout. Never negotiated.
pub const VIRTIO_F_RING_PACKED: u64 = 1 << 34;

/// Mask of the device-type-specific feature bits that exist in the 64 bits this core handles: 0–23 and 50–63.
pub const DEVICE_SPECIFIC_FEATURES: u64 = 0x00FF_FFFF | !((1u64 << 50) - 1);

/// Computes the driver features to write from the device's offer and the driver's supported device-specific
/// features (rules in the module notes).
///
/// Errors: [`Error::Version1NotOffered`] for a modern device whose offer lacks bit 32.
pub fn negotiate(
    kind: TransportKind,
    device_features: u64,
    driver_supported: u64,
) -> Result<u64, Error> {
    let mut accepted = device_features & driver_supported & DEVICE_SPECIFIC_FEATURES;
    match kind {
        TransportKind::Modern => {
            if device_features & VIRTIO_F_VERSION_1 == 0 {
                return Err(Error::Version1NotOffered { device_features });
            }
            accepted |= VIRTIO_F_VERSION_1 | (device_features & VIRTIO_F_ACCESS_PLATFORM);
        }
        TransportKind::Legacy => accepted &= u64::from(u32::MAX),
    }
    Ok(accepted)
}
