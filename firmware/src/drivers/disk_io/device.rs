//! [`storage::block::BlockDevice`] over the raw protocols: [`BlockIoDevice`] over an `EFI_BLOCK_IO_PROTOCOL`
//! (the Disk I/O driver's view of its device) and [`DiskIoDevice`] over an `EFI_DISK_IO_PROTOCOL` (how the
//! partition and FAT drivers read the disk they bound to). Both pass the `MediaId` they were made with, so a
//! changed medium surfaces as `BlockError::MediaChanged` instead of reading the wrong disk.
//!
//! `IoAlign` (UEFI 2.10 section 13.9.1): a buffer handed to `ReadBlocks`/`WriteBlocks` must be aligned to it when
//! it is above 1. [`BlockIoDevice`] passes aligned buffers straight through and copies misaligned ones through an
//! aligned bounce buffer of at most [`BOUNCE_MAX`] bytes at a time.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ffi::c_void;

use r_efi::efi::Status;
use r_efi::protocols::{block_io, disk_io};
use storage::block::{BlockDevice, BlockError};

/// Largest bounce buffer used for one transfer (bigger requests are split).
pub const BOUNCE_MAX: usize = 256 * 1024;

/// A snapshot of a Block I/O's media fields the storage code needs.
#[derive(Clone, Copy, Debug)]
pub struct MediaInfo {
    /// `MediaId`.
    pub media_id: u32,
    /// `MediaPresent`.
    pub present: bool,
    /// `ReadOnly`.
    pub read_only: bool,
    /// `LogicalPartition`.
    pub logical_partition: bool,
    /// `BlockSize` in bytes.
    pub block_size: u32,
    /// `IoAlign` in bytes (0 or 1: any).
    pub io_align: u32,
    /// `LastBlock`.
    pub last_block: u64,
}

/// Reads the media fields of `bio`. Errors: `INVALID_PARAMETER` when the protocol or its `Media` is null.
pub fn media_of(bio: *mut block_io::Protocol) -> Result<MediaInfo, Status> {
    if bio.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: `bio` is a Block I/O interface obtained from the protocol database; its `Media` pointer is
    // maintained by its producer for as long as the protocol is installed.
    let media = unsafe { (*bio).media };
    if media.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: as above; copied out.
    let m = unsafe { media.read_unaligned() };
    Ok(MediaInfo {
        media_id: m.media_id,
        present: m.media_present,
        read_only: m.read_only,
        logical_partition: m.logical_partition,
        block_size: m.block_size,
        io_align: m.io_align,
        last_block: m.last_block,
    })
}

/// A Block I/O protocol as a [`BlockDevice`], for one `MediaId`.
pub struct BlockIoDevice {
    bio: *mut block_io::Protocol,
    media: MediaInfo,
}

impl BlockIoDevice {
    /// Wraps `bio` for the medium `media_id`. Errors: `NO_MEDIA` without a medium, `MEDIA_CHANGED` when the
    /// medium is not `media_id`, `DEVICE_ERROR` for a zero block size.
    pub fn new(bio: *mut block_io::Protocol, media_id: u32) -> Result<Self, Status> {
        let media = media_of(bio)?;
        if !media.present {
            return Err(Status::NO_MEDIA);
        }
        if media.media_id != media_id {
            return Err(Status::MEDIA_CHANGED);
        }
        if media.block_size == 0 {
            return Err(Status::DEVICE_ERROR);
        }
        Ok(BlockIoDevice { bio, media })
    }

    fn transfer(
        &mut self,
        lba: u64,
        ptr: *mut u8,
        len: usize,
        write: bool,
    ) -> Result<(), BlockError> {
        let bs = self.media.block_size;
        // SAFETY: `bio` is a live Block I/O interface; `ptr` addresses `len` bytes the caller owns; the producer
        // checks range and size and reports them as statuses.
        let status = unsafe {
            if write {
                ((*self.bio).write_blocks)(
                    self.bio,
                    self.media.media_id,
                    lba,
                    len,
                    ptr as *mut c_void,
                )
            } else {
                ((*self.bio).read_blocks)(
                    self.bio,
                    self.media.media_id,
                    lba,
                    len,
                    ptr as *mut c_void,
                )
            }
        };
        if status == Status::SUCCESS {
            Ok(())
        } else {
            Err(BlockError::from_status(status, len, bs))
        }
    }

