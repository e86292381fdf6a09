//! Timer events, the system time tick and the watchdog (UEFI 2.10 section 7.1 `SetTimer()`, section 7.5
//! `SetWatchdogTimer()`).
//!
//! Time is the engine's *system time* in 100 ns units. It advances only through [`EventService::timer_tick`],
//! which the platform's periodic timer interrupt calls with the current time (so the time source is whatever the
//! caller injects: a PIT/HPET/TSC reading on hardware, a counter in tests). `SetTimer()` measures from the last
//! tick, so timer resolution is one tick period (a relative timer may fire up to one period early, as with
//! other tick-based firmware); `TriggerTime` 0 means "on the next tick".
//!
//! A tick runs at `TPL_HIGH_LEVEL` (interrupts masked by the CPU): it advances the time, signals every expired
//! timer event (earliest trigger first; periodic ones re-armed, skipping missed periods), checks the watchdog,
//! and then, if the interrupted TPL is below a pending notification's level, dispatches notifications before
//! returning to the interrupted code. The platform must acknowledge the interrupt (EOI) before calling
//! `timer_tick`, because dispatch unmasks interrupts.

use alloc::vec::Vec;

use r_efi::efi;

use crate::event::{EventId, EventService, Platform};
use crate::tpl::Tpl;
use crate::{Result, Status};

const LOG: &str = "boot_services::timer";

/// 100 ns units per second.
const TICKS_PER_SECOND: u64 = 10_000_000;

/// `EFI_TIMER_DELAY`: what `SetTimer()` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerDelay {
    /// `TimerCancel`: disarm.
    Cancel,
    /// `TimerPeriodic`: signal every `TriggerTime` (0: every tick).
    Periodic,
    /// `TimerRelative`: signal once, `TriggerTime` from now (0: next tick).
    Relative,
}

impl TimerDelay {
    /// Decodes the ABI value (0, 1, 2). Errors: `INVALID_PARAMETER` for any other value.
    pub fn from_raw(raw: efi::TimerDelay) -> Result<TimerDelay> {
        match raw {
            efi::TIMER_CANCEL => Ok(TimerDelay::Cancel),
            efi::TIMER_PERIODIC => Ok(TimerDelay::Periodic),
            efi::TIMER_RELATIVE => Ok(TimerDelay::Relative),
            _ => Err(Status::INVALID_PARAMETER),
        }
    }
}

/// An armed timer: absolute trigger time and, for periodic timers, the period (100 ns units).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerArm {
    pub(crate) trigger: u64,
    pub(crate) period: Option<u64>,
}

/// The armed watchdog: absolute deadline (100 ns units), code and a copy of the caller's data.
pub(crate) struct Watchdog {
    pub(crate) deadline: u64,
    pub(crate) code: u64,
    pub(crate) data: Vec<u8>,
}

impl<P: Platform> EventService<P> {
    /// `SetTimer()`: cancels, or arms `event` as a periodic or one-shot timer `trigger_time` (100 ns units) from
    /// the last tick. Any previous setting is replaced.
    ///
    /// Errors: `INVALID_PARAMETER` for a bad handle or an event without `EVT_TIMER`; `UNSUPPORTED` after
    /// ExitBootServices.
    pub fn set_timer(&self, event: EventId, delay: TimerDelay, trigger_time: u64) -> Result<()> {
        self.with_state(|state| {
            let now = state.now;
            let record = state.get_mut(event)?;
            if record.kind & efi::EVT_TIMER == 0 {
                return Err(Status::INVALID_PARAMETER);
            }
            let trigger = now.saturating_add(trigger_time);
            record.timer = match delay {
                TimerDelay::Cancel => None,
                TimerDelay::Periodic => Some(TimerArm {
                    trigger,
                    period: Some(trigger_time),
                }),
                TimerDelay::Relative => Some(TimerArm {
                    trigger,
                    period: None,
                }),
            };
            Ok(())
        })
    }

    /// The system time of the last tick, 100 ns units. Errors: `UNSUPPORTED` after ExitBootServices.
    pub fn system_time(&self) -> Result<u64> {
        self.with_state(|state| Ok(state.now))
    }

