//! UEFI test applications (`tools/*`): building them for `x86_64-unknown-uefi` and the integration tests that
//! boot them under the firmware.
//!
//! The boot-services self-test (`tools/bs-selftest`) is handed to the firmware with QEMU `-kernel FILE.efi`
//! (fw_cfg); it prints one `selftest: <name> ... ok|FAILED (<detail>)` line per check, closes with
//! `selftest: N passed, M failed`, and exits QEMU through `isa-debug-exit` with 0x10 (status 33) when every check
//! passed and 0x11 (status 35) otherwise. A test passes only when both the exit status and the summary line say
//! so. The same app also runs on OVMF as a reference, which shows the checks themselves expect what the UEFI
//! specification says rather than what vmfw happens to do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::itest::Ctx;
use crate::qemu::{debug_exit_status, Firmware, Machine, Qemu};

/// The package of the boot-services self-test application.
pub const SELFTEST_PACKAGE: &str = "bs-selftest";
/// `isa-debug-exit` value the self-test writes when every check passed.
pub const SELFTEST_PASSED: u8 = 0x10;
/// `isa-debug-exit` value the self-test writes when some check failed (or it panicked).
pub const SELFTEST_FAILED: u8 = 0x11;
/// Generous: the app needs a few seconds under TCG; this only fails a hang.
const TIMEOUT: Duration = Duration::from_secs(120);

/// An integration test: `Err(reason)` on failure (the shape `itest` runs).
pub type TestFn = fn(&Ctx) -> Result<(), String>;

/// The integration tests of this module, in the shape `itest` registers (`name`, test).
pub const TESTS: &[(&str, TestFn)] = &[
    ("uefi_bs_selftest_q35", |c| selftest(c, Machine::Q35)),
    ("uefi_bs_selftest_pc", |c| selftest(c, Machine::Pc)),
    ("uefi_bs_selftest_reference_ovmf", selftest_on_ovmf),
    ("uefi_handoff_violation_is_recorded_and_boot_goes_on", |c| {
        handoff_violation(c, false)
    }),
    ("uefi_handoff_violation_stops_a_strict_run", |c| {
        handoff_violation(c, true)
    }),
    (
        "uefi_runtime_services_virtual_only_q35",
        runtime_virtual_only,
    ),
];

/// The self-test with `-append virtual-only`: after SetVirtualAddressMap its runtime-services calls run with the
/// firmware's runtime memory mapped only at the new virtual addresses (not one to one), which proves vmfw follows
/// no physical pointer into its runtime memory once the map is set (docs/runtime.md). vmfw only: OVMF's runtime
/// code calls through an unconverted pointer and faults that way.
fn runtime_virtual_only(ctx: &Ctx) -> Result<(), String> {
    let app = build_app(SELFTEST_PACKAGE)?;
    let qemu = Qemu::new(Machine::Q35, 512, &Firmware::Bios(ctx.image.clone())).args([
        "-kernel".to_string(),
        app.display().to_string(),
        "-append".to_string(),
        "virtual-only".to_string(),
        "-net".to_string(),
        "none".to_string(),
    ]);
    let run = qemu.run_captured(TIMEOUT, false, |_| false)?;
    let line = "runtime services work mapped only at their new virtual addresses ... ok";
    verdict(&run.output, run.exit_code)
        .and_then(|()| {
            run.output
                .contains(line)
                .then_some(())
                .ok_or_else(|| format!("no `{line}` line"))
        })
        .map_err(|why| format!("{why}\n{}\n{}", qemu.command_line(), run.describe()))
}

/// QEMU exit status when vmfw stops a strict run on a handoff violation (`isa-debug-exit` value 0x33).
const STRICT_HANDOFF_STATUS: u8 = 0x33;

/// The self-test with `-append handoff-violation`: its ExitBootServices handler calls AllocatePool. vmfw must
/// refuse the call and log the violation naming the call; a normal run then finishes (status 33), a strict run
/// (fw_cfg `opt/org.vmfw/strict-handoff`) stops with status 103.
fn handoff_violation(ctx: &Ctx, strict: bool) -> Result<(), String> {
    let app = build_app(SELFTEST_PACKAGE)?;
    let mut args = vec![
        "-kernel".to_string(),
        app.display().to_string(),
        "-append".to_string(),
        "handoff-violation".to_string(),
        "-net".to_string(),
        "none".to_string(),
    ];
    if strict {
        args.extend([
            "-fw_cfg".to_string(),
            "name=opt/org.vmfw/strict-handoff,string=1".to_string(),
        ]);
    }
    let qemu = Qemu::new(Machine::Q35, 512, &Firmware::Bios(ctx.image.clone())).args(args);
    let run = qemu.run_captured(TIMEOUT, false, |_| false)?;
    let fail = |why: &str| {
        Err(format!(
            "{why}\n{}\n{}",
            qemu.command_line(),
            run.describe()
        ))
    };
    if !run
        .output
        .contains("selftest: armed a deliberate handoff violation")
    {
        return fail("the self-test did not arm the violation (load options not passed?)");
    }
    if !run
        .output
        .lines()
        .any(|l| l.contains("handoff violation") && l.contains("AllocatePool"))
    {
        return fail("no handoff-violation log line naming AllocatePool");
    }
    let expected = if strict {
        debug_exit_status(STRICT_HANDOFF_STATUS)
    } else {
        debug_exit_status(SELFTEST_PASSED)
    };
    if run.exit_code != Some(expected) {
        return fail(&format!("expected QEMU exit status {expected}"));
    }
    Ok(())
}

