//! virtio-blk integration tests: the self-test's `blockio` group on real QEMU virtio-blk devices, under vmfw on
//! q35 and pc and under OVMF (the reference that shows the checks expect what the specification says).
//!
//! Each run creates three 16 MiB raw disk files in the scratch directory whose sectors carry the pattern of
//! `tools/bs-selftest/src/blockio/spec.rs` (shared below by `#[path]`, so both sides use one definition), attaches
//! them at fixed slots as a modern-only (`disable-legacy=on`), a legacy-only transitional (`disable-modern=on`)
//! and a default transitional virtio-blk function (both interfaces: vmfw picks the modern one), one of the first
//! two read-only, and describes them to the app in its load options (`-append blockio=...`). A run passes when:
//! - the self-test passes (exit status 33, `N passed, 0 failed`) and every disk's last check line is there (the
//!   group did not skip);
//! - afterwards the writable file holds the written blocks at `WRITE_LBA..` and its original pattern everywhere
//!   else, and the read-only file is unchanged;
//! - under vmfw, the serial log shows each disk's quiesce exactly once, after the app called ExitBootServices.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Ctx, TestFn};
use crate::qemu::{Firmware, Machine, Qemu};
use crate::uefi_app::{build_app, verdict, SELFTEST_PACKAGE};

/// The disk pattern and the load-options format, shared with the app.
#[allow(dead_code)]
#[path = "../../../tools/bs-selftest/src/blockio/spec.rs"]
mod spec;

pub const TESTS: &[(&str, TestFn)] = &[
    ("blockio_q35_modern_rw_legacy_ro", |c| {
        run(c, Machine::Q35, Reference::Vmfw)
    }),
    ("blockio_pc_legacy_rw_modern_ro", |c| {
        run(c, Machine::Pc, Reference::Vmfw)
    }),
    ("blockio_reference_ovmf_q35", |c| {
        run(c, Machine::Q35, Reference::Ovmf)
    }),
];

/// OVMF, as `uefi_app` uses it (Debian package `ovmf`).
const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// 16 MiB disks: room for the 1 MiB and 6 MiB reads.
const SECTORS: u64 = 32 * 1024;
const SECTOR: usize = 512;
/// Generous: a run takes seconds under TCG; this only fails a hang.
const TIMEOUT: Duration = Duration::from_secs(300);
/// The line the self-test prints just before its first ExitBootServices.
const EXIT_MARKER: &str = "selftest: calling ExitBootServices";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reference {
    Vmfw,
    Ovmf,
}

/// The virtio PCI interfaces a disk offers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Interfaces {
    /// `disable-legacy=on`: device 0x1042, modern interface only.
    ModernOnly,
    /// `disable-modern=on`: device 0x1001, legacy interface only.
    LegacyOnly,
    /// QEMU's default on the root bus: device 0x1001 with both interfaces.
    Both,
}

/// One attached disk.
struct Disk {
    spec: spec::DiskSpec,
    path: PathBuf,
    interfaces: Interfaces,
}

impl Disk {
    fn qemu_args(&self) -> [String; 4] {
        let id = format!("blk{:x}", self.spec.device);
        let readonly = if self.spec.read_only {
            ",readonly=on"
        } else {
            ""
        };
        let interface = match self.interfaces {
            Interfaces::ModernOnly => ",disable-legacy=on",
            Interfaces::LegacyOnly => ",disable-modern=on",
            Interfaces::Both => "",
        };
        [
            "-drive".into(),
            format!(
                "if=none,id={id},format=raw,file={}{readonly}",
                self.path.display()
            ),
            "-device".into(),
            format!(
                "virtio-blk-pci,drive={id},addr={:#x}{interface}",
                self.spec.device
            ),
        ]
    }

    fn option(&self) -> String {
        let s = &self.spec;
        let mode = if s.read_only { "ro" } else { "rw" };
        format!(
            "{:02x}.{:x}:{}:{mode}:{:x}",
            s.device, s.function, s.sectors, s.tag
        )
    }

    /// `virtio-blk 00:DD.F`, the name vmfw's driver logs the disk under.
    fn firmware_name(&self) -> String {
        format!(
            "virtio-blk 00:{:02x}.{}",
            self.spec.device, self.spec.function
        )
    }
}

