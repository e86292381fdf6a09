//! Linux test inputs built from Debian bookworm's own packages, fetched with `apt-get download` and unpacked with
//! `dpkg-deb -x` (no root needed), cached under `target/assets/`:
//! - `linux-image-amd64`'s kernel (its vmlinuz carries the EFI stub) and `efivarfs.ko`;
//! - `busybox-static` for an initramfs whose `/init` checks what the OS sees of the firmware, prints
//!   [`MARKER`] and powers off;
//! - `systemd-boot-efi` for systemd-boot and the `linuxx64.efi.stub` a unified kernel image (UKI) is made from.
//!
//! [`check_guest`] is the one verdict on a Linux boot's console, for every firmware and boot path.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Printed by the initramfs' `/init` once its checks ran.
pub const MARKER: &str = "vmfw-guest: initramfs reached";
/// Printed by `/init` after its `vmfw-guest: memmap` and `vmfw-guest: efi-runtime` lines.
pub const MEMMAP_END: &str = "vmfw-guest: memmap end";
/// The kernel command line every test boot uses.
pub const CMDLINE: &str = "console=ttyS0,115200 panic=-1 rdinit=/init";
/// The EFI global variable GUID as Linux prints it in efivarfs names.
const EFI_GLOBAL_GUID: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// The unpacked packages.
pub struct Debian {
    /// `boot/vmlinuz-*`.
    pub kernel: PathBuf,
    /// The kernel's `efivarfs.ko`.
    pub efivarfs: PathBuf,
    /// `bin/busybox` (static).
    pub busybox: PathBuf,
    /// `systemd-bootx64.efi`.
    pub systemd_boot: PathBuf,
    /// `linuxx64.efi.stub`.
    pub uki_stub: PathBuf,
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `apt-get download`, refreshing the package lists once (as root) if a package is unknown.
fn download(dir: &Path, package: &str) -> Result<PathBuf, String> {
    let find = || {
        fs::read_dir(dir).ok().and_then(|entries| {
            entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
            })
        })
    };
    if let Some(deb) = find() {
        return Ok(deb);
    }
    eprintln!("$ apt-get download {package}");
    if run(dir, "apt-get", &["download", package]).is_err() {
        run(dir, "apt-get", &["update", "-q"])?;
        run(dir, "apt-get", &["download", package])?;
    }
    find().ok_or_else(|| format!("apt-get download {package}: no .deb appeared"))
}

fn find_file(root: &Path, matches: &dyn Fn(&str) -> bool) -> Option<PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).ok()?.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(matches)
            {
                return Some(path);
            }
        }
    }
    None
}

/// Fetches and unpacks the packages (once; later calls reuse `target/assets/debian`).
pub fn debian() -> Result<Debian, String> {
    let dir = crate::target_dir().join("assets/debian");
    let root = dir.join("root");
    let done = dir.join(".unpacked");
    if !done.exists() {
        fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let meta = download(&dir, "linux-image-amd64")?;
        // The meta package names the versioned kernel package: "linux-image-6.1.0-NN-amd64 (= ...)".
        let depends = run(&dir, "dpkg-deb", &["-f", meta.to_str().unwrap(), "Depends"])?;
        let kernel_package = depends
            .split([',', ' ', '|'])
            .find(|p| p.starts_with("linux-image-") && p.ends_with("-amd64"))
            .ok_or_else(|| format!("linux-image-amd64 depends on no kernel: {depends}"))?
            .to_string();
        for package in [
            kernel_package.as_str(),
            "busybox-static",
            "systemd-boot-efi",
        ] {
            let deb = download(&dir, package)?;
            run(
                &dir,
                "dpkg-deb",
                &["-x", deb.to_str().unwrap(), root.to_str().unwrap()],
            )?;
        }
        fs::write(&done, kernel_package).map_err(|e| format!("{}: {e}", done.display()))?;
    }
    let need = |what: &str, path: Option<PathBuf>| {
        path.ok_or_else(|| format!("{what} not found under {}", root.display()))
    };
    Ok(Debian {
        kernel: need(
            "vmlinuz",
            find_file(&root.join("boot"), &|n| n.starts_with("vmlinuz-")),
        )?,
        efivarfs: need(
            "efivarfs.ko",
            find_file(&root.join("lib/modules"), &|n| n.starts_with("efivarfs.ko")),
        )?,
        busybox: need(
            "busybox",
            Some(root.join("bin/busybox")).filter(|p| p.exists()),
        )?,
        systemd_boot: need(
            "systemd-bootx64.efi",
            find_file(&root.join("usr/lib/systemd"), &|n| {
                n == "systemd-bootx64.efi"
            }),
        )?,
        uki_stub: need(
            "linuxx64.efi.stub",
            find_file(&root.join("usr/lib/systemd"), &|n| n == "linuxx64.efi.stub"),
        )?,
    })
}

