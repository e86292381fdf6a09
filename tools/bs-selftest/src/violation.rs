//! The deliberate handoff violation, for the firmware's strict-handoff test: when the load options (QEMU
//! `-append`) contain `handoff-violation`, the app registers an ExitBootServices notify function that calls
//! AllocatePool, which the UEFI spec forbids once the memory map is final (UEFI 2.10 section 7.4.6). A firmware
//! that records violations must catch it; in a strict run vmfw then stops the machine with its own status.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;

use uefi_raw::protocol::loaded_image::LoadedImageProtocol;
use uefi_raw::table::boot::{EventType, MemoryType, Tpl};
use uefi_raw::{Event, Status};

use crate::{boot_services, image_handle};

/// The load-options word that arms the violation.
pub const ARM_WORD: &str = "handoff-violation";

/// Allocates inside an ExitBootServices handler, on purpose.
unsafe extern "efiapi" fn allocate_during_exit(_event: Event, _context: *mut c_void) {
    let mut buffer: *mut u8 = ptr::null_mut();
    // SAFETY: a plain boot-services call; the firmware must refuse it and record the violation.
    let _ = unsafe { (boot_services().allocate_pool)(MemoryType::LOADER_DATA, 64, &mut buffer) };
}

/// Whether the app's load options (UCS-2) contain [`ARM_WORD`] as a whole word.
fn armed() -> bool {
    has_option(ARM_WORD)
}

/// Whether the app's load options (UCS-2, QEMU `-append`) contain `word` as a whole word.
pub fn has_option(word: &str) -> bool {
    let mut interface: *mut c_void = ptr::null_mut();
    // SAFETY: HandleProtocol on our own image handle with a valid out-pointer.
    let status = unsafe {
        (boot_services().handle_protocol)(
            image_handle(),
            &LoadedImageProtocol::GUID,
            &mut interface,
        )
    };
    if status != Status::SUCCESS || interface.is_null() {
        return false;
    }
    // SAFETY: the firmware returned our Loaded Image protocol.
    let image = unsafe { &*interface.cast::<LoadedImageProtocol>() };
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

/// Registers the violating handler when the load options ask for it.
pub fn arm_if_requested(out: &mut dyn Write) {
    if !armed() {
        return;
    }
    let mut event: Event = ptr::null_mut();
    // SAFETY: creating an event with a static notify function and a valid out-pointer.
    let status = unsafe {
        (boot_services().create_event)(
            EventType::SIGNAL_EXIT_BOOT_SERVICES,
            Tpl::CALLBACK,
            Some(allocate_during_exit),
            ptr::null_mut(),
            &mut event,
        )
    };
    let _ = writeln!(
        out,
        "selftest: armed a deliberate handoff violation ({status:?})"
    );
}
