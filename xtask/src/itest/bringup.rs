//! Bring-up tests (issue: firmware bring-up): the inventory on q35 and pc, the memory map against `-m`, the
//! RSDP checksum, the pflash form, and a deliberate fault that must be reported and exit non-zero.

use std::path::Path;
use std::time::Duration;

use super::inventory::{self, Inventory};
use super::Ctx;
use crate::qemu::{debug_exit_status, Firmware, Machine, Qemu};

pub const TESTS: &[(&str, super::TestFn)] = &[
    ("bringup_q35_inventory_lists_devices_with_sane_bars", |c| {
        inventory_devices(c, Machine::Q35)
    }),
    ("bringup_pc_inventory_lists_devices_with_sane_bars", |c| {
        inventory_devices(c, Machine::Pc)
    }),
    ("bringup_q35_memory_map_matches_512_mib", |c| {
        memory_matches(c, Machine::Q35, 512)
    }),
    ("bringup_q35_memory_map_matches_5_gib", |c| {
        memory_matches(c, Machine::Q35, 5120)
    }),
    ("bringup_pc_memory_map_matches_5_gib", |c| {
        memory_matches(c, Machine::Pc, 5120)
    }),
    ("bringup_pc_boots_from_pflash", pflash_boot),
    (
        "bringup_deliberate_page_fault_is_reported_and_exits",
        deliberate_fault,
    ),
];

const TIMEOUT: Duration = Duration::from_secs(120);

/// Disk files and the QEMU arguments for the fixed device set: virtio-blk, virtio-net, e1000, NVMe, xHCI,
/// virtio-rng, and virtio-scsi behind a bridge (a PCIe root port on q35, a PCI-PCI bridge on pc).
pub fn device_args(machine: Machine, scratch: &Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let mut disks = Vec::new();
    for name in ["blk.img", "nvme.img"] {
        let path = scratch.join(name);
        let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        file.set_len(1 << 20)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        disks.push(path.display().to_string());
    }
    let bridge = match machine {
        Machine::Q35 => "pcie-root-port,id=br1,chassis=1,slot=1",
        Machine::Pc => "pci-bridge,id=br1,chassis_nr=1",
    };
    let scsi = match machine {
        Machine::Q35 => "virtio-scsi-pci,bus=br1",
        Machine::Pc => "virtio-scsi-pci,bus=br1,addr=0x1",
    };
    Ok([
        "-drive",
        &format!("if=none,id=blk0,format=raw,file={}", disks[0]),
        "-device",
        "virtio-blk-pci,drive=blk0",
        "-device",
        "virtio-net-pci",
        "-device",
        "e1000",
        "-drive",
        &format!("if=none,id=nvme0,format=raw,file={}", disks[1]),
        "-device",
        "nvme,drive=nvme0,serial=vmfw0",
        "-device",
        "qemu-xhci",
        "-device",
        "virtio-rng-pci",
        "-device",
        bridge,
        "-device",
        scsi,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect())
}

fn boot_to_inventory(qemu: &Qemu) -> Result<Inventory, String> {
    let run = qemu.run_captured(TIMEOUT, false, |out| {
        out.contains(inventory::END) || out.contains("!!!! vmfw")
    })?;
    if run.output.contains("!!!! vmfw") || !run.output.contains(inventory::END) {
        return Err(format!(
            "firmware did not reach its inventory: {}\n$ {}",
            run.describe(),
            qemu.command_line()
        ));
    }
    inventory::parse(&run.output)
}

fn inventory_devices(ctx: &Ctx, machine: Machine) -> Result<(), String> {
    let args = device_args(machine, &ctx.scratch.join(machine.name()))?;
    let inv =
        boot_to_inventory(&Qemu::new(machine, 512, &Firmware::Bios(ctx.image.clone())).args(args))?;
    if inv.machine != machine.name() {
        return Err(format!(
            "inventory says machine {:?}, expected {}",
            inv.machine,
            machine.name()
        ));
    }
    let expected: [(&str, u16, &[u16]); 7] = [
        ("virtio-blk", 0x1af4, &[0x1001, 0x1042]),
        ("virtio-net", 0x1af4, &[0x1000, 0x1041]),
        ("virtio-rng", 0x1af4, &[0x1005, 0x1044]),
        ("virtio-scsi", 0x1af4, &[0x1004, 0x1048]),
        ("e1000", 0x8086, &[0x100e]),
        ("nvme", 0x1b36, &[0x0010]),
        ("qemu-xhci", 0x1b36, &[0x000d]),
    ];
    for (name, vendor, devices) in expected {
        let found = inv
            .pci
            .iter()
            .find(|f| f.vendor == vendor && devices.contains(&f.device));
        let Some(function) = found else {
            return Err(format!("{name} missing from the inventory: {:#?}", inv.pci));
        };
        if function.bars.is_empty() {
            return Err(format!("{name} at {} has no assigned BAR", function.bdf));
        }
        if name == "virtio-scsi" && function.bdf.starts_with("00:") {
            return Err(format!(
                "virtio-scsi should sit behind the bridge, found at {}",
                function.bdf
            ));
        }
    }
    check_bars(&inv)
}

/// Every BAR: power-of-two size, naturally aligned, non-zero, and no two BARs of one space overlap.
fn check_bars(inv: &Inventory) -> Result<(), String> {
    let mut ranges: Vec<(bool, u64, u64, String)> = Vec::new();
    for f in &inv.pci {
        for bar in &f.bars {
            let what = format!(
                "{} bar{} {}:{:#x}+{:#x}",
                f.bdf, bar.index, bar.kind, bar.address, bar.size
            );
            if !bar.size.is_power_of_two() || bar.address == 0 || bar.address % bar.size != 0 {
                return Err(format!("badly assigned BAR: {what}"));
            }
            if bar.kind.starts_with("mem32") && bar.address + bar.size > 1 << 32 {
                return Err(format!("32-bit BAR above 4 GiB: {what}"));
            }
            ranges.push((bar.kind == "io", bar.address, bar.address + bar.size, what));
        }
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            if a.0 == b.0 && a.1 < b.2 && b.1 < a.2 {
                return Err(format!("overlapping BARs: {} and {}", a.3, b.3));
            }
        }
    }
    if inv.rsdp.len() < 20 || &inv.rsdp[..8] != b"RSD PTR " {
        return Err(format!(
            "no valid RSDP in the inventory (bytes {:02x?})",
            inv.rsdp
        ));
    }
    let sum = |bytes: &[u8]| bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    if sum(&inv.rsdp[..20]) != 0 {
        return Err("RSDP checksum (first 20 bytes) is wrong".into());
    }
    if inv.rsdp[15] >= 2 && (inv.rsdp.len() < 36 || sum(&inv.rsdp[..36]) != 0) {
        return Err("RSDP extended checksum is wrong".into());
    }
    if !inv.smbios_version.starts_with("3.") {
        return Err(format!(
            "SMBIOS entry point version {:?}, expected 3.x",
            inv.smbios_version
        ));
    }
    Ok(())
}

