//! The serial console as UEFI text I/O on one handle: Simple Text Output (UEFI 2.10 section 12.4), Simple Text
//! Input (12.3), Simple Text Input Ex (12.2) and the handle's device path, all on COM1.
//!
//! The behaviour lives in the host-tested `console` crate: the screen (UCS-2 to UTF-8, cursor tracking, ANSI
//! sequences for attributes and cursor moves), the VT100/xterm key decoder, the key queue and the key-notify
//! table. This module holds their one locked instance ([`CONSOLE`]) and builds the handle; [`output`] and
//! [`input`] are the ABI shells, [`uart`] the port I/O.
//!
//! # The handle
//! `ConsoleOutHandle`, `StandardErrorHandle` and `ConsoleInHandle` are one handle carrying Simple Text Output,
//! Simple Text Input, Simple Text Input Ex and the device path of the terminal on COM1:
//! `PciRoot(0x0)/Pci(<ISA bridge>)/Serial(0x0)/Uart(115200,8,N,1)/VenUtf8()`: the terminal type is VT-UTF8
//! because that is what the console speaks (UTF-8 text, VT100 sequences).
//!
//! # Cursor at start
//! A serial terminal cannot be asked where its cursor is, and the firmware's log has been written before the
//! console starts; the tracked cursor starts at (0, 0), which becomes true at the first ClearScreen, SetMode or
//! SetCursorPosition (every OS loader does one of these before drawing).

mod input;
mod output;
mod uart;

use alloc::format;
use core::ffi::c_void;

use console::decoder::Decoder;
use console::keys::KeyQueue;
use console::notify::Registrations;
use console::screen::Screen;
use pci::config::{Bdf, ConfigSpace, PortConfigAccess};
use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::{
    device_path as dp, simple_text_input as sti, simple_text_input_ex as sti_ex,
    simple_text_output as sto,
};

use super::memory::allocate_zeroed;
use super::state::Global;
use crate::arch::io::X86PortIo;

/// The `log` target of the console.
const LOG: &str = "efi::console";
/// Keys kept for reading.
const KEY_QUEUE: usize = 32;
/// Key-notify registrations (and keys waiting for their notifications) at most.
const NOTIFY_SLOTS: usize = 16;
/// The terminal's line settings, as programmed at bring-up.
const BAUD: u32 = 115_200;

/// A key-notify function (`EFI_KEY_NOTIFY_FUNCTION`).
type KeyNotify = sti_ex::KeyNotifyFunction;

/// The input half of the console state.
struct InputState {
    decoder: Decoder,
    /// Keys waiting to be read.
    keys: KeyQueue<KEY_QUEUE>,
    /// Keys whose notify functions have not run yet.
    notify_keys: KeyQueue<NOTIFY_SLOTS>,
    notifies: Registrations<KeyNotify, NOTIFY_SLOTS>,
    /// `KeyToggleState` as last set by SetState (0: never set).
    toggle_state: u8,
}

/// The console: screen and input, one locked structure (TPL is the lock, see `state`).
struct Console {
    screen: Screen,
    input: InputState,
}

static CONSOLE: Global<Console> = Global::new(Console {
    screen: Screen::new(),
    input: InputState {
        decoder: Decoder::new(),
        keys: KeyQueue::new(),
        notify_keys: KeyQueue::new(),
        notifies: Registrations::new(),
        toggle_state: 0,
    },
});

/// Device and function of the ISA/LPC bridge on bus 0 (PCI class 06/01), which decodes COM1: 1f.0 on q35, 01.0
/// on pc. Probed through configuration mechanism #1, which both machines have.
fn isa_bridge() -> Option<(u8, u8)> {
    let mut config = PortConfigAccess::new(X86PortIo);
    (0..32u8).find_map(|device| {
        let bdf = Bdf {
            bus: 0,
            device,
            function: 0,
        };
        let class = config.read32(bdf, 0x08) >> 16;
        (config.read16(bdf, 0) != 0xffff && class == 0x0601).then_some((device, 0))
    })
}

/// The device path of the terminal on COM1 (see the module notes).
fn device_path() -> Result<alloc::vec::Vec<u8>, Status> {
    let bridge = isa_bridge()
        .map(|(d, f)| format!("/Pci(0x{d:X},0x{f:X})"))
        .unwrap_or_default();
    let text = format!("PciRoot(0x0){bridge}/Serial(0x0)/Uart({BAUD},8,N,1)/VenUtf8()");
    device_path::text_to_path(&text).map_err(|e| {
        log::error!(target: LOG, "console device path {text:?}: {e}");
        Status::DEVICE_ERROR
    })
}

/// Copies `value` into new boot-services pool memory.
fn pool_copy<T>(value: T) -> Result<*mut T, Status> {
    let block = allocate_zeroed(efi::BOOT_SERVICES_DATA, core::mem::size_of::<T>())? as *mut T;
    // SAFETY: freshly allocated, 8-byte aligned pool memory of the size of `T`.
    unsafe { block.write(value) };
    Ok(block)
}

/// Builds the console handle (see the module notes), starts polling COM1 and sets ConIn, ConOut and StdErr in the
/// system table. Call once, after the memory map, event service and system table exist.
///
/// Errors: `OUT_OF_RESOURCES` from pool allocation or the event table; protocol installation errors.
pub fn install() -> Result<(), Status> {
    let mode = pool_copy(sto::Mode {
        max_mode: 0,
        mode: 0,
        attribute: 0,
        cursor_column: 0,
        cursor_row: 0,
        cursor_visible: efi::Boolean::FALSE,
    })?;
    let out = pool_copy(output::protocol(mode))?;
    output::activate(out, mode);
    let (wait, wait_ex) = input::create_events()?;
    let (input, input_ex) = input::protocols(wait, wait_ex);
    let (input, input_ex) = (pool_copy(input)?, pool_copy(input_ex)?);
    input::activate(input, input_ex);
    let path = device_path()?;
    let path_block = allocate_zeroed(efi::BOOT_SERVICES_DATA, path.len())?;
    // SAFETY: `path_block` was just allocated with `path.len()` bytes.
    unsafe { core::ptr::copy_nonoverlapping(path.as_ptr(), path_block, path.len()) };
    let pairs = [
        (dp::PROTOCOL_GUID, path_block as *mut c_void),
        (sto::PROTOCOL_GUID, out as *mut c_void),
        (sti::PROTOCOL_GUID, input as *mut c_void),
        (sti_ex::PROTOCOL_GUID, input_ex as *mut c_void),
    ];
    let handle: Handle =
        super::protocol::services().install_multiple_protocol_interfaces(None, &pairs)?;
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
    log::info!(
        target: LOG,
        "console on COM1: {}",
        device_path::path_to_text(&path, device_path::TextOptions { display_only: false, allow_shortcuts: true })
            .unwrap_or_default()
    );
    Ok(())
}
