//! SetVirtualAddressMap and ConvertPointer (UEFI 2.10 section 8.4).
//!
//! SetVirtualAddressMap is callable once, after ExitBootServices, in physical mode. It checks the map
//! (`runtime::virtual_map`: descriptor version and size, alignment, every firmware runtime range mapped, the image
//! as one block), then, past the point of no return:
//! 1. calls the kept virtual-address-change notifications (`EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE`), which may call
//!    ConvertPointer; ConvertPointer works only while this runs, against this map;
//! 2. converts the pointers the firmware stored at run time into runtime-services data: the runtime-services
//!    table's entries, the system table's `FirmwareVendor`, `RuntimeServices` and `ConfigurationTable`, the
//!    variable store's region; table CRCs are recomputed;
//! 3. last, moves the image: every pointer slot of the relocation table that still points into the image gets the
//!    image's virtual-minus-physical offset. From then on the image's data describes virtual addresses, which need
//!    not be mapped while the OS is still in physical mode, so nothing runs after that but the return.
//!
//! The image's code is position independent, so after the OS switches to its virtual mapping the image runs at the
//! new address with every pointer it follows converted. What this relies on is listed in `docs/runtime.md`.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use ::runtime::relocation;
use ::runtime::virtual_map::{MapError, VirtualMap, MAX_DESCRIPTORS};
use r_efi::efi::{self, MemoryDescriptor, Status};

use super::backend::NATIVE;
use super::kept::KEPT;
use super::relocations::image;
use crate::efi::system_table;

/// `EFI_OPTIONAL_PTR`: ConvertPointer may be given a null pointer.
const OPTIONAL_PTR: usize = 0x1;

const BOOT: u8 = 0;
const RUNTIME: u8 = 1;
const VIRTUAL: u8 = 2;

/// Boot services, runtime in physical mode, or virtual mode.
static PHASE: AtomicU8 = AtomicU8::new(BOOT);

/// The map ConvertPointer uses while SetVirtualAddressMap runs: address, bytes, descriptor size (0: none).
static ACTIVE_MAP: [AtomicUsize; 3] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];

/// Records that ExitBootServices succeeded: SetVirtualAddressMap becomes callable.
pub fn exit_boot_services() {
    let _ = PHASE.compare_exchange(BOOT, RUNTIME, Ordering::AcqRel, Ordering::Acquire);
}

fn active_map<'a>() -> Option<VirtualMap<'a>> {
    let [address, bytes, size] = [0, 1, 2].map(|i| ACTIVE_MAP[i].load(Ordering::Acquire));
    if size == 0 {
        return None;
    }
    // SAFETY: set by `set_virtual_address_map` from the caller's map, which stays valid while it runs, and cleared
    // before it returns; it was checked by `VirtualMap::new` then.
    let bytes = unsafe { core::slice::from_raw_parts(address as *const u8, bytes) };
    VirtualMap::new(bytes, size, efi::MEMORY_DESCRIPTOR_VERSION).ok()
}

pub extern "efiapi" fn convert_pointer(
    debug_disposition: usize,
    address: *mut *mut c_void,
) -> Status {
    if address.is_null() || !address.is_aligned() {
        log::error!(target: "efi::runtime", "ConvertPointer: null or misaligned address pointer");
        return Status::INVALID_PARAMETER;
    }
    let Some(map) = active_map() else {
        log::error!(target: "efi::runtime", "ConvertPointer outside SetVirtualAddressMap");
        return Status::UNSUPPORTED;
    };
    // SAFETY: non-null and aligned; the caller passes the address of a pointer it owns (ConvertPointer contract).
    let value = unsafe { address.read() } as u64;
    if value == 0 {
        return if debug_disposition & OPTIONAL_PTR != 0 {
            Status::SUCCESS
        } else {
            log::error!(target: "efi::runtime", "ConvertPointer of a null pointer without EFI_OPTIONAL_PTR");
            Status::INVALID_PARAMETER
        };
    }
    match map.convert(value) {
        Some(virtual_address) => {
            // SAFETY: as for the read above.
            unsafe { address.write(virtual_address as *mut c_void) };
            Status::SUCCESS
        }
        None => {
            log::error!(target: "efi::runtime", "ConvertPointer: {value:#x} is in no runtime range of the map");
            Status::NOT_FOUND
        }
    }
}

/// Converts one pointer-sized value stored at `slot` through `map`.
///
/// # Safety
/// `slot` is a valid, aligned, writable pointer-sized location.
unsafe fn convert_slot(map: &VirtualMap<'_>, slot: *mut usize) -> Result<(), Status> {
    // SAFETY: per the contract.
    let value = unsafe { slot.read() };
    if value == 0 {
        return Ok(());
    }
    let converted = map.convert(value as u64).ok_or_else(|| {
        log::error!(target: "efi::runtime", "SetVirtualAddressMap: firmware pointer {value:#x} has no mapping");
        Status::NO_MAPPING
    })?;
    // SAFETY: per the contract.
    unsafe { slot.write(converted as usize) };
    Ok(())
}