fn memory_matches(ctx: &Ctx, machine: Machine, mib: u64) -> Result<(), String> {
    let inv = boot_to_inventory(&Qemu::new(machine, mib, &Firmware::Bios(ctx.image.clone())))?;
    if inv.ram_mib != mib {
        return Err(format!(
            "inventory reports {} MiB of RAM for -m {mib}",
            inv.ram_mib
        ));
    }
    Ok(())
}

fn pflash_boot(ctx: &Ctx) -> Result<(), String> {
    let firmware = Firmware::Pflash {
        code: ctx.image.clone(),
        vars: None,
    };
    let inv = boot_to_inventory(&Qemu::new(Machine::Pc, 512, &firmware))?;
    if inv.machine != "pc" {
        return Err(format!(
            "expected machine pc, inventory says {:?}",
            inv.machine
        ));
    }
    Ok(())
}

fn deliberate_fault(ctx: &Ctx) -> Result<(), String> {
    let qemu = Qemu::new(Machine::Q35, 512, &Firmware::Bios(ctx.image.clone()))
        .args(["-fw_cfg", "name=opt/org.vmfw/fault,string=page-fault"]);
    let run = qemu.run_captured(TIMEOUT, false, |_| false)?;
    let expected = debug_exit_status(0x31);
    if run.exit_code != Some(expected) {
        return Err(format!(
            "expected QEMU exit status {expected} from isa-debug-exit: {}",
            run.describe()
        ));
    }
    for needle in [
        "CPU exception 14 (#PF page fault)",
        "RIP 0x",
        "CR2 0x0000000fdead0000",
        "RAX 0x",
    ] {
        if !run.output.contains(needle) {
            return Err(format!("fault report lacks {needle:?}: {}", run.describe()));
        }
    }
    Ok(())
}
