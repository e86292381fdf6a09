//! Linux boots: Debian's kernel and a busybox initramfs (see `assets`), reached three ways:
//! 1. a unified kernel image as `\EFI\BOOT\BOOTX64.EFI` on a GPT/FAT32 ESP on virtio-blk;
//! 2. systemd-boot as `\EFI\BOOT\BOOTX64.EFI` with a Boot Loader Specification entry;
//! 3. QEMU direct boot (`-kernel`, `-initrd`, `-append`).
//!
//! Every boot is judged by `assets::check_guest` on the serial console. The same boots run on OVMF as the
//! reference that shows the inputs and checks are right.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Ctx;
use crate::assets::{self, CMDLINE, MARKER};
use crate::disk::{self, Entry};
use crate::qemu::{Firmware, Machine, Qemu, Run};

/// Generous: a TCG boot takes seconds; this only fails a hang.
const TIMEOUT: Duration = Duration::from_secs(300);

/// How Linux is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BootPath {
    /// A unified kernel image as the removable-media loader of a virtio-blk ESP.
    Uki,
    /// systemd-boot with a Boot Loader Specification entry on a virtio-blk ESP.
    SystemdBoot,
    /// QEMU `-kernel`/`-initrd`/`-append`.
    Direct,
}

impl BootPath {
    /// A short name for files and test names.
    pub fn name(self) -> &'static str {
        match self {
            BootPath::Uki => "uki",
            BootPath::SystemdBoot => "systemd-boot",
            BootPath::Direct => "direct",
        }
    }
}

/// The disk image that boots Linux by `path` (`None` for direct boot), built under `target/assets`.
pub fn disk_image(path: BootPath) -> Result<Option<PathBuf>, String> {
    let debian = assets::debian()?;
    let initrd = assets::initramfs(&debian)?;
    let dir = crate::target_dir().join("assets");
    let disk_for = |entries: &[Entry]| -> Result<PathBuf, String> {
        let out = dir.join(format!("{}.img", path.name()));
        disk::esp_disk(&out, path.name(), entries)?;
        Ok(out)
    };
    let disk = match path {
        BootPath::Uki => {
            let uki = assets::uki(&debian, &initrd, CMDLINE)?;
            disk_for(&[Entry::file("EFI/BOOT/BOOTX64.EFI", &uki)])?
        }
        BootPath::SystemdBoot => disk_for(&[
            Entry::file("EFI/BOOT/BOOTX64.EFI", &debian.systemd_boot),
            Entry::bytes("loader/loader.conf", "timeout 0\ndefault vmfw.conf\n"),
            Entry::bytes(
                "loader/entries/vmfw.conf",
                format!("title Debian (vmfw test)\nlinux /vmlinuz\ninitrd /initrd.cpio\noptions {CMDLINE}\n"),
            ),
            Entry::file("vmlinuz", &debian.kernel),
            Entry::file("initrd.cpio", &initrd),
        ])?,
        BootPath::Direct => return Ok(None),
    };
    Ok(Some(disk))
}

/// The QEMU arguments of a virtio-blk disk `file` with drive id `id` and `extra` device properties
/// (`bootindex=N`, `addr=N`).
pub fn virtio_disk(id: &str, file: &Path, extra: &str) -> Vec<String> {
    vec![
        "-drive".into(),
        format!("if=none,id={id},format=raw,file={}", file.display()),
        "-device".into(),
        format!("virtio-blk-pci,drive={id}{extra}"),
    ]
}

/// The QEMU arguments that give the guest Linux by `path`, building what it needs under `target/assets`.
pub fn boot_args(path: BootPath) -> Result<Vec<String>, String> {
    let Some(disk) = disk_image(path)? else {
        let debian = assets::debian()?;
        let initrd = assets::initramfs(&debian)?;
        return Ok(vec![
            "-kernel".into(),
            debian.kernel.display().to_string(),
            "-initrd".into(),
            initrd.display().to_string(),
            "-append".into(),
            CMDLINE.into(),
            "-net".into(),
            "none".into(),
        ]);
    };
    let mut args = virtio_disk("esp", &disk, ",bootindex=1");
    args.extend(["-net".into(), "none".into()]);
    Ok(args)
}

