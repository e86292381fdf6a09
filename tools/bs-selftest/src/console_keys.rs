//! Keys typed on the serial line. When the load options (QEMU `-append`) contain `console-keys`, the app prints
//! [`MARKER`] on ConOut and waits; the test runner then types, on the terminal side of COM1,
//! `ESC [ A`, `x`, `ESC [ 1 ; 5 C`, `CR`, `ESC O P`, `DEL`, `ä` (UTF-8) in one write and, after a pause, a lone
//! `ESC`. The check reads them back as EFI keys (UEFI 2.10 §12.2-12.3): Up through ConIn.ReadKeyStroke after
//! WaitForEvent(WaitForKey), the rest through ReadKeyStrokeEx after WaitForEvent(WaitForKeyEx), and a
//! RegisterKeyNotify registration for `x` must have fired exactly once.
//!
//! Design: the wait is bounded by a 30 s timer event in the same WaitForEvent, so a firmware that never signals
//! the key event fails the check instead of hanging the run.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use uefi_raw::protocol::console::{InputKey, KeyData, KeyShiftState, SimpleTextInputExProtocol};
use uefi_raw::protocol::loaded_image::LoadedImageProtocol;
use uefi_raw::table::boot::{EventType, TimerDelay, Tpl};
use uefi_raw::{Event, Status};

use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, expect_status, image_handle, system_table};

/// The load-options word that asks for this check.
pub const ARM_WORD: &str = "console-keys";
/// The line the test runner waits for before typing.
pub const MARKER: &str = "selftest: console: waiting for keys";
/// How long the check waits for all keys, in 100 ns units (30 s).
const WAIT_100NS: u64 = 30 * 10_000_000;

/// (ScanCode, UnicodeChar, KeyShiftState) of the typed keys, in order.
const EXPECTED: [(u16, u16, u32); 8] = [
    (0x01, 0, 0),                  // ESC [ A: Up
    (0, b'x' as u16, 0),           // x
    (0x03, 0, 0x8000_0000 | 0x08), // ESC [ 1 ; 5 C: Ctrl+Right
    (0, 0x0d, 0),                  // CR: Enter
    (0x0b, 0, 0),                  // ESC O P: F1
    (0, 0x08, 0),                  // DEL: Backspace
    (0, 0xe4, 0),                  // C3 A4: ä
    (0x17, 0, 0),                  // ESC alone: Escape
];

static X_NOTIFIED: AtomicU32 = AtomicU32::new(0);

unsafe extern "efiapi" fn on_x(_data: *const KeyData) -> Status {
    X_NOTIFIED.fetch_add(1, Ordering::SeqCst);
    Status::SUCCESS
}

/// Whether the app's load options contain `word` as a whole word.
fn load_options_contain(word: &str) -> bool {
    let Ok(image) = handle_protocol(image_handle(), &LoadedImageProtocol::GUID) else {
        return false;
    };
    // SAFETY: the firmware's Loaded Image protocol for this app.
    let image = unsafe { &*image.cast::<LoadedImageProtocol>() };
    if image.load_options.is_null() || image.load_options_size < 2 {
        return false;
    }
    // SAFETY: the firmware's load options are `load_options_size` bytes of UCS-2.
    let units = unsafe {
        core::slice::from_raw_parts(
            image.load_options.cast::<u16>(),
            image.load_options_size as usize / 2,
        )
    };
    let text = units.split(|&u| u == 0).next().unwrap_or(&[]);
    text.split(|&u| u == u16::from(b' '))
        .any(|w| w.iter().copied().eq(word.encode_utf16()))
}

/// Runs the typed-keys check when the load options ask for it.
pub fn run_if_requested(report: &mut Report, out: &mut dyn Write) {
    if load_options_contain(ARM_WORD) {
        let outcome = check_typed_keys(out);
        report.record(out, "console: keys typed on the serial line", outcome);
    }
}

/// A timer event closed on drop.
struct Timer(Event);

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: an event this check created.
        let _ = unsafe { (boot_services().close_event)(self.0) };
    }
}

/// WaitForEvent on `key_event` and the timer; false when the timer fired first.
fn wait_key(key_event: Event, timer: &Timer) -> Result<bool, Detail> {
    let events = [key_event, timer.0];
    let mut index = usize::MAX;
    // SAFETY: two valid events and a valid out-pointer.
    let status = unsafe { (boot_services().wait_for_event)(2, events.as_ptr(), &mut index) };
    expect_status("WaitForEvent", status, Status::SUCCESS)?;
    Ok(index == 0)
}

