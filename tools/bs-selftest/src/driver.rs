//! Driver-model checks (UEFI 2.10 §7.3.12-13, §11.1): the app installs an EFI_DRIVER_BINDING_PROTOCOL on its own
//! image handle and a controller handle carrying a private "test controller" protocol, then drives
//! ConnectController/DisconnectController and watches its Supported/Start/Stop being called.
//!
//! Design: the binding is the first field of a `#[repr(C)]` [`TestDriver`], so the `This` pointer the firmware
//! passes back leads to the call counters. `TestDriver` lives on this module's stack frame and is declared before
//! the guards that install it, so it is uninstalled before it goes away. Supported answers SUCCESS only for
//! controllers with the test-controller protocol (OpenProtocol TEST_PROTOCOL); Start takes it BY_DRIVER; Stop
//! closes it.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use uefi_raw::protocol::device_path::DevicePathProtocol;
use uefi_raw::protocol::driver::DriverBindingProtocol;
use uefi_raw::table::boot::OpenProtocolInformationEntry;
use uefi_raw::{guid, Boolean, Guid, Handle, Status};

use crate::protocols::{
    close_protocol, interface, open_info_matching, open_protocol, Installed, BY_DRIVER,
    TEST_PROTOCOL,
};
use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, expect_status, image_handle};

/// The private protocol that marks a handle as a controller this driver supports.
const TEST_CONTROLLER: Guid = guid!("7c3e9a10-54d2-4f8b-b1e6-0d9f2a6c4e21");
/// A protocol that only gives the "other agent" handle a reason to exist.
const OTHER_AGENT: Guid = guid!("7c3e9a10-54d2-4f8b-b1e6-0d9f2a6c4e22");

static CONTROLLER_INTERFACE: u64 = 0xC0;
static AGENT_INTERFACE: u64 = 0xA6;

/// The driver binding plus the counters its functions update.
#[repr(C)]
struct TestDriver {
    binding: DriverBindingProtocol,
    supported: AtomicU32,
    started: AtomicU32,
    stopped: AtomicU32,
}

/// # Safety
/// `this` must be the binding inside a live [`TestDriver`].
unsafe fn driver<'a>(this: *const DriverBindingProtocol) -> &'a TestDriver {
    // SAFETY: `binding` is the first field of the repr(C) TestDriver (module note).
    unsafe { &*this.cast::<TestDriver>() }
}

unsafe extern "efiapi" fn supported(
    this: *const DriverBindingProtocol,
    controller: Handle,
    _remaining: *const DevicePathProtocol,
) -> Status {
    // SAFETY: the firmware passes back the binding we installed.
    let driver = unsafe { driver(this) };
    driver.supported.fetch_add(1, Ordering::SeqCst);
    let agent = driver.binding.driver_binding_handle;
    match open_protocol(
        controller,
        &TEST_CONTROLLER,
        agent,
        controller,
        TEST_PROTOCOL,
    )
    .0
    {
        Status::SUCCESS => Status::SUCCESS,
        _ => Status::UNSUPPORTED,
    }
}

unsafe extern "efiapi" fn start(
    this: *const DriverBindingProtocol,
    controller: Handle,
    _remaining: *const DevicePathProtocol,
) -> Status {
    // SAFETY: the firmware passes back the binding we installed.
    let driver = unsafe { driver(this) };
    let agent = driver.binding.driver_binding_handle;
    let (status, _) = open_protocol(controller, &TEST_CONTROLLER, agent, controller, BY_DRIVER);
    if status == Status::SUCCESS {
        driver.started.fetch_add(1, Ordering::SeqCst);
    }
    status
}

unsafe extern "efiapi" fn stop(
    this: *const DriverBindingProtocol,
    controller: Handle,
    _children: usize,
    _child_handles: *const Handle,
) -> Status {
    // SAFETY: the firmware passes back the binding we installed.
    let driver = unsafe { driver(this) };
    let status = close_protocol(
        controller,
        &TEST_CONTROLLER,
        driver.binding.driver_binding_handle,
        controller,
    );
    if status == Status::SUCCESS {
        driver.stopped.fetch_add(1, Ordering::SeqCst);
    }
    status
}

fn connect(controller: Handle) -> Status {
    // SAFETY: NULL driver list and device path mean "all drivers, whole controller"; not recursive.
    unsafe {
        (boot_services().connect_controller)(controller, ptr::null(), ptr::null(), Boolean::FALSE)
    }
}

fn disconnect(controller: Handle) -> Status {
    // SAFETY: NULL driver and child mean "every driver managing the controller".
    unsafe { (boot_services().disconnect_controller)(controller, ptr::null_mut(), ptr::null_mut()) }
}

/// The handles and driver one run of the checks works on.
struct Fixture<'a> {
    image: Handle,
    driver: &'a TestDriver,
    binding: Installed,
    controller: Installed,
    agent: Installed,
}

impl Fixture<'_> {
    fn ctrl(&self) -> Handle {
        self.controller.handle
    }

    fn other(&self) -> Handle {
        self.agent.handle
    }

    fn count(counter: &AtomicU32) -> u32 {
        counter.load(Ordering::SeqCst)
    }
}

