//! Before ExitBootServices: which PCI functions a firmware driver holds, asked the UEFI way (the rules are in
//! [`handoff_audit_core::binding`]).
//!
//! 1. LocateHandleBuffer(`ByProtocol`, `EFI_PCI_IO_PROTOCOL_GUID`) (UEFI 2.10 §7.3.15); `EFI_NOT_FOUND` means a
//!    firmware without PCI I/O handles, so no function can be driven the UEFI way.
//! 2. Per handle: HandleProtocol(PCI I/O) and `GetLocation()` (§14.4) for the segment, bus, device and function;
//!    OpenProtocolInformation(PCI I/O) (§7.3.11) for the agents that have it open.
//! 3. Per agent holding it `BY_DRIVER`: HandleProtocol(`EFI_COMPONENT_NAME2_PROTOCOL`) on the agent handle and
//!    `GetDriverName()` (§11.5) in [`binding::pick_language`]'s language; no such protocol means no name.
//!
//! Every buffer the firmware returns is freed with FreePool. Nothing is opened `BY_DRIVER` or connected here.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;

use handoff_audit_core::binding::{self, Bindings, Driver, LocationError, OpenEntry};
use handoff_audit_core::pci::Bdf;
use handoff_audit_core::report::Report;
use uefi_raw::protocol::driver::ComponentName2Protocol;
use uefi_raw::table::boot::OpenProtocolInformationEntry;
use uefi_raw::{Guid, Handle, Status};

use crate::com1;
use crate::handoff::boot_services;

/// `EFI_LOCATE_SEARCH_TYPE` `ByProtocol`.
const BY_PROTOCOL: i32 = 2;
/// Longest `SupportedLanguages` string read, in bytes.
const MAX_LANGUAGES: usize = 256;

/// `EFI_PCI_IO_PROTOCOL_GUID`.
pub fn pci_io_guid() -> Guid {
    Guid::from_bytes(*r_efi::protocols::pci_io::PROTOCOL_GUID.as_bytes())
}

/// A pool buffer of `count` items the firmware allocated, freed with FreePool on drop.
struct Pool<T> {
    ptr: *mut T,
    count: usize,
}

impl<T> Pool<T> {
    fn as_slice(&self) -> &[T] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: the firmware returned `count` items at `ptr`, which stay allocated until drop.
        unsafe { core::slice::from_raw_parts(self.ptr, self.count) }
    }
}

impl<T> Drop for Pool<T> {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: `ptr` came from the firmware's pool (LocateHandleBuffer / OpenProtocolInformation) and is
            // freed once.
            let _ = unsafe { (boot_services().free_pool)(self.ptr.cast()) };
        }
    }
}

