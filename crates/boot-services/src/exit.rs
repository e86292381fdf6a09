//! ExitBootServices orchestration (UEFI 2.10 section 7.4, `ExitBootServices()`; event groups of section 7.1).
//!
//! [`EventService::exit_boot_services`] runs exactly these phases:
//!
//! 1. **Before-exit** (first call only): signal `EFI_EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES` and run its handlers.
//!    The memory map is still unlocked, so these handlers may allocate and free.
//! 2. **Stop the timer** ([`Platform::stop_timer`]): no timer notification can run from here on.
//! 3. **Check the map key** against [`HandoffMemory::map_key`]. If stale: restart the timer, signal the
//!    ExitBootServices-failed group ([`group::EXIT_BOOT_SERVICES_FAILED`]) and return `INVALID_PARAMETER`.
//!    Everything stays usable, so the caller may call `GetMemoryMap()` and retry (phase 1 is not repeated).
//! 4. **Lock the memory map** ([`HandoffMemory::lock`]): from here an allocation or free is a violation the
//!    memory map records.
//! 5. **Exit handlers**: pending notifications of other events are discarded (their drivers are about to be
//!    reset), then `EFI_EVENT_GROUP_EXIT_BOOT_SERVICES` is signalled and its handlers run regardless of the
//!    caller's TPL, `TPL_NOTIFY` handlers before `TPL_CALLBACK` ones (FIFO within a level, not to be relied on).
//!    Each call is attributed with [`HandoffMemory::set_context`] (the quiesce name, or the event and function
//!    address) so a violation names its handler.
//! 6. **Final actions**: the core's registered release actions ([`EventService::register_final_action`]) run
//!    after every handler returned, most recently registered first, at `TPL_NOTIFY`, each attributed. This is for
//!    teardown that must follow all device resets (DMA mappings, bounce buffers, bus hand-off). It is a core
//!    mechanism, not a re-signalled event, so no driver can order itself after it.
//! 7. **Runtime mode**: interrupts are disabled, the TPL is `TPL_HIGH_LEVEL`, and every boot-services entry point
//!    of the engine returns `UNSUPPORTED` (or does nothing) without touching state. Removing boot services from
//!    the system table is the firmware shell's job.
//!
//! Drivers reset their devices through the per-binding quiesce API: [`EventService::register_quiesce`] when
//! the driver starts a device (creates an `EVT_SIGNAL_EXIT_BOOT_SERVICES` event) and
//! [`EventService::unregister_quiesce`] when it stops the device (closes it), so a stopped device is never touched
//! at exit and a live one is always reset.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ffi::c_void;

use crate::event::{
    group, EventId, EventService, NotifyFn, Platform, Stage, EVT_SIGNAL_EXIT_BOOT_SERVICES,
};
use crate::tpl::Tpl;
use crate::{Result, Status};

const LOG: &str = "boot_services::exit";

/// What ExitBootServices needs from the memory map. Methods take `&self` because handlers run between calls and
/// may themselves allocate through the memory map's own lock: implementations lock per call and must not hold
/// anything across calls.
pub trait HandoffMemory {
    /// The current memory map key (changes with every map change; `GetMemoryMap()` returns it).
    fn map_key(&self) -> usize;
    /// Lock the map for the hand-off: later allocations/frees are recorded as violations.
    fn lock(&self);
    /// Name the code running now (`None`: the core), for attributing violations.
    fn set_context(&self, who: Option<&str>);
}

/// Registration of a device's ExitBootServices quiesce handler; give it back to
/// [`EventService::unregister_quiesce`] when the device is stopped.
#[derive(Debug, PartialEq, Eq)]
pub struct QuiesceToken(EventId);

impl QuiesceToken {
    /// The underlying exit-boot-services event (the handle the handler receives).
    pub fn event(&self) -> EventId {
        self.0
    }
}

/// Registration of a final release action; see [`EventService::unregister_final_action`].
#[derive(Debug, PartialEq, Eq)]
pub struct FinalActionToken(pub(crate) u64);

