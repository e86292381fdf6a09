//! The optional-header `Subsystem` of a UEFI image and the memory types UEFI assigns to each.
//!
//! UEFI 2.10 section 2.1.1 defines subsystems 10, 11 and 12; section 7.4.1 (`LoadImage`) and the
//! `EFI_LOADED_IMAGE_PROTOCOL` (section 9.1) say the image's code and data live in memory of the type that goes
//! with its subsystem. The memory types are `EFI_MEMORY_TYPE` values (UEFI 2.10 section 7.2, `AllocatePages`).

/// `EFI_MEMORY_TYPE` `EfiLoaderCode`.
pub const EFI_LOADER_CODE: u32 = 1;
/// `EFI_MEMORY_TYPE` `EfiLoaderData`.
pub const EFI_LOADER_DATA: u32 = 2;
/// `EFI_MEMORY_TYPE` `EfiBootServicesCode`.
pub const EFI_BOOT_SERVICES_CODE: u32 = 3;
/// `EFI_MEMORY_TYPE` `EfiBootServicesData`.
pub const EFI_BOOT_SERVICES_DATA: u32 = 4;
/// `EFI_MEMORY_TYPE` `EfiRuntimeServicesCode`.
pub const EFI_RUNTIME_SERVICES_CODE: u32 = 5;
/// `EFI_MEMORY_TYPE` `EfiRuntimeServicesData`.
pub const EFI_RUNTIME_SERVICES_DATA: u32 = 6;

/// The subsystem of a UEFI PE32+ image (optional-header `Subsystem`, PE/COFF "Windows Subsystem" values 10-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsystem {
    /// `IMAGE_SUBSYSTEM_EFI_APPLICATION` (10): an application, unloaded when its entry point returns.
    EfiApplication,
    /// `IMAGE_SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER` (11): a driver that lives until `ExitBootServices`.
    EfiBootServiceDriver,
    /// `IMAGE_SUBSYSTEM_EFI_RUNTIME_DRIVER` (12): a driver that stays resident at OS runtime.
    EfiRuntimeDriver,
}

impl Subsystem {
    /// Maps the raw `Subsystem` field to a UEFI subsystem; `None` for any other value (e.g. 13, `EFI_ROM`, which
    /// is not an executable image, or the Windows subsystems).
    pub const fn from_raw(raw: u16) -> Option<Self> {
        match raw {
            10 => Some(Subsystem::EfiApplication),
            11 => Some(Subsystem::EfiBootServiceDriver),
            12 => Some(Subsystem::EfiRuntimeDriver),
            _ => None,
        }
    }

    /// The raw `Subsystem` field value (10, 11 or 12).
    pub const fn raw(self) -> u16 {
        match self {
            Subsystem::EfiApplication => 10,
            Subsystem::EfiBootServiceDriver => 11,
            Subsystem::EfiRuntimeDriver => 12,
        }
    }

    /// The `EFI_MEMORY_TYPE` for the image's pages and its `ImageCodeType`: `EfiLoaderCode`,
    /// `EfiBootServicesCode` or `EfiRuntimeServicesCode`.
    pub const fn code_memory_type(self) -> u32 {
        match self {
            Subsystem::EfiApplication => EFI_LOADER_CODE,
            Subsystem::EfiBootServiceDriver => EFI_BOOT_SERVICES_CODE,
            Subsystem::EfiRuntimeDriver => EFI_RUNTIME_SERVICES_CODE,
        }
    }

    /// The `EFI_MEMORY_TYPE` for the image's `ImageDataType` (its pool allocations): `EfiLoaderData`,
    /// `EfiBootServicesData` or `EfiRuntimeServicesData`.
    pub const fn data_memory_type(self) -> u32 {
        match self {
            Subsystem::EfiApplication => EFI_LOADER_DATA,
            Subsystem::EfiBootServiceDriver => EFI_BOOT_SERVICES_DATA,
            Subsystem::EfiRuntimeDriver => EFI_RUNTIME_SERVICES_DATA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_round_trip_and_others_are_rejected() {
        for raw in 0..=u16::MAX {
            match Subsystem::from_raw(raw) {
                Some(s) => assert_eq!(s.raw(), raw),
                None => assert!(!(10..=12).contains(&raw), "{raw}"),
            }
        }
        assert_eq!(
            Subsystem::EfiRuntimeDriver.code_memory_type(),
            EFI_RUNTIME_SERVICES_CODE
        );
        assert_eq!(
            Subsystem::EfiApplication.data_memory_type(),
            EFI_LOADER_DATA
        );
    }
}
