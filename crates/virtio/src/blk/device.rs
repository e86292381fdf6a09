//! [`BlkDevice`]: the driver of one virtio-blk device (virtio 1.2 §5.2), generic over its transport, its memory
//! and its clock.
//!
//! # States
//!
//! `Ready` after [`BlkDevice::new`] (and after a successful [`BlkDevice::reinitialize`]); `Stopped` after
//! [`BlkDevice::quiesce`]; `Failed` when a request timed out or the device broke the queue protocol and the
//! automatic reset-and-reinitialise did not succeed; `Unresponsive` when even the reset was not acknowledged (the
//! device may still be doing DMA: the owner should cut bus mastering). Only `Ready` takes requests; the others
//! answer [`Error::DeviceNotReady`].
//!
//! # One request at a time
//!
//! Requests are synchronous: publish one chain, notify, poll the used ring until the chain comes back or
//! [`BlkDevice::set_timeout_us`] microseconds passed. With a single chain in flight the used ring can only return
//! that chain ([`crate::queue::SplitQueue::poll_used`] rejects any other id), and one request area (header and
//! status byte) serves every request. When the wait ends in a time-out or a queue-protocol error, the device is
//! reset before the error is returned, so the caller may release the data buffer at once: a reset device no longer
//! touches it (§2.1.2).
//!
//! # Memory ordering
//!
//! The header and the status sentinel are written before [`crate::queue::SplitQueue::add_chain`], whose release
//! fence orders them (with the descriptors) before `avail.idx`. The status byte is read after `poll_used` saw the
//! chain, whose acquire fence orders it (and the data the device wrote) after `used.idx`.

use alloc::vec::Vec;

use super::config::{BlkConfig, Media, DRIVER_FEATURES};
use super::request::{
    Limits, RequestType, HEADER_LEN, REQUEST_AREA_LEN, STATUS_NOT_WRITTEN, STATUS_OFFSET,
    VIRTIO_BLK_S_OK,
};
use crate::clock::Clock;
use crate::queue::{activate, choose_size, Buffer, Layout, QueueMemory, SplitQueue};
use crate::status::{initialize, reset};
use crate::transport::{Transport, TransportKind};
use crate::Error;

/// The request queue: virtio-blk's queue 0 (`requestq`, §5.2.2).
pub const REQUEST_QUEUE: u16 = 0;
/// Queue size wanted on the modern interface (the legacy one takes the device's size).
pub const WANTED_QUEUE_SIZE: u16 = 256;
/// Default time-out of one request: 30 s.
pub const DEFAULT_TIMEOUT_US: u64 = 30_000_000;

/// `size_max` for logs: bytes, or "any size" when the device sets no limit.
struct SegmentLen(u32);

impl core::fmt::Display for SegmentLen {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            u32::MAX => f.write_str("any size"),
            len => write!(f, "{len} bytes"),
        }
    }
}

/// Where the driver stands (module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Initialised (`DRIVER_OK`), taking requests.
    Ready,
    /// Reset by [`BlkDevice::quiesce`].
    Stopped,
    /// Reset after a failure, but not initialised again.
    Failed,
    /// A reset was not acknowledged: the device may still access memory.
    Unresponsive,
}

/// Queue memory needed by a `kind` device whose queue 0 reports `device_max` entries, with the size
/// [`BlkDevice::new`] picks. Errors: [`Error::InvalidQueueSize`] (`device_max` 0 or, for legacy, not a power of
/// two).
pub fn queue_memory_len(kind: TransportKind, device_max: u16) -> Result<usize, Error> {
    let size = choose_size(kind, device_max, WANTED_QUEUE_SIZE)?;
    Ok(Layout::new(kind, size)?.total_len)
}

/// What initialisation produced, before the driver exists.
struct BroughtUp<M: QueueMemory> {
    queue: SplitQueue<M>,
    features: u64,
    config: BlkConfig,
    media: Media,
    limits: Limits,
}