/// Boots Linux by `path` on `firmware` and returns the run once the initramfs marker appeared or the guest
/// stopped.
pub fn boot(firmware: &Firmware, machine: Machine, path: BootPath) -> Result<(Qemu, Run), String> {
    let qemu = Qemu::new(machine, 512, firmware).args(boot_args(path)?);
    let run = qemu.run_captured(TIMEOUT, false, |out| out.contains(MARKER))?;
    Ok((qemu, run))
}

/// The EFI global variable GUID as efivarfs names show it.
const EFI_GLOBAL_GUID: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// The boot manager's variables the guest must see in efivarfs (UEFI 2.10 section 3.3): at least one
/// `Boot####`, `BootOrder` and `BootCurrent`, plus `extra` names.
fn check_boot_variables(output: &str, extra: &[&str]) -> Result<(), String> {
    let names: Vec<&str> = output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("vmfw-guest: efivar "))
        .filter_map(|v| v.strip_suffix(EFI_GLOBAL_GUID)?.strip_suffix('-'))
        .collect();
    let is_option = |n: &&str| {
        n.len() == 8
            && n.starts_with("Boot")
            && n[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    };
    let mut missing = Vec::new();
    if !names.iter().any(is_option) {
        missing.push("Boot####");
    }
    for needed in ["BootOrder", "BootCurrent"].iter().chain(extra) {
        if !names.contains(needed) {
            missing.push(needed);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "efivarfs lacks {} (global variables seen: {})",
            missing.join(", "),
            names.join(" ")
        ))
    }
}

/// Boots and judges the guest; with `boot_variables`, also checks the boot manager's variables in efivarfs.
fn judge(
    firmware: &Firmware,
    machine: Machine,
    path: BootPath,
    boot_variables: bool,
) -> Result<(), String> {
    let (qemu, run) = boot(firmware, machine, path)?;
    assets::check_guest(&run.output)
        .and_then(|()| {
            if boot_variables {
                check_boot_variables(&run.output, &[])
            } else {
                Ok(())
            }
        })
        .map_err(|why| format!("{why}\n{}\n{}", qemu.command_line(), run.describe()))
}

/// Linux by `path` on OVMF (q35): the reference. Its boot variables are checked for disk boots (OVMF starts
/// `-kernel` outside its boot options, so it sets no `BootCurrent` for it).
pub fn on_ovmf(ctx: &Ctx, path: BootPath) -> Result<(), String> {
    judge(
        &Firmware::ovmf(&ctx.scratch, path.name())?,
        Machine::Q35,
        path,
        path != BootPath::Direct,
    )
}

/// Linux by `path` on vmfw, with the boot variables checked (`-kernel` is a `Boot####` option too).
pub fn on_vmfw(ctx: &Ctx, machine: Machine, path: BootPath) -> Result<(), String> {
    judge(&Firmware::Bios(ctx.image.clone()), machine, path, true)
}

/// The console from the kernel's first line on (the guest's part; the firmware's log before it may name errors
/// on purpose).
fn guest_part(output: &str) -> &str {
    match output.find("Linux version") {
        Some(at) => &output[output[..at].rfind('\n').map_or(0, |nl| nl + 1)..],
        None => "",
    }
}

/// The UKI with QEMU's boot menu wait (`-boot menu=on,splash-time=1000`): vmfw sets `Timeout` to 1 s, waits it
/// out (nobody presses a key) and boots; the guest sees `Timeout`.
fn uki_with_menu_wait(ctx: &Ctx, machine: Machine) -> Result<(), String> {
    let qemu = Qemu::new(machine, 512, &Firmware::Bios(ctx.image.clone()))
        .args(boot_args(BootPath::Uki)?)
        .args(["-boot", "menu=on,splash-time=1000"]);
    let run = qemu.run_captured(TIMEOUT, false, |out| out.contains(MARKER))?;
    let fail = |why: String| format!("{why}\n{}\n{}", qemu.command_line(), run.describe());
    assets::check_guest(&run.output).map_err(fail)?;
    check_boot_variables(&run.output, &["Timeout", "BootOptionSupport"]).map_err(fail)?;
    if !run.output.contains("Timeout: waiting 1 s") {
        return Err(fail("the firmware did not wait the 1 s Timeout".into()));
    }
    Ok(())
}

