//! ExitBootServices phases, final actions, the quiesce API, and runtime mode.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::ptr;

use r_efi::efi;

use super::harness::{FakeMemory, Harness, PROBE};
use crate::event::group;
use crate::timer::TimerDelay;
use crate::tpl::Tpl;
use crate::Status;

const KEY: usize = 0x42;

#[test]
fn exit_boot_services_with_stale_key_fails_and_retry_succeeds() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let (exit, failed) = (h.probe("exit"), h.probe("failed"));
    h.svc
        .register_quiesce("dev", Tpl::NOTIFY, PROBE, exit.ctx())
        .unwrap();
    let grp = Some(group::EXIT_BOOT_SERVICES_FAILED);
    h.svc
        .create_event(
            efi::EVT_NOTIFY_SIGNAL,
            Tpl::CALLBACK,
            Some(PROBE),
            failed.ctx(),
            grp,
        )
        .unwrap();

    assert_eq!(
        h.svc.exit_boot_services(&mem, KEY - 1),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        h.tags(),
        vec!["failed"],
        "exit handlers must not run on a stale key"
    );
    assert!(!mem.locked.get());
    assert!(
        h.svc.platform().timer_running.get(),
        "timer restarted for the retry"
    );
    assert!(!h.svc.is_runtime());
    // Still fully usable: timers tick, events signal.
    let t = h
        .svc
        .create_event(
            efi::EVT_TIMER,
            Tpl::APPLICATION,
            None,
            ptr::null_mut(),
            None,
        )
        .unwrap();
    h.svc.set_timer(t, TimerDelay::Relative, 1).unwrap();
    h.svc.timer_tick(1);
    assert_eq!(h.svc.check_event(t), Ok(()));

    assert_eq!(h.svc.exit_boot_services(&mem, KEY), Ok(()));
    assert_eq!(h.tags(), vec!["failed", "exit"]);
    assert!(mem.locked.get());
    assert!(!h.svc.platform().timer_running.get());
    assert!(h.svc.is_runtime());
}

#[test]
fn before_exit_boot_services_signalled_once() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let before = h.probe_with("before", |_, _| mem.allocate());
    let grp = Some(group::BEFORE_EXIT_BOOT_SERVICES);
    h.svc
        .create_event(
            efi::EVT_NOTIFY_SIGNAL,
            Tpl::CALLBACK,
            Some(PROBE),
            before.ctx(),
            grp,
        )
        .unwrap();
    assert!(h.svc.exit_boot_services(&mem, 0).is_err());
    assert!(h.svc.exit_boot_services(&mem, 1).is_err());
    assert_eq!(h.svc.exit_boot_services(&mem, KEY), Ok(()));
    assert_eq!(h.count("before"), 1);
    assert_eq!(
        mem.journal.borrow()[0],
        "allocation",
        "before-exit handlers run before the map is locked"
    );
}

#[test]
fn exit_handlers_run_notify_before_callback() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let (cb1, notify, cb2) = (h.probe("cb1"), h.probe("notify"), h.probe("cb2"));
    h.svc
        .register_quiesce("cb1", Tpl::CALLBACK, PROBE, cb1.ctx())
        .unwrap();
    let kind = efi::EVT_SIGNAL_EXIT_BOOT_SERVICES;
    h.svc
        .create_event(kind, Tpl::NOTIFY, Some(PROBE), notify.ctx(), None)
        .unwrap();
    let grp = Some(group::EXIT_BOOT_SERVICES);
    h.svc
        .create_event(
            efi::EVT_NOTIFY_SIGNAL,
            Tpl::CALLBACK,
            Some(PROBE),
            cb2.ctx(),
            grp,
        )
        .unwrap();
    h.svc.exit_boot_services(&mem, KEY).unwrap();
    assert_eq!(h.tags(), vec!["notify", "cb1", "cb2"]);
    let tpls: Vec<_> = h.log.borrow().iter().map(|c| c.tpl).collect();
    assert_eq!(tpls, vec![Tpl::NOTIFY, Tpl::CALLBACK, Tpl::CALLBACK]);
}

#[test]
fn exit_handlers_run_even_when_called_at_raised_tpl() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let q = h.probe("quiesce");
    h.svc
        .register_quiesce("dev", Tpl::CALLBACK, PROBE, q.ctx())
        .unwrap();
    h.svc.raise_tpl(Tpl::NOTIFY);
    h.svc.exit_boot_services(&mem, KEY).unwrap();
    assert_eq!(h.tags(), vec!["quiesce"]);
}