/// The driver of one virtio-blk device (module notes).
pub struct BlkDevice<T: Transport, M: QueueMemory, C: Clock> {
    transport: T,
    queue: SplitQueue<M>,
    request: M,
    clock: C,
    features: u64,
    config: BlkConfig,
    media: Media,
    limits: Limits,
    timeout_us: u64,
    state: DeviceState,
    chain: Vec<Buffer>,
}

impl<T: Transport, M: QueueMemory, C: Clock> BlkDevice<T, M, C> {
    /// Initialises the device (§3.1.1 with [`DRIVER_FEATURES`]), builds its request queue in `queue_memory`
    /// (modern: up to [`WANTED_QUEUE_SIZE`] entries; legacy: the device's size), reads its configuration and
    /// derives the media and limits. `request_memory` holds the request header and status byte (at least
    /// [`REQUEST_AREA_LEN`] bytes); both memories must be visible to the device at their base addresses.
    ///
    /// On failure the device is left reset (not merely `FAILED`), so it forgets the queue addresses and the
    /// caller may free the memories.
    ///
    /// Errors: [`Error::RequestAreaTooSmall`], [`Error::InvalidQueueSize`] (the device's queue 0 is missing or
    /// smaller than 4 entries), [`Error::QueueMemoryTooSmall`], [`Error::QueueMemoryMisaligned`],
    /// [`Error::TransferLimitsTooSmall`], and every error of [`initialize`] and [`BlkConfig::read`].
    pub fn new(
        mut transport: T,
        queue_memory: M,
        request_memory: M,
        clock: C,
    ) -> Result<Self, Error> {
        let result = Self::bring_up(&mut transport, queue_memory, &request_memory);
        match result {
            Ok(up) => Ok(Self {
                transport,
                chain: Vec::with_capacity(usize::from(up.limits.max_segments) + 2),
                queue: up.queue,
                request: request_memory,
                clock,
                features: up.features,
                config: up.config,
                media: up.media,
                limits: up.limits,
                timeout_us: DEFAULT_TIMEOUT_US,
                state: DeviceState::Ready,
            }),
            Err(error) => {
                let _ = reset(&mut transport);
                Err(error)
            }
        }
    }

    fn bring_up(
        transport: &mut T,
        queue_memory: M,
        request_memory: &M,
    ) -> Result<BroughtUp<M>, Error> {
        if request_memory.len() < REQUEST_AREA_LEN {
            return Err(Error::RequestAreaTooSmall {
                needed: REQUEST_AREA_LEN,
                available: request_memory.len(),
            });
        }
        let mut queue = None;
        let features = initialize(transport, DRIVER_FEATURES, |t, _| {
            let kind = t.kind();
            let device_max = t.max_queue_size(REQUEST_QUEUE);
            let size = choose_size(kind, device_max, WANTED_QUEUE_SIZE)?;
            if size < 4 {
                return Err(Error::InvalidQueueSize {
                    size,
                    max: device_max,
                });
            }
            let built = SplitQueue::new(queue_memory, kind, size)?;
            activate(t, REQUEST_QUEUE, &built)?;
            queue = Some(built);
            Ok(())
        })?;
        let queue = queue.ok_or(Error::QueueNotConfigured {
            queue: REQUEST_QUEUE,
        })?;
        let config = BlkConfig::read(transport, features)?;
        let media = Media::new(&config, features);
        let limits = Limits::new(
            queue.size(),
            config.seg_max,
            config.size_max,
            media.block_size,
        );
        if limits.max_request_bytes == 0 {
            return Err(Error::TransferLimitsTooSmall {
                max_request_bytes: u64::from(limits.max_segments)
                    * u64::from(limits.max_segment_len),
                block_size: media.block_size,
            });
        }
        log::debug!(
            "virtio-blk: {} blocks of {} bytes{}{}, up to {} segments of {} per request, queue of {}",
            media.blocks,
            media.block_size,
            if media.read_only { ", read-only" } else { "" },
            if media.write_cache { ", write cache" } else { "" },
            limits.max_segments,
            SegmentLen(limits.max_segment_len),
            queue.size()
        );
        Ok(BroughtUp {
            queue,
            features,
            config,
            media,
            limits,
        })
    }