/// A first disk (`bootindex=1`, PCI slot 6) that cannot boot, then the UKI disk (`bootindex=2`, slot 5, so
/// enumeration order alone would have tried it first): the firmware must report the bad disk with every line of
/// `expected` (in the firmware's log, before Linux starts) and then boot Linux from the good one.
fn boots_after_bad_disk(ctx: &Ctx, bad: &Path, expected: &[&str]) -> Result<(), String> {
    let good = disk_image(BootPath::Uki)?.ok_or("the UKI path has a disk")?;
    let mut args = virtio_disk("good", &good, ",addr=0x5,bootindex=2");
    args.extend(virtio_disk("bad", bad, ",addr=0x6,bootindex=1"));
    args.extend(["-net".into(), "none".into()]);
    let qemu = Qemu::new(Machine::Q35, 512, &Firmware::Bios(ctx.image.clone())).args(args);
    let run = qemu.run_captured(TIMEOUT, false, |out| out.contains(MARKER))?;
    let fail = |why: String| format!("{why}\n{}\n{}", qemu.command_line(), run.describe());
    let firmware_log = &run.output[..run.output.len() - guest_part(&run.output).len()];
    for needle in expected {
        if !firmware_log.contains(needle) {
            return Err(fail(format!(
                "the firmware never said {needle:?} before Linux started"
            )));
        }
    }
    let bad_first = firmware_log
        .find("booting Boot")
        .and_then(|at| firmware_log[at..].lines().next());
    if !bad_first.is_some_and(|l| l.contains("PCI 06.0")) {
        return Err(fail(format!(
            "the bootindex=1 disk (PCI 06.0) was not tried first: {bad_first:?}"
        )));
    }
    assets::check_guest(guest_part(&run.output))
        .and_then(|()| check_boot_variables(&run.output, &[]))
        .map_err(fail)
}

fn bad_disk_path(ctx: &Ctx, name: &str) -> PathBuf {
    ctx.scratch.join(format!("{name}.img"))
}

/// BOOTX64.EFI is text, not a PE image: LoadImage fails with EFI_LOAD_ERROR and says why.
fn after_non_pe_loader(ctx: &Ctx) -> Result<(), String> {
    let bad = bad_disk_path(ctx, "not-pe");
    disk::esp_disk(
        &bad,
        "not-pe",
        &[Entry::bytes(
            "EFI/BOOT/BOOTX64.EFI",
            "#!/bin/sh\necho this is not a PE image\n",
        )],
    )?;
    boots_after_bad_disk(
        ctx,
        &bad,
        &[
            "LoadImage: PciRoot(0x0)/Pci(0x6,0x0)/HD(1,GPT,",
            "not a loadable PE32+ image",
            "EFI_LOAD_ERROR",
        ],
    )
}

/// The first disk's GPT is corrupt (both headers): the partition driver says so, the disk becomes a bare-disk
/// option that LoadImage cannot serve, and the boot manager moves on.
fn after_corrupt_gpt(ctx: &Ctx) -> Result<(), String> {
    let bad = bad_disk_path(ctx, "corrupt-gpt");
    super::bad_disks::corrupt_gpt_disk(&bad)?;
    boots_after_bad_disk(
        ctx,
        &bad,
        &[
            "both headers are invalid",
            ": LoadImage: PciRoot(0x0)/Pci(0x6,0x0): no file system, LoadFile2 or LoadFile provider",
        ],
    )
}

/// The first disk's BOOTX64.EFI has a looping FAT cluster chain: reading it fails with a clear reason instead of
/// spinning, and the boot manager moves on.
fn after_looping_fat(ctx: &Ctx) -> Result<(), String> {
    let bad = bad_disk_path(ctx, "looping-fat");
    super::bad_disks::looping_fat_disk(&bad, &assets::debian()?.systemd_boot)?;
    boots_after_bad_disk(
        ctx,
        &bad,
        &[
            "loops or is longer than the volume",
            "LoadImage: PciRoot(0x0)/Pci(0x6,0x0)/HD(1,GPT,",
            "/\\EFI\\BOOT\\BOOTX64.EFI: reading failed after 0 of",
            "EFI_VOLUME_CORRUPTED",
        ],
    )
}

