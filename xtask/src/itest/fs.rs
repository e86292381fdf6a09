//! The file-system integration tests: the boot-services self-test's `fs` group (`tools/bs-selftest/src/fs.rs`)
//! with a GPT and an MBR test disk on virtio-blk, on OVMF (the reference) and on vmfw (q35, pc); and the
//! `fs-bad` group with the disks of [`super::bad_disks`] on vmfw, which must log a clear error for each and not
//! fault.
//!
//! Test disks ([`test_disk`]): one EFI system partition (GPT type ESP, or MBR type 0xEF) from LBA 2048 holding a
//! FAT32 volume labelled `VMFWGPT`/`VMFWMBR` with `\vmfw-gpt.txt` or `\vmfw-mbr.txt`, `\data\pattern.bin`
//! ([`PATTERN_LEN`] bytes of [`pattern_byte`]) and `\data\A file with a long name.txt`; and a superfloppy
//! ([`superfloppy_disk`]): FAT32 from LBA 0 without a table. Every run builds fresh copies, since the self-test
//! writes to them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{bad_disks, Ctx, TestFn};
use crate::disk::{self, Entry, Table};
use crate::qemu::{Firmware, Machine, Qemu, Run};
use crate::uefi_app::{build_app, verdict, SELFTEST_PACKAGE};

/// Length of `\data\pattern.bin` (the self-test's `PATTERN_LEN`).
pub const PATTERN_LEN: usize = 300_000;
/// Generous: only fails a hang.
const TIMEOUT: Duration = Duration::from_secs(180);