    /// The negotiated features.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// The configuration read at initialisation.
    pub fn config(&self) -> &BlkConfig {
        &self.config
    }

    /// The disk's media.
    pub fn media(&self) -> &Media {
        &self.media
    }

    /// The request limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The current state.
    pub fn state(&self) -> DeviceState {
        self.state
    }

    /// The transport (tests inspect the mock device through it).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sets the time-out of one request in microseconds.
    pub fn set_timeout_us(&mut self, timeout_us: u64) {
        self.timeout_us = timeout_us;
    }

    /// Checks a transfer of `len` bytes from logical block `lba` without performing it: `len` a multiple of the
    /// block size, the blocks inside the device, and for `write` a writable device. A zero `len` is always valid.
    ///
    /// Errors: [`Error::LengthNotBlockMultiple`], [`Error::BlockOutOfRange`], [`Error::ReadOnly`].
    pub fn check(&self, lba: u64, len: u64, write: bool) -> Result<(), Error> {
        let block_size = self.media.block_size;
        if !len.is_multiple_of(u64::from(block_size)) {
            return Err(Error::LengthNotBlockMultiple { len, block_size });
        }
        if len == 0 {
            return Ok(());
        }
        let blocks = len / u64::from(block_size);
        let device_blocks = self.media.blocks;
        if lba >= device_blocks || blocks > device_blocks - lba {
            return Err(Error::BlockOutOfRange {
                lba,
                blocks,
                device_blocks,
            });
        }
        if write && self.media.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// Reads `len` bytes (whole blocks) from logical block `lba` into the device-visible buffer at `addr`, in
    /// as many requests as the limits need.
    ///
    /// Errors: those of [`BlkDevice::check`], then [`Error::DeviceNotReady`], [`Error::RequestFailed`],
    /// [`Error::RequestTimeout`] and queue errors (after the last two the device has been reset).
    pub fn read(&mut self, lba: u64, addr: u64, len: u64) -> Result<(), Error> {
        self.transfer(RequestType::Read, lba, addr, len)
    }

    /// Writes `len` bytes (whole blocks) from the device-visible buffer at `addr` to logical block `lba`.
    ///
    /// Errors: as [`BlkDevice::read`] ([`Error::ReadOnly`] on a read-only device, before anything is sent).
    pub fn write(&mut self, lba: u64, addr: u64, len: u64) -> Result<(), Error> {
        self.transfer(RequestType::Write, lba, addr, len)
    }

    /// Flushes the device's write cache (`VIRTIO_BLK_T_FLUSH`); without `VIRTIO_BLK_F_FLUSH` there is nothing to
    /// flush and nothing is sent.
    ///
    /// Errors: [`Error::DeviceNotReady`], [`Error::RequestFailed`], [`Error::RequestTimeout`], queue errors.
    pub fn flush(&mut self) -> Result<(), Error> {
        if !self.media.flush {
            return Ok(());
        }
        self.submit(RequestType::Flush, 0, 0, 0)
    }

    fn transfer(&mut self, kind: RequestType, lba: u64, addr: u64, len: u64) -> Result<(), Error> {
        self.check(lba, len, kind == RequestType::Write)?;
        let block_size = u64::from(self.media.block_size);
        for range in self.limits.requests(len) {
            let sector = (lba + range.start / block_size) * self.media.sectors_per_block();
            self.submit(kind, sector, addr + range.start, range.end - range.start)?;
        }
        Ok(())
    }

    /// Sends one request and waits for it (module notes).
    fn submit(&mut self, kind: RequestType, sector: u64, addr: u64, len: u64) -> Result<(), Error> {
        if self.state != DeviceState::Ready {
            return Err(Error::DeviceNotReady);
        }
        let base = self.request.base_address();
        self.request.write32(0, kind.code());
        self.request.write32(4, 0);
        self.request.write64(8, sector);
        self.request.write8(STATUS_OFFSET, STATUS_NOT_WRITTEN);

        self.chain.clear();
        self.chain.push(Buffer::readable(base, HEADER_LEN as u32));
        for (segment, segment_len) in self.limits.segments(addr, len) {
            self.chain.push(match kind {
                RequestType::Read => Buffer::writable(segment, segment_len),
                _ => Buffer::readable(segment, segment_len),
            });
        }
        self.chain
            .push(Buffer::writable(base + STATUS_OFFSET as u64, 1));
        let head = self.queue.add_chain(&self.chain)?;
        if self.queue.needs_notification() {
            if let Err(error) = self.transport.notify(REQUEST_QUEUE) {
                self.recover();
                return Err(error);
            }
        }
        self.wait(head)?;

        let status = self.request.read8(STATUS_OFFSET);
        if status != VIRTIO_BLK_S_OK {
            log::warn!("virtio-blk: request type {} at sector {sector} ({len} bytes) failed with status {status:#x}", kind.code());
            return Err(Error::RequestFailed {
                request_type: kind.code(),
                sector,
                status,
            });
        }
        Ok(())
    }

    /// Polls until chain `head` comes back, within the time-out; on a time-out or a protocol error the device is
    /// reset (and reinitialised when possible) before the error is returned.
    fn wait(&mut self, head: u16) -> Result<(), Error> {
        let start = self.clock.now_us();
        loop {
            match self.queue.poll_used() {
                Ok(Some(used)) if used.head == head => return Ok(()),
                Ok(Some(used)) => {
                    // Unreachable with one chain in flight (poll_used rejects unknown ids); still never trusted.
                    self.recover();
                    return Err(Error::UsedIdNotInFlight {
                        id: u32::from(used.head),
                    });
                }
                Ok(None) => {}
                Err(error) => {
                    self.recover();
                    return Err(error);
                }
            }
            let waited_us = self.clock.now_us().saturating_sub(start);
            if waited_us >= self.timeout_us {
                log::error!("virtio-blk: request {head} not completed after {waited_us} us: resetting the device");
                self.recover();
                return Err(Error::RequestTimeout { head, waited_us });
            }
            core::hint::spin_loop();
        }
    }

    /// After a failure: reset the device, then try to bring it back with the same features.
    fn recover(&mut self) {
        if let Err(error) = self.reinitialize() {
            log::error!("virtio-blk: device not recovered: {error:?}");
        }
    }

    /// Resets the device and initialises it again with the same queue memory and features (what UEFI's
    /// `BlockIo.Reset()` does). Every chain in flight is forgotten.
    ///
    /// Errors: [`Error::ResetTimeout`] (state `Unresponsive`), the errors of [`initialize`], or
    /// [`Error::FeaturesNotAccepted`] when the device now negotiates other features (state `Failed`).
    pub fn reinitialize(&mut self) -> Result<(), Error> {
        if let Err(error) = reset(&mut self.transport) {
            self.state = DeviceState::Unresponsive;
            return Err(error);
        }
        self.state = DeviceState::Failed;
        self.queue.reset();
        let queue = &self.queue;
        let features = initialize(&mut self.transport, DRIVER_FEATURES, |t, _| {
            activate(t, REQUEST_QUEUE, queue)
        });
        match features {
            Ok(features) if features == self.features => {
                self.state = DeviceState::Ready;
                Ok(())
            }
            other => {
                let _ = reset(&mut self.transport);
                let status = self.transport.status().bits();
                Err(other.err().unwrap_or(Error::FeaturesNotAccepted {
                    driver_features: self.features,
                    status,
                }))
            }
        }
    }

    /// The quiesce: resets the device by writing 0 to `device_status` and waiting (bounded) for it to read back 0.
    /// Touches no other register and no memory and allocates nothing. Afterwards the driver takes no requests
    /// (state `Stopped`, or `Unresponsive` if the reset was not acknowledged).
    ///
    /// Errors: [`Error::ResetTimeout`].
    pub fn quiesce(&mut self) -> Result<(), Error> {
        match reset(&mut self.transport) {
            Ok(()) => {
                self.state = DeviceState::Stopped;
                Ok(())
            }
            Err(error) => {
                self.state = DeviceState::Unresponsive;
                Err(error)
            }
        }
    }
}
