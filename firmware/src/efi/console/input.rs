//! Simple Text Input (UEFI 2.10 section 12.3) and Simple Text Input Ex (section 12.2) from COM1: the ABI shell
//! over the console's key decoder, queue and notify table.
//!
//! # Polling and events
//! The UART raises no interrupt; it is read by [`poll`], which runs from a periodic timer event at `TPL_NOTIFY`
//! (every [`POLL_PERIOD_100NS`]), from the notify function of `WaitForKey`/`WaitForKeyEx` (so `CheckEvent` and
//! `WaitForEvent` look at the UART at once) and from every read. A key in the queue signals both wait events.
//! Keys that match a `RegisterKeyNotify` registration are queued for a `TPL_CALLBACK` event, whose function
//! calls the registered functions with no console state borrowed, after the key was queued for reading (as
//! edk2 consoles do, the key is still returned by ReadKeyStroke).
//!
//! [`poll`] may run inside the timer interrupt, so it neither allocates nor logs: every buffer is fixed-size.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use boot_services::event::{EventId, EVT_NOTIFY_SIGNAL, EVT_NOTIFY_WAIT, EVT_TIMER};
use boot_services::timer::TimerDelay;
use boot_services::tpl::Tpl;
use console::keys::{toggle, Key};
use r_efi::efi::{Boolean, Event, Status};
use r_efi::protocols::{simple_text_input as sti, simple_text_input_ex as sti_ex};

use super::{uart, KeyNotify, CONSOLE, LOG, NOTIFY_SLOTS};
use crate::efi::state::events;
use crate::platform::timer;

/// How often the UART is polled: 20 ms, in the 100 ns units of SetTimer.
pub const POLL_PERIOD_100NS: u64 = 200_000;
/// Bytes read from the UART per poll at most (its FIFO holds 16; QEMU refills it as it drains).
const BYTES_PER_POLL: usize = 256;
/// Bytes discarded by Reset at most.
const RESET_DRAIN: usize = 4096;

/// `EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL` (UEFI 2.10 section 12.2.1), laid out as r-efi's, with the notify
/// function of RegisterKeyNotify nullable so a NULL from a caller is caught rather than undefined behaviour.
#[repr(C)]
pub struct InputEx {
    reset: extern "efiapi" fn(*mut InputEx, Boolean) -> Status,
    read_key_stroke_ex: extern "efiapi" fn(*mut InputEx, *mut sti_ex::KeyData) -> Status,
    wait_for_key_ex: Event,
    set_state: extern "efiapi" fn(*mut InputEx, *mut u8) -> Status,
    register_key_notify: extern "efiapi" fn(
        *mut InputEx,
        *mut sti_ex::KeyData,
        Option<KeyNotify>,
        *mut *mut c_void,
    ) -> Status,
    unregister_key_notify: extern "efiapi" fn(*mut InputEx, *mut c_void) -> Status,
}

static INPUT: AtomicPtr<sti::Protocol> = AtomicPtr::new(core::ptr::null_mut());
static INPUT_EX: AtomicPtr<InputEx> = AtomicPtr::new(core::ptr::null_mut());
/// `WaitForKey`, `WaitForKeyEx` and the key-notify event, as raw `EFI_EVENT` values.
static WAIT_KEY: AtomicUsize = AtomicUsize::new(0);
static WAIT_KEY_EX: AtomicUsize = AtomicUsize::new(0);
static NOTIFY_EVENT: AtomicUsize = AtomicUsize::new(0);

fn event(slot: &AtomicUsize) -> EventId {
    EventId::from_event(slot.load(Ordering::Relaxed) as Event)
}

/// The events of the input side: `(WaitForKey, WaitForKeyEx)`. Creates them, the key-notify event and the
/// periodic poll timer. Call once.
pub fn create_events() -> Result<(Event, Event), Status> {
    let ev = events();
    let null = core::ptr::null_mut();
    let wait = ev.create_event(EVT_NOTIFY_WAIT, Tpl::NOTIFY, Some(wait_notify), null, None)?;
    let wait_ex = ev.create_event(EVT_NOTIFY_WAIT, Tpl::NOTIFY, Some(wait_notify), null, None)?;
    let notify = ev.create_event(
        EVT_NOTIFY_SIGNAL,
        Tpl::CALLBACK,
        Some(run_key_notifies),
        null,
        None,
    )?;
    let poller = ev.create_event(
        EVT_TIMER | EVT_NOTIFY_SIGNAL,
        Tpl::NOTIFY,
        Some(poll_notify),
        null,
        None,
    )?;
    WAIT_KEY.store(wait.as_event() as usize, Ordering::Relaxed);
    WAIT_KEY_EX.store(wait_ex.as_event() as usize, Ordering::Relaxed);
    NOTIFY_EVENT.store(notify.as_event() as usize, Ordering::Relaxed);
    ev.set_timer(poller, TimerDelay::Periodic, POLL_PERIOD_100NS)?;
    Ok((wait.as_event(), wait_ex.as_event()))
}

