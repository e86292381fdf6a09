//! The serial console as UEFI text I/O (UEFI 2.10 sections 12.3 and 12.4): Simple Text Output writes UCS-2 as
//! UTF-8 to COM1 with attributes and cursor moves as ANSI escape sequences; Simple Text Input reads COM1 and
//! decodes VT100/xterm escape sequences to scan codes. One text mode: 80x25.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};

use boot_services::event::EVT_NOTIFY_WAIT;
use boot_services::tpl::Tpl;
use hw::PortIo;
use r_efi::efi::{self, Boolean, Event, Handle, Status};
use r_efi::protocols::{simple_text_input as sti, simple_text_output as sto};

use super::state::{events, Global};
use crate::arch::io::X86PortIo;

const COM1: u16 = 0x3f8;
const LSR_DATA_READY: u8 = 0x01;
const COLUMNS: usize = 80;
const ROWS: usize = 25;

struct Input {
    /// Decoded keys not yet read.
    queue: [sti::InputKey; 8],
    len: usize,
}

static INPUT: Global<Input> = Global::new(Input {
    queue: [sti::InputKey {
        scan_code: 0,
        unicode_char: 0,
    }; 8],
    len: 0,
});
static OUT: AtomicPtr<sto::Protocol> = AtomicPtr::new(core::ptr::null_mut());

fn mode(this: *mut sto::Protocol) -> Option<&'static mut sto::Mode> {
    if this.is_null() || this != OUT.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: `this` is our own protocol instance (checked above), whose `mode` points at our Mode block.
    unsafe { (*this).mode.as_mut() }
}

fn write_str(s: &str) {
    crate::print!("{s}");
}

extern "efiapi" fn reset(this: *mut sto::Protocol, _extended: Boolean) -> Status {
    let _ = clear_screen(this);
    let _ = set_attribute(this, 0x07);
    Status::SUCCESS
}

extern "efiapi" fn output_string(this: *mut sto::Protocol, string: *mut efi::Char16) -> Status {
    let Some(mode) = mode(this) else {
        return Status::INVALID_PARAMETER;
    };
    if string.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let mut buffer = [0u8; 128];
    let mut used = 0;
    // SAFETY: the caller passes a NUL-terminated UCS-2 string (OutputString contract); bounded to 1 MiB units.
    let units = (0..1 << 20)
        .map(|i| unsafe { string.add(i).read_unaligned() })
        .take_while(|&u| u != 0);
    for c in char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)) {
        match c {
            '\n' => mode.cursor_row = (mode.cursor_row + 1).min(ROWS as i32 - 1),
            '\r' => mode.cursor_column = 0,
            '\u{8}' => mode.cursor_column = (mode.cursor_column - 1).max(0),
            _ => mode.cursor_column = (mode.cursor_column + 1).min(COLUMNS as i32 - 1),
        }
        if used + 4 > buffer.len() {
            write_str(core::str::from_utf8(&buffer[..used]).unwrap_or(""));
            used = 0;
        }
        used += c.encode_utf8(&mut buffer[used..]).len();
    }
    write_str(core::str::from_utf8(&buffer[..used]).unwrap_or(""));
    Status::SUCCESS
}

extern "efiapi" fn test_string(this: *mut sto::Protocol, string: *mut efi::Char16) -> Status {
    if mode(this).is_none() || string.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // Everything UCS-2 encodes can be sent as UTF-8.
    Status::SUCCESS
}

extern "efiapi" fn query_mode(
    this: *mut sto::Protocol,
    number: usize,
    columns: *mut usize,
    rows: *mut usize,
) -> Status {
    if mode(this).is_none() || columns.is_null() || rows.is_null() {
        return Status::INVALID_PARAMETER;
    }
    if number != 0 {
        return Status::UNSUPPORTED;
    }
    // SAFETY: non-null OUT UINTNs.
    unsafe {
        columns.write_unaligned(COLUMNS);
        rows.write_unaligned(ROWS);
    }
    Status::SUCCESS
}

extern "efiapi" fn set_mode(this: *mut sto::Protocol, number: usize) -> Status {
    match mode(this) {
        None => Status::INVALID_PARAMETER,
        Some(_) if number != 0 => Status::UNSUPPORTED,
        Some(_) => clear_screen(this),
    }
}

