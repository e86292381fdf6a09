//! Protocol-handler checks (UEFI 2.10 §7.3): InstallProtocolInterface, HandleProtocol, OpenProtocol,
//! CloseProtocol, OpenProtocolInformation, ProtocolsPerHandle, LocateHandleBuffer, UninstallProtocolInterface,
//! the variadic Install/UninstallMultipleProtocolInterfaces, and refusal of a forged handle.
//!
//! Design: interfaces are the addresses of private statics, so "the same interface" means pointer equality.
//! Every check uninstalls what it installed before returning (also on failure, through [`Installed`]), leaving
//! the handle database as it found it. The helpers here are shared with the driver-model check.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;

use uefi_raw::table::boot::{InterfaceType, OpenProtocolInformationEntry};
use uefi_raw::{guid, Guid, Handle, Status};

use crate::memory::free_pool;
use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, expect_status, image_handle};

/// OpenProtocol `Attributes` (UEFI 2.10 §7.3.9): access through GetProtocol, no ownership.
pub const GET_PROTOCOL: u32 = 0x02;
/// OpenProtocol `Attributes`: only test that the protocol is present.
pub const TEST_PROTOCOL: u32 = 0x04;
/// OpenProtocol `Attributes`: a driver takes the protocol of a controller it manages.
pub const BY_DRIVER: u32 = 0x10;
/// LocateHandle(Buffer) `SearchType` ByProtocol (EFI_LOCATE_SEARCH_TYPE value 2).
const BY_PROTOCOL: i32 = 2;

const PROTOCOL_A: Guid = guid!("0f7e1d4c-8a52-4b3e-9d61-2a4c6e8f1b01");
const PROTOCOL_B: Guid = guid!("0f7e1d4c-8a52-4b3e-9d61-2a4c6e8f1b02");
const PROTOCOL_C: Guid = guid!("0f7e1d4c-8a52-4b3e-9d61-2a4c6e8f1b03");

static INTERFACE_A: u64 = 0xA;
static INTERFACE_B: u64 = 0xB;
static INTERFACE_C: u64 = 0xC;

/// The address of a static used as a protocol interface.
pub fn interface(value: &'static u64) -> *const c_void {
    ptr::from_ref(value).cast()
}

/// InstallProtocolInterface(`handle`, `guid`, NATIVE, `iface`); `handle` NULL means "a new handle".
pub fn install(handle: &mut Handle, guid: &Guid, iface: *const c_void) -> Status {
    // SAFETY: all pointers are valid; the interface outlives its installation (module note).
    unsafe {
        (boot_services().install_protocol_interface)(
            handle,
            guid,
            InterfaceType::NATIVE_INTERFACE,
            iface,
        )
    }
}

/// UninstallProtocolInterface(`handle`, `guid`, `iface`).
pub fn uninstall(handle: Handle, guid: &Guid, iface: *const c_void) -> Status {
    // SAFETY: plain call; the firmware validates the handle.
    unsafe { (boot_services().uninstall_protocol_interface)(handle, guid, iface.cast_mut()) }
}

/// HandleProtocol(`handle`, `guid`).
pub fn handle_protocol(handle: Handle, guid: &Guid) -> Result<*mut c_void, Status> {
    let mut iface = ptr::null_mut();
    // SAFETY: `iface` is a valid out-pointer; the firmware validates the handle.
    let status = unsafe { (boot_services().handle_protocol)(handle, guid, &mut iface) };
    if status == Status::SUCCESS {
        Ok(iface)
    } else {
        Err(status)
    }
}

/// OpenProtocol(`handle`, `guid`, agent, controller, attributes); returns its status and interface.
pub fn open_protocol(
    handle: Handle,
    guid: &Guid,
    agent: Handle,
    controller: Handle,
    attributes: u32,
) -> (Status, *mut c_void) {
    let mut iface = ptr::null_mut();
    // SAFETY: `iface` is a valid out-pointer; the firmware validates the handles.
    let status = unsafe {
        (boot_services().open_protocol)(handle, guid, &mut iface, agent, controller, attributes)
    };
    (status, iface)
}