/// The PCI I/O handles; `Ok(None)` when there are none (`EFI_NOT_FOUND`).
fn pci_io_handles() -> Result<Option<Pool<Handle>>, Status> {
    let (mut count, mut buffer) = (0usize, ptr::null_mut::<Handle>());
    let guid = pci_io_guid();
    // SAFETY: the out-pointers are valid; ByProtocol takes no search key.
    let status = unsafe {
        (boot_services().locate_handle_buffer)(
            BY_PROTOCOL,
            &guid,
            ptr::null(),
            &mut count,
            &mut buffer,
        )
    };
    match status {
        Status::SUCCESS => Ok(Some(Pool { ptr: buffer, count })),
        Status::NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

fn handle_protocol(handle: Handle, guid: &Guid) -> Result<*mut c_void, Status> {
    let mut interface = ptr::null_mut();
    // SAFETY: `interface` is a valid out-pointer; a bad handle is the firmware's to reject.
    let status = unsafe { (boot_services().handle_protocol)(handle, guid, &mut interface) };
    match status {
        Status::SUCCESS if !interface.is_null() => Ok(interface),
        Status::SUCCESS => Err(Status::NOT_FOUND),
        other => Err(other),
    }
}

/// `GetLocation()` of the PCI I/O on `handle`; the outer `Err` is a failed call.
fn location_of(handle: Handle) -> Result<Result<Bdf, LocationError>, String> {
    let pci = handle_protocol(handle, &pci_io_guid())
        .map_err(|s| format!("HandleProtocol(PCI I/O): {s:?}"))?
        .cast::<r_efi::protocols::pci_io::Protocol>();
    let (mut segment, mut bus, mut device, mut function) = (0usize, 0usize, 0usize, 0usize);
    // SAFETY: `pci` is the installed PCI I/O interface of `handle`; the out-pointers are valid.
    let status =
        unsafe { ((*pci).get_location)(pci, &mut segment, &mut bus, &mut device, &mut function) };
    if status.is_error() {
        return Err(format!("{:?}", Status(status.as_usize())));
    }
    Ok(binding::location(segment, bus, device, function))
}

/// The agents that hold the PCI I/O on `handle` `BY_DRIVER`, named where they can be.
fn drivers_of(handle: Handle) -> Result<Vec<Driver>, String> {
    let (mut entries, mut count) = (ptr::null_mut::<OpenProtocolInformationEntry>(), 0usize);
    let guid = pci_io_guid();
    // SAFETY: the out-pointers are valid.
    let status = unsafe {
        (boot_services().open_protocol_information)(handle, &guid, &mut entries, &mut count)
    };
    if status != Status::SUCCESS {
        return Err(format!("{status:?}"));
    }
    let pool = Pool {
        ptr: entries,
        count,
    };
    let entries: Vec<OpenEntry> = pool
        .as_slice()
        .iter()
        .map(|e| OpenEntry {
            agent: e.agent_handle as u64,
            controller: e.controller_handle as u64,
            attributes: e.attributes,
            open_count: e.open_count,
        })
        .collect();
    let mut drivers = binding::drivers(&entries);
    for d in &mut drivers {
        d.name = driver_name(d.agent as Handle);
    }
    Ok(drivers)
}

/// The Component Name 2 driver name of the driver whose binding handle is `agent`.
fn driver_name(agent: Handle) -> Option<String> {
    let cn2 = handle_protocol(agent, &ComponentName2Protocol::GUID)
        .ok()?
        .cast::<ComponentName2Protocol>();
    // SAFETY: `cn2` is the installed Component Name 2 interface of `agent`.
    let languages = unsafe { (*cn2).supported_languages };
    if languages.is_null() {
        return None;
    }
    let mut supported = Vec::new();
    for i in 0..MAX_LANGUAGES {
        // SAFETY: SupportedLanguages is a NUL-terminated ASCII string; reading stops at NUL or the bound.
        let byte = unsafe { *languages.add(i) };
        if byte == 0 {
            break;
        }
        supported.push(byte);
    }
    let supported = core::str::from_utf8(&supported).ok()?;
    let mut language: Vec<u8> = binding::pick_language(supported)?.bytes().collect();
    language.push(0);
    let mut name = ptr::null();
    // SAFETY: `language` is NUL-terminated and outlives the call; `name` is a valid out-pointer.
    let status = unsafe { ((*cn2).get_driver_name)(cn2, language.as_ptr(), &mut name) };
    if status != Status::SUCCESS || name.is_null() {
        return None;
    }
    let units = (0..binding::MAX_NAME_UNITS).map_while(|i| {
        // SAFETY: DriverName is a NUL-terminated UCS-2 string owned by the driver; reading stops at NUL or
        // the bound.
        let unit = unsafe { *name.add(i) };
        (unit != 0).then_some(unit)
    });
    let name = binding::ucs2_string(units);
    (!name.is_empty()).then_some(name)
}

/// Asks the firmware about every PCI I/O handle.
pub fn collect() -> Bindings {
    let handles = match pci_io_handles() {
        Ok(Some(h)) => h,
        Ok(None) => return Bindings::default(),
        Err(status) => {
            return Bindings::unavailable(format!(
                "LocateHandleBuffer(ByProtocol, PCI I/O): {status:?}"
            ))
        }
    };
    let mut out = Bindings::default();
    for &handle in handles.as_slice() {
        out.add(location_of(handle), drivers_of(handle));
    }
    out
}

/// Asks the firmware ([`collect`]), records the check that every PCI I/O handle answered, and keeps the answers
/// in the report for the verdicts after ExitBootServices.
pub fn record(report: &mut Report) {
    let bindings = collect();
    let failures = bindings.failures();
    let summary = bindings.summary();
    let _ = writeln!(com1(), "handoff-audit: {summary}");
    report.check(
        "PCI I/O handles answer LocateHandleBuffer, GetLocation and OpenProtocolInformation",
        failures.is_empty(),
        if failures.is_empty() {
            summary
        } else {
            failures.join("; ")
        },
    );
    report.bindings = Some(bindings);
}

/// The PCI I/O handle whose `GetLocation()` is segment 0 and `bdf`.
pub fn handle_at(bdf: Bdf) -> Option<Handle> {
    let handles = pci_io_handles().ok()??;
    let found = handles
        .as_slice()
        .iter()
        .copied()
        .find(|&h| location_of(h) == Ok(Ok(bdf)));
    found
}
