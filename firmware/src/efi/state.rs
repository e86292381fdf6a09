//! The firmware's global boot-services state: one locked structure per subsystem.
//!
//! Boot services run on the boot processor only, and the only asynchronous entry is the timer interrupt. So a
//! subsystem's state is a `RefCell` in a [`Global`], borrowed with interrupts masked for the duration of one
//! engine call (the effect of `TPL_HIGH_LEVEL`); an overlapping borrow would be an engine bug and is reported.
//! The event service manages its own cells the same way (see `boot_services::event`).

use core::cell::RefCell;

use boot_services::event::EventService;
use boot_services::memory::MemoryMap;
use boot_services::protocol::ProtocolDatabase;

use super::event::X86Platform;

/// A subsystem's state, for one CPU.
pub struct Global<T>(RefCell<T>);

// SAFETY: boot services run on the boot processor only; the timer interrupt is excluded by masking interrupts
// around every borrow (`with`), so no two contexts ever access the cell at once.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    /// Wraps the initial state.
    pub const fn new(value: T) -> Self {
        Global(RefCell::new(value))
    }

    /// Runs `f` on the state with interrupts masked. Never call foreign code (notify functions, drivers, images)
    /// inside `f`.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        x86_64::instructions::interrupts::without_interrupts(|| match self.0.try_borrow_mut() {
            Ok(mut state) => f(&mut state),
            Err(_) => panic!("boot-services state borrowed re-entrantly (engine bug)"),
        })
    }
}

/// The event service wrapped for one CPU.
pub struct SharedEvents(pub EventService<X86Platform>);

// SAFETY: as for `Global`: one CPU, and the service masks interrupts around its own state (its `Platform`).
unsafe impl Sync for SharedEvents {}

/// Events, timers, TPL and the ExitBootServices phases.
pub static EVENTS: SharedEvents = SharedEvents(EventService::new(X86Platform));

/// The UEFI memory map; `None` until [`super::memory::init`] built it from the bring-up map.
pub static MEMORY: Global<Option<MemoryMap>> = Global::new(None);

/// The protocol database.
pub static PROTOCOLS: Global<ProtocolDatabase> = Global::new(ProtocolDatabase::new());

/// The event service.
pub fn events() -> &'static EventService<X86Platform> {
    &EVENTS.0
}