/// The protocol structures; call [`activate`] once they sit in pool memory.
pub fn protocols(wait: Event, wait_ex: Event) -> (sti::Protocol, InputEx) {
    (
        sti::Protocol {
            reset: input_reset,
            read_key_stroke,
            wait_for_key: wait,
        },
        InputEx {
            reset: input_ex_reset,
            read_key_stroke_ex,
            wait_for_key_ex: wait_ex,
            set_state,
            register_key_notify,
            unregister_key_notify,
        },
    )
}

/// Makes the two instances the ones the members accept.
pub fn activate(input: *mut sti::Protocol, input_ex: *mut InputEx) {
    INPUT.store(input, Ordering::Relaxed);
    INPUT_EX.store(input_ex, Ordering::Relaxed);
}

/// Reads what the UART has, decodes it, handles the escape timeout; signals the wait events when a key is
/// queued and the notify event when a registered key came. Returns whether a key is queued. Neither allocates
/// nor logs (it may run in the timer interrupt).
pub fn poll() -> bool {
    let now = timer::micros_since_reset();
    let (available, notify) = CONSOLE.with(|c| {
        let super::InputState {
            decoder,
            keys,
            notify_keys,
            notifies,
            toggle_state,
        } = &mut c.input;
        let mut accept = |key: Key| {
            keys.push(key);
            if notifies.matching(&key, *toggle_state).next().is_some() {
                notify_keys.push(key);
            }
        };
        for _ in 0..BYTES_PER_POLL {
            match uart::read() {
                Some(byte) => decoder.push(byte, now, &mut accept),
                None => break,
            }
        }
        decoder.poll(now, &mut accept);
        (!keys.is_empty(), !notify_keys.is_empty())
    });
    let ev = events();
    if available {
        let _ = ev.signal_event(event(&WAIT_KEY));
        let _ = ev.signal_event(event(&WAIT_KEY_EX));
    }
    if notify {
        let _ = ev.signal_event(event(&NOTIFY_EVENT));
    }
    available
}

extern "efiapi" fn poll_notify(_event: Event, _context: *mut c_void) {
    poll();
}

extern "efiapi" fn wait_notify(_event: Event, _context: *mut c_void) {
    poll();
}

/// Calls the registered functions for each key that matched a registration.
extern "efiapi" fn run_key_notifies(_event: Event, _context: *mut c_void) {
    // Bounded: keys typed while the functions run are handled by the next signal.
    for _ in 0..NOTIFY_SLOTS {
        let mut functions: [Option<KeyNotify>; NOTIFY_SLOTS] = [None; NOTIFY_SLOTS];
        let Some(data) = CONSOLE.with(|c| {
            let state = &mut c.input;
            let key = state.notify_keys.pop()?;
            for (slot, f) in functions
                .iter_mut()
                .zip(state.notifies.matching(&key, state.toggle_state))
            {
                *slot = Some(f);
            }
            Some(key_data(&key, state.toggle_state))
        }) else {
            return;
        };
        for function in functions.into_iter().flatten() {
            let mut copy = data;
            // SAFETY: a function the application registered with RegisterKeyNotify, called with a KeyData it may
            // read (and scribble on: it gets its own copy), at TPL_CALLBACK with no console state borrowed.
            let _ = unsafe { function(&mut copy) };
        }
    }
}

fn key_data(key: &Key, toggle_state: u8) -> sti_ex::KeyData {
    sti_ex::KeyData {
        key: sti::InputKey {
            scan_code: key.scan_code,
            unicode_char: key.unicode_char,
        },
        key_state: sti_ex::KeyState {
            key_shift_state: key.shift_state,
            key_toggle_state: toggle_state,
        },
    }
}

/// Empties the queues and the decoder and discards what the UART holds.
fn reset_input() {
    CONSOLE.with(|c| {
        c.input.keys.clear();
        c.input.notify_keys.clear();
        c.input.decoder.reset();
    });
    for _ in 0..RESET_DRAIN {
        if uart::read().is_none() {
            break;
        }
    }
}

/// Polls, then takes the oldest key with the toggle state, if any.
fn next_key() -> Option<(Key, u8)> {
    poll();
    CONSOLE.with(|c| Some((c.input.keys.pop()?, c.input.toggle_state)))
}

fn check_input(this: *mut sti::Protocol, member: &str) -> Result<(), Status> {
    if this.is_null() || this != INPUT.load(Ordering::Relaxed) {
        log::warn!(target: LOG, "ConIn.{member}: This {this:p} is not the console's protocol");
        return Err(Status::INVALID_PARAMETER);
    }
    Ok(())
}

fn check_ex(this: *mut InputEx, member: &str) -> Result<(), Status> {
    if this.is_null() || this != INPUT_EX.load(Ordering::Relaxed) {
        log::warn!(target: LOG, "ConInEx.{member}: This {this:p} is not the console's protocol");
        return Err(Status::INVALID_PARAMETER);
    }
    Ok(())
}

