//! Named event groups (UEFI 2.10 section 7.1, `CreateEventEx()`, "Related Definitions").
//!
//! Signalling any member of a group signals every member (`SignalEvent()`). The spec defines the groups below;
//! [`EXIT_BOOT_SERVICES_FAILED`] is not in the spec but is the de-facto GUID other firmware signals when
//! `ExitBootServices()` fails, so drivers that quiesced early can undo it.

use r_efi::efi::Guid;

/// `EFI_EVENT_GROUP_EXIT_BOOT_SERVICES` (27abf055-b1b8-4c26-8048-748f37baa2df).
pub const EXIT_BOOT_SERVICES: Guid = r_efi::efi::EVENT_GROUP_EXIT_BOOT_SERVICES;
/// `EFI_EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES` (8be0e274-3970-4b44-80c5-1ab9502f3bfc).
pub const BEFORE_EXIT_BOOT_SERVICES: Guid = r_efi::efi::EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES;
/// `EFI_EVENT_GROUP_VIRTUAL_ADDRESS_CHANGE` (13fa7698-c831-49c7-87ea-8f43fcc25196).
pub const VIRTUAL_ADDRESS_CHANGE: Guid = r_efi::efi::EVENT_GROUP_VIRTUAL_ADDRESS_CHANGE;
/// `EFI_EVENT_GROUP_MEMORY_MAP_CHANGE` (78bee926-692f-48fd-9edb-01422ef0d7ab).
pub const MEMORY_MAP_CHANGE: Guid = r_efi::efi::EVENT_GROUP_MEMORY_MAP_CHANGE;
/// `EFI_EVENT_GROUP_READY_TO_BOOT` (7ce88fb3-4bd7-4679-87a8-a8d8dee50d2b).
pub const READY_TO_BOOT: Guid = r_efi::efi::EVENT_GROUP_READY_TO_BOOT;
/// ExitBootServices-failed group (4f6c5507-232f-4787-b95e-72f862490cb1), signalled when `ExitBootServices()`
/// returns `EFI_INVALID_PARAMETER` for a stale map key.
pub const EXIT_BOOT_SERVICES_FAILED: Guid = Guid::from_fields(
    0x4f6c5507,
    0x232f,
    0x4787,
    0xb9,
    0x5e,
    &[0x72, 0xf8, 0x62, 0x49, 0x0c, 0xb1],
);
