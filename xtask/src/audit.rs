//! `cargo xtask audit`: boots the handoff-audit app (`tools/handoff-audit`) as `\EFI\BOOT\BOOTX64.EFI` from an
//! ESP on virtio-blk under a firmware, with the fixed device set of [`devices`], feeds the NICs once the canary
//! is armed ([`runner`]), writes the report to `target/audit/<firmware>.json` (`<firmware>-pc.json` on `pc`) and
//! prints the table of [`table`]. It fails when the report's outcome is not "clean".
//!
//! `--firmware` is `vmfw` (built first), `ovmf` (Debian's OVMF with a fresh copy of its variable store) or the
//! path of a flash image given to QEMU with `-bios`. `--kernel` hands the app over with QEMU `-kernel` instead of
//! the ESP (a development aid for firmware that cannot boot from virtio-blk).

mod devices;
mod runner;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use handoff_audit_core::binding;
use serde_json::Value;

use crate::itest::Ctx;
use crate::qemu::{Firmware, Machine, Qemu};

/// The package of the app.
pub const APP_PACKAGE: &str = "handoff-audit";
/// Guest RAM: large enough for every firmware, small enough that filling it under TCG takes seconds.
pub const MEMORY_MIB: u64 = 512;
/// Generous; only fails a hang (the app itself gives up waiting for the runner after 120 s).
const TIMEOUT: Duration = Duration::from_secs(400);

/// How the firmware gets the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boot {
    /// `\EFI\BOOT\BOOTX64.EFI` on the ESP (virtio-blk, bootindex 1).
    Esp,
    /// QEMU `-kernel` (the ESP disk is attached all the same).
    Kernel,
    /// QEMU `-kernel` with `-append leak-e1000`: the app leaves an e1000 receiving on purpose.
    KernelWithLeak,
}

/// An audit's result.
pub struct Audited {
    /// The parsed report.
    pub report: Value,
    /// The QEMU command line.
    pub command_line: String,
    /// Console and exit of the run.
    pub run: runner::AuditRun,
}

impl Audited {
    /// "clean", "violations" or "audit_error".
    pub fn outcome(&self) -> &str {
        table::outcome(&self.report)
    }

    /// The table and the notes under it.
    pub fn render(&self) -> String {
        format!(
            "{}\n{}",
            table::render(&table::rows(&self.report)),
            table::notes(&self.report)
        )
    }
}

/// Runs one audit of `firmware` on `machine`, with scratch files under `dir`. Errors: the app could not be
/// built, no report appeared, or QEMU's exit status disagrees with the report's outcome.
pub fn audit(
    firmware: &Firmware,
    machine: Machine,
    boot: Boot,
    dir: &std::path::Path,
    echo: bool,
) -> Result<Audited, String> {
    let app = crate::uefi_app::build_app(APP_PACKAGE)?;
    let (mut args, links) = devices::device_set(machine, dir, &app)?;
    args.extend(["-net".to_string(), "none".to_string()]);
    if boot != Boot::Esp {
        args.extend(["-kernel".to_string(), app.display().to_string()]);
    }
    if boot == Boot::KernelWithLeak {
        args.extend(["-append".to_string(), "leak-e1000".to_string()]);
    }
    let qemu = Qemu::new(machine, MEMORY_MIB, firmware).args(args);
    let run = runner::run(&qemu, &links, TIMEOUT, echo)?;
    let fail = |why: String, run: &runner::AuditRun| {
        format!("{why}\n$ {}\n{}", qemu.command_line(), run.describe())
    };
    let report = match table::extract(&run.output) {
        Ok(r) => r,
        Err(why) => return Err(fail(why, &run)),
    };
    let want = table::exit_status_for(table::outcome(&report));
    if run.exit_code != want {
        return Err(fail(
            format!(
                "QEMU exit status {:?} does not match the report's outcome {} ({want:?})",
                run.exit_code,
                table::outcome(&report)
            ),
            &run,
        ));
    }
    Ok(Audited {
        report,
        command_line: qemu.command_line(),
        run,
    })
}

