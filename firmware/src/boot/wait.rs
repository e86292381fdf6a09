//! The wait before the default boot that the `Timeout` variable asks for (UEFI 2.10 section 3.3): the options
//! are listed on the console and a key press on ConIn ends the wait early. vmfw has no interactive menu, so the
//! key only skips the rest of the wait.

use alloc::collections::BTreeMap;

use boot_manager::load_option::LoadOption;
use boot_manager::variables::{boot_option_name, Wait};
use boot_services::event::EventId;
use boot_services::timer::TimerDelay;
use boot_services::tpl::Tpl;
use r_efi::efi;
use r_efi::protocols::simple_text_input;

use crate::efi::state::events;
use crate::efi::system_table::system_table;

/// Lists the options to try and waits as `wait` says, or until a key is pressed.
pub fn before_boot(wait: Wait, sequence: &[u16], options: &BTreeMap<u16, LoadOption>) {
    let seconds = match wait {
        Wait::None => return,
        Wait::Seconds(s) => Some(s),
        Wait::ForKey => None,
    };
    crate::println!("vmfw boot manager: options, in the order they are tried:");
    for number in sequence {
        if let Some(option) = options.get(number) {
            crate::println!("  {} {}", boot_option_name(*number), option.description);
        }
    }
    match seconds {
        Some(s) => {
            log::info!(target: "boot", "Timeout: waiting {s} s (press any key to boot now)");
            crate::println!("Booting in {s} s; press any key to boot now.");
        }
        None => crate::println!("Timeout 0xFFFF: press any key to boot."),
    }
    let st = system_table();
    // SAFETY: the live system table; ConIn is installed by the console before the boot manager runs.
    let con_in: *mut simple_text_input::Protocol = unsafe { (*st).con_in };
    let mut waits = alloc::vec::Vec::new();
    if !con_in.is_null() {
        // SAFETY: the installed Simple Text Input protocol.
        waits.push(EventId::from_event(unsafe { (*con_in).wait_for_key }));
    }
    let timer = match seconds {
        Some(s) => {
            let Ok(timer) = events().create_event(
                efi::EVT_TIMER,
                Tpl::CALLBACK,
                None,
                core::ptr::null_mut(),
                None,
            ) else {
                return;
            };
            let _ = events().set_timer(timer, TimerDelay::Relative, u64::from(s) * 10_000_000);
            waits.push(timer);
            Some(timer)
        }
        None => None,
    };
    if waits.is_empty() {
        return;
    }
    if let Ok(0) = events().wait_for_event(&waits) {
        if !con_in.is_null() {
            let mut key = simple_text_input::InputKey {
                scan_code: 0,
                unicode_char: 0,
            };
            // SAFETY: the installed Simple Text Input protocol; `key` is a valid OUT structure.
            let _ = unsafe { ((*con_in).read_key_stroke)(con_in, &mut key) };
            log::info!(target: "boot", "key pressed: booting now");
        }
    }
    if let Some(timer) = timer {
        let _ = events().close_event(timer);
    }
}
