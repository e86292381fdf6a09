//! Events: creation rules, handles, signalling, groups, CheckEvent/WaitForEvent, close, re-entrancy.

use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::ptr;

use r_efi::efi;

use super::harness::{Harness, PROBE};
use crate::event::{group, EventId, WaitError};
use crate::tpl::Tpl;
use crate::Status;

const OTHER_GROUP: efi::Guid =
    efi::Guid::from_fields(0x1234_5678, 1, 2, 3, 4, &[5, 6, 7, 8, 9, 10]);

#[test]
fn create_event_rejects_both_wait_and_signal() {
    let h = Harness::new();
    let p = h.probe("p");
    let kind = efi::EVT_NOTIFY_WAIT | efi::EVT_NOTIFY_SIGNAL;
    assert_eq!(
        h.svc
            .create_event(kind, Tpl::CALLBACK, Some(PROBE), p.ctx(), None),
        Err(Status::INVALID_PARAMETER)
    );
}

#[test]
fn create_event_rejects_unsupported_type_bits() {
    let h = Harness::new();
    let p = h.probe("p");
    for kind in [
        0x1,
        0x0000_0400,
        0x2000_0000,
        efi::EVT_SIGNAL_EXIT_BOOT_SERVICES | efi::EVT_TIMER,
    ] {
        assert_eq!(
            h.svc
                .create_event(kind, Tpl::CALLBACK, Some(PROBE), p.ctx(), None),
            Err(Status::INVALID_PARAMETER),
            "type {kind:#x}"
        );
    }
}

#[test]
fn create_event_requires_notify_function_for_notify_types() {
    let h = Harness::new();
    for kind in [
        efi::EVT_NOTIFY_WAIT,
        efi::EVT_NOTIFY_SIGNAL,
        efi::EVT_SIGNAL_EXIT_BOOT_SERVICES,
    ] {
        assert_eq!(
            h.svc
                .create_event(kind, Tpl::CALLBACK, None, ptr::null_mut(), None),
            Err(Status::INVALID_PARAMETER)
        );
    }
    // A plain timer or a bare event needs no function, and its TPL is not checked.
    assert!(h
        .svc
        .create_event(efi::EVT_TIMER, Tpl(0), None, ptr::null_mut(), None)
        .is_ok());
    assert!(h
        .svc
        .create_event(0, Tpl(99), None, ptr::null_mut(), None)
        .is_ok());
}

#[test]
fn create_event_rejects_bad_notify_tpl() {
    let h = Harness::new();
    let p = h.probe("p");
    for tpl in [Tpl::APPLICATION, Tpl(0), Tpl(9), Tpl(32)] {
        assert_eq!(
            h.svc
                .create_event(efi::EVT_NOTIFY_SIGNAL, tpl, Some(PROBE), p.ctx(), None),
            Err(Status::INVALID_PARAMETER),
            "tpl {}",
            tpl.0
        );
    }
    for tpl in [Tpl::CALLBACK, Tpl::NOTIFY, Tpl::HIGH_LEVEL] {
        assert!(h
            .svc
            .create_event(efi::EVT_NOTIFY_WAIT, tpl, Some(PROBE), p.ctx(), None)
            .is_ok());
    }
}

#[test]
fn special_types_join_their_groups() {
    let h = Harness::new();
    let exit = h.probe("exit");
    let virt = h.probe("virt");
    let ready = h.probe("ready");
    let kind = efi::EVT_SIGNAL_EXIT_BOOT_SERVICES;
    h.svc
        .create_event(kind, Tpl::CALLBACK, Some(PROBE), exit.ctx(), None)
        .unwrap();
    let kind = efi::EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE;
    h.svc
        .create_event(
            kind,
            Tpl::NOTIFY,
            Some(PROBE),
            virt.ctx(),
            Some(group::VIRTUAL_ADDRESS_CHANGE),
        )
        .unwrap();
    let grouped = Some(group::READY_TO_BOOT);
    h.svc
        .create_event(
            efi::EVT_NOTIFY_SIGNAL,
            Tpl::CALLBACK,
            Some(PROBE),
            ready.ctx(),
            grouped,
        )
        .unwrap();
    // A special type with a different group is contradictory.
    let wrong = Some(group::READY_TO_BOOT);
    let kind = efi::EVT_SIGNAL_EXIT_BOOT_SERVICES;
    assert_eq!(
        h.svc
            .create_event(kind, Tpl::CALLBACK, Some(PROBE), exit.ctx(), wrong),
        Err(Status::INVALID_PARAMETER)
    );

    h.svc.signal_group(&group::EXIT_BOOT_SERVICES).unwrap();
    assert_eq!(h.tags(), vec!["exit"]);
    h.svc.signal_group(&group::VIRTUAL_ADDRESS_CHANGE).unwrap();
    h.svc.signal_group(&group::READY_TO_BOOT).unwrap();
    assert_eq!(h.tags(), vec!["exit", "virt", "ready"]);
    let virt_regs = h
        .svc
        .group_notifications(&group::VIRTUAL_ADDRESS_CHANGE)
        .unwrap();
    assert_eq!(virt_regs.len(), 1);
    assert_eq!(virt_regs[0].context, virt.ctx());
}

