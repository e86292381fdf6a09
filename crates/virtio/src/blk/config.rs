//! virtio-blk feature bits (virtio 1.2 §5.2.3), the device configuration layout (§5.2.4) and what a driver makes
//! of it ([`Media`], §5.2.5).
//!
//! Configuration layout (`struct virtio_blk_config`), little-endian, offsets used here: `capacity` (le64, 512-byte
//! sectors) 0, `size_max` (le32) 8, `seg_max` (le32) 12, `geometry` 16 (not used), `blk_size` (le32) 20,
//! `topology` 24 (`physical_block_exp` u8 24, `alignment_offset` u8 25, `min_io_size` le16 26, `opt_io_size`
//! le32 28), `writeback` (u8) 32. A field is read only when the feature that makes it valid was negotiated, and
//! the whole structure is read under one `config_generation` (§2.5.1), since `capacity` spans two 32-bit reads.

use crate::transport::{read_config_stable, Transport};
use crate::Error;

/// `VIRTIO_BLK_F_SIZE_MAX` (bit 1): `size_max` is the largest segment the device takes.
pub const VIRTIO_BLK_F_SIZE_MAX: u64 = 1 << 1;
/// `VIRTIO_BLK_F_SEG_MAX` (bit 2): `seg_max` is the largest number of data segments in a request.
pub const VIRTIO_BLK_F_SEG_MAX: u64 = 1 << 2;
/// `VIRTIO_BLK_F_GEOMETRY` (bit 4): legacy disk geometry is valid. Not used.
pub const VIRTIO_BLK_F_GEOMETRY: u64 = 1 << 4;
/// `VIRTIO_BLK_F_RO` (bit 5): the device is read-only.
pub const VIRTIO_BLK_F_RO: u64 = 1 << 5;
/// `VIRTIO_BLK_F_BLK_SIZE` (bit 6): `blk_size` is the device's logical block size.
pub const VIRTIO_BLK_F_BLK_SIZE: u64 = 1 << 6;
/// `VIRTIO_BLK_F_FLUSH` (bit 9; legacy name `VIRTIO_BLK_F_WCE`): the device takes `VIRTIO_BLK_T_FLUSH`.
pub const VIRTIO_BLK_F_FLUSH: u64 = 1 << 9;
/// `VIRTIO_BLK_F_TOPOLOGY` (bit 10): `topology` is valid.
pub const VIRTIO_BLK_F_TOPOLOGY: u64 = 1 << 10;
/// `VIRTIO_BLK_F_CONFIG_WCE` (bit 11): `writeback` tells (and could set) the cache mode.
pub const VIRTIO_BLK_F_CONFIG_WCE: u64 = 1 << 11;
/// `VIRTIO_BLK_F_MQ` (bit 12): more than one request queue. Never negotiated: vmfw uses queue 0 only.
pub const VIRTIO_BLK_F_MQ: u64 = 1 << 12;
/// `VIRTIO_BLK_F_DISCARD` (bit 13). Never negotiated.
pub const VIRTIO_BLK_F_DISCARD: u64 = 1 << 13;

/// The device-specific features the block driver implements (the transport adds `VERSION_1` and
/// `ACCESS_PLATFORM`, see [`crate::features::negotiate`]).
pub const DRIVER_FEATURES: u64 = VIRTIO_BLK_F_SIZE_MAX
    | VIRTIO_BLK_F_SEG_MAX
    | VIRTIO_BLK_F_RO
    | VIRTIO_BLK_F_BLK_SIZE
    | VIRTIO_BLK_F_FLUSH
    | VIRTIO_BLK_F_TOPOLOGY
    | VIRTIO_BLK_F_CONFIG_WCE;

/// Offset of `capacity`.
pub const CAPACITY: u32 = 0;
/// Offset of `size_max`.
pub const SIZE_MAX: u32 = 8;
/// Offset of `seg_max`.
pub const SEG_MAX: u32 = 12;
/// Offset of `blk_size`.
pub const BLK_SIZE: u32 = 20;
/// Offset of `topology.physical_block_exp`.
pub const PHYSICAL_BLOCK_EXP: u32 = 24;
/// Offset of `topology.alignment_offset`.
pub const ALIGNMENT_OFFSET: u32 = 25;
/// Offset of `topology.min_io_size`.
pub const MIN_IO_SIZE: u32 = 26;
/// Offset of `topology.opt_io_size`.
pub const OPT_IO_SIZE: u32 = 28;
/// Offset of `writeback`.
pub const WRITEBACK: u32 = 32;

/// The unit of `capacity` and of a request's `sector`, whatever the block size (§5.2.4, §5.2.6).
pub const SECTOR_SIZE: u32 = 512;
/// Largest block size the driver accepts from `blk_size` (a larger or odd value falls back to 512).
pub const MAX_BLOCK_SIZE: u32 = 64 * 1024;

/// `struct virtio_blk_topology` (§5.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Topology {
    /// log2 of logical blocks per physical block.
    pub physical_block_exp: u8,
    /// Offset of the first aligned logical block.
    pub alignment_offset: u8,
    /// Suggested minimum I/O size, in logical blocks.
    pub min_io_size: u16,
    /// Optimal (suggested maximum) I/O size, in logical blocks.
    pub opt_io_size: u32,
}

