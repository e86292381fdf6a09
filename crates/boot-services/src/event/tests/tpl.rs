//! RaiseTPL/RestoreTPL rules, interrupt masking, and a property test of the dispatch order.

use alloc::vec::Vec;

use proptest::prelude::*;

use super::harness::Harness;
use crate::tpl::Tpl;

#[test]
fn raise_and_restore_return_and_set_levels() {
    let h = Harness::new();
    assert_eq!(h.svc.raise_tpl(Tpl::CALLBACK), Tpl::APPLICATION);
    assert_eq!(h.svc.raise_tpl(Tpl::NOTIFY), Tpl::CALLBACK);
    assert_eq!(h.svc.current_tpl(), Tpl::NOTIFY);
    h.svc.restore_tpl(Tpl::CALLBACK);
    assert_eq!(h.svc.current_tpl(), Tpl::CALLBACK);
    h.svc.restore_tpl(Tpl::APPLICATION);
    assert_eq!(h.svc.current_tpl(), Tpl::APPLICATION);
}

#[test]
fn interrupts_are_disabled_only_at_high_level() {
    let h = Harness::new();
    let enabled = || h.svc.platform().interrupts_enabled.get();
    let old = h.svc.raise_tpl(Tpl::NOTIFY);
    assert!(enabled());
    let notify = h.svc.raise_tpl(Tpl::HIGH_LEVEL);
    assert!(!enabled());
    h.svc.restore_tpl(notify);
    assert!(enabled());
    h.svc.restore_tpl(old);
    assert!(enabled());
}

#[test]
fn raise_tpl_below_current_is_ignored() {
    let h = Harness::new();
    let old = h.svc.raise_tpl(Tpl::NOTIFY);
    assert_eq!(h.svc.raise_tpl(Tpl::CALLBACK), Tpl::NOTIFY);
    assert_eq!(
        h.svc.current_tpl(),
        Tpl::NOTIFY,
        "a lower RaiseTPL must not lower the TPL"
    );
    h.svc.restore_tpl(old);
    assert_eq!(h.svc.raise_tpl(Tpl(77)), Tpl::APPLICATION);
    assert_eq!(
        h.svc.current_tpl(),
        Tpl::HIGH_LEVEL,
        "clamped to TPL_HIGH_LEVEL"
    );
    assert!(!h.svc.platform().interrupts_enabled.get());
}

#[test]
fn restore_tpl_above_current_is_ignored() {
    let h = Harness::new();
    let p = h.probe("cb");
    let e = h.signal_event_for(Tpl::CALLBACK, &p);
    h.svc.raise_tpl(Tpl::CALLBACK);
    h.svc.signal_event(e).unwrap();
    h.svc.restore_tpl(Tpl::HIGH_LEVEL);
    assert_eq!(h.svc.current_tpl(), Tpl::CALLBACK);
    assert!(h.svc.platform().interrupts_enabled.get());
    assert!(h.tags().is_empty());
    h.svc.restore_tpl(Tpl(0));
    assert_eq!(
        h.svc.current_tpl(),
        Tpl::APPLICATION,
        "below TPL_APPLICATION is treated as TPL_APPLICATION"
    );
    assert_eq!(h.tags(), alloc::vec!["cb"]);
}

const LEVELS: [Tpl; 3] = [Tpl::CALLBACK, Tpl::NOTIFY, Tpl::HIGH_LEVEL];

proptest! {
    /// Whatever is signalled under a raised TPL runs exactly once per event on restore, in non-increasing TPL
    /// order, each at its own level.
    #[test]
    fn restore_runs_each_signalled_event_once_in_priority_order(
        levels in proptest::collection::vec(0usize..3, 1..8),
        signals in proptest::collection::vec(0usize..8, 0..24),
        raise_to in 0usize..3,
    ) {
        let h = Harness::new();
        let probes: Vec<_> = levels.iter().map(|_| h.probe("p")).collect();
        let events: Vec<_> = probes.iter().zip(&levels).map(|(p, &l)| h.signal_event_for(LEVELS[l], p)).collect();
        let old = h.svc.raise_tpl(LEVELS[raise_to]);
        let raised = LEVELS[raise_to];
        let mut expected = alloc::vec![0usize; events.len()];
        for &s in &signals {
            let index = s % events.len();
            h.svc.signal_event(events[index]).unwrap();
            // Above the raised level a signal runs the function at once (every time); at or below it the
            // event is queued once until the restore.
            if LEVELS[levels[index]] > raised || expected[index] == 0 {
                expected[index] += 1;
            }
        }
        h.svc.restore_tpl(old);
        let log = h.log.borrow();
        prop_assert_eq!(log.len(), expected.iter().sum::<usize>());
        for (index, count) in expected.iter().enumerate() {
            prop_assert_eq!(log.iter().filter(|c| c.event == events[index]).count(), *count);
        }
        for call in log.iter() {
            let index = events.iter().position(|e| *e == call.event).unwrap();
            prop_assert_eq!(call.tpl, LEVELS[levels[index]]);
        }
        let deferred: Vec<_> = log.iter().filter(|c| c.tpl <= raised).map(|c| c.tpl).collect();
        prop_assert!(deferred.windows(2).all(|w| w[0] >= w[1]), "deferred order {:?}", deferred);
        prop_assert_eq!(h.svc.current_tpl(), Tpl::APPLICATION);
    }
}
