//! Console checks (UEFI 2.10 §12.2-12.4): Simple Text Output's Mode block, QueryMode/SetMode, SetAttribute,
//! SetCursorPosition, EnableCursor, TestString and cursor tracking by OutputString; Simple Text Input (Ex)
//! without input, SetState and key-notify registration; the console handle's device path. The device path
//! protocols are checked by [`paths`]; keys typed on the serial line by [`keys`] when the load options ask.
//!
//! Design: the checks only expect what the specification guarantees, so they also pass on OVMF; what is vmfw's
//! own choice (the serial device path, rejecting reserved attribute bits and lone surrogates) is checked only
//! when the firmware vendor is vmfw. Every check that changes the console puts back the mode, attribute and
//! cursor visibility it found, and ends on a fresh line so the report lines stay whole. Strings for the firmware
//! are built in fixed buffers: the app has no heap.

#[path = "console_keys.rs"]
mod keys;
#[path = "console_paths.rs"]
mod paths;

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use uefi_raw::protocol::console::{
    InputKey, KeyData, SimpleTextInputExProtocol, SimpleTextOutputMode, SimpleTextOutputProtocol,
};
use uefi_raw::protocol::device_path::DevicePathProtocol;
use uefi_raw::{Boolean, Handle, Status};

use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};
use crate::{expect_status, system_table};

/// A NUL-terminated UCS-2 string in a fixed buffer of `N` units (longer text is cut).
pub struct Ucs2<const N: usize> {
    units: [u16; N],
}

impl<const N: usize> Ucs2<N> {
    /// Encodes `text` (cut to `N - 1` units) and terminates it.
    pub fn new(text: &str) -> Self {
        let mut units = [0u16; N];
        for (slot, unit) in units[..N - 1].iter_mut().zip(text.encode_utf16()) {
            *slot = unit;
        }
        Ucs2 { units }
    }

    /// From raw units (cut to `N - 1`), terminated.
    pub fn from_units(raw: &[u16]) -> Self {
        let mut units = [0u16; N];
        let n = raw.len().min(N - 1);
        units[..n].copy_from_slice(&raw[..n]);
        Ucs2 { units }
    }

    /// The string for the firmware.
    pub fn as_ptr(&self) -> *const u16 {
        self.units.as_ptr()
    }
}

/// Compares a NUL-terminated UCS-2 string from the firmware with `want`.
pub fn ucs2_eq(got: *const u16, want: &str) -> bool {
    let mut i = 0;
    for unit in want.encode_utf16() {
        // SAFETY: the firmware's strings are NUL-terminated; the walk stops at the first mismatch or NUL.
        if unsafe { got.add(i).read() } != unit {
            return false;
        }
        i += 1;
    }
    // SAFETY: as above; index `i` is at most one past the compared units, still inside the string.
    unsafe { got.add(i).read() == 0 }
}

/// Writes a NUL-terminated UCS-2 string from the firmware into `out` (for failure details).
pub struct Show(pub *const u16);

impl core::fmt::Display for Show {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.is_null() {
            return f.write_str("NULL");
        }
        let units = (0..4096)
            // SAFETY: NUL-terminated firmware string; bounded walk.
            .map(|i| unsafe { self.0.add(i).read() })
            .take_while(|&u| u != 0);
        for c in char::decode_utf16(units) {
            f.write_char(c.unwrap_or('\u{fffd}'))?;
        }
        Ok(())
    }
}

/// `EFI_DEVICE_PATH_PROTOCOL_GUID`.
pub const DEVICE_PATH_GUID: uefi_raw::Guid = DevicePathProtocol::GUID;

/// True when the firmware vendor string is "vmfw".
pub fn is_vmfw() -> bool {
    ucs2_eq(system_table().firmware_vendor, "vmfw")
}

fn con_out() -> *mut SimpleTextOutputProtocol {
    system_table().stdout
}

fn mode() -> SimpleTextOutputMode {
    // SAFETY: ConOut's Mode block is valid while boot services run.
    unsafe { (*con_out()).mode.read() }
}

fn output(text: &str) -> Status {
    let s = Ucs2::<160>::new(text);
    // SAFETY: ConOut with a NUL-terminated string.
    unsafe { ((*con_out()).output_string)(con_out(), s.as_ptr()) }
}

/// OutputString(`text`), which must succeed.
fn print(text: &str) -> Outcome {
    expect_status("OutputString", output(text), Status::SUCCESS)
}

fn query(number: usize) -> (Status, usize, usize) {
    let (mut columns, mut rows) = (0usize, 0usize);
    // SAFETY: valid out-pointers.
    let status = unsafe { ((*con_out()).query_mode)(con_out(), number, &mut columns, &mut rows) };
    (status, columns, rows)
}

