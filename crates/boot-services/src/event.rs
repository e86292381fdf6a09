//! Events, notification dispatch and task priority levels (UEFI 2.10 section 7.1, "Event, Timer, and Task
//! Priority Services").
//!
//! # State and locking
//!
//! All event state lives in one [`EventService`]: the current TPL and a runtime-mode flag in `Cell`s, and the
//! event table with its pending queues (`Events`) in a `RefCell`. Raising the TPL *is* the lock: every access to
//! the table runs inside `with_state`, which masks interrupts (the effect of `TPL_HIGH_LEVEL`) for the duration,
//! so the periodic timer interrupt, the only asynchronous entry, can never see a half-updated table. The borrow
//! is always released before any foreign code runs: the dispatcher pops **one** notification under the lock,
//! sets the TPL to that notification's level, releases the state, calls the function, and re-acquires. A
//! notification function may therefore call any boot service: signal, create or close events (including its own),
//! raise/restore the TPL, set timers. A re-entrant borrow would be an engine bug; it is reported as
//! `DEVICE_ERROR`, never a panic.
//!
//! Global-state story: the firmware keeps one `EventService` per machine in a `static`, inside a wrapper that
//! asserts single-processor use (boot services run on the BSP only; the only concurrency is the timer interrupt,
//! excluded by the TPL lock). The other subsystems (memory map, protocol database) each keep their own locked
//! structure the same way; none of them holds its lock while calling into another. Host tests own one instance
//! per test, so tests are independent and need no globals.
//!
//! # Queues and order rules
//!
//! * Each notify TPL has a FIFO of pending notifications. An event is queued at most once: signalling an event
//!   that is already signalled (and so already queued) changes nothing.
//! * Notifications run only when the TPL drops below their level (`RestoreTPL`, or the end of a boot service that
//!   queued them), **highest TPL first**, each with the TPL set to its own level.
//! * Within one TPL they run in the order they were queued (signal order; group members in table order). This
//!   is an implementation detail: the spec leaves it unspecified and no code may depend on it.
//! * `EVT_NOTIFY_SIGNAL` events return to not-signalled just before their function runs; `EVT_NOTIFY_WAIT`
//!   functions are queued by `CheckEvent`/`WaitForEvent` while the event is not signalled.
//! * Queue capacity for every live notify event is reserved when it is created, so signalling (also from the
//!   timer interrupt) never allocates.
//!
//! Timers and the watchdog are in [`crate::timer`]; the ExitBootServices phases in [`crate::exit`].

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ffi::c_void;

use r_efi::efi::{self, Guid};

use crate::exit::ExitState;
use crate::tpl::Tpl;
use crate::{Result, Status};

mod dispatch;
pub mod group;
mod id;
mod platform;
mod queue;
mod table;
#[cfg(test)]
mod tests;

pub(crate) use dispatch::Stage;
pub use id::EventId;
pub use platform::Platform;
pub use r_efi::efi::{
    EVT_NOTIFY_SIGNAL, EVT_NOTIFY_WAIT, EVT_RUNTIME, EVT_SIGNAL_EXIT_BOOT_SERVICES,
    EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE, EVT_TIMER,
};
pub(crate) use table::{EventRecord, Events};

const LOG: &str = "boot_services::event";

/// A raw notification function, `EFI_EVENT_NOTIFY`: called with the event handle and the registered context.
pub type NotifyFn = efi::EventNotify;

/// Type bits a caller may combine freely (`EVT_TIMER`, `EVT_RUNTIME`, `EVT_NOTIFY_WAIT`, `EVT_NOTIFY_SIGNAL`);
/// `EVT_SIGNAL_EXIT_BOOT_SERVICES` and `EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE` are accepted only as exact values.
const COMBINABLE_TYPES: u32 =
    efi::EVT_TIMER | efi::EVT_RUNTIME | efi::EVT_NOTIFY_WAIT | efi::EVT_NOTIFY_SIGNAL;

