//! The crate's single error type.
//!
//! Every fallible operation of the crate returns [`Error`]; each variant names exactly one broken rule and carries
//! the values that broke it, so a driver can log the error and decide between retrying, resetting the device and
//! giving up on it.

use core::fmt;

/// Everything that can go wrong while initialising a virtio device, parsing its PCI capabilities or driving one of
/// its split virtqueues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    // ---- Device status and feature negotiation (virtio 1.2 §2.1, §2.2, §3.1.1) ----
    /// After writing 0 to device status, the device still read back `status` after `polls` reads (§2.1.2: the
    /// driver must wait for 0 before reinitialising).
    ResetTimeout {
        /// Last status value read back.
        status: u8,
        /// Number of status reads performed.
        polls: u32,
    },
    /// A modern (virtio 1.x) device did not offer `VIRTIO_F_VERSION_1` (bit 32), which §6.1 requires.
    Version1NotOffered {
        /// The full 64-bit device feature set that was read.
        device_features: u64,
    },
    /// The device cleared `FEATURES_OK` after the driver set it: it does not support the written subset (§3.1.1
    /// step 6).
    FeaturesNotAccepted {
        /// The driver features that were written.
        driver_features: u64,
        /// The status value read back.
        status: u8,
    },
    /// The device set `DEVICE_NEEDS_RESET` during initialisation (§2.1.1).
    DeviceNeedsReset {
        /// The status value read back.
        status: u8,
    },

    // ---- Transport register access ----
    /// A queue index is not below the device's `num_queues` (§4.1.4.3) or the device reports size 0 for it.
    QueueUnavailable {
        /// The queue index.
        queue: u16,
    },
    /// `notify` was called for a queue that was not set up through this transport.
    QueueNotConfigured {
        /// The queue index.
        queue: u16,
    },
    /// A device-configuration access of `width` bytes at `offset` does not fit in the `length`-byte device
    /// configuration space.
    ConfigOutOfRange {
        /// Byte offset into the device-specific configuration.
        offset: u32,
        /// Access width in bytes.
        width: u8,
        /// Length of the device-specific configuration in bytes (0 when the device has none).
        length: u32,
    },
    /// `config_generation` kept changing across `attempts` re-reads of a multi-field configuration value
    /// (§2.5.1).
    ConfigUnstable {
        /// Number of attempts made.
        attempts: u32,
    },
    /// A queue's notification address (`cap.offset + queue_notify_off * notify_off_multiplier`, §4.1.4.4) plus the
    /// 2-byte write lies outside the notification structure.
    NotifyOutOfRange {
        /// The queue index.
        queue: u16,
        /// The queue's `queue_notify_off`.
        queue_notify_off: u16,
    },

    // ---- PCI capabilities (§4.1.4) ----
    /// The PCI capability list is malformed: a pointer below 0x40 or more links than fit in configuration space.
    CapabilityListMalformed {
        /// The offending capability pointer.
        pointer: u8,
    },
    /// A required virtio structure (`cfg_type` 1 = common, 2 = notify) has no usable capability.
    CapabilityMissing {
        /// The `cfg_type` that is missing.
        cfg_type: u8,
    },
    /// A virtio capability's `cap_len` or `length` is too short for its structure.
    CapabilityTooShort {
        /// The capability's `cfg_type`.
        cfg_type: u8,
        /// The length found (`cap_len` for the capability, `length` for the structure).
        length: u32,
        /// The minimum length required.
        required: u32,
    },
    /// A virtio structure `[offset, offset + length)` does not fit in its BAR of `bar_size` bytes (0 = BAR not
    /// implemented).
    CapabilityOutsideBar {
        /// The capability's `cfg_type`.
        cfg_type: u8,
        /// The BAR index named by the capability.
        bar: u8,
        /// The structure's offset within the BAR.
        offset: u32,
        /// The structure's length.
        length: u32,
        /// The BAR's size as told by the caller.
        bar_size: u64,
    },
    /// The legacy I/O BAR0 is smaller than the legacy header (0x14 bytes, 0x18 with MSI-X, §4.1.4.8).
    LegacyBarTooSmall {
        /// BAR0 size in bytes.
        bar_size: u64,
        /// Required size in bytes.
        required: u64,
    },

    // ---- Split virtqueue layout and setup (§2.7) ----
    /// A queue size is 0, not a power of two, above 32768 or above the device's maximum.
    InvalidQueueSize {
        /// The requested size.
        size: u16,
        /// The device's maximum (or the legacy device's only) size.
        max: u16,
    },
    /// A legacy device's queue size is fixed (§4.1.4.8) and the queue was built with another one.
    LegacyQueueSizeMismatch {
        /// The queue's size.
        size: u16,
        /// The size the device reports.
        device: u16,
    },
    /// The queue memory is smaller than the layout needs.
    QueueMemoryTooSmall {
        /// Bytes needed by the layout.
        needed: usize,
        /// Bytes provided.
        available: usize,
    },
    /// The queue memory's base address is not aligned as the layout requires (16 modern, 4096 legacy).
    QueueMemoryMisaligned {
        /// The base address.
        address: u64,
        /// Required alignment in bytes.
        align: u64,
    },
    /// Legacy queues are located by one page frame number: the addresses passed to the legacy transport do not
    /// follow the legacy layout (§2.7 "Legacy Interfaces: A Note on Virtqueue Layout") or do not fit a 32-bit PFN.
    LegacyLayoutMismatch {
        /// Descriptor table address given.
        desc: u64,
        /// Available ring address given.
        avail: u64,
        /// Used ring address given.
        used: u64,
    },
    /// The queue was built for one transport kind and activated on the other.
    TransportKindMismatch,

    // ---- Split virtqueue operation (§2.7.4, §2.7.13, §2.7.14) ----
    /// `add_chain` was given no buffers.
    EmptyChain,
    /// A chain needs more descriptors than are free.
    QueueFull {
        /// Descriptors needed.
        needed: usize,
        /// Descriptors free.
        free: u16,
    },
    /// A device-readable buffer follows a device-writable one; §2.7.4.2 requires readable buffers first.
    ReadableAfterWritable {
        /// Index (in the slice given to `add_chain`) of the offending buffer.
        index: usize,
    },
    /// A chain's total length exceeds 2^32 - 1 bytes (§2.7.4.2: at most 2^32 bytes).
    ChainTooLong {
        /// The total length in bytes.
        total: u64,
    },
    /// The device put an id in the used ring that is not the head of an in-flight chain.
    UsedIdNotInFlight {
        /// The id read from the used ring.
        id: u32,
    },
    /// The device reported writing more bytes than the chain's device-writable buffers hold.
    UsedLenTooLarge {
        /// The chain's head.
        head: u16,
        /// The length reported by the device.
        len: u32,
        /// Total length of the chain's device-writable buffers.
        writable: u64,
    },
    /// `used.idx` advanced by more entries than there are chains in flight.
    UsedIdxAhead {
        /// `used.idx` as read.
        used_idx: u16,
        /// The driver's last seen used index.
        last_used: u16,
        /// Chains in flight.
        in_flight: u16,
    },

    // ---- virtio-blk (§5.2) ----
    /// The request area given to the block driver (header and status byte, [`crate::blk::REQUEST_AREA_LEN`]
    /// bytes) is too small.
    RequestAreaTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes provided.
        available: usize,
    },
    /// The device's `seg_max`/`size_max` (and the queue size) leave room for less than one block per request.
    TransferLimitsTooSmall {
        /// Largest request in bytes the limits allow.
        max_request_bytes: u64,
        /// The block size in bytes.
        block_size: u32,
    },
    /// A transfer length is not a multiple of the block size.
    LengthNotBlockMultiple {
        /// The length in bytes.
        len: u64,
        /// The block size in bytes.
        block_size: u32,
    },
    /// A transfer reaches past the last block (or the device has no blocks).
    BlockOutOfRange {
        /// First logical block of the transfer.
        lba: u64,
        /// Number of blocks of the transfer.
        blocks: u64,
        /// Number of blocks of the device.
        device_blocks: u64,
    },
    /// A write to a device that negotiated `VIRTIO_BLK_F_RO`.
    ReadOnly,
    /// The device completed a request with a status other than `VIRTIO_BLK_S_OK` (1 = `IOERR`, 2 = `UNSUPP`,
    /// 0xff = the status byte was never written).
    RequestFailed {
        /// The request type (`VIRTIO_BLK_T_*`).
        request_type: u32,
        /// The first 512-byte sector of the request.
        sector: u64,
        /// The status byte read back.
        status: u8,
    },
    /// The device did not return a request within the time-out; the driver has reset it.
    RequestTimeout {
        /// The chain's head descriptor.
        head: u16,
        /// Microseconds waited.
        waited_us: u64,
    },
    /// The driver is not ready for requests: it was quiesced/stopped, or an earlier failure left the device reset
    /// and it could not be initialised again.
    DeviceNotReady,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl core::error::Error for Error {}
