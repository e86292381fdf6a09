//! `cargo xtask bench [--runs N]`: the boot benchmark. It boots the same Debian kernel and initramfs (see
//! `assets`) four ways, interleaved round by round:
//! - `vmfw-uki`: vmfw, the unified kernel image as `\EFI\BOOT\BOOTX64.EFI` on a virtio-blk ESP;
//! - `ovmf-uki`: OVMF (Debian's `OVMF_CODE_4M.fd`, a fresh copy of its variable store every run), same disk;
//! - `vmfw-direct`: vmfw with QEMU `-kernel`/`-initrd`/`-append`;
//! - `seabios-direct`: SeaBIOS (QEMU's default `-bios`) with the same arguments, the no-UEFI baseline.
//!
//! Each boot is timed by the host reading the serial console line by line (`qemu::Run::lines`): QEMU start to
//! the first "Linux version" line, and to the initramfs marker. After the marker `/init` prints the memory map
//! the kernel got from the firmware, which `memmap` turns into the guest RAM not handed to the OS as usable.
//! The results go to `report.json` and `report.md` (see `report`), and the ratios vmfw/OVMF and vmfw/SeaBIOS
//! are printed. A configuration that does not reach the marker is reported as failed with the reason; the
//! benchmark still completes.

mod memmap;
mod report;
mod stats;

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::assets::{self, MARKER, MEMMAP_END};
use crate::itest::linux::{boot_args, BootPath};
use crate::itest::{Ctx, TestFn};
use crate::qemu::{Firmware, Machine, Qemu, Run, OVMF_CODE, OVMF_VARS};
use report::{Configuration, Ratio, Report, Sample};

/// Rounds when `--runs` is not given.
pub const DEFAULT_RUNS: u32 = 5;
/// QEMU's default `-bios` on x86 (Debian package `seabios`, a dependency of `qemu-system-x86`).
const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";
/// Guest RAM of every boot.
const MEMORY_MIB: u64 = 512;
const MACHINE: Machine = Machine::Q35;
/// A TCG boot to the marker takes seconds; this only ends a configuration that hangs.
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq, Eq)]
enum FirmwareKind {
    Vmfw,
    Ovmf,
    SeaBios,
}

/// One configuration: its name, firmware and boot path.
struct Config {
    name: &'static str,
    firmware: FirmwareKind,
    path: BootPath,
}

const CONFIGS: [Config; 4] = [
    Config {
        name: "vmfw-uki",
        firmware: FirmwareKind::Vmfw,
        path: BootPath::Uki,
    },
    Config {
        name: "ovmf-uki",
        firmware: FirmwareKind::Ovmf,
        path: BootPath::Uki,
    },
    Config {
        name: "vmfw-direct",
        firmware: FirmwareKind::Vmfw,
        path: BootPath::Direct,
    },
    Config {
        name: "seabios-direct",
        firmware: FirmwareKind::SeaBios,
        path: BootPath::Direct,
    },
];

/// The ratios reported: (name, numerator, denominator), by configuration name.
const RATIOS: [(&str, &str, &str); 2] = [
    ("vmfw/OVMF", "vmfw-uki", "ovmf-uki"),
    ("vmfw/SeaBIOS", "vmfw-direct", "seabios-direct"),
];

fn firmware_name(firmware: FirmwareKind) -> &'static str {
    match firmware {
        FirmwareKind::Vmfw => "vmfw",
        FirmwareKind::Ovmf => "OVMF",
        FirmwareKind::SeaBios => "SeaBIOS",
    }
}

fn boot_name(path: BootPath) -> &'static str {
    match path {
        BootPath::Uki => "UKI on virtio-blk",
        BootPath::SystemdBoot => "systemd-boot on virtio-blk",
        BootPath::Direct => "-kernel -initrd -append",
    }
}