struct FinalAction {
    token: u64,
    name: String,
    action: Box<dyn FnOnce()>,
}

/// Orchestration state kept in the [`EventService`].
pub(crate) struct ExitState {
    before_signalled: Cell<bool>,
    actions: RefCell<Vec<FinalAction>>,
    next_token: Cell<u64>,
}

impl ExitState {
    pub(crate) const fn new() -> ExitState {
        ExitState {
            before_signalled: Cell::new(false),
            actions: RefCell::new(Vec::new()),
            next_token: Cell::new(1),
        }
    }
}

impl<P: Platform> EventService<P> {
    /// `ExitBootServices(ImageHandle, MapKey)` after the shell validated the image handle: runs the phases of the
    /// module doc.
    ///
    /// Errors: `INVALID_PARAMETER` when `map_key` is not the current key (the engine stays fully usable for a
    /// retry); `UNSUPPORTED` once boot services have been exited; `DEVICE_ERROR` on an internal lock failure.
    pub fn exit_boot_services<M: HandoffMemory + ?Sized>(
        &self,
        memory: &M,
        map_key: usize,
    ) -> Result<()> {
        if self.runtime.get() {
            log::error!(target: LOG, "ExitBootServices called again after it succeeded");
            return Err(Status::UNSUPPORTED);
        }
        if self.tpl.get() != Tpl::APPLICATION {
            log::warn!(target: LOG, "ExitBootServices called at TPL {}", self.tpl.get().0);
        }
        // Phase 1.
        if !self.exit.before_signalled.replace(true) {
            log::info!(target: LOG, "phase 1: before-exit-boot-services handlers");
            self.run_group(&group::BEFORE_EXIT_BOOT_SERVICES, memory, false)?;
        }
        // Phase 2.
        self.platform.stop_timer();
        // Phase 3.
        let current = memory.map_key();
        if current != map_key {
            log::warn!(target: LOG, "phase 3: stale map key {map_key:#x} (current {current:#x}); retry needed");
            self.platform.start_timer();
            if let Err(status) = self.signal_group(&group::EXIT_BOOT_SERVICES_FAILED) {
                log::error!(target: LOG, "signalling the exit-boot-services-failed group: {status:?}");
            }
            return Err(Status::INVALID_PARAMETER);
        }
        // Phase 4.
        memory.lock();
        // Phase 5.
        log::info!(target: LOG, "phase 5: exit-boot-services handlers");
        self.run_group(&group::EXIT_BOOT_SERVICES, memory, true)?;
        // Phase 6.
        self.set_level(Tpl::NOTIFY);
        self.run_final_actions(memory);
        // Phase 7.
        self.platform.disable_interrupts();
        self.tpl.set(Tpl::HIGH_LEVEL);
        memory.set_context(None);
        self.runtime.set(true);
        log::info!(target: LOG, "boot services exited");
        Ok(())
    }

