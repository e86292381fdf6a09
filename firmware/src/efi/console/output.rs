//! Simple Text Output (UEFI 2.10 section 12.4) on the console's [`Screen`]: the ABI shell. Each member checks
//! `This` and its pointers, runs the screen operation with the console state locked, publishes the result in
//! the protocol's `Mode` block, and sends the terminal bytes once the lock is released.

use core::sync::atomic::{AtomicPtr, Ordering};

use console::screen::{Screen, MODES};
use console::sink::ByteBuf;
use r_efi::efi::{self, Boolean, Status};
use r_efi::protocols::simple_text_output as sto;

use super::{uart, CONSOLE, LOG};

/// Code units handed to the screen per locked step (a surrogate pair is never split).
const CHUNK: usize = 64;
/// Terminal bytes one step can produce at most: per unit 4 bytes of UTF-8 and two line wraps, or a tab's 8
/// spaces and one wrap.
const STEP_BYTES: usize = CHUNK * 10;
/// Longest string read from a caller, in code units (a bound against a missing terminator).
const MAX_UNITS: usize = 1 << 20;

/// The installed protocol instance (checked against `This`).
static PROTOCOL: AtomicPtr<sto::Protocol> = AtomicPtr::new(core::ptr::null_mut());
/// Its `Mode` block.
static MODE: AtomicPtr<sto::Mode> = AtomicPtr::new(core::ptr::null_mut());

/// The protocol structure with `mode` as its Mode block; call [`activate`] once it sits in pool memory.
pub fn protocol(mode: *mut sto::Mode) -> sto::Protocol {
    sto::Protocol {
        reset,
        output_string,
        test_string,
        query_mode,
        set_mode,
        set_attribute,
        clear_screen,
        set_cursor_position,
        enable_cursor,
        mode,
    }
}

/// Makes `protocol` (with its Mode block) the instance the members accept, and fills the Mode block.
pub fn activate(protocol: *mut sto::Protocol, mode: *mut sto::Mode) {
    MODE.store(mode, Ordering::Relaxed);
    PROTOCOL.store(protocol, Ordering::Relaxed);
    CONSOLE.with(|c| publish(&c.screen));
}

/// Copies the screen state into the Mode block (`EFI_SIMPLE_TEXT_OUTPUT_MODE`).
fn publish(screen: &Screen) {
    let mode = MODE.load(Ordering::Relaxed);
    if mode.is_null() {
        return;
    }
    let (column, row) = screen.cursor();
    // SAFETY: `mode` is the Mode block this module allocated for the protocol; it lives as long as the firmware.
    unsafe {
        mode.write(sto::Mode {
            max_mode: MODES.len() as i32,
            mode: screen.mode() as i32,
            attribute: i32::from(screen.attribute()),
            cursor_column: i32::from(column),
            cursor_row: i32::from(row),
            cursor_visible: Boolean::from(screen.cursor_visible()),
        })
    };
}

fn check(this: *mut sto::Protocol, member: &str) -> Result<(), Status> {
    if this.is_null() || this != PROTOCOL.load(Ordering::Relaxed) {
        log::warn!(target: LOG, "ConOut.{member}: This {this:p} is not the console's protocol");
        return Err(Status::INVALID_PARAMETER);
    }
    Ok(())
}

/// Runs `f` on the locked screen, publishes the Mode block, then sends what `f` produced.
fn on_screen<R>(f: impl FnOnce(&mut Screen, &mut ByteBuf<STEP_BYTES>) -> R) -> R {
    let mut bytes = ByteBuf::new();
    let result = CONSOLE.with(|c| {
        let r = f(&mut c.screen, &mut bytes);
        publish(&c.screen);
        r
    });
    uart::write(bytes.as_bytes());
    result
}

/// Calls `f` on consecutive pieces of the NUL-terminated string at `string`, at most [`CHUNK`] units each and
/// never splitting a surrogate pair. Returns false if the string was cut at [`MAX_UNITS`].
fn for_each_piece(string: *const efi::Char16, mut f: impl FnMut(&[u16])) -> bool {
    let mut offset = 0;
    while offset < MAX_UNITS {
        let mut units = [0u16; CHUNK];
        let mut n = 0;
        while n < CHUNK {
            // SAFETY: the caller passes a NUL-terminated UCS-2 string (OutputString/TestString contract); the
            // read stops at its NUL.
            let unit = unsafe { string.add(offset + n).read_unaligned() };
            if unit == 0 {
                break;
            }
            units[n] = unit;
            n += 1;
        }
        if n == 0 {
            return true;
        }
        let ends_high = (0xd800..0xdc00).contains(&units[n - 1]);
        let take = if n == CHUNK && ends_high { n - 1 } else { n };
        f(&units[..take]);
        offset += take;
        if n < CHUNK {
            return true;
        }
    }
    false
}

