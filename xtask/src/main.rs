//! `cargo xtask`: vmfw's one entry point for people.
//!
//! - `build [--log LEVEL]`: the firmware (release) as the flash image `target/vmfw.fd`.
//! - `run [--machine q35|pc] [--memory MiB] [-- QEMU args]`: boot it with the serial console on this terminal.
//! - `demo`: build, boot Debian's kernel from a virtio disk to the initramfs, show the console.
//! - `test`: unit tests on the host, then the QEMU integration tests.
//! - `audit --firmware vmfw|ovmf|PATH [--machine q35|pc]`: the handoff audit (see `audit`).
//! - `bench [--runs N]`: the boot benchmark against OVMF and SeaBIOS; writes `target/bench/report.{md,json}`.

mod assets;
mod audit;
mod bench;
mod disk;
mod image;
mod itest;
mod qemu;
mod setup;
mod uefi_app;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use qemu::{Firmware, Machine, Qemu};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run and test the vmfw firmware")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the firmware and write the flash image target/vmfw.fd.
    Build {
        /// Default log level compiled in: off, error, warn, info, debug, trace.
        #[arg(long, default_value = "info")]
        log: String,
    },
    /// Boot the firmware in QEMU with the serial console on stdio; exits when the guest does.
    Run {
        #[arg(long, value_enum, default_value = "q35")]
        machine: Machine,
        /// Guest RAM in MiB.
        #[arg(long, default_value_t = 512)]
        memory: u64,
        /// Extra QEMU arguments (after `--`).
        #[arg(last = true)]
        qemu_args: Vec<String>,
    },
    /// Build, boot Debian's kernel from a virtio disk (a unified kernel image on its EFI system partition) to the
    /// initramfs, with the console on this terminal: the quickest look at vmfw.
    Demo {
        #[arg(long, value_enum, default_value = "q35")]
        machine: Machine,
    },
    /// Run the unit tests and the QEMU integration tests.
    Test {
        /// Only run integration tests whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Skip the host unit tests.
        #[arg(long)]
        no_unit: bool,
    },
    /// Boot the handoff-audit app under a firmware with a fixed device set and report what it left live.
    Audit {
        /// vmfw, ovmf, or the path of a flash image (given to QEMU with -bios).
        #[arg(long, default_value = "vmfw")]
        firmware: String,
        #[arg(long, value_enum, default_value = "q35")]
        machine: Machine,
        /// Hand the app over with QEMU -kernel instead of the ESP disk (development aid).
        #[arg(long)]
        kernel: bool,
    },
    /// Boot benchmark: vmfw, OVMF and SeaBIOS boot the same Linux; writes target/bench/report.{md,json}.
    Bench {
        /// Rounds; each boots every configuration once.
        #[arg(long, default_value_t = bench::DEFAULT_RUNS, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Cmd::Build { log } => {
            setup::ensure_targets()?;
            build(&log).map(|_| ())
        }
        Cmd::Run {
            machine,
            memory,
            qemu_args,
        } => {
            setup::for_run()?;
            let image = build("info")?;
            let code = Qemu::new(machine, memory, &Firmware::Bios(image))
                .args(qemu_args)
                .run_interactive()?;
            eprintln!("qemu exited with status {code}");
            Ok(())
        }
        Cmd::Demo { machine } => {
            setup::for_tests()?;
            let image = build("info")?;
            let devices = itest::demo_devices()?;
            Qemu::new(machine, 512, &Firmware::Bios(image))
                .args(devices)
                .run_interactive()
                .map(|_| ())
        }
        Cmd::Test { filter, no_unit } => {
            setup::for_tests()?;
            if !no_unit {
                cargo(&["test", "--workspace", "--exclude", "vmfw-firmware"], &[])?;
            }
            let image = build("info")?;
            itest::run_all(&image, filter.as_deref())
        }
        Cmd::Audit {
            firmware,
            machine,
            kernel,
        } => {
            setup::for_tests()?;
            audit::command(&firmware, machine, kernel)
        }
        Cmd::Bench { runs } => {
            setup::for_tests()?;
            let image = build("info")?;
            bench::run(&image, runs, &target_dir().join("bench")).map(|_| ())
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

/// Builds the firmware (release) and writes `target/vmfw.fd`; returns its path.
pub fn build(log: &str) -> Result<PathBuf, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    if !LEVELS.contains(&log) {
        return Err(format!(
            "--log {log}: expected one of {}",
            LEVELS.join(", ")
        ));
    }
    cargo(
        &[
            "build",
            "--release",
            "--target",
            "x86_64-unknown-none",
            "--package",
            "vmfw-firmware",
        ],
        &[("VMFW_LOG", log)],
    )?;
    let elf_path = target_dir().join("x86_64-unknown-none/release/vmfw");
    let elf = std::fs::read(&elf_path).map_err(|e| format!("{}: {e}", elf_path.display()))?;
    let image = image::flash_image(&elf)?;
    let out = target_dir().join("vmfw.fd");
    std::fs::write(&out, &image).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("{} ({} KiB)", out.display(), image.len() >> 10);
    Ok(out)
}
