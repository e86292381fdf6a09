//! Byte-addressed access to a block device with a one-block write-through cache.
//!
//! FAT structures (12-bit FAT entries, 32-byte directory entries) do not align with blocks, and the FAT sector
//! size need not equal the device block size. `ByteIo` turns byte ranges into whole-block transfers: block-aligned
//! runs go straight to the device, partial blocks go through the cache with read-modify-write. The cache is
//! write-through and every write that touches the cached block updates it, so it never holds stale data.

use crate::block::{BlockDevice, BlockError};
use alloc::vec;
use alloc::vec::Vec;

/// Byte-granular reader/writer over a [`BlockDevice`].
pub(crate) struct ByteIo<D> {
    pub(crate) dev: D,
    bs: u64,
    cache: Vec<u8>,
    cache_lba: Option<u64>,
}

impl<D: BlockDevice> ByteIo<D> {
    pub(crate) fn new(dev: D) -> Result<Self, BlockError> {
        let bs = dev.block_size();
        if bs == 0 {
            return Err(BlockError::BadGeometry);
        }
        Ok(Self {
            dev,
            bs: bs as u64,
            cache: vec![0; bs as usize],
            cache_lba: None,
        })
    }

    /// Device size in bytes.
    pub(crate) fn size(&self) -> u64 {
        (self.dev.last_block().saturating_add(1)).saturating_mul(self.bs)
    }

    fn load(&mut self, lba: u64) -> Result<(), BlockError> {
        if self.cache_lba != Some(lba) {
            self.cache_lba = None;
            self.dev.read_blocks(lba, &mut self.cache)?;
            self.cache_lba = Some(lba);
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at byte offset `off`.
    pub(crate) fn read(&mut self, mut off: u64, mut buf: &mut [u8]) -> Result<(), BlockError> {
        while !buf.is_empty() {
            let (lba, within) = (off / self.bs, (off % self.bs) as usize);
            let whole = (buf.len() as u64 / self.bs) as usize * self.bs as usize;
            let n = if within == 0 && whole > 0 {
                // Aligned run: direct transfer. The cache is write-through, so the device is current.
                self.dev.read_blocks(lba, &mut buf[..whole])?;
                whole
            } else {
                self.load(lba)?;
                let n = (self.bs as usize - within).min(buf.len());
                buf[..n].copy_from_slice(&self.cache[within..within + n]);
                n
            };
            off += n as u64;
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Writes `data` at byte offset `off`.
    pub(crate) fn write(&mut self, mut off: u64, mut data: &[u8]) -> Result<(), BlockError> {
        while !data.is_empty() {
            let (lba, within) = (off / self.bs, (off % self.bs) as usize);
            let whole = (data.len() as u64 / self.bs) as usize * self.bs as usize;
            let n = if within == 0 && whole > 0 {
                self.dev.write_blocks(lba, &data[..whole])?;
                if let Some(c) = self.cache_lba {
                    if c >= lba && c < lba + (whole as u64 / self.bs) {
                        let s = ((c - lba) * self.bs) as usize;
                        self.cache.copy_from_slice(&data[s..s + self.bs as usize]);
                    }
                }
                whole
            } else {
                self.load(lba)?;
                let n = (self.bs as usize - within).min(data.len());
                self.cache[within..within + n].copy_from_slice(&data[..n]);
                if let Err(e) = self.dev.write_blocks(lba, &self.cache) {
                    self.cache_lba = None;
                    return Err(e);
                }
                n
            };
            off += n as u64;
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes `len` zero bytes at `off`.
    pub(crate) fn zero(&mut self, mut off: u64, mut len: u64) -> Result<(), BlockError> {
        let chunk = vec![0u8; (64 * 1024).min(len) as usize];
        while len > 0 {
            let n = (chunk.len() as u64).min(len);
            self.write(off, &chunk[..n as usize])?;
            off += n;
            len -= n;
        }
        Ok(())
    }
}