/// Nothing bootable: an ESP without a loader and a blank disk. The firmware lists both options with the reason
/// each failed, waits, and resets (QEMU exits: `-no-reboot`).
fn nothing_to_boot(ctx: &Ctx) -> Result<(), String> {
    let empty = bad_disk_path(ctx, "empty-esp");
    disk::esp_disk(
        &empty,
        "empty-esp",
        &[Entry::bytes("README.TXT", "no loader here\n")],
    )?;
    let blank = bad_disk_path(ctx, "blank");
    std::fs::write(&blank, vec![0u8; 8 << 20]).map_err(|e| format!("{}: {e}", blank.display()))?;
    let mut args = virtio_disk("empty", &empty, ",addr=0x5");
    args.extend(virtio_disk("blank", &blank, ",addr=0x6"));
    args.extend(["-net".into(), "none".into()]);
    let qemu = Qemu::new(Machine::Q35, 512, &Firmware::Bios(ctx.image.clone())).args(args);
    let run = qemu.run_captured(Duration::from_secs(120), false, |_| false)?;
    let fail = |why: String| format!("{why}\n{}\n{}", qemu.command_line(), run.describe());
    if run.exit_code != Some(0) || run.timed_out {
        return Err(fail("QEMU did not exit by the firmware's reset".into()));
    }
    let report = run
        .output
        .find("no boot option succeeded; tried, in order:")
        .map(|at| &run.output[at..])
        .ok_or_else(|| fail("no list of what was tried".into()))?;
    for needle in [
        "\"UEFI disk PCI 05.0 partition 1\": PciRoot(0x0)/Pci(0x5,0x0)/HD(1,GPT,",
        "/\\EFI\\BOOT\\BOOTX64.EFI: file not found (EFI_NOT_FOUND)",
        "\"UEFI disk PCI 06.0\": PciRoot(0x0)/Pci(0x6,0x0): no file system, LoadFile2 or LoadFile provider",
        "resetting in 10 s",
    ] {
        if !report.contains(needle) {
            return Err(fail(format!("the report lacks {needle:?}")));
        }
    }
    Ok(())
}

/// The tests of this module.
pub const TESTS: &[(&str, super::TestFn)] = &[
    ("linux_uki_reference_ovmf", |c| on_ovmf(c, BootPath::Uki)),
    ("linux_systemd_boot_reference_ovmf", |c| {
        on_ovmf(c, BootPath::SystemdBoot)
    }),
    ("linux_direct_reference_ovmf", |c| {
        on_ovmf(c, BootPath::Direct)
    }),
    ("linux_direct_q35", |c| {
        on_vmfw(c, Machine::Q35, BootPath::Direct)
    }),
    ("linux_direct_pc", |c| {
        on_vmfw(c, Machine::Pc, BootPath::Direct)
    }),
    ("linux_uki_q35", |c| on_vmfw(c, Machine::Q35, BootPath::Uki)),
    ("linux_uki_pc", |c| on_vmfw(c, Machine::Pc, BootPath::Uki)),
    ("linux_uki_pc_with_boot_menu_timeout", |c| {
        uki_with_menu_wait(c, Machine::Pc)
    }),
    ("linux_systemd_boot_q35", |c| {
        on_vmfw(c, Machine::Q35, BootPath::SystemdBoot)
    }),
    ("linux_systemd_boot_pc", |c| {
        on_vmfw(c, Machine::Pc, BootPath::SystemdBoot)
    }),
    ("linux_boots_after_a_corrupt_gpt_disk", after_corrupt_gpt),
    ("linux_boots_after_a_looping_fat_disk", after_looping_fat),
    ("linux_boots_after_a_non_pe_loader", after_non_pe_loader),
    (
        "boot_manager_lists_what_it_tried_and_resets",
        nothing_to_boot,
    ),
];
