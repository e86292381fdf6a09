//! The boot benchmark's report: what `target/bench/report.json` holds, how `report.md` and the printed ratios
//! are rendered from it, and the well-formedness check the one-run integration test applies.

use serde::{Deserialize, Serialize};

use super::memmap::Accounting;
use super::stats::{self, Summary};

/// One boot of one configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds from QEMU start until the serial line with "Linux version" arrived.
    pub linux_version_s: Option<f64>,
    /// Seconds from QEMU start until the initramfs marker line arrived.
    pub marker_s: Option<f64>,
    /// The guest RAM accounting from this boot's final memory map.
    pub memory: Option<Accounting>,
    /// Why the boot did not reach the initramfs marker; `None` when it did.
    pub failure: Option<String>,
}

/// One configuration (a firmware and a boot path) over all rounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    /// Short name, e.g. `vmfw-uki`.
    pub name: String,
    /// `vmfw`, `OVMF` or `SeaBIOS`.
    pub firmware: String,
    /// How the kernel is reached, e.g. `UKI on virtio-blk`.
    pub boot: String,
    /// Every run reached the initramfs marker.
    pub ok: bool,
    /// The first failure's reason and how many runs failed; `None` when `ok`.
    pub failure: Option<String>,
    /// How many runs reached the initramfs marker.
    pub runs_ok: usize,
    /// QEMU start to "Linux version", seconds, over the runs that printed it.
    pub linux_version_s: Option<Summary>,
    /// QEMU start to the initramfs marker, seconds, over the runs that reached it.
    pub marker_s: Option<Summary>,
    /// Size of the firmware's code image (the `-bios` file or pflash unit 0), bytes.
    pub flash_bytes: u64,
    /// Size of the firmware's variable store flash (pflash unit 1), bytes, when it has one.
    pub vars_bytes: Option<u64>,
    /// Guest RAM accounting of the first run that reported its memory map.
    pub memory: Option<Accounting>,
    /// Whether runs disagreed on the RAM not handed to the OS.
    pub memory_varies: bool,
    /// What `assets::check_guest` found wrong with the first successful UEFI boot, if anything.
    pub guest_check: Option<String>,
    /// Every run, in the order run.
    pub samples: Vec<Sample>,
}

impl Configuration {
    /// Summarizes `samples` of one configuration.
    pub fn new(
        (name, firmware, boot): (&str, &str, &str),
        (flash_bytes, vars_bytes): (u64, Option<u64>),
        samples: Vec<Sample>,
        guest_check: Option<String>,
    ) -> Configuration {
        let times = |f: fn(&Sample) -> Option<f64>| {
            stats::summarize(&samples.iter().filter_map(f).collect::<Vec<_>>())
        };
        let failed: Vec<&String> = samples.iter().filter_map(|s| s.failure.as_ref()).collect();
        let memories: Vec<Accounting> = samples.iter().filter_map(|s| s.memory).collect();
        Configuration {
            name: name.into(),
            firmware: firmware.into(),
            boot: boot.into(),
            ok: !samples.is_empty() && failed.is_empty(),
            failure: match (failed.first(), samples.is_empty()) {
                (_, true) => Some("no runs".into()),
                (Some(first), false) => Some(format!(
                    "{} of {} runs failed; first: {first}",
                    failed.len(),
                    samples.len()
                )),
                (None, false) => None,
            },
            runs_ok: samples.len() - failed.len(),
            linux_version_s: times(|s| s.linux_version_s),
            marker_s: times(|s| s.marker_s.filter(|_| s.failure.is_none())),
            flash_bytes,
            vars_bytes,
            memory: memories.first().copied(),
            memory_varies: memories
                .windows(2)
                .any(|w| w[0].not_usable_bytes != w[1].not_usable_bytes),
            guest_check,
            samples,
        }
    }
}

/// `numerator ÷ denominator` of two configurations' medians and sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// E.g. `vmfw/OVMF`.
    pub name: String,
    /// The configuration divided.
    pub numerator: String,
    /// The configuration divided by.
    pub denominator: String,
    /// Of the median times to "Linux version".
    pub linux_version: Option<f64>,
    /// Of the median times to the initramfs marker.
    pub marker: Option<f64>,
    /// Of the code flash sizes.
    pub flash: Option<f64>,
    /// Of the RAM not handed to the OS as usable.
    pub not_usable: Option<f64>,
    /// The failed configurations whose numbers are missing or partial.
    pub failed: Vec<String>,
}

