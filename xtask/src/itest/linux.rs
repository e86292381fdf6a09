//! Linux boots: Debian's kernel and a busybox initramfs (see `assets`), reached three ways:
//! 1. a unified kernel image as `\EFI\BOOT\BOOTX64.EFI` on a GPT/FAT32 ESP on virtio-blk;
//! 2. systemd-boot as `\EFI\BOOT\BOOTX64.EFI` with a Boot Loader Specification entry;
//! 3. QEMU direct boot (`-kernel`, `-initrd`, `-append`).
//!
//! Every boot is judged by `assets::check_guest` on the serial console. The same boots run on OVMF as the
//! reference that shows the inputs and checks are right.

use std::path::PathBuf;
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

/// The QEMU arguments that give the guest Linux by `path`, building what it needs under `target/assets`.
pub fn boot_args(path: BootPath) -> Result<Vec<String>, String> {
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
        BootPath::Direct => {
            return Ok(vec![
                "-kernel".into(),
                debian.kernel.display().to_string(),
                "-initrd".into(),
                initrd.display().to_string(),
                "-append".into(),
                CMDLINE.into(),
                "-net".into(),
                "none".into(),
            ])
        }
    };
    Ok(vec![
        "-drive".into(),
        format!("if=none,id=esp,format=raw,file={}", disk.display()),
        "-device".into(),
        "virtio-blk-pci,drive=esp,bootindex=1".into(),
        "-net".into(),
        "none".into(),
    ])
}

/// Boots Linux by `path` on `firmware` and returns the run once the initramfs marker appeared or the guest
/// stopped.
pub fn boot(firmware: &Firmware, machine: Machine, path: BootPath) -> Result<(Qemu, Run), String> {
    let qemu = Qemu::new(machine, 512, firmware).args(boot_args(path)?);
    let run = qemu.run_captured(TIMEOUT, false, |out| out.contains(MARKER))?;
    Ok((qemu, run))
}

fn judge(firmware: &Firmware, machine: Machine, path: BootPath) -> Result<(), String> {
    let (qemu, run) = boot(firmware, machine, path)?;
    assets::check_guest(&run.output)
        .map_err(|why| format!("{why}\n{}\n{}", qemu.command_line(), run.describe()))
}

/// Linux by `path` on OVMF (q35): the reference.
pub fn on_ovmf(ctx: &Ctx, path: BootPath) -> Result<(), String> {
    judge(
        &Firmware::ovmf(&ctx.scratch, path.name())?,
        Machine::Q35,
        path,
    )
}

/// Linux by `path` on vmfw.
pub fn on_vmfw(ctx: &Ctx, machine: Machine, path: BootPath) -> Result<(), String> {
    judge(&Firmware::Bios(ctx.image.clone()), machine, path)
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
];