/// EFI colours 0-7 in ANSI order (EFI: black blue green cyan red magenta brown lightgray).
const ANSI: [u8; 8] = [0, 4, 2, 6, 1, 5, 3, 7];

extern "efiapi" fn set_attribute(this: *mut sto::Protocol, attribute: usize) -> Status {
    let Some(mode) = mode(this) else {
        return Status::INVALID_PARAMETER;
    };
    if attribute > 0x7f {
        return Status::UNSUPPORTED;
    }
    mode.attribute = attribute as i32;
    let fg = attribute & 0x0f;
    let bg = (attribute >> 4) & 0x07;
    let bold = if fg >= 8 { 1 } else { 22 };
    crate::print!("\x1b[{bold};{};{}m", 30 + ANSI[fg & 7], 40 + ANSI[bg]);
    Status::SUCCESS
}

extern "efiapi" fn clear_screen(this: *mut sto::Protocol) -> Status {
    let Some(mode) = mode(this) else {
        return Status::INVALID_PARAMETER;
    };
    write_str("\x1b[2J\x1b[H");
    mode.cursor_column = 0;
    mode.cursor_row = 0;
    Status::SUCCESS
}

extern "efiapi" fn set_cursor_position(
    this: *mut sto::Protocol,
    column: usize,
    row: usize,
) -> Status {
    let Some(mode) = mode(this) else {
        return Status::INVALID_PARAMETER;
    };
    if column >= COLUMNS || row >= ROWS {
        return Status::UNSUPPORTED;
    }
    crate::print!("\x1b[{};{}H", row + 1, column + 1);
    mode.cursor_column = column as i32;
    mode.cursor_row = row as i32;
    Status::SUCCESS
}

extern "efiapi" fn enable_cursor(this: *mut sto::Protocol, visible: Boolean) -> Status {
    let Some(mode) = mode(this) else {
        return Status::INVALID_PARAMETER;
    };
    mode.cursor_visible = visible;
    write_str(if bool::from(visible) {
        "\x1b[?25h"
    } else {
        "\x1b[?25l"
    });
    Status::SUCCESS
}

fn serial_byte(wait_us: u64) -> Option<u8> {
    let mut io = X86PortIo;
    let mut waited = 0;
    loop {
        if io.read8(COM1 + 5) & LSR_DATA_READY != 0 {
            return Some(io.read8(COM1));
        }
        if waited >= wait_us {
            return None;
        }
        crate::platform::timer::stall(100);
        waited += 100;
    }
}

/// Decodes one key from the serial port: a printable/control character, or an escape sequence.
fn decode_key() -> Option<sti::InputKey> {
    let key = |scan_code, unicode_char| {
        Some(sti::InputKey {
            scan_code,
            unicode_char,
        })
    };
    let first = serial_byte(0)?;
    match first {
        0x1b => {}
        0x7f => return key(0, 0x08),
        b'\n' => return key(0, u16::from(b'\r')),
        b => return key(0, u16::from(b)),
    }
    // An escape sequence arrives in one burst; a lone ESC is the Escape key.
    let Some(intro) = serial_byte(2_000) else {
        return key(0x17, 0);
    };
    let mut params = [0u8; 4];
    let mut n = 0;
    let last = loop {
        let b = serial_byte(2_000)?;
        if b.is_ascii_digit() && n < params.len() {
            params[n] = b;
            n += 1;
        } else {
            break b;
        }
    };
    let number = core::str::from_utf8(&params[..n])
        .ok()
        .and_then(|s| s.parse::<u8>().ok());
    let scan = match (intro, last, number) {
        (b'[', b'A', _) => 0x01,
        (b'[', b'B', _) => 0x02,
        (b'[', b'C', _) => 0x03,
        (b'[', b'D', _) => 0x04,
        (b'[', b'H', _) | (b'[', b'~', Some(1)) => 0x05,
        (b'[', b'F', _) | (b'[', b'~', Some(4)) => 0x06,
        (b'[', b'~', Some(2)) => 0x07,
        (b'[', b'~', Some(3)) => 0x08,
        (b'[', b'~', Some(5)) => 0x09,
        (b'[', b'~', Some(6)) => 0x0a,
        (b'O', b'P', _) => 0x0b,
        (b'O', b'Q', _) => 0x0c,
        (b'O', b'R', _) => 0x0d,
        (b'O', b'S', _) => 0x0e,
        (b'[', b'~', Some(15)) => 0x0f,
        (b'[', b'~', Some(17)) => 0x10,
        (b'[', b'~', Some(18)) => 0x11,
        (b'[', b'~', Some(19)) => 0x12,
        (b'[', b'~', Some(20)) => 0x13,
        (b'[', b'~', Some(21)) => 0x14,
        (b'[', b'~', Some(23)) => 0x15,
        (b'[', b'~', Some(24)) => 0x16,
        _ => return None,
    };
    key(scan, 0)
}

