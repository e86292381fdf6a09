//! The TPL lock, `RaiseTPL()` / `RestoreTPL()` and the notification dispatcher (UEFI 2.10 section 7.1).

use super::table::{Events, Pending};
use super::{EventService, Platform};
use crate::tpl::Tpl;
use crate::{Result, Status};

const LOG: &str = "boot_services::event";

/// Where the dispatcher is relative to one notification call, for callers that attribute work to handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Before,
    After,
}

impl<P: Platform> EventService<P> {
    /// The current task priority level.
    pub fn current_tpl(&self) -> Tpl {
        self.tpl.get()
    }

    /// Runs `f` on the state under the TPL lock: interrupts are masked for the duration (unless already at
    /// `TPL_HIGH_LEVEL`), so the timer interrupt cannot observe a half-updated state. Never called while a
    /// notification function runs.
    ///
    /// Errors: `UNSUPPORTED` after ExitBootServices (the state is not touched); `DEVICE_ERROR` if the state is
    /// already borrowed (an engine bug or a platform whose interrupt masking does not work; logged).
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut Events) -> Result<R>) -> Result<R> {
        if self.runtime.get() {
            log::error!(target: LOG, "boot service called after ExitBootServices; state left untouched");
            return Err(Status::UNSUPPORTED);
        }
        let masked_here = self.tpl.get() < Tpl::HIGH_LEVEL;
        if masked_here {
            self.platform.disable_interrupts();
        }
        let result = match self.state.try_borrow_mut() {
            Ok(mut state) => f(&mut state),
            Err(_) => {
                log::error!(target: LOG, "event state re-entered while locked");
                Err(Status::DEVICE_ERROR)
            }
        };
        if masked_here {
            self.platform.enable_interrupts();
        }
        result
    }

    /// Moves the current TPL to `new`, masking interrupts when crossing up to `TPL_HIGH_LEVEL` and unmasking
    /// them when crossing down. Runs nothing.
    pub(crate) fn set_level(&self, new: Tpl) {
        let old = self.tpl.replace(new);
        if old < Tpl::HIGH_LEVEL && new >= Tpl::HIGH_LEVEL {
            self.platform.disable_interrupts();
        } else if old >= Tpl::HIGH_LEVEL && new < Tpl::HIGH_LEVEL {
            self.platform.enable_interrupts();
        }
    }

    /// Runs every pending notification above `floor`, highest level first and FIFO within a level, then sets
    /// the TPL to `floor`. Each notification runs with the TPL set to its own level and with no state borrowed,
    /// so it may call any boot service; notifications it queues above its own level run nested (on its next
    /// `RestoreTPL`/`SignalEvent`), the others by this loop. `observe` is told before and after each call.
    pub(crate) fn dispatch_above(&self, floor: Tpl, mut observe: impl FnMut(&Pending, Stage)) {
        while let Ok(Some(next)) = self.with_state(|state| Ok(state.pop_notification_above(floor)))
        {
            self.set_level(next.tpl);
            observe(&next, Stage::Before);
            // SAFETY: `function` is the notification function the event's creator registered through
            // `CreateEvent()`; by that call the creator promised it is an `EFI_EVENT_NOTIFY` that may be called
            // with this event and the context it supplied, at the event's notify TPL (UEFI 2.10 section 7.1).
            // Exactly those are passed; the context is never dereferenced here, and no engine state is
            // borrowed during the call, so the function may re-enter any boot service.
            unsafe { (next.function)(next.id.as_event(), next.context) };
            observe(&next, Stage::After);
        }
        self.set_level(floor);
    }

    /// `RaiseTPL()`: sets the TPL to `new` and returns the previous one. Reaching `TPL_HIGH_LEVEL` masks
    /// interrupts.
    ///
    /// Caller bugs (UEFI 2.10 section 7.1 says the result is unpredictable) are logged with `log::error!` and
    /// made harmless: a `new` below the current TPL leaves the TPL unchanged (lowering here would run
    /// notifications inside the caller's critical section); a `new` above `TPL_HIGH_LEVEL` is clamped to it.
    /// After ExitBootServices nothing changes and the current TPL is returned.
    pub fn raise_tpl(&self, new: Tpl) -> Tpl {
        let old = self.tpl.get();
        if self.runtime.get() {
            log::error!(target: LOG, "RaiseTPL after ExitBootServices ignored");
            return old;
        }
        let mut new = new;
        if new > Tpl::HIGH_LEVEL {
            log::error!(target: LOG, "RaiseTPL({}) above TPL_HIGH_LEVEL: clamped", new.0);
            new = Tpl::HIGH_LEVEL;
        }
        if new < old {
            log::error!(target: LOG, "RaiseTPL({}) below the current TPL {}: caller bug, TPL left unchanged", new.0, old.0);
            return old;
        }
        self.set_level(new);
        old
    }

    /// `RestoreTPL()`: lowers the TPL to `old`, first running every notification pending above `old` (highest
    /// level first). Dropping below `TPL_HIGH_LEVEL` unmasks interrupts.
    ///
    /// Caller bugs are logged with `log::error!`: an `old` above the current TPL is ignored (raising here would
    /// leave notifications blocked); an `old` below `TPL_APPLICATION` is treated as `TPL_APPLICATION`.
    /// After ExitBootServices nothing happens.
    pub fn restore_tpl(&self, old: Tpl) {
        if self.runtime.get() {
            log::error!(target: LOG, "RestoreTPL after ExitBootServices ignored");
            return;
        }
        let current = self.tpl.get();
        if old > current {
            log::error!(target: LOG, "RestoreTPL({}) above the current TPL {}: caller bug, ignored", old.0, current.0);
            return;
        }
        let mut old = old;
        if old < Tpl::APPLICATION {
            log::error!(target: LOG, "RestoreTPL({}) below TPL_APPLICATION: using TPL_APPLICATION", old.0);
            old = Tpl::APPLICATION;
        }
        self.dispatch_above(old, |_, _| {});
    }

    /// Runs notifications pending above the current TPL (the "release the lock" step after a boot service
    /// queued some).
    pub(crate) fn dispatch_pending(&self) {
        let current = self.tpl.get();
        if current < Tpl::HIGH_LEVEL {
            self.dispatch_above(current, |_, _| {});
        }
    }
}
