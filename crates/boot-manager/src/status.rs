//! UEFI status codes by their specification names (`EFI_NOT_FOUND`), for logs and failure reports
//! (UEFI 2.10 appendix D).

use core::fmt;

use r_efi::efi::Status;

/// Displays a status as its `EFI_*` name, or in hexadecimal when it has none here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name(pub Status);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Status::SUCCESS => "EFI_SUCCESS",
            Status::LOAD_ERROR => "EFI_LOAD_ERROR",
            Status::INVALID_PARAMETER => "EFI_INVALID_PARAMETER",
            Status::UNSUPPORTED => "EFI_UNSUPPORTED",
            Status::BAD_BUFFER_SIZE => "EFI_BAD_BUFFER_SIZE",
            Status::BUFFER_TOO_SMALL => "EFI_BUFFER_TOO_SMALL",
            Status::NOT_READY => "EFI_NOT_READY",
            Status::DEVICE_ERROR => "EFI_DEVICE_ERROR",
            Status::WRITE_PROTECTED => "EFI_WRITE_PROTECTED",
            Status::OUT_OF_RESOURCES => "EFI_OUT_OF_RESOURCES",
            Status::VOLUME_CORRUPTED => "EFI_VOLUME_CORRUPTED",
            Status::VOLUME_FULL => "EFI_VOLUME_FULL",
            Status::NO_MEDIA => "EFI_NO_MEDIA",
            Status::MEDIA_CHANGED => "EFI_MEDIA_CHANGED",
            Status::NOT_FOUND => "EFI_NOT_FOUND",
            Status::ACCESS_DENIED => "EFI_ACCESS_DENIED",
            Status::TIMEOUT => "EFI_TIMEOUT",
            Status::NOT_STARTED => "EFI_NOT_STARTED",
            Status::ALREADY_STARTED => "EFI_ALREADY_STARTED",
            Status::ABORTED => "EFI_ABORTED",
            Status::SECURITY_VIOLATION => "EFI_SECURITY_VIOLATION",
            Status::CRC_ERROR => "EFI_CRC_ERROR",
            Status::END_OF_FILE => "EFI_END_OF_FILE",
            Status::COMPROMISED_DATA => "EFI_COMPROMISED_DATA",
            other => return write!(f, "EFI status {:#x}", other.as_usize()),
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names_and_fallback() {
        assert_eq!(Name(Status::NOT_FOUND).to_string(), "EFI_NOT_FOUND");
        assert_eq!(Name(Status::LOAD_ERROR).to_string(), "EFI_LOAD_ERROR");
        assert_eq!(
            Name(Status::from_usize(0x1234)).to_string(),
            "EFI status 0x1234"
        );
    }
}
