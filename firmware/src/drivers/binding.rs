//! Helpers the storage drivers (Disk I/O, partition, FAT) share: installing a Driver Binding, opening and closing
//! protocols for a driver, a registry of the protocol instances a driver handed out, the per-volume lock, and
//! the text of a controller's device path for log lines.
//!
//! All of it calls the firmware's boot services directly (`services()`, `events()`), never through the system
//! table, and never while a [`Global`] is borrowed.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::ffi::c_void;

use boot_services::tpl::Tpl;
use r_efi::efi::{self, Guid, Handle, Status};
use r_efi::protocols::{device_path, driver_binding};

use crate::efi::protocol::{device_path_bytes, services};
use crate::efi::state::{events, Global};

/// The three Driver Binding functions of one driver.
pub struct BindingFns {
    /// `Supported()`.
    pub supported: driver_binding::ProtocolSupported,
    /// `Start()`.
    pub start: driver_binding::ProtocolStart,
    /// `Stop()`.
    pub stop: driver_binding::ProtocolStop,
}

/// Installs an `EFI_DRIVER_BINDING_PROTOCOL` (UEFI 2.10 section 11.1) with `version` on a new handle, the
/// driver's `DriverBindingHandle`; `ImageHandle` is the firmware core's image `core`. Returns the binding handle.
/// The binding lives for the rest of boot services (the firmware's drivers are never unloaded).
pub fn install_binding(core: Handle, version: u32, fns: BindingFns) -> Result<Handle, Status> {
    let binding = Box::leak(Box::new(driver_binding::Protocol {
        supported: fns.supported,
        start: fns.start,
        stop: fns.stop,
        version,
        image_handle: core,
        driver_binding_handle: core::ptr::null_mut(),
    }));
    let interface = binding as *mut driver_binding::Protocol as *mut c_void;
    let handle =
        services().install_protocol_interface(None, driver_binding::PROTOCOL_GUID, interface)?;
    binding.driver_binding_handle = handle;
    BINDINGS.add(binding);
    Ok(handle)
}

/// The bindings installed by [`install_binding`].
static BINDINGS: Registry<driver_binding::Protocol> = Registry::new();

/// The `DriverBindingHandle` of `this` (the agent handle for the driver's opens); `INVALID_PARAMETER` when
/// `this` is not a binding installed by [`install_binding`].
pub fn agent_of(this: *mut driver_binding::Protocol) -> Result<Handle, Status> {
    let this = BINDINGS.check(this)?;
    // SAFETY: a registered binding is leaked, never freed.
    let handle = unsafe { (*this).driver_binding_handle };
    if handle.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    Ok(handle)
}

/// OpenProtocol(`handle`, `guid`, `agent`, `controller`, `attributes`) through the engine.
pub fn open(
    handle: Handle,
    guid: Guid,
    agent: Handle,
    controller: Handle,
    attributes: u32,
) -> Result<*mut c_void, Status> {
    services().open_protocol(handle, guid, agent, controller, attributes)
}

/// CloseProtocol(`handle`, `guid`, `agent`, `controller`); a failure is logged (it means the open was not ours).
pub fn close(handle: Handle, guid: Guid, agent: Handle, controller: Handle) {
    if let Err(e) = services().close_protocol(handle, guid, agent, controller) {
        log::warn!(target: "drivers", "CloseProtocol({guid:?}) on {handle:p} failed: {e:?}");
    }
}

/// OpenProtocol(`controller`, `guid`) `BY_DRIVER` for `agent`: how a driver's `Start()` takes its controller.
pub fn open_by_driver(
    controller: Handle,
    guid: Guid,
    agent: Handle,
) -> Result<*mut c_void, Status> {
    open(
        controller,
        guid,
        agent,
        controller,
        efi::OPEN_PROTOCOL_BY_DRIVER,
    )
}