/// `cargo xtask audit --firmware vmfw|ovmf|PATH [--machine q35|pc] [--kernel]`.
pub fn command(firmware: &str, machine: Machine, kernel: bool) -> Result<(), String> {
    let out_dir = crate::target_dir().join("audit");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let (fw, name) = match firmware {
        "vmfw" => (Firmware::Bios(crate::build("info")?), "vmfw".to_string()),
        "ovmf" => (Firmware::ovmf(&out_dir, "audit")?, "ovmf".to_string()),
        path => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(format!(
                    "--firmware {}: not vmfw, ovmf or a file",
                    path.display()
                ));
            }
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("firmware")
                .to_string();
            (Firmware::Bios(path), name)
        }
    };
    let file = match machine {
        Machine::Q35 => format!("{name}.json"),
        other => format!("{name}-{}.json", other.name()),
    };
    let boot = if kernel { Boot::Kernel } else { Boot::Esp };
    eprintln!(
        "auditing {name} on {} ({boot:?} boot); console follows",
        machine.name()
    );
    let audited = audit(
        &fw,
        machine,
        boot,
        &out_dir.join(format!("{name}-{}", machine.name())),
        true,
    )?;
    let json = out_dir.join(&file);
    let pretty = serde_json::to_string_pretty(&audited.report).map_err(|e| e.to_string())?;
    std::fs::write(&json, pretty + "\n").map_err(|e| format!("{}: {e}", json.display()))?;
    println!(
        "\nhandoff audit of {name} on {} ({}), report {}:\n",
        machine.name(),
        audited.report["firmware"]["vendor"].as_str().unwrap_or("?"),
        json.display()
    );
    print!("{}", audited.render());
    println!(
        "runner: sent {} after \"canary armed\"; run took {:.1} s",
        if audited.run.traffic.is_empty() {
            "nothing"
        } else {
            &audited.run.traffic
        },
        audited.run.elapsed.as_secs_f64()
    );
    println!("outcome: {}", audited.outcome());
    match audited.outcome() {
        "clean" => Ok(()),
        other => Err(format!("{name}: handoff audit outcome {other}")),
    }
}

/// The virtio device kinds, NVMe, xHCI and e1000 the fixed device set must show in every report.
const EXPECTED_KINDS: [&str; 7] = [
    "virtio-blk",
    "virtio-net",
    "virtio-scsi",
    "virtio-rng",
    "nvme",
    "xhci",
    "e1000",
];

/// Checks that the audit really looked: every device of the fixed set found (virtio-scsi behind a bridge), the
/// canary armed over a plausible amount of memory and the runner's traffic confirmed.
pub fn looked_everywhere(report: &Value) -> Result<(), String> {
    let devices = report["devices"].as_array().cloned().unwrap_or_default();
    for kind in EXPECTED_KINDS {
        if !devices.iter().any(|d| d["kind"] == kind) {
            return Err(format!("the report lists no {kind}"));
        }
    }
    if !devices.iter().any(|d| {
        d["kind"] == "virtio-scsi" && d["bdf"].as_str().is_some_and(|b| !b.starts_with("00:"))
    }) {
        return Err("virtio-scsi behind the bridge was not found beyond bus 0".into());
    }
    let canary = &report["canary"];
    if canary["ran"] != true || canary["runner_confirmed"] != true {
        return Err(format!(
            "the canary did not run with confirmed traffic: {canary}"
        ));
    }
    if canary["free_bytes"].as_u64().unwrap_or(0) < (MEMORY_MIB << 20) / 2 {
        return Err(format!(
            "the canary covered only {} bytes",
            canary["free_bytes"]
        ));
    }
    Ok(())
}

fn on_vmfw(ctx: &Ctx, machine: Machine) -> Result<(), String> {
    let dir = ctx.scratch.join(format!("audit-vmfw-{}", machine.name()));
    let audited = audit(
        &Firmware::Bios(ctx.image.clone()),
        machine,
        Boot::Esp,
        &dir,
        false,
    )?;
    let explain = |why: String| format!("{why}\n{}\n$ {}", audited.render(), audited.command_line);
    looked_everywhere(&audited.report).map_err(explain)?;
    driven_by(&audited.report, "virtio-blk", Named::Any).map_err(explain)?;
    if audited.outcome() != "clean" {
        return Err(explain(format!(
            "vmfw's handoff is not clean: {}",
            audited.outcome()
        )));
    }
    Ok(())
}