#[test]
fn exit_handler_violations_name_the_handler() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let q = h.probe_with("virtio", |_, _| mem.allocate());
    let anon = h.probe_with("anon", |_, _| mem.allocate());
    h.svc
        .register_quiesce("virtio-blk 00:03.0", Tpl::NOTIFY, PROBE, q.ctx())
        .unwrap();
    let kind = efi::EVT_SIGNAL_EXIT_BOOT_SERVICES;
    let e = h
        .svc
        .create_event(kind, Tpl::CALLBACK, Some(PROBE), anon.ctx(), None)
        .unwrap();
    h.svc.exit_boot_services(&mem, KEY).unwrap();
    let journal = mem.journal.borrow();
    assert_eq!(journal[0], "lock");
    assert_eq!(journal[1], "violation by Some(\"virtio-blk 00:03.0\")");
    assert!(
        journal[2].contains(&alloc::format!("event {:#x}", e.raw())),
        "{}",
        journal[2]
    );
    assert_eq!(mem.who(), None, "context cleared after the hand-off");
}

#[test]
fn final_phase_runs_after_all_handlers() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let order: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let cb = h.probe_with("cb", |_, _| {
        order.borrow_mut().push("handler cb".to_string())
    });
    let notify = h.probe_with("notify", |_, _| {
        order.borrow_mut().push("handler notify".to_string())
    });
    h.svc
        .register_quiesce("cb", Tpl::CALLBACK, PROBE, cb.ctx())
        .unwrap();
    h.svc
        .register_quiesce("notify", Tpl::NOTIFY, PROBE, notify.ctx())
        .unwrap();
    let bounce = Box::new(move || o1.borrow_mut().push("final bounce".to_string()));
    h.svc
        .register_final_action("bounce buffers", bounce)
        .unwrap();
    let bus = Box::new(move || o2.borrow_mut().push("final bus".to_string()));
    h.svc.register_final_action("bus hand-off", bus).unwrap();
    h.svc.exit_boot_services(&mem, KEY).unwrap();
    assert_eq!(
        *order.borrow(),
        vec!["handler notify", "handler cb", "final bus", "final bounce"]
    );
}

#[test]
fn final_actions_are_attributed_and_unregistered_ones_skipped() {
    let h = Harness::new();
    let seen: Rc<RefCell<Vec<Option<String>>>> = Rc::new(RefCell::new(Vec::new()));
    let memory = Rc::new(FakeMemory::new(KEY));
    let (s1, m1) = (seen.clone(), memory.clone());
    h.svc
        .register_final_action(
            "dma unmap",
            Box::new(move || s1.borrow_mut().push(m1.who())),
        )
        .unwrap();
    let s2 = seen.clone();
    let dropped = h
        .svc
        .register_final_action("never", Box::new(move || s2.borrow_mut().push(None)))
        .unwrap();
    h.svc.unregister_final_action(dropped).unwrap();
    h.svc.exit_boot_services(&*memory, KEY).unwrap();
    assert_eq!(*seen.borrow(), vec![Some("dma unmap".to_string())]);
    assert!(memory.locked.get());
    let token = crate::exit::FinalActionToken(999);
    assert_eq!(
        h.svc.unregister_final_action(token),
        Err(Status::UNSUPPORTED)
    );
}

#[test]
fn unregister_unknown_final_action_is_not_found() {
    let h = Harness::new();
    let token = h.svc.register_final_action("x", Box::new(|| {})).unwrap();
    let stale = crate::exit::FinalActionToken(12345);
    assert_eq!(h.svc.unregister_final_action(stale), Err(Status::NOT_FOUND));
    h.svc.unregister_final_action(token).unwrap();
}

#[test]
fn unregistered_quiesce_is_not_called() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let (stopped, live) = (h.probe("stopped"), h.probe("live"));
    let token = h
        .svc
        .register_quiesce("stopped", Tpl::NOTIFY, PROBE, stopped.ctx())
        .unwrap();
    h.svc
        .register_quiesce("live", Tpl::NOTIFY, PROBE, live.ctx())
        .unwrap();
    let event = token.event();
    h.svc.unregister_quiesce(token).unwrap();
    assert_eq!(h.svc.signal_event(event), Err(Status::INVALID_PARAMETER));
    h.svc.exit_boot_services(&mem, KEY).unwrap();
    assert_eq!(h.tags(), vec!["live"]);
}

