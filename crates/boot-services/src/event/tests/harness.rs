//! Test harness: a fake platform, a fake hand-off memory map, and recording notification functions whose
//! context points at a `Probe` that may call back into the engine.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ffi::c_void;

use r_efi::efi;

use crate::event::{EventId, EventService, NotifyFn, Platform};
use crate::exit::HandoffMemory;
use crate::tpl::Tpl;

/// Records every platform hook call.
pub struct FakePlatform {
    pub interrupts_enabled: Cell<bool>,
    pub idles: Cell<usize>,
    pub timer_running: Cell<bool>,
    pub timer_starts: Cell<usize>,
    pub resets: RefCell<Vec<(u64, Vec<u8>)>>,
}

impl FakePlatform {
    pub fn new() -> FakePlatform {
        FakePlatform {
            interrupts_enabled: Cell::new(true),
            idles: Cell::new(0),
            timer_running: Cell::new(true),
            timer_starts: Cell::new(0),
            resets: RefCell::new(Vec::new()),
        }
    }
}

impl Platform for FakePlatform {
    fn disable_interrupts(&self) {
        self.interrupts_enabled.set(false);
    }
    fn enable_interrupts(&self) {
        self.interrupts_enabled.set(true);
    }
    fn idle(&self) {
        self.idles.set(self.idles.get() + 1);
    }
    fn stop_timer(&self) {
        self.timer_running.set(false);
    }
    fn start_timer(&self) {
        self.timer_running.set(true);
        self.timer_starts.set(self.timer_starts.get() + 1);
    }
    fn watchdog_reset(&self, code: u64, data: &[u8]) {
        self.resets.borrow_mut().push((code, data.to_vec()));
    }
}

/// A fake memory map: a key, a lock flag, the current attribution context and a journal of events.
pub struct FakeMemory {
    pub key: Cell<usize>,
    pub locked: Cell<bool>,
    pub context: RefCell<Option<String>>,
    pub journal: RefCell<Vec<String>>,
}

impl FakeMemory {
    pub fn new(key: usize) -> FakeMemory {
        FakeMemory {
            key: Cell::new(key),
            locked: Cell::new(false),
            context: RefCell::new(None),
            journal: RefCell::new(Vec::new()),
        }
    }

    /// What a handler sees as "who is running" (as a violation report would).
    pub fn who(&self) -> Option<String> {
        self.context.borrow().clone()
    }

    /// An allocation by a handler: journaled as a violation when locked.
    pub fn allocate(&self) {
        let entry = if self.locked.get() {
            alloc::format!("violation by {:?}", self.who())
        } else {
            "allocation".to_string()
        };
        self.journal.borrow_mut().push(entry);
    }
}

impl HandoffMemory for FakeMemory {
    fn map_key(&self) -> usize {
        self.key.get()
    }
    fn lock(&self) {
        self.locked.set(true);
        self.journal.borrow_mut().push("lock".to_string());
    }
    fn set_context(&self, who: Option<&str>) {
        *self.context.borrow_mut() = who.map(|w| w.to_string());
    }
}

/// One recorded notification call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub tag: &'static str,
    pub tpl: Tpl,
    pub event: EventId,
    pub interrupts_enabled: bool,
}

/// The engine under test plus the call log shared by all probes.
pub struct Harness {
    pub svc: EventService<FakePlatform>,
    pub log: RefCell<Vec<Call>>,
}

type Action<'h> = Box<dyn Fn(&'h Harness, EventId) + 'h>;

/// Context of one notification function: its tag and an optional action run after logging the call.
pub struct Probe<'h> {
    harness: &'h Harness,
    tag: &'static str,
    action: Option<Action<'h>>,
}

impl<'h> Probe<'h> {
    /// The `NotifyContext` pointer for this probe (valid while the probe lives).
    pub fn ctx(&self) -> *mut c_void {
        self as *const Probe<'h> as *mut c_void
    }
}

/// The notification function of every probe.
pub extern "efiapi" fn probe_notify(event: efi::Event, context: *mut c_void) {
    // SAFETY: every test passes `Probe::ctx()` of a boxed probe that outlives the engine calls of that test.
    let probe = unsafe { &*(context as *const Probe<'static>) };
    let harness = probe.harness;
    let id = EventId::from_event(event);
    harness.log.borrow_mut().push(Call {
        tag: probe.tag,
        tpl: harness.svc.current_tpl(),
        event: id,
        interrupts_enabled: harness.svc.platform().interrupts_enabled.get(),
    });
    if let Some(action) = &probe.action {
        action(harness, id);
    }
}

/// `probe_notify` as the engine's function type.
pub const PROBE: NotifyFn = probe_notify;

impl Harness {
    pub fn new() -> Harness {
        Harness {
            svc: EventService::new(FakePlatform::new()),
            log: RefCell::new(Vec::new()),
        }
    }

    /// A probe that only logs.
    pub fn probe(&self, tag: &'static str) -> Box<Probe<'_>> {
        Box::new(Probe {
            harness: self,
            tag,
            action: None,
        })
    }

    /// A probe that logs and then runs `action` (which may call back into the engine).
    pub fn probe_with<'h>(
        &'h self,
        tag: &'static str,
        action: impl Fn(&'h Harness, EventId) + 'h,
    ) -> Box<Probe<'h>> {
        Box::new(Probe {
            harness: self,
            tag,
            action: Some(Box::new(action)),
        })
    }

    /// Creates an `EVT_NOTIFY_SIGNAL` event at `tpl` notifying `probe`.
    pub fn signal_event_for(&self, tpl: Tpl, probe: &Probe<'_>) -> EventId {
        self.svc
            .create_event(efi::EVT_NOTIFY_SIGNAL, tpl, Some(PROBE), probe.ctx(), None)
            .expect("create_event")
    }

    /// Tags of the logged calls, in order.
    pub fn tags(&self) -> Vec<&'static str> {
        self.log.borrow().iter().map(|call| call.tag).collect()
    }

    /// Number of logged calls with `tag`.
    pub fn count(&self, tag: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|call| call.tag == tag)
            .count()
    }
}