extern "efiapi" fn reset(this: *mut sto::Protocol, _extended_verification: Boolean) -> Status {
    if let Err(e) = check(this, "Reset") {
        return e;
    }
    on_screen(|screen, out| screen.reset(out));
    Status::SUCCESS
}

extern "efiapi" fn output_string(this: *mut sto::Protocol, string: *mut efi::Char16) -> Status {
    if let Err(e) = check(this, "OutputString") {
        return e;
    }
    if string.is_null() {
        log::warn!(target: LOG, "ConOut.OutputString: NULL string");
        return Status::INVALID_PARAMETER;
    }
    let mut unknown_glyph = false;
    let complete = for_each_piece(string, |piece| {
        unknown_glyph |= on_screen(|screen, out| screen.output(piece, out)).unknown_glyph;
    });
    if !complete {
        log::warn!(target: LOG, "ConOut.OutputString: string longer than {MAX_UNITS} units, cut there");
    }
    if unknown_glyph {
        Status::WARN_UNKNOWN_GLYPH
    } else {
        Status::SUCCESS
    }
}

extern "efiapi" fn test_string(this: *mut sto::Protocol, string: *mut efi::Char16) -> Status {
    if let Err(e) = check(this, "TestString") {
        return e;
    }
    if string.is_null() {
        log::warn!(target: LOG, "ConOut.TestString: NULL string");
        return Status::INVALID_PARAMETER;
    }
    let mut all = true;
    for_each_piece(string, |piece| all &= Screen::test_string(piece));
    if all {
        Status::SUCCESS
    } else {
        Status::UNSUPPORTED
    }
}

extern "efiapi" fn query_mode(
    this: *mut sto::Protocol,
    number: usize,
    columns: *mut usize,
    rows: *mut usize,
) -> Status {
    if let Err(e) = check(this, "QueryMode") {
        return e;
    }
    let Ok(mode) = Screen::query_mode(number) else {
        return Status::UNSUPPORTED;
    };
    if columns.is_null() || rows.is_null() {
        log::warn!(target: LOG, "ConOut.QueryMode: NULL Columns or Rows");
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: non-null OUT UINTNs (QueryMode contract).
    unsafe {
        columns.write_unaligned(usize::from(mode.columns));
        rows.write_unaligned(usize::from(mode.rows));
    }
    Status::SUCCESS
}

extern "efiapi" fn set_mode(this: *mut sto::Protocol, number: usize) -> Status {
    if let Err(e) = check(this, "SetMode") {
        return e;
    }
    match on_screen(|screen, out| screen.set_mode(number, out)) {
        Ok(()) => Status::SUCCESS,
        Err(_) => {
            log::debug!(target: LOG, "ConOut.SetMode({number}): no such mode");
            Status::UNSUPPORTED
        }
    }
}

extern "efiapi" fn set_attribute(this: *mut sto::Protocol, attribute: usize) -> Status {
    if let Err(e) = check(this, "SetAttribute") {
        return e;
    }
    match on_screen(|screen, out| screen.set_attribute(attribute, out)) {
        Ok(()) => Status::SUCCESS,
        Err(_) => {
            log::warn!(target: LOG, "ConOut.SetAttribute({attribute:#x}): reserved bits set");
            Status::UNSUPPORTED
        }
    }
}

extern "efiapi" fn clear_screen(this: *mut sto::Protocol) -> Status {
    if let Err(e) = check(this, "ClearScreen") {
        return e;
    }
    on_screen(|screen, out| screen.clear(out));
    Status::SUCCESS
}

extern "efiapi" fn set_cursor_position(
    this: *mut sto::Protocol,
    column: usize,
    row: usize,
) -> Status {
    if let Err(e) = check(this, "SetCursorPosition") {
        return e;
    }
    match on_screen(|screen, out| screen.set_cursor(column, row, out)) {
        Ok(()) => Status::SUCCESS,
        Err(_) => {
            log::debug!(target: LOG, "ConOut.SetCursorPosition({column}, {row}): outside the mode");
            Status::UNSUPPORTED
        }
    }
}

extern "efiapi" fn enable_cursor(this: *mut sto::Protocol, visible: Boolean) -> Status {
    if let Err(e) = check(this, "EnableCursor") {
        return e;
    }
    on_screen(|screen, out| screen.enable_cursor(bool::from(visible), out));
    Status::SUCCESS
}
