//! Errors of the UEFI file layer, each one `EFI_STATUS` of `EFI_FILE_PROTOCOL` (UEFI 2.10 section 13.5).

use crate::block::BlockError;
use crate::fat::FatError;
use r_efi::efi::Status;

/// Why a file operation failed; [`FsError::status`] is what the protocol function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsError {
    /// `EFI_NOT_FOUND`: a path component does not exist (or a file was used as a directory).
    NotFound,
    /// `EFI_ACCESS_DENIED`: the handle was opened read-only, the file is read-only, or the change is not allowed
    /// (renaming onto an existing name, changing the directory attribute, ...).
    AccessDenied,
    /// `EFI_WRITE_PROTECTED`: the medium is read-only.
    WriteProtected,
    /// `EFI_VOLUME_CORRUPTED`: the on-disk structures are inconsistent (looping or out-of-range chains, ...).
    VolumeCorrupted,
    /// `EFI_VOLUME_FULL`: no free cluster or directory slot, or a file would pass 4 GiB - 1 bytes.
    VolumeFull,
    /// `EFI_DEVICE_ERROR`: the device failed, or a request fell outside it; also reading at a position past the
    /// end of a file (UEFI 2.10 section 13.5.6).
    DeviceError,
    /// `EFI_NO_MEDIA`: no medium, or the volume was stopped while the handle stayed open.
    NoMedia,
    /// `EFI_MEDIA_CHANGED`: the medium is not the one the volume was mounted from.
    MediaChanged,
    /// `EFI_INVALID_PARAMETER`: a bad open mode, attribute, name, path or information structure.
    InvalidParameter,
    /// `EFI_UNSUPPORTED`: the operation does not apply (positions of directories, writes to directories,
    /// an unknown information type).
    Unsupported,
    /// `EFI_BUFFER_TOO_SMALL`: the buffer needs this many bytes.
    BufferTooSmall(usize),
    /// `EFI_BAD_BUFFER_SIZE`: a SetInfo buffer is smaller than its structure (or than the `Size` it claims).
    BadBufferSize,
}

impl FsError {
    /// The `EFI_STATUS` for this error.
    pub fn status(self) -> Status {
        match self {
            FsError::NotFound => Status::NOT_FOUND,
            FsError::AccessDenied => Status::ACCESS_DENIED,
            FsError::WriteProtected => Status::WRITE_PROTECTED,
            FsError::VolumeCorrupted => Status::VOLUME_CORRUPTED,
            FsError::VolumeFull => Status::VOLUME_FULL,
            FsError::DeviceError => Status::DEVICE_ERROR,
            FsError::NoMedia => Status::NO_MEDIA,
            FsError::MediaChanged => Status::MEDIA_CHANGED,
            FsError::InvalidParameter => Status::INVALID_PARAMETER,
            FsError::Unsupported => Status::UNSUPPORTED,
            FsError::BufferTooSmall(_) => Status::BUFFER_TOO_SMALL,
            FsError::BadBufferSize => Status::BAD_BUFFER_SIZE,
        }
    }
}

impl From<BlockError> for FsError {
    /// Device errors: a stale medium, no medium and write protection keep their meaning; anything else
    /// (including a request the device found out of range: the volume does not fit its device) is a device
    /// error.
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::WriteProtected => FsError::WriteProtected,
            BlockError::NoMedia => FsError::NoMedia,
            BlockError::MediaChanged => FsError::MediaChanged,
            _ => FsError::DeviceError,
        }
    }
}

impl From<FatError> for FsError {
    fn from(e: FatError) -> Self {
        match e {
            FatError::Io(b) => b.into(),
            e if e.is_corruption() => FsError::VolumeCorrupted,
            FatError::NotFound | FatError::NotADirectory => FsError::NotFound,
            FatError::IsADirectory => FsError::Unsupported,
            FatError::InvalidPath | FatError::InvalidName => FsError::InvalidParameter,
            FatError::AlreadyExists | FatError::DirectoryNotEmpty => FsError::AccessDenied,
            FatError::DirectoryFull | FatError::NoSpace | FatError::FileTooLarge => {
                FsError::VolumeFull
            }
            // `is_corruption` covers the rest.
            _ => FsError::VolumeCorrupted,
        }
    }
}