fn poll_input() -> bool {
    if INPUT.with(|i| i.len > 0) {
        return true;
    }
    match decode_key() {
        Some(key) => INPUT.with(|i| {
            if i.len < i.queue.len() {
                i.queue[i.len] = key;
                i.len += 1;
            }
            true
        }),
        None => false,
    }
}

extern "efiapi" fn input_reset(_this: *mut sti::Protocol, _extended: Boolean) -> Status {
    INPUT.with(|i| i.len = 0);
    while serial_byte(0).is_some() {}
    Status::SUCCESS
}

extern "efiapi" fn read_key_stroke(this: *mut sti::Protocol, key: *mut sti::InputKey) -> Status {
    if this.is_null() || key.is_null() {
        return Status::INVALID_PARAMETER;
    }
    if !poll_input() {
        return Status::NOT_READY;
    }
    let k = INPUT.with(|i| {
        let k = i.queue[0];
        i.queue.copy_within(1..i.len, 0);
        i.len -= 1;
        k
    });
    // SAFETY: non-null OUT EFI_INPUT_KEY.
    unsafe { key.write_unaligned(k) };
    Status::SUCCESS
}

extern "efiapi" fn wait_for_key_notify(event: Event, _context: *mut c_void) {
    if poll_input() {
        let _ = events().signal_event(boot_services::event::EventId::from_event(event));
    }
}

/// Builds ConIn and ConOut on one console handle (with the `DevicePath` of COM1 left to the Linux-boot work),
/// and sets them, and StdErr, in the system table.
pub fn install() -> Result<(), Status> {
    let mode =
        super::memory::allocate_zeroed(efi::BOOT_SERVICES_DATA, core::mem::size_of::<sto::Mode>())?
            as *mut sto::Mode;
    // SAFETY: freshly allocated Mode block.
    unsafe {
        mode.write(sto::Mode {
            max_mode: 1,
            mode: 0,
            attribute: 0x07,
            cursor_column: 0,
            cursor_row: 0,
            cursor_visible: Boolean::TRUE,
        })
    };
    let out = super::memory::allocate_zeroed(
        efi::BOOT_SERVICES_DATA,
        core::mem::size_of::<sto::Protocol>(),
    )? as *mut sto::Protocol;
    // SAFETY: freshly allocated protocol block.
    unsafe {
        out.write(sto::Protocol {
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
        })
    };
    OUT.store(out, Ordering::Relaxed);
    let wait = events().create_event(
        EVT_NOTIFY_WAIT,
        Tpl::NOTIFY,
        Some(wait_for_key_notify),
        core::ptr::null_mut(),
        None,
    )?;
    let input = super::memory::allocate_zeroed(
        efi::BOOT_SERVICES_DATA,
        core::mem::size_of::<sti::Protocol>(),
    )? as *mut sti::Protocol;
    // SAFETY: freshly allocated protocol block.
    unsafe {
        input.write(sti::Protocol {
            reset: input_reset,
            read_key_stroke,
            wait_for_key: wait.as_event(),
        })
    };
    let mut services = super::protocol::services();
    let handle: Handle =
        services.install_protocol_interface(None, sto::PROTOCOL_GUID, out as *mut c_void)?;
    services.install_protocol_interface(Some(handle), sti::PROTOCOL_GUID, input as *mut c_void)?;
    let st = super::system_table::system_table();
    // SAFETY: the live system table; updated before any image runs.
    unsafe {
        (*st).console_out_handle = handle;
        (*st).con_out = out;
        (*st).standard_error_handle = handle;
        (*st).std_err = out;
        (*st).console_in_handle = handle;
        (*st).con_in = input;
    }
    super::system_table::update_system_table_crc();
    Ok(())
}
