//! Runtime services (UEFI 2.10 chapter 8), wired from the host-tested `runtime` crate: one operations table
//! (`runtime::entry::RUNTIME`) whose native back end keeps variables in a volatile store in runtime-services data
//! and reaches the CMOS RTC and the reset registers by port I/O; SetVirtualAddressMap and ConvertPointer
//! ([`svam`]); the `EFI_RT_PROPERTIES_TABLE`; the global variables the firmware publishes ([`globals`]).
//!
//! What survives ExitBootServices and how the image follows SetVirtualAddressMap is in `docs/runtime.md`. In
//! short: everything runtime code touches is in the firmware image (one `EfiRuntimeServicesCode` region) or in
//! `EfiRuntimeServicesData` allocations; nothing on the Rust heap, the boot stack or in boot-services memory; no
//! interrupt is masked or unmasked.

mod backend;
pub mod globals;
mod kept;
mod relocations;
pub mod svam;

use ::runtime::entry::{self, RUNTIME};
use ::runtime::variables::{RawRegion, VariableStore, RECOMMENDED_STORE_SIZE};
use boot_services::memory::AllocateType;
use r_efi::efi::{self, RuntimeServices, Status, TableHeader};

use super::memory::{allocate_zeroed, with_map};

const PAGE: usize = 4096;

/// What works after ExitBootServices (the `EFI_RT_PROPERTIES_TABLE`, UEFI 2.10 section 4.6.2): everything but the
/// wakeup timer (the RTC alarm cannot wake a powered-off QEMU guest) and capsules (vmfw has no capsule update).
/// ConvertPointer works during SetVirtualAddressMap, the only time the spec lets it be called.
pub const RUNTIME_SERVICES_SUPPORTED: u32 = efi::RT_SUPPORTED_GET_TIME
    | efi::RT_SUPPORTED_SET_TIME
    | efi::RT_SUPPORTED_GET_VARIABLE
    | efi::RT_SUPPORTED_GET_NEXT_VARIABLE_NAME
    | efi::RT_SUPPORTED_SET_VARIABLE
    | efi::RT_SUPPORTED_SET_VIRTUAL_ADDRESS_MAP
    | efi::RT_SUPPORTED_CONVERT_POINTER
    | efi::RT_SUPPORTED_GET_NEXT_HIGH_MONOTONIC_COUNT
    | efi::RT_SUPPORTED_RESET_SYSTEM
    | efi::RT_SUPPORTED_QUERY_VARIABLE_INFO;

/// The runtime-services table: the crate's entry points, which route through [`RUNTIME`], and this module's
/// SetVirtualAddressMap and ConvertPointer. None is ever null.
pub fn table(hdr: TableHeader) -> RuntimeServices {
    entry::table(hdr, svam::set_virtual_address_map, svam::convert_pointer)
}

/// Brings the runtime services up (after the system table exists): the variable store in runtime-services data,
/// the native back end, the firmware's global variables, the image relocation table, the RT properties table, and
/// the ExitBootServices hook that keeps what SetVirtualAddressMap needs.
///
/// Errors: `OUT_OF_RESOURCES` when the store or the tables cannot be allocated.
pub fn init() -> Result<(), Status> {
    let pages = RECOMMENDED_STORE_SIZE / PAGE;
    let base = with_map(|map| {
        map.allocate_pages(
            AllocateType::AnyPages,
            efi::RUNTIME_SERVICES_DATA,
            pages as u64,
        )
    })?;
    // SAFETY: the pages were just allocated as runtime-services data for the store alone; they are identity-mapped
    // RAM and stay allocated for the machine's life (nothing frees them).
    let region = unsafe { RawRegion::new(base as *mut u8, RECOMMENDED_STORE_SIZE) };
    let store = VariableStore::format(region).map_err(|e| {
        log::error!(target: "efi::runtime", "variable store: {e:?}");
        Status::OUT_OF_RESOURCES
    })?;
    backend::NATIVE
        .attach_store(store)
        .map_err(|e| e.status())?;
    RUNTIME.switch_backend(&backend::NATIVE_OPS);
    globals::publish()?;
    relocations::load()?;
    install_properties_table()?;
    kept::register_exit_hook()?;
    log::info!(target: "efi::runtime", "runtime services: volatile variable store of {} KiB at {base:#x}", RECOMMENDED_STORE_SIZE >> 10);
    Ok(())
}

/// Installs the `EFI_RT_PROPERTIES_TABLE` (in runtime-services data: the OS may read it at any time).
fn install_properties_table() -> Result<(), Status> {
    let table = efi::RtPropertiesTable {
        version: efi::RT_PROPERTIES_TABLE_VERSION,
        length: core::mem::size_of::<efi::RtPropertiesTable>() as u16,
        runtime_services_supported: RUNTIME_SERVICES_SUPPORTED,
    };
    let block = allocate_zeroed(
        efi::RUNTIME_SERVICES_DATA,
        core::mem::size_of::<efi::RtPropertiesTable>(),
    )? as *mut efi::RtPropertiesTable;
    // SAFETY: a fresh pool block of the table's size; pool memory is 8-byte aligned.
    unsafe { block.write(table) };
    super::system_table::set_configuration_table(efi::RT_PROPERTIES_TABLE_GUID, block as *mut _)
}

/// The last step of a successful ExitBootServices: variable calls now follow the runtime rules, SetVirtualAddressMap
/// becomes callable, and the firmware stops writing to COM1 (the OS owns the UART; firmware log lines go to the
/// debug console only).
pub fn enter_runtime() {
    RUNTIME.exit_boot_services();
    svam::exit_boot_services();
    crate::console::release_uart();
}