fn size(path: &Path) -> Result<u64, String> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Seconds from QEMU start until the first console line containing `needle` arrived.
fn arrival(run: &Run, needle: &str) -> Option<f64> {
    run.lines
        .iter()
        .find(|(_, line)| line.contains(needle))
        .map(|(at, _)| at.as_secs_f64())
}

/// One console line, trimmed and cut to 200 characters.
fn excerpt(line: &str) -> String {
    line.trim().chars().take(200).collect()
}

/// Why a run that did not reach the marker ended: how QEMU stopped, the first vmfw error line and the kernel's
/// panic line if there are any, the last console line and QEMU's own errors.
fn failure(run: &Run) -> String {
    let how = match (run.timed_out, run.exit_code) {
        (true, _) => format!("timed out after {} s", TIMEOUT.as_secs()),
        (false, Some(code)) => format!(
            "QEMU exited with status {code} after {:.1} s",
            run.elapsed.as_secs_f64()
        ),
        (false, None) => "stopped".into(),
    };
    let mut why = format!("no initramfs marker: {how}");
    // vmfw logs as "[   seconds] LEVEL target: message".
    for needle in ["] ERROR ", "Kernel panic"] {
        if let Some(line) = run.output.lines().find(|l| l.contains(needle)) {
            why.push_str(&format!("; {}", excerpt(line)));
        }
    }
    let last = run.output.lines().rev().find(|l| !l.trim().is_empty());
    why.push_str(&format!(
        "; last console line: {}",
        last.map_or("(no console output)".into(), excerpt)
    ));
    if !run.stderr.trim().is_empty() {
        why.push_str(&format!("; QEMU: {}", excerpt(&run.stderr)));
    }
    why
}

/// Boots `config` once and measures it; `Err` only when QEMU cannot be started at all.
fn measure(config: &Config, firmware: &Firmware, args: &[String]) -> Result<(Sample, Run), String> {
    let qemu = Qemu::new(MACHINE, MEMORY_MIB, firmware).args(args.iter().cloned());
    let run = qemu.run_captured(TIMEOUT, false, |out| out.contains(MEMMAP_END))?;
    let marker_s = arrival(&run, MARKER);
    let mut sample = Sample {
        linux_version_s: arrival(&run, "Linux version"),
        marker_s,
        memory: None,
        failure: marker_s.is_none().then(|| failure(&run)),
    };
    if marker_s.is_some() {
        match memmap::parse(&run.output) {
            Ok(map) if !map.entries.is_empty() => {
                sample.memory = Some(memmap::account(&map, &memmap::q35_ram(MEMORY_MIB << 20)))
            }
            Ok(_) => eprintln!("bench: {}: the guest printed no memory map", config.name),
            Err(why) => eprintln!("bench: {}: {why}", config.name),
        }
    }
    Ok((sample, run))
}

