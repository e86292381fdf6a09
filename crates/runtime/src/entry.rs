//! The `extern "efiapi"` runtime-services entry points and the global dispatcher they route through.
//!
//! Each entry point is a shell: it calls the [`crate::ffi`] function of the same name on [`RUNTIME`], which loads
//! the current table once and dispatches. [`table`] builds an `EFI_RUNTIME_SERVICES` table of the twelve entry points
//! plus SetVirtualAddressMap and ConvertPointer, which stay the firmware core's. Before the
//! firmware calls [`crate::ops::Dispatcher::switch_backend`] on [`RUNTIME`], every call answers `EFI_UNSUPPORTED`
//! (the [`crate::ops::UNAVAILABLE_OPS`] table), never a null call.

use core::ffi::c_void;

use r_efi::efi::{
    Boolean, CapsuleHeader, Char16, Guid, PhysicalAddress, ResetType, RuntimeConvertPointer,
    RuntimeServices, RuntimeSetVirtualAddressMap, Status, TableHeader, Time, TimeCapabilities,
};

use crate::ffi;
use crate::ops::{Dispatcher, UNAVAILABLE_OPS};

/// The dispatcher behind the entry points. The firmware switches its back end in and signals ExitBootServices on
/// it, and converts its table pointer at SetVirtualAddressMap.
pub static RUNTIME: Dispatcher = Dispatcher::new(&UNAVAILABLE_OPS);

/// A complete `EFI_RUNTIME_SERVICES` table (UEFI 2.10 section 4.5): `hdr` and the firmware core's
/// SetVirtualAddressMap and ConvertPointer as given, every other service this module's entry point. No entry is null.
pub fn table(
    hdr: TableHeader,
    set_virtual_address_map: RuntimeSetVirtualAddressMap,
    convert_pointer: RuntimeConvertPointer,
) -> RuntimeServices {
    RuntimeServices {
        hdr,
        get_time,
        set_time,
        get_wakeup_time,
        set_wakeup_time,
        set_virtual_address_map,
        convert_pointer,
        get_variable,
        get_next_variable_name,
        set_variable,
        get_next_high_mono_count,
        reset_system,
        update_capsule,
        query_capsule_capabilities,
        query_variable_info,
    }
}

/// EFI_RUNTIME_SERVICES.GetTime.
///
/// # Safety
/// Called by UEFI code with pointers valid as UEFI 2.10 section 8.3 specifies.
pub unsafe extern "efiapi" fn get_time(
    time: *mut Time,
    capabilities: *mut TimeCapabilities,
) -> Status {
    // SAFETY: the pointers carry the UEFI caller's guarantees, which are `ffi::get_time`'s contract.
    unsafe { ffi::get_time(&RUNTIME, time, capabilities) }
}

/// EFI_RUNTIME_SERVICES.SetTime.
///
/// # Safety
/// As [`get_time`].
pub unsafe extern "efiapi" fn set_time(time: *mut Time) -> Status {
    // SAFETY: as in `get_time`.
    unsafe { ffi::set_time(&RUNTIME, time) }
}

/// EFI_RUNTIME_SERVICES.GetWakeupTime.
///
/// # Safety
/// As [`get_time`].
pub unsafe extern "efiapi" fn get_wakeup_time(
    enabled: *mut Boolean,
    pending: *mut Boolean,
    time: *mut Time,
) -> Status {
    // SAFETY: as in `get_time`.
    unsafe { ffi::get_wakeup_time(&RUNTIME, enabled, pending, time) }
}

/// EFI_RUNTIME_SERVICES.SetWakeupTime.
///
/// # Safety
/// As [`get_time`].
pub unsafe extern "efiapi" fn set_wakeup_time(enable: Boolean, time: *mut Time) -> Status {
    // SAFETY: as in `get_time`.
    unsafe { ffi::set_wakeup_time(&RUNTIME, enable, time) }
}