/// Step 2 of the module doc.
fn convert_firmware_pointers(map: &VirtualMap<'_>) -> Result<(), Status> {
    let st = system_table::system_table();
    // SAFETY: the system table and the runtime-services table are the firmware's, in runtime-services data; the
    // OS does not write them; every slot converted is a pointer-sized, aligned field.
    unsafe {
        let rt = (*st).runtime_services;
        let entries = core::ptr::addr_of_mut!((*rt).get_time) as *mut usize;
        let count = (core::mem::size_of::<efi::RuntimeServices>()
            - core::mem::size_of::<efi::TableHeader>())
            / core::mem::size_of::<usize>();
        for i in 0..count {
            convert_slot(map, entries.add(i))?;
        }
        system_table::update_crc(core::ptr::addr_of_mut!((*rt).hdr));
        convert_slot(
            map,
            core::ptr::addr_of_mut!((*st).firmware_vendor) as *mut usize,
        )?;
        convert_slot(
            map,
            core::ptr::addr_of_mut!((*st).configuration_table) as *mut usize,
        )?;
        convert_slot(
            map,
            core::ptr::addr_of_mut!((*st).runtime_services) as *mut usize,
        )?;
        system_table::update_crc(core::ptr::addr_of_mut!((*st).hdr));
    }
    NATIVE
        .with_store(|store| {
            // SAFETY: the region is runtime-services data that the map gives a virtual address; the store is not
            // used again before the OS runs in that mapping.
            unsafe { store.convert_region(|p| map.convert(p as u64).map(|v| v as usize)) }
        })
        .map_err(|e| {
            log::error!(target: "efi::runtime", "SetVirtualAddressMap: variable store: {e:?}");
            Status::NO_MAPPING
        })
}

fn refuse(error: MapError) -> Status {
    log::error!(target: "efi::runtime", "SetVirtualAddressMap refused: {error:?}");
    error.status()
}

pub extern "efiapi" fn set_virtual_address_map(
    map_size: usize,
    descriptor_size: usize,
    version: u32,
    map: *mut MemoryDescriptor,
) -> Status {
    match PHASE.load(Ordering::Acquire) {
        BOOT => {
            log::error!(target: "efi::runtime", "SetVirtualAddressMap before ExitBootServices");
            return Status::UNSUPPORTED;
        }
        VIRTUAL => {
            log::error!(target: "efi::runtime", "SetVirtualAddressMap called a second time");
            return Status::UNSUPPORTED;
        }
        _ => {}
    }
    if map.is_null()
        || !map.is_aligned()
        || descriptor_size == 0
        || map_size / descriptor_size > MAX_DESCRIPTORS
    {
        log::error!(target: "efi::runtime", "SetVirtualAddressMap: map {map:p}, {map_size} bytes, descriptor size {descriptor_size}");
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: the caller passes `map_size` readable bytes at `map` (SetVirtualAddressMap contract), bounded above.
    let bytes = unsafe { core::slice::from_raw_parts(map as *const u8, map_size) };
    let virtual_map = match VirtualMap::new(bytes, descriptor_size, version) {
        Ok(m) => m,
        Err(e) => return refuse(e),
    };
    let Some(kept) = KEPT.try_lock() else {
        log::error!(target: "efi::runtime", "SetVirtualAddressMap: runtime state busy");
        return Status::DEVICE_ERROR;
    };
    if let Err(e) = virtual_map.check_against(&kept.runtime, &kept.known) {
        return refuse(e);
    }
    let (image_start, image_end) = image();
    let delta = match virtual_map.delta_of(image_start, image_end) {
        Ok(delta) => delta,
        Err(e) => return refuse(e),
    };
    if delta != 0 && kept.relocations.is_none() {
        log::error!(target: "efi::runtime", "SetVirtualAddressMap: the image has no relocation table and cannot move");
        return Status::UNSUPPORTED;
    }
    if PHASE
        .compare_exchange(RUNTIME, VIRTUAL, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Status::UNSUPPORTED;
    }
    // Point of no return.
    ACTIVE_MAP[0].store(map as usize, Ordering::Release);
    ACTIVE_MAP[1].store(map_size, Ordering::Release);
    ACTIVE_MAP[2].store(descriptor_size, Ordering::Release);
    for notification in kept.notifications.iter().flatten() {
        // SAFETY: a notification function registered with CreateEvent(Ex) and found in runtime-services code at
        // ExitBootServices, called with its own event and context as the spec prescribes.
        unsafe { (notification.function)(notification.event, notification.context) };
    }
    let converted = convert_firmware_pointers(&virtual_map);
    ACTIVE_MAP[2].store(0, Ordering::Release);
    if let Err(status) = converted {
        return status;
    }
    let relocations = kept.relocations;
    log::info!(target: "efi::runtime", "SetVirtualAddressMap: image moves by {delta:#x}");
    if let Some((table, bytes)) = relocations {
        // SAFETY: the table was validated against the image's size when it was loaded and lives in runtime-services
        // data; the image is this firmware's own memory, and no reference into its statics is live across the call
        // (the `kept` guard only refers to its lock, which is not a pointer slot).
        unsafe {
            let entries = core::slice::from_raw_parts(table as *const u8, bytes);
            relocation::apply(
                image_start as *mut u8,
                (image_end - image_start) as usize,
                entries,
                delta,
            );
        }
    }
    Status::SUCCESS
}