fn install(image: Handle, driver: &TestDriver) -> Result<Fixture<'_>, Detail> {
    let binding_iface = ptr::from_ref(driver).cast::<c_void>();
    let binding = Installed::new(image, &DriverBindingProtocol::GUID, binding_iface)?;
    let controller = Installed::new(
        ptr::null_mut(),
        &TEST_CONTROLLER,
        interface(&CONTROLLER_INTERFACE),
    )?;
    let agent = Installed::new(ptr::null_mut(), &OTHER_AGENT, interface(&AGENT_INTERFACE))?;
    ensure!(
        binding.handle == image,
        "binding landed on {:p}, not the image handle {image:p}",
        binding.handle
    );
    Ok(Fixture {
        image,
        driver,
        binding,
        controller,
        agent,
    })
}

/// Runs the driver-model checks; later steps are skipped (and not counted) when setup fails.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    let image = image_handle();
    let test_driver = TestDriver {
        binding: DriverBindingProtocol {
            supported,
            start,
            stop,
            version: 0x10,
            image_handle: image,
            driver_binding_handle: image,
        },
        supported: AtomicU32::new(0),
        started: AtomicU32::new(0),
        stopped: AtomicU32::new(0),
    };
    let fixture = match install(image, &test_driver) {
        Ok(fixture) => fixture,
        Err(detail) => {
            return report.record(
                out,
                "driver: install binding on the image handle",
                Err(detail),
            )
        }
    };
    report.record(out, "driver: install binding on the image handle", Ok(()));
    report.record(
        out,
        "driver: ConnectController starts the driver once",
        check_connect(&fixture),
    );
    report.record(
        out,
        "driver: BY_DRIVER open by another agent is ACCESS_DENIED",
        check_exclusive(&fixture),
    );
    report.record(
        out,
        "driver: DisconnectController stops the driver",
        check_disconnect(&fixture),
    );
    report.record(
        out,
        "driver: ConnectController without a supporting driver",
        check_unsupported(&fixture),
    );
    report.record(
        out,
        "driver: uninstall controller and binding",
        uninstall_all(fixture),
    );
}

fn check_connect(f: &Fixture<'_>) -> Outcome {
    let (image, ctrl) = (f.image, f.ctrl());
    expect_status("ConnectController", connect(ctrl), Status::SUCCESS)?;
    let started = Fixture::count(&f.driver.started);
    ensure!(started == 1, "Start succeeded {started} times, expected 1");
    let by_us = |e: &OpenProtocolInformationEntry| {
        e.agent_handle == image && e.controller_handle == ctrl && e.attributes & BY_DRIVER != 0
    };
    let (matching, total) = open_info_matching(ctrl, &TEST_CONTROLLER, by_us)?;
    ensure!(
        matching == 1,
        "OpenProtocolInformation: {matching} of {total} entries are our BY_DRIVER open"
    );
    Ok(())
}

fn check_exclusive(f: &Fixture<'_>) -> Outcome {
    let (ctrl, other) = (f.ctrl(), f.other());
    let (status, _) = open_protocol(ctrl, &TEST_CONTROLLER, other, ctrl, BY_DRIVER);
    if status == Status::SUCCESS {
        let _ = close_protocol(ctrl, &TEST_CONTROLLER, other, ctrl);
    }
    expect_status(
        "OpenProtocol(BY_DRIVER) from a second agent",
        status,
        Status::ACCESS_DENIED,
    )
}

fn check_disconnect(f: &Fixture<'_>) -> Outcome {
    let (ctrl, other) = (f.ctrl(), f.other());
    expect_status("DisconnectController", disconnect(ctrl), Status::SUCCESS)?;
    let stopped = Fixture::count(&f.driver.stopped);
    ensure!(stopped == 1, "Stop succeeded {stopped} times, expected 1");
    // The controller is free again: another agent may now take it BY_DRIVER.
    let (status, _) = open_protocol(ctrl, &TEST_CONTROLLER, other, ctrl, BY_DRIVER);
    expect_status(
        "OpenProtocol(BY_DRIVER) after Stop",
        status,
        Status::SUCCESS,
    )?;
    expect_status(
        "CloseProtocol",
        close_protocol(ctrl, &TEST_CONTROLLER, other, ctrl),
        Status::SUCCESS,
    )
}

fn check_unsupported(f: &Fixture<'_>) -> Outcome {
    let asked = Fixture::count(&f.driver.supported);
    expect_status(
        "ConnectController(handle without the test protocol)",
        connect(f.other()),
        Status::NOT_FOUND,
    )?;
    let now = Fixture::count(&f.driver.supported);
    ensure!(
        now > asked,
        "Supported was not consulted for the second handle"
    );
    let started = Fixture::count(&f.driver.started);
    ensure!(
        started == 1,
        "Start ran for an unsupported controller ({started} starts in total)"
    );
    Ok(())
}

fn uninstall_all(f: Fixture<'_>) -> Outcome {
    expect_status(
        "UninstallProtocolInterface(controller)",
        f.controller.remove(),
        Status::SUCCESS,
    )?;
    expect_status(
        "UninstallProtocolInterface(agent)",
        f.agent.remove(),
        Status::SUCCESS,
    )?;
    expect_status(
        "UninstallProtocolInterface(driver binding)",
        f.binding.remove(),
        Status::SUCCESS,
    )
}