    /// The periodic timer interrupt: advances the system time to `now_100ns` (never backwards), signals expired
    /// timers, fires an expired watchdog through [`Platform::watchdog_reset`], then dispatches notifications the
    /// interrupted TPL allows. Must be called with interrupts masked (interrupt context); ignored after
    /// ExitBootServices.
    pub fn timer_tick(&self, now_100ns: u64) {
        if self.runtime.get() {
            return;
        }
        // The CPU masked interrupts on entry: account for that as TPL_HIGH_LEVEL without touching the platform.
        let interrupted = self.tpl.replace(Tpl::HIGH_LEVEL);
        let outcome = self.with_state(|state| {
            if now_100ns < state.now {
                log::warn!(target: LOG, "timer tick went backwards ({} < {}); kept {}", now_100ns, state.now, state.now);
            }
            state.now = state.now.max(now_100ns);
            fire_expired_timers(state);
            let expired = state.watchdog.as_ref().is_some_and(|w| w.deadline <= state.now);
            let watchdog = if expired { state.watchdog.take() } else { None };
            Ok((watchdog, state.pending_above(interrupted)))
        });
        let Ok((watchdog, pending)) = outcome else {
            self.tpl.set(interrupted);
            return;
        };
        if let Some(watchdog) = watchdog {
            log::error!(target: LOG, "watchdog timer expired (code {:#x}): resetting", watchdog.code);
            self.platform.watchdog_reset(watchdog.code, &watchdog.data);
        }
        if pending && interrupted < Tpl::HIGH_LEVEL {
            self.dispatch_above(interrupted, |_, _| {});
        } else {
            self.tpl.set(interrupted);
        }
    }

    /// `SetWatchdogTimer()`: arms the watchdog `timeout_seconds` from the last tick (0 disables it), replacing
    /// any previous setting. On expiry [`Platform::watchdog_reset`] receives `code` and a copy of `data`
    /// (`WatchdogData`: a UCS-2 description, optionally followed by binary data, as bytes).
    ///
    /// All codes are accepted (the spec reserves 0..=0xFFFF for firmware but loaders commonly pass 0 when
    /// disabling). Errors: `OUT_OF_RESOURCES` if `data` cannot be copied; `UNSUPPORTED` after ExitBootServices.
    pub fn set_watchdog_timer(&self, timeout_seconds: usize, code: u64, data: &[u8]) -> Result<()> {
        self.with_state(|state| {
            if timeout_seconds == 0 {
                state.watchdog = None;
                return Ok(());
            }
            let mut copy = Vec::new();
            copy.try_reserve_exact(data.len())
                .map_err(|_| Status::OUT_OF_RESOURCES)?;
            copy.extend_from_slice(data);
            let timeout = (timeout_seconds as u64).saturating_mul(TICKS_PER_SECOND);
            state.watchdog = Some(Watchdog {
                deadline: state.now.saturating_add(timeout),
                code,
                data: copy,
            });
            Ok(())
        })
    }
}

/// Signals every timer whose trigger time has passed, earliest first, re-arming periodic ones. Does not
/// allocate. Terminates because every fired timer is disarmed or re-armed strictly after `now`.
fn fire_expired_timers(state: &mut crate::event::Events) {
    let now = state.now;
    loop {
        let mut earliest: Option<(u64, EventId)> = None;
        for event in state.ids() {
            if let Ok(record) = state.get(event) {
                if let Some(arm) = record.timer.filter(|arm| arm.trigger <= now) {
                    if earliest.is_none_or(|(trigger, _)| arm.trigger < trigger) {
                        earliest = Some((arm.trigger, event));
                    }
                }
            }
        }
        let Some((_, event)) = earliest else { return };
        let Ok(record) = state.get_mut(event) else {
            return;
        };
        record.timer = record.timer.and_then(|arm| {
            let period = arm.period?;
            let next = arm.trigger.saturating_add(period);
            // Missed periods are skipped rather than replayed; `trigger > now` keeps the loop finite (a timer
            // whose next trigger would saturate at the end of time is disarmed instead).
            let trigger = if next > now {
                next
            } else {
                now.saturating_add(period.max(1))
            };
            (trigger > now).then_some(TimerArm {
                trigger,
                period: Some(period),
            })
        });
        if state.signal(event).is_err() {
            return;
        }
    }
}
