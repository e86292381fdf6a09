//! From a boot option's device path to the full device paths LoadImage is given (UEFI 2.10 section 3.1.2, "Load
//! Option Processing", and section 3.5.1, "Removable Media Boot Behavior").
//!
//! A `Boot####` path comes in one of these shapes:
//! - **short-form hard drive**: it starts with a hard drive media node (`HD(1,GPT,<guid>,...)/\EFI\...`, what
//!   `efibootmgr` and `bootctl` write). It is expanded against the partitions present: every file system whose
//!   path holds the same partition (number, format and signature) gives its path up to that node, then the rest
//!   of the option's path.
//! - **short-form file path**: it starts with a file path node. Every file system present is tried with it.
//! - **full path**: anything else. When it names a file it is used as it is. When it names only a device, the
//!   file systems on that device (those whose path starts with the option's) are tried with the removable-media
//!   default file [`DEFAULT_FILE_X64`]; when there is none, the path is used as it is (a LoadFile device, such as
//!   the `-kernel` loader, or a disk whose file system could not be read, which LoadImage then reports).
//!
//! A short-form path that yields no file name is completed with the default file name as well.

use alloc::vec::Vec;

use super::file::has_file_name;
use super::{starts_with, Node};

/// The removable-media default file name on x64 (UEFI 2.10 section 3.5.1.1, `\EFI\BOOT\BOOT{arch}.EFI`).
pub const DEFAULT_FILE_X64: &str = "\\EFI\\BOOT\\BOOTX64.EFI";

fn with_default_file(mut path: Vec<Node>) -> Vec<Node> {
    if !has_file_name(&path) {
        path.push(Node::file_path(DEFAULT_FILE_X64));
    }
    path
}

/// The full device paths to try, in order, for a boot option whose first device path is `option`, given the
/// device paths of the Simple File System handles present (`file_systems`, in enumeration order). Never empty for
/// a full path; empty for a short-form path that matches nothing present.
pub fn candidates(option: &[Node], file_systems: &[Vec<Node>]) -> Vec<Vec<Node>> {
    match option.first() {
        Some(Node::HardDrive(hd)) => file_systems
            .iter()
            .filter_map(|fs| {
                let at = fs.iter().position(
                    |n| matches!(n, Node::HardDrive(other) if other.same_partition(hd)),
                )?;
                let mut path = fs[..=at].to_vec();
                path.extend_from_slice(&option[1..]);
                Some(with_default_file(path))
            })
            .collect(),
        Some(Node::FilePath(_)) => file_systems
            .iter()
            .map(|fs| {
                let mut path = fs.clone();
                path.extend_from_slice(option);
                path
            })
            .collect(),
        _ if has_file_name(option) => alloc::vec![option.to_vec()],
        _ => {
            let on_device: Vec<Vec<Node>> = file_systems
                .iter()
                .filter(|fs| starts_with(fs, option))
                .map(|fs| with_default_file(fs.clone()))
                .collect();
            if on_device.is_empty() {
                alloc::vec![option.to_vec()]
            } else {
                on_device
            }
        }
    }
}

/// The full path a boot option stands for, to match it against QEMU's bootorder: the first candidate, or the
/// option's own path when a short form matches nothing present.
pub fn resolved(option: &[Node], file_systems: &[Vec<Node>]) -> Vec<Node> {
    candidates(option, file_systems)
        .into_iter()
        .next()
        .unwrap_or_else(|| option.to_vec())
}
