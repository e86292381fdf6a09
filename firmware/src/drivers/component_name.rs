//! `EFI_COMPONENT_NAME2_PROTOCOL` (UEFI 2.10 section 11.5) for the firmware's drivers: the names a UEFI shell's
//! `drivers`/`devices` and the handoff audit show.
//!
//! [`install`] puts one instance on a driver's `DriverBindingHandle` (where section 11.5 and the Driver Writer's
//! Guide want it). Every instance answers in one language, `SupportedLanguages = "en"` (RFC 4646; compared
//! case-insensitively, as language tags are):
//!
//! - `GetDriverName(This, Language, DriverName)`: the driver's static name. `INVALID_PARAMETER` when `Language` or
//!   `DriverName` is NULL; `UNSUPPORTED` for any language but "en".
//! - `GetControllerName(This, ControllerHandle, ChildHandle, Language, ControllerName)`: the name of a controller
//!   (`ChildHandle` NULL) or of a child it produced. `INVALID_PARAMETER` when `ControllerHandle`, `Language` or
//!   `ControllerName` is NULL, or `ChildHandle` is neither NULL nor a live handle; `UNSUPPORTED` when the driver does
//!   not manage the pair (asked of the driver's own registry of started controllers through its
//!   [`ControllerNames`] function, which only lists what `Start()` holds `BY_DRIVER`) or for another language.
//!
//! Nothing is allocated per call: driver names are `static` UCS-2 arrays ([`ucs2_name!`]); controller names are
//! [`ControllerName`] buffers a driver builds in `Start()` and keeps with the controller, so a returned pointer
//! stays valid until `Stop()` frees it. A `This` that is not an installed instance is `INVALID_PARAMETER`.

use alloc::boxed::Box;
use core::ffi::c_void;

use r_efi::efi::{Guid, Handle, Status};

use crate::drivers::binding::Registry;
use crate::efi::protocol::services;

const LOG: &str = "drivers::component_name";

/// `EFI_COMPONENT_NAME2_PROTOCOL_GUID` (UEFI 2.10 section 11.5).
pub const PROTOCOL_GUID: Guid = Guid::from_fields(
    0x6a7a5cff,
    0xe8d9,
    0x4f70,
    0xba,
    0xda,
    &[0x75, 0xab, 0x30, 0x25, 0xce, 0x14],
);

/// `SupportedLanguages`: the one RFC 4646 tag every instance answers in, NUL-terminated ASCII.
const SUPPORTED_LANGUAGES: &[u8] = b"en\0";

/// `EFI_COMPONENT_NAME2_GET_DRIVER_NAME`.
pub type GetDriverName = extern "efiapi" fn(
    this: *mut Protocol,
    language: *mut u8,
    driver_name: *mut *mut u16,
) -> Status;

/// `EFI_COMPONENT_NAME2_GET_CONTROLLER_NAME`.
pub type GetControllerName = extern "efiapi" fn(
    this: *mut Protocol,
    controller_handle: Handle,
    child_handle: Handle,
    language: *mut u8,
    controller_name: *mut *mut u16,
) -> Status;

/// `EFI_COMPONENT_NAME2_PROTOCOL` (UEFI 2.10 section 11.5), as laid out in memory.
#[repr(C)]
pub struct Protocol {
    /// `GetDriverName()`.
    pub get_driver_name: GetDriverName,
    /// `GetControllerName()`.
    pub get_controller_name: GetControllerName,
    /// `SupportedLanguages`: RFC 4646 tags separated by `;`, NUL-terminated ASCII.
    pub supported_languages: *const u8,
}

/// A driver's answer to "which name has this pair": `controller` is `ControllerHandle`, `child` is `ChildHandle`
/// (`None` for NULL, else a live handle). Returns the NUL-terminated UCS-2 name when the driver manages the
/// controller (and produced `child`, when one is given), per its own registry of started controllers; `None`
/// otherwise. The pointer must stay valid until the driver's `Stop()` on that controller (or forever).
pub type ControllerNames = fn(controller: Handle, child: Option<Handle>) -> Option<*const u16>;

