//! Event, timer and task-priority checks (UEFI 2.10 §7.1): CreateEvent/CreateEventEx, SetTimer with a real timer
//! interrupt, Stall, CheckEvent, WaitForEvent, SignalEvent, RaiseTPL/RestoreTPL, CloseEvent and event groups.
//!
//! Design: notify functions only increment the `AtomicU32` passed as their context. Every event is held by an
//! [`OwnedEvent`] that closes it on drop, and the counters are declared before the events, so a notify function
//! can never run after its counter is gone, even when a check fails half-way.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use uefi_raw::table::boot::{EventType, TimerDelay, Tpl};
use uefi_raw::{guid, Event, Guid, Status};

use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, expect_status};

/// The custom event group of the group check.
const TEST_GROUP: Guid = guid!("5d1a2c7e-0b3f-4e59-9a61-3c8e4b7d2f10");

/// SetTimer's unit: 100 ns.
const TICKS_PER_MS: u64 = 10_000;

/// Notify function: increments the `AtomicU32` its context points to.
unsafe extern "efiapi" fn count_notify(_event: Event, context: *mut c_void) {
    // SAFETY: every event created with this function gets a pointer to a live AtomicU32 (see module note).
    unsafe { &*context.cast::<AtomicU32>() }.fetch_add(1, Ordering::SeqCst);
}

/// An event closed on drop.
struct OwnedEvent(Event);

impl OwnedEvent {
    /// CreateEvent, or CreateEventEx when `group` is given. `counter` is the notify context (for notify types).
    fn create(
        ty: EventType,
        tpl: Tpl,
        counter: Option<&AtomicU32>,
        group: Option<&Guid>,
    ) -> Result<Self, Detail> {
        let notify = counter.map(|_| count_notify as uefi_raw::table::boot::EventNotifyFn);
        let context = counter.map_or(ptr::null_mut(), |c| {
            ptr::from_ref(c).cast_mut().cast::<c_void>()
        });
        let mut event: Event = ptr::null_mut();
        let bs = boot_services();
        // SAFETY: the notify context outlives the event (module note); `event` is a valid out-pointer.
        let status = unsafe {
            match group {
                None => (bs.create_event)(ty, tpl, notify, context, &mut event),
                Some(group) => (bs.create_event_ex)(ty, tpl, notify, context, group, &mut event),
            }
        };
        ensure!(
            status == Status::SUCCESS,
            "CreateEvent{}({ty:?}) returned {status:?}",
            if group.is_some() { "Ex" } else { "" }
        );
        ensure!(
            !event.is_null(),
            "CreateEvent returned SUCCESS and a NULL event"
        );
        Ok(OwnedEvent(event))
    }

    fn set_timer(&self, ty: TimerDelay, ticks: u64) -> Outcome {
        // SAFETY: the event is live.
        let status = unsafe { (boot_services().set_timer)(self.0, ty, ticks) };
        expect_status("SetTimer", status, Status::SUCCESS)
    }

    fn check(&self) -> Status {
        // SAFETY: the event is live.
        unsafe { (boot_services().check_event)(self.0) }
    }

    fn signal(&self) -> Status {
        // SAFETY: the event is live.
        unsafe { (boot_services().signal_event)(self.0) }
    }

    /// CloseEvent, reporting its status (drop then does nothing).
    fn close(self) -> Status {
        let event = self.0;
        core::mem::forget(self);
        // SAFETY: the event is live and closed exactly once.
        unsafe { (boot_services().close_event)(event) }
    }
}

impl Drop for OwnedEvent {
    fn drop(&mut self) {
        // SAFETY: the event is live and closed exactly once.
        let _ = unsafe { (boot_services().close_event)(self.0) };
    }
}

fn stall_ms(ms: usize) -> Outcome {
    // SAFETY: Stall only busy-waits.
    let status = unsafe { (boot_services().stall)(ms * 1000) };
    expect_status("Stall", status, Status::SUCCESS)
}

/// Runs the event checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    report.record(
        out,
        "events: periodic 10 ms timer notifies repeatedly during Stall",
        check_periodic(),
    );
    report.record(
        out,
        "events: CheckEvent on a relative timer",
        check_check_event(),
    );
    report.record(out, "events: WaitForEvent on a 20 ms timer", check_wait());
    report.record(
        out,
        "events: WaitForEvent rejects a NOTIFY_SIGNAL event",
        check_wait_rejects_notify(),
    );
    report.record(
        out,
        "events: RaiseTPL(TPL_NOTIFY) defers TPL_CALLBACK notifies",
        check_tpl(),
    );
    report.record(
        out,
        "events: event group signals every member",
        check_group(),
    );
}

/// The periodic timer's counter is a static: if CloseEvent failed, a still-armed timer must not write to a dead
/// stack frame.
static PERIODIC_TICKS: AtomicU32 = AtomicU32::new(0);

fn check_periodic() -> Outcome {
    let ticks = &PERIODIC_TICKS;
    let event = OwnedEvent::create(
        EventType::TIMER | EventType::NOTIFY_SIGNAL,
        Tpl::CALLBACK,
        Some(ticks),
        None,
    )?;
    event.set_timer(TimerDelay::PERIODIC, 10 * TICKS_PER_MS)?;
    // Ticks can coalesce when the host deschedules the vCPU (TCG on a busy machine), so wait up to 1 s of
    // 10 ms stalls for three notifies rather than counting ticks in a fixed 100 ms.
    let mut seen = 0;
    for _ in 0..100 {
        stall_ms(10)?;
        seen = ticks.load(Ordering::SeqCst);
        if seen >= 3 {
            break;
        }
    }
    ensure!(
        seen >= 3,
        "notify ran {seen} times in 1 s of a 10 ms periodic timer, expected >= 3"
    );
    // CloseEvent on an armed periodic timer must also disarm it.
    expect_status("CloseEvent", event.close(), Status::SUCCESS)?;
    let closed_at = ticks.load(Ordering::SeqCst);
    stall_ms(50)?;
    let later = ticks.load(Ordering::SeqCst);
    ensure!(
        later == closed_at,
        "notify ran {} more times after CloseEvent",
        later - closed_at
    );
    Ok(())
}