fn set_cursor(column: usize, row: usize) -> Status {
    // SAFETY: plain call on ConOut.
    unsafe { ((*con_out()).set_cursor_position)(con_out(), column, row) }
}

fn expect_cursor(what: &str, column: i32, row: i32) -> Outcome {
    let m = mode();
    ensure!(
        (m.cursor_column, m.cursor_row) == (column, row),
        "{what}: Mode cursor ({}, {}), expected ({column}, {row})",
        m.cursor_column,
        m.cursor_row
    );
    Ok(())
}

/// Puts back mode, attribute and cursor visibility, and starts a fresh line.
struct Restore(SimpleTextOutputMode);

impl Drop for Restore {
    fn drop(&mut self) {
        let out = con_out();
        // SAFETY: plain calls on ConOut; failures only leave the screen as the check left it.
        unsafe {
            if mode().mode != self.0.mode {
                let _ = ((*out).set_mode)(out, self.0.mode as usize);
            }
            let _ = ((*out).set_attribute)(out, self.0.attribute as usize);
            let _ = ((*out).enable_cursor)(out, self.0.cursor_visible);
        }
        let _ = output("\r\n");
    }
}

/// A named check.
type Check = (&'static str, fn() -> Outcome);

/// Runs the console and device path checks (and the typed-keys check when the load options ask for it).
pub fn run(report: &mut Report, out: &mut dyn Write) {
    let checks: [Check; 9] = [
        ("console: QueryMode and the Mode block", check_query_mode),
        (
            "console: SetMode clears the screen and homes the cursor",
            check_set_mode,
        ),
        (
            "console: SetAttribute updates Mode.Attribute",
            check_attribute,
        ),
        (
            "console: SetCursorPosition and OutputString track the cursor",
            check_cursor,
        ),
        (
            "console: EnableCursor updates Mode.CursorVisible",
            check_enable_cursor,
        ),
        ("console: TestString", check_test_string),
        (
            "console: ReadKeyStroke(Ex) without input is NOT_READY",
            check_no_input,
        ),
        (
            "console: RegisterKeyNotify and UnregisterKeyNotify",
            check_key_notify,
        ),
        (
            "console: the console handle's device path",
            check_handle_path,
        ),
    ];
    for (name, check) in checks {
        let outcome = {
            let _restore = Restore(mode());
            check()
        };
        report.record(out, name, outcome);
    }
    paths::run(report, out);
    keys::run_if_requested(report, out);
}

fn check_query_mode() -> Outcome {
    let m = mode();
    ensure!(m.max_mode >= 1, "Mode.MaxMode is {}", m.max_mode);
    ensure!(
        (0..m.max_mode).contains(&m.mode),
        "Mode.Mode {} outside 0..{}",
        m.mode,
        m.max_mode
    );
    let (status, columns, rows) = query(0);
    expect_status("QueryMode(0)", status, Status::SUCCESS)?;
    ensure!(
        (columns, rows) == (80, 25),
        "mode 0 is {columns}x{rows}, not 80x25"
    );
    for number in 1..m.max_mode as usize {
        let (status, columns, rows) = query(number);
        // Mode 1 may be absent (UNSUPPORTED); every other mode below MaxMode must exist.
        if number == 1 && status == Status::UNSUPPORTED {
            continue;
        }
        expect_status("QueryMode(1..MaxMode)", status, Status::SUCCESS)?;
        ensure!(columns > 0 && rows > 0, "mode {number} is {columns}x{rows}");
        if number == 1 {
            ensure!(
                (columns, rows) == (80, 50),
                "mode 1 is {columns}x{rows}, not 80x50"
            );
        }
    }
    expect_status(
        "QueryMode(MaxMode)",
        query(m.max_mode as usize).0,
        Status::UNSUPPORTED,
    )?;
    let (columns, rows) = (current_size()?.0 as i32, current_size()?.1 as i32);
    ensure!(
        (0..columns).contains(&m.cursor_column) && (0..rows).contains(&m.cursor_row),
        "cursor ({}, {}) outside the {columns}x{rows} mode",
        m.cursor_column,
        m.cursor_row
    );
    Ok(())
}

/// Columns and rows of the current mode.
fn current_size() -> Result<(usize, usize), Detail> {
    let (status, columns, rows) = query(mode().mode as usize);
    expect_status("QueryMode(Mode.Mode)", status, Status::SUCCESS)?;
    Ok((columns, rows))
}

fn check_set_mode() -> Outcome {
    let m = mode();
    let out = con_out();
    ensure!(
        set_cursor(3, 2) == Status::SUCCESS,
        "SetCursorPosition(3, 2) failed"
    );
    // SAFETY: plain calls on ConOut.
    let status = unsafe { ((*out).set_mode)(out, m.mode as usize) };
    expect_status("SetMode(current)", status, Status::SUCCESS)?;
    expect_cursor("after SetMode", 0, 0)?;
    // SAFETY: as above.
    let status = unsafe { ((*out).set_mode)(out, m.max_mode as usize) };
    expect_status("SetMode(MaxMode)", status, Status::UNSUPPORTED)?;
    ensure!(mode().mode == m.mode, "a refused SetMode changed Mode.Mode");
    // Every mode QueryMode reports can be set, and Mode.Mode follows.
    for number in 0..m.max_mode as usize {
        if query(number).0 != Status::SUCCESS {
            continue;
        }
        // SAFETY: as above.
        let status = unsafe { ((*out).set_mode)(out, number) };
        expect_status("SetMode(a queried mode)", status, Status::SUCCESS)?;
        ensure!(
            mode().mode == number as i32,
            "SetMode({number}): Mode.Mode is {}",
            mode().mode
        );
    }
    Ok(())
}

fn check_attribute() -> Outcome {
    let out = con_out();
    for attribute in [0x1f, 0x4e, 0x07] {
        // SAFETY: plain call on ConOut.
        let status = unsafe { ((*out).set_attribute)(out, attribute) };
        expect_status("SetAttribute", status, Status::SUCCESS)?;
        ensure!(
            mode().attribute == attribute as i32,
            "SetAttribute({attribute:#x}): Mode.Attribute is {:#x}",
            mode().attribute
        );
    }
    if is_vmfw() {
        // SAFETY: as above.
        let status = unsafe { ((*out).set_attribute)(out, 0x80) };
        expect_status("SetAttribute(0x80)", status, Status::UNSUPPORTED)?;
        ensure!(
            mode().attribute == 0x07,
            "a refused SetAttribute changed Mode.Attribute"
        );
    }
    Ok(())
}

fn check_cursor() -> Outcome {
    let (columns, rows) = current_size()?;
    expect_status("SetCursorPosition(5, 3)", set_cursor(5, 3), Status::SUCCESS)?;
    expect_cursor("SetCursorPosition(5, 3)", 5, 3)?;
    print("abc")?;
    expect_cursor("after \"abc\" at (5, 3)", 8, 3)?;
    print("\r")?;
    expect_cursor("after CR", 0, 3)?;
    print("\n")?;
    expect_cursor("after LF", 0, 4)?;
    print("ab\u{8}")?;
    expect_cursor("after \"ab\" and a backspace", 1, 4)?;
    // Writing the last column wraps to the next row.
    expect_status(
        "SetCursorPosition",
        set_cursor(columns - 2, 2),
        Status::SUCCESS,
    )?;
    print("xyz")?;
    expect_cursor("after \"xyz\" two columns before the end", 1, 3)?;
    expect_status(
        "SetCursorPosition(Columns, 0)",
        set_cursor(columns, 0),
        Status::UNSUPPORTED,
    )?;
    expect_status(
        "SetCursorPosition(0, Rows)",
        set_cursor(0, rows),
        Status::UNSUPPORTED,
    )?;
    expect_cursor("after refused moves", 1, 3)?;
    // SAFETY: plain call on ConOut.
    let status = unsafe { ((*con_out()).clear_screen)(con_out()) };
    expect_status("ClearScreen", status, Status::SUCCESS)?;
    expect_cursor("after ClearScreen", 0, 0)
}

/// EnableCursor must work under vmfw; elsewhere a device without cursor control may say UNSUPPORTED (§12.4.10),
/// and then the Mode block must not change.
fn check_enable_cursor() -> Outcome {
    let out = con_out();
    for visible in [false, true] {
        let before = mode().cursor_visible;
        // SAFETY: plain call on ConOut.
        let status = unsafe { ((*out).enable_cursor)(out, Boolean::from(visible)) };
        if status == Status::UNSUPPORTED && !is_vmfw() {
            ensure!(
                mode().cursor_visible == before,
                "a refused EnableCursor changed Mode.CursorVisible"
            );
            continue;
        }
        expect_status("EnableCursor", status, Status::SUCCESS)?;
        ensure!(
            bool::from(mode().cursor_visible) == visible,
            "EnableCursor({visible}): Mode.CursorVisible is {}",
            bool::from(mode().cursor_visible)
        );
    }
    Ok(())
}

fn check_test_string() -> Outcome {
    let out = con_out();
    let test = |units: &[u16]| {
        let s = Ucs2::<64>::from_units(units);
        // SAFETY: ConOut with a NUL-terminated string.
        unsafe { ((*out).test_string)(out, s.as_ptr()) }
    };
    // "OK ─│", CR, LF, "1".
    let plain = [0x4f, 0x4b, 0x20, 0x2500, 0x2502, 0x0d, 0x0a, 0x31];
    expect_status(
        "TestString(ASCII and box drawing)",
        test(&plain),
        Status::SUCCESS,
    )?;
    if is_vmfw() {
        expect_status(
            "TestString(lone surrogate)",
            test(&[0x41, 0xd800]),
            Status::UNSUPPORTED,
        )?;
        expect_status("TestString(ESC)", test(&[0x1b]), Status::UNSUPPORTED)?;
    }
    Ok(())
}

/// ConIn, and Simple Text Input Ex from the ConIn handle.
fn input_ex() -> Result<*mut SimpleTextInputExProtocol, Detail> {
    handle_protocol(
        system_table().stdin_handle,
        &SimpleTextInputExProtocol::GUID,
    )
    .map(|p| p.cast())
    .map_err(|s| {
        Detail::new(format_args!(
            "HandleProtocol(ConsoleInHandle, InputEx) returned {s:?}"
        ))
    })
}

fn check_no_input() -> Outcome {
    let ex = input_ex()?;
    let conin = system_table().stdin;
    // SAFETY: plain calls on the firmware's input protocols with valid out-pointers.
    unsafe {
        expect_status(
            "ConIn.Reset",
            ((*conin).reset)(conin, Boolean::FALSE),
            Status::SUCCESS,
        )?;
        let mut key = InputKey::default();
        let status = ((*conin).read_key_stroke)(conin, &mut key);
        expect_status("ReadKeyStroke", status, Status::NOT_READY)?;
        let mut data = KeyData::default();
        let status = ((*ex).read_key_stroke_ex)(ex, &mut data);
        expect_status("ReadKeyStrokeEx", status, Status::NOT_READY)?;
        let status = (crate::boot_services().check_event)((*conin).wait_for_key);
        expect_status("CheckEvent(WaitForKey)", status, Status::NOT_READY)?;
        let status = (crate::boot_services().check_event)((*ex).wait_for_key_ex);
        expect_status("CheckEvent(WaitForKeyEx)", status, Status::NOT_READY)?;
    }
    Ok(())
}

static NOTIFIED: AtomicU32 = AtomicU32::new(0);

unsafe extern "efiapi" fn count_key(_data: *const KeyData) -> Status {
    NOTIFIED.fetch_add(1, Ordering::SeqCst);
    Status::SUCCESS
}

fn check_key_notify() -> Outcome {
    let ex = input_ex()?;
    let mut data = KeyData::default();
    data.key.unicode_char = u16::from(b'q');
    let mut handle: *mut c_void = ptr::null_mut();
    // SAFETY: the firmware's InputEx; `data` and `handle` are valid; `count_key` is a static function.
    unsafe {
        let status = ((*ex).register_key_notify)(ex, &data, count_key, &mut handle);
        expect_status("RegisterKeyNotify", status, Status::SUCCESS)?;
        ensure!(
            !handle.is_null(),
            "RegisterKeyNotify returned a NULL handle"
        );
        let status = ((*ex).unregister_key_notify)(ex, handle);
        expect_status("UnregisterKeyNotify", status, Status::SUCCESS)?;
        let status = ((*ex).unregister_key_notify)(ex, handle);
        expect_status(
            "UnregisterKeyNotify(again)",
            status,
            Status::INVALID_PARAMETER,
        )?;
    }
    if is_vmfw() {
        let state = uefi_raw::protocol::console::KeyToggleState::VALID;
        // SAFETY: as above.
        let status = unsafe { ((*ex).set_state)(ex, &state) };
        expect_status("SetState(VALID)", status, Status::SUCCESS)?;
    }
    Ok(())
}

/// Under vmfw the console handle carries the serial terminal's path; elsewhere a path, if any, must convert.
fn check_handle_path() -> Outcome {
    let handle: Handle = system_table().stdout_handle;
    ensure!(
        handle == system_table().stdin_handle || !is_vmfw(),
        "ConsoleInHandle and ConsoleOutHandle differ"
    );
    let path = match handle_protocol(handle, &DEVICE_PATH_GUID) {
        Ok(path) => path.cast::<DevicePathProtocol>(),
        Err(status) => {
            ensure!(
                !is_vmfw(),
                "HandleProtocol(ConsoleOutHandle, DevicePath) returned {status:?}"
            );
            return Ok(());
        }
    };
    let text = paths::to_text(path, false, true)?;
    if is_vmfw() {
        // The text fits a failure detail, which doubles as the buffer to look at it.
        let shown = Detail::new(format_args!("{}", Show(text.as_ptr())));
        let s = shown.as_str();
        ensure!(
            s.starts_with("PciRoot(0x0)/Pci(0x")
                && s.ends_with("/Serial(0x0)/Uart(115200,8,N,1)/VenUtf8()"),
            "console path is {s}"
        );
    }
    Ok(())
}
