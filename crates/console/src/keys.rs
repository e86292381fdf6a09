//! EFI keys (UEFI 2.10 section 12.3, `EFI_INPUT_KEY`; section 12.2, `EFI_KEY_STATE`) and a fixed-capacity
//! queue of them.

/// EFI scan codes (UEFI 2.10 table 12-4, "EFI Scan Codes for EFI_SIMPLE_TEXT_INPUT_PROTOCOL").
pub mod scan {
    /// No scan code: the key is its Unicode character.
    pub const NULL: u16 = 0x00;
    /// Cursor up.
    pub const UP: u16 = 0x01;
    /// Cursor down.
    pub const DOWN: u16 = 0x02;
    /// Cursor right.
    pub const RIGHT: u16 = 0x03;
    /// Cursor left.
    pub const LEFT: u16 = 0x04;
    /// Home.
    pub const HOME: u16 = 0x05;
    /// End.
    pub const END: u16 = 0x06;
    /// Insert.
    pub const INSERT: u16 = 0x07;
    /// Delete.
    pub const DELETE: u16 = 0x08;
    /// Page up.
    pub const PAGE_UP: u16 = 0x09;
    /// Page down.
    pub const PAGE_DOWN: u16 = 0x0a;
    /// F1; F2-F10 follow as 0x0C-0x14.
    pub const F1: u16 = 0x0b;
    /// F11.
    pub const F11: u16 = 0x15;
    /// F12.
    pub const F12: u16 = 0x16;
    /// Escape.
    pub const ESC: u16 = 0x17;
    /// F13; F14-F24 follow as 0x69-0x73.
    pub const F13: u16 = 0x68;
}

/// Characters with a meaning of their own in `UnicodeChar`.
pub mod chars {
    /// `CHAR_BACKSPACE`.
    pub const BACKSPACE: u16 = 0x08;
    /// `CHAR_TAB`.
    pub const TAB: u16 = 0x09;
    /// `CHAR_CARRIAGE_RETURN` (the Enter key).
    pub const CARRIAGE_RETURN: u16 = 0x0d;
}

/// `KeyShiftState` bits (UEFI 2.10 section 12.2.3).
pub mod shift {
    /// The other bits are valid.
    pub const VALID: u32 = 0x8000_0000;
    /// Right Shift.
    pub const RIGHT_SHIFT: u32 = 0x01;
    /// Left Shift.
    pub const LEFT_SHIFT: u32 = 0x02;
    /// Right Control.
    pub const RIGHT_CONTROL: u32 = 0x04;
    /// Left Control.
    pub const LEFT_CONTROL: u32 = 0x08;
    /// Right Alt.
    pub const RIGHT_ALT: u32 = 0x10;
    /// Left Alt.
    pub const LEFT_ALT: u32 = 0x20;
    /// Right logo key.
    pub const RIGHT_LOGO: u32 = 0x40;
    /// Left logo key.
    pub const LEFT_LOGO: u32 = 0x80;
}

/// `KeyToggleState` bits (UEFI 2.10 section 12.2.3).
pub mod toggle {
    /// The other bits are valid.
    pub const VALID: u8 = 0x80;
    /// Partial keystrokes (modifiers alone) are reported.
    pub const KEY_STATE_EXPOSED: u8 = 0x40;
    /// Scroll Lock.
    pub const SCROLL_LOCK: u8 = 0x01;
    /// Num Lock.
    pub const NUM_LOCK: u8 = 0x02;
    /// Caps Lock.
    pub const CAPS_LOCK: u8 = 0x04;
}

/// One key as the terminal told it: scan code, character, and the modifiers when the terminal's sequence carried
/// them (`shift_state` is 0 otherwise, "state not known", as the specification allows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Key {
    /// `ScanCode` ([`scan`]).
    pub scan_code: u16,
    /// `UnicodeChar` (0 with a scan code).
    pub unicode_char: u16,
    /// `KeyShiftState`: 0, or [`shift::VALID`] with modifier bits.
    pub shift_state: u32,
}

impl Key {
    /// A key with a scan code.
    pub const fn scan(scan_code: u16) -> Key {
        Key {
            scan_code,
            unicode_char: 0,
            shift_state: 0,
        }
    }

    /// A key with a character.
    pub const fn char(unicode_char: u16) -> Key {
        Key {
            scan_code: scan::NULL,
            unicode_char,
            shift_state: 0,
        }
    }

    /// The same key with modifier bits (sets [`shift::VALID`]); `modifiers` 0 leaves the key unchanged.
    pub const fn with_shift(self, modifiers: u32) -> Key {
        if modifiers == 0 {
            return self;
        }
        Key {
            shift_state: self.shift_state | shift::VALID | modifiers,
            ..self
        }
    }
}

/// Keys waiting to be read, oldest first; at most `N`. A key arriving at a full queue is dropped and counted.
pub struct KeyQueue<const N: usize> {
    keys: [Key; N],
    head: usize,
    len: usize,
    dropped: u32,
}

impl<const N: usize> Default for KeyQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> KeyQueue<N> {
    /// An empty queue.
    pub const fn new() -> Self {
        KeyQueue {
            keys: [Key {
                scan_code: 0,
                unicode_char: 0,
                shift_state: 0,
            }; N],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    /// Appends `key`; false (and counted) when the queue is full.
    pub fn push(&mut self, key: Key) -> bool {
        if self.len == N {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        self.keys[(self.head + self.len) % N] = key;
        self.len += 1;
        true
    }

    /// Removes and returns the oldest key.
    pub fn pop(&mut self) -> Option<Key> {
        if self.len == 0 {
            return None;
        }
        let key = self.keys[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(key)
    }

    /// The oldest key, left in place.
    pub fn peek(&self) -> Option<Key> {
        (self.len > 0).then(|| self.keys[self.head])
    }

    /// How many keys wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no key waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys dropped because the queue was full, since creation or [`KeyQueue::clear`].
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Empties the queue and the dropped count.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.dropped = 0;
    }
}