/// Why `WaitForEvent()` returned without a signalled event: the status and, when one event caused it, its index
/// (the spec's `*Index` output for `EFI_INVALID_PARAMETER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitError {
    /// `INVALID_PARAMETER` (empty list, bad handle, `EVT_NOTIFY_SIGNAL` event) or `UNSUPPORTED` (TPL is not
    /// `TPL_APPLICATION`, or after ExitBootServices).
    pub status: Status,
    /// Index in the event list of the event that caused the error, if any.
    pub index: Option<usize>,
}

/// A registered notification, as reported by [`EventService::group_notifications`].
#[derive(Clone, Copy, Debug)]
pub struct NotifyRegistration {
    /// The event.
    pub event: EventId,
    /// Its notify TPL.
    pub tpl: Tpl,
    /// Its notification function.
    pub function: NotifyFn,
    /// Its context, verbatim.
    pub context: *mut c_void,
}

/// The event, timer and TPL engine for one machine (see the module doc for the locking rules).
pub struct EventService<P: Platform> {
    pub(crate) platform: P,
    pub(crate) tpl: Cell<Tpl>,
    /// Set by the last ExitBootServices phase; afterwards no entry point touches `state`.
    pub(crate) runtime: Cell<bool>,
    pub(crate) state: RefCell<table::Events>,
    pub(crate) exit: ExitState,
}

impl<P: Platform> EventService<P> {
    /// A fresh engine at `TPL_APPLICATION` with no events; `const` so the firmware can place it in a `static`.
    pub const fn new(platform: P) -> EventService<P> {
        EventService {
            platform,
            tpl: Cell::new(Tpl::APPLICATION),
            runtime: Cell::new(false),
            state: RefCell::new(table::Events::new()),
            exit: ExitState::new(),
        }
    }

    /// The platform hooks.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Whether ExitBootServices completed (every boot service now fails without touching state).
    pub fn is_runtime(&self) -> bool {
        self.runtime.get()
    }

    /// `CreateEvent()` / `CreateEventEx()` (UEFI 2.10 section 7.1).
    ///
    /// `kind` is the `EVT_*` type; `notify_tpl` and `notify_function` matter for `EVT_NOTIFY_WAIT` /
    /// `EVT_NOTIFY_SIGNAL` types only; `notify_context` is stored and passed back verbatim; `group` is the
    /// `EventGroup` GUID (`None` = `CreateEvent()`). `EVT_SIGNAL_EXIT_BOOT_SERVICES` and
    /// `EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE` put the event in the exit-boot-services / virtual-address-change group.
    ///
    /// Errors (`INVALID_PARAMETER`): unsupported type bits; both `EVT_NOTIFY_WAIT` and `EVT_NOTIFY_SIGNAL`; a
    /// notify type without a function or with a TPL other than `TPL_CALLBACK`, `TPL_NOTIFY`, `TPL_HIGH_LEVEL`; a
    /// special type together with a different group. `OUT_OF_RESOURCES` when the table is full.
    /// `UNSUPPORTED` after ExitBootServices.
    pub fn create_event(
        &self,
        kind: u32,
        notify_tpl: Tpl,
        notify_function: Option<NotifyFn>,
        notify_context: *mut c_void,
        group: Option<Guid>,
    ) -> Result<EventId> {
        let record = new_record(kind, notify_tpl, notify_function, notify_context, group)?;
        self.with_state(|state| state.insert(record))
    }

    /// Like [`EventService::create_event`], with an owner name used to attribute the event's notification
    /// (e.g. in ExitBootServices memory-map violations).
    pub(crate) fn create_labelled_event(
        &self,
        label: &str,
        kind: u32,
        notify_tpl: Tpl,
        notify_function: NotifyFn,
        notify_context: *mut c_void,
    ) -> Result<EventId> {
        let mut record = new_record(
            kind,
            notify_tpl,
            Some(notify_function),
            notify_context,
            None,
        )?;
        let mut name = String::new();
        name.try_reserve(label.len())
            .map_err(|_| Status::OUT_OF_RESOURCES)?;
        name.push_str(label);
        record.label = Some(name);
        self.with_state(|state| state.insert(record))
    }

