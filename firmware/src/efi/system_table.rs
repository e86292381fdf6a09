//! The EFI system table, the boot- and runtime-services tables and the configuration table (UEFI 2.10
//! sections 4.3-4.6), with header CRC32s kept right after every change.
//!
//! The system table, the runtime-services table, the configuration table array and the vendor string are
//! `EfiRuntimeServicesData` (the OS keeps using them; SetVirtualAddressMap converts the pointers among them, see
//! `super::runtime::svam`); the boot-services table is `EfiBootServicesData`. Every function pointer in both
//! services tables is a real entry point: none is ever null.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};

use r_efi::efi::{
    self, BootServices, ConfigurationTable, Guid, RuntimeServices, Status, SystemTable, TableHeader,
};

use super::{event, exit, image, memory, misc, protocol, runtime, variadic};

static SYSTEM_TABLE: AtomicPtr<SystemTable> = AtomicPtr::new(core::ptr::null_mut());
static CONFIG_CAPACITY: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

const REVISION: u32 = efi::SYSTEM_TABLE_REVISION;
const VENDOR: &str = "vmfw";

/// The system table (null before [`init`]).
pub fn system_table() -> *mut SystemTable {
    SYSTEM_TABLE.load(Ordering::Acquire)
}

fn header(signature: u64, size: usize) -> TableHeader {
    TableHeader {
        signature,
        revision: REVISION,
        header_size: size as u32,
        crc32: 0,
        reserved: 0,
    }
}

/// Recomputes the CRC32 of a table whose header starts at `table` and is `header_size` bytes long. Allocates
/// nothing and follows no pointer but `table`, so SetVirtualAddressMap may call it.
///
/// # Safety
/// `table` points at a live table with a valid `TableHeader`.
pub unsafe fn update_crc(table: *mut TableHeader) {
    // SAFETY: per the contract; the CRC covers `header_size` bytes with the crc field zero (UEFI 2.10 4.2).
    unsafe {
        (*table).crc32 = 0;
        let bytes = core::slice::from_raw_parts(table as *const u8, (*table).header_size as usize);
        (*table).crc32 = misc::crc32(bytes);
    }
}

/// Recomputes the system table's CRC (after a change to any of its fields).
pub fn update_system_table_crc() {
    let st = system_table();
    if !st.is_null() {
        // SAFETY: `st` is the live system table built by `init`.
        unsafe { update_crc(&mut (*st).hdr) };
    }
}

fn boot_services_table() -> BootServices {
    BootServices {
        hdr: header(
            efi::BOOT_SERVICES_SIGNATURE,
            core::mem::size_of::<BootServices>(),
        ),
        raise_tpl: event::raise_tpl,
        restore_tpl: event::restore_tpl,
        allocate_pages: memory::allocate_pages,
        free_pages: memory::free_pages,
        get_memory_map: memory::get_memory_map,
        allocate_pool: memory::allocate_pool,
        free_pool: memory::free_pool,
        create_event: event::create_event,
        set_timer: event::set_timer,
        wait_for_event: event::wait_for_event,
        signal_event: event::signal_event,
        close_event: event::close_event,
        check_event: event::check_event,
        install_protocol_interface: protocol::install_protocol_interface,
        reinstall_protocol_interface: protocol::reinstall_protocol_interface,
        uninstall_protocol_interface: protocol::uninstall_protocol_interface,
        handle_protocol: protocol::handle_protocol,
        reserved: core::ptr::null_mut(),
        register_protocol_notify: protocol::register_protocol_notify,
        locate_handle: protocol::locate_handle,
        locate_device_path: protocol::locate_device_path,
        install_configuration_table,
        load_image: image::load_image,
        start_image: image::start_image,
        exit: image::exit,
        unload_image: image::unload_image,
        exit_boot_services: exit::exit_boot_services,
        get_next_monotonic_count: misc::get_next_monotonic_count,
        stall: misc::stall,
        set_watchdog_timer: event::set_watchdog_timer,
        connect_controller: protocol::connect_controller,
        disconnect_controller: protocol::disconnect_controller,
        open_protocol: protocol::open_protocol,
        close_protocol: protocol::close_protocol,
        open_protocol_information: protocol::open_protocol_information,
        protocols_per_handle: protocol::protocols_per_handle,
        locate_handle_buffer: protocol::locate_handle_buffer,
        locate_protocol: protocol::locate_protocol,
        install_multiple_protocol_interfaces:
            variadic::install_multiple_protocol_interfaces_trampoline,
        uninstall_multiple_protocol_interfaces:
            variadic::uninstall_multiple_protocol_interfaces_trampoline,
        calculate_crc32: misc::calculate_crc32,
        copy_mem: misc::copy_mem,
        set_mem: misc::set_mem,
        create_event_ex: event::create_event_ex,
    }
}

fn place<T>(memory_type: u32, value: T) -> Result<*mut T, Status> {
    let ptr = memory::allocate_zeroed(memory_type, core::mem::size_of::<T>())? as *mut T;
    // SAFETY: freshly allocated, 8-byte aligned pool memory of the right size.
    unsafe { ptr.write(value) };
    Ok(ptr)
}

