//! The UEFI variable store (UEFI 2.10 section 8.2, "Variable Services"), heap-free over a fixed byte region.
//!
//! # Design
//!
//! After ExitBootServices the firmware can no longer use the boot-time heap, so the store never allocates: it is a
//! log of records inside one caller-provided region (`&'static mut [u8]` carved from runtime-services data memory,
//! or any `AsRef<[u8]> + AsMut<[u8]>`). The byte format is documented in `record.rs` ([`record`]): a 16-byte region
//! header (`"VMFWVARS"`, version, `log_len`) then records of a 28-byte header (state, name length, attributes, data
//! length, vendor GUID), the UCS-2LE name with its NUL, and the data.
//!
//! - Writing a variable appends a new VALID record, then marks the previous one OBSOLETE (state byte 0xAA -> 0x00).
//! - Deleting marks the record OBSOLETE.
//! - When the free tail is too short, the store compacts in place (slides VALID records over OBSOLETE ones). If the
//!   variable being rewritten is itself what blocks the write, it is rotated to the end of the log and rewritten
//!   there, so a write succeeds whenever the live records after it fit the region.
//! - [`VariableStore::serialize_non_volatile`] writes the same format holding only the `NON_VOLATILE` variables; a
//!   persistent back end stores those bytes and [`VariableStore::load`] brings them back.
//!
//! # Rules (UEFI 2.10 section 8.2)
//!
//! Implemented in `rules.rs` on [`VariableStore`]; the choices where the spec leaves room are:
//! - Size limits: at most [`MAX_VARIABLE_SIZE`] (32 KiB) of name (with NUL) plus data per variable; the region size is
//!   the caller's ([`RECOMMENDED_STORE_SIZE`], 64 KiB, is what vmfw uses). Volatile, non-volatile and hardware error
//!   record variables share the one region, so QueryVariableInfo reports the same figures for each.
//! - `AUTHENTICATED_WRITE_ACCESS` (deprecated) gives `EFI_UNSUPPORTED`, as section 8.2 tells platforms to.
//!   `TIME_BASED_AUTHENTICATED_WRITE_ACCESS` and `ENHANCED_AUTHENTICATED_ACCESS` give `EFI_SECURITY_VIOLATION`: this
//!   firmware has no authentication verifier, so no authentication descriptor can pass validation, which is the case
//!   the spec assigns that status to. QueryVariableInfo with any of those bits answers `EFI_UNSUPPORTED`.
//! - Non-zero attributes must include `BOOTSERVICE_ACCESS`; `RUNTIME_ACCESS` without it is `EFI_INVALID_PARAMETER`.
//! - After ExitBootServices ([`Phase::Runtime`]) variables without `RUNTIME_ACCESS` are invisible (GetVariable and
//!   GetNextVariableName skip them, deleting one is `EFI_NOT_FOUND`, writing its name is `EFI_WRITE_PROTECTED`);
//!   volatile runtime variables are read-only (`EFI_WRITE_PROTECTED`); new writes need `NON_VOLATILE |
//!   BOOTSERVICE_ACCESS | RUNTIME_ACCESS`.
//! - Read-only variables: the firmware creates the variables it owns (`SecureBoot`, `PlatformLangCodes`, ...) with
//!   [`VariableStore::set_firmware_variable`] and a read-only flag in the record; SetVariable on them (replace,
//!   append or delete, in either phase) answers `EFI_WRITE_PROTECTED`, after the attribute checks.
//! - GetNextVariableName enumerates in ascending (vendor GUID bytes, name code units) order. The order depends only on
//!   the set of keys, so it is stable across rewrites, compaction and serialization.

mod name;
pub mod record;
mod region;
mod rules;
mod store;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_firmware;
#[cfg(test)]
mod tests_store;

use r_efi::efi::{
    VARIABLE_BOOTSERVICE_ACCESS, VARIABLE_HARDWARE_ERROR_RECORD, VARIABLE_NON_VOLATILE,
    VARIABLE_RUNTIME_ACCESS,
};

pub use name::{NameError, VariableName};
pub use record::FormatError;
pub use region::RawRegion;
pub use store::VariableStore;

/// Per-variable limit in bytes on name (UCS-2, NUL included) plus data: 32 KiB.
pub const MAX_VARIABLE_SIZE: usize = 32 * 1024;

/// Region size vmfw gives the store: 64 KiB, of which 16 bytes are the region header.
pub const RECOMMENDED_STORE_SIZE: usize = 64 * 1024;

/// Attribute bits a stored record may carry; `APPEND_WRITE` is a write mode, never stored.
pub const STORED_ATTRIBUTES: u32 = VARIABLE_NON_VOLATILE
    | VARIABLE_BOOTSERVICE_ACCESS
    | VARIABLE_RUNTIME_ACCESS
    | VARIABLE_HARDWARE_ERROR_RECORD;

/// Which phase the call comes from; variable visibility depends on it (UEFI 2.10 section 8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before ExitBootServices: every variable is visible.
    BootServices,
    /// After ExitBootServices: only `RUNTIME_ACCESS` variables are visible.
    Runtime,
}

/// What GetVariable reports on success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariableInfo {
    /// The variable's attribute bits.
    pub attributes: u32,
    /// Bytes of data copied into the caller's buffer.
    pub data_size: usize,
}

/// What QueryVariableInfo reports, in bytes (UEFI 2.10 section 8.2, QueryVariableInfo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageInfo {
    /// Space for variables in total: the region minus its header.
    pub maximum_variable_storage_size: u64,
    /// Space left: total minus the bytes of VALID records (OBSOLETE ones are reclaimable, so count as free).
    pub remaining_variable_storage_size: u64,
    /// Largest name-plus-data a single variable may have.
    pub maximum_variable_size: u64,
}