extern "efiapi" fn input_reset(this: *mut sti::Protocol, _extended: Boolean) -> Status {
    if let Err(e) = check_input(this, "Reset") {
        return e;
    }
    reset_input();
    Status::SUCCESS
}

extern "efiapi" fn read_key_stroke(this: *mut sti::Protocol, key: *mut sti::InputKey) -> Status {
    if let Err(e) = check_input(this, "ReadKeyStroke") {
        return e;
    }
    if key.is_null() {
        log::warn!(target: LOG, "ConIn.ReadKeyStroke: NULL Key");
        return Status::INVALID_PARAMETER;
    }
    match next_key() {
        Some((k, _)) => {
            let input = sti::InputKey {
                scan_code: k.scan_code,
                unicode_char: k.unicode_char,
            };
            // SAFETY: non-null OUT EFI_INPUT_KEY (ReadKeyStroke contract).
            unsafe { key.write_unaligned(input) };
            Status::SUCCESS
        }
        None => Status::NOT_READY,
    }
}

extern "efiapi" fn input_ex_reset(this: *mut InputEx, _extended: Boolean) -> Status {
    if let Err(e) = check_ex(this, "Reset") {
        return e;
    }
    reset_input();
    Status::SUCCESS
}

extern "efiapi" fn read_key_stroke_ex(this: *mut InputEx, data: *mut sti_ex::KeyData) -> Status {
    if let Err(e) = check_ex(this, "ReadKeyStrokeEx") {
        return e;
    }
    if data.is_null() {
        log::warn!(target: LOG, "ConInEx.ReadKeyStrokeEx: NULL KeyData");
        return Status::INVALID_PARAMETER;
    }
    let (key, status) = match next_key() {
        Some((key, toggle_state)) => (key_data(&key, toggle_state), Status::SUCCESS),
        // No key: the current state is exposed with an empty key (section 12.2.3).
        None => {
            let toggle_state = CONSOLE.with(|c| c.input.toggle_state);
            (key_data(&Key::default(), toggle_state), Status::NOT_READY)
        }
    };
    // SAFETY: non-null OUT EFI_KEY_DATA (ReadKeyStrokeEx contract).
    unsafe { data.write_unaligned(key) };
    status
}

extern "efiapi" fn set_state(this: *mut InputEx, state: *mut u8) -> Status {
    if let Err(e) = check_ex(this, "SetState") {
        return e;
    }
    if state.is_null() {
        log::warn!(target: LOG, "ConInEx.SetState: NULL KeyToggleState");
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: non-null IN EFI_KEY_TOGGLE_STATE.
    let state = unsafe { state.read() };
    if state & toggle::VALID == 0 {
        log::warn!(target: LOG, "ConInEx.SetState({state:#x}): EFI_TOGGLE_STATE_VALID not set");
        return Status::UNSUPPORTED;
    }
    // A serial terminal has no lock lights: the state is kept and reported with every key.
    CONSOLE.with(|c| c.input.toggle_state = state);
    Status::SUCCESS
}

extern "efiapi" fn register_key_notify(
    this: *mut InputEx,
    data: *mut sti_ex::KeyData,
    function: Option<KeyNotify>,
    handle: *mut *mut c_void,
) -> Status {
    if let Err(e) = check_ex(this, "RegisterKeyNotify") {
        return e;
    }
    let Some(function) = function.filter(|_| !data.is_null() && !handle.is_null()) else {
        log::warn!(target: LOG, "ConInEx.RegisterKeyNotify: NULL KeyData, function or handle");
        return Status::INVALID_PARAMETER;
    };
    // SAFETY: non-null IN EFI_KEY_DATA (RegisterKeyNotify contract).
    let data = unsafe { data.read_unaligned() };
    let key = Key {
        scan_code: data.key.scan_code,
        unicode_char: data.key.unicode_char,
        shift_state: data.key_state.key_shift_state,
    };
    let toggle_state = data.key_state.key_toggle_state;
    match CONSOLE.with(|c| c.input.notifies.register(key, toggle_state, function)) {
        Ok(id) => {
            // SAFETY: non-null OUT VOID** (RegisterKeyNotify contract).
            unsafe { handle.write_unaligned(id as usize as *mut c_void) };
            Status::SUCCESS
        }
        Err(_) => {
            log::warn!(target: LOG, "ConInEx.RegisterKeyNotify: all {NOTIFY_SLOTS} registrations in use");
            Status::OUT_OF_RESOURCES
        }
    }
}

extern "efiapi" fn unregister_key_notify(this: *mut InputEx, handle: *mut c_void) -> Status {
    if let Err(e) = check_ex(this, "UnregisterKeyNotify") {
        return e;
    }
    let removed = u32::try_from(handle as usize)
        .is_ok_and(|id| CONSOLE.with(|c| c.input.notifies.unregister(id)));
    if removed {
        Status::SUCCESS
    } else {
        log::warn!(target: LOG, "ConInEx.UnregisterKeyNotify: {handle:p} is not a registration");
        Status::INVALID_PARAMETER
    }
}
