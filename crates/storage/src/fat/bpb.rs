//! Boot sector and BIOS Parameter Block (Microsoft "FAT: General Overview of On-Disk Format" 1.03, sections 3.1-3.5,
//! "FAT Type Determination" and "FAT32 FSInfo Sector Structure").
//!
//! Every field that sizes or locates something is checked before use, so the derived offsets
//! (`fat_offset`, `root_dir_offset`, `cluster_offset`) are in range for any accepted BPB: the FATs hold an entry
//! for every cluster, and the volume fits the device. The FAT type follows the cluster count alone (`< 4085` FAT12,
//! `< 65525` FAT16, else FAT32), and the BPB layout must agree: FAT32 has `BPB_FATSz16 == 0` and
//! `BPB_RootEntCnt == 0`, FAT12/16 a non-zero `BPB_FATSz16`. The jump instruction and media byte are not checked.

/// FAT variant, by cluster count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatType {
    /// Fewer than 4085 clusters; 12-bit FAT entries.
    Fat12,
    /// 4085..65525 clusters; 16-bit FAT entries.
    Fat16,
    /// 65525 or more clusters; 28-bit FAT entries in 32 bits.
    Fat32,
}

/// Why a boot sector was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BpbError {
    /// The device's first sector could not hold a boot sector (under 512 bytes read).
    TooSmall,
    /// Bytes 510..512 are not `0x55 0xAA`.
    BadSignature,
    /// `BPB_BytsPerSec` is not 512, 1024, 2048 or 4096.
    BadBytesPerSector(u16),
    /// `BPB_SecPerClus` is zero or not a power of two.
    BadSectorsPerCluster(u8),
    /// `BPB_RsvdSecCnt` is zero.
    ZeroReservedSectors,
    /// `BPB_NumFATs` is zero.
    ZeroFats,
    /// Both `BPB_TotSec16` and `BPB_TotSec32` are zero.
    ZeroTotalSectors,
    /// Both `BPB_FATSz16` and `BPB_FATSz32` are zero.
    ZeroFatSize,
    /// Reserved sectors, FATs and root directory do not leave a data region of at least one cluster.
    NoDataRegion,
    /// The cluster count gives `fat_type` but the BPB layout belongs to the other family.
    FatTypeMismatch {
        /// Type from the cluster count.
        fat_type: FatType,
        /// `BPB_FATSz16`.
        fat_size_16: u16,
        /// `BPB_RootEntCnt`.
        root_entry_count: u16,
    },
    /// More clusters than FAT32 can number (cluster numbers would reach the reserved values from 0x0FFFFFF7).
    TooManyClusters(u64),
    /// `BPB_FSVer` of a FAT32 volume is not 0.0.
    UnsupportedVersion(u16),
    /// `BPB_RootClus` is not a data cluster.
    BadRootCluster(u32),
    /// The FAT cannot hold an entry for every cluster.
    FatTooSmall {
        /// Bytes needed for `cluster_count + 2` entries.
        needed: u64,
        /// Bytes in one FAT.
        have: u64,
    },
    /// The volume is larger than the device (truncated image or wrong partition size).
    VolumeLargerThanDevice {
        /// Volume size from the BPB, bytes.
        volume_bytes: u64,
        /// Device size, bytes.
        device_bytes: u64,
    },
}

/// A validated BPB with derived layout values. Sector counts are in `bytes_per_sector` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bpb {
    /// `BPB_BytsPerSec`.
    pub bytes_per_sector: u16,
    /// `BPB_SecPerClus`.
    pub sectors_per_cluster: u8,
    /// `BPB_RsvdSecCnt`.
    pub reserved_sectors: u16,
    /// `BPB_NumFATs`.
    pub num_fats: u8,
    /// `BPB_RootEntCnt` (0 on FAT32).
    pub root_entry_count: u16,
    /// `BPB_TotSec16` or `BPB_TotSec32`.
    pub total_sectors: u32,
    /// `BPB_FATSz16` or `BPB_FATSz32`: sectors per FAT.
    pub fat_size: u32,
    /// `BPB_Media`.
    pub media: u8,
    /// `BPB_HiddSec`.
    pub hidden_sectors: u32,
    /// `BPB_ExtFlags` (FAT32; 0 otherwise): bit 7 set = only FAT `bits 0..3` is active.
    pub ext_flags: u16,
    /// `BPB_RootClus` (FAT32; 0 otherwise).
    pub root_cluster: u32,
    /// `BPB_FSInfo` (FAT32; 0 otherwise).
    pub fs_info_sector: u16,
    /// `BS_VolID` if the extended boot signature 0x29 is present.
    pub volume_id: Option<u32>,
    /// Type from the cluster count.
    pub fat_type: FatType,
    /// `CountofClusters`: data clusters are `2..cluster_count + 2`.
    pub cluster_count: u32,
    /// Sectors of the FAT12/16 fixed root directory (`RootDirSectors`).
    pub root_dir_sectors: u32,
    /// First sector of the data region (cluster 2).
    pub first_data_sector: u32,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