/// Builds the UEFI application `package` (release, `x86_64-unknown-uefi`) and returns the path of its PE32+
/// image, `<target dir>/x86_64-unknown-uefi/release/<package>.efi`.
///
/// Errors: cargo could not run or the build failed; the build succeeded but the `.efi` file is missing.
pub fn build_app(package: &str) -> Result<PathBuf, String> {
    crate::cargo(
        &[
            "build",
            "--release",
            "--target",
            "x86_64-unknown-uefi",
            "--package",
            package,
        ],
        &[],
    )?;
    let efi = efi_path(&crate::target_dir(), package);
    if efi.is_file() {
        Ok(efi)
    } else {
        Err(format!(
            "{}: not produced by the build of {package}",
            efi.display()
        ))
    }
}

/// Where cargo puts the release `.efi` of `package` under `target_dir`.
fn efi_path(target_dir: &Path, package: &str) -> PathBuf {
    target_dir
        .join("x86_64-unknown-uefi/release")
        .join(format!("{package}.efi"))
}

/// Boots the boot-services self-test under vmfw on `machine` and requires QEMU exit status 33 and a
/// `selftest: N passed, 0 failed` summary with N > 0.
pub fn selftest(ctx: &Ctx, machine: Machine) -> Result<(), String> {
    let app = build_app(SELFTEST_PACKAGE)?;
    run_selftest(&Firmware::Bios(ctx.image.clone()), machine, &app)
}

/// Boots the same self-test under OVMF (q35), the reference implementation of the UEFI specification.
pub fn selftest_on_ovmf(ctx: &Ctx) -> Result<(), String> {
    let app = build_app(SELFTEST_PACKAGE)?;
    let firmware = Firmware::ovmf(&ctx.scratch, "bs-selftest")?;
    run_selftest(&firmware, Machine::Q35, &app)
}

fn run_selftest(firmware: &Firmware, machine: Machine, app: &Path) -> Result<(), String> {
    let qemu = Qemu::new(machine, 512, firmware).args([
        "-kernel".to_string(),
        app.display().to_string(),
        "-net".to_string(),
        "none".to_string(),
    ]);
    let run = qemu.run_captured(TIMEOUT, false, |_| false)?;
    verdict(&run.output, run.exit_code)
        .map_err(|why| format!("{why}\n{}\n{}", qemu.command_line(), run.describe()))
}

/// The counts of the last `selftest: N passed, M failed` line in `output` (console text, possibly with escape
/// sequences before the marker).
pub fn parse_summary(output: &str) -> Option<(u32, u32)> {
    output.lines().rev().find_map(|line| {
        let rest = &line[line.find("selftest: ")? + "selftest: ".len()..];
        let (passed, rest) = rest.trim_end().split_once(" passed, ")?;
        let failed = rest.strip_suffix(" failed")?;
        Some((passed.parse().ok()?, failed.parse().ok()?))
    })
}

/// Judges a run: `Ok` only for exit status 33 with a summary of at least one passed and no failed check. The
/// error lists the FAILED check lines.
pub fn verdict(output: &str, exit_code: Option<i32>) -> Result<(), String> {
    let failed_lines: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("selftest: ") && l.contains(" ... FAILED"))
        .collect();
    let summary = parse_summary(output);
    let want = debug_exit_status(SELFTEST_PASSED);
    match (summary, exit_code) {
        (Some((passed, 0)), Some(code)) if passed > 0 && code == want && failed_lines.is_empty() => Ok(()),
        _ => Err(format!(
            "bs-selftest: exit status {exit_code:?} (want {want}; {} means a check failed), summary {}\n{}",
            debug_exit_status(SELFTEST_FAILED),
            summary.map_or("missing".to_string(), |(p, f)| format!("{p} passed, {f} failed")),
            failed_lines.join("\n")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\x1b[=3hselftest: bs-selftest starting\nselftest: memory: x ... ok\n\
                        selftest: calling ExitBootServices\nselftest: 33 passed, 0 failed\n";

    #[test]
    fn efi_path_is_under_the_uefi_release_dir() {
        assert_eq!(
            efi_path(Path::new("/t"), "bs-selftest"),
            PathBuf::from("/t/x86_64-unknown-uefi/release/bs-selftest.efi")
        );
    }

    #[test]
    fn parses_the_last_summary() {
        assert_eq!(parse_summary(GOOD), Some((33, 0)));
        assert_eq!(
            parse_summary(
                "selftest: 1 passed, 2 failed\nnoise\nxx selftest: 3 passed, 4 failed  \n"
            ),
            Some((3, 4))
        );
        assert_eq!(parse_summary("selftest: memory: x ... ok\n"), None);
        assert_eq!(parse_summary("selftest: many passed, 0 failed\n"), None);
    }

    #[test]
    fn verdict_needs_status_33_and_a_clean_summary() {
        assert_eq!(verdict(GOOD, Some(33)), Ok(()));
        // Right summary, wrong status (failure value, killed, or a crash).
        assert!(verdict(GOOD, Some(35)).is_err());
        assert!(verdict(GOOD, None).is_err());
        // Right status, but the summary is missing or reports failures or no checks.
        assert!(verdict("selftest: memory: x ... ok\n", Some(33)).is_err());
        let err = verdict(
            "selftest: a ... FAILED (why)\nselftest: 1 passed, 1 failed\n",
            Some(33),
        )
        .unwrap_err();
        assert!(err.contains("selftest: a ... FAILED (why)"), "{err}");
        assert!(err.contains("1 passed, 1 failed"), "{err}");
        assert!(verdict("selftest: 0 passed, 0 failed\n", Some(33)).is_err());
    }
}