#[test]
fn stale_or_forged_event_id_is_invalid_parameter() {
    let h = Harness::new();
    let e = h
        .svc
        .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), None)
        .unwrap();
    h.svc.close_event(e).unwrap();
    // The slot is reused by the next event, but the old handle stays dead.
    let reused = h
        .svc
        .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), None)
        .unwrap();
    assert_ne!(reused, e);
    for bad in [
        e,
        EventId::from_raw(0),
        EventId::from_raw(usize::MAX),
        EventId::from_raw(0x7fff_dead_b000),
    ] {
        assert_eq!(h.svc.signal_event(bad), Err(Status::INVALID_PARAMETER));
        assert_eq!(h.svc.check_event(bad), Err(Status::INVALID_PARAMETER));
        assert_eq!(h.svc.close_event(bad), Err(Status::INVALID_PARAMETER));
    }
    assert_eq!(h.svc.signal_event(reused), Ok(()));
    assert_eq!(h.svc.check_event(reused), Ok(()));
    assert_eq!(EventId::from_event(reused.as_event()), reused);
}

#[test]
fn notify_runs_when_tpl_drops_below_its_level() {
    let h = Harness::new();
    let p = h.probe("cb");
    let e = h.signal_event_for(Tpl::CALLBACK, &p);
    let old = h.svc.raise_tpl(Tpl::CALLBACK);
    h.svc.signal_event(e).unwrap();
    assert!(h.tags().is_empty(), "must not run at its own level");
    h.svc.restore_tpl(old);
    assert_eq!(h.tags(), vec!["cb"]);
    // At TPL_APPLICATION a signal runs it before SignalEvent returns, at its own level.
    h.svc.signal_event(e).unwrap();
    let log = h.log.borrow();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|call| call.tpl == Tpl::CALLBACK && call.interrupts_enabled));
    assert_eq!(h.svc.current_tpl(), Tpl::APPLICATION);
}

#[test]
fn higher_tpl_notifications_run_first() {
    let h = Harness::new();
    let (cb, notify, high) = (h.probe("callback"), h.probe("notify"), h.probe("high"));
    let ecb = h.signal_event_for(Tpl::CALLBACK, &cb);
    let enotify = h.signal_event_for(Tpl::NOTIFY, &notify);
    let ehigh = h.signal_event_for(Tpl::HIGH_LEVEL, &high);
    let old = h.svc.raise_tpl(Tpl::HIGH_LEVEL);
    for e in [ecb, enotify, ehigh] {
        h.svc.signal_event(e).unwrap();
    }
    assert!(h.tags().is_empty());
    h.svc.restore_tpl(old);
    assert_eq!(h.tags(), vec!["high", "notify", "callback"]);
    let log = h.log.borrow();
    assert_eq!(
        (log[0].tpl, log[0].interrupts_enabled),
        (Tpl::HIGH_LEVEL, false)
    );
    assert_eq!((log[1].tpl, log[1].interrupts_enabled), (Tpl::NOTIFY, true));
}

#[test]
fn same_tpl_notifications_run_in_signal_order() {
    let h = Harness::new();
    let probes = [h.probe("a"), h.probe("b"), h.probe("c")];
    let events: Vec<_> = probes
        .iter()
        .map(|p| h.signal_event_for(Tpl::CALLBACK, p))
        .collect();
    let old = h.svc.raise_tpl(Tpl::NOTIFY);
    for &i in &[2, 0, 1] {
        h.svc.signal_event(events[i]).unwrap();
    }
    h.svc.restore_tpl(old);
    assert_eq!(h.tags(), vec!["c", "a", "b"]);
}

#[test]
fn signalled_twice_is_queued_once() {
    let h = Harness::new();
    let p = h.probe("p");
    let e = h.signal_event_for(Tpl::CALLBACK, &p);
    let old = h.svc.raise_tpl(Tpl::NOTIFY);
    h.svc.signal_event(e).unwrap();
    h.svc.signal_event(e).unwrap();
    h.svc.restore_tpl(old);
    assert_eq!(h.count("p"), 1);
    // Back in the not-signalled state after its function ran: a new signal runs it again.
    h.svc.signal_event(e).unwrap();
    assert_eq!(h.count("p"), 2);
}

