//! The key notifications of Simple Text Input Ex (UEFI 2.10 section 12.2.5, `RegisterKeyNotify`): a fixed table
//! of (key, function) registrations and the rule that decides which ones a typed key triggers.
//!
//! # Matching
//! A registration matches a key when the scan code and the character are equal and:
//! - its `KeyShiftState` is 0 (modifiers ignored), or it equals the key's modifiers, where a key without shift
//!   information counts as "no modifier" and left and right modifiers count as the same (a terminal cannot tell
//!   them apart and reports left);
//! - its `KeyToggleState` is 0 (ignored), or it equals the console's toggle state (`KEY_STATE_EXPOSED` aside).
//!
//! Registering the same key and function twice returns the first handle, as the specification's
//! "already registered" case does in edk2-derived firmware.

use crate::keys::{shift, toggle, Key};

/// The registration table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// One registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration<F> {
    /// The key (scan code, character, shift state as registered).
    pub key: Key,
    /// The toggle state as registered.
    pub toggle_state: u8,
    /// The function to call.
    pub function: F,
    /// The handle given out (never 0).
    pub handle: u32,
}

/// Modifier bits with `VALID` removed and right-hand modifiers folded onto left-hand ones.
fn fold(state: u32) -> u32 {
    let state = state & !shift::VALID;
    let mut folded =
        state & !(shift::RIGHT_SHIFT | shift::RIGHT_CONTROL | shift::RIGHT_ALT | shift::RIGHT_LOGO);
    for (right, left) in [
        (shift::RIGHT_SHIFT, shift::LEFT_SHIFT),
        (shift::RIGHT_CONTROL, shift::LEFT_CONTROL),
        (shift::RIGHT_ALT, shift::LEFT_ALT),
        (shift::RIGHT_LOGO, shift::LEFT_LOGO),
    ] {
        if state & right != 0 {
            folded |= left;
        }
    }
    folded
}

/// Whether a key registered as `pattern` (with `pattern_toggle`) fires for `key` typed while the console's
/// toggle state is `toggle_state` (see the module notes).
pub fn matches(pattern: &Key, pattern_toggle: u8, key: &Key, toggle_state: u8) -> bool {
    let exposed = !toggle::KEY_STATE_EXPOSED;
    pattern.scan_code == key.scan_code
        && pattern.unicode_char == key.unicode_char
        && (pattern.shift_state == 0 || fold(pattern.shift_state) == fold(key.shift_state))
        && (pattern_toggle == 0 || pattern_toggle & exposed == toggle_state & exposed)
}

/// At most `N` registrations of functions `F`.
pub struct Registrations<F: Copy + PartialEq, const N: usize> {
    slots: [Option<Registration<F>>; N],
    next_handle: u32,
}

impl<F: Copy + PartialEq, const N: usize> Default for Registrations<F, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Copy + PartialEq, const N: usize> Registrations<F, N> {
    /// An empty table.
    pub const fn new() -> Self {
        Registrations {
            slots: [const { None }; N],
            next_handle: 1,
        }
    }

    /// Registers `function` for `key`/`toggle_state`; returns its handle (the existing one for a duplicate).
    /// Errors: [`Full`].
    pub fn register(&mut self, key: Key, toggle_state: u8, function: F) -> Result<u32, Full> {
        if let Some(existing) = self
            .slots
            .iter()
            .flatten()
            .find(|r| r.key == key && r.toggle_state == toggle_state && r.function == function)
        {
            return Ok(existing.handle);
        }
        let slot = self.slots.iter_mut().find(|s| s.is_none()).ok_or(Full)?;
        let handle = self.next_handle;
        self.next_handle = self.next_handle.checked_add(1).unwrap_or(1);
        *slot = Some(Registration {
            key,
            toggle_state,
            function,
            handle,
        });
        Ok(handle)
    }

    /// Removes the registration `handle`; false when there is none.
    pub fn unregister(&mut self, handle: u32) -> bool {
        match self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|r| r.handle == handle))
        {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    }

    /// The functions registered for `key` typed under `toggle_state`.
    pub fn matching<'a>(&'a self, key: &'a Key, toggle_state: u8) -> impl Iterator<Item = F> + 'a {
        self.slots
            .iter()
            .flatten()
            .filter(move |r| matches(&r.key, r.toggle_state, key, toggle_state))
            .map(|r| r.function)
    }

    /// How many registrations there are.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
