//! vmfw: a UEFI firmware for QEMU virtual machines (x86_64 q35 and pc).
//!
//! The flow of one boot is in docs/bring-up.md. This binary is the thin platform layer: it binds the library
//! crates' hardware traits to the real machine and wires the boot together.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod boot;
#[macro_use]
mod console;
mod drivers;
mod efi;
mod heap;
mod logger;
mod platform;

use arch::io::X86PortIo;
use platform::{acpi, chipset, exit, inventory, memory, pci, smbios, timer};
use qemu::fw_cfg::FwCfg;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::force_unlock();
    println!("\n!!!! vmfw: panic: {info}");
    exit::fail(exit::ExitCode::Panic)
}

/// fw_cfg file that makes bring-up fault on purpose (`page-fault` or `invalid-opcode`), to test fault reporting
/// on the very image people use.
const FAULT_KNOB: &str = "opt/org.vmfw/fault";

fn deliberate_fault(fw_cfg: &mut FwCfg<X86PortIo>) {
    let Ok(kind) = fw_cfg.read_file(FAULT_KNOB) else {
        return;
    };
    log::warn!(target: "vmfw", "{FAULT_KNOB} asks for a deliberate fault");
    match kind.as_slice() {
        b"invalid-opcode" => {
            // SAFETY: deliberately raises #UD, which the exception handler reports; it never returns here.
            unsafe { core::arch::asm!("ud2") }
        }
        _ => {
            // SAFETY: deliberately reads an address above every mapping (the identity map covers RAM and PCI
            // windows only), raising #PF with CR2 = 0xf_dead_0000 (63 GiB, far above the RAM and PCI windows of the test machines); the handler reports it and never returns.
            unsafe { core::ptr::read_volatile(0x0000_000f_dead_0000 as *const u64) };
        }
    }
}

/// Called by `entry64` on the boot stack, in long mode with the first 4 GiB identity-mapped, interrupts off.
#[no_mangle]
extern "C" fn rust_main() -> ! {
    console::init();
    arch::idt::init();
    heap::init_bootstrap();
    logger::init();
    log::info!(target: "vmfw", "vmfw {} starting", env!("CARGO_PKG_VERSION"));

    let chipset = match chipset::init() {
        Ok(chipset) => chipset,
        Err((vendor, device)) => {
            log::error!(target: "vmfw", "unknown host bridge {vendor:04x}:{device:04x}: vmfw supports QEMU q35 and pc");
            exit::halt_forever()
        }
    };
    timer::init(chipset.pm_base);

    let mut fw_cfg = match FwCfg::new(X86PortIo) {
        Ok(fw_cfg) => Some(fw_cfg),
        Err(e) => {
            log::error!(target: "vmfw", "no fw_cfg ({e}): no ACPI, SMBIOS or e820 from QEMU");
            None
        }
    };
    if let Some(fw_cfg) = fw_cfg.as_mut() {
        deliberate_fault(fw_cfg);
    }

    let mut memory = match memory::init(fw_cfg.as_mut()) {
        Ok(memory) => memory,
        Err(e) => {
            log::error!(target: "vmfw", "memory map unusable: {e}");
            exit::halt_forever()
        }
    };
    if let Some((base, size)) = chipset.ecam {
        memory::reserve_ecam(&mut memory, base, size);
    }

    let (mut cfg, last_bus) = pci::config_access(&chipset);
    let windows = pci::windows(
        &chipset,
        memory.ranges.top_of_ram_below_4g(),
        memory.ranges.top_of_ram(),
        fw_cfg.as_mut(),
    );
    let pci = pci::init(cfg.as_mut(), last_bus, windows);
    let top = memory.ranges.top_of_ram().max(pci::mmio_top(&pci));
    if arch::paging::map_identity(top).is_none() {
        log::error!(target: "vmfw", "out of memory for page tables up to {top:#x}");
    }

    let mut arena = memory::TableArena::new(memory.table_arena.clone());
    let acpi = fw_cfg.as_mut().and_then(|f| acpi::install(f, &mut arena));
    let smbios = fw_cfg.as_mut().and_then(|f| smbios::install(f, &mut arena));

    inventory::print(&inventory::Platform {
        chipset: &chipset,
        memory: &memory,
        pci: &pci,
        acpi: acpi.as_ref(),
        smbios: smbios.as_ref(),
    });
    let core = match boot::start_boot_services(&memory, acpi.as_ref(), smbios.as_ref()) {
        Ok(core) => core,
        Err(status) => {
            log::error!(target: "vmfw", "boot services could not start: {status:?}");
            exit::halt_forever()
        }
    };
    if let Err(status) = efi::pci_io::install(cfg, chipset.ecam.is_some(), &pci) {
        log::error!(target: "vmfw", "PCI I/O protocols not installed: {status:?}");
    }
    x86_64::instructions::interrupts::enable();
    drivers::install_all(core);
    drivers::connect_all();
    boot::boot(core, fw_cfg.as_mut())
}
