//! A deliberate handoff violation, so the audit itself can be shown to catch one: with the load option
//! [`LEAK_WORD`] (QEMU `-append leak-e1000` with `-kernel`), the app plays a careless firmware driver before
//! ExitBootServices. It gives the first e1000 a receive ring of 16 descriptors and 32 KiB of buffers in
//! EfiBootServicesData memory, enables the receiver (broadcast and promiscuous), turns on Bus Master, and then
//! simply exits boot services. The OS side must then report the NIC live, and the canary must see the frames
//! the runner sends land in memory the OS owns.

use alloc::format;
use alloc::string::String;

use handoff_audit_core::device::{self, e1000, Model};
use handoff_audit_core::pci::{self, ConfigSpace, PortConfig};
use uefi_raw::table::boot::{AllocateType, MemoryType};
use uefi_raw::Status;

use crate::x86::X86Ports;

/// The load option word that arms the leak.
pub const LEAK_WORD: &str = "leak-e1000";
/// RCTL: EN, UPE, MPE, BAM; BSIZE 0 = 2048-byte buffers.
const RCTL_LEAK: u32 = 1 << 1 | 1 << 3 | 1 << 4 | 1 << 15;
const DESCRIPTORS: u64 = 16;

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
        "deliberate leak: e1000 {} receiving into ring {ring:#x} and buffers {buffers:#x} (boot-services data)",
        nic.bdf
    ))
}
