//! One partition child: its Block I/O (a window of the parent's blocks, `LogicalPartition = TRUE`), its device
//! path (the parent's plus `HD(...)`), its `EFI_PARTITION_INFO_PROTOCOL` and, for an EFI system partition, the
//! `EFI_PART_TYPE_EFI_SYSTEM_PART_GUID` tag with a NULL interface (UEFI 2.10 sections 13.3.3, 13.18).
//!
//! The child's Block I/O checks every request against the window before it reaches the parent: `MediaId`
//! (`EFI_MEDIA_CHANGED`, also when the parent's medium changed since), a null buffer or a misaligned one
//! (`EFI_INVALID_PARAMETER`), a size that is not whole blocks (`EFI_BAD_BUFFER_SIZE`), LBAs past the partition
//! (`EFI_INVALID_PARAMETER`), writes to read-only media (`EFI_WRITE_PROTECTED`); then it calls the parent's
//! Block I/O at `LBA + PartitionStart`.

use alloc::vec::Vec;
use core::ffi::c_void;

use r_efi::efi::{self, Guid, Handle, Status};
use r_efi::protocols::{block_io, partition_info};
use storage::block::check_transfer;
use storage::partition::{Partition, PartitionFormat, PartitionRecord};

use crate::drivers::disk_io::binding::Registry;
use crate::drivers::disk_io::device::media_of;

/// `EFI_PART_TYPE_EFI_SYSTEM_PART_GUID` (UEFI 2.10 section 13.3.3), installed with a NULL interface on the ESP.
pub const EFI_SYSTEM_PART_GUID: Guid = Guid::from_fields(
    0xc12a7328,
    0xf81f,
    0x11d2,
    0xba,
    0x4b,
    &[0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b],
);

/// A partition child; `This` of its Block I/O points at `block_io`.
#[repr(C)]
pub struct Child {
    /// The child's Block I/O (first, so `This` is the child).
    pub block_io: block_io::Protocol,
    /// Its media (`block_io.media` points here).
    pub media: block_io::Media,
    /// Its Partition Info.
    pub info: partition_info::Protocol,
    /// Its device path bytes (parent path + HD node + end).
    pub device_path: Vec<u8>,
    /// The parent's Block I/O.
    pub parent_block_io: *mut block_io::Protocol,
    /// The parent handle.
    pub parent: Handle,
    /// The child handle (null until installed).
    pub handle: Handle,
    /// First LBA of the partition on the parent.
    pub start: u64,
    /// EFI system partition.
    pub is_esp: bool,
}

/// Every live child.
pub static CHILDREN: Registry<Child> = Registry::new();

/// The child's media: the parent's, with the partition's size, `LogicalPartition = TRUE` and the lowest aligned
/// LBA shifted into the window.
fn child_media(parent: &block_io::Media, revision: u64, start: u64, size: u64) -> block_io::Media {
    let per_physical = parent.logical_blocks_per_physical_block.max(1) as u64;
    let lowest_aligned = if revision >= block_io::REVISION2 && per_physical > 1 {
        (parent.lowest_aligned_lba % per_physical + per_physical - start % per_physical)
            % per_physical
    } else {
        0
    };
    block_io::Media {
        logical_partition: true,
        last_block: size - 1,
        lowest_aligned_lba: lowest_aligned,
        ..*parent
    }
}

/// Builds (not yet installs) the child for `part` of the parent whose Block I/O is `parent_bio` and device path
/// `parent_path`. Errors: `INVALID_PARAMETER` for an unusable parent Block I/O.
pub fn new_child(
    parent: Handle,
    parent_bio: *mut block_io::Protocol,
    parent_path: &[u8],
    part: &Partition,
) -> Result<Child, Status> {
    media_of(parent_bio)?;
    // SAFETY: `parent_bio` and its media were checked non-null by media_of; copied.
    let (revision, parent_media) =
        unsafe { ((*parent_bio).revision, (*parent_bio).media.read_unaligned()) };
    let node = part.node;
    let media = child_media(
        &parent_media,
        revision,
        node.partition_start,
        node.partition_size,
    );
    let mut info = partition_info::Protocol {
        revision: partition_info::REVISION,
        r#type: match node.partition_format {
            PartitionFormat::Gpt => partition_info::TYPE_GPT,
            PartitionFormat::Mbr => partition_info::TYPE_MBR,
        },
        system: part.is_esp as u8,
        reserved: [0; 7],
        // SAFETY: an all-zero GPT entry is a valid value of the (plain-data) union.
        info: unsafe { core::mem::zeroed() },
    };
    let raw: &[u8] = match &part.record {
        PartitionRecord::Gpt(entry) => entry,
        PartitionRecord::Mbr(record) => record,
    };
    // SAFETY: the union is 128 bytes of plain data; `raw` is at most 128 bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(
            raw.as_ptr(),
            core::ptr::addr_of_mut!(info.info) as *mut u8,
            raw.len(),
        )
    };
    Ok(Child {
        block_io: block_io::Protocol {
            revision: revision.min(block_io::REVISION3),
            media: core::ptr::null(),
            reset,
            read_blocks,
            write_blocks,
            flush_blocks,
        },
        media,
        info,
        device_path: storage::device_path::append_node(parent_path, &node.to_bytes()),
        parent_block_io: parent_bio,
        parent,
        handle: core::ptr::null_mut(),
        start: node.partition_start,
        is_esp: part.is_esp,
    })
}