impl Ratio {
    /// The ratio `name` of configuration `numerator` to configuration `denominator`.
    pub fn new(name: &str, numerator: &Configuration, denominator: &Configuration) -> Ratio {
        let median = |s: Option<Summary>| s.map(|s| s.median);
        let not_usable = |c: &Configuration| c.memory.map(|m| m.not_usable_bytes as f64);
        Ratio {
            name: name.into(),
            numerator: numerator.name.clone(),
            denominator: denominator.name.clone(),
            linux_version: stats::ratio(
                median(numerator.linux_version_s),
                median(denominator.linux_version_s),
            ),
            marker: stats::ratio(median(numerator.marker_s), median(denominator.marker_s)),
            flash: stats::ratio(
                Some(numerator.flash_bytes as f64),
                Some(denominator.flash_bytes as f64),
            ),
            not_usable: stats::ratio(not_usable(numerator), not_usable(denominator)),
            failed: [numerator, denominator]
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.name.clone())
                .collect(),
        }
    }
}

/// Everything one `cargo xtask bench` measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Rounds; each boots every configuration once.
    pub runs: u32,
    /// QEMU machine type.
    pub machine: String,
    /// QEMU accelerator.
    pub accel: String,
    /// Guest RAM, MiB.
    pub memory_mib: u64,
    /// The kernel file booted by every configuration.
    pub kernel: String,
    /// Per configuration, in the order of the first round.
    pub configurations: Vec<Configuration>,
    /// vmfw against each reference.
    pub ratios: Vec<Ratio>,
}

fn seconds(s: &Option<Summary>) -> String {
    match s {
        Some(s) => format!("{:.2} ({:.2}–{:.2})", s.median, s.min, s.max),
        None => "–".into(),
    }
}

fn factor(r: Option<f64>) -> String {
    r.map_or_else(|| "–".into(), |r| format!("{r:.2}"))
}

fn kib(bytes: u64) -> String {
    format!("{}", bytes.div_ceil(1024))
}

/// One line of text for a table cell or list item: no newlines, no `|`.
fn flat(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
        .replace('|', "/")
}

/// The report as Markdown: setup, one table row per configuration, failures, ratios.
pub fn render_markdown(report: &Report) -> String {
    let mut md = format!(
        "# vmfw boot benchmark\n\n{} round(s), each booting every configuration once, interleaved; QEMU `{}`, {}, \
         {} MiB; kernel `{}`.\nTimes are seconds from QEMU start until the host read the line on the serial \
         console: median (min–max) over the runs that reached it. RAM not usable is the part of guest RAM the \
         final memory map does not give the OS as usable memory (from `/sys/firmware/memmap` in the guest).\n\n",
        report.runs, report.machine, report.accel, report.memory_mib, report.kernel
    );
    md.push_str(
        "| configuration | firmware | boot | runs ok | → \"Linux version\" (s) | → initramfs marker (s) | \
         flash (KiB) | RAM not usable (KiB) | reserved / runtime / ACPI / unlisted (KiB) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for c in &report.configurations {
        let flash = match c.vars_bytes {
            Some(vars) => format!("{} + {} vars", kib(c.flash_bytes), kib(vars)),
            None => kib(c.flash_bytes),
        };
        let (total, parts) = match &c.memory {
            Some(m) => (
                format!(
                    "{}{}",
                    kib(m.not_usable_bytes),
                    if c.memory_varies { " (varies)" } else { "" }
                ),
                format!(
                    "{} / {} / {} / {}",
                    kib(m.reserved_bytes),
                    kib(m.runtime_bytes),
                    kib(m.acpi_bytes),
                    kib(m.unlisted_bytes)
                ),
            ),
            None => ("–".into(), "–".into()),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {}/{} | {} | {} | {flash} | {total} | {parts} |\n",
            c.name,
            c.firmware,
            c.boot,
            c.runs_ok,
            c.samples.len(),
            seconds(&c.linux_version_s),
            seconds(&c.marker_s),
        ));
    }
    let failures: Vec<&Configuration> = report.configurations.iter().filter(|c| !c.ok).collect();
    if !failures.is_empty() {
        md.push_str("\n## Failed configurations\n\n");
        for c in failures {
            let why = c.failure.as_deref().unwrap_or("unknown");
            md.push_str(&format!("- **{}**: {}\n", c.name, flat(why)));
        }
    }
    let checks: Vec<&Configuration> = report
        .configurations
        .iter()
        .filter(|c| c.guest_check.is_some())
        .collect();
    if !checks.is_empty() {
        md.push_str("\n## Guest checks that failed (timings still count)\n\n");
        for c in checks {
            let what = c.guest_check.as_deref().unwrap_or_default();
            md.push_str(&format!("- **{}**: {}\n", c.name, flat(what)));
        }
    }
    md.push_str(
        "\n## Ratios\n\nMedians and sizes of the first configuration divided by the second's; below 1 means \
         vmfw is faster or smaller.\n\n\
         | ratio | configurations | → \"Linux version\" | → initramfs marker | flash | RAM not usable |\n\
         |---|---|---|---|---|---|\n",
    );
    for r in &report.ratios {
        md.push_str(&format!(
            "| {} | {} ÷ {} | {} | {} | {} | {} |\n",
            r.name,
            r.numerator,
            r.denominator,
            factor(r.linux_version),
            factor(r.marker),
            factor(r.flash),
            factor(r.not_usable)
        ));
    }
    md
}

