//! The inventory screen printed at the end of bring-up: machine, memory map, PCI functions with their BARs,
//! ACPI RSDP, SMBIOS, and the milliseconds since reset. Its line format is parsed by the integration tests
//! (`xtask/src/itest/inventory.rs`): keep the two in step.

use alloc::string::String;
use core::fmt::Write;

use pci::resources::BarKind;

use super::acpi::{self, Acpi};
use super::chipset::Chipset;
use super::memory::Memory;
use super::pci::Pci;
use super::smbios::Smbios;

const MIB: u64 = 1 << 20;

/// Everything bring-up found.
pub struct Platform<'a> {
    pub chipset: &'a Chipset,
    pub memory: &'a Memory,
    pub pci: &'a Pci,
    pub acpi: Option<&'a Acpi>,
    pub smbios: Option<&'a Smbios>,
}

/// Prints the inventory.
pub fn print(p: &Platform) {
    println!("==== vmfw inventory ====");
    let c = p.chipset;
    print!("machine: {}, ACPI PM base {:#x}", c.kind.name(), c.pm_base);
    if let Some((base, size)) = c.ecam {
        print!(", ECAM {base:#x}+{size:#x}");
    }
    println!();
    let ranges = &p.memory.ranges;
    println!(
        "memory: total {} MiB RAM from {}, {} MiB free, {} ranges",
        p.memory.platform_ram_bytes / MIB,
        p.memory.source,
        ranges.free_ram_bytes() / MIB,
        ranges.len()
    );
    for r in ranges.iter() {
        let size = r.end - r.start;
        let (value, unit) = if size >= MIB {
            (size / MIB, "MiB")
        } else {
            (size >> 10, "KiB")
        };
        println!(
            "  {:#018x}-{:#018x} {value:>6} {unit} {:?}",
            r.start,
            r.end - 1,
            r.kind
        );
    }
    let (used, free) = crate::heap::usage();
    println!(
        "memory: heap {} KiB used, {} KiB free",
        used >> 10,
        free >> 10
    );
    for (function, resources) in p
        .pci
        .functions
        .iter()
        .map(|f| (f, p.pci.resources.functions.iter().find(|r| r.bdf == f.bdf)))
    {
        let mut line = String::new();
        let _ = write!(
            line,
            "pci: {} {:04x}:{:04x} class {:02x}{:02x}{:02x}",
            function.bdf,
            function.vendor_id,
            function.device_id,
            function.class,
            function.subclass,
            function.prog_if
        );
        if let Some(buses) = function.bridge_buses {
            let _ = write!(
                line,
                " bridge buses {:02x}..{:02x}",
                buses.secondary, buses.subordinate
            );
        }
        for bar in resources.iter().flat_map(|r| r.bars.iter()) {
            let kind = match bar.kind {
                BarKind::Io => "io",
                BarKind::Mem32 => "mem32",
                BarKind::Mem64 => "mem64",
            };
            match bar.address {
                Some(address) => {
                    let _ = write!(
                        line,
                        " bar{}={kind}{}:{address:#x}+{:#x}",
                        bar.index,
                        if bar.prefetchable { "p" } else { "" },
                        bar.size
                    );
                }
                None => {
                    let _ = write!(line, " bar{}={kind}:unassigned+{:#x}", bar.index, bar.size);
                }
            }
        }
        if let Some(w) = resources.and_then(|r| r.bridge.as_ref()) {
            for (name, window) in [("io", &w.io), ("mem", &w.mem), ("pref", &w.pref)] {
                if let Some(window) = window {
                    let _ = write!(
                        line,
                        " window-{name}={:#x}..{:#x}",
                        window.start, window.end
                    );
                }
            }
        }
        println!("{line}");
    }
    let w = &p.pci.windows;
    println!(
        "pci-windows: io {:#x}..{:#x} mem32 {:#x}..{:#x} mem64 {:#x}..{:#x}",
        w.io.start, w.io.end, w.mem32.start, w.mem32.end, w.mem64.start, w.mem64.end
    );
    match p.acpi {
        Some(a) => {
            let mut hex = String::new();
            for b in acpi::rsdp_bytes(a) {
                let _ = write!(hex, "{b:02x}");
            }
            println!(
                "acpi: rsdp {:#x} revision {} oem {} bytes {hex}",
                a.rsdp,
                a.info.revision,
                a.info.oem_id_str().unwrap_or("?")
            );
        }
        None => println!("acpi: none"),
    }
    match p.smbios {
        Some(s) => println!(
            "smbios: {}.{}.{} entry point {:#x} table {:#x}+{:#x} {} structures, system {:?} {:?}",
            s.version.0,
            s.version.1,
            s.version.2,
            s.entry_point,
            s.table.0,
            s.table.1,
            s.structures,
            s.inventory.system_manufacturer.as_deref().unwrap_or("?"),
            s.inventory.system_product.as_deref().unwrap_or("?")
        ),
        None => println!("smbios: none"),
    }
    println!(
        "time: {} ms since reset",
        super::timer::micros_since_reset() / 1000
    );
    println!("==== end of inventory ====");
}