/// The audit must catch a NIC left receiving: the app itself leaves the e1000 running (`leak-e1000`) under
/// vmfw, so the report must say "violations", name the e1000 live with canary pages written at its ring, and
/// nothing else live.
fn catches_a_leak(ctx: &Ctx) -> Result<(), String> {
    let dir = ctx.scratch.join("audit-leak");
    let audited = audit(
        &Firmware::Bios(ctx.image.clone()),
        Machine::Q35,
        Boot::KernelWithLeak,
        &dir,
        false,
    )?;
    let explain = |why: String| format!("{why}\n{}\n$ {}", audited.render(), audited.command_line);
    looked_everywhere(&audited.report).map_err(explain)?;
    driven_by(
        &audited.report,
        "e1000",
        Named::Exactly(binding::LEAK_DRIVER_NAME),
    )
    .map_err(explain)?;
    caught_the_leak(&audited.report).map_err(explain)
}

/// What [`driven_by`] requires of the drivers' names.
#[derive(Clone, Copy, Debug)]
pub enum Named<'a> {
    /// Nothing (the firmware's drivers may lack Component Name 2).
    Any,
    /// At least one driver has a name.
    Some,
    /// One driver has this name.
    Exactly(&'a str),
}

/// Checks that the report says a firmware driver held the PCI I/O of the (first) function of `kind` BY_DRIVER
/// before ExitBootServices, with names as `named` requires.
pub fn driven_by(report: &Value, kind: &str, named: Named) -> Result<(), String> {
    let devices = report["devices"].as_array().cloned().unwrap_or_default();
    let d = devices
        .iter()
        .find(|d| d["kind"] == kind)
        .ok_or_else(|| format!("the report lists no {kind}"))?;
    if d["driven"] != true || d["binding"]["status"] != "driven" {
        return Err(format!(
            "the {kind} is not reported driven by a firmware driver: {}",
            d["binding"]
        ));
    }
    let names: Vec<&str> = d["binding"]["drivers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|driver| driver["name"].as_str())
        .collect();
    let ok = match named {
        Named::Any => true,
        Named::Some => !names.is_empty(),
        Named::Exactly(want) => names.contains(&want),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the {kind}'s drivers are named {names:?}, expected {named:?}"
        ))
    }
}

/// The verdicts a run with the deliberate e1000 leak must have.
pub fn caught_the_leak(report: &Value) -> Result<(), String> {
    if report["outcome"] != "violations" {
        return Err(format!(
            "outcome {}, expected violations",
            report["outcome"]
        ));
    }
    let devices = report["devices"].as_array().cloned().unwrap_or_default();
    let live: Vec<&Value> = devices.iter().filter(|d| d["verdict"] == "live").collect();
    match live.as_slice() {
        [nic] if nic["kind"] == "e1000" => {
            if nic["canary_hits"].as_array().is_none_or(Vec::is_empty) {
                return Err("the e1000 is live but no canary page was blamed on it".into());
            }
            Ok(())
        }
        _ => Err(format!(
            "expected exactly the e1000 live, got {:?}",
            live.iter().map(|d| &d["kind"]).collect::<Vec<_>>()
        )),
    }
}

/// OVMF as a reference: the tool must produce a complete report (OVMF may leave devices live; that is what the
/// tool is for, so the outcome may be "violations" but not "audit_error").
fn on_ovmf(ctx: &Ctx) -> Result<(), String> {
    let firmware = Firmware::ovmf(&ctx.scratch, "audit")?;
    let audited = audit(
        &firmware,
        Machine::Q35,
        Boot::Esp,
        &ctx.scratch.join("audit-ovmf"),
        false,
    )?;
    let explain = |why: String| format!("{why}\n{}\n$ {}", audited.render(), audited.command_line);
    looked_everywhere(&audited.report).map_err(explain)?;
    driven_by(&audited.report, "virtio-blk", Named::Some).map_err(explain)?;
    if audited.outcome() == "audit_error" {
        return Err(explain("the audit failed on OVMF".into()));
    }
    Ok(())
}

