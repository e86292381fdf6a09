//! PCI bring-up: enumerate every bus, assign BARs and bridge windows, enable decoding (never bus mastering:
//! that is a driver's decision when it starts a device).
//!
//! Configuration access is ECAM on q35 (4 KiB per function, PCIe extended space) and ports 0xCF8/0xCFC on pc.
//! The address windows handed to `pci::resources::assign` (see docs/bring-up.md, "Order of bring-up"):
//! I/O 0xC000..0x10000; 32-bit MMIO from 0xC000_0000 on q35 (above ECAM) or from the top of low RAM rounded up
//! to 256 MiB (at least 2 GiB) on pc, to 0xFC00_0000; 64-bit MMIO: 32 GiB, 1 GiB aligned, above RAM and above
//! QEMU's `etc/reserved-memory-end` (the memory-hotplug area), within the CPU's physical address width.

use alloc::vec::Vec;
use core::ops::Range;

use pci::config::{ConfigSpace, EcamConfigAccess, PortConfigAccess};
use pci::enumerate::{enumerate, PciFunction};
use pci::resources::{assign, Inventory, Windows};
use qemu::fw_cfg::FwCfg;

use super::chipset::{Chipset, MachineKind};
use crate::arch::io::X86PortIo;

const GIB: u64 = 1 << 30;
const MMIO32_END: u64 = 0xfc00_0000;
const MMIO64_SIZE: u64 = 32 * GIB;

/// The result of PCI bring-up.
pub struct Pci {
    /// Every function found, depth-first.
    pub functions: Vec<PciFunction>,
    /// Assigned resources, per function, and what did not fit.
    pub resources: Inventory,
    /// The windows resources were assigned from.
    pub windows: Windows,
}

/// Configuration access for this machine: ECAM when the chipset has it, port I/O otherwise.
pub fn config_access(chipset: &Chipset) -> (alloc::boxed::Box<dyn ConfigSpace>, u8) {
    if let Some((base, size)) = chipset.ecam {
        let buses = (size >> 20) as u16;
        // SAFETY: the chipset just enabled ECAM at `base` for `buses` buses; the range is identity-mapped MMIO
        // (below 4 GiB) reserved in the memory map, and nothing else maps it.
        match unsafe { EcamConfigAccess::new(base, buses) } {
            Ok(ecam) => {
                let last = ecam.last_bus();
                return (alloc::boxed::Box::new(ecam), last);
            }
            Err(e) => {
                log::error!(target: "pci", "ECAM at {base:#x} unusable ({e:?}); using port I/O")
            }
        }
    }
    (
        alloc::boxed::Box::new(PortConfigAccess::new(X86PortIo)),
        255,
    )
}

/// Highest physical address + 1 the CPU can address (CPUID 0x8000_0008 EAX[7:0]), 36 bits if not reported.
fn physical_address_limit() -> u64 {
    let max_extended = core::arch::x86_64::__cpuid(0x8000_0000).eax;
    let bits = if max_extended >= 0x8000_0008 {
        (core::arch::x86_64::__cpuid(0x8000_0008).eax & 0xff) as u64
    } else {
        36
    };
    1u64 << bits.clamp(36, 52)
}

/// The windows for this machine and memory map.
pub fn windows(
    chipset: &Chipset,
    low_ram_top: u64,
    ram_top: u64,
    fw_cfg: Option<&mut FwCfg<X86PortIo>>,
) -> Windows {
    let mem32_start = match chipset.kind {
        MachineKind::Q35 => 0xc000_0000,
        MachineKind::Pc => low_ram_top
            .div_ceil(256 << 20)
            .saturating_mul(256 << 20)
            .max(2 * GIB),
    };
    let reserved_end = fw_cfg
        .and_then(|f| {
            let mut bytes = [0u8; 8];
            f.read_file_into("etc/reserved-memory-end", &mut bytes)
                .ok()
                .map(|_| u64::from_le_bytes(bytes))
        })
        .unwrap_or(0);
    let mem64_start = ram_top.max(reserved_end).max(4 * GIB).div_ceil(GIB) * GIB;
    let mem64_end = (mem64_start + MMIO64_SIZE).min(physical_address_limit());
    Windows {
        io: 0xc000..0x1_0000,
        mem32: mem32_start..MMIO32_END,
        mem64: mem64_start..mem64_end.max(mem64_start),
    }
}

/// Enumerates and assigns. Errors are logged; the firmware goes on with whatever was found.
pub fn init(cfg: &mut dyn ConfigSpace, last_bus: u8, windows: Windows) -> Pci {
    let functions = enumerate(cfg, last_bus).unwrap_or_else(|e| {
        log::error!(target: "pci", "enumeration stopped: {e:?}");
        Vec::new()
    });
    let resources = assign(cfg, &functions, &windows).unwrap_or_else(|e| {
        log::error!(target: "pci", "resource assignment failed: {e:?}");
        Inventory {
            functions: Vec::new(),
            unassigned: Vec::new(),
        }
    });
    log::info!(target: "pci", "{} functions, {} resources unassigned", functions.len(), resources.unassigned.len());
    Pci {
        functions,
        resources,
        windows,
    }
}

/// The highest address any 64-bit BAR or bridge window reaches (for the identity map).
pub fn mmio_top(pci: &Pci) -> u64 {
    let ends = pci.resources.functions.iter().flat_map(|f| {
        let bars = f.bars.iter().filter_map(|b| b.address.map(|a| a + b.size));
        let windows = f
            .bridge
            .iter()
            .flat_map(|w| [w.mem.clone(), w.pref.clone()])
            .flatten()
            .map(|r: Range<u64>| r.end);
        bars.chain(windows).collect::<Vec<_>>()
    });
    ends.max().unwrap_or(0)
}
