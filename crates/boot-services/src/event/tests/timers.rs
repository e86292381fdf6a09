//! SetTimer, the timer tick, and the watchdog.

use alloc::vec;
use core::ptr;

use r_efi::efi;

use super::harness::{Harness, PROBE};
use crate::event::EventId;
use crate::timer::TimerDelay;
use crate::tpl::Tpl;
use crate::Status;

fn timer_event(h: &Harness, probe: &super::harness::Probe<'_>) -> EventId {
    let kind = efi::EVT_TIMER | efi::EVT_NOTIFY_SIGNAL;
    h.svc
        .create_event(kind, Tpl::CALLBACK, Some(PROBE), probe.ctx(), None)
        .unwrap()
}

#[test]
fn timer_delay_decodes_abi_values() {
    assert_eq!(TimerDelay::from_raw(0), Ok(TimerDelay::Cancel));
    assert_eq!(TimerDelay::from_raw(1), Ok(TimerDelay::Periodic));
    assert_eq!(TimerDelay::from_raw(2), Ok(TimerDelay::Relative));
    assert_eq!(TimerDelay::from_raw(3), Err(Status::INVALID_PARAMETER));
}

#[test]
fn set_timer_requires_a_timer_event() {
    let h = Harness::new();
    let p = h.probe("p");
    let e = h.signal_event_for(Tpl::CALLBACK, &p);
    assert_eq!(
        h.svc.set_timer(e, TimerDelay::Relative, 10),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        h.svc.set_timer(EventId::from_raw(3), TimerDelay::Cancel, 0),
        Err(Status::INVALID_PARAMETER)
    );
}

#[test]
fn relative_timer_fires_once_after_its_delay() {
    let h = Harness::new();
    let p = h.probe("t");
    let e = timer_event(&h, &p);
    h.svc.timer_tick(1_000);
    h.svc.set_timer(e, TimerDelay::Relative, 250).unwrap();
    h.svc.timer_tick(1_100);
    assert_eq!(h.count("t"), 0);
    h.svc.timer_tick(1_250);
    assert_eq!(h.count("t"), 1);
    h.svc.timer_tick(5_000);
    assert_eq!(h.count("t"), 1);
}

#[test]
fn zero_relative_timer_fires_on_next_tick() {
    let h = Harness::new();
    let p = h.probe("t");
    let e = timer_event(&h, &p);
    h.svc.set_timer(e, TimerDelay::Relative, 0).unwrap();
    assert_eq!(h.count("t"), 0);
    h.svc.timer_tick(1);
    assert_eq!(h.count("t"), 1);
}

#[test]
fn periodic_timer_refires() {
    let h = Harness::new();
    let p = h.probe("t");
    let e = timer_event(&h, &p);
    h.svc.set_timer(e, TimerDelay::Periodic, 100).unwrap();
    for now in (50..=500).step_by(50) {
        h.svc.timer_tick(now);
    }
    assert_eq!(h.count("t"), 5, "at 100, 200, 300, 400, 500");
    // A long gap skips missed periods: one firing, then the period continues from the tick.
    h.svc.timer_tick(1_050);
    assert_eq!(h.count("t"), 6);
    h.svc.timer_tick(1_100);
    assert_eq!(h.count("t"), 6);
    h.svc.timer_tick(1_150);
    assert_eq!(h.count("t"), 7);
}

#[test]
fn periodic_zero_timer_fires_every_tick() {
    let h = Harness::new();
    let p = h.probe("t");
    let e = timer_event(&h, &p);
    h.svc.set_timer(e, TimerDelay::Periodic, 0).unwrap();
    for now in 1..=4 {
        h.svc.timer_tick(now);
    }
    assert_eq!(h.count("t"), 4);
}

#[test]
fn cancel_disarms_a_timer() {
    let h = Harness::new();
    let p = h.probe("t");
    let e = timer_event(&h, &p);
    h.svc.set_timer(e, TimerDelay::Periodic, 10).unwrap();
    h.svc.set_timer(e, TimerDelay::Cancel, 0).unwrap();
    h.svc.timer_tick(1_000);
    assert_eq!(h.count("t"), 0);
}

#[test]
fn tick_dispatch_waits_for_the_interrupted_tpl() {
    let h = Harness::new();
    let p = h.probe("t");
    let e = timer_event(&h, &p);
    h.svc.set_timer(e, TimerDelay::Relative, 10).unwrap();
    let old = h.svc.raise_tpl(Tpl::CALLBACK);
    h.svc.timer_tick(10);
    assert_eq!(h.count("t"), 0, "interrupted code runs at the notify level");
    assert_eq!(h.svc.current_tpl(), Tpl::CALLBACK);
    h.svc.restore_tpl(old);
    assert_eq!(h.tags(), vec!["t"]);
}

#[test]
fn tick_signals_plain_timer_events_for_waiters() {
    let h = Harness::new();
    let e = h
        .svc
        .create_event(
            efi::EVT_TIMER,
            Tpl::APPLICATION,
            None,
            ptr::null_mut(),
            None,
        )
        .unwrap();
    h.svc.set_timer(e, TimerDelay::Relative, 5).unwrap();
    assert_eq!(h.svc.check_event(e), Err(Status::NOT_READY));
    h.svc.timer_tick(5);
    assert_eq!(h.svc.check_event(e), Ok(()));
    assert_eq!(h.svc.system_time(), Ok(5));
    h.svc.timer_tick(3);
    assert_eq!(h.svc.system_time(), Ok(5), "time never goes backwards");
}

#[test]
fn watchdog_expiry_resets() {
    let h = Harness::new();
    h.svc.set_watchdog_timer(5, 0x1_0000, b"boot\0").unwrap();
    h.svc.timer_tick(49_999_999);
    assert!(h.svc.platform().resets.borrow().is_empty());
    h.svc.timer_tick(50_000_000);
    assert_eq!(
        *h.svc.platform().resets.borrow(),
        vec![(0x1_0000, b"boot\0".to_vec())]
    );
    h.svc.timer_tick(100_000_000);
    assert_eq!(
        h.svc.platform().resets.borrow().len(),
        1,
        "reset requested once"
    );
}

#[test]
fn watchdog_zero_disables_and_rearming_restarts() {
    let h = Harness::new();
    h.svc.set_watchdog_timer(1, 0, &[]).unwrap();
    h.svc.set_watchdog_timer(0, 0, &[]).unwrap();
    h.svc.timer_tick(100_000_000);
    assert!(h.svc.platform().resets.borrow().is_empty());
    h.svc.set_watchdog_timer(2, 7, &[]).unwrap();
    h.svc.timer_tick(110_000_000);
    h.svc.set_watchdog_timer(2, 7, &[]).unwrap();
    h.svc.timer_tick(125_000_000);
    assert!(
        h.svc.platform().resets.borrow().is_empty(),
        "re-armed at 110 000 000 for 2 s"
    );
    h.svc.timer_tick(130_000_000);
    assert_eq!(h.svc.platform().resets.borrow().len(), 1);
}
