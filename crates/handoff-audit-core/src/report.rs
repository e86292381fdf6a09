//! The audit's one result: checks, memory-map summary, per-function findings, canary outcome and audit errors;
//! its JSON form (printed on COM1 between [`BEGIN_MARKER`] and [`END_MARKER`]) and the `isa-debug-exit` value.
//!
//! Outcome: **audit_error** when the audit could not do part of its job (an error was recorded), else
//! **violations** when a check failed, a function is live, or a canary page changed, else **clean**. Warnings
//! never change the outcome.
//!
//! JSON shape (every 64-bit value as a `"0x..."` string):
//! `{"tool":"handoff-audit","format":1,"outcome":..,"firmware":{vendor,revision,uefi_revision},
//! "summary":{checks_failed,live,warnings,driven,changed_pages},"checks":[{name,passed,detail}],
//! "memory_map":{descriptors,descriptor_size,descriptor_version,problems,pages_by_type,free_bytes},
//! "timer":{source,tsc_hz},"pci_io":null|{located,error,handles,other_segments,problems},
//! "devices":[{bdf,vendor,device,class,kind,command,bus_master,decode_forced,driven,
//! binding:{status,drivers:[{agent,attributes,name}],unknown_because},verdict,reason,running,traces,canary_hits,
//! state}],"canary":{ran,free_bytes,pages,runner_confirmed,wait_ms,changed_pages,dropped_ranges,
//! changed:[{start,end,pages,blamed}]},"errors":[..],"notes":[..]}`.
//!
//! `driven` is `true` when a firmware driver held the function's PCI I/O `BY_DRIVER` before ExitBootServices,
//! `false` when none did (or it had no PCI I/O handle), `null` when the firmware could not be asked;
//! `binding.status` is "driven", "not_driven", "no_pci_io" or "unknown" ([`crate::binding::Binding`]); a driver's
//! `name` is its Component Name 2 driver name or `null`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::binding::{Binding, Bindings};
use crate::canary::{self, Changes};
use crate::json::Json;
use crate::judge::{Finding, Verdict};
use crate::memmap::{self, Range};

/// Printed on its own line before the JSON.
pub const BEGIN_MARKER: &str = "=== handoff-audit report begin ===";
/// Printed on its own line after the JSON.
pub const END_MARKER: &str = "=== handoff-audit report end ===";
/// Printed once the canary is in place; the runner then sends traffic to every NIC.
pub const ARMED_LINE: &str = "handoff-audit: canary armed";
/// What the runner types on COM1 once it sent its traffic.
pub const TRAFFIC_SENT: &str = "traffic sent";

/// `isa-debug-exit` value for a clean handoff (QEMU exit status 65).
pub const EXIT_CLEAN: u8 = 0x20;
/// `isa-debug-exit` value for violations (QEMU exit status 67).
pub const EXIT_VIOLATIONS: u8 = 0x21;
/// `isa-debug-exit` value when the audit itself failed (QEMU exit status 69).
pub const EXIT_AUDIT_ERROR: u8 = 0x22;

/// The overall result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed, nothing live, canary intact.
    Clean,
    /// The firmware broke a rule.
    Violations,
    /// The audit could not complete.
    AuditError,
}

impl Outcome {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::Violations => "violations",
            Outcome::AuditError => "audit_error",
        }
    }

    /// The `isa-debug-exit` value.
    pub fn exit_value(self) -> u8 {
        match self {
            Outcome::Clean => EXIT_CLEAN,
            Outcome::Violations => EXIT_VIOLATIONS,
            Outcome::AuditError => EXIT_AUDIT_ERROR,
        }
    }
}

/// One pass/fail check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether the firmware passed.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

/// The memory map handed over at ExitBootServices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapSummary {
    /// Number of descriptors.
    pub descriptors: usize,
    /// `DescriptorSize`.
    pub descriptor_size: usize,
    /// `DescriptorVersion`.
    pub descriptor_version: u32,
    /// Broken rules, as text.
    pub problems: Vec<String>,
    /// Pages per type.
    pub pages_by_type: Vec<(u32, u64)>,
    /// Bytes an OS may treat as free.
    pub free_bytes: u64,
}

/// What the canary found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryResult {
    /// Bytes filled with the pattern.
    pub free_bytes: u64,
    /// Whether the runner confirmed it sent traffic.
    pub runner_confirmed: bool,
    /// Milliseconds waited after arming.
    pub wait_ms: u64,
    /// The changed pages.
    pub changes: Changes,
}