/// Byte `i` of `\data\pattern.bin` (the same function is in `tools/bs-selftest/src/fs.rs`; both are unit-tested
/// against the same values).
pub fn pattern_byte(i: usize) -> u8 {
    ((i as u32).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// Writes the `fs` test disk with partition table `table` to `out`.
pub fn test_disk(out: &Path, table: Table) -> Result<(), String> {
    let (label, marker, text) = match table {
        Table::Gpt => ("VMFWGPT", "vmfw-gpt.txt", "vmfw fs test: gpt\n"),
        Table::Mbr => ("VMFWMBR", "vmfw-mbr.txt", "vmfw fs test: mbr\n"),
    };
    let pattern: Vec<u8> = (0..PATTERN_LEN).map(pattern_byte).collect();
    let fat = out.with_extension("fat");
    disk::fat_image(
        &fat,
        label,
        &[
            Entry::bytes(marker, text),
            Entry::bytes("data/pattern.bin", pattern),
            Entry::bytes("data/A file with a long name.txt", "long name\n"),
        ],
    )?;
    disk::partitioned(out, label, table, &fat)?;
    std::fs::remove_file(&fat).map_err(|e| format!("{}: {e}", fat.display()))
}

/// Writes the superfloppy test disk to `out`: a FAT32 volume from LBA 0 (no partition table) labelled
/// `VMFWFLOP` holding `\vmfw-floppy.txt`.
pub fn superfloppy_disk(out: &Path) -> Result<(), String> {
    disk::fat_image(
        out,
        "VMFWFLOP",
        &[Entry::bytes(
            "vmfw-floppy.txt",
            "vmfw fs test: superfloppy\n",
        )],
    )
    .map(|_| ())
}

/// QEMU arguments attaching `disks` as virtio-blk devices (no boot index: they are data disks).
fn virtio_disks(disks: &[PathBuf]) -> Vec<String> {
    let mut args = Vec::new();
    for (i, d) in disks.iter().enumerate() {
        args.push("-drive".into());
        args.push(format!(
            "if=none,id=fsdisk{i},format=raw,file={}",
            d.display()
        ));
        args.push("-device".into());
        args.push(format!("virtio-blk-pci,drive=fsdisk{i}"));
    }
    args
}

/// Runs the self-test with `-append word` and `disks` on `firmware`/`machine`.
fn run_selftest(
    firmware: &Firmware,
    machine: Machine,
    word: &str,
    disks: &[PathBuf],
) -> Result<(Qemu, Run), String> {
    let app = build_app(SELFTEST_PACKAGE)?;
    let mut args = vec![
        "-kernel".to_string(),
        app.display().to_string(),
        "-append".to_string(),
        word.to_string(),
        "-net".to_string(),
        "none".to_string(),
    ];
    args.extend(virtio_disks(disks));
    let qemu = Qemu::new(machine, 512, firmware).args(args);
    let run = qemu.run_captured(TIMEOUT, false, |_| false)?;
    Ok((qemu, run))
}

/// Passes when the self-test passed and ran at least `min` checks whose names start with `prefix`.
fn judge(qemu: &Qemu, run: &Run, prefix: &str, min: usize) -> Result<(), String> {
    let context = |why: String| format!("{why}\n{}\n{}", qemu.command_line(), run.describe());
    verdict(&run.output, run.exit_code).map_err(context)?;
    let ran = run
        .output
        .lines()
        .filter(|l| l.contains(&format!("selftest: {prefix}")) && l.ends_with(" ... ok"))
        .count();
    if ran < min {
        return Err(context(format!(
            "only {ran} `{prefix}` checks passed, expected {min}"
        )));
    }
    Ok(())
}

fn good_disks(ctx: &Ctx, name: &str) -> Result<Vec<PathBuf>, String> {
    let gpt = ctx.scratch.join(format!("{name}-gpt.img"));
    let mbr = ctx.scratch.join(format!("{name}-mbr.img"));
    let floppy = ctx.scratch.join(format!("{name}-floppy.img"));
    test_disk(&gpt, Table::Gpt)?;
    test_disk(&mbr, Table::Mbr)?;
    superfloppy_disk(&floppy)?;
    Ok(vec![gpt, mbr, floppy])
}

/// The `fs` group on OVMF (q35): shows the checks expect what the specification says.
fn fs_on_ovmf(ctx: &Ctx) -> Result<(), String> {
    let disks = good_disks(ctx, "fs-ovmf")?;
    let (qemu, run) = run_selftest(
        &Firmware::ovmf(&ctx.scratch, "fs")?,
        Machine::Q35,
        "fs",
        &disks,
    )?;
    judge(&qemu, &run, "fs: ", 16)
}

/// The `fs` group on vmfw.
fn fs_on_vmfw(ctx: &Ctx, machine: Machine) -> Result<(), String> {
    let disks = good_disks(ctx, &format!("fs-{}", machine.name()))?;
    let (qemu, run) = run_selftest(&Firmware::Bios(ctx.image.clone()), machine, "fs", &disks)?;
    judge(&qemu, &run, "fs: ", 16)
}

/// What vmfw's exception and panic handlers print first.
const FAULT_MARKERS: [&str; 2] = ["!!!! vmfw: CPU exception", "!!!! vmfw: panic"];

/// The corrupt disks on vmfw: the self-test's `fs-bad` group passes, the console names each problem with the
/// disk's device path, and nothing faults.
fn bad_disks_on_vmfw(ctx: &Ctx) -> Result<(), String> {
    let corrupt = ctx.scratch.join("fs-bad-corrupt-gpt.img");
    let looping = ctx.scratch.join("fs-bad-looping-fat.img");
    let loader = ctx.scratch.join("fs-bad-loader.bin");
    std::fs::write(
        &loader,
        (0..64 * 1024).map(pattern_byte).collect::<Vec<u8>>(),
    )
    .map_err(|e| format!("{}: {e}", loader.display()))?;
    bad_disks::corrupt_gpt_disk(&corrupt)?;
    bad_disks::looping_fat_disk(&looping, &loader)?;
    let (qemu, run) = run_selftest(
        &Firmware::Bios(ctx.image.clone()),
        Machine::Q35,
        "fs-bad",
        &[corrupt, looping],
    )?;
    judge(&qemu, &run, "fs-bad: ", 2)?;
    let context = |why: &str| format!("{why}\n{}\n{}", qemu.command_line(), run.describe());
    let gpt_line = run.output.lines().find(|l| {
        l.contains("drivers::partition")
            && l.contains("PciRoot(0x0)/Pci(")
            && l.contains("both headers are invalid")
            && l.contains("primary header (LBA 1): HeaderCRC32")
            && l.contains("backup header (last LBA): PartitionEntryArrayCRC32")
    });
    if gpt_line.is_none() {
        return Err(context(
            "no log line naming the disk and both GPT header failures",
        ));
    }
    let loop_line = run.output.lines().find(|l| {
        l.contains("PciRoot(0x0)/Pci(")
            && l.contains("/HD(1,GPT,")
            && l.contains("\\EFI\\BOOT\\BOOTX64.EFI")
            && l.contains("loops")
            && l.contains("EFI_VOLUME_CORRUPTED")
    });
    if loop_line.is_none() {
        return Err(context(
            "no log line naming the volume, the file and the looping chain",
        ));
    }
    if let Some(marker) = FAULT_MARKERS.iter().find(|m| run.output.contains(*m)) {
        return Err(context(&format!("the console shows a fault ({marker})")));
    }
    Ok(())
}

/// The tests of this module.
pub const TESTS: &[(&str, TestFn)] = &[
    ("fs_selftest_reference_ovmf", fs_on_ovmf),
    ("fs_selftest_q35", |c| fs_on_vmfw(c, Machine::Q35)),
    ("fs_selftest_pc", |c| fs_on_vmfw(c, Machine::Pc)),
    ("fs_bad_disks_are_reported_q35", bad_disks_on_vmfw),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matches_the_self_test() {
        // The same values are asserted in tools/bs-selftest/src/fs.rs.
        let first: [u8; 6] = core::array::from_fn(pattern_byte);
        assert_eq!(first, [0x00, 0x9E, 0x3C, 0xDA, 0x78, 0x17]);
    }

    #[test]
    fn disks_attach_as_virtio_blk_without_boot_index() {
        let args = virtio_disks(&[PathBuf::from("/a.img"), PathBuf::from("/b.img")]);
        assert_eq!(args.len(), 8);
        assert_eq!(args[1], "if=none,id=fsdisk0,format=raw,file=/a.img");
        assert_eq!(args[7], "virtio-blk-pci,drive=fsdisk1");
    }
}
