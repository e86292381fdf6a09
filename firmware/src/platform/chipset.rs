//! The two QEMU chipsets: q35 (MCH + ICH9) and pc (i440FX + PIIX3/PIIX4 PM).
//!
//! Bring-up programs what QEMU leaves to firmware and reads back when it builds ACPI tables:
//! - q35: PCIEXBAR (MCH 00:00.0, offset 0x60, 64 bits) enables ECAM at [`ECAM_BASE`] for 256 buses (256 MiB);
//!   the ACPI PM I/O block at [`PM_BASE`] through the LPC bridge 00:1f.0 (PMBASE 0x40, ACPI_CNTL 0x44 bit 7).
//! - pc: the ACPI PM I/O block through the PIIX4 PM function 00:01.3 (PMBA 0x40, PMREGMISC 0x80 bit 0).
//!
//! Sources: Intel 3 Series (MCH) datasheet section 5.1.12, ICH9 datasheet section 13.8.3, PIIX4 datasheet
//! section 3.4.2 (function 3 configuration), as QEMU models them.

use hw::PortIo;
use pci::config::{Bdf, ConfigSpace, PortConfigAccess};

use crate::arch::io::X86PortIo;

/// Where ECAM is placed on q35 (256 MiB: buses 0..=255), below the 32-bit PCI MMIO window.
pub const ECAM_BASE: u64 = 0xb000_0000;
/// Size of the ECAM window on q35.
pub const ECAM_SIZE: u64 = 256 << 20;
/// ACPI PM I/O base on both machines (below the PCI I/O window at 0xC000).
pub const PM_BASE: u16 = 0x600;

const HOST_BRIDGE: Bdf = Bdf {
    bus: 0,
    device: 0,
    function: 0,
};
const Q35_LPC: Bdf = Bdf {
    bus: 0,
    device: 0x1f,
    function: 0,
};
const PIIX4_PM: Bdf = Bdf {
    bus: 0,
    device: 1,
    function: 3,
};
const Q35_PCIEXBAR: u16 = 0x60;
const ICH9_PMBASE: u16 = 0x40;
const ICH9_ACPI_CNTL: u16 = 0x44;
const ICH9_ACPI_EN: u8 = 1 << 7;
const PIIX4_PMBA: u16 = 0x40;
const PIIX4_PMREGMISC: u16 = 0x80;
const PIIX4_PMIOSE: u8 = 1 << 0;

/// Which QEMU machine this is, told by the host bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineKind {
    /// `-machine q35`: host bridge 8086:29c0.
    Q35,
    /// `-machine pc`: host bridge 8086:1237.
    Pc,
}

impl MachineKind {
    /// The QEMU machine name.
    pub fn name(self) -> &'static str {
        match self {
            MachineKind::Q35 => "q35",
            MachineKind::Pc => "pc",
        }
    }
}

/// The chipset as bring-up left it.
#[derive(Clone, Copy, Debug)]
pub struct Chipset {
    /// The machine type.
    pub kind: MachineKind,
    /// ACPI PM I/O base (PM1a event/control, PM timer at +8).
    pub pm_base: u16,
    /// ECAM window `(base, size)` when the machine has one (q35).
    pub ecam: Option<(u64, u64)>,
}

/// Identifies the machine and programs ECAM (q35) and the ACPI PM I/O block. Fails on an unknown host bridge.
pub fn init() -> Result<Chipset, (u16, u16)> {
    let mut cfg = PortConfigAccess::new(X86PortIo);
    let id = cfg.read32(HOST_BRIDGE, 0);
    let (vendor, device) = (id as u16, (id >> 16) as u16);
    let kind = match (vendor, device) {
        (0x8086, 0x29c0) => MachineKind::Q35,
        (0x8086, 0x1237) => MachineKind::Pc,
        _ => return Err((vendor, device)),
    };
    let ecam = match kind {
        MachineKind::Q35 => {
            // High half first, then the low half with the enable bit; length field 00b = 256 MiB.
            cfg.write32(HOST_BRIDGE, Q35_PCIEXBAR + 4, (ECAM_BASE >> 32) as u32);
            cfg.write32(HOST_BRIDGE, Q35_PCIEXBAR, ECAM_BASE as u32 | 1);
            cfg.write32(Q35_LPC, ICH9_PMBASE, u32::from(PM_BASE) | 1);
            let cntl = cfg.read8(Q35_LPC, ICH9_ACPI_CNTL);
            cfg.write8(Q35_LPC, ICH9_ACPI_CNTL, cntl | ICH9_ACPI_EN);
            Some((ECAM_BASE, ECAM_SIZE))
        }
        MachineKind::Pc => {
            cfg.write32(PIIX4_PM, PIIX4_PMBA, u32::from(PM_BASE) | 1);
            let misc = cfg.read8(PIIX4_PM, PIIX4_PMREGMISC);
            cfg.write8(PIIX4_PM, PIIX4_PMREGMISC, misc | PIIX4_PMIOSE);
            None
        }
    };
    log::info!(target: "chipset", "{} chipset, ACPI PM base {:#x}{}", kind.name(), PM_BASE,
        ecam.map(|(b, s)| alloc::format!(", ECAM {:#x}+{:#x}", b, s)).unwrap_or_default());
    // The PM timer must now tick; a dead timer would hang `stall`.
    let timer = PM_BASE + 8;
    let t0 = X86PortIo.read32(timer);
    let mut alive = false;
    for _ in 0..100_000 {
        if X86PortIo.read32(timer) != t0 {
            alive = true;
            break;
        }
    }
    if !alive {
        log::error!(target: "chipset", "ACPI PM timer at {timer:#x} does not count");
    }
    Ok(Chipset {
        kind,
        pm_base: PM_BASE,
        ecam,
    })
}
