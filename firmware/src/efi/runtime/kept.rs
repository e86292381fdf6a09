//! What the firmware keeps for SetVirtualAddressMap, in one locked structure in the image (never on the heap,
//! which is boot-services memory): the image relocation table's place, and, taken at ExitBootServices, the
//! firmware's memory map (its runtime ranges and all its ranges) and the virtual-address-change notifications.
//!
//! The ExitBootServices part is a final action of the boot-services core (phase 6, after every exit handler and
//! with the memory map locked), so it sees the map the OS got with its map key; it allocates nothing in the UEFI
//! memory map.

use alloc::boxed::Box;
use core::ffi::c_void;

use ::runtime::virtual_map::Ranges;
use ::runtime::TryLock;
use boot_services::event::{group, NotifyFn};
use r_efi::efi::{self, Event, Status};

use crate::efi::state::{events, MEMORY};

/// Most runtime memory ranges kept (each `EFI_MEMORY_RUNTIME` descriptor is one).
pub const RUNTIME_RANGES: usize = 64;
/// Most ranges of the whole map kept (contiguous descriptors merged).
pub const KNOWN_RANGES: usize = 128;
/// Most virtual-address-change notifications kept.
pub const NOTIFICATIONS: usize = 32;

/// One `EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE` notification.
#[derive(Clone, Copy)]
pub struct Notification {
    /// The notification function (in runtime-services code).
    pub function: NotifyFn,
    /// The event it belongs to.
    pub event: Event,
    /// Its context.
    pub context: *mut c_void,
}

/// The kept state.
pub struct Kept {
    /// The firmware's `EFI_MEMORY_RUNTIME` descriptors at ExitBootServices.
    pub runtime: Ranges<RUNTIME_RANGES>,
    /// Every descriptor of the firmware's map at ExitBootServices, contiguous ones merged.
    pub known: Ranges<KNOWN_RANGES>,
    /// The virtual-address-change notifications, in the order they are called.
    pub notifications: [Option<Notification>; NOTIFICATIONS],
    /// The relocation table's entries in runtime-services data: (address, bytes); `None` when the image had none.
    pub relocations: Option<(usize, usize)>,
}

// SAFETY: the raw pointers (event handles, contexts) are opaque values handed back to their owners' functions;
// `Kept` never dereferences them, so moving it between processors is sound.
unsafe impl Send for Kept {}

/// The kept state, behind a try-only lock: runtime services must never spin.
pub static KEPT: TryLock<Kept> = TryLock::new(Kept {
    runtime: Ranges::new(),
    known: Ranges::new(),
    notifications: [None; NOTIFICATIONS],
    relocations: None,
});

/// Registers the ExitBootServices final action that fills [`KEPT`].
pub fn register_exit_hook() -> Result<(), Status> {
    events()
        .register_final_action("runtime services: keep the memory map", Box::new(keep))
        .map(|_| ())
}

fn keep() {
    let Some(mut kept) = KEPT.try_lock() else {
        log::error!(target: "efi::runtime", "runtime state busy at ExitBootServices; SetVirtualAddressMap will fail");
        return;
    };
    kept.runtime = Ranges::new();
    kept.known = Ranges::new();
    let mut code = Ranges::<RUNTIME_RANGES>::new();
    MEMORY.with(|map| {
        for range in map.iter().flat_map(|m| m.ranges()) {
            let end = range.end();
            if !kept.known.push_merged(range.base, end) {
                log::error!(target: "efi::runtime", "more than {KNOWN_RANGES} memory ranges: {:#x}.. not kept", range.base);
            }
            if range.attribute & efi::MEMORY_RUNTIME != 0 && !kept.runtime.push(range.base, end) {
                log::error!(target: "efi::runtime", "more than {RUNTIME_RANGES} runtime ranges: {:#x}.. not kept", range.base);
            }
            if range.memory_type == efi::RUNTIME_SERVICES_CODE {
                code.push(range.base, end);
            }
        }
    });
    kept.notifications = [None; NOTIFICATIONS];
    let registrations = events()
        .group_notifications(&group::VIRTUAL_ADDRESS_CHANGE)
        .unwrap_or_default();
    let mut slots = kept.notifications.iter_mut();
    for registration in registrations {
        let at = registration.function as usize as u64;
        if !code.contains(at, at + 1) {
            log::error!(target: "efi::runtime", "virtual-address-change notification {at:#x} is not in runtime code: it will not be called");
            continue;
        }
        match slots.next() {
            Some(slot) => {
                *slot = Some(Notification {
                    function: registration.function,
                    event: registration.event.as_event(),
                    context: registration.context,
                })
            }
            None => {
                log::error!(target: "efi::runtime", "more than {NOTIFICATIONS} virtual-address-change notifications: {at:#x} dropped")
            }
        }
    }
}