impl Bpb {
    /// Parses the boot sector `sector` (at least its first 512 bytes) of a volume on a device of `device_bytes`.
    pub fn parse(sector: &[u8], device_bytes: u64) -> Result<Self, BpbError> {
        if sector.len() < 512 {
            return Err(BpbError::TooSmall);
        }
        if sector[510..512] != [0x55, 0xAA] {
            return Err(BpbError::BadSignature);
        }
        let bytes_per_sector = u16_at(sector, 11);
        if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096) {
            return Err(BpbError::BadBytesPerSector(bytes_per_sector));
        }
        let sectors_per_cluster = sector[13];
        if !sectors_per_cluster.is_power_of_two() {
            return Err(BpbError::BadSectorsPerCluster(sectors_per_cluster));
        }
        let reserved_sectors = u16_at(sector, 14);
        if reserved_sectors == 0 {
            return Err(BpbError::ZeroReservedSectors);
        }
        let num_fats = sector[16];
        if num_fats == 0 {
            return Err(BpbError::ZeroFats);
        }
        let root_entry_count = u16_at(sector, 17);
        let total_sectors = match u16_at(sector, 19) {
            0 => u32_at(sector, 32),
            n => n as u32,
        };
        if total_sectors == 0 {
            return Err(BpbError::ZeroTotalSectors);
        }
        let fat_size_16 = u16_at(sector, 22);
        let fat_size = match fat_size_16 {
            0 => u32_at(sector, 36),
            n => n as u32,
        };
        if fat_size == 0 {
            return Err(BpbError::ZeroFatSize);
        }
        let bps = bytes_per_sector as u64;
        let root_dir_sectors = (root_entry_count as u64 * 32).div_ceil(bps);
        let meta = reserved_sectors as u64 + num_fats as u64 * fat_size as u64 + root_dir_sectors;
        let data_sectors = (total_sectors as u64)
            .checked_sub(meta)
            .ok_or(BpbError::NoDataRegion)?;
        let cluster_count = data_sectors / sectors_per_cluster as u64; // < 2^32
        if cluster_count == 0 {
            return Err(BpbError::NoDataRegion);
        }
        if cluster_count > 0x0FFF_FFF4 {
            return Err(BpbError::TooManyClusters(cluster_count));
        }
        let fat_type = match cluster_count {
            0..4085 => FatType::Fat12,
            4085..65525 => FatType::Fat16,
            _ => FatType::Fat32,
        };
        let fat32_layout = fat_size_16 == 0;
        if fat32_layout != (fat_type == FatType::Fat32) || (fat32_layout && root_entry_count != 0) {
            return Err(BpbError::FatTypeMismatch {
                fat_type,
                fat_size_16,
                root_entry_count,
            });
        }
        let needed = match fat_type {
            FatType::Fat12 => (cluster_count + 2) * 3 / 2 + 1,
            FatType::Fat16 => (cluster_count + 2) * 2,
            FatType::Fat32 => (cluster_count + 2) * 4,
        };
        let have = fat_size as u64 * bps;
        if needed > have {
            return Err(BpbError::FatTooSmall { needed, have });
        }
        let volume_bytes = total_sectors as u64 * bps;
        if volume_bytes > device_bytes {
            return Err(BpbError::VolumeLargerThanDevice {
                volume_bytes,
                device_bytes,
            });
        }
        let (mut ext_flags, mut root_cluster, mut fs_info_sector, mut sig_off) = (0, 0, 0, 38);
        if fat_type == FatType::Fat32 {
            let version = u16_at(sector, 42);
            if version != 0 {
                return Err(BpbError::UnsupportedVersion(version));
            }
            ext_flags = u16_at(sector, 40);
            root_cluster = u32_at(sector, 44);
            if root_cluster < 2 || root_cluster as u64 >= cluster_count + 2 {
                return Err(BpbError::BadRootCluster(root_cluster));
            }
            fs_info_sector = u16_at(sector, 48);
            sig_off = 66;
        }
        let volume_id = (sector[sig_off] == 0x29).then(|| u32_at(sector, sig_off + 1));
        Ok(Bpb {
            bytes_per_sector,
            sectors_per_cluster,
            reserved_sectors,
            num_fats,
            root_entry_count,
            total_sectors,
            fat_size,
            media: sector[21],
            hidden_sectors: u32_at(sector, 28),
            ext_flags,
            root_cluster,
            fs_info_sector,
            volume_id,
            fat_type,
            cluster_count: cluster_count as u32,
            root_dir_sectors: root_dir_sectors as u32,
            first_data_sector: meta as u32,
        })
    }

    /// Bytes per cluster (at most 128 * 4096 = 512 KiB).
    pub fn cluster_bytes(&self) -> u32 {
        self.bytes_per_sector as u32 * self.sectors_per_cluster as u32
    }

    /// Byte offset of FAT number `index` (`< num_fats`) on the volume.
    pub fn fat_offset(&self, index: u8) -> u64 {
        (self.reserved_sectors as u64 + index as u64 * self.fat_size as u64)
            * self.bytes_per_sector as u64
    }

    /// Byte offset of the FAT12/16 fixed root directory.
    pub fn root_dir_offset(&self) -> u64 {
        self.fat_offset(self.num_fats)
    }

    /// Byte offset of data cluster `cluster` (`2..cluster_count + 2`).
    pub fn cluster_offset(&self, cluster: u32) -> u64 {
        self.first_data_sector as u64 * self.bytes_per_sector as u64
            + (cluster as u64 - 2) * self.cluster_bytes() as u64
    }

    /// True if `cluster` is a data cluster number.
    pub fn is_data_cluster(&self, cluster: u32) -> bool {
        cluster >= 2 && (cluster as u64) < self.cluster_count as u64 + 2
    }
}
