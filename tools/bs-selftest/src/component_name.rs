//! Component Name 2 checks (UEFI 2.10 §11.5): every driver names itself and the controllers it manages.
//!
//! The drivers are found as the firmware's tools find them: LocateHandleBuffer(ByProtocol, Driver Binding), then
//! HandleProtocol(`EFI_COMPONENT_NAME2_PROTOCOL`) on each `DriverBindingHandle`.
//!
//! - Driver names: every driver with Component Name 2 lists "en" in `SupportedLanguages` and answers
//!   GetDriverName("en") with a non-empty NUL-terminated name; under vmfw every Driver Binding handle must have
//!   the protocol (OVMF, the reference, must name at least one driver). GetDriverName with a NULL `Language` or
//!   `DriverName` is `INVALID_PARAMETER` and with an unknown language `UNSUPPORTED`.
//! - Controller names ([`controllers`]): GetControllerName of a handle no driver manages (the app's own image
//!   handle) is `UNSUPPORTED`; under vmfw also NULL `ControllerHandle`/`Language`/`ControllerName` and a forged
//!   `ChildHandle` are `INVALID_PARAMETER`, every controller a driver holds `BY_DRIVER` and every child it opened
//!   a protocol for `BY_CHILD_CONTROLLER` has a name, and every other driver answers `UNSUPPORTED` for them.
//!   What OVMF's drivers do there is not checked (edk2's answer `UNSUPPORTED` for a NULL controller handle).
//!
//! Buffers the firmware returns are freed before a check returns; nothing is installed.

mod controllers;

use core::fmt::{self, Write};
use core::ptr;

use uefi_raw::protocol::driver::{ComponentName2Protocol, DriverBindingProtocol};
use uefi_raw::{Handle, Status};

use crate::fs::raw::HandleList;
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};
use crate::{expect_status, image_handle};

/// The language asked for: RFC 4646 "en", NUL-terminated.
pub const EN: &[u8] = b"en\0";
/// A well-formed tag no driver supports ("zz" is not an ISO 639 language).
pub const UNKNOWN: &[u8] = b"zz\0";
/// Longest name accepted, in UCS-2 units.
const MAX_NAME: usize = 256;
/// Longest `SupportedLanguages` read, in bytes.
const MAX_LANGUAGES: usize = 256;

/// One driver: its binding handle and its Component Name 2 (NULL when it has none).
#[derive(Clone, Copy)]
pub struct Driver {
    /// The `DriverBindingHandle`.
    pub handle: Handle,
    /// Its `EFI_COMPONENT_NAME2_PROTOCOL`, or NULL.
    pub cn2: *const ComponentName2Protocol,
}

impl Driver {
    /// GetDriverName(`language`) with `out` as the out-pointer (NULL allowed, to test the refusal).
    pub fn driver_name_raw(&self, language: *const u8, out: *mut *const u16) -> Status {
        // SAFETY: `cn2` is an installed Component Name 2 interface (callers only use drivers that have one).
        unsafe { ((*self.cn2).get_driver_name)(self.cn2, language, out) }
    }

    /// GetDriverName("en"): the name or the status.
    pub fn driver_name(&self) -> Result<*const u16, Status> {
        let mut name = ptr::null();
        match self.driver_name_raw(EN.as_ptr(), &mut name) {
            Status::SUCCESS => Ok(name),
            status => Err(status),
        }
    }

    /// GetControllerName(`controller`, `child`, `language`) with `out` as the out-pointer (NULL allowed).
    pub fn controller_name_raw(
        &self,
        controller: Handle,
        child: Handle,
        language: *const u8,
        out: *mut *const u16,
    ) -> Status {
        // SAFETY: as in `driver_name_raw`; the handles and pointers are the test's inputs, which the protocol
        // must check.
        unsafe { ((*self.cn2).get_controller_name)(self.cn2, controller, child, language, out) }
    }

    /// GetControllerName(`controller`, `child`, "en"): the name or the status.
    pub fn controller_name(&self, controller: Handle, child: Handle) -> Result<*const u16, Status> {
        let mut name = ptr::null();
        match self.controller_name_raw(controller, child, EN.as_ptr(), &mut name) {
            Status::SUCCESS => Ok(name),
            status => Err(status),
        }
    }

    /// Whether `SupportedLanguages` lists "en" (`;`-separated RFC 4646 tags, ASCII case ignored).
    fn supports_en(&self) -> bool {
        // SAFETY: as in `driver_name_raw`.
        let languages = unsafe { (*self.cn2).supported_languages };
        if languages.is_null() {
            return false;
        }
        let mut buf = [0u8; MAX_LANGUAGES];
        let mut len = 0;
        while len < MAX_LANGUAGES {
            // SAFETY: SupportedLanguages is NUL-terminated ASCII; reading stops at the NUL or the bound.
            let byte = unsafe { languages.add(len).read() };
            if byte == 0 {
                break;
            }
            buf[len] = byte;
            len += 1;
        }
        buf[..len]
            .split(|&b| b == b';')
            .any(|tag| tag.eq_ignore_ascii_case(b"en"))
    }
}

/// The Driver Binding handles, each with its Component Name 2 (if any).
pub struct Drivers(HandleList);

impl Drivers {
    /// LocateHandleBuffer(ByProtocol, Driver Binding).
    pub fn locate() -> Result<Drivers, Detail> {
        HandleList::by_protocol(&DriverBindingProtocol::GUID).map(Drivers)
    }