/// The initramfs' `/init`: mounts the kernel file systems, reports what the OS sees of the firmware (ACPI
/// tables, EFI runtime variables) as `vmfw-guest:` lines, prints [`MARKER`], then the firmware's memory map as
/// the kernel received it (`/sys/firmware/memmap`, and the EFI runtime regions from
/// `/sys/firmware/efi/runtime-map`) up to [`MEMMAP_END`] for the boot benchmark, and powers off.
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for t in /sys/firmware/acpi/tables/*; do echo "vmfw-guest: acpi ${t##*/}"; done
if [ -d /sys/firmware/efi ]; then
  echo "vmfw-guest: efi runtime $(cat /sys/firmware/efi/runtime 2>/dev/null)"
  insmod /lib/modules/efivarfs.ko
  if mount -t efivarfs efivarfs /sys/firmware/efi/efivars; then
    echo "vmfw-guest: efivars mounted"
    for v in /sys/firmware/efi/efivars/*; do echo "vmfw-guest: efivar ${v##*/}"; done
  fi
fi
echo "vmfw-guest: initramfs reached"
for m in /sys/firmware/memmap/*; do
  echo "vmfw-guest: memmap $(cat $m/start) $(cat $m/end) $(cat $m/type)"
done
for r in /sys/firmware/efi/runtime-map/*; do
  [ -e $r/type ] && echo "vmfw-guest: efi-runtime $(cat $r/type) $(cat $r/phys_addr) $(cat $r/num_pages)"
done
echo "vmfw-guest: memmap end"
poweroff -f
"#;

/// One entry of a `newc` cpio archive (the initramfs format, Linux Documentation/driver-api/early-userspace/
/// buffer-format.rst).
fn cpio_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
    let header = format!(
        "070701{ino:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        rdev.0,
        rdev.1,
        name.len() + 1,
        0
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Builds `target/assets/initramfs.cpio` (uncompressed newc) from busybox, `/init` and `efivarfs.ko`.
pub fn initramfs(debian: &Debian) -> Result<PathBuf, String> {
    let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut cpio = Vec::new();
    let dirs = ["bin", "dev", "proc", "sys", "lib", "lib/modules"];
    let mut ino = 1;
    for dir in dirs {
        cpio_entry(&mut cpio, ino, dir, 0o040755, (0, 0), &[]);
        ino += 1;
    }
    cpio_entry(&mut cpio, ino, "dev/console", 0o020600, (5, 1), &[]);
    cpio_entry(
        &mut cpio,
        ino + 1,
        "bin/busybox",
        0o100755,
        (0, 0),
        &read(&debian.busybox)?,
    );
    cpio_entry(
        &mut cpio,
        ino + 2,
        "init",
        0o100755,
        (0, 0),
        INIT.as_bytes(),
    );
    cpio_entry(
        &mut cpio,
        ino + 3,
        "lib/modules/efivarfs.ko",
        0o100644,
        (0, 0),
        &read(&debian.efivarfs)?,
    );
    cpio_entry(&mut cpio, 0, "TRAILER!!!", 0, (0, 0), &[]);
    let out = crate::target_dir().join("assets/initramfs.cpio");
    fs::write(&out, cpio).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

/// Reads `(ImageBase, SizeOfImage)` from a PE32+ file's optional header (PE/COFF spec, "Optional Header").
fn pe_extent(image: &[u8]) -> Option<(u64, u64)> {
    let pe = u32::from_le_bytes(image.get(0x3c..0x40)?.try_into().ok()?) as usize;
    let opt = pe + 24;
    if image.get(pe..pe + 4)? != b"PE\0\0" || image.get(opt..opt + 2)? != [0x0b, 0x02] {
        return None;
    }
    let base = u64::from_le_bytes(image.get(opt + 24..opt + 32)?.try_into().ok()?);
    let size = u32::from_le_bytes(image.get(opt + 56..opt + 60)?.try_into().ok()?);
    Some((base, u64::from(size)))
}

/// Builds a unified kernel image: systemd's stub with `.osrel`, `.cmdline`, `.linux` and `.initrd` sections
/// (systemd's UKI specification), placed after the stub's own image at 2 MiB-aligned addresses.
pub fn uki(debian: &Debian, initrd: &Path, cmdline: &str) -> Result<PathBuf, String> {
    let dir = crate::target_dir().join("assets");
    let stub =
        fs::read(&debian.uki_stub).map_err(|e| format!("{}: {e}", debian.uki_stub.display()))?;
    let (base, size) = pe_extent(&stub).ok_or("linuxx64.efi.stub is not a PE32+ image")?;
    let osrel = dir.join("os-release");
    let cmdline_file = dir.join("cmdline.txt");
    fs::write(&osrel, "ID=debian\nNAME=\"vmfw test\"\nVERSION_ID=12\n")
        .map_err(|e| e.to_string())?;
    fs::write(&cmdline_file, cmdline).map_err(|e| e.to_string())?;
    let mut at = (base + size).next_multiple_of(2 << 20);
    let mut args: Vec<String> = Vec::new();
    for (name, path) in [
        (".osrel", osrel.as_path()),
        (".cmdline", cmdline_file.as_path()),
        (".linux", debian.kernel.as_path()),
        (".initrd", initrd),
    ] {
        let len = fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        args.extend([
            "--add-section".into(),
            format!("{name}={}", path.display()),
            "--change-section-vma".into(),
            format!("{name}={at:#x}"),
        ]);
        at = (at + len).next_multiple_of(2 << 20);
    }
    let out = dir.join("linux-uki.efi");
    args.push(debian.uki_stub.display().to_string());
    args.push(out.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&dir, "objcopy", &args)?;
    Ok(out)
}

/// The verdict on a Linux boot's serial console: the kernel started, found the ACPI tables, kept EFI runtime
/// services (efivarfs mounted and lists EFI global variables), logged no EFI error, and `/init` finished.
pub fn check_guest(output: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if !output.contains("Linux version") {
        problems.push("the kernel never printed \"Linux version\"".to_string());
    }
    if !output.contains(MARKER) {
        problems.push(format!("the initramfs never printed \"{MARKER}\""));
    }
    if !output
        .lines()
        .any(|l| l.starts_with("vmfw-guest: acpi DSDT"))
    {
        problems.push("the guest found no ACPI DSDT in /sys/firmware/acpi/tables".to_string());
    }
    if !output.contains("vmfw-guest: efivars mounted") {
        problems.push("efivarfs did not mount (EFI runtime services unavailable)".to_string());
    }
    if !output
        .lines()
        .any(|l| l.starts_with("vmfw-guest: efivar ") && l.contains(EFI_GLOBAL_GUID))
    {
        problems.push("efivarfs lists no EFI global variable".to_string());
    }
    for line in output.lines() {
        let lower = line.to_ascii_lowercase();
        let efi = lower.contains("efi") && !lower.contains("vmfw-guest");
        let bad = ["error", "fail", "corrupt", "invalid", "disabling", "bad "];
        let acpi_missing =
            lower.contains("acpi: no tables") || lower.contains("unable to locate rsdp");
        if (efi && bad.iter().any(|b| lower.contains(b))) || acpi_missing {
            problems.push(format!("kernel log: {}", line.trim()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Linux version 6.1\nvmfw-guest: acpi DSDT\nvmfw-guest: efivars mounted\n\
        vmfw-guest: efivar BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c\nvmfw-guest: initramfs reached\n";

    #[test]
    fn a_complete_boot_passes() {
        check_guest(GOOD).unwrap();
    }

    #[test]
    fn each_missing_piece_fails() {
        for drop in [
            "Linux version",
            "acpi DSDT",
            "efivars mounted",
            "efivar Boot",
            "initramfs reached",
        ] {
            let output: String = GOOD
                .lines()
                .filter(|l| !l.contains(drop))
                .map(|l| format!("{l}\n"))
                .collect();
            assert!(check_guest(&output).is_err(), "passed without {drop}");
        }
    }

    #[test]
    fn an_efi_error_line_fails() {
        let output = format!("{GOOD}[    0.1] efi: Failed to map runtime services\n");
        assert!(check_guest(&output).unwrap_err().contains("Failed to map"));
    }

    #[test]
    fn cpio_entries_are_four_byte_aligned() {
        let mut out = Vec::new();
        cpio_entry(&mut out, 1, "init", 0o100755, (0, 0), b"abc");
        assert_eq!(out.len() % 4, 0);
        assert!(out.starts_with(b"070701"));
    }
}