/// CloseProtocol(`handle`, `guid`, agent, controller).
pub fn close_protocol(handle: Handle, guid: &Guid, agent: Handle, controller: Handle) -> Status {
    // SAFETY: plain call; the firmware validates the handles.
    unsafe { (boot_services().close_protocol)(handle, guid, agent, controller) }
}

/// OpenProtocolInformation entries for `guid` on `handle` that match `pred`: (count matching, total).
pub fn open_info_matching(
    handle: Handle,
    guid: &Guid,
    pred: impl Fn(&OpenProtocolInformationEntry) -> bool,
) -> Result<(usize, usize), Detail> {
    let (mut entries, mut count) = (ptr::null_mut::<OpenProtocolInformationEntry>(), 0usize);
    // SAFETY: both out-pointers are valid.
    let status = unsafe {
        (boot_services().open_protocol_information)(handle, guid, &mut entries, &mut count)
    };
    expect_status("OpenProtocolInformation", status, Status::SUCCESS)?;
    if count == 0 {
        return Ok((0, 0));
    }
    ensure!(
        !entries.is_null(),
        "OpenProtocolInformation returned {count} entries at NULL"
    );
    // SAFETY: the firmware returned `count` entries in a pool buffer we now own.
    let matching = unsafe { core::slice::from_raw_parts(entries, count) }
        .iter()
        .filter(|e| pred(e))
        .count();
    expect_status(
        "FreePool(OpenProtocolInformation buffer)",
        free_pool(entries.cast()),
        Status::SUCCESS,
    )?;
    Ok((matching, count))
}

/// LocateHandleBuffer(ByProtocol, `guid`): Ok(handles found and whether `wanted` is among them), or the status.
pub fn locate_by_protocol(guid: &Guid, wanted: Handle) -> Result<(usize, bool), Status> {
    let (mut count, mut buffer) = (0usize, ptr::null_mut::<Handle>());
    // SAFETY: out-pointers are valid; no search key for ByProtocol.
    let status = unsafe {
        (boot_services().locate_handle_buffer)(
            BY_PROTOCOL,
            guid,
            ptr::null(),
            &mut count,
            &mut buffer,
        )
    };
    if status != Status::SUCCESS {
        return Err(status);
    }
    if buffer.is_null() {
        return Err(Status::BAD_BUFFER_SIZE);
    }
    // SAFETY: the firmware returned `count` handles in a pool buffer we now own.
    let found = unsafe { core::slice::from_raw_parts(buffer, count) }.contains(&wanted);
    let _ = free_pool(buffer.cast());
    Ok((count, found))
}

/// One installed interface, uninstalled on drop unless [`Installed::remove`] already did.
pub struct Installed {
    /// The handle carrying the interface.
    pub handle: Handle,
    guid: &'static Guid,
    iface: *const c_void,
}

impl Installed {
    /// Installs `iface` for `guid` on `handle` (NULL = new handle).
    pub fn new(
        handle: Handle,
        guid: &'static Guid,
        iface: *const c_void,
    ) -> Result<Installed, Detail> {
        let mut handle = handle;
        expect_status(
            "InstallProtocolInterface",
            install(&mut handle, guid, iface),
            Status::SUCCESS,
        )?;
        ensure!(
            !handle.is_null(),
            "InstallProtocolInterface returned SUCCESS and a NULL handle"
        );
        Ok(Installed {
            handle,
            guid,
            iface,
        })
    }

    /// Uninstalls now, reporting the status.
    pub fn remove(self) -> Status {
        let status = uninstall(self.handle, self.guid, self.iface);
        core::mem::forget(self);
        status
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = uninstall(self.handle, self.guid, self.iface);
    }
}

/// Runs the protocol checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    report.record(
        out,
        "protocols: install, HandleProtocol/OpenProtocol, locate, info, uninstall",
        check_single(),
    );
    report.record(
        out,
        "protocols: Install/UninstallMultipleProtocolInterfaces",
        check_multiple(),
    );
    report.record(
        out,
        "protocols: InstallMultipleProtocolInterfaces rolls back",
        check_multiple_rollback(),
    );
    report.record(
        out,
        "protocols: forged and NULL handles rejected",
        check_forged_handle(),
    );
}