/// The ratios as printed on the terminal, one line each.
pub fn render_ratios(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.ratios {
        out.push_str(&format!(
            "{} ({} ÷ {}): \"Linux version\" {}, initramfs marker {}, flash {}, RAM not usable {}",
            r.name,
            r.numerator,
            r.denominator,
            factor(r.linux_version),
            factor(r.marker),
            factor(r.flash),
            factor(r.not_usable)
        ));
        if !r.failed.is_empty() {
            out.push_str(&format!(" (failed: {})", r.failed.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// Checks that `json` and `md` are a complete report of `runs` rounds over the configurations `names`, and
/// returns the parsed report.
///
/// Errors: JSON that does not parse as a [`Report`], a different round count or set of configurations, a
/// configuration whose samples, run counts, summaries or memory accounting disagree, a ratio naming an unknown
/// configuration, or Markdown that lacks a configuration's row.
pub fn check(json: &str, md: &str, runs: u32, names: &[&str]) -> Result<Report, String> {
    let report: Report =
        serde_json::from_str(json).map_err(|e| format!("report.json does not parse: {e}"))?;
    if report.runs != runs {
        return Err(format!(
            "report.json: {} runs, expected {runs}",
            report.runs
        ));
    }
    let got: Vec<&str> = report
        .configurations
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if got != names {
        return Err(format!(
            "report.json: configurations {got:?}, expected {names:?}"
        ));
    }
    for c in &report.configurations {
        let bad = |what: &str| Err(format!("report.json: {}: {what}", c.name));
        let failed = c.samples.iter().filter(|s| s.failure.is_some()).count();
        if c.samples.len() != runs as usize || c.runs_ok != c.samples.len() - failed {
            return bad("sample and run counts disagree");
        }
        if c.ok != (failed == 0) || c.ok == c.failure.is_some() {
            return bad("ok and failure disagree");
        }
        if c.marker_s.map(|s| s.samples) != Some(c.runs_ok).filter(|&n| n > 0) {
            return bad("marker summary does not cover the successful runs");
        }
        if let Some(m) = c.memory {
            let parts = m.usable_bytes
                + m.runtime_bytes
                + m.acpi_bytes
                + m.reserved_bytes
                + m.unlisted_bytes;
            if parts != m.ram_bytes || m.not_usable_bytes != m.ram_bytes - m.usable_bytes {
                return bad("memory accounting does not add up");
            }
        }
        if !md
            .lines()
            .any(|l| l.starts_with(&format!("| {} |", c.name)))
        {
            return Err(format!("report.md has no row for {}", c.name));
        }
    }
    for r in &report.ratios {
        if ![&r.numerator, &r.denominator]
            .iter()
            .all(|n| names.contains(&n.as_str()))
        {
            return Err(format!(
                "report.json: ratio {} names an unknown configuration",
                r.name
            ));
        }
        if !md.contains(&format!("| {} |", r.name)) {
            return Err(format!("report.md has no row for ratio {}", r.name));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_sample(linux: f64, marker: f64) -> Sample {
        Sample {
            linux_version_s: Some(linux),
            marker_s: Some(marker),
            memory: Some(Accounting {
                ram_bytes: 100 << 10,
                usable_bytes: 90 << 10,
                not_usable_bytes: 10 << 10,
                runtime_bytes: 4 << 10,
                acpi_bytes: 2 << 10,
                reserved_bytes: 3 << 10,
                unlisted_bytes: 1 << 10,
            }),
            failure: None,
        }
    }

    fn failed_sample(why: &str) -> Sample {
        Sample {
            failure: Some(why.into()),
            ..Sample::default()
        }
    }

    fn report() -> Report {
        let fast = Configuration::new(
            ("fast", "vmfw", "UKI"),
            (256 << 10, None),
            vec![
                ok_sample(1.0, 2.0),
                ok_sample(1.2, 2.4),
                ok_sample(1.1, 2.2),
            ],
            None,
        );
        let slow = Configuration::new(
            ("slow", "OVMF", "UKI"),
            (4096 << 10, Some(528 << 10)),
            vec![
                ok_sample(2.0, 4.0),
                ok_sample(2.2, 4.4),
                ok_sample(2.4, 4.8),
            ],
            Some("efivarfs did not mount\nsecond | line".into()),
        );
        let broken = Configuration::new(
            ("broken", "vmfw", "-kernel"),
            (256 << 10, None),
            vec![
                failed_sample("timed out"),
                ok_sample(1.0, 3.0),
                failed_sample("exit 1"),
            ],
            None,
        );
        let ratios = vec![
            Ratio::new("fast/slow", &fast, &slow),
            Ratio::new("broken/slow", &broken, &slow),
        ];
        Report {
            runs: 3,
            machine: "q35".into(),
            accel: "tcg".into(),
            memory_mib: 512,
            kernel: "vmlinuz".into(),
            configurations: vec![fast, slow, broken],
            ratios,
        }
    }

    #[test]
    fn configurations_summarize_successful_runs_and_name_the_first_failure() {
        let r = report();
        let [fast, _, broken] = &r.configurations[..] else {
            panic!()
        };
        assert!(fast.ok && fast.failure.is_none() && fast.runs_ok == 3);
        assert_eq!(fast.marker_s.unwrap().median, 2.2);
        assert!(!broken.ok);
        assert_eq!(broken.runs_ok, 1);
        assert_eq!(
            broken.failure.as_deref(),
            Some("2 of 3 runs failed; first: timed out")
        );
        assert_eq!(broken.marker_s.unwrap().samples, 1);
    }

    #[test]
    fn ratios_divide_medians_and_sizes_and_name_failed_sides() {
        let r = report();
        let fast_slow = &r.ratios[0];
        assert_eq!(fast_slow.marker, Some(0.5));
        assert_eq!(fast_slow.linux_version, Some(0.5));
        assert_eq!(fast_slow.flash, Some(1.0 / 16.0));
        assert_eq!(fast_slow.not_usable, Some(1.0));
        assert!(fast_slow.failed.is_empty());
        assert_eq!(r.ratios[1].failed, vec!["broken".to_string()]);
        let printed = render_ratios(&r);
        assert!(printed
            .contains("fast/slow (fast ÷ slow): \"Linux version\" 0.50, initramfs marker 0.50"));
        assert!(printed.contains("(failed: broken)"));
    }

    #[test]
    fn markdown_has_a_row_per_configuration_and_lists_failures() {
        let md = render_markdown(&report());
        assert!(md.contains("| fast | vmfw | UKI | 3/3 | 1.10 (1.00–1.20) | 2.20 (2.00–2.40) | 256 | 10 | 3 / 4 / 2 / 1 |"));
        assert!(md.contains(
            "| slow | OVMF | UKI | 3/3 | 2.20 (2.00–2.40) | 4.40 (4.00–4.80) | 4096 + 528 vars |"
        ));
        assert!(md.contains("| broken | vmfw | -kernel | 1/3 |"));
        assert!(md.contains("- **broken**: 2 of 3 runs failed; first: timed out"));
        assert!(md.contains("- **slow**: efivarfs did not mount; second / line"));
        assert!(md.contains("| fast/slow | fast ÷ slow | 0.50 | 0.50 | 0.06 | 1.00 |"));
    }

    #[test]
    fn a_rendered_report_passes_the_check() {
        let r = report();
        let json = serde_json::to_string_pretty(&r).unwrap();
        let parsed = check(&json, &render_markdown(&r), 3, &["fast", "slow", "broken"]).unwrap();
        assert_eq!(parsed, r);
    }

    #[test]
    fn the_check_rejects_broken_reports() {
        let r = report();
        let md = render_markdown(&r);
        let names = ["fast", "slow", "broken"];
        let json = serde_json::to_string(&r).unwrap();
        assert!(check("{", &md, 3, &names).is_err());
        assert!(check(&json, &md, 1, &names).is_err());
        assert!(check(&json, &md, 3, &["fast", "slow"]).is_err());
        assert!(check(&json, "# empty\n", 3, &names).is_err());
        let mut bad = r.clone();
        bad.configurations[2].ok = true;
        assert!(check(&serde_json::to_string(&bad).unwrap(), &md, 3, &names).is_err());
        let mut bad = r.clone();
        bad.configurations[0].memory.as_mut().unwrap().usable_bytes += 1;
        assert!(check(&serde_json::to_string(&bad).unwrap(), &md, 3, &names).is_err());
        let mut bad = r;
        bad.configurations[1].samples.pop();
        assert!(check(&serde_json::to_string(&bad).unwrap(), &md, 3, &names).is_err());
    }
}
