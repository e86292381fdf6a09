//! The dispatcher: the single pointer to the current [`RuntimeOps`] table, and the phase.
//!
//! Invariant: `current` always holds a pointer obtained from a `&'static RuntimeOps` (by [`Dispatcher::new`] or
//! [`Dispatcher::switch_backend`]); it is never null and never points at a partly built table.
//!
//! SetVirtualAddressMap: a `static` dispatcher's pointer is a slot the linker initialised with the address of a
//! `static` table, and it only ever holds addresses of `static` tables, so it moves with the firmware image
//! (see [`crate::relocation`]); the dispatcher needs no conversion of its own.

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use r_efi::efi::{CapsuleHeader, Guid, ResetType, Status, Time, TimeCapabilities};

use super::{CapsuleCapabilities, RuntimeOps, WakeupTime};
use crate::error::Result;
use crate::variables::{Phase, StorageInfo, VariableInfo, VariableName};

/// Routes every runtime call to the current table.
pub struct Dispatcher {
    current: AtomicPtr<RuntimeOps>,
    runtime: AtomicBool,
}

impl Dispatcher {
    /// A dispatcher serving `initial`, in the boot-services phase.
    pub const fn new(initial: &'static RuntimeOps) -> Self {
        Dispatcher {
            current: AtomicPtr::new(initial as *const RuntimeOps as *mut RuntimeOps),
            runtime: AtomicBool::new(false),
        }
    }

    /// The current table (one atomic load).
    pub fn current(&self) -> &'static RuntimeOps {
        let table = self.current.load(Ordering::Acquire);
        // SAFETY: by the type invariant `table` came from a `&'static RuntimeOps`, so it is non-null, aligned and
        // valid forever (moved with the image at SetVirtualAddressMap, see the module doc); the table is only ever
        // read through shared references.
        unsafe { &*table }
    }

    /// Makes `new` the current table in one atomic pointer swap; returns the table it replaced.
    pub fn switch_backend(&self, new: &'static RuntimeOps) -> &'static RuntimeOps {
        let old = self.current.swap(
            new as *const RuntimeOps as *mut RuntimeOps,
            Ordering::AcqRel,
        );
        log::info!(target: "runtime::ops", "runtime back end switched to {}", new.name);
        // SAFETY: `old` was the current pointer, valid by the type invariant (see `current`).
        unsafe { &*old }
    }

    /// The phase passed to variable operations.
    pub fn phase(&self) -> Phase {
        if self.runtime.load(Ordering::Acquire) {
            Phase::Runtime
        } else {
            Phase::BootServices
        }
    }

    /// Records that ExitBootServices succeeded: from now on variable calls run in [`Phase::Runtime`].
    pub fn exit_boot_services(&self) {
        self.runtime.store(true, Ordering::Release);
    }

    /// GetTime through the current table.
    pub fn get_time(&self) -> Result<(Time, TimeCapabilities)> {
        self.current().backend.get_time()
    }
    /// SetTime through the current table.
    pub fn set_time(&self, time: &Time) -> Result<()> {
        self.current().backend.set_time(time)
    }
    /// GetWakeupTime through the current table.
    pub fn get_wakeup_time(&self) -> Result<WakeupTime> {
        self.current().backend.get_wakeup_time()
    }
    /// SetWakeupTime through the current table.
    pub fn set_wakeup_time(&self, enable: bool, time: Option<&Time>) -> Result<()> {
        self.current().backend.set_wakeup_time(enable, time)
    }
    /// GetVariable through the current table, in the current phase.
    pub fn get_variable(
        &self,
        name: &VariableName<'_>,
        vendor: &Guid,
        data: &mut [u8],
    ) -> Result<VariableInfo> {
        self.current()
            .backend
            .get_variable(self.phase(), name, vendor, data)
    }
    /// GetNextVariableName through the current table, in the current phase.
    pub fn get_next_variable_name(&self, name: &mut [u16], vendor: &mut Guid) -> Result<usize> {
        self.current()
            .backend
            .get_next_variable_name(self.phase(), name, vendor)
    }
    /// SetVariable through the current table, in the current phase.
    pub fn set_variable(
        &self,
        name: &VariableName<'_>,
        vendor: &Guid,
        attributes: u32,
        data: &[u8],
    ) -> Result<()> {
        self.current()
            .backend
            .set_variable(self.phase(), name, vendor, attributes, data)
    }
    /// QueryVariableInfo through the current table, in the current phase.
    pub fn query_variable_info(&self, attributes: u32) -> Result<StorageInfo> {
        self.current()
            .backend
            .query_variable_info(self.phase(), attributes)
    }
    /// ResetSystem through the current table; returns only if the back end could not reset.
    pub fn reset_system(&self, reset_type: ResetType, status: Status, data: &[u8]) {
        self.current()
            .backend
            .reset_system(reset_type, status, data)
    }
    /// GetNextHighMonotonicCount through the current table.
    pub fn get_next_high_monotonic_count(&self) -> Result<u32> {
        self.current().backend.get_next_high_monotonic_count()
    }
    /// UpdateCapsule through the current table.
    pub fn update_capsule(
        &self,
        capsules: &[&CapsuleHeader],
        scatter_gather_list: u64,
    ) -> Result<()> {
        self.current()
            .backend
            .update_capsule(capsules, scatter_gather_list)
    }
    /// QueryCapsuleCapabilities through the current table.
    pub fn query_capsule_capabilities(
        &self,
        capsules: &[&CapsuleHeader],
    ) -> Result<CapsuleCapabilities> {
        self.current().backend.query_capsule_capabilities(capsules)
    }
}