/// Builds the tables in UEFI memory and publishes the system table. Needs the memory map (`memory::init`).
pub fn init() -> Result<*mut SystemTable, Status> {
    let bs = place(efi::BOOT_SERVICES_DATA, boot_services_table())?;
    let rt = place(
        efi::RUNTIME_SERVICES_DATA,
        runtime::table(header(
            efi::RUNTIME_SERVICES_SIGNATURE,
            core::mem::size_of::<RuntimeServices>(),
        )),
    )?;
    let vendor =
        memory::allocate_zeroed(efi::RUNTIME_SERVICES_DATA, (VENDOR.len() + 1) * 2)? as *mut u16;
    for (i, unit) in VENDOR.encode_utf16().enumerate() {
        // SAFETY: `vendor` holds VENDOR.len() + 1 UTF-16 units (the last stays 0).
        unsafe { vendor.add(i).write(unit) };
    }
    let st = place(
        efi::RUNTIME_SERVICES_DATA,
        SystemTable {
            hdr: header(
                efi::SYSTEM_TABLE_SIGNATURE,
                core::mem::size_of::<SystemTable>(),
            ),
            firmware_vendor: vendor,
            firmware_revision: (env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap_or(0) << 16)
                | env!("CARGO_PKG_VERSION_MINOR").parse::<u32>().unwrap_or(0),
            console_in_handle: core::ptr::null_mut(),
            con_in: core::ptr::null_mut(),
            console_out_handle: core::ptr::null_mut(),
            con_out: core::ptr::null_mut(),
            standard_error_handle: core::ptr::null_mut(),
            std_err: core::ptr::null_mut(),
            runtime_services: rt,
            boot_services: bs,
            number_of_table_entries: 0,
            configuration_table: core::ptr::null_mut(),
        },
    )?;
    // SAFETY: all three tables were just built.
    unsafe {
        update_crc(&mut (*bs).hdr);
        update_crc(&mut (*rt).hdr);
        update_crc(&mut (*st).hdr);
    }
    SYSTEM_TABLE.store(st, Ordering::Release);
    Ok(st)
}

/// Adds, replaces or (with a null `table`) deletes the configuration table for `guid`.
pub fn set_configuration_table(guid: Guid, table: *mut c_void) -> Result<(), Status> {
    let st = system_table();
    if st.is_null() {
        return Err(Status::NOT_READY);
    }
    // SAFETY: `st` is the live system table; its configuration array holds `number_of_table_entries` entries
    // within a block of CONFIG_CAPACITY entries, both maintained only here.
    unsafe {
        let count = (*st).number_of_table_entries;
        let entries = (*st).configuration_table;
        let position = (0..count).find(|&i| (*entries.add(i)).vendor_guid == guid);
        match (position, table.is_null()) {
            (Some(i), false) => (*entries.add(i)).vendor_table = table,
            (Some(i), true) => {
                core::ptr::copy(entries.add(i + 1), entries.add(i), count - i - 1);
                (*st).number_of_table_entries = count - 1;
            }
            (None, true) => return Err(Status::NOT_FOUND),
            (None, false) => {
                let capacity = CONFIG_CAPACITY.load(Ordering::Relaxed);
                let mut entries = entries;
                if count == capacity {
                    let new_capacity = (capacity * 2).max(8);
                    let size = new_capacity * core::mem::size_of::<ConfigurationTable>();
                    let grown = memory::allocate_zeroed(efi::RUNTIME_SERVICES_DATA, size)?
                        as *mut ConfigurationTable;
                    if count > 0 {
                        core::ptr::copy_nonoverlapping(entries, grown, count);
                        let _ = memory::with_map(|map| map.free_pool(entries as u64));
                    }
                    entries = grown;
                    (*st).configuration_table = grown;
                    CONFIG_CAPACITY.store(new_capacity, Ordering::Relaxed);
                }
                entries.add(count).write(ConfigurationTable {
                    vendor_guid: guid,
                    vendor_table: table,
                });
                (*st).number_of_table_entries = count + 1;
            }
        }
    }
    update_system_table_crc();
    Ok(())
}

pub extern "efiapi" fn install_configuration_table(guid: *mut Guid, table: *mut c_void) -> Status {
    if guid.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: non-null IN EFI_GUID.
    super::status(set_configuration_table(
        unsafe { guid.read_unaligned() },
        table,
    ))
}

/// ExitBootServices' last step: boot services, ConIn, ConOut and StdErr leave the system table (UEFI 2.10
/// section 7.4), and its CRC is recomputed.
pub fn enter_runtime() {
    let st = system_table();
    if st.is_null() {
        return;
    }
    // SAFETY: `st` is the live system table; nothing else writes it during ExitBootServices.
    unsafe {
        (*st).boot_services = core::ptr::null_mut();
        (*st).console_in_handle = core::ptr::null_mut();
        (*st).con_in = core::ptr::null_mut();
        (*st).console_out_handle = core::ptr::null_mut();
        (*st).con_out = core::ptr::null_mut();
        (*st).standard_error_handle = core::ptr::null_mut();
        (*st).std_err = core::ptr::null_mut();
    }
    update_system_table_crc();
}