    /// Every driver.
    pub fn all(&self) -> impl Iterator<Item = Driver> + '_ {
        self.0.iter().map(|handle| Driver {
            handle,
            cn2: handle_protocol(handle, &ComponentName2Protocol::GUID)
                .map_or(ptr::null(), |p| p.cast_const().cast()),
        })
    }

    /// The drivers that have Component Name 2.
    pub fn named(&self) -> impl Iterator<Item = Driver> + '_ {
        self.all().filter(|d| !d.cn2.is_null())
    }

    /// The driver whose binding handle is `handle`, if it has Component Name 2.
    pub fn find(&self, handle: Handle) -> Option<Driver> {
        self.named().find(|d| d.handle == handle)
    }
}

/// A NUL-terminated UCS-2 string returned by a driver, printable; [`Ucs2::new`] checks it.
#[derive(Clone, Copy)]
pub struct Ucs2(*const u16, usize);

impl Ucs2 {
    /// `ptr` when it is non-NULL, non-empty and NUL-terminated within [`MAX_NAME`] units.
    pub fn new(ptr: *const u16) -> Result<Ucs2, &'static str> {
        if ptr.is_null() {
            return Err("a NULL name");
        }
        // SAFETY: the driver returned a NUL-terminated string; reading stops at the NUL or the bound.
        let len = (0..MAX_NAME).position(|i| unsafe { ptr.add(i).read() } == 0);
        match len {
            Some(0) => Err("an empty name"),
            Some(len) => Ok(Ucs2(ptr, len)),
            None => Err("a name without NUL in 256 units"),
        }
    }
}

impl fmt::Display for Ucs2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: `new` found `len` units before the NUL.
        let units = unsafe { core::slice::from_raw_parts(self.0, self.1) };
        for c in char::decode_utf16(units.iter().copied()) {
            f.write_char(c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
        }
        Ok(())
    }
}

/// Every driver with Component Name 2 supports "en" and names itself in it; under vmfw every driver has the
/// protocol. Prints the names under vmfw (OVMF has dozens).
fn check_driver_names(drivers: &Drivers, vmfw: bool, out: &mut dyn Write) -> Outcome {
    let (mut total, mut named) = (0usize, 0usize);
    for driver in drivers.all() {
        total += 1;
        if driver.cn2.is_null() {
            ensure!(
                !vmfw,
                "Driver Binding handle {:p} has no Component Name 2",
                driver.handle
            );
            continue;
        }
        ensure!(
            driver.supports_en(),
            "driver {:p}: SupportedLanguages does not list \"en\"",
            driver.handle
        );
        let name = driver.driver_name().map_err(|s| {
            Detail::new(format_args!(
                "driver {:p}: GetDriverName(\"en\") returned {s:?}",
                driver.handle
            ))
        })?;
        let name = Ucs2::new(name).map_err(|why| {
            Detail::new(format_args!(
                "driver {:p}: GetDriverName gave {why}",
                driver.handle
            ))
        })?;
        if vmfw {
            let _ = writeln!(
                out,
                "selftest: component-name: driver {:p} is \"{name}\"",
                driver.handle
            );
        }
        named += 1;
    }
    ensure!(total > 0, "no Driver Binding handle found");
    ensure!(
        named > 0,
        "none of the {total} drivers has Component Name 2"
    );
    let _ = writeln!(
        out,
        "selftest: component-name: {named} of {total} drivers named"
    );
    Ok(())
}

/// GetDriverName refuses NULL arguments (`INVALID_PARAMETER`) and an unsupported language (`UNSUPPORTED`).
fn check_driver_name_errors(drivers: &Drivers) -> Outcome {
    for driver in drivers.named() {
        let h = driver.handle;
        let mut name = ptr::null();
        expect_status(
            "GetDriverName(Language NULL)",
            driver.driver_name_raw(ptr::null(), &mut name),
            Status::INVALID_PARAMETER,
        )
        .map_err(|d| Detail::new(format_args!("driver {h:p}: {}", d.as_str())))?;
        expect_status(
            "GetDriverName(DriverName NULL)",
            driver.driver_name_raw(EN.as_ptr(), ptr::null_mut()),
            Status::INVALID_PARAMETER,
        )
        .map_err(|d| Detail::new(format_args!("driver {h:p}: {}", d.as_str())))?;
        expect_status(
            "GetDriverName(\"zz\")",
            driver.driver_name_raw(UNKNOWN.as_ptr(), &mut name),
            Status::UNSUPPORTED,
        )
        .map_err(|d| Detail::new(format_args!("driver {h:p}: {}", d.as_str())))?;
    }
    Ok(())
}

/// Runs the Component Name 2 checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    let vmfw = crate::pci::is_vmfw();
    let drivers = match Drivers::locate() {
        Ok(drivers) => drivers,
        Err(detail) => {
            return report.record(
                out,
                "component-name: LocateHandleBuffer(Driver Binding)",
                Err(detail),
            )
        }
    };
    let outcome = check_driver_names(&drivers, vmfw, out);
    report.record(
        out,
        "component-name: every driver names itself in \"en\" (vmfw: every Driver Binding handle)",
        outcome,
    );
    report.record(
        out,
        "component-name: GetDriverName refuses NULL arguments and unknown languages",
        check_driver_name_errors(&drivers),
    );
    report.record(
        out,
        "component-name: GetControllerName refuses unmanaged handles (vmfw: and bad arguments)",
        controllers::check_refusals(&drivers, image_handle(), vmfw),
    );
    controllers::run(report, out, &drivers, vmfw);
}