/// The usual `Supported()` test (UEFI 2.10 section 11.1): `controller`'s `guid` can be opened `BY_DRIVER` by
/// `agent` right now; the open is closed again at once. Returns SUCCESS or OpenProtocol's status
/// (UNSUPPORTED without the protocol, ACCESS_DENIED/ALREADY_STARTED when another driver or this one holds it).
pub fn probe_by_driver(controller: Handle, guid: Guid, agent: Handle) -> Status {
    match open(
        controller,
        guid,
        agent,
        controller,
        efi::OPEN_PROTOCOL_BY_DRIVER,
    ) {
        Ok(_) => {
            close(controller, guid, agent, controller);
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

/// True when `handle` carries `guid` (OpenProtocol with `TEST_PROTOCOL`).
pub fn has_protocol(handle: Handle, guid: Guid, agent: Handle) -> bool {
    open(
        handle,
        guid,
        agent,
        handle,
        efi::OPEN_PROTOCOL_TEST_PROTOCOL,
    )
    .is_ok()
}

/// The device path bytes of `handle`, if it has a well-formed one.
pub fn device_path_of(handle: Handle, agent: Handle) -> Option<Vec<u8>> {
    let dp = open(
        handle,
        device_path::PROTOCOL_GUID,
        agent,
        handle,
        efi::OPEN_PROTOCOL_GET_PROTOCOL,
    )
    .ok()?;
    device_path_bytes(dp as *const u8)
}

/// How log lines name a controller: its device path text, else its handle.
pub fn describe(handle: Handle, agent: Handle) -> String {
    match device_path_of(handle, agent) {
        Some(path) => storage::device_path::to_text(&path),
        None => alloc::format!("handle {handle:p}"),
    }
}

/// The addresses of the protocol instances a driver handed out, so an entry point can check `This` before it
/// dereferences it (a foreign or stale pointer is `EFI_INVALID_PARAMETER`, never a fault).
pub struct Registry<T>(Global<Vec<*mut T>>);

impl<T> Registry<T> {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry(Global::new(Vec::new()))
    }

    /// Records `ptr`.
    pub fn add(&self, ptr: *mut T) {
        self.0.with(|v| v.push(ptr));
    }

    /// Forgets `ptr`; true if it was recorded.
    pub fn remove(&self, ptr: *mut T) -> bool {
        self.0.with(|v| {
            let before = v.len();
            v.retain(|&p| p != ptr);
            v.len() != before
        })
    }

    /// `ptr` if it is recorded, else `INVALID_PARAMETER`.
    pub fn check(&self, ptr: *mut T) -> Result<*mut T, Status> {
        if self.0.with(|v| v.contains(&ptr)) {
            Ok(ptr)
        } else {
            Err(Status::INVALID_PARAMETER)
        }
    }

    /// The first recorded instance for which `f` is true.
    pub fn find(&self, f: impl Fn(*mut T) -> bool) -> Option<*mut T> {
        self.0.with(|v| v.iter().copied().find(|&p| f(p)))
    }
}

/// State shared by the protocol functions of one volume or device, locked the way the UEFI file and block
/// drivers lock theirs: the TPL is raised to `TPL_CALLBACK` (so no callback-level notification enters) and the
/// cell is borrowed; interrupts stay enabled, so a long disk transfer does not stall the timer. A caller above
/// `TPL_CALLBACK`, or a re-entrant call from a notification, gets `EFI_ACCESS_DENIED` and a log line instead of
/// a second borrow.
pub struct TplCell<T>(RefCell<T>);

impl<T> TplCell<T> {
    /// Wraps the state.
    pub const fn new(value: T) -> Self {
        TplCell(RefCell::new(value))
    }

    /// Runs `f` on the state at `TPL_CALLBACK`. Errors: `ACCESS_DENIED` when called above `TPL_CALLBACK` or
    /// while the state is in use.
    pub fn with<R>(&self, what: &str, f: impl FnOnce(&mut T) -> R) -> Result<R, Status> {
        let tpl = events().current_tpl();
        if tpl > Tpl::CALLBACK {
            log::error!(target: "drivers", "{what}: called at TPL {} (above TPL_CALLBACK): refused", tpl.0);
            return Err(Status::ACCESS_DENIED);
        }
        let old = events().raise_tpl(Tpl::CALLBACK);
        let result = match self.0.try_borrow_mut() {
            Ok(mut state) => Ok(f(&mut state)),
            Err(_) => {
                log::error!(target: "drivers", "{what}: re-entered while in use: refused");
                Err(Status::ACCESS_DENIED)
            }
        };
        events().restore_tpl(old);
        result
    }
}