#[test]
fn signal_event_signals_whole_group() {
    let h = Harness::new();
    let (a, b, outsider) = (h.probe("a"), h.probe("b"), h.probe("outsider"));
    let grp = Some(OTHER_GROUP);
    let ea = h
        .svc
        .create_event(
            efi::EVT_NOTIFY_SIGNAL,
            Tpl::CALLBACK,
            Some(PROBE),
            a.ctx(),
            grp,
        )
        .unwrap();
    h.svc
        .create_event(
            efi::EVT_NOTIFY_SIGNAL,
            Tpl::NOTIFY,
            Some(PROBE),
            b.ctx(),
            grp,
        )
        .unwrap();
    let waiter = h
        .svc
        .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), grp)
        .unwrap();
    h.signal_event_for(Tpl::CALLBACK, &outsider);
    h.svc.signal_event(ea).unwrap();
    assert_eq!(h.tags(), vec!["b", "a"]);
    assert_eq!(
        h.svc.check_event(waiter),
        Ok(()),
        "plain member signalled too"
    );
}

#[test]
fn close_event_unregisters_from_group_and_timer() {
    let h = Harness::new();
    let (grouped, timed, queued) = (h.probe("grouped"), h.probe("timed"), h.probe("queued"));
    let grp = Some(OTHER_GROUP);
    let eg = h
        .svc
        .create_event(
            efi::EVT_NOTIFY_SIGNAL,
            Tpl::CALLBACK,
            Some(PROBE),
            grouped.ctx(),
            grp,
        )
        .unwrap();
    let keeper = h
        .svc
        .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), grp)
        .unwrap();
    let kind = efi::EVT_TIMER | efi::EVT_NOTIFY_SIGNAL;
    let et = h
        .svc
        .create_event(kind, Tpl::CALLBACK, Some(PROBE), timed.ctx(), None)
        .unwrap();
    h.svc
        .set_timer(et, crate::timer::TimerDelay::Periodic, 10)
        .unwrap();
    let eq = h.signal_event_for(Tpl::CALLBACK, &queued);
    let old = h.svc.raise_tpl(Tpl::NOTIFY);
    h.svc.signal_event(eq).unwrap();
    for e in [eg, et, eq] {
        h.svc.close_event(e).unwrap();
    }
    h.svc.restore_tpl(old);
    h.svc.signal_event(keeper).unwrap();
    h.svc.timer_tick(100);
    h.svc.timer_tick(200);
    assert!(h.tags().is_empty(), "closed events ran: {:?}", h.tags());
    assert_eq!(h.svc.check_event(keeper), Ok(()));
}

#[test]
fn notify_may_close_its_own_event() {
    let h = Harness::new();
    let p = h.probe_with("self-closing", |h, me| h.svc.close_event(me).unwrap());
    let e = h.signal_event_for(Tpl::CALLBACK, &p);
    h.svc.signal_event(e).unwrap();
    assert_eq!(h.tags(), vec!["self-closing"]);
    assert_eq!(h.svc.signal_event(e), Err(Status::INVALID_PARAMETER));
}

#[test]
fn notify_may_reenter_boot_services() {
    let h = Harness::new();
    let created = Cell::new(None);
    let inner_notify = h.probe("inner-notify");
    let inner_cb = h.probe("inner-callback");
    let e_notify = h.signal_event_for(Tpl::NOTIFY, &inner_notify);
    let e_cb = h.signal_event_for(Tpl::CALLBACK, &inner_cb);
    let outer = h.probe_with("outer", |h, _| {
        // Signal a higher and an equal level, raise/restore, and create an event, all from a notification.
        h.svc.signal_event(e_cb).unwrap();
        h.svc.signal_event(e_notify).unwrap();
        let old = h.svc.raise_tpl(Tpl::HIGH_LEVEL);
        h.svc.restore_tpl(old);
        created.set(Some(
            h.svc
                .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), None)
                .unwrap(),
        ));
        h.log.borrow_mut().push(super::harness::Call {
            tag: "outer-end",
            tpl: h.svc.current_tpl(),
            event: EventId::from_raw(0),
            interrupts_enabled: true,
        });
    });
    let e_outer = h.signal_event_for(Tpl::CALLBACK, &outer);
    h.svc.signal_event(e_outer).unwrap();
    // The NOTIFY one runs nested at once; the CALLBACK one waits for the outer function to return.
    assert_eq!(
        h.tags(),
        vec!["outer", "inner-notify", "outer-end", "inner-callback"]
    );
    assert_eq!(h.log.borrow()[2].tpl, Tpl::CALLBACK);
    assert!(h
        .svc
        .check_event(created.get().unwrap())
        .is_err_and(|s| s == Status::NOT_READY));
}