    /// `CloseEvent()`: removes the event from its group, its timer and any pending queue, and retires the handle.
    /// Safe to call from the event's own notification function.
    ///
    /// Errors: `INVALID_PARAMETER` for a bad handle; `UNSUPPORTED` after ExitBootServices.
    /// (Unregistering a `RegisterProtocolNotify()` registration is the protocol database's part.)
    pub fn close_event(&self, event: EventId) -> Result<()> {
        self.with_state(|state| state.remove(event).map(|_| ()))
    }

    /// `SignalEvent()`: signals the event, or every member of its group; notifications above the current TPL
    /// run before this returns.
    ///
    /// Errors: `INVALID_PARAMETER` for a bad handle; `UNSUPPORTED` after ExitBootServices.
    pub fn signal_event(&self, event: EventId) -> Result<()> {
        self.with_state(|state| state.signal(event))?;
        self.dispatch_pending();
        Ok(())
    }

    /// Signals every event of `group` (a core service, e.g. for ready-to-boot or memory-map-change); does
    /// nothing when the group is empty. Errors: `UNSUPPORTED` after ExitBootServices.
    pub fn signal_group(&self, group: &Guid) -> Result<()> {
        self.with_state(|state| {
            state.signal_group(group);
            Ok(())
        })?;
        self.dispatch_pending();
        Ok(())
    }

    /// `CheckEvent()`: `Ok(())` (`EFI_SUCCESS`) if the event was signalled, which clears it. Otherwise an
    /// `EVT_NOTIFY_WAIT` event's function is queued (and runs now if the TPL allows); if that signalled the event,
    /// it is cleared and `Ok(())` returned.
    ///
    /// Errors: `NOT_READY` when not signalled; `INVALID_PARAMETER` for an `EVT_NOTIFY_SIGNAL` event or a bad
    /// handle; `UNSUPPORTED` after ExitBootServices.
    pub fn check_event(&self, event: EventId) -> Result<()> {
        let queued = self.with_state(|state| {
            let record = state.get(event)?;
            if record.is_notify_signal() {
                return Err(Status::INVALID_PARAMETER);
            }
            if record.signalled || !record.is_notify_wait() {
                return Ok(false);
            }
            state.queue_notify(event)?;
            Ok(true)
        })?;
        if queued {
            self.dispatch_pending();
        }
        self.with_state(|state| {
            let record = state.get_mut(event)?;
            if record.signalled {
                record.signalled = false;
                Ok(())
            } else {
                Err(Status::NOT_READY)
            }
        })
    }

    /// `WaitForEvent()` with the platform's idle hook (`hlt`) between polls.
    pub fn wait_for_event(&self, events: &[EventId]) -> core::result::Result<usize, WaitError> {
        self.wait_for_event_with(events, || self.platform.idle())
    }

    /// `WaitForEvent()`: polls `events` in order with `CheckEvent()` semantics and returns the index of the first
    /// signalled one (clearing it); between rounds calls `idle`, which must return after "something happened"
    /// (on hardware: `hlt` until the next interrupt, whose handler calls `timer_tick`; host tests pass a closure
    /// that advances the fake clock). No state is borrowed while `idle` runs.
    ///
    /// Errors: `INVALID_PARAMETER` for an empty list, or with the index of an `EVT_NOTIFY_SIGNAL` event or a bad
    /// handle; `UNSUPPORTED` if the TPL is not `TPL_APPLICATION` or after ExitBootServices.
    pub fn wait_for_event_with(
        &self,
        events: &[EventId],
        mut idle: impl FnMut(),
    ) -> core::result::Result<usize, WaitError> {
        if self.runtime.get() {
            return Err(WaitError {
                status: Status::UNSUPPORTED,
                index: None,
            });
        }
        if events.is_empty() {
            return Err(WaitError {
                status: Status::INVALID_PARAMETER,
                index: None,
            });
        }
        if self.tpl.get() != Tpl::APPLICATION {
            return Err(WaitError {
                status: Status::UNSUPPORTED,
                index: None,
            });
        }
        loop {
            for (index, &event) in events.iter().enumerate() {
                match self.check_event(event) {
                    Ok(()) => return Ok(index),
                    Err(Status::NOT_READY) => {}
                    Err(status) => {
                        return Err(WaitError {
                            status,
                            index: Some(index),
                        })
                    }
                }
            }
            idle();
        }
    }

