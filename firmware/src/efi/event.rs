//! Event, timer and task-priority services (UEFI 2.10 section 7.1): the ABI shell over
//! `boot_services::event`, and the platform the engine runs on (interrupt flag, `hlt`, the LAPIC tick).

use core::ffi::c_void;

use boot_services::event::{EventId, NotifyFn, Platform};
use boot_services::timer::TimerDelay;
use boot_services::tpl::Tpl;
use r_efi::efi::{self, Event, Guid, Status};

use super::state::events;
use super::{status, write_out};
use crate::platform::timer;

/// The x86 side of the event engine: RFLAGS.IF, `hlt`, the LAPIC timer, reset for the watchdog.
pub struct X86Platform;

impl Platform for X86Platform {
    fn disable_interrupts(&self) {
        x86_64::instructions::interrupts::disable();
    }
    fn enable_interrupts(&self) {
        x86_64::instructions::interrupts::enable();
    }
    fn idle(&self) {
        crate::arch::wait_for_interrupt();
    }
    fn stop_timer(&self) {
        timer::stop();
    }
    fn start_timer(&self) {
        timer::start();
    }
    fn watchdog_reset(&self, code: u64, _data: &[u8]) {
        log::error!(target: "efi::event", "watchdog timer expired (code {code:#x}): resetting the machine");
        crate::platform::exit::reset();
    }
}

/// Called by the timer interrupt (after EOI) with the time since reset: drives timer events and the watchdog.
pub fn timer_tick() {
    events().timer_tick(timer::micros_since_reset().saturating_mul(10));
}

fn event_id(event: Event) -> EventId {
    EventId::from_event(event)
}

pub extern "efiapi" fn raise_tpl(new: efi::Tpl) -> efi::Tpl {
    events().raise_tpl(Tpl(new)).0
}

pub extern "efiapi" fn restore_tpl(old: efi::Tpl) {
    events().restore_tpl(Tpl(old))
}

fn create(
    kind: u32,
    tpl: efi::Tpl,
    notify: Option<NotifyFn>,
    context: *mut c_void,
    group: Option<Guid>,
    out: *mut Event,
) -> Status {
    if out.is_null() {
        return Status::INVALID_PARAMETER;
    }
    match events().create_event(kind, Tpl(tpl), notify, context, group) {
        // SAFETY: `out` is non-null; the caller provides storage for an EFI_EVENT (CreateEvent contract).
        Ok(id) => status(unsafe { write_out(out, id.as_event()) }),
        Err(e) => e,
    }
}

pub extern "efiapi" fn create_event(
    kind: u32,
    tpl: efi::Tpl,
    notify: Option<NotifyFn>,
    context: *mut c_void,
    out: *mut Event,
) -> Status {
    create(kind, tpl, notify, context, None, out)
}

pub extern "efiapi" fn create_event_ex(
    kind: u32,
    tpl: efi::Tpl,
    notify: Option<NotifyFn>,
    context: *const c_void,
    group: *const Guid,
    out: *mut Event,
) -> Status {
    // SAFETY: a non-null group points at an EFI_GUID (CreateEventEx contract); it is copied, not kept.
    let group = (!group.is_null()).then(|| unsafe { group.read_unaligned() });
    create(kind, tpl, notify, context as *mut c_void, group, out)
}

pub extern "efiapi" fn set_timer(event: Event, kind: efi::TimerDelay, trigger_time: u64) -> Status {
    match TimerDelay::from_raw(kind) {
        Ok(delay) => status(events().set_timer(event_id(event), delay, trigger_time)),
        Err(e) => e,
    }
}

pub extern "efiapi" fn wait_for_event(
    count: usize,
    events_ptr: *mut Event,
    index: *mut usize,
) -> Status {
    if events_ptr.is_null() || index.is_null() || count == 0 || count > 4096 {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: the caller passes an array of `count` events (WaitForEvent contract); bounded above.
    let raw = unsafe { core::slice::from_raw_parts(events_ptr, count) };
    let ids: alloc::vec::Vec<EventId> = raw.iter().map(|&e| event_id(e)).collect();
    match events().wait_for_event(&ids) {
        // SAFETY: `index` is non-null; the caller provides a UINTN.
        Ok(i) => status(unsafe { write_out(index, i) }),
        Err(e) => {
            if let Some(i) = e.index {
                // SAFETY: as above.
                let _ = unsafe { write_out(index, i) };
            }
            e.status
        }
    }
}

pub extern "efiapi" fn signal_event(event: Event) -> Status {
    status(events().signal_event(event_id(event)))
}

pub extern "efiapi" fn close_event(event: Event) -> Status {
    let result = events().close_event(event_id(event));
    if result.is_ok() {
        super::state::PROTOCOLS.with(|db| db.unregister_protocol_notify_event(event));
    }
    status(result)
}

pub extern "efiapi" fn check_event(event: Event) -> Status {
    status(events().check_event(event_id(event)))
}

pub extern "efiapi" fn set_watchdog_timer(
    timeout: usize,
    code: u64,
    data_size: usize,
    data: *mut efi::Char16,
) -> Status {
    let data: &[u8] = if data.is_null() || data_size == 0 || data_size > 4096 {
        &[]
    } else {
        // SAFETY: the caller passes `data_size` bytes of watchdog data (SetWatchdogTimer contract); bounded above.
        unsafe { core::slice::from_raw_parts(data as *const u8, data_size) }
    };
    status(events().set_watchdog_timer(timeout, code, data))
}