/// The configuration fields valid under the negotiated features (`None`: feature not negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlkConfig {
    /// Capacity in 512-byte sectors.
    pub capacity: u64,
    /// Largest segment in bytes (`VIRTIO_BLK_F_SIZE_MAX`).
    pub size_max: Option<u32>,
    /// Largest number of data segments per request (`VIRTIO_BLK_F_SEG_MAX`).
    pub seg_max: Option<u32>,
    /// Logical block size in bytes (`VIRTIO_BLK_F_BLK_SIZE`).
    pub blk_size: Option<u32>,
    /// I/O topology (`VIRTIO_BLK_F_TOPOLOGY`).
    pub topology: Option<Topology>,
    /// Cache mode, `true` = writeback (`VIRTIO_BLK_F_CONFIG_WCE`).
    pub writeback: Option<bool>,
}

impl BlkConfig {
    /// Reads the configuration valid under `features` from `transport` (one stable generation).
    ///
    /// Errors: [`Error::ConfigOutOfRange`] (the device's configuration is shorter than a field the features make
    /// valid), [`Error::ConfigUnstable`].
    pub fn read<T: Transport + ?Sized>(transport: &mut T, features: u64) -> Result<Self, Error> {
        let has = |bit: u64| features & bit != 0;
        read_config_stable(transport, |t| {
            let low = t.config_read32(CAPACITY)?;
            let high = t.config_read32(CAPACITY + 4)?;
            let optional = |t: &mut T, bit, offset| -> Result<Option<u32>, Error> {
                if has(bit) {
                    t.config_read32(offset).map(Some)
                } else {
                    Ok(None)
                }
            };
            let size_max = optional(t, VIRTIO_BLK_F_SIZE_MAX, SIZE_MAX)?;
            let seg_max = optional(t, VIRTIO_BLK_F_SEG_MAX, SEG_MAX)?;
            let blk_size = optional(t, VIRTIO_BLK_F_BLK_SIZE, BLK_SIZE)?;
            let topology = if has(VIRTIO_BLK_F_TOPOLOGY) {
                Some(Topology {
                    physical_block_exp: t.config_read8(PHYSICAL_BLOCK_EXP)?,
                    alignment_offset: t.config_read8(ALIGNMENT_OFFSET)?,
                    min_io_size: t.config_read16(MIN_IO_SIZE)?,
                    opt_io_size: t.config_read32(OPT_IO_SIZE)?,
                })
            } else {
                None
            };
            let writeback = if has(VIRTIO_BLK_F_CONFIG_WCE) {
                Some(t.config_read8(WRITEBACK)? != 0)
            } else {
                None
            };
            Ok(Self {
                capacity: u64::from(low) | (u64::from(high) << 32),
                size_max,
                seg_max,
                blk_size,
                topology,
                writeback,
            })
        })
    }
}

/// The disk as a driver presents it (the fields of UEFI's `EFI_BLOCK_IO_MEDIA` that come from the device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media {
    /// Logical block size in bytes: `blk_size` when it is a power of two from 512 to [`MAX_BLOCK_SIZE`], else 512.
    pub block_size: u32,
    /// Number of logical blocks: `capacity` (512-byte sectors) divided by `block_size / 512`, rounded down.
    pub blocks: u64,
    /// `VIRTIO_BLK_F_RO` was negotiated: writes are refused.
    pub read_only: bool,
    /// `VIRTIO_BLK_F_FLUSH` was negotiated: flush requests exist.
    pub flush: bool,
    /// The device caches writes, so a flush is needed for durability: `flush` and (with `CONFIG_WCE`) `writeback`
    /// set. Without `CONFIG_WCE` a device offering `FLUSH` is writeback (§5.2.5).
    pub write_cache: bool,
    /// First logical block aligned to a physical block (`topology.alignment_offset`, else 0).
    pub lowest_aligned_lba: u64,
    /// Logical blocks per physical block (`1 << topology.physical_block_exp`, else 1).
    pub logical_per_physical: u32,
    /// Optimal transfer length granularity in logical blocks (`topology.opt_io_size`, else 0 = not reported).
    pub optimal_transfer_blocks: u32,
}

impl Media {
    /// Derives the media from the configuration and the negotiated `features` (rules on the fields).
    pub fn new(config: &BlkConfig, features: u64) -> Self {
        let block_size = match config.blk_size {
            Some(size)
                if size.is_power_of_two() && (SECTOR_SIZE..=MAX_BLOCK_SIZE).contains(&size) =>
            {
                size
            }
            Some(size) => {
                log::warn!("virtio-blk: blk_size {size} unusable, using {SECTOR_SIZE}");
                SECTOR_SIZE
            }
            None => SECTOR_SIZE,
        };
        let flush = features & VIRTIO_BLK_F_FLUSH != 0;
        let topology = config.topology.unwrap_or_default();
        let logical_per_physical = if config.topology.is_some() && topology.physical_block_exp < 32
        {
            1 << topology.physical_block_exp
        } else {
            1
        };
        Self {
            block_size,
            blocks: config.capacity / u64::from(block_size / SECTOR_SIZE),
            read_only: features & VIRTIO_BLK_F_RO != 0,
            flush,
            write_cache: flush && config.writeback.unwrap_or(true),
            lowest_aligned_lba: u64::from(topology.alignment_offset),
            logical_per_physical,
            optimal_transfer_blocks: topology.opt_io_size,
        }
    }

    /// 512-byte sectors per logical block.
    pub fn sectors_per_block(&self) -> u64 {
        u64::from(self.block_size / SECTOR_SIZE)
    }
}
