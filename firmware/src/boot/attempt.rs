//! One boot attempt (UEFI 2.10 section 3.1.1 and 7.4): `BootCurrent` set, the ready-to-boot event groups
//! signalled, the option's path expanded to the full paths to try, each loaded with LoadImage (BootPolicy TRUE)
//! until one loads, then started under the boot manager's 5-minute watchdog.
//!
//! An attempt fails when no path loads, or when the image returns (whatever its status): the caller goes on with
//! the next option. The returned reason names each path tried and what went wrong.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use boot_manager::device_path::expand::candidates;
use boot_manager::device_path::{self, Node, Text};
use boot_manager::load_option::LoadOption;
use boot_manager::refresh::load_options;
use boot_manager::status::Name;
use boot_manager::variables::{self as names, BS_RT};
use r_efi::efi::{self, Handle};

use super::variables;
use crate::efi::image::{self, Source};
use crate::efi::state::events;

/// The boot manager's watchdog while a boot option runs (UEFI 2.10 section 3.1.2: five minutes); a loader that
/// takes over disables or re-arms it.
const WATCHDOG_SECONDS: usize = 300;

/// Signals `EFI_EVENT_GROUP_READY_TO_BOOT`, then `EFI_EVENT_GROUP_AFTER_READY_TO_BOOT` (UEFI 2.10 section 7.1,
/// CreateEventEx: the latter "immediately after" the former).
fn signal_ready_to_boot() {
    for group in [
        efi::EVENT_GROUP_READY_TO_BOOT,
        efi::EVENT_GROUP_AFTER_READY_TO_BOOT,
    ] {
        if let Err(status) = events().signal_group(&group) {
            log::warn!(target: "boot", "ready-to-boot group not signalled: {}", Name(status));
        }
    }
}

/// Tries `Boot{number}`; returns only when it failed or its image returned, with the reason.
pub fn attempt(
    core: Handle,
    number: u16,
    option: &LoadOption,
    file_systems: &[Vec<Node>],
) -> String {
    let name = names::boot_option_name(number);
    log::info!(target: "boot", "booting {name} \"{}\"", option.description);
    if let Err(status) = variables::set(names::BOOT_CURRENT, BS_RT, &number.to_le_bytes()) {
        variables::warn_failed(names::BOOT_CURRENT, "not set", status);
    }
    signal_ready_to_boot();
    let path = match option.path() {
        Ok(path) => path,
        Err(e) => return format!("its FilePathList is malformed: {e}"),
    };
    let tries = candidates(&path, file_systems);
    if tries.is_empty() {
        return format!(
            "{}: no partition or file system present matches this short-form path",
            Text(&path)
        );
    }
    let mut failures = Vec::new();
    for candidate in tries {
        let bytes = device_path::encode(&candidate);
        let handle = match image::load(true, core, Some(&bytes), Source::Path) {
            Ok(handle) => handle,
            Err(e) => {
                log::error!(target: "boot", "{name}: LoadImage: {e}");
                failures.push(format!("{e}"));
                continue;
            }
        };
        if let Err(status) = image::set_load_options(handle, load_options(option)) {
            log::warn!(target: "boot", "{name}: load options not set: {}", Name(status));
        }
        let _ = events().set_watchdog_timer(WATCHDOG_SECONDS, 0, &[]);
        let status = image::start_image(handle, core::ptr::null_mut(), core::ptr::null_mut());
        let _ = events().set_watchdog_timer(0, 0, &[]);
        log::warn!(target: "boot", "{name}: {} returned {}", Text(&candidate), Name(status));
        failures.push(format!(
            "{} started and returned {}",
            Text(&candidate),
            Name(status)
        ));
        break;
    }
    failures.join("; ")
}