/// EFI_RUNTIME_SERVICES.GetVariable.
///
/// # Safety
/// Called by UEFI code with pointers valid as UEFI 2.10 section 8.2 specifies.
pub unsafe extern "efiapi" fn get_variable(
    name: *mut Char16,
    vendor: *mut Guid,
    attributes: *mut u32,
    data_size: *mut usize,
    data: *mut c_void,
) -> Status {
    // SAFETY: as in `get_time`, for `ffi::get_variable`.
    unsafe { ffi::get_variable(&RUNTIME, name, vendor, attributes, data_size, data) }
}

/// EFI_RUNTIME_SERVICES.GetNextVariableName.
///
/// # Safety
/// As [`get_variable`].
pub unsafe extern "efiapi" fn get_next_variable_name(
    name_size: *mut usize,
    name: *mut Char16,
    vendor: *mut Guid,
) -> Status {
    // SAFETY: as in `get_variable`.
    unsafe { ffi::get_next_variable_name(&RUNTIME, name_size, name, vendor) }
}

/// EFI_RUNTIME_SERVICES.SetVariable.
///
/// # Safety
/// As [`get_variable`].
pub unsafe extern "efiapi" fn set_variable(
    name: *mut Char16,
    vendor: *mut Guid,
    attributes: u32,
    data_size: usize,
    data: *mut c_void,
) -> Status {
    // SAFETY: as in `get_variable`.
    unsafe { ffi::set_variable(&RUNTIME, name, vendor, attributes, data_size, data) }
}

/// EFI_RUNTIME_SERVICES.QueryVariableInfo.
///
/// # Safety
/// As [`get_variable`].
pub unsafe extern "efiapi" fn query_variable_info(
    attributes: u32,
    maximum_variable_storage_size: *mut u64,
    remaining_variable_storage_size: *mut u64,
    maximum_variable_size: *mut u64,
) -> Status {
    // SAFETY: as in `get_variable`.
    unsafe {
        ffi::query_variable_info(
            &RUNTIME,
            attributes,
            maximum_variable_storage_size,
            remaining_variable_storage_size,
            maximum_variable_size,
        )
    }
}

/// EFI_RUNTIME_SERVICES.GetNextHighMonotonicCount.
///
/// # Safety
/// Called by UEFI code with a pointer valid as UEFI 2.10 section 8.5.2 specifies.
pub unsafe extern "efiapi" fn get_next_high_mono_count(high_count: *mut u32) -> Status {
    // SAFETY: as in `get_time`.
    unsafe { ffi::get_next_high_monotonic_count(&RUNTIME, high_count) }
}

/// EFI_RUNTIME_SERVICES.ResetSystem. Never returns: if the back end could not reset, the processor spins.
///
/// # Safety
/// Called by UEFI code with a pointer valid as UEFI 2.10 section 8.5.1 specifies.
pub unsafe extern "efiapi" fn reset_system(
    reset_type: ResetType,
    status: Status,
    data_size: usize,
    data: *mut c_void,
) {
    // SAFETY: as in `get_time`.
    unsafe { ffi::reset_system(&RUNTIME, reset_type, status, data_size, data) };
    log::error!(target: "runtime::entry", "ResetSystem: back end {} did not reset; halting", RUNTIME.current().name);
    loop {
        core::hint::spin_loop();
    }
}

/// EFI_RUNTIME_SERVICES.UpdateCapsule.
///
/// # Safety
/// Called by UEFI code with pointers valid as UEFI 2.10 section 8.5.3 specifies.
pub unsafe extern "efiapi" fn update_capsule(
    headers: *mut *mut CapsuleHeader,
    count: usize,
    scatter_gather_list: PhysicalAddress,
) -> Status {
    // SAFETY: as in `get_time`.
    unsafe { ffi::update_capsule(&RUNTIME, headers, count, scatter_gather_list) }
}

/// EFI_RUNTIME_SERVICES.QueryCapsuleCapabilities.
///
/// # Safety
/// As [`update_capsule`].
pub unsafe extern "efiapi" fn query_capsule_capabilities(
    headers: *mut *mut CapsuleHeader,
    count: usize,
    maximum_capsule_size: *mut u64,
    reset_type: *mut ResetType,
) -> Status {
    // SAFETY: as in `get_time`.
    unsafe {
        ffi::query_capsule_capabilities(&RUNTIME, headers, count, maximum_capsule_size, reset_type)
    }
}