/// Runs `runs` rounds (at least 1) with vmfw's flash image `image`, writes `report.json` and `report.md` into
/// `out_dir` and returns the report. Failed boots are part of the report; `Err` means the benchmark itself could
/// not run (inputs not buildable, QEMU not startable, files not writable).
pub fn run(image: &Path, runs: u32, out_dir: &Path) -> Result<Report, String> {
    let runs = runs.max(1);
    let work = out_dir.join("work");
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let uki_args = boot_args(BootPath::Uki)?;
    let direct_args = boot_args(BootPath::Direct)?;
    let kernel = assets::debian()?.kernel;
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); CONFIGS.len()];
    let mut guest_checks: Vec<Option<Result<(), String>>> = vec![None; CONFIGS.len()];
    for round in 0..runs as usize {
        // Interleaved, and the starting configuration rotates so none is always first after a pause.
        for k in 0..CONFIGS.len() {
            let i = (round + k) % CONFIGS.len();
            let config = &CONFIGS[i];
            let firmware = match config.firmware {
                FirmwareKind::Vmfw => Firmware::Bios(image.to_path_buf()),
                FirmwareKind::Ovmf => Firmware::ovmf(&work, config.name)?,
                FirmwareKind::SeaBios => Firmware::Bios(SEABIOS.into()),
            };
            let args = match config.path {
                BootPath::Direct => &direct_args,
                _ => &uki_args,
            };
            let (sample, run) = measure(config, &firmware, args)?;
            match (&sample.failure, sample.marker_s) {
                (Some(why), _) => eprintln!(
                    "bench: round {}/{runs} {}: FAILED: {why}",
                    round + 1,
                    config.name
                ),
                (None, marker) => eprintln!(
                    "bench: round {}/{runs} {}: \"Linux version\" {:.2} s, marker {:.2} s",
                    round + 1,
                    config.name,
                    sample.linux_version_s.unwrap_or(f64::NAN),
                    marker.unwrap_or(f64::NAN)
                ),
            }
            let uefi = config.firmware != FirmwareKind::SeaBios;
            if uefi && sample.failure.is_none() && guest_checks[i].is_none() {
                guest_checks[i] = Some(assets::check_guest(&run.output));
            }
            samples[i].push(sample);
        }
    }
    let mut configurations = Vec::new();
    for ((config, samples), check) in CONFIGS.iter().zip(samples).zip(guest_checks) {
        let (flash, vars) = match config.firmware {
            FirmwareKind::Vmfw => (size(image)?, None),
            FirmwareKind::Ovmf => (
                size(Path::new(OVMF_CODE))?,
                Some(size(Path::new(OVMF_VARS))?),
            ),
            FirmwareKind::SeaBios => (size(Path::new(SEABIOS))?, None),
        };
        configurations.push(Configuration::new(
            (
                config.name,
                firmware_name(config.firmware),
                boot_name(config.path),
            ),
            (flash, vars),
            samples,
            check.and_then(Result::err),
        ));
    }
    let by_name = |name: &str| {
        configurations
            .iter()
            .find(|c| c.name == name)
            .expect("ratios name configurations")
    };
    let ratios = RATIOS
        .iter()
        .map(|&(name, numerator, denominator)| {
            Ratio::new(name, by_name(numerator), by_name(denominator))
        })
        .collect();
    let report = Report {
        runs,
        machine: MACHINE.name().into(),
        accel: "tcg".into(),
        memory_mib: MEMORY_MIB,
        kernel: kernel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        configurations,
        ratios,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    for (file, text) in [
        ("report.json", json + "\n"),
        ("report.md", report::render_markdown(&report)),
    ] {
        let path = out_dir.join(file);
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    print!("{}", report::render_ratios(&report));
    Ok(report)
}

/// The integration test: a one-round benchmark completes, writes well-formed files, and the reference
/// configurations (OVMF and SeaBIOS) reach the marker with a memory map.
fn one_round(ctx: &Ctx) -> Result<(), String> {
    let dir = ctx.scratch.join("bench");
    for file in ["report.json", "report.md"] {
        let _ = fs::remove_file(dir.join(file));
    }
    run(&ctx.image, 1, &dir)?;
    let read = |file: &str| {
        fs::read_to_string(dir.join(file)).map_err(|e| format!("{}: {e}", dir.join(file).display()))
    };
    let names: Vec<&str> = CONFIGS.iter().map(|c| c.name).collect();
    let report = report::check(&read("report.json")?, &read("report.md")?, 1, &names)?;
    for name in ["ovmf-uki", "seabios-direct"] {
        let c = report
            .configurations
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("no {name} in the report"))?;
        if !c.ok {
            return Err(format!(
                "{name} failed: {}",
                c.failure.as_deref().unwrap_or("?")
            ));
        }
        if c.linux_version_s.is_none() || c.memory.is_none() {
            return Err(format!(
                "{name}: no \"Linux version\" time or no memory map"
            ));
        }
    }
    Ok(())
}

/// The tests of this module.
pub const TESTS: &[(&str, TestFn)] = &[("bench_one_round", one_round)];
