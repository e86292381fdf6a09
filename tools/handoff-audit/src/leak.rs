//! A deliberate handoff violation, so the audit itself can be shown to catch one: with the load option
//! [`LEAK_WORD`] (QEMU `-append leak-e1000` with `-kernel`), the app plays a careless firmware driver before
//! ExitBootServices. Like a UEFI driver it claims the first e1000: it installs `EFI_COMPONENT_NAME2_PROTOCOL`
//! (UEFI 2.10 §11.5, driver name [`LEAK_DRIVER_NAME`], language "en") on its image handle and opens the NIC's
//! PCI I/O `BY_DRIVER` with the image handle as agent. It gives the NIC a receive ring of 16 descriptors and
//! 32 KiB of buffers in EfiBootServicesData memory, enables the receiver (broadcast and promiscuous), turns on
//! Bus Master, and then simply exits boot services. The OS side must then report the NIC driven by
//! [`LEAK_DRIVER_NAME`] and live, and the canary must see the frames the runner sends land in memory the OS owns.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::ffi::c_void;

use handoff_audit_core::binding::LEAK_DRIVER_NAME;
use handoff_audit_core::device::{self, e1000, Model};
use handoff_audit_core::pci::{self, ConfigSpace, PortConfig};
use uefi_raw::protocol::driver::ComponentName2Protocol;
use uefi_raw::table::boot::{AllocateType, InterfaceType, MemoryType};
use uefi_raw::{Handle, Status};

use crate::bindings;
use crate::handoff::boot_services;
use crate::x86::X86Ports;

/// The load option word that arms the leak.
pub const LEAK_WORD: &str = "leak-e1000";
/// RCTL: EN, UPE, MPE, BAM; BSIZE 0 = 2048-byte buffers.
const RCTL_LEAK: u32 = 1 << 1 | 1 << 3 | 1 << 4 | 1 << 15;
const DESCRIPTORS: u64 = 16;

/// [`LEAK_DRIVER_NAME`] in UCS-2 with its NUL.
static DRIVER_NAME: [u16; LEAK_DRIVER_NAME.len() + 1] = ucs2(LEAK_DRIVER_NAME);
/// The one language, RFC 4646.
const LANGUAGE: &[u8] = b"en\0";
/// `EFI_OPEN_PROTOCOL_BY_DRIVER`.
const BY_DRIVER: u32 = r_efi::efi::OPEN_PROTOCOL_BY_DRIVER;