fn check_single() -> Outcome {
    let iface = interface(&INTERFACE_A);
    let installed = Installed::new(ptr::null_mut(), &PROTOCOL_A, iface)?;
    let handle = installed.handle;
    let mut same = handle;
    expect_status(
        "second install of the same GUID",
        install(&mut same, &PROTOCOL_A, iface),
        Status::INVALID_PARAMETER,
    )?;

    let got = handle_protocol(handle, &PROTOCOL_A)
        .map_err(|s| Detail::new(format_args!("HandleProtocol returned {s:?}")))?;
    ensure!(
        got.cast_const() == iface,
        "HandleProtocol gave {got:p}, installed {iface:p}"
    );
    let (status, got) = open_protocol(
        handle,
        &PROTOCOL_A,
        image_handle(),
        ptr::null_mut(),
        GET_PROTOCOL,
    );
    expect_status("OpenProtocol(GET_PROTOCOL)", status, Status::SUCCESS)?;
    ensure!(
        got.cast_const() == iface,
        "OpenProtocol gave {got:p}, installed {iface:p}"
    );

    match locate_by_protocol(&PROTOCOL_A, handle) {
        Ok((1, true)) => {}
        Ok((count, found)) => {
            return fail!("LocateHandleBuffer found {count} handles, ours among them: {found}")
        }
        Err(status) => return fail!("LocateHandleBuffer returned {status:?}"),
    }

    let ours = |e: &OpenProtocolInformationEntry| {
        e.agent_handle == image_handle() && e.attributes & GET_PROTOCOL != 0
    };
    let (matching, total) = open_info_matching(handle, &PROTOCOL_A, ours)?;
    ensure!(matching == 1, "OpenProtocolInformation: {matching} of {total} entries are our GET_PROTOCOL open, expected 1");
    expect_status(
        "CloseProtocol",
        close_protocol(handle, &PROTOCOL_A, image_handle(), ptr::null_mut()),
        Status::SUCCESS,
    )?;
    let (matching, _) = open_info_matching(handle, &PROTOCOL_A, ours)?;
    ensure!(
        matching == 0,
        "OpenProtocolInformation still lists our open after CloseProtocol"
    );

    let (mut guids, mut count) = (ptr::null_mut::<*const Guid>(), 0usize);
    // SAFETY: both out-pointers are valid.
    let status = unsafe { (boot_services().protocols_per_handle)(handle, &mut guids, &mut count) };
    expect_status("ProtocolsPerHandle", status, Status::SUCCESS)?;
    ensure!(
        !guids.is_null(),
        "ProtocolsPerHandle returned a NULL buffer"
    );
    // SAFETY: the firmware returned `count` GUID pointers in a pool buffer we now own; each points to a GUID.
    let listed = unsafe { core::slice::from_raw_parts(guids, count) }
        .iter()
        .map(|&g| unsafe { *g })
        .eq([PROTOCOL_A]);
    let _ = free_pool(guids.cast());
    ensure!(
        listed,
        "ProtocolsPerHandle listed {count} GUIDs, expected exactly PROTOCOL_A"
    );

    expect_status(
        "Uninstall with a wrong interface",
        uninstall(handle, &PROTOCOL_A, interface(&INTERFACE_B)),
        Status::NOT_FOUND,
    )?;
    expect_status(
        "UninstallProtocolInterface",
        installed.remove(),
        Status::SUCCESS,
    )?;
    match locate_by_protocol(&PROTOCOL_A, handle) {
        Err(Status::NOT_FOUND) => {}
        other => {
            return fail!("LocateHandleBuffer after uninstall gave {other:?}, expected NOT_FOUND")
        }
    }
    // The handle lost its last protocol, so it no longer exists.
    match handle_protocol(handle, &PROTOCOL_A) {
        Err(Status::INVALID_PARAMETER) => Ok(()),
        other => {
            fail!("HandleProtocol on the emptied handle gave {other:?}, expected INVALID_PARAMETER")
        }
    }
}