fn check_check_event() -> Outcome {
    let event = OwnedEvent::create(EventType::TIMER, Tpl::CALLBACK, None, None)?;
    expect_status(
        "CheckEvent before SetTimer",
        event.check(),
        Status::NOT_READY,
    )?;
    event.set_timer(TimerDelay::RELATIVE, 10 * TICKS_PER_MS)?;
    stall_ms(30)?;
    expect_status(
        "CheckEvent 30 ms after a 10 ms timer",
        event.check(),
        Status::SUCCESS,
    )?;
    expect_status(
        "second CheckEvent (signal state cleared)",
        event.check(),
        Status::NOT_READY,
    )?;
    expect_status("CloseEvent", event.close(), Status::SUCCESS)
}

fn check_wait() -> Outcome {
    let event = OwnedEvent::create(EventType::TIMER, Tpl::CALLBACK, None, None)?;
    event.set_timer(TimerDelay::RELATIVE, 20 * TICKS_PER_MS)?;
    expect_status(
        "CheckEvent right after SetTimer(20 ms)",
        event.check(),
        Status::NOT_READY,
    )?;
    let mut index = usize::MAX;
    // SAFETY: one live event in a one-element array; `index` is a valid out-pointer.
    let status = unsafe { (boot_services().wait_for_event)(1, &event.0, &mut index) };
    expect_status("WaitForEvent", status, Status::SUCCESS)?;
    ensure!(
        index == 0,
        "WaitForEvent returned index {index}, expected 0"
    );
    expect_status(
        "CheckEvent after WaitForEvent (signal state cleared)",
        event.check(),
        Status::NOT_READY,
    )?;
    expect_status("CloseEvent", event.close(), Status::SUCCESS)
}

fn check_wait_rejects_notify() -> Outcome {
    let counter = AtomicU32::new(0);
    let event = OwnedEvent::create(
        EventType::NOTIFY_SIGNAL,
        Tpl::CALLBACK,
        Some(&counter),
        None,
    )?;
    let mut index = usize::MAX;
    // SAFETY: one live event in a one-element array; `index` is a valid out-pointer.
    let status = unsafe { (boot_services().wait_for_event)(1, &event.0, &mut index) };
    expect_status(
        "WaitForEvent(NOTIFY_SIGNAL event)",
        status,
        Status::INVALID_PARAMETER,
    )?;
    ensure!(
        index == 0,
        "WaitForEvent set index {index}, expected 0 (the offending event)"
    );
    Ok(())
}

fn check_tpl() -> Outcome {
    let counter = AtomicU32::new(0);
    let event = OwnedEvent::create(
        EventType::NOTIFY_SIGNAL,
        Tpl::CALLBACK,
        Some(&counter),
        None,
    )?;
    let bs = boot_services();
    // Nothing that could print or allocate runs between RaiseTPL and RestoreTPL.
    // SAFETY: raising to TPL_NOTIFY from the application's TPL is allowed; it is restored below.
    let old = unsafe { (bs.raise_tpl)(Tpl::NOTIFY) };
    let first = event.signal();
    let second = event.signal();
    let while_raised = counter.load(Ordering::SeqCst);
    // SAFETY: restores the TPL returned by RaiseTPL.
    unsafe { (bs.restore_tpl)(old) };
    let after = counter.load(Ordering::SeqCst);
    ensure!(
        old == Tpl::APPLICATION,
        "RaiseTPL returned old TPL {old:?}, expected TPL_APPLICATION"
    );
    expect_status("SignalEvent at TPL_NOTIFY", first, Status::SUCCESS)?;
    expect_status("second SignalEvent at TPL_NOTIFY", second, Status::SUCCESS)?;
    ensure!(
        while_raised == 0,
        "TPL_CALLBACK notify ran {while_raised} times at TPL_NOTIFY"
    );
    ensure!(
        after == 1,
        "notify ran {after} times after RestoreTPL, expected exactly 1"
    );
    expect_status("CloseEvent", event.close(), Status::SUCCESS)
}

fn check_group() -> Outcome {
    let (a, b, outsider) = (AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0));
    let first = OwnedEvent::create(
        EventType::NOTIFY_SIGNAL,
        Tpl::CALLBACK,
        Some(&a),
        Some(&TEST_GROUP),
    )?;
    let second = OwnedEvent::create(
        EventType::NOTIFY_SIGNAL,
        Tpl::CALLBACK,
        Some(&b),
        Some(&TEST_GROUP),
    )?;
    let lone = OwnedEvent::create(
        EventType::NOTIFY_SIGNAL,
        Tpl::CALLBACK,
        Some(&outsider),
        None,
    )?;
    expect_status(
        "SignalEvent on a group member",
        first.signal(),
        Status::SUCCESS,
    )?;
    let counts = (
        a.load(Ordering::SeqCst),
        b.load(Ordering::SeqCst),
        outsider.load(Ordering::SeqCst),
    );
    ensure!(
        counts == (1, 1, 0),
        "notify counts (member 1, member 2, not in group) = {counts:?}, expected (1, 1, 0)"
    );
    for event in [first, second, lone] {
        expect_status("CloseEvent", event.close(), Status::SUCCESS)?;
    }
    Ok(())
}