/// The whole result.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// EFI_SYSTEM_TABLE.FirmwareVendor.
    pub firmware_vendor: String,
    /// EFI_SYSTEM_TABLE.FirmwareRevision.
    pub firmware_revision: u32,
    /// EFI_SYSTEM_TABLE.Hdr.Revision.
    pub uefi_revision: u32,
    /// Pass/fail checks in the order run.
    pub checks: Vec<Check>,
    /// The final memory map.
    pub memory_map: Option<MapSummary>,
    /// Calibrated TSC frequency.
    pub tsc_hz: Option<u64>,
    /// The PCI I/O handles' answers before ExitBootServices, once asked.
    pub bindings: Option<Bindings>,
    /// Every PCI function.
    pub devices: Vec<Finding>,
    /// The canary, when it ran.
    pub canary: Option<CanaryResult>,
    /// Why parts of the audit could not run.
    pub errors: Vec<String>,
    /// Facts about the run worth knowing (e.g. a deliberate violation armed for testing).
    pub notes: Vec<String>,
}

impl Report {
    /// Records a check.
    pub fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: String::from(name),
            passed,
            detail: detail.into(),
        });
    }

    /// Records a check from a `Result` (its error is the detail).
    pub fn check_result<E: core::fmt::Display>(&mut self, name: &str, ok: &str, r: Result<(), E>) {
        match r {
            Ok(()) => self.check(name, true, ok),
            Err(e) => self.check(name, false, format!("{e}")),
        }
    }

    /// Records an audit error.
    pub fn error(&mut self, what: impl Into<String>) {
        self.errors.push(what.into());
    }

    /// One check per memory-map rule ([`memmap::RULES`]) for `map`, named `"{prefix}: {rule}"`; a failed
    /// check's detail lists up to three problems and the total.
    pub fn map_checks(&mut self, prefix: &str, map: &memmap::MemoryMap) {
        for rule in memmap::RULES {
            let broken: Vec<String> = map
                .problems
                .iter()
                .filter(|p| p.rule() == rule)
                .map(|p| format!("{p}"))
                .collect();
            let detail = if broken.is_empty() {
                format!("{} descriptors", map.descriptors.len())
            } else {
                let shown: Vec<&str> = broken.iter().take(3).map(String::as_str).collect();
                format!("{} ({} in all)", shown.join("; "), broken.len())
            };
            self.check(&format!("{prefix}: {rule}"), broken.is_empty(), detail);
        }
    }

    fn count(&self, verdict: Verdict) -> usize {
        self.devices.iter().filter(|d| d.verdict == verdict).count()
    }

    fn changed_pages(&self) -> u64 {
        self.canary.as_ref().map_or(0, |c| c.changes.pages)
    }

    /// The overall outcome (see the module documentation).
    pub fn outcome(&self) -> Outcome {
        if !self.errors.is_empty() {
            Outcome::AuditError
        } else if self.checks.iter().any(|c| !c.passed)
            || self.count(Verdict::Live) > 0
            || self.changed_pages() > 0
        {
            Outcome::Violations
        } else {
            Outcome::Clean
        }
    }

    /// The functions whose rings or buffers touch `range`, as "bdf what" strings.
    fn blamed(&self, range: &Range) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.devices {
            for ring in d.state.rings() {
                if !canary::touching(core::slice::from_ref(range), &ring.range).is_empty() {
                    out.push(format!("{} {}", d.function.bdf, ring.what));
                }
            }
        }
        out.dedup();
        out
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut w = Json::new();
        w.begin_object();
        w.field_str("tool", "handoff-audit");
        w.field_u64("format", 1);
        w.field_str("outcome", self.outcome().name());
        w.object_field("firmware");
        w.field_str("vendor", &self.firmware_vendor);
        w.field_hex("revision", u64::from(self.firmware_revision));
        w.field_hex("uefi_revision", u64::from(self.uefi_revision));
        w.end_object();
        w.object_field("summary");
        w.field_u64(
            "checks_failed",
            self.checks.iter().filter(|c| !c.passed).count() as u64,
        );
        w.field_u64("live", self.count(Verdict::Live) as u64);
        w.field_u64("warnings", self.count(Verdict::Warning) as u64);
        w.field_u64(
            "driven",
            self.devices
                .iter()
                .filter(|d| d.binding.driven() == Some(true))
                .count() as u64,
        );
        w.field_u64("changed_pages", self.changed_pages());
        w.end_object();
        w.array_field("checks");
        for c in &self.checks {
            w.begin_object();
            w.field_str("name", &c.name);
            w.field_bool("passed", c.passed);
            w.field_str("detail", &c.detail);
            w.end_object();
        }
        w.end_array();
        self.write_memory_map(&mut w);
        w.object_field("timer");
        w.field_str("source", "tsc calibrated against PIT channel 2");
        match self.tsc_hz {
            Some(hz) => w.field_u64("tsc_hz", hz),
            None => {
                w.key("tsc_hz");
                w.null()
            }
        }
        w.end_object();
        self.write_pci_io(&mut w);
        w.array_field("devices");
        for d in &self.devices {
            write_finding(&mut w, d);
        }
        w.end_array();
        self.write_canary(&mut w);
        w.field_strs("errors", &self.errors);
        w.field_strs("notes", &self.notes);
        w.end_object();
        w.finish()
    }

    fn write_memory_map(&self, w: &mut Json) {
        w.key("memory_map");
        let Some(m) = &self.memory_map else {
            w.null();
            return;
        };
        w.begin_object();
        w.field_u64("descriptors", m.descriptors as u64);
        w.field_u64("descriptor_size", m.descriptor_size as u64);
        w.field_u64("descriptor_version", u64::from(m.descriptor_version));
        w.field_strs("problems", &m.problems);
        w.object_field("pages_by_type");
        for &(t, pages) in &m.pages_by_type {
            let name = match memmap::type_name(t) {
                "oem" | "os" | "unknown" => format!("{t:#x}"),
                name => String::from(name),
            };
            w.field_u64(&name, pages);
        }
        w.end_object();
        w.field_u64("free_bytes", m.free_bytes);
        w.end_object();
    }

    fn write_pci_io(&self, w: &mut Json) {
        w.key("pci_io");
        let Some(b) = &self.bindings else {
            w.null();
            return;
        };
        w.begin_object();
        w.field_bool("located", b.located.is_ok());
        w.key("error");
        match &b.located {
            Ok(()) => w.null(),
            Err(why) => w.str(why),
        }
        w.field_u64("handles", b.handles as u64);
        w.field_u64("other_segments", b.other_segments as u64);
        w.field_strs("problems", &b.problems);
        w.end_object();
    }

    fn write_canary(&self, w: &mut Json) {
        w.object_field("canary");
        let Some(c) = &self.canary else {
            w.field_bool("ran", false);
            w.end_object();
            return;
        };
        w.field_bool("ran", true);
        w.field_u64("free_bytes", c.free_bytes);
        w.field_bool("runner_confirmed", c.runner_confirmed);
        w.field_u64("wait_ms", c.wait_ms);
        w.field_u64("changed_pages", c.changes.pages);
        w.field_u64("dropped_ranges", c.changes.dropped_ranges);
        w.array_field("changed");
        for r in &c.changes.ranges {
            w.begin_object();
            w.field_hex("start", r.start);
            w.field_hex("end", r.end);
            w.field_u64("pages", r.len() / memmap::PAGE_SIZE);
            w.field_strs("blamed", &self.blamed(r));
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
}

fn write_finding(w: &mut Json, d: &Finding) {
    let f = &d.function;
    w.begin_object();
    w.field_str("bdf", &format!("{}", f.bdf));
    w.field_hex("vendor", u64::from(f.vendor));
    w.field_hex("device", u64::from(f.device));
    w.field_str(
        "class",
        &format!("{:02x}{:02x}{:02x}", f.class[0], f.class[1], f.class[2]),
    );
    w.field_str("kind", &d.kind);
    w.field_hex("command", u64::from(f.command));
    w.field_bool("bus_master", f.bus_master());
    w.field_bool("decode_forced", d.decode_forced);
    w.key("driven");
    match d.binding.driven() {
        Some(driven) => w.bool(driven),
        None => w.null(),
    }
    write_binding(w, &d.binding);
    w.field_str("verdict", d.verdict.name());
    w.field_str("reason", &d.reason);
    w.field_strs("running", &d.running);
    w.field_strs("traces", &d.traces);
    w.array_field("canary_hits");
    for r in &d.canary_hits {
        w.begin_object();
        w.field_hex("start", r.start);
        w.field_hex("end", r.end);
        w.end_object();
    }
    w.end_array();
    w.object_field("state");
    d.state.write_json(w);
    w.end_object();
    w.end_object();
}

fn write_binding(w: &mut Json, b: &Binding) {
    w.object_field("binding");
    w.field_str("status", b.name());
    w.array_field("drivers");
    for d in b.drivers() {
        w.begin_object();
        w.field_hex("agent", d.agent);
        w.field_hex("attributes", u64::from(d.attributes));
        w.key("name");
        match &d.name {
            Some(name) => w.str(name),
            None => w.null(),
        }
        w.end_object();
    }
    w.end_array();
    if let Binding::Unknown(why) = b {
        w.field_str("unknown_because", why);
    }
    w.end_object();
}

#[cfg(test)]
mod tests;