/// An ASCII string as NUL-terminated UCS-2.
const fn ucs2<const N: usize>(s: &str) -> [u16; N] {
    let bytes = s.as_bytes();
    let mut out = [0u16; N];
    let mut i = 0;
    while i < bytes.len() && i + 1 < N {
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

/// Whether the NUL-terminated ASCII string at `language` is "en" (bounded by the length of "en").
///
/// # Safety
/// `language` must point at a NUL-terminated string.
unsafe fn is_english(language: *const u8) -> bool {
    for (i, want) in LANGUAGE.iter().enumerate() {
        // SAFETY: the caller's string is NUL-terminated; reading stops at the first difference or at its NUL.
        if unsafe { *language.add(i) } != *want {
            return false;
        }
    }
    true
}

/// `GetDriverName()`: [`LEAK_DRIVER_NAME`] in "en"; EFI_INVALID_PARAMETER for NULL arguments, EFI_UNSUPPORTED
/// for another language.
unsafe extern "efiapi" fn get_driver_name(
    _this: *const ComponentName2Protocol,
    language: *const u8,
    driver_name: *mut *const u16,
) -> Status {
    if language.is_null() || driver_name.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: non-NULL, NUL-terminated by the protocol's contract.
    if !unsafe { is_english(language) } {
        return Status::UNSUPPORTED;
    }
    // SAFETY: `driver_name` is a non-NULL out-pointer; the name is static.
    unsafe { driver_name.write(DRIVER_NAME.as_ptr()) };
    Status::SUCCESS
}

/// `GetControllerName()`: the leak names no controllers (UEFI 2.10 §11.5 lets a driver answer EFI_UNSUPPORTED).
unsafe extern "efiapi" fn get_controller_name(
    _this: *const ComponentName2Protocol,
    _controller: Handle,
    _child: Handle,
    _language: *const u8,
    _name: *mut *const u16,
) -> Status {
    Status::UNSUPPORTED
}

/// Installs the Component Name 2 protocol on the image handle and opens `nic`'s PCI I/O `BY_DRIVER` with it as
/// agent.
fn claim(nic: Handle) -> Result<(), String> {
    let mut image = uefi::boot::image_handle().as_ptr();
    let protocol = Box::leak(Box::new(ComponentName2Protocol {
        get_driver_name,
        get_controller_name,
        supported_languages: LANGUAGE.as_ptr(),
    }));
    // SAFETY: `image` is the app's image handle; the interface is leaked, so it outlives the handle.
    let status = unsafe {
        (boot_services().install_protocol_interface)(
            &mut image,
            &ComponentName2Protocol::GUID,
            InterfaceType::NATIVE_INTERFACE,
            (protocol as *mut ComponentName2Protocol).cast::<c_void>(),
        )
    };
    if status != Status::SUCCESS {
        return Err(format!(
            "InstallProtocolInterface(Component Name 2): {status:?}"
        ));
    }
    let mut interface = core::ptr::null_mut();
    // SAFETY: `nic` is a PCI I/O handle; `interface` is a valid out-pointer.
    let status = unsafe {
        (boot_services().open_protocol)(
            nic,
            &bindings::pci_io_guid(),
            &mut interface,
            image,
            nic,
            BY_DRIVER,
        )
    };
    if status != Status::SUCCESS {
        return Err(format!("OpenProtocol(PCI I/O, BY_DRIVER): {status:?}"));
    }
    Ok(())
}

/// Whether the app's load options contain [`LEAK_WORD`].
pub fn requested() -> bool {
    let Ok(image) = uefi::boot::open_protocol_exclusive::<uefi::proto::loaded_image::LoadedImage>(
        uefi::boot::image_handle(),
    ) else {
        return false;
    };
    let Some(bytes) = image.load_options_as_bytes() else {
        return false;
    };
    let units: alloc::vec::Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
        .split_whitespace()
        .any(|w| w == LEAK_WORD)
}

fn allocate(pages: usize) -> Result<u64, Status> {
    let st = uefi::table::system_table_raw().ok_or(Status::NOT_READY)?;
    let mut addr = 0u64;
    // SAFETY: boot services are live; `addr` is a valid out-pointer.
    let status = unsafe {
        ((*st.as_ref().boot_services).allocate_pages)(
            AllocateType::ANY_PAGES,
            MemoryType::BOOT_SERVICES_DATA,
            pages,
            &mut addr,
        )
    };
    if status == Status::SUCCESS {
        Ok(addr)
    } else {
        Err(status)
    }
}

fn write32(addr: u64, value: u32) {
    // SAFETY: `addr` is an e1000 register in its assigned BAR0, identity-mapped by the firmware; this is the
    // deliberate misuse the module exists for.
    unsafe { (addr as *mut u32).write_volatile(value) };
}

/// Starts the first e1000's receiver as described in the module documentation; returns what was armed.
pub fn arm() -> Result<String, String> {
    let mut cfg = PortConfig(X86Ports);
    let nic = pci::scan(&mut cfg)
        .into_iter()
        .find(|f| device::model(f) == Model::E1000)
        .ok_or("no e1000 to leak")?;
    let base = nic.bars[0].memory_base().ok_or("e1000 BAR0 not assigned")?;
    let claimed = match bindings::handle_at(nic.bdf) {
        Some(handle) => match claim(handle) {
            Ok(()) => format!("held BY_DRIVER as \"{LEAK_DRIVER_NAME}\""),
            Err(why) => format!("not held BY_DRIVER: {why}"),
        },
        None => String::from("not held BY_DRIVER: no PCI I/O handle at its address"),
    };
    let ring = allocate(1).map_err(|s| format!("AllocatePages: {s:?}"))?;
    let buffers = allocate(8).map_err(|s| format!("AllocatePages: {s:?}"))?;
    for i in 0..DESCRIPTORS {
        let descriptor = (ring + 16 * i) as *mut u64;
        // SAFETY: the ring page was just allocated; 16 descriptors of 16 bytes fit in it.
        unsafe {
            descriptor.write_volatile(buffers + 2048 * i);
            descriptor.add(1).write_volatile(0);
        }
    }
    let command = cfg.read16(nic.bdf, pci::COMMAND);
    cfg.write16(
        nic.bdf,
        pci::COMMAND,
        command | pci::COMMAND_MEMORY | pci::COMMAND_BUS_MASTER,
    );
    write32(base + e1000::RDBAL, ring as u32);
    write32(base + e1000::RDBAL + 4, (ring >> 32) as u32);
    write32(base + e1000::RDLEN, (16 * DESCRIPTORS) as u32);
    write32(base + e1000::RDH, 0);
    write32(base + e1000::RDT, (DESCRIPTORS - 1) as u32);
    write32(base + e1000::RCTL, RCTL_LEAK);
    Ok(format!(
        "deliberate leak: e1000 {} {claimed}, receiving into ring {ring:#x} and buffers {buffers:#x} (boot-services data)",
        nic.bdf
    ))
}
