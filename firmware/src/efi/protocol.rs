//! Protocol handler services and the driver model (UEFI 2.10 sections 7.3): the ABI shell over
//! `boot_services::protocol` and `boot_services::driver_model`.
//!
//! The database lock is the `PROTOCOLS` cell taken with the TPL raised to `TPL_NOTIFY` (so no notification runs
//! while it is held) and interrupts masked; the engine releases it before every call into a driver, so drivers
//! may call back into any service.

use alloc::vec::Vec;
use core::ffi::c_void;

use boot_services::driver_model::DriverCalls;
use boot_services::event::EventId;
use boot_services::protocol::{
    DatabaseLock, DevicePathPtr, DevicePathReader, EventSignaller, Interface, LocateSearch,
    ProtocolDatabase, Registration, Services,
};
use boot_services::tpl::Tpl;
use r_efi::efi::{self, Event, Guid, Handle, Status};
use r_efi::protocols::{bus_specific_driver_override, driver_binding, platform_driver_override};

use super::state::{events, PROTOCOLS};
use super::{memory, status, write_out};

/// Longest device path the firmware reads from a caller (a sanity bound against runaway pointers).
const MAX_DEVICE_PATH: usize = 64 * 1024;

/// The lock on the one protocol database.
pub struct Lock;

impl DatabaseLock for Lock {
    fn with<R>(&self, f: impl FnOnce(&mut ProtocolDatabase) -> R) -> R {
        let old = events().raise_tpl(Tpl::NOTIFY);
        let r = PROTOCOLS.with(f);
        events().restore_tpl(old);
        r
    }
}

/// Signals events through the event service (called with the database lock released).
pub struct Signaller;

impl EventSignaller for Signaller {
    fn signal(&mut self, event: Event) {
        let _ = events().signal_event(EventId::from_event(event));
    }
}

/// Calls into drivers through their r-efi protocol structures.
pub struct Calls;

/// Bytes of the device path at `path` up to and including its first end node, or `None` if malformed.
pub fn device_path_bytes(path: *const u8) -> Option<Vec<u8>> {
    if path.is_null() {
        return None;
    }
    let mut len = 0usize;
    loop {
        // SAFETY: device paths are sequences of nodes whose 4-byte header gives the node length; the walk
        // stops at the end node, at a malformed length, or at MAX_DEVICE_PATH.
        let header = unsafe { core::ptr::read_unaligned(path.add(len) as *const [u8; 4]) };
        let node_len = u16::from_le_bytes([header[2], header[3]]) as usize;
        if node_len < 4 || len + node_len > MAX_DEVICE_PATH {
            return None;
        }
        len += node_len;
        if header[0] == 0x7f {
            break;
        }
    }
    // SAFETY: the walk above read every byte of [path, path + len).
    Some(unsafe { core::slice::from_raw_parts(path, len) }.to_vec())
}

impl DevicePathReader for Calls {
    fn device_path_bytes(&self, interface: Interface) -> Option<Vec<u8>> {
        device_path_bytes(interface as *const u8)
    }
}

fn binding(interface: Interface) -> *mut driver_binding::Protocol {
    interface as *mut driver_binding::Protocol
}

impl DriverCalls for Calls {
    fn driver_version(&self, b: Interface) -> u32 {
        // SAFETY: `b` is an installed EFI_DRIVER_BINDING_PROTOCOL interface (the engine only passes those).
        unsafe { (*binding(b)).version }
    }
    fn driver_image_handle(&self, b: Interface) -> Handle {
        // SAFETY: as above.
        unsafe { (*binding(b)).image_handle }
    }
    fn supported(
        &self,
        _driver: Handle,
        b: Interface,
        controller: Handle,
        remaining: DevicePathPtr,
    ) -> Status {
        // SAFETY: as above; calling the driver's Supported() with its own `This`, per the driver model.
        unsafe { ((*binding(b)).supported)(binding(b), controller, remaining) }
    }
    fn start(
        &self,
        _driver: Handle,
        b: Interface,
        controller: Handle,
        remaining: DevicePathPtr,
    ) -> Status {
        // SAFETY: as above, Start().
        unsafe { ((*binding(b)).start)(binding(b), controller, remaining) }
    }
    fn stop(
        &self,
        _driver: Handle,
        b: Interface,
        controller: Handle,
        children: &[Handle],
    ) -> Status {
        let ptr = if children.is_empty() {
            core::ptr::null_mut()
        } else {
            children.as_ptr() as *mut Handle
        };
        // SAFETY: as above, Stop(); `children` outlives the call.
        unsafe { ((*binding(b)).stop)(binding(b), controller, children.len(), ptr) }
    }
    fn platform_override_drivers(&self, interface: Interface, controller: Handle) -> Vec<Handle> {
        let p = interface as *mut platform_driver_override::Protocol;
        let mut out = Vec::new();
        let mut driver: Handle = core::ptr::null_mut();
        for _ in 0..64 {
            // SAFETY: `p` is an installed Platform Driver Override protocol; GetDriver() iterates from `driver`.
            if unsafe { ((*p).get_driver)(p, controller, &mut driver) } != Status::SUCCESS {
                break;
            }
            out.push(driver);
        }
        out
    }
    fn bus_override_drivers(&self, interface: Interface) -> Vec<Handle> {
        let p = interface as *mut bus_specific_driver_override::Protocol;
        let mut out = Vec::new();
        let mut driver: Handle = core::ptr::null_mut();
        for _ in 0..64 {
            // SAFETY: `p` is an installed Bus Specific Driver Override protocol.
            if unsafe { ((*p).get_driver)(p, &mut driver) } != Status::SUCCESS {
                break;
            }
            out.push(driver);
        }
        out
    }
}

