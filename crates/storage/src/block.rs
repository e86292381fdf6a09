//! Block devices: the [`BlockDevice`] trait every storage layer reads through, a Vec-backed [`MemDisk`] for tests,
//! and [`BlockWindow`], a bounds-checked sub-range of a device (a partition).
//!
//! Invariants: `block_size()` is non-zero and constant; valid LBAs are `0..=last_block()`; a transfer buffer is a
//! whole number of blocks. Implementations must check the range and length and return [`BlockError`] instead of
//! panicking. The model is `EFI_BLOCK_IO_PROTOCOL` (UEFI 2.10 section 13.9): `BlockSize`, `LastBlock`,
//! `ReadBlocks`, `WriteBlocks`, `FlushBlocks`.

use alloc::vec;
use alloc::vec::Vec;
use r_efi::efi::Status;

/// Why a block transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The transfer `[lba, lba + blocks)` reaches past `last_block()` (or overflows).
    OutOfRange {
        /// First block of the transfer.
        lba: u64,
        /// Number of blocks requested.
        blocks: u64,
    },
    /// The buffer length is not a multiple of the block size.
    BadBufferSize {
        /// Buffer length in bytes.
        len: usize,
        /// Device block size in bytes.
        block_size: u32,
    },
    /// The device geometry is unusable (zero block size, no blocks, data not a whole number of blocks).
    BadGeometry,
    /// The device is read-only.
    WriteProtected,
    /// The device reported an I/O error (`EFI_DEVICE_ERROR`).
    Device,
    /// There is no medium in the device.
    NoMedia,
    /// The request named a `MediaId` that is not the current medium's (`EFI_MEDIA_CHANGED`).
    MediaChanged,
    /// The device rejected the request's parameters (`EFI_INVALID_PARAMETER` from a foreign Block I/O).
    InvalidParameter,
}

impl BlockError {
    /// The `EFI_STATUS` a Block I/O or Disk I/O function returns for this error (UEFI 2.10 sections 13.7, 13.9):
    /// `OutOfRange` and `InvalidParameter` are `EFI_INVALID_PARAMETER`, `BadBufferSize` is
    /// `EFI_BAD_BUFFER_SIZE`, `BadGeometry` and `Device` are `EFI_DEVICE_ERROR`.
    pub fn status(self) -> Status {
        match self {
            BlockError::OutOfRange { .. } | BlockError::InvalidParameter => {
                Status::INVALID_PARAMETER
            }
            BlockError::BadBufferSize { .. } => Status::BAD_BUFFER_SIZE,
            BlockError::BadGeometry | BlockError::Device => Status::DEVICE_ERROR,
            BlockError::WriteProtected => Status::WRITE_PROTECTED,
            BlockError::NoMedia => Status::NO_MEDIA,
            BlockError::MediaChanged => Status::MEDIA_CHANGED,
        }
    }

    /// The error for a failed `EFI_STATUS` of a (foreign) Block I/O or Disk I/O call: the inverse of
    /// [`BlockError::status`] for the statuses it produces; `EFI_BAD_BUFFER_SIZE` becomes `BadBufferSize` with
    /// the `len` and `block_size` of the request, and anything else `Device`.
    pub fn from_status(status: Status, len: usize, block_size: u32) -> BlockError {
        match status {
            Status::INVALID_PARAMETER => BlockError::InvalidParameter,
            Status::BAD_BUFFER_SIZE => BlockError::BadBufferSize { len, block_size },
            Status::WRITE_PROTECTED => BlockError::WriteProtected,
            Status::NO_MEDIA => BlockError::NoMedia,
            Status::MEDIA_CHANGED => BlockError::MediaChanged,
            _ => BlockError::Device,
        }
    }
}

/// A random-access device of fixed-size blocks (the shape of `EFI_BLOCK_IO_PROTOCOL`, UEFI 2.10 section 13.9).
pub trait BlockDevice {
    /// Size of one block in bytes (non-zero; 512 or 4096 in practice).
    fn block_size(&self) -> u32;
    /// LBA of the last block; the device holds `last_block() + 1` blocks.
    fn last_block(&self) -> u64;
    /// Reads `buf.len() / block_size()` blocks starting at `lba` into `buf`.
    ///
    /// Errors: [`BlockError::BadBufferSize`] if `buf` is not whole blocks, [`BlockError::OutOfRange`] if the
    /// transfer passes `last_block()`, or a device error.
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `buf.len() / block_size()` blocks starting at `lba` from `buf`. Errors as for `read_blocks`, plus
    /// [`BlockError::WriteProtected`].
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError>;
    /// Makes previous writes durable.
    fn flush(&mut self) -> Result<(), BlockError>;
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    fn block_size(&self) -> u32 {
        (**self).block_size()
    }
    fn last_block(&self) -> u64 {
        (**self).last_block()
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        (**self).read_blocks(lba, buf)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        (**self).write_blocks(lba, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        (**self).flush()
    }
}

/// Checks a transfer of `len` bytes at `lba` against a device of `block_size` and `last_block`; returns the block
/// count.
pub fn check_transfer(
    block_size: u32,
    last_block: u64,
    lba: u64,
    len: usize,
) -> Result<u64, BlockError> {
    if block_size == 0 || len % block_size as usize != 0 {
        return Err(BlockError::BadBufferSize { len, block_size });
    }
    let blocks = (len / block_size as usize) as u64;
    if blocks == 0 {
        return Ok(0);
    }
    match lba.checked_add(blocks - 1) {
        Some(end) if end <= last_block => Ok(blocks),
        _ => Err(BlockError::OutOfRange { lba, blocks }),
    }
}

/// A RAM disk backed by a `Vec<u8>` (host tests, RAM-disk devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemDisk {
    block_size: u32,
    data: Vec<u8>,
    read_only: bool,
}

