//! Byte-addressed access to a block device: the logic of `EFI_DISK_IO_PROTOCOL` (UEFI 2.10 section 13.7).
//!
//! `ReadDisk`/`WriteDisk` take a byte `Offset` and a byte count; the device only moves whole blocks. A request is
//! split into at most three parts:
//! - a **head**: the block holding `offset` when `offset` is not block-aligned (or the whole request when it fits
//!   inside that one block), transferred through a one-block bounce buffer;
//! - a **middle** of whole blocks, transferred directly between the caller's buffer and the device in one call;
//! - a **tail**: the last, partial block, again through the bounce buffer.
//!
//! Writes of a partial block are read-modify-write: the block is read, the caller's bytes replace their part,
//! the block is written back. A request must lie inside the device (`offset + len <= (last_block + 1) *
//! block_size`, computed without overflow), else [`BlockError::OutOfRange`] (`EFI_INVALID_PARAMETER`) and nothing
//! is transferred. A zero-length request succeeds without touching the device. `MediaId` is not seen here: the
//! device adapter passes it with every block transfer, and a stale one comes back as
//! [`BlockError::MediaChanged`].

use crate::block::{BlockDevice, BlockError};
use alloc::vec;

/// Checks that `[offset, offset + len)` lies on `dev`; returns the block size.
fn check_range<D: BlockDevice + ?Sized>(
    dev: &D,
    offset: u64,
    len: usize,
) -> Result<u64, BlockError> {
    let bs = dev.block_size() as u64;
    if bs == 0 {
        return Err(BlockError::BadGeometry);
    }
    let size = dev
        .last_block()
        .checked_add(1)
        .and_then(|b| b.checked_mul(bs));
    let end = offset.checked_add(len as u64);
    match (size, end) {
        (Some(size), Some(end)) if end <= size => Ok(bs),
        // A device of 2^64 bytes or more: every request whose end does not overflow fits.
        (None, Some(_)) => Ok(bs),
        _ => Err(BlockError::OutOfRange {
            lba: offset / bs,
            blocks: (len as u64).div_ceil(bs),
        }),
    }
}

/// `ReadDisk`: reads `buf.len()` bytes from byte `offset` of `dev`.
///
/// Errors: [`BlockError::OutOfRange`] when the range is not on the device; otherwise the device's errors
/// (`Device`, `NoMedia`, `MediaChanged`, ...). On error `buf` may be partly written.
pub fn read_disk<D: BlockDevice + ?Sized>(
    dev: &mut D,
    offset: u64,
    mut buf: &mut [u8],
) -> Result<(), BlockError> {
    let bs = check_range(dev, offset, buf.len())?;
    if buf.is_empty() {
        return Ok(());
    }
    let mut lba = offset / bs;
    let within = (offset % bs) as usize;
    let mut bounce = vec![0u8; 0];
    // Head: a partial first block, or a request inside one block.
    if within != 0 || buf.len() < bs as usize {
        bounce.resize(bs as usize, 0);
        dev.read_blocks(lba, &mut bounce)?;
        let n = (bs as usize - within).min(buf.len());
        buf[..n].copy_from_slice(&bounce[within..within + n]);
        buf = &mut buf[n..];
        lba += 1;
    }
    // Middle: whole blocks, straight into the caller's buffer.
    let whole = buf.len() / bs as usize * bs as usize;
    if whole > 0 {
        dev.read_blocks(lba, &mut buf[..whole])?;
        buf = &mut buf[whole..];
        lba += (whole as u64) / bs;
    }
    // Tail: the start of one more block.
    if !buf.is_empty() {
        bounce.resize(bs as usize, 0);
        dev.read_blocks(lba, &mut bounce)?;
        let n = buf.len();
        buf.copy_from_slice(&bounce[..n]);
    }
    Ok(())
}