    /// Moves `len` bytes at `ptr` (a whole number of blocks) through aligned bounce buffers.
    fn bounced(
        &mut self,
        mut lba: u64,
        ptr: *mut u8,
        len: usize,
        write: bool,
    ) -> Result<(), BlockError> {
        let bs = self.media.block_size as usize;
        let chunk_max = (BOUNCE_MAX / bs).max(1) * bs;
        let layout = Layout::from_size_align(chunk_max.min(len), self.media.io_align as usize)
            .map_err(|_| BlockError::InvalidParameter)?;
        // SAFETY: non-zero size (len > 0 is checked by the caller) and a valid layout.
        let bounce = unsafe { alloc_zeroed(layout) };
        if bounce.is_null() {
            return Err(BlockError::Device);
        }
        let mut done = 0;
        let mut result = Ok(());
        while done < len && result.is_ok() {
            let n = (len - done).min(layout.size());
            // SAFETY: `ptr + done .. + n` lies in the caller's buffer and `bounce` holds `layout.size() >= n`.
            unsafe {
                if write {
                    core::ptr::copy_nonoverlapping(ptr.add(done), bounce, n);
                }
                result = self.transfer(lba, bounce, n, write);
                if !write && result.is_ok() {
                    core::ptr::copy_nonoverlapping(bounce, ptr.add(done), n);
                }
            }
            done += n;
            lba += (n / bs) as u64;
        }
        // SAFETY: allocated above with this layout.
        unsafe { dealloc(bounce, layout) };
        result
    }

    fn io(&mut self, lba: u64, ptr: *mut u8, len: usize, write: bool) -> Result<(), BlockError> {
        storage::block::check_transfer(self.media.block_size, self.media.last_block, lba, len)?;
        if len == 0 {
            return Ok(());
        }
        if write && self.media.read_only {
            return Err(BlockError::WriteProtected);
        }
        let align = self.media.io_align as usize;
        if align > 1 && align.is_power_of_two() && !(ptr as usize).is_multiple_of(align) {
            self.bounced(lba, ptr, len, write)
        } else {
            self.transfer(lba, ptr, len, write)
        }
    }
}

impl BlockDevice for BlockIoDevice {
    fn block_size(&self) -> u32 {
        self.media.block_size
    }
    fn last_block(&self) -> u64 {
        self.media.last_block
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.io(lba, buf.as_mut_ptr(), buf.len(), false)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        // The producer only reads a write buffer; the pointer is `*mut` because the C prototype says so.
        self.io(lba, buf.as_ptr() as *mut u8, buf.len(), true)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        // SAFETY: `bio` is a live Block I/O interface.
        let status = unsafe { ((*self.bio).flush_blocks)(self.bio) };
        if status == Status::SUCCESS {
            Ok(())
        } else {
            Err(BlockError::from_status(status, 0, self.media.block_size))
        }
    }
}

/// A Disk I/O protocol (plus the Block I/O of the same handle, for geometry and flush) as a [`BlockDevice`].
pub struct DiskIoDevice {
    dio: *mut disk_io::Protocol,
    bio: *mut block_io::Protocol,
    media: MediaInfo,
}

impl DiskIoDevice {
    /// Wraps `dio` for the current medium of `bio`. Errors: `NO_MEDIA`, `DEVICE_ERROR` for a zero block size,
    /// `INVALID_PARAMETER` for null protocols.
    pub fn new(dio: *mut disk_io::Protocol, bio: *mut block_io::Protocol) -> Result<Self, Status> {
        if dio.is_null() {
            return Err(Status::INVALID_PARAMETER);
        }
        let media = media_of(bio)?;
        if !media.present {
            return Err(Status::NO_MEDIA);
        }
        if media.block_size == 0 {
            return Err(Status::DEVICE_ERROR);
        }
        Ok(DiskIoDevice { dio, bio, media })
    }

    /// The media snapshot this device was made with.
    pub fn media(&self) -> MediaInfo {
        self.media
    }
}

impl BlockDevice for DiskIoDevice {
    fn block_size(&self) -> u32 {
        self.media.block_size
    }
    fn last_block(&self) -> u64 {
        self.media.last_block
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let bs = self.media.block_size;
        storage::block::check_transfer(bs, self.media.last_block, lba, buf.len())?;
        // SAFETY: `dio` is a live Disk I/O interface (opened BY_DRIVER by the caller); `buf` is ours.
        let status = unsafe {
            ((*self.dio).read_disk)(
                self.dio,
                self.media.media_id,
                lba * bs as u64,
                buf.len(),
                buf.as_mut_ptr() as *mut c_void,
            )
        };
        match status {
            Status::SUCCESS => Ok(()),
            s => Err(BlockError::from_status(s, buf.len(), bs)),
        }
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        let bs = self.media.block_size;
        storage::block::check_transfer(bs, self.media.last_block, lba, buf.len())?;
        // SAFETY: as for reads; Disk I/O only reads a write buffer.
        let status = unsafe {
            ((*self.dio).write_disk)(
                self.dio,
                self.media.media_id,
                lba * bs as u64,
                buf.len(),
                buf.as_ptr() as *mut c_void,
            )
        };
        match status {
            Status::SUCCESS => Ok(()),
            s => Err(BlockError::from_status(s, buf.len(), bs)),
        }
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        // SAFETY: `bio` is the live Block I/O of the same handle.
        let status = unsafe { ((*self.bio).flush_blocks)(self.bio) };
        match status {
            Status::SUCCESS => Ok(()),
            s => Err(BlockError::from_status(s, 0, self.media.block_size)),
        }
    }
}