fn check_typed_keys(out: &mut dyn Write) -> Outcome {
    let st = system_table();
    let conin = st.stdin;
    let ex = handle_protocol(st.stdin_handle, &SimpleTextInputExProtocol::GUID)
        .map_err(|s| Detail::new(format_args!("HandleProtocol(InputEx) returned {s:?}")))?
        .cast::<SimpleTextInputExProtocol>();
    let mut pattern = KeyData::default();
    pattern.key.unicode_char = u16::from(b'x');
    let mut handle: *mut c_void = ptr::null_mut();
    let mut event: Event = ptr::null_mut();
    // SAFETY: the firmware's protocols and boot services with valid pointers; `on_x` is a static function.
    unsafe {
        expect_status(
            "ConIn.Reset",
            ((*conin).reset)(conin, false.into()),
            Status::SUCCESS,
        )?;
        let status = ((*ex).register_key_notify)(ex, &pattern, on_x, &mut handle);
        expect_status("RegisterKeyNotify(x)", status, Status::SUCCESS)?;
        let status = (boot_services().create_event)(
            EventType::TIMER,
            Tpl::APPLICATION,
            None,
            ptr::null_mut(),
            &mut event,
        );
        expect_status("CreateEvent(timer)", status, Status::SUCCESS)?;
    }
    let timer = Timer(event);
    // SAFETY: a timer event just created.
    let status = unsafe { (boot_services().set_timer)(timer.0, TimerDelay::RELATIVE, WAIT_100NS) };
    expect_status("SetTimer", status, Status::SUCCESS)?;
    let _ = writeln!(out, "{MARKER}");

    let result = read_keys(conin, ex, &timer);
    // SAFETY: the registration made above.
    let status = unsafe { ((*ex).unregister_key_notify)(ex, handle) };
    result?;
    expect_status("UnregisterKeyNotify(x)", status, Status::SUCCESS)?;
    let notified = X_NOTIFIED.load(Ordering::SeqCst);
    ensure!(
        notified == 1,
        "the notify function for x ran {notified} times"
    );
    Ok(())
}

fn read_keys(
    conin: *mut uefi_raw::protocol::console::SimpleTextInputProtocol,
    ex: *mut SimpleTextInputExProtocol,
    timer: &Timer,
) -> Outcome {
    // The first key through Simple Text Input.
    // SAFETY: ConIn's WaitForKey event.
    ensure!(
        wait_key(unsafe { (*conin).wait_for_key }, timer)?,
        "no key within 30 s"
    );
    let mut key = InputKey::default();
    // SAFETY: ConIn with a valid out-pointer.
    let status = unsafe { ((*conin).read_key_stroke)(conin, &mut key) };
    expect_status("ReadKeyStroke", status, Status::SUCCESS)?;
    let (scan, unicode, _) = EXPECTED[0];
    ensure!(
        (key.scan_code, key.unicode_char) == (scan, unicode),
        "key 0: scan {:#x} char {:#x}, expected scan {scan:#x}",
        key.scan_code,
        key.unicode_char
    );
    // The rest through Simple Text Input Ex; a signal without a key (already read) is waited out.
    let mut next = 1;
    for _ in 0..100 {
        if next == EXPECTED.len() {
            return Ok(());
        }
        // SAFETY: InputEx's WaitForKeyEx event.
        if !wait_key(unsafe { (*ex).wait_for_key_ex }, timer)? {
            return fail!("only {next} of {} keys within 30 s", EXPECTED.len());
        }
        let mut data = KeyData::default();
        // SAFETY: InputEx with a valid out-pointer.
        let status = unsafe { ((*ex).read_key_stroke_ex)(ex, &mut data) };
        if status == Status::NOT_READY {
            continue;
        }
        expect_status("ReadKeyStrokeEx", status, Status::SUCCESS)?;
        let (scan, unicode, shift) = EXPECTED[next];
        let got = (
            data.key.scan_code,
            data.key.unicode_char,
            data.key_state.key_shift_state,
        );
        ensure!(
            got == (scan, unicode, KeyShiftState::from_bits_retain(shift)),
            "key {next}: scan {:#x} char {:#x} shift {:#x}, expected {scan:#x} {unicode:#x} {shift:#x}",
            got.0,
            got.1,
            got.2.bits()
        );
        next += 1;
    }
    fail!("key events kept firing without keys")
}