/// `WriteDisk`: writes `data` at byte `offset` of `dev`; partial blocks are read, modified and written back.
///
/// Errors: [`BlockError::OutOfRange`] when the range is not on the device; otherwise the device's errors
/// (`WriteProtected`, `Device`, `NoMedia`, `MediaChanged`, ...). On error part of `data` may have been written.
pub fn write_disk<D: BlockDevice + ?Sized>(
    dev: &mut D,
    offset: u64,
    mut data: &[u8],
) -> Result<(), BlockError> {
    let bs = check_range(dev, offset, data.len())?;
    if data.is_empty() {
        return Ok(());
    }
    let mut lba = offset / bs;
    let within = (offset % bs) as usize;
    let mut bounce = vec![0u8; 0];
    if within != 0 || data.len() < bs as usize {
        bounce.resize(bs as usize, 0);
        dev.read_blocks(lba, &mut bounce)?;
        let n = (bs as usize - within).min(data.len());
        bounce[within..within + n].copy_from_slice(&data[..n]);
        dev.write_blocks(lba, &bounce)?;
        data = &data[n..];
        lba += 1;
    }
    let whole = data.len() / bs as usize * bs as usize;
    if whole > 0 {
        dev.write_blocks(lba, &data[..whole])?;
        data = &data[whole..];
        lba += (whole as u64) / bs;
    }
    if !data.is_empty() {
        bounce.resize(bs as usize, 0);
        dev.read_blocks(lba, &mut bounce)?;
        bounce[..data.len()].copy_from_slice(data);
        dev.write_blocks(lba, &bounce)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::MemDisk;
    use alloc::vec::Vec;

    /// A MemDisk that records every transfer as `(write, lba, blocks)`.
    struct Recording {
        disk: MemDisk,
        log: Vec<(bool, u64, u64)>,
    }

    impl BlockDevice for Recording {
        fn block_size(&self) -> u32 {
            self.disk.block_size()
        }
        fn last_block(&self) -> u64 {
            self.disk.last_block()
        }
        fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
            self.log
                .push((false, lba, buf.len() as u64 / self.block_size() as u64));
            self.disk.read_blocks(lba, buf)
        }
        fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
            self.log
                .push((true, lba, buf.len() as u64 / self.block_size() as u64));
            self.disk.write_blocks(lba, buf)
        }
        fn flush(&mut self) -> Result<(), BlockError> {
            Ok(())
        }
    }

    fn disk(bs: u32, blocks: u64) -> Recording {
        let mut disk = MemDisk::new(bs, blocks).unwrap();
        for (i, b) in disk.as_bytes_mut().iter_mut().enumerate() {
            *b = (i * 7 + i / 251) as u8;
        }
        Recording {
            disk,
            log: Vec::new(),
        }
    }

    #[test]
    fn reads_match_the_bytes_for_every_alignment() {
        for bs in [512u32, 4096] {
            let mut d = disk(bs, 8);
            let image = d.disk.as_bytes().to_vec();
            let size = image.len();
            for (offset, len) in [
                (0, 0),
                (0, 1),
                (1, 1),
                (0, bs as usize),
                (3, bs as usize),
                (bs as usize - 1, 2),
                (5, 3 * bs as usize + 17),
                (0, size),
                (size - 1, 1),
                (size, 0),
            ] {
                let mut buf = vec![0u8; len];
                read_disk(&mut d, offset as u64, &mut buf).unwrap();
                assert_eq!(
                    buf,
                    image[offset..offset + len],
                    "bs {bs} at {offset}+{len}"
                );
            }
        }
    }

    #[test]
    fn only_head_and_tail_go_through_the_bounce_block() {
        let mut d = disk(512, 16);
        let mut buf = vec![0u8; 3 * 512];
        read_disk(&mut d, 100, &mut buf).unwrap();
        // Head block 0, middle blocks 1..=2 in one call, tail block 3.
        assert_eq!(d.log, [(false, 0, 1), (false, 1, 2), (false, 3, 1)]);
        d.log.clear();
        read_disk(&mut d, 1024, &mut buf).unwrap();
        assert_eq!(d.log, [(false, 2, 3)], "aligned requests are one transfer");
        d.log.clear();
        read_disk(&mut d, 0, &mut buf[..0]).unwrap();
        assert!(d.log.is_empty(), "a zero-length read touches nothing");
    }

    #[test]
    fn writes_keep_the_bytes_around_them() {
        let mut d = disk(512, 8);
        let mut model = d.disk.as_bytes().to_vec();
        for (offset, len) in [
            (1usize, 1usize),
            (510, 4),
            (700, 1500),
            (1024, 512),
            (3000, 1),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i as u8) ^ 0x5A).collect();
            write_disk(&mut d, offset as u64, &data).unwrap();
            model[offset..offset + len].copy_from_slice(&data);
            assert_eq!(d.disk.as_bytes(), &model[..], "after {offset}+{len}");
        }
        d.log.clear();
        write_disk(&mut d, 700, &[0u8; 1500]).unwrap();
        // Head: read+write block 1; middle: blocks 2..=3 written directly; tail: read+write block 4.
        assert_eq!(
            d.log,
            [
                (false, 1, 1),
                (true, 1, 1),
                (true, 2, 2),
                (false, 4, 1),
                (true, 4, 1)
            ]
        );
    }

    #[test]
    fn out_of_range_requests_fail_before_any_transfer() {
        let mut d = disk(512, 4);
        let mut buf = [0u8; 2];
        assert!(matches!(
            read_disk(&mut d, 2047, &mut buf),
            Err(BlockError::OutOfRange { .. })
        ));
        assert!(matches!(
            read_disk(&mut d, u64::MAX, &mut buf),
            Err(BlockError::OutOfRange { .. })
        ));
        assert!(matches!(
            write_disk(&mut d, 2048, &buf),
            Err(BlockError::OutOfRange { .. })
        ));
        assert!(d.log.is_empty());
        assert_eq!(
            BlockError::OutOfRange { lba: 0, blocks: 0 }.status(),
            r_efi::efi::Status::INVALID_PARAMETER
        );
    }

    #[test]
    fn device_errors_pass_through() {
        let mut d = disk(512, 4);
        d.disk.set_read_only(true);
        assert_eq!(
            write_disk(&mut d, 0, &[0u8; 512]),
            Err(BlockError::WriteProtected)
        );
        assert_eq!(
            write_disk(&mut d, 3, &[0u8; 5]),
            Err(BlockError::WriteProtected)
        );
        assert_eq!(
            BlockError::from_status(r_efi::efi::Status::MEDIA_CHANGED, 0, 512).status(),
            r_efi::efi::Status::MEDIA_CHANGED
        );
        assert_eq!(
            BlockError::from_status(r_efi::efi::Status::TIMEOUT, 0, 512),
            BlockError::Device
        );
    }
}