/// The ASCII `text` as NUL-terminated UCS-2, at compile time; `N` is `text.len() + 1` (use [`ucs2_name!`]).
/// Panics (at compile time, in a `const`/`static`) on a non-ASCII or NUL byte or a wrong `N`.
pub const fn ucs2<const N: usize>(text: &str) -> [u16; N] {
    let bytes = text.as_bytes();
    assert!(bytes.len() + 1 == N, "N must be the length plus the NUL");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii() && bytes[i] != 0,
            "names are ASCII without NUL"
        );
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

/// `ucs2_name!("text")`: a `&'static [u16]` holding "text" as NUL-terminated UCS-2, built at compile time
/// (a static driver name for [`install`]).
macro_rules! ucs2_name {
    ($text:literal) => {{
        const TEXT: &str = $text;
        static NAME: [u16; TEXT.len() + 1] = $crate::drivers::component_name::ucs2(TEXT);
        &NAME as &'static [u16]
    }};
}
pub(crate) use ucs2_name;

/// A controller's name, NUL-terminated UCS-2, built once in `Start()` and kept with the controller; its buffer
/// is freed with it in `Stop()`.
pub struct ControllerName(Box<[u16]>);

impl ControllerName {
    /// `text` in UCS-2 (UTF-16 code units; the names are ASCII in practice) with a NUL appended.
    pub fn new(text: &str) -> Self {
        ControllerName(text.encode_utf16().chain(core::iter::once(0)).collect())
    }

    /// The NUL-terminated name, valid while `self` lives.
    pub fn as_ptr(&self) -> *const u16 {
        self.0.as_ptr()
    }
}

/// One installed instance; `This` points at `protocol`.
#[repr(C)]
struct Instance {
    protocol: Protocol,
    driver_name: &'static [u16],
    controller_names: ControllerNames,
}

/// The installed instances (leaked: the firmware's drivers are never unloaded).
static INSTANCES: Registry<Instance> = Registry::new();

/// Installs `EFI_COMPONENT_NAME2_PROTOCOL` on `binding_handle` (the driver's `DriverBindingHandle`).
/// `driver_name` is NUL-terminated UCS-2 (from [`ucs2_name!`]); `controller_names` names what the driver manages.
///
/// Errors: `INVALID_PARAMETER` when `driver_name` is not NUL-terminated; the status of
/// InstallProtocolInterface (e.g. `INVALID_PARAMETER` when the handle already has the protocol).
pub fn install(
    binding_handle: Handle,
    driver_name: &'static [u16],
    controller_names: ControllerNames,
) -> Result<(), Status> {
    if driver_name.last() != Some(&0) {
        return Err(Status::INVALID_PARAMETER);
    }
    let instance = Box::into_raw(Box::new(Instance {
        protocol: Protocol {
            get_driver_name,
            get_controller_name,
            supported_languages: SUPPORTED_LANGUAGES.as_ptr(),
        },
        driver_name,
        controller_names,
    }));
    INSTANCES.add(instance);
    if let Err(status) = services().install_protocol_interface(
        Some(binding_handle),
        PROTOCOL_GUID,
        instance as *mut c_void,
    ) {
        INSTANCES.remove(instance);
        // SAFETY: created above by Box::into_raw and never published.
        drop(unsafe { Box::from_raw(instance) });
        return Err(status);
    }
    Ok(())
}

/// Whether the NUL-terminated ASCII `language` is the one tag of [`SUPPORTED_LANGUAGES`] (ASCII case ignored;
/// the NUL is compared too, so "en-US" or "eng" do not match). Null is the caller's to refuse.
fn is_supported(language: *const u8) -> bool {
    SUPPORTED_LANGUAGES.iter().enumerate().all(|(i, &w)| {
        // SAFETY: `language` is a non-null NUL-terminated string (Component Name 2 contract). `all` stops at the
        // first byte that differs, and the caller's NUL differs from every letter of "en", so no byte past the
        // caller's terminator is read.
        let byte = unsafe { language.add(i).read() };
        byte.to_ascii_lowercase() == w
    })
}