    /// Signals `group` and runs every pending notification above `TPL_APPLICATION` (highest TPL first), each
    /// attributed through `memory`, then returns to the caller's TPL. `exclusive` first discards pending
    /// notifications of events outside the group.
    fn run_group<M: HandoffMemory + ?Sized>(
        &self,
        group: &r_efi::efi::Guid,
        memory: &M,
        exclusive: bool,
    ) -> Result<()> {
        let caller = self.tpl.get();
        self.with_state(|state| {
            if exclusive {
                state.discard_pending_except(group);
            }
            state.signal_group(group);
            Ok(())
        })?;
        self.dispatch_above(Tpl::APPLICATION, |pending, stage| match stage {
            Stage::Before => {
                let label = self
                    .with_state(|state| {
                        Ok(state
                            .get(pending.id)
                            .ok()
                            .and_then(|record| record.label.clone()))
                    })
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| {
                        format!(
                            "event {:#x} handler {:#x}",
                            pending.id.raw(),
                            pending.function as usize
                        )
                    });
                memory.set_context(Some(&label));
            }
            Stage::After => memory.set_context(None),
        });
        self.set_level(caller.max(Tpl::APPLICATION));
        Ok(())
    }

    fn run_final_actions<M: HandoffMemory + ?Sized>(&self, memory: &M) {
        let actions = match self.exit.actions.try_borrow_mut() {
            Ok(mut actions) => core::mem::take(&mut *actions),
            Err(_) => {
                log::error!(target: LOG, "final-action list locked during phase 6; actions skipped");
                return;
            }
        };
        for final_action in actions.into_iter().rev() {
            log::debug!(target: LOG, "phase 6: final action {}", final_action.name);
            memory.set_context(Some(&final_action.name));
            (final_action.action)();
            memory.set_context(None);
        }
    }

    /// Registers `action` to run in phase 6 of a successful ExitBootServices, after every exit handler returned.
    /// `name` attributes it. Errors: `OUT_OF_RESOURCES`; `UNSUPPORTED` after ExitBootServices; `DEVICE_ERROR`
    /// when called from inside a final action.
    pub fn register_final_action(
        &self,
        name: &str,
        action: Box<dyn FnOnce()>,
    ) -> Result<FinalActionToken> {
        if self.runtime.get() {
            return Err(Status::UNSUPPORTED);
        }
        let mut actions = self
            .exit
            .actions
            .try_borrow_mut()
            .map_err(|_| Status::DEVICE_ERROR)?;
        let mut owned = String::new();
        owned
            .try_reserve(name.len())
            .map_err(|_| Status::OUT_OF_RESOURCES)?;
        owned.push_str(name);
        actions
            .try_reserve(1)
            .map_err(|_| Status::OUT_OF_RESOURCES)?;
        let token = self.exit.next_token.get();
        self.exit.next_token.set(token.wrapping_add(1));
        actions.push(FinalAction {
            token,
            name: owned,
            action,
        });
        Ok(FinalActionToken(token))
    }

    /// Withdraws a final action (its teardown is no longer needed). Errors: `NOT_FOUND` if it is not registered;
    /// `UNSUPPORTED` after ExitBootServices; `DEVICE_ERROR` when called from inside a final action.
    pub fn unregister_final_action(&self, token: FinalActionToken) -> Result<()> {
        if self.runtime.get() {
            return Err(Status::UNSUPPORTED);
        }
        let mut actions = self
            .exit
            .actions
            .try_borrow_mut()
            .map_err(|_| Status::DEVICE_ERROR)?;
        let position = actions
            .iter()
            .position(|a| a.token == token.0)
            .ok_or(Status::NOT_FOUND)?;
        actions.remove(position);
        Ok(())
    }

    /// Registers a device's quiesce handler: `function(event, context)` runs at `tpl` (`TPL_CALLBACK` or
    /// `TPL_NOTIFY`) in phase 5 of ExitBootServices and must stop the device's DMA and interrupts without
    /// allocating. `name` (e.g. driver and device path) attributes memory-map violations.
    ///
    /// Errors as `CreateEvent()` (`INVALID_PARAMETER` for a bad TPL); `UNSUPPORTED` after ExitBootServices.
    pub fn register_quiesce(
        &self,
        name: &str,
        tpl: Tpl,
        function: NotifyFn,
        context: *mut c_void,
    ) -> Result<QuiesceToken> {
        if tpl == Tpl::HIGH_LEVEL {
            return Err(Status::INVALID_PARAMETER);
        }
        self.create_labelled_event(name, EVT_SIGNAL_EXIT_BOOT_SERVICES, tpl, function, context)
            .map(QuiesceToken)
    }

    /// Withdraws a quiesce handler when its device is stopped, so the handler never touches a stopped device.
    /// Errors: `INVALID_PARAMETER` if the event was already closed; `UNSUPPORTED` after ExitBootServices.
    pub fn unregister_quiesce(&self, token: QuiesceToken) -> Result<()> {
        self.close_event(token.0)
    }
}