    /// The notification functions of every member of `group`, for the runtime shell to copy into runtime memory
    /// before ExitBootServices (e.g. the virtual-address-change group, signalled by the runtime service
    /// `SetVirtualAddressMap()`). Errors: `OUT_OF_RESOURCES`; `UNSUPPORTED` after ExitBootServices.
    pub fn group_notifications(&self, group: &Guid) -> Result<Vec<NotifyRegistration>> {
        self.with_state(|state| {
            let mut found = Vec::new();
            for event in state.ids() {
                let record = state.get(event)?;
                if record.group.as_ref() != Some(group) {
                    continue;
                }
                if let Some(function) = record.notify {
                    found.try_reserve(1).map_err(|_| Status::OUT_OF_RESOURCES)?;
                    found.push(NotifyRegistration {
                        event,
                        tpl: record.notify_tpl,
                        function,
                        context: record.context,
                    });
                }
            }
            Ok(found)
        })
    }
}

/// Validates `CreateEvent()` arguments and builds the record (see [`EventService::create_event`] for errors).
fn new_record(
    kind: u32,
    notify_tpl: Tpl,
    notify_function: Option<NotifyFn>,
    notify_context: *mut c_void,
    group: Option<Guid>,
) -> Result<EventRecord> {
    let special_group = match kind {
        efi::EVT_SIGNAL_EXIT_BOOT_SERVICES => Some(group::EXIT_BOOT_SERVICES),
        efi::EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE => Some(group::VIRTUAL_ADDRESS_CHANGE),
        _ => None,
    };
    let group = match special_group {
        Some(implied) => {
            if group.is_some_and(|given| given != implied) {
                log::warn!(target: LOG, "CreateEventEx: type {kind:#x} with a different event group");
                return Err(Status::INVALID_PARAMETER);
            }
            Some(implied)
        }
        None => {
            if kind & !COMBINABLE_TYPES != 0 {
                log::warn!(target: LOG, "CreateEvent: unsupported type bits {kind:#x}");
                return Err(Status::INVALID_PARAMETER);
            }
            group
        }
    };
    let wants_notify = kind & (efi::EVT_NOTIFY_WAIT | efi::EVT_NOTIFY_SIGNAL);
    if wants_notify == efi::EVT_NOTIFY_WAIT | efi::EVT_NOTIFY_SIGNAL {
        log::warn!(target: LOG, "CreateEvent: both EVT_NOTIFY_WAIT and EVT_NOTIFY_SIGNAL");
        return Err(Status::INVALID_PARAMETER);
    }
    let notify = if wants_notify != 0 {
        if !notify_tpl.is_notify_level() {
            log::warn!(target: LOG, "CreateEvent: unsupported notify TPL {}", notify_tpl.0);
            return Err(Status::INVALID_PARAMETER);
        }
        Some(notify_function.ok_or_else(|| {
            log::warn!(target: LOG, "CreateEvent: notify type {kind:#x} without a notification function");
            Status::INVALID_PARAMETER
        })?)
    } else {
        None
    };
    Ok(EventRecord {
        kind,
        notify_tpl: if notify.is_some() {
            notify_tpl
        } else {
            Tpl::APPLICATION
        },
        notify,
        context: notify_context,
        group,
        signalled: false,
        queued: false,
        timer: None,
        label: None,
    })
}