#[test]
fn register_quiesce_rejects_bad_tpl() {
    let h = Harness::new();
    let p = h.probe("p");
    for tpl in [Tpl::APPLICATION, Tpl::HIGH_LEVEL, Tpl(12)] {
        assert_eq!(
            h.svc.register_quiesce("x", tpl, PROBE, p.ctx()),
            Err(Status::INVALID_PARAMETER)
        );
    }
}

#[test]
fn pending_unrelated_notifications_are_discarded_at_exit() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let (poll, q) = (h.probe("poll"), h.probe("quiesce"));
    let e = h.signal_event_for(Tpl::CALLBACK, &poll);
    h.svc
        .register_quiesce("dev", Tpl::CALLBACK, PROBE, q.ctx())
        .unwrap();
    // Phase 1 drains pending notifications; on the retry (phase 1 skipped) one is pending at a raised TPL.
    assert_eq!(
        h.svc.exit_boot_services(&mem, KEY + 1),
        Err(Status::INVALID_PARAMETER)
    );
    h.svc.raise_tpl(Tpl::NOTIFY);
    h.svc.signal_event(e).unwrap();
    h.svc.exit_boot_services(&mem, KEY).unwrap();
    assert_eq!(
        h.tags(),
        vec!["quiesce"],
        "a device's poll must not run after its reset"
    );
}

#[test]
fn boot_services_after_exit_do_not_touch_state() {
    let h = Harness::new();
    let mem = FakeMemory::new(KEY);
    let p = h.probe("p");
    let e = h.signal_event_for(Tpl::CALLBACK, &p);
    let t = h
        .svc
        .create_event(
            efi::EVT_TIMER,
            Tpl::APPLICATION,
            None,
            ptr::null_mut(),
            None,
        )
        .unwrap();
    h.svc.set_timer(t, TimerDelay::Periodic, 1).unwrap();
    h.svc.set_watchdog_timer(1, 0, &[]).unwrap();
    h.svc.exit_boot_services(&mem, KEY).unwrap();
    assert!(!h.svc.platform().interrupts_enabled.get());
    assert_eq!(h.svc.current_tpl(), Tpl::HIGH_LEVEL);

    // Hold the state borrowed: any entry point that touched it would fail with DEVICE_ERROR instead.
    let _guard = h.svc.state.borrow_mut();
    let unsupported = Err(Status::UNSUPPORTED);
    assert_eq!(
        h.svc
            .create_event(0, Tpl::APPLICATION, None, ptr::null_mut(), None),
        unsupported
    );
    assert_eq!(h.svc.signal_event(e), Err(Status::UNSUPPORTED));
    assert_eq!(
        h.svc.signal_group(&group::READY_TO_BOOT),
        Err(Status::UNSUPPORTED)
    );
    assert_eq!(h.svc.check_event(t), Err(Status::UNSUPPORTED));
    assert_eq!(h.svc.close_event(e), Err(Status::UNSUPPORTED));
    assert_eq!(
        h.svc.set_timer(t, TimerDelay::Cancel, 0),
        Err(Status::UNSUPPORTED)
    );
    assert_eq!(
        h.svc.set_watchdog_timer(0, 0, &[]),
        Err(Status::UNSUPPORTED)
    );
    assert_eq!(
        h.svc.wait_for_event(&[t]).map_err(|w| w.status),
        Err(Status::UNSUPPORTED)
    );
    assert_eq!(
        h.svc
            .register_quiesce("x", Tpl::NOTIFY, PROBE, p.ctx())
            .map(|_| ()),
        Err(Status::UNSUPPORTED)
    );
    assert_eq!(
        h.svc
            .register_final_action("x", Box::new(|| {}))
            .map(|_| ()),
        Err(Status::UNSUPPORTED)
    );
    assert_eq!(
        h.svc.exit_boot_services(&mem, KEY),
        Err(Status::UNSUPPORTED)
    );
    assert_eq!(h.svc.raise_tpl(Tpl::NOTIFY), Tpl::HIGH_LEVEL);
    h.svc.restore_tpl(Tpl::APPLICATION);
    h.svc.timer_tick(1_000_000_000);
    assert_eq!(h.svc.current_tpl(), Tpl::HIGH_LEVEL);
    assert!(
        !h.svc.platform().interrupts_enabled.get(),
        "interrupts stay off"
    );
    assert!(h.tags().is_empty());
    assert!(
        h.svc.platform().resets.borrow().is_empty(),
        "watchdog disabled by the exit"
    );
}