/// `INVALID_PARAMETER`, with a log line naming it, when one of `args` (`(name, is NULL)`) is NULL.
fn refuse_null(call: &str, args: &[(&str, bool)]) -> Result<(), Status> {
    match args.iter().find(|(_, null)| *null) {
        Some((name, _)) => {
            log::warn!(target: LOG, "{call}: {name} is NULL: EFI_INVALID_PARAMETER");
            Err(Status::INVALID_PARAMETER)
        }
        None => Ok(()),
    }
}

/// The instance behind `This`. Errors: `INVALID_PARAMETER` for a foreign or null `This`.
fn instance(this: *mut Protocol) -> Result<&'static Instance, Status> {
    let found = INSTANCES.check(this as *mut Instance).inspect_err(|_| {
        log::warn!(target: LOG, "Component Name 2 call with a This ({this:p}) that is not ours");
    })?;
    // SAFETY: registered instances are leaked boxes, never freed.
    Ok(unsafe { &*found })
}

/// Writes `name` through the caller's out pointer (checked non-null before).
fn answer(out: *mut *mut u16, name: *const u16) -> Result<(), Status> {
    // SAFETY: `out` is the caller's non-null OUT pointer (checked by the caller of this function).
    unsafe { crate::efi::write_out(out, name as *mut u16) }
}

/// `EFI_COMPONENT_NAME2_PROTOCOL.GetDriverName()` (UEFI 2.10 section 11.5).
extern "efiapi" fn get_driver_name(
    this: *mut Protocol,
    language: *mut u8,
    driver_name: *mut *mut u16,
) -> Status {
    let run = || -> Result<(), Status> {
        let instance = instance(this)?;
        refuse_null(
            "GetDriverName",
            &[
                ("Language", language.is_null()),
                ("DriverName", driver_name.is_null()),
            ],
        )?;
        if !is_supported(language) {
            log::debug!(target: LOG, "GetDriverName: language not supported (only \"en\")");
            return Err(Status::UNSUPPORTED);
        }
        answer(driver_name, instance.driver_name.as_ptr())
    };
    crate::efi::status(run())
}

/// `EFI_COMPONENT_NAME2_PROTOCOL.GetControllerName()` (UEFI 2.10 section 11.5).
extern "efiapi" fn get_controller_name(
    this: *mut Protocol,
    controller_handle: Handle,
    child_handle: Handle,
    language: *mut u8,
    controller_name: *mut *mut u16,
) -> Status {
    let run = || -> Result<(), Status> {
        let instance = instance(this)?;
        refuse_null(
            "GetControllerName",
            &[
                ("ControllerHandle", controller_handle.is_null()),
                ("Language", language.is_null()),
                ("ControllerName", controller_name.is_null()),
            ],
        )?;
        let child = (!child_handle.is_null()).then_some(child_handle);
        if let Some(child) = child {
            if !services().with_db(|db| db.is_valid_handle(child)) {
                log::warn!(target: LOG, "GetControllerName: ChildHandle {child:p} is not a handle: EFI_INVALID_PARAMETER");
                return Err(Status::INVALID_PARAMETER);
            }
        }
        let Some(name) = (instance.controller_names)(controller_handle, child) else {
            log::debug!(target: LOG,
                "GetControllerName: controller {controller_handle:p} (child {child_handle:p}) not managed by this driver");
            return Err(Status::UNSUPPORTED);
        };
        if !is_supported(language) {
            log::debug!(target: LOG, "GetControllerName: language not supported (only \"en\")");
            return Err(Status::UNSUPPORTED);
        }
        answer(controller_name, name)
    };
    crate::efi::status(run())
}