/// The `(GUID, interface)` pairs to install for `child` (after it reached its final address).
pub fn protocols(child: *mut Child) -> Vec<(Guid, *mut c_void)> {
    // SAFETY: `child` is a live boxed Child; only field addresses are taken and one field written.
    unsafe {
        (*child).block_io.media = core::ptr::addr_of!((*child).media);
        let mut pairs = alloc::vec![
            (
                r_efi::protocols::device_path::PROTOCOL_GUID,
                (*child).device_path.as_mut_ptr() as *mut c_void
            ),
            (
                block_io::PROTOCOL_GUID,
                core::ptr::addr_of_mut!((*child).block_io) as *mut c_void
            ),
            (
                partition_info::PROTOCOL_GUID,
                core::ptr::addr_of_mut!((*child).info) as *mut c_void
            ),
        ];
        if (*child).is_esp {
            pairs.push((EFI_SYSTEM_PART_GUID, core::ptr::null_mut()));
        }
        pairs
    }
}

/// The checks of a child transfer; returns `(child, parent LBA)`.
fn check(
    this: *mut block_io::Protocol,
    media_id: u32,
    lba: u64,
    size: usize,
    buffer: *mut c_void,
    write: bool,
) -> Result<(*mut Child, u64), Status> {
    let child = CHILDREN.check(this as *mut Child)?;
    // SAFETY: registered children are live; `media` is ours.
    let media = unsafe { (*child).media };
    // SAFETY: as above; the parent's Block I/O stays installed while the child exists (opened BY_DRIVER).
    let parent = media_of(unsafe { (*child).parent_block_io })?;
    if !parent.present {
        return Err(Status::NO_MEDIA);
    }
    if media_id != media.media_id || parent.media_id != media.media_id {
        return Err(Status::MEDIA_CHANGED);
    }
    if write && media.read_only {
        return Err(Status::WRITE_PROTECTED);
    }
    if buffer.is_null() && size != 0 {
        return Err(Status::INVALID_PARAMETER);
    }
    if media.io_align > 1 && !(buffer as usize).is_multiple_of(media.io_align as usize) {
        return Err(Status::INVALID_PARAMETER);
    }
    check_transfer(media.block_size, media.last_block, lba, size).map_err(|e| e.status())?;
    // SAFETY: as above.
    Ok((child, lba + unsafe { (*child).start }))
}

extern "efiapi" fn reset(this: *mut block_io::Protocol, extended: efi::Boolean) -> Status {
    match CHILDREN.check(this as *mut Child) {
        // SAFETY: a registered child's parent Block I/O is live.
        Ok(child) => unsafe {
            let parent = (*child).parent_block_io;
            ((*parent).reset)(parent, extended)
        },
        Err(e) => e,
    }
}

/// `ReadBlocks()` of a partition (UEFI 2.10 section 13.9.3).
extern "efiapi" fn read_blocks(
    this: *mut block_io::Protocol,
    media_id: u32,
    lba: u64,
    size: usize,
    buffer: *mut c_void,
) -> Status {
    match check(this, media_id, lba, size, buffer, false) {
        Ok(_) if size == 0 => Status::SUCCESS,
        // SAFETY: the request lies inside the partition, which lies inside the parent; the parent checks the
        // rest; the caller's buffer is passed through.
        Ok((child, parent_lba)) => unsafe {
            let parent = (*child).parent_block_io;
            ((*parent).read_blocks)(parent, media_id, parent_lba, size, buffer)
        },
        Err(e) => e,
    }
}

/// `WriteBlocks()` of a partition (UEFI 2.10 section 13.9.4).
extern "efiapi" fn write_blocks(
    this: *mut block_io::Protocol,
    media_id: u32,
    lba: u64,
    size: usize,
    buffer: *mut c_void,
) -> Status {
    match check(this, media_id, lba, size, buffer, true) {
        Ok(_) if size == 0 => Status::SUCCESS,
        // SAFETY: as for reads.
        Ok((child, parent_lba)) => unsafe {
            let parent = (*child).parent_block_io;
            ((*parent).write_blocks)(parent, media_id, parent_lba, size, buffer)
        },
        Err(e) => e,
    }
}

extern "efiapi" fn flush_blocks(this: *mut block_io::Protocol) -> Status {
    match CHILDREN.check(this as *mut Child) {
        // SAFETY: a registered child's parent Block I/O is live.
        Ok(child) => unsafe {
            let parent = (*child).parent_block_io;
            ((*parent).flush_blocks)(parent)
        },
        Err(e) => e,
    }
}