#[test]
fn check_event_on_notify_signal_event_is_invalid_parameter() {
    let h = Harness::new();
    let p = h.probe("p");
    let e = h.signal_event_for(Tpl::CALLBACK, &p);
    assert_eq!(h.svc.check_event(e), Err(Status::INVALID_PARAMETER));
}

#[test]
fn check_event_queues_notify_wait_function_and_reports_not_ready() {
    let h = Harness::new();
    let p = h.probe("wait");
    let e = h
        .svc
        .create_event(
            efi::EVT_NOTIFY_WAIT,
            Tpl::CALLBACK,
            Some(PROBE),
            p.ctx(),
            None,
        )
        .unwrap();
    assert_eq!(h.svc.check_event(e), Err(Status::NOT_READY));
    assert_eq!(h.tags(), vec!["wait"]);
    // Signalled: SUCCESS, the state is cleared, and the wait function is not queued.
    h.svc.signal_event(e).unwrap();
    assert_eq!(h.svc.check_event(e), Ok(()));
    assert_eq!(h.count("wait"), 1);
    assert_eq!(h.svc.check_event(e), Err(Status::NOT_READY));
    assert_eq!(h.count("wait"), 2);
}

#[test]
fn check_event_succeeds_when_the_wait_function_signals() {
    let h = Harness::new();
    let p = h.probe_with("wait", |h, me| h.svc.signal_event(me).unwrap());
    let e = h
        .svc
        .create_event(
            efi::EVT_NOTIFY_WAIT,
            Tpl::CALLBACK,
            Some(PROBE),
            p.ctx(),
            None,
        )
        .unwrap();
    assert_eq!(h.svc.check_event(e), Ok(()));
    assert_eq!(
        h.svc.check_event(e),
        Ok(()),
        "function signals it again on each check"
    );
    assert_eq!(h.count("wait"), 2);
}

#[test]
fn wait_for_event_above_application_is_unsupported() {
    let h = Harness::new();
    let e = h
        .svc
        .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), None)
        .unwrap();
    h.svc.signal_event(e).unwrap();
    let old = h.svc.raise_tpl(Tpl::CALLBACK);
    assert_eq!(
        h.svc.wait_for_event(&[e]),
        Err(WaitError {
            status: Status::UNSUPPORTED,
            index: None
        })
    );
    h.svc.restore_tpl(old);
    assert_eq!(h.svc.wait_for_event(&[e]), Ok(0));
}

#[test]
fn wait_for_event_rejects_empty_list_and_notify_signal_events_with_index() {
    let h = Harness::new();
    let p = h.probe("p");
    let plain = h
        .svc
        .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), None)
        .unwrap();
    let signal = h.signal_event_for(Tpl::CALLBACK, &p);
    assert_eq!(
        h.svc.wait_for_event(&[]),
        Err(WaitError {
            status: Status::INVALID_PARAMETER,
            index: None
        })
    );
    let got = h.svc.wait_for_event(&[plain, signal]);
    assert_eq!(
        got,
        Err(WaitError {
            status: Status::INVALID_PARAMETER,
            index: Some(1)
        })
    );
    let got = h.svc.wait_for_event(&[plain, EventId::from_raw(12345)]);
    assert_eq!(
        got,
        Err(WaitError {
            status: Status::INVALID_PARAMETER,
            index: Some(1)
        })
    );
}

#[test]
fn wait_for_event_idles_until_an_event_is_signalled() {
    let h = Harness::new();
    let first = h
        .svc
        .create_event(
            efi::EVT_TIMER,
            Tpl::APPLICATION,
            None,
            ptr::null_mut(),
            None,
        )
        .unwrap();
    let second = h
        .svc
        .create_event(
            efi::EVT_TIMER,
            Tpl::APPLICATION,
            None,
            ptr::null_mut(),
            None,
        )
        .unwrap();
    h.svc
        .set_timer(first, crate::timer::TimerDelay::Relative, 1_000)
        .unwrap();
    h.svc
        .set_timer(second, crate::timer::TimerDelay::Relative, 300)
        .unwrap();
    let mut now = 0;
    let mut idles = 0;
    let index = h.svc.wait_for_event_with(&[first, second], || {
        idles += 1;
        now += 100;
        h.svc.timer_tick(now);
    });
    assert_eq!(index, Ok(1));
    assert_eq!(idles, 3, "second timer fires on the tick at 300");
    assert_eq!(
        h.svc.check_event(second),
        Err(Status::NOT_READY),
        "WaitForEvent cleared it"
    );
}

#[test]
fn wait_for_event_uses_platform_idle() {
    let h = Harness::new();
    let e = h
        .svc
        .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), None)
        .unwrap();
    h.svc.signal_event(e).unwrap();
    assert_eq!(h.svc.wait_for_event(&[e]), Ok(0));
    assert_eq!(
        h.svc.platform().idles.get(),
        0,
        "no idle when already signalled"
    );
}
