//! Storage stack for vmfw: block devices, partition tables and the FAT file system, for disks whose content is
//! not ours.
//!
//! # Layers
//! - [`block`]: the [`block::BlockDevice`] trait (shape of `EFI_BLOCK_IO_PROTOCOL`, UEFI 2.10 section 13.9), a
//!   Vec-backed [`block::MemDisk`], and [`block::BlockWindow`], a bounds-checked partition view.
//! - [`disk_io`]: byte offsets over blocks, the logic of `EFI_DISK_IO_PROTOCOL` (section 13.7).
//! - [`device_path`]: appending nodes and the text form of device paths for log lines (section 10).
//! - [`partition`]: GPT (UEFI 2.10 section 5.3) with fallback to the backup header, legacy MBR with extended
//!   partitions (section 5.2), and the values of `HD()` device path nodes (section 10.3.5.1).
//! - [`fat`]: FAT12/16/32 (Microsoft FAT specification 1.03; UEFI 2.10 section 13.3): mount, path lookup, read,
//!   list, and create/write/truncate/delete. Our own code: the `fatfs` crate's released versions need `std` or
//!   the nightly-only `core_io` for `no_std`, so it does not fit a stable `no_std` + `alloc` build.
//! - [`sfs`]: UEFI file semantics over a FAT volume (`EFI_SIMPLE_FILE_SYSTEM_PROTOCOL`, `EFI_FILE_PROTOCOL`,
//!   sections 13.4-13.5): path resolution, open files sharing one node per file, directory reads as
//!   `EFI_FILE_INFO`, Get/SetInfo structures, time conversion, and the spec's error statuses.
//!
//! # Invariants
//! - Never trust an on-disk number: every LBA, count, size and cluster number is range-checked before it
//!   addresses memory or the device; arithmetic on such values is done in `u64` or checked.
//! - Every loop over on-disk structures is bounded: EBR chains (visited set + limit), FAT chains (cycle detection +
//!   cluster count + overlap check), directories (65536 entries), GPT entry arrays (4 MiB).
//! - Malformed input yields a precise error enum value ([`partition::PartitionError`], [`partition::gpt::GptError`],
//!   [`partition::mbr::MbrError`], [`fat::FatError`], [`fat::BpbError`]); nothing panics.
//! - Allocations sized from disk data are bounded (GPT array 4 MiB, a directory 2 MiB, a file read by its size).
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod block;
pub mod device_path;
pub mod disk_io;
pub mod fat;
pub mod partition;
pub mod sfs;