fn check_multiple() -> Outcome {
    let (iface_b, iface_c) = (interface(&INTERFACE_B), interface(&INTERFACE_C));
    let mut handle: Handle = ptr::null_mut();
    // SAFETY: GUID/interface pairs terminated by NULL, as the variadic ABI requires; the statics outlive the call.
    let status = unsafe {
        (boot_services().install_multiple_protocol_interfaces)(
            &mut handle,
            &PROTOCOL_B as *const Guid,
            iface_b,
            &PROTOCOL_C as *const Guid,
            iface_c,
            ptr::null::<c_void>(),
        )
    };
    expect_status(
        "InstallMultipleProtocolInterfaces(B, C)",
        status,
        Status::SUCCESS,
    )?;
    ensure!(
        !handle.is_null(),
        "InstallMultipleProtocolInterfaces returned a NULL handle"
    );
    let got = (
        handle_protocol(handle, &PROTOCOL_B),
        handle_protocol(handle, &PROTOCOL_C),
    );
    let located = locate_by_protocol(&PROTOCOL_C, handle);
    // SAFETY: as above, the same pairs; NULL-terminated.
    let status = unsafe {
        (boot_services().uninstall_multiple_protocol_interfaces)(
            handle,
            &PROTOCOL_B as *const Guid,
            iface_b,
            &PROTOCOL_C as *const Guid,
            iface_c,
            ptr::null::<c_void>(),
        )
    };
    ensure!(
        got == (Ok(iface_b.cast_mut()), Ok(iface_c.cast_mut())),
        "HandleProtocol after multiple install gave {got:?}"
    );
    ensure!(
        located == Ok((1, true)),
        "LocateHandleBuffer(C) gave {located:?}, expected one handle, ours"
    );
    expect_status(
        "UninstallMultipleProtocolInterfaces(B, C)",
        status,
        Status::SUCCESS,
    )?;
    for guid in [&PROTOCOL_B, &PROTOCOL_C] {
        let left = locate_by_protocol(guid, handle);
        ensure!(
            left == Err(Status::NOT_FOUND),
            "after uninstall LocateHandleBuffer gave {left:?}"
        );
    }
    Ok(())
}

fn check_multiple_rollback() -> Outcome {
    let (iface_b, iface_c) = (interface(&INTERFACE_B), interface(&INTERFACE_C));
    let installed = Installed::new(ptr::null_mut(), &PROTOCOL_B, iface_b)?;
    let mut handle = installed.handle;
    // C is new, B is already on the handle: the call must fail and take C off again.
    // SAFETY: GUID/interface pairs terminated by NULL; the statics outlive the call.
    let status = unsafe {
        (boot_services().install_multiple_protocol_interfaces)(
            &mut handle,
            &PROTOCOL_C as *const Guid,
            iface_c,
            &PROTOCOL_B as *const Guid,
            iface_b,
            ptr::null::<c_void>(),
        )
    };
    if status == Status::SUCCESS {
        // Should not happen; clean up C so later checks see a clean database.
        let _ = uninstall(handle, &PROTOCOL_C, iface_c);
    }
    expect_status(
        "InstallMultipleProtocolInterfaces(C, B) with B present",
        status,
        Status::INVALID_PARAMETER,
    )?;
    let c = handle_protocol(installed.handle, &PROTOCOL_C);
    if c.is_ok() {
        let _ = uninstall(installed.handle, &PROTOCOL_C, iface_c);
    }
    ensure!(
        c == Err(Status::UNSUPPORTED),
        "after the failed call HandleProtocol(C) gave {c:?}, expected UNSUPPORTED"
    );
    expect_status(
        "UninstallProtocolInterface(B)",
        installed.remove(),
        Status::SUCCESS,
    )
}

fn check_forged_handle() -> Outcome {
    let forged = handle_protocol(0x1234 as Handle, &PROTOCOL_A);
    ensure!(
        forged == Err(Status::INVALID_PARAMETER),
        "HandleProtocol(0x1234) gave {forged:?}, expected INVALID_PARAMETER"
    );
    let null = handle_protocol(ptr::null_mut(), &PROTOCOL_A);
    ensure!(
        null == Err(Status::INVALID_PARAMETER),
        "HandleProtocol(NULL) gave {null:?}, expected INVALID_PARAMETER"
    );
    let (status, _) = open_protocol(
        0x1234 as Handle,
        &PROTOCOL_A,
        image_handle(),
        ptr::null_mut(),
        GET_PROTOCOL,
    );
    expect_status("OpenProtocol(0x1234)", status, Status::INVALID_PARAMETER)
}