/// The service layer for one call.
pub fn services() -> Services<'static, Lock, Calls, Signaller> {
    Services::new(&Lock, &Calls, Signaller)
}

fn guid(ptr: *const Guid) -> Result<Guid, Status> {
    if ptr.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: non-null pointer to an EFI_GUID (every protocol service's contract); copied.
    Ok(unsafe { ptr.read_unaligned() })
}

pub extern "efiapi" fn install_protocol_interface(
    handle: *mut Handle,
    protocol: *mut Guid,
    kind: efi::InterfaceType,
    interface: *mut c_void,
) -> Status {
    if handle.is_null() || kind != efi::NATIVE_INTERFACE {
        return Status::INVALID_PARAMETER;
    }
    let g = match guid(protocol) {
        Ok(g) => g,
        Err(e) => return e,
    };
    // SAFETY: `handle` is a non-null IN/OUT EFI_HANDLE.
    let existing = unsafe { handle.read_unaligned() };
    match services().install_protocol_interface(
        (!existing.is_null()).then_some(existing),
        g,
        interface,
    ) {
        // SAFETY: as above.
        Ok(h) => {
            unsafe { handle.write_unaligned(h) };
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

pub extern "efiapi" fn reinstall_protocol_interface(
    handle: Handle,
    protocol: *mut Guid,
    old: *mut c_void,
    new: *mut c_void,
) -> Status {
    match guid(protocol) {
        Ok(g) => status(services().reinstall_protocol_interface(handle, g, old, new)),
        Err(e) => e,
    }
}

pub extern "efiapi" fn uninstall_protocol_interface(
    handle: Handle,
    protocol: *mut Guid,
    interface: *mut c_void,
) -> Status {
    match guid(protocol) {
        Ok(g) => status(services().uninstall_protocol_interface(handle, g, interface)),
        Err(e) => e,
    }
}

pub extern "efiapi" fn handle_protocol(
    handle: Handle,
    protocol: *mut Guid,
    interface: *mut *mut c_void,
) -> Status {
    if interface.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let result = guid(protocol).and_then(|g| Lock.with(|db| db.handle_protocol(handle, &g)));
    match result {
        // SAFETY: non-null OUT VOID**.
        Ok(i) => status(unsafe { write_out(interface, i) }),
        Err(e) => e,
    }
}

pub extern "efiapi" fn register_protocol_notify(
    protocol: *mut Guid,
    event: Event,
    registration: *mut *mut c_void,
) -> Status {
    if registration.is_null() || event.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let result = guid(protocol).and_then(|g| Lock.with(|db| db.register_protocol_notify(g, event)));
    match result {
        // SAFETY: non-null OUT VOID**.
        Ok(r) => status(unsafe { write_out(registration, r.as_ptr()) }),
        Err(e) => e,
    }
}

fn search(
    kind: efi::LocateSearchType,
    protocol: *mut Guid,
    key: *mut c_void,
) -> Result<LocateSearch, Status> {
    match kind {
        efi::ALL_HANDLES => Ok(LocateSearch::AllHandles),
        efi::BY_REGISTER_NOTIFY if !key.is_null() => {
            Ok(LocateSearch::ByRegisterNotify(Registration::from_ptr(key)))
        }
        efi::BY_PROTOCOL => Ok(LocateSearch::ByProtocol(guid(protocol)?)),
        _ => Err(Status::INVALID_PARAMETER),
    }
}

pub extern "efiapi" fn locate_handle(
    kind: efi::LocateSearchType,
    protocol: *mut Guid,
    key: *mut c_void,
    size: *mut usize,
    buffer: *mut Handle,
) -> Status {
    if size.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let handles =
        match search(kind, protocol, key).and_then(|s| Lock.with(|db| db.locate_handle(s))) {
            Ok(h) => h,
            Err(e) => return e,
        };
    let needed = handles.len() * core::mem::size_of::<Handle>();
    // SAFETY: `size` is a non-null IN/OUT UINTN.
    let available = unsafe { size.read_unaligned() };
    // SAFETY: as above.
    unsafe { size.write_unaligned(needed) };
    if available < needed {
        return Status::BUFFER_TOO_SMALL;
    }
    if buffer.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: the caller owns `available >= needed` bytes at `buffer`.
    unsafe { core::ptr::copy_nonoverlapping(handles.as_ptr(), buffer, handles.len()) };
    Status::SUCCESS
}

pub extern "efiapi" fn locate_handle_buffer(
    kind: efi::LocateSearchType,
    protocol: *mut Guid,
    key: *mut c_void,
    count: *mut usize,
    buffer: *mut *mut Handle,
) -> Status {
    if count.is_null() || buffer.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let handles = match search(kind, protocol, key)
        .and_then(|s| Lock.with(|db| db.locate_handle_buffer(s)))
    {
        Ok(h) => h,
        Err(e) => return e,
    };
    let out = match memory::allocate_zeroed(
        efi::BOOT_SERVICES_DATA,
        handles.len().max(1) * core::mem::size_of::<Handle>(),
    ) {
        Ok(p) => p as *mut Handle,
        Err(e) => return e,
    };
    // SAFETY: `out` was just allocated for `handles.len()` handles; `count`/`buffer` are non-null OUT pointers.
    unsafe {
        core::ptr::copy_nonoverlapping(handles.as_ptr(), out, handles.len());
        count.write_unaligned(handles.len());
        buffer.write_unaligned(out);
    }
    Status::SUCCESS
}

pub extern "efiapi" fn locate_protocol(
    protocol: *mut Guid,
    registration: *mut c_void,
    interface: *mut *mut c_void,
) -> Status {
    if interface.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let registration = (!registration.is_null()).then(|| Registration::from_ptr(registration));
    match guid(protocol).and_then(|g| Lock.with(|db| db.locate_protocol(&g, registration))) {
        // SAFETY: non-null OUT VOID**.
        Ok(i) => status(unsafe { write_out(interface, i) }),
        Err(e) => {
            // SAFETY: as above; the spec sets *Interface to NULL on failure.
            let _ = unsafe { write_out(interface, core::ptr::null_mut()) };
            e
        }
    }
}

pub extern "efiapi" fn locate_device_path(
    protocol: *mut Guid,
    path: *mut *mut r_efi::protocols::device_path::Protocol,
    device: *mut Handle,
) -> Status {
    if path.is_null() || device.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: `path` is a non-null IN/OUT pointer to a device path pointer.
    let start = unsafe { path.read_unaligned() };
    let Some(bytes) = device_path_bytes(start as *const u8) else {
        return Status::INVALID_PARAMETER;
    };
    match guid(protocol).and_then(|g| Lock.with(|db| db.locate_device_path(&g, &bytes, &Calls))) {
        Ok((handle, offset)) => {
            // SAFETY: `offset` lies within the caller's device path (the engine matched a prefix of `bytes`);
            // both OUT pointers are non-null.
            unsafe {
                path.write_unaligned((start as *mut u8).add(offset) as *mut _);
                device.write_unaligned(handle);
            }
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

pub extern "efiapi" fn open_protocol(
    handle: Handle,
    protocol: *mut Guid,
    interface: *mut *mut c_void,
    agent: Handle,
    controller: Handle,
    attributes: u32,
) -> Status {
    if interface.is_null() && attributes != efi::OPEN_PROTOCOL_TEST_PROTOCOL {
        return Status::INVALID_PARAMETER;
    }
    let result = guid(protocol)
        .and_then(|g| services().open_protocol(handle, g, agent, controller, attributes));
    let (value, code) = match result {
        Ok(i) => (i, Status::SUCCESS),
        Err(Status::ALREADY_STARTED) => {
            let i = guid(protocol)
                .and_then(|g| Lock.with(|db| db.get_interface(handle, &g)))
                .unwrap_or(core::ptr::null_mut());
            (i, Status::ALREADY_STARTED)
        }
        Err(e) => (core::ptr::null_mut(), e),
    };
    if !interface.is_null() && attributes != efi::OPEN_PROTOCOL_TEST_PROTOCOL {
        // SAFETY: non-null OUT VOID**.
        let _ = unsafe { write_out(interface, value) };
    }
    code
}

pub extern "efiapi" fn close_protocol(
    handle: Handle,
    protocol: *mut Guid,
    agent: Handle,
    controller: Handle,
) -> Status {
    match guid(protocol) {
        Ok(g) => status(services().close_protocol(handle, g, agent, controller)),
        Err(e) => e,
    }
}

pub extern "efiapi" fn open_protocol_information(
    handle: Handle,
    protocol: *mut Guid,
    buffer: *mut *mut efi::OpenProtocolInformationEntry,
    count: *mut usize,
) -> Status {
    if buffer.is_null() || count.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let entries = match guid(protocol)
        .and_then(|g| Lock.with(|db| db.open_protocol_information(handle, &g)))
    {
        Ok(e) => e,
        Err(e) => return e,
    };
    let size = entries.len().max(1) * core::mem::size_of::<efi::OpenProtocolInformationEntry>();
    let out = match memory::allocate_zeroed(efi::BOOT_SERVICES_DATA, size) {
        Ok(p) => p as *mut efi::OpenProtocolInformationEntry,
        Err(e) => return e,
    };
    for (i, e) in entries.iter().enumerate() {
        let entry = efi::OpenProtocolInformationEntry {
            agent_handle: e.agent_handle,
            controller_handle: e.controller_handle,
            attributes: e.attributes,
            open_count: e.open_count,
        };
        // SAFETY: `out` holds `entries.len()` entries, freshly allocated.
        unsafe { out.add(i).write(entry) };
    }
    // SAFETY: non-null OUT pointers.
    unsafe {
        buffer.write_unaligned(out);
        count.write_unaligned(entries.len());
    }
    Status::SUCCESS
}

pub extern "efiapi" fn protocols_per_handle(
    handle: Handle,
    buffer: *mut *mut *mut Guid,
    count: *mut usize,
) -> Status {
    if buffer.is_null() || count.is_null() {
        return Status::INVALID_PARAMETER;
    }
    let guids = match Lock.with(|db| db.protocols_per_handle(handle)) {
        Ok(g) => g,
        Err(e) => return e,
    };
    // One pool block: the pointer array followed by the GUIDs it points at.
    let pointers = guids.len() * core::mem::size_of::<*mut Guid>();
    let out = match memory::allocate_zeroed(
        efi::BOOT_SERVICES_DATA,
        (pointers + guids.len() * 16).max(8),
    ) {
        Ok(p) => p,
        Err(e) => return e,
    };
    for (i, g) in guids.iter().enumerate() {
        // SAFETY: both writes stay inside the block just allocated (pointer slot i, GUID slot i).
        unsafe {
            let slot = out.add(pointers + i * 16) as *mut Guid;
            slot.write_unaligned(*g);
            (out as *mut *mut Guid).add(i).write(slot);
        }
    }
    // SAFETY: non-null OUT pointers.
    unsafe {
        buffer.write_unaligned(out as *mut *mut Guid);
        count.write_unaligned(guids.len());
    }
    Status::SUCCESS
}

pub extern "efiapi" fn connect_controller(
    controller: Handle,
    drivers: *mut Handle,
    remaining: *mut r_efi::protocols::device_path::Protocol,
    recursive: efi::Boolean,
) -> Status {
    let mut list = Vec::new();
    if !drivers.is_null() {
        // SAFETY: a non-null DriverImageHandle is a NULL-terminated list of handles (ConnectController contract);
        // bounded to 256 entries.
        for i in 0..256 {
            let h = unsafe { drivers.add(i).read_unaligned() };
            if h.is_null() {
                break;
            }
            list.push(h);
        }
    }
    status(services().connect_controller(controller, &list, remaining, bool::from(recursive)))
}

pub extern "efiapi" fn disconnect_controller(
    controller: Handle,
    driver: Handle,
    child: Handle,
) -> Status {
    status(services().disconnect_controller(
        controller,
        (!driver.is_null()).then_some(driver),
        (!child.is_null()).then_some(child),
    ))
}