/// Writes a patterned disk file (module notes).
fn create_disk(path: &Path, tag: u8) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut sector = [0u8; SECTOR];
    for lba in 0..SECTORS {
        spec::fill(tag, lba, &mut sector);
        out.write_all(&sector)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    out.flush().map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks a disk file after the run: the write check's blocks on a writable disk, the pattern everywhere else.
fn check_file(disk: &Disk) -> Result<(), String> {
    let bytes = std::fs::read(&disk.path).map_err(|e| format!("{}: {e}", disk.path.display()))?;
    let written = if disk.spec.read_only {
        0..0
    } else {
        spec::WRITE_LBA..spec::WRITE_LBA + spec::WRITE_BLOCKS
    };
    for (lba, sector) in (0u64..).zip(bytes.chunks_exact(SECTOR)) {
        let tag = if written.contains(&lba) {
            spec::WRITE_TAG
        } else {
            disk.spec.tag
        };
        if let Some((at, index, found)) = spec::first_mismatch(tag, lba, sector) {
            return Err(format!(
                "{}: sector {at} word {index} is {found:#018x} after the run, want {:#018x}",
                disk.path.display(),
                spec::pattern_word(tag, at, index)
            ));
        }
    }
    Ok(())
}

/// Under vmfw: each disk's quiesce logged exactly once, after the app's ExitBootServices call.
fn check_quiesce(output: &str, disks: &[Disk]) -> Result<(), String> {
    let exit_at = output
        .find(EXIT_MARKER)
        .ok_or("the self-test never called ExitBootServices")?;
    for disk in disks {
        let line = format!("{}: quiesced at ExitBootServices", disk.firmware_name());
        let hits: Vec<usize> = output.match_indices(&line).map(|(at, _)| at).collect();
        match hits.as_slice() {
            [at] if *at > exit_at => {}
            [_] => return Err(format!("`{line}` logged before ExitBootServices")),
            _ => return Err(format!("`{line}` logged {} times, want once", hits.len())),
        }
    }
    Ok(())
}

fn run(ctx: &Ctx, machine: Machine, reference: Reference) -> Result<(), String> {
    let app = build_app(SELFTEST_PACKAGE)?;
    let label = match reference {
        Reference::Vmfw => machine.name(),
        Reference::Ovmf => "ovmf",
    };
    let scratch = ctx.scratch.join(format!("blk-{label}"));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    // q35: modern rw + legacy ro; pc: legacy rw + modern ro; both: a default transitional rw disk.
    let (first, second) = match machine {
        Machine::Q35 => (Interfaces::ModernOnly, Interfaces::LegacyOnly),
        Machine::Pc => (Interfaces::LegacyOnly, Interfaces::ModernOnly),
    };
    let layout = [
        (8u8, false, first, 0x11u8),
        (9, true, second, 0x22),
        (10, false, Interfaces::Both, 0x33),
    ];
    let disks = layout.map(|(device, read_only, interfaces, tag)| Disk {
        spec: spec::DiskSpec {
            device,
            function: 0,
            sectors: SECTORS,
            read_only,
            tag,
        },
        path: scratch.join(format!("disk{device}.img")),
        interfaces,
    });
    for disk in &disks {
        create_disk(&disk.path, disk.spec.tag)?;
    }
    let firmware = match reference {
        Reference::Vmfw => Firmware::Bios(ctx.image.clone()),
        Reference::Ovmf => {
            let vars = scratch.join("ovmf-vars.fd");
            std::fs::copy(OVMF_VARS, &vars)
                .map_err(|e| format!("{OVMF_VARS} -> {}: {e}", vars.display()))?;
            Firmware::Pflash {
                code: PathBuf::from(OVMF_CODE),
                vars: Some(vars),
            }
        }
    };
    let options: Vec<String> = disks.iter().map(Disk::option).collect();
    let mut args = vec![
        "-kernel".to_string(),
        app.display().to_string(),
        "-append".to_string(),
        format!("{}{}", spec::KEY, options.join(",")),
        "-net".to_string(),
        "none".to_string(),
    ];
    args.extend(disks.iter().flat_map(Disk::qemu_args));
    let qemu = Qemu::new(machine, 512, &firmware).args(args);
    let run = qemu.run_captured(TIMEOUT, false, |_| false)?;
    let fail = |why: String| format!("{why}\n{}\n{}", qemu.command_line(), run.describe());
    verdict(&run.output, run.exit_code).map_err(fail)?;
    for disk in &disks {
        let last = format!(
            "selftest: blockio: {:02x}.{:x}: Disconnect/ConnectController stop and restart it ... ok",
            disk.spec.device, disk.spec.function
        );
        if !run.output.contains(&last) {
            return Err(fail(format!(
                "missing `{last}`: the blockio group did not run"
            )));
        }
        check_file(disk).map_err(fail)?;
    }
    if reference == Reference::Vmfw {
        check_quiesce(&run.output, &disks).map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(device: u8) -> Disk {
        Disk {
            spec: spec::DiskSpec {
                device,
                function: 0,
                sectors: SECTORS,
                read_only: false,
                tag: 1,
            },
            path: PathBuf::from("/x"),
            interfaces: Interfaces::ModernOnly,
        }
    }

    #[test]
    fn quiesce_must_follow_exit_once_per_disk() {
        let disks = [disk(8), disk(9)];
        let good = format!(
            "{EXIT_MARKER}\nvirtio-blk 00:08.0: quiesced at ExitBootServices\nvirtio-blk 00:09.0: quiesced at ExitBootServices\n"
        );
        assert_eq!(check_quiesce(&good, &disks), Ok(()));
        let missing = format!("{EXIT_MARKER}\nvirtio-blk 00:08.0: quiesced at ExitBootServices\n");
        assert!(check_quiesce(&missing, &disks).is_err());
        let early = format!(
            "virtio-blk 00:08.0: quiesced at ExitBootServices\n{EXIT_MARKER}\nvirtio-blk 00:09.0: quiesced at ExitBootServices\n"
        );
        assert!(check_quiesce(&early, &disks).is_err());
        let twice = format!("{good}virtio-blk 00:09.0: quiesced at ExitBootServices\n");
        assert!(check_quiesce(&twice, &disks).is_err());
    }

    #[test]
    fn options_and_arguments_describe_the_disk() {
        let mut d = disk(9);
        d.spec.read_only = true;
        d.spec.tag = 0x22;
        d.interfaces = Interfaces::LegacyOnly;
        assert_eq!(d.option(), "09.0:32768:ro:22");
        let parsed = spec::parse(&format!("{}{}", spec::KEY, d.option()))
            .unwrap()
            .unwrap();
        assert_eq!(parsed.iter().next(), Some(&d.spec));
        assert_eq!(
            d.qemu_args()[3],
            "virtio-blk-pci,drive=blk9,addr=0x9,disable-modern=on"
        );
        assert!(d.qemu_args()[1].ends_with(",readonly=on"));
    }
}
