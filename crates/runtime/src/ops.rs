//! One table of runtime operations with swappable back ends (UEFI 2.10 chapter 8).
//!
//! # Design
//!
//! - [`RuntimeBackend`] lists every operation the runtime-services table exposes except SetVirtualAddressMap and
//!   ConvertPointer (which belong to the firmware core). It has no default methods, so a back end that omits an
//!   operation does not compile: the type system rules out a missing ("null") operation.
//! - [`RuntimeOps`] is one complete table: a name plus a `&'static dyn RuntimeBackend` (a reference, never null).
//! - [`Dispatcher`] holds one `AtomicPtr` to the current `RuntimeOps`, created from a reference and replaced only by
//!   [`Dispatcher::switch_backend`] with another reference: one atomic pointer store of a table that was fully built
//!   before, never an update field by field. Each call loads the pointer once and is served entirely by that table.
//! - The phase (boot services or runtime) lives in the dispatcher and is passed to every variable operation, so a
//!   back end switched in after ExitBootServices applies the runtime visibility rules at once.
//! - Back ends: [`Native`] (variables in a [`crate::variables::VariableStore`]) and [`Hypervisor`] (variables owned by
//!   a [`VariableHost`]); both reach the clock and reset through the firmware's [`Clock`] and [`Reset`] traits via
//!   [`PlatformServices`]. [`Unavailable`] answers `EFI_UNSUPPORTED` to everything and is the table in place before
//!   the firmware installs a real one.

mod dispatch;
mod hypervisor;
mod native;
mod platform;

#[cfg(test)]
mod tests;

use r_efi::efi::{CapsuleHeader, Guid, ResetType, Status, Time, TimeCapabilities};

use crate::error::{Result, RuntimeError};
use crate::variables::{Phase, StorageInfo, VariableInfo, VariableName};

pub use dispatch::Dispatcher;
pub use hypervisor::{Hypervisor, VariableHost};
pub use native::Native;
pub use platform::{Clock, PlatformServices, Reset};

/// What GetWakeupTime reports (UEFI 2.10 section 8.3).
#[derive(Clone, Copy, Debug)]
pub struct WakeupTime {
    /// Whether the wakeup alarm is enabled.
    pub enabled: bool,
    /// Whether the alarm has fired and is pending.
    pub pending: bool,
    /// The alarm time.
    pub time: Time,
}

/// What QueryCapsuleCapabilities reports (UEFI 2.10 section 8.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapsuleCapabilities {
    /// Largest capsule UpdateCapsule accepts, in bytes.
    pub maximum_capsule_size: u64,
    /// Reset type the capsules require (`EFI_RESET_TYPE`).
    pub reset_type: ResetType,
}

/// Every runtime operation, as safe Rust. Raw-pointer validation happens before (in [`crate::ffi`]).
///
/// Implementations must be `Sync`: runtime services may be entered from any processor. There are no default
/// methods, so an implementation is complete by construction.
pub trait RuntimeBackend: Sync {
    /// GetTime (8.3): the current time and the clock's capabilities.
    fn get_time(&self) -> Result<(Time, TimeCapabilities)>;
    /// SetTime (8.3); the back end validates `time` (see [`crate::time::validate`]) before touching the clock.
    fn set_time(&self, time: &Time) -> Result<()>;
    /// GetWakeupTime (8.3).
    fn get_wakeup_time(&self) -> Result<WakeupTime>;
    /// SetWakeupTime (8.3): `time` is required when `enable` is true.
    fn set_wakeup_time(&self, enable: bool, time: Option<&Time>) -> Result<()>;
    /// GetVariable (8.2): see [`crate::variables::VariableStore::get_variable`].
    fn get_variable(
        &self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        data: &mut [u8],
    ) -> Result<VariableInfo>;
    /// GetNextVariableName (8.2): see [`crate::variables::VariableStore::get_next_variable_name`].
    fn get_next_variable_name(
        &self,
        phase: Phase,
        name: &mut [u16],
        vendor: &mut Guid,
    ) -> Result<usize>;
    /// SetVariable (8.2): see [`crate::variables::VariableStore::set_variable`].
    fn set_variable(
        &self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        attributes: u32,
        data: &[u8],
    ) -> Result<()>;
    /// QueryVariableInfo (8.2): see [`crate::variables::VariableStore::query_variable_info`].
    fn query_variable_info(&self, phase: Phase, attributes: u32) -> Result<StorageInfo>;
    /// ResetSystem (8.5.1). Returns only if the platform failed to reset; the ABI layer then halts.
    fn reset_system(&self, reset_type: ResetType, status: Status, data: &[u8]);
    /// GetNextHighMonotonicCount (8.5.2): the incremented high 32 bits of the monotonic count.
    fn get_next_high_monotonic_count(&self) -> Result<u32>;
    /// UpdateCapsule (8.5.3).
    fn update_capsule(&self, capsules: &[&CapsuleHeader], scatter_gather_list: u64) -> Result<()>;
    /// QueryCapsuleCapabilities (8.5.3).
    fn query_capsule_capabilities(
        &self,
        capsules: &[&CapsuleHeader],
    ) -> Result<CapsuleCapabilities>;
}

/// One complete table of runtime operations.
pub struct RuntimeOps {
    /// Name of the back end, for logs.
    pub name: &'static str,
    /// The back end serving every operation.
    pub backend: &'static dyn RuntimeBackend,
}

/// The back end in place before the firmware installs one: every operation answers `EFI_UNSUPPORTED`
/// (ResetSystem returns, and the ABI layer halts).
pub struct Unavailable;

impl RuntimeBackend for Unavailable {
    fn get_time(&self) -> Result<(Time, TimeCapabilities)> {
        Err(RuntimeError::Unsupported)
    }
    fn set_time(&self, _: &Time) -> Result<()> {
        Err(RuntimeError::Unsupported)
    }
    fn get_wakeup_time(&self) -> Result<WakeupTime> {
        Err(RuntimeError::Unsupported)
    }
    fn set_wakeup_time(&self, _: bool, _: Option<&Time>) -> Result<()> {
        Err(RuntimeError::Unsupported)
    }
    fn get_variable(
        &self,
        _: Phase,
        _: &VariableName<'_>,
        _: &Guid,
        _: &mut [u8],
    ) -> Result<VariableInfo> {
        Err(RuntimeError::Unsupported)
    }
    fn get_next_variable_name(&self, _: Phase, _: &mut [u16], _: &mut Guid) -> Result<usize> {
        Err(RuntimeError::Unsupported)
    }
    fn set_variable(
        &self,
        _: Phase,
        _: &VariableName<'_>,
        _: &Guid,
        _: u32,
        _: &[u8],
    ) -> Result<()> {
        Err(RuntimeError::Unsupported)
    }
    fn query_variable_info(&self, _: Phase, _: u32) -> Result<StorageInfo> {
        Err(RuntimeError::Unsupported)
    }
    fn reset_system(&self, _: ResetType, _: Status, _: &[u8]) {}
    fn get_next_high_monotonic_count(&self) -> Result<u32> {
        Err(RuntimeError::Unsupported)
    }
    fn update_capsule(&self, _: &[&CapsuleHeader], _: u64) -> Result<()> {
        Err(RuntimeError::Unsupported)
    }
    fn query_capsule_capabilities(&self, _: &[&CapsuleHeader]) -> Result<CapsuleCapabilities> {
        Err(RuntimeError::Unsupported)
    }
}

/// The table of [`Unavailable`].
pub static UNAVAILABLE_OPS: RuntimeOps = RuntimeOps {
    name: "unavailable",
    backend: &Unavailable,
};
