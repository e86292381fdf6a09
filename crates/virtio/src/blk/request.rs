//! virtio-blk requests (virtio 1.2 §5.2.6): the header, the status byte, and how a transfer is cut into requests
//! and segments.
//!
//! A request is one descriptor chain: the 16-byte header `{le32 type, le32 reserved, le64 sector}` (device
//! readable, its own descriptor), then the data segments (device-writable for `VIRTIO_BLK_T_IN`, readable for
//! `VIRTIO_BLK_T_OUT`, none for `VIRTIO_BLK_T_FLUSH`), then the one status byte (device-writable, its own
//! descriptor). Keeping header and status in descriptors of their own is what the legacy interface requires
//! without `VIRTIO_F_ANY_LAYOUT` (§5.2.6.3), and it is valid for every device.
//!
//! [`Limits`] turns the device's `seg_max`/`size_max` and the queue size into the largest request: at most
//! `max_segments` data segments (`seg_max`, and queue size - 2 since header and status take a descriptor each),
//! each at most `max_segment_len` bytes (`size_max`), and in total at most `max_request_bytes` (a whole number of
//! blocks, capped at [`MAX_REQUEST_BYTES`] so one request's time stays well inside the time-out).

use core::ops::Range;

/// `VIRTIO_BLK_T_IN`: read from the device.
pub const VIRTIO_BLK_T_IN: u32 = 0;
/// `VIRTIO_BLK_T_OUT`: write to the device.
pub const VIRTIO_BLK_T_OUT: u32 = 1;
/// `VIRTIO_BLK_T_FLUSH`: flush the device's write cache.
pub const VIRTIO_BLK_T_FLUSH: u32 = 4;
/// `VIRTIO_BLK_S_OK`: success.
pub const VIRTIO_BLK_S_OK: u8 = 0;
/// `VIRTIO_BLK_S_IOERR`: device or driver error.
pub const VIRTIO_BLK_S_IOERR: u8 = 1;
/// `VIRTIO_BLK_S_UNSUPP`: request unsupported by the device.
pub const VIRTIO_BLK_S_UNSUPP: u8 = 2;
/// What the driver writes into the status byte before publishing a request: not a status any device returns, so
/// a device that completes a request without writing its status is caught.
pub const STATUS_NOT_WRITTEN: u8 = 0xff;

/// Length of the request header.
pub const HEADER_LEN: usize = 16;
/// Offset of the status byte in the request area (after the header).
pub const STATUS_OFFSET: usize = HEADER_LEN;
/// Bytes of the request area: header and status byte.
pub const REQUEST_AREA_LEN: usize = HEADER_LEN + 1;
/// Cap on the bytes of one request (4 MiB): larger transfers become several requests.
pub const MAX_REQUEST_BYTES: u64 = 4 << 20;

/// The kind of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// `VIRTIO_BLK_T_IN`.
    Read,
    /// `VIRTIO_BLK_T_OUT`.
    Write,
    /// `VIRTIO_BLK_T_FLUSH`.
    Flush,
}

impl RequestType {
    /// The header's `type` value.
    pub fn code(self) -> u32 {
        match self {
            Self::Read => VIRTIO_BLK_T_IN,
            Self::Write => VIRTIO_BLK_T_OUT,
            Self::Flush => VIRTIO_BLK_T_FLUSH,
        }
    }
}

/// The largest request the device and the queue allow (module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Data segments per request.
    pub max_segments: u16,
    /// Bytes per segment.
    pub max_segment_len: u32,
    /// Bytes per request: a multiple of the block size, at most `max_segments * max_segment_len` and
    /// [`MAX_REQUEST_BYTES`]; 0 when not even one block fits.
    pub max_request_bytes: u64,
}

impl Limits {
    /// Limits for a `queue_size`-entry queue, the device's `seg_max`/`size_max` (`None` or 0: no limit) and
    /// `block_size`-byte blocks.
    pub fn new(
        queue_size: u16,
        seg_max: Option<u32>,
        size_max: Option<u32>,
        block_size: u32,
    ) -> Self {
        let by_queue = u32::from(queue_size.saturating_sub(2));
        let max_segments = seg_max
            .filter(|&s| s > 0)
            .map_or(by_queue, |s| s.min(by_queue)) as u16;
        let max_segment_len = size_max.filter(|&s| s > 0).unwrap_or(u32::MAX);
        let by_device = u64::from(max_segments) * u64::from(max_segment_len);
        let total = by_device.min(MAX_REQUEST_BYTES);
        Self {
            max_segments,
            max_segment_len,
            max_request_bytes: total - total % u64::from(block_size.max(1)),
        }
    }

    /// The data segments of one request covering `len` bytes at device address `addr`: consecutive pieces of at
    /// most `max_segment_len` bytes. `len` must not exceed `max_request_bytes` (then there are at most
    /// `max_segments` of them).
    pub fn segments(&self, addr: u64, len: u64) -> Segments {
        Segments {
            next: addr,
            end: addr + len,
            max: u64::from(self.max_segment_len),
        }
    }

    /// The requests of a transfer of `len` bytes: byte ranges (relative to the transfer's start) of at most
    /// `max_request_bytes` each, in order.
    pub fn requests(&self, len: u64) -> Requests {
        Requests {
            next: 0,
            len,
            max: self.max_request_bytes.max(1),
        }
    }
}

/// Iterator over the segments of one request: `(device address, length)`.
#[derive(Debug, Clone)]
pub struct Segments {
    next: u64,
    end: u64,
    max: u64,
}

impl Iterator for Segments {
    type Item = (u64, u32);

    fn next(&mut self) -> Option<(u64, u32)> {
        if self.next >= self.end {
            return None;
        }
        let len = (self.end - self.next).min(self.max);
        let segment = (self.next, len as u32);
        self.next += len;
        Some(segment)
    }
}

/// Iterator over the requests of a transfer: byte ranges relative to its start.
#[derive(Debug, Clone)]
pub struct Requests {
    next: u64,
    len: u64,
    max: u64,
}

impl Iterator for Requests {
    type Item = Range<u64>;

    fn next(&mut self) -> Option<Range<u64>> {
        if self.next >= self.len {
            return None;
        }
        let start = self.next;
        self.next = (start + self.max).min(self.len);
        Some(start..self.next)
    }
}