/// The integration tests of this module.
pub const TESTS: &[(&str, crate::itest::TestFn)] = &[
    ("audit_vmfw_q35_is_clean", |c| on_vmfw(c, Machine::Q35)),
    ("audit_vmfw_pc_is_clean", |c| on_vmfw(c, Machine::Pc)),
    ("audit_catches_an_e1000_left_receiving", catches_a_leak),
    ("audit_reference_ovmf_reports", on_ovmf),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn report(kinds: &[(&str, &str)], canary: &str) -> Value {
        let devices: Vec<String> = kinds
            .iter()
            .map(|(bdf, kind)| format!(r#"{{"bdf":"{bdf}","kind":"{kind}"}}"#))
            .collect();
        serde_json::from_str(&format!(
            r#"{{"devices":[{}],"canary":{canary}}}"#,
            devices.join(",")
        ))
        .unwrap()
    }

    const ALL: [(&str, &str); 7] = [
        ("00:02.0", "virtio-blk"),
        ("00:03.0", "virtio-net"),
        ("01:00.0", "virtio-scsi"),
        ("00:04.0", "virtio-rng"),
        ("00:05.0", "nvme"),
        ("00:06.0", "xhci"),
        ("00:07.0", "e1000"),
    ];
    const GOOD_CANARY: &str = r#"{"ran":true,"runner_confirmed":true,"free_bytes":400000000}"#;

    #[test]
    fn the_leak_must_be_the_e1000_alone_with_canary_hits() {
        let report = |devices: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"outcome":"violations","devices":[{devices}]}}"#
            ))
            .unwrap()
        };
        let nic = r#"{"kind":"e1000","verdict":"live","canary_hits":[{"start":"0x1000","end":"0x2000"}]}"#;
        let quiet = r#"{"kind":"nvme","verdict":"quiet","canary_hits":[]}"#;
        assert_eq!(caught_the_leak(&report(&format!("{nic},{quiet}"))), Ok(()));
        let no_hits = r#"{"kind":"e1000","verdict":"live","canary_hits":[]}"#;
        assert!(caught_the_leak(&report(no_hits)).is_err());
        let two = r#"{"kind":"nvme","verdict":"live","canary_hits":[]}"#;
        assert!(caught_the_leak(&report(&format!("{nic},{two}"))).is_err());
        assert!(caught_the_leak(&report(quiet)).is_err());
        let clean: Value = serde_json::from_str(r#"{"outcome":"clean","devices":[]}"#).unwrap();
        assert!(caught_the_leak(&clean).is_err());
    }

    #[test]
    fn driven_by_reads_the_binding_and_the_names() {
        let report = |binding: &str, driven: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"devices":[{{"kind":"virtio-net","driven":false,"binding":{{"status":"not_driven","drivers":[]}}}},
                   {{"kind":"virtio-blk","driven":{driven},"binding":{binding}}}]}}"#
            ))
            .unwrap()
        };
        let named = r#"{"status":"driven","drivers":[{"agent":"0x1","name":"Virtio PCI Driver"}]}"#;
        let anonymous = r#"{"status":"driven","drivers":[{"agent":"0x1","name":null}]}"#;
        let r = report(named, "true");
        assert_eq!(driven_by(&r, "virtio-blk", Named::Any), Ok(()));
        assert_eq!(driven_by(&r, "virtio-blk", Named::Some), Ok(()));
        assert_eq!(
            driven_by(&r, "virtio-blk", Named::Exactly("Virtio PCI Driver")),
            Ok(())
        );
        assert!(driven_by(&r, "virtio-blk", Named::Exactly("other")).is_err());
        assert!(driven_by(&r, "virtio-net", Named::Any)
            .unwrap_err()
            .contains("not reported driven"));
        assert!(driven_by(&r, "nvme", Named::Any).is_err());
        let r = report(anonymous, "true");
        assert_eq!(driven_by(&r, "virtio-blk", Named::Any), Ok(()));
        assert!(driven_by(&r, "virtio-blk", Named::Some).is_err());
        let r = report(r#"{"status":"unknown","drivers":[]}"#, "null");
        assert!(driven_by(&r, "virtio-blk", Named::Any).is_err());
    }

    #[test]
    fn looked_everywhere_needs_every_device_and_a_real_canary() {
        assert_eq!(looked_everywhere(&report(&ALL, GOOD_CANARY)), Ok(()));
        assert!(looked_everywhere(&report(&ALL[1..], GOOD_CANARY))
            .unwrap_err()
            .contains("virtio-blk"));
        let mut flat = ALL;
        flat[2].0 = "00:08.0";
        assert!(looked_everywhere(&report(&flat, GOOD_CANARY))
            .unwrap_err()
            .contains("beyond bus 0"));
        let unconfirmed = r#"{"ran":true,"runner_confirmed":false,"free_bytes":400000000}"#;
        assert!(looked_everywhere(&report(&ALL, unconfirmed)).is_err());
        let small = r#"{"ran":true,"runner_confirmed":true,"free_bytes":4096}"#;
        assert!(looked_everywhere(&report(&ALL, small)).is_err());
    }
}