impl MemDisk {
    /// A zero-filled disk of `blocks` blocks of `block_size` bytes. Errors: [`BlockError::BadGeometry`] if either
    /// is zero or the size overflows `usize`.
    pub fn new(block_size: u32, blocks: u64) -> Result<Self, BlockError> {
        let len = usize::try_from(blocks)
            .ok()
            .and_then(|b| b.checked_mul(block_size as usize))
            .ok_or(BlockError::BadGeometry)?;
        Self::from_vec(block_size, vec![0; len])
    }

    /// Wraps existing bytes. Errors: [`BlockError::BadGeometry`] if `block_size` is zero, `data` is empty or not a
    /// whole number of blocks.
    pub fn from_vec(block_size: u32, data: Vec<u8>) -> Result<Self, BlockError> {
        if block_size == 0 || data.is_empty() || data.len() % block_size as usize != 0 {
            return Err(BlockError::BadGeometry);
        }
        Ok(Self {
            block_size,
            data,
            read_only: false,
        })
    }

    /// Makes writes fail with [`BlockError::WriteProtected`] (or succeed again).
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// The disk contents.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The disk contents, mutable (tests corrupt images through this).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Returns the backing bytes.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    fn range(&self, lba: u64, len: usize) -> Result<core::ops::Range<usize>, BlockError> {
        check_transfer(self.block_size, self.last_block(), lba, len)?;
        // In range: lba * block_size + len <= data.len(), which fits usize.
        let start = lba as usize * self.block_size as usize;
        Ok(start..start + len)
    }
}

impl BlockDevice for MemDisk {
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn last_block(&self) -> u64 {
        (self.data.len() / self.block_size as usize) as u64 - 1
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let r = self.range(lba, buf.len())?;
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::WriteProtected);
        }
        let r = self.range(lba, buf.len())?;
        self.data[r].copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
}

/// The blocks `[start, start + blocks)` of an inner device, addressed from LBA 0 (a partition's view).
#[derive(Debug)]
pub struct BlockWindow<D> {
    inner: D,
    start: u64,
    blocks: u64,
}

impl<D: BlockDevice> BlockWindow<D> {
    /// A window of `blocks` blocks from `start`. Errors: [`BlockError::OutOfRange`] if it is empty or does not lie
    /// inside `inner`.
    pub fn new(inner: D, start: u64, blocks: u64) -> Result<Self, BlockError> {
        match start.checked_add(blocks) {
            Some(end) if blocks > 0 && end - 1 <= inner.last_block() => Ok(Self {
                inner,
                start,
                blocks,
            }),
            _ => Err(BlockError::OutOfRange { lba: start, blocks }),
        }
    }

    /// First block of the window on the inner device.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Returns the inner device.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: BlockDevice> BlockDevice for BlockWindow<D> {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn last_block(&self) -> u64 {
        self.blocks - 1
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_transfer(self.block_size(), self.last_block(), lba, buf.len())?;
        self.inner.read_blocks(self.start + lba, buf)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        check_transfer(self.block_size(), self.last_block(), lba, buf.len())?;
        self.inner.write_blocks(self.start + lba, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memdisk_bounds() {
        let mut d = MemDisk::new(512, 4).unwrap();
        assert_eq!(d.last_block(), 3);
        let mut b = [0u8; 1024];
        assert!(d.read_blocks(2, &mut b).is_ok());
        assert_eq!(
            d.read_blocks(3, &mut b),
            Err(BlockError::OutOfRange { lba: 3, blocks: 2 })
        );
        assert_eq!(
            d.read_blocks(u64::MAX, &mut b),
            Err(BlockError::OutOfRange {
                lba: u64::MAX,
                blocks: 2
            })
        );
        assert_eq!(
            d.read_blocks(0, &mut b[..100]),
            Err(BlockError::BadBufferSize {
                len: 100,
                block_size: 512
            })
        );
        assert_eq!(
            MemDisk::from_vec(512, vec![0; 513]),
            Err(BlockError::BadGeometry)
        );
        d.set_read_only(true);
        assert_eq!(
            d.write_blocks(0, &b[..512]),
            Err(BlockError::WriteProtected)
        );
    }

    #[test]
    fn window_translates_and_bounds() {
        let mut d = MemDisk::new(512, 8).unwrap();
        d.as_bytes_mut()[3 * 512] = 0xAB;
        let mut w = BlockWindow::new(&mut d, 3, 2).unwrap();
        let mut b = [0u8; 512];
        w.read_blocks(0, &mut b).unwrap();
        assert_eq!(b[0], 0xAB);
        assert!(w.read_blocks(2, &mut b).is_err());
        assert!(BlockWindow::new(&mut d, 7, 2).is_err());
        assert!(BlockWindow::new(&mut d, 7, 0).is_err());
    }
}
