//! RegisterKeyNotify bookkeeping and matching.

use crate::keys::{scan, shift, toggle, Key};
use crate::notify::{matches, Full, Registrations};

#[test]
fn register_unregister_and_duplicates() {
    let mut r = Registrations::<u8, 2>::new();
    let a = r.register(Key::scan(scan::UP), 0, 1).unwrap();
    assert_eq!(r.register(Key::scan(scan::UP), 0, 1), Ok(a));
    let b = r.register(Key::scan(scan::UP), 0, 2).unwrap();
    assert_ne!(a, b);
    assert_ne!(a, 0);
    assert_eq!(r.register(Key::char(0x61), 0, 3), Err(Full));
    assert_eq!(
        r.matching(&Key::scan(scan::UP), 0)
            .collect::<std::vec::Vec<_>>(),
        [1, 2]
    );
    assert!(r.unregister(a));
    assert!(!r.unregister(a));
    assert!(!r.unregister(12345));
    assert_eq!(r.len(), 1);
    assert!(r.register(Key::char(0x61), 0, 3).is_ok());
}

#[test]
fn matching_rules() {
    let up = Key::scan(scan::UP);
    let ctrl_up = up.with_shift(shift::LEFT_CONTROL);
    // Key and character must match.
    assert!(matches(&up, 0, &up, 0));
    assert!(!matches(&up, 0, &Key::scan(scan::DOWN), 0));
    assert!(!matches(&Key::char(0x61), 0, &Key::char(0x62), 0));
    // Shift state 0 in the registration ignores modifiers.
    assert!(matches(&up, 0, &ctrl_up, 0));
    // A registered shift state must equal the key's; right and left count the same.
    let right_ctrl_up = Key {
        shift_state: shift::VALID | shift::RIGHT_CONTROL,
        ..up
    };
    assert!(matches(&right_ctrl_up, 0, &ctrl_up, 0));
    assert!(!matches(&right_ctrl_up, 0, &up, 0));
    // "Valid, no modifier" matches a key without shift information.
    let plain = Key {
        shift_state: shift::VALID,
        ..up
    };
    assert!(matches(&plain, 0, &up, 0));
    assert!(!matches(&plain, 0, &ctrl_up, 0));
    // Toggle state: 0 ignores it; otherwise it must equal the console's.
    let caps = toggle::VALID | toggle::CAPS_LOCK;
    assert!(matches(&up, caps, &up, caps | toggle::KEY_STATE_EXPOSED));
    assert!(!matches(&up, caps, &up, toggle::VALID));
}
