//! The ExitBootServices handoff lock of the memory map (UEFI 2.10 section 7.4, `ExitBootServices()`).
//!
//! After `ExitBootServices()` has accepted the caller's map key, the memory map belongs to the OS loader: the
//! firmware must not change it. The orchestrator calls [`MemoryMap::lock`] at that point; every later
//! `AllocatePages()`, `FreePages()`, `AllocatePool()` or `FreePool()` (typically from an
//! `EVT_SIGNAL_EXIT_BOOT_SERVICES` notification function, which the spec forbids to use memory services) fails
//! with [`HANDOFF_LOCKED_STATUS`] and is recorded as a [`HandoffViolation`].
//!
//! Recording a violation pushes onto a `Vec` and clones the context `String`. That allocates from the firmware's
//! own heap (the Rust global allocator), which lives in pages the firmware reserved for itself before
//! the handoff, not the UEFI map, so it cannot disturb the map the OS received.
//!
//! There is no unlock: the map is locked only once the key check succeeded, so a failed `ExitBootServices()`
//! (stale key) never locks it, and after a successful one boot services are gone for good.

use alloc::string::String;
use alloc::vec::Vec;

use super::MemoryMap;
use crate::{Result, Status};

/// Status of every memory service called after [`MemoryMap::lock`]: `EFI_UNSUPPORTED`. The spec defines no status
/// for boot services called after `ExitBootServices()` (they "are no longer available"); "the operation is not
/// supported" is the honest generic answer, and unlike `EFI_INVALID_PARAMETER` it does not blame the arguments.
pub const HANDOFF_LOCKED_STATUS: Status = Status::UNSUPPORTED;

/// One memory-service call refused because the map was locked for the handoff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffViolation {
    /// The boot service: `"AllocatePages"`, `"FreePages"`, `"AllocatePool"` or `"FreePool"`.
    pub call: &'static str,
    /// Who was running, as last set by [`MemoryMap::set_context`] (empty if never set).
    pub context: String,
    /// The reason given to [`MemoryMap::lock`].
    pub lock_reason: &'static str,
    /// The `MemoryType` argument (allocations only).
    pub memory_type: Option<u32>,
    /// The address argument: `*Memory` for `AllocateAddress`/`AllocateMaxAddress` and `FreePages()`, `Buffer` for
    /// `FreePool()`.
    pub address: Option<u64>,
    /// Pages for `AllocatePages()`/`FreePages()`, bytes for `AllocatePool()`, 0 for `FreePool()`.
    pub amount: u64,
}

/// Lock state, current context and recorded violations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Handoff {
    reason: Option<&'static str>,
    context: String,
    violations: Vec<HandoffViolation>,
}

impl Handoff {
    pub(crate) fn is_locked(&self) -> bool {
        self.reason.is_some()
    }
}

impl MemoryMap {
    /// Locks the map for the ExitBootServices handoff; `reason` says why (e.g. `"ExitBootServices"`). Locking
    /// again keeps the first reason. Cannot be undone (see the module documentation).
    pub fn lock(&mut self, reason: &'static str) {
        if self.handoff.reason.is_none() {
            log::info!(target: "memory", "memory map locked ({reason}) at key {}", self.map_key);
            self.handoff.reason = Some(reason);
        }
    }

    /// Whether [`Self::lock`] was called.
    pub fn is_locked(&self) -> bool {
        self.handoff.is_locked()
    }

    /// The reason given to [`Self::lock`], if locked.
    pub fn lock_reason(&self) -> Option<&'static str> {
        self.handoff.reason
    }

    /// Names who is running now (e.g. the notification function being dispatched), for attribution of violations.
    pub fn set_context(&mut self, context: &str) {
        self.handoff.context.clear();
        self.handoff.context.push_str(context);
    }

    /// Forgets the current context (violations will carry an empty one).
    pub fn clear_context(&mut self) {
        self.handoff.context.clear();
    }

    /// Every memory-service call refused since the lock, oldest first.
    pub fn violations(&self) -> &[HandoffViolation] {
        &self.handoff.violations
    }

    /// `Ok` if unlocked; otherwise records the call as a violation and returns [`HANDOFF_LOCKED_STATUS`].
    pub(crate) fn refuse_if_locked(
        &mut self,
        call: &'static str,
        memory_type: Option<u32>,
        address: Option<u64>,
        amount: u64,
    ) -> Result<()> {
        let Some(lock_reason) = self.handoff.reason else {
            return Ok(());
        };
        log::error!(
            target: "memory",
            "{call} after the map was locked ({lock_reason}) by '{}'",
            self.handoff.context
        );
        self.handoff.violations.push(HandoffViolation {
            call,
            context: self.handoff.context.clone(),
            lock_reason,
            memory_type,
            address,
            amount,
        });
        Err(HANDOFF_LOCKED_STATUS)
    }
}
