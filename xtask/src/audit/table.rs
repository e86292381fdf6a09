//! Reading the app's report from the console and turning it into the table people read:
//! device | driven by the firmware | state after ExitBootServices | DMA canary | verdict.

use handoff_audit_core::report::{
    BEGIN_MARKER, END_MARKER, EXIT_AUDIT_ERROR, EXIT_CLEAN, EXIT_VIOLATIONS,
};
use serde_json::Value;

use crate::qemu::debug_exit_status;

/// The JSON between the report markers of `output` (the last report if there are several).
pub fn extract(output: &str) -> Result<Value, String> {
    let begin = output
        .rfind(BEGIN_MARKER)
        .ok_or("no report: the begin marker never appeared")?;
    let rest = &output[begin + BEGIN_MARKER.len()..];
    let end = rest
        .find(END_MARKER)
        .ok_or("the report was cut off before its end marker")?;
    serde_json::from_str(rest[..end].trim())
        .map_err(|e| format!("the report is not valid JSON: {e}"))
}

/// The report's outcome: "clean", "violations" or "audit_error".
pub fn outcome(report: &Value) -> &str {
    report["outcome"].as_str().unwrap_or("missing")
}

/// The QEMU exit status the app uses for `outcome`.
pub fn exit_status_for(outcome: &str) -> Option<i32> {
    let value = match outcome {
        "clean" => EXIT_CLEAN,
        "violations" => EXIT_VIOLATIONS,
        "audit_error" => EXIT_AUDIT_ERROR,
        _ => return None,
    };
    Some(debug_exit_status(value))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// One row of the table.
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    /// "00:03.0 virtio-net".
    pub device: String,
    /// [`driven_cell`].
    pub driven: String,
    /// What the device-specific registers say, and Bus Master.
    pub state: String,
    /// Canary pages written at its rings/buffers.
    pub canary: String,
    /// "quiet", "warning", "LIVE".
    pub verdict: String,
}

/// What the firmware's handle database said before ExitBootServices: "yes: <driver names>" when an agent held
/// the function's PCI I/O BY_DRIVER (a driver without Component Name 2 shows as its agent handle), "no" (with
/// the registers' traces when there are any: a touch outside the driver model), "no PCI I/O handle", or
/// "unknown: <why>".
pub fn driven_cell(d: &Value) -> String {
    let binding = &d["binding"];
    match binding["status"].as_str() {
        Some("driven") => {
            let names: Vec<String> = binding["drivers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|driver| match driver["name"].as_str() {
                    Some(name) => name.to_string(),
                    None => format!(
                        "agent {} (no Component Name 2)",
                        driver["agent"].as_str().unwrap_or("?")
                    ),
                })
                .collect();
            format!("yes: {}", names.join(", "))
        }
        Some("not_driven") => {
            let traces = strings(&d["traces"]);
            if traces.is_empty() {
                "no".to_string()
            } else {
                format!("no (registers show: {})", traces.join("; "))
            }
        }
        Some("no_pci_io") => "no PCI I/O handle".to_string(),
        Some("unknown") => format!(
            "unknown: {}",
            binding["unknown_because"].as_str().unwrap_or("?")
        ),
        _ => "not in the report".to_string(),
    }
}

/// The rows, one per PCI function of the report.
pub fn rows(report: &Value) -> Vec<Row> {
    let canary_ran = report["canary"]["ran"].as_bool().unwrap_or(false);
    let mut out = Vec::new();
    for d in report["devices"].as_array().into_iter().flatten() {
        let bus_master = d["bus_master"].as_bool().unwrap_or(false);
        let running = strings(&d["running"]);
        let driven = driven_cell(d);
        let state = if !running.is_empty() {
            format!("running: {}", running.join("; "))
        } else if let Some(why) = d["state"]["unreadable"].as_str() {
            format!("unreadable: {why}")
        } else if d["state"].as_object().is_some_and(|o| o.is_empty()) {
            "no state reader".to_string()
        } else {
            "stopped".to_string()
        };
        let state = format!(
            "{state}, bus master {}",
            if bus_master { "on" } else { "off" }
        );
        let hits = d["canary_hits"].as_array().map_or(0, Vec::len);
        let canary = match (canary_ran, hits) {
            (false, _) => "not run".to_string(),
            (true, 0) => "no writes seen".to_string(),
            (true, n) => format!("WRITTEN ({n} range(s))"),
        };
        let verdict = match d["verdict"].as_str().unwrap_or("?") {
            "live" => "LIVE".to_string(),
            other => other.to_string(),
        };
        out.push(Row {
            device: format!(
                "{} {}",
                d["bdf"].as_str().unwrap_or("?"),
                d["kind"].as_str().unwrap_or("?")
            ),
            driven,
            state,
            canary,
            verdict,
        });
    }
    out
}

/// The rows as a Markdown table, columns padded to their widest cell.
pub fn render(rows: &[Row]) -> String {
    let header = [
        "device",
        "driven by the firmware",
        "state after ExitBootServices",
        "DMA canary",
        "verdict",
    ];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| [&*r.device, &*r.driven, &*r.state, &*r.canary, &*r.verdict])
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: [&str; 5]| {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header);
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in cells {
        out.push_str(&line(row));
    }
    out
}

/// The lines under the table: failed checks, reasons for non-quiet devices, the canary and audit errors.
pub fn notes(report: &Value) -> String {
    let mut out = String::new();
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    let failed: Vec<&Value> = checks.iter().filter(|c| c["passed"] != true).collect();
    out.push_str(&format!(
        "checks: {} passed, {} failed\n",
        checks.len() - failed.len(),
        failed.len()
    ));
    for c in failed {
        out.push_str(&format!(
            "  FAILED {}: {}\n",
            c["name"].as_str().unwrap_or("?"),
            c["detail"].as_str().unwrap_or("")
        ));
    }
    let pci_io = &report["pci_io"];
    if pci_io["located"] == false {
        out.push_str(&format!(
            "  PCI I/O handles not located: {}\n",
            pci_io["error"].as_str().unwrap_or("?")
        ));
    }
    for d in report["devices"].as_array().into_iter().flatten() {
        if d["verdict"] != "quiet" {
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                d["verdict"].as_str().unwrap_or("?"),
                d["bdf"].as_str().unwrap_or("?"),
                d["kind"].as_str().unwrap_or("?"),
                d["reason"].as_str().unwrap_or("")
            ));
        }
    }
    let c = &report["canary"];
    if c["ran"] == true {
        out.push_str(&format!(
            "canary: {} MiB of free memory filled, {} ms until the scan, runner confirmed traffic: {}, {} page(s) changed\n",
            c["free_bytes"].as_u64().unwrap_or(0) >> 20,
            c["wait_ms"].as_u64().unwrap_or(0),
            c["runner_confirmed"],
            c["changed_pages"].as_u64().unwrap_or(0)
        ));
        for r in c["changed"].as_array().into_iter().flatten() {
            let blamed = strings(&r["blamed"]);
            out.push_str(&format!(
                "  changed {}..{} ({} pages): {}\n",
                r["start"].as_str().unwrap_or("?"),
                r["end"].as_str().unwrap_or("?"),
                r["pages"],
                if blamed.is_empty() {
                    "no known ring or buffer".to_string()
                } else {
                    blamed.join(", ")
                }
            ));
        }
    } else {
        out.push_str("canary: did not run\n");
    }
    for e in strings(&report["errors"]) {
        out.push_str(&format!("  AUDIT ERROR: {e}\n"));
    }
    for n in strings(&report["notes"]) {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{"tool":"handoff-audit","format":1,"outcome":"violations",
        "checks":[{"name":"a","passed":true,"detail":"ok"},{"name":"b","passed":false,"detail":"bad key"}],
        "devices":[
          {"bdf":"00:03.0","kind":"virtio-net","bus_master":true,"driven":true,"verdict":"live",
           "binding":{"status":"driven","drivers":[{"agent":"0x7e1000","attributes":"0x10","name":"Virtio PCI Driver"},
             {"agent":"0x7e2000","attributes":"0x30","name":null}]},
           "reason":"still running","running":["modern queues enabled: 0"],"traces":["modern device_status 0xf"],
           "canary_hits":[{"start":"0x1000","end":"0x2000"}],"state":{"modern":{}}},
          {"bdf":"00:1f.2","kind":"class-010601","bus_master":false,"driven":false,"verdict":"quiet",
           "binding":{"status":"not_driven","drivers":[]},
           "reason":"stopped","running":[],"traces":[],"canary_hits":[],"state":{}}],
        "canary":{"ran":true,"free_bytes":104857600,"runner_confirmed":true,"wait_ms":2500,"changed_pages":1,
          "changed":[{"start":"0x1000","end":"0x2000","pages":1,"blamed":["00:03.0 modern queue 0 device area"]}]},
        "errors":[],"notes":["a PCI I/O handle reports 00:09.0, which the configuration-space scan did not find"]}"#;

    #[test]
    fn extracts_the_last_report_between_markers() {
        let out = format!("noise\n{BEGIN_MARKER}\n{{\"outcome\":\"clean\"}}\n{END_MARKER}\n{BEGIN_MARKER}\n{REPORT}\n{END_MARKER}\nafter\n");
        let v = extract(&out).unwrap();
        assert_eq!(outcome(&v), "violations");
        assert!(extract("nothing").unwrap_err().contains("begin marker"));
        assert!(extract(&format!("{BEGIN_MARKER}\n{{\"a\":"))
            .unwrap_err()
            .contains("cut off"));
        assert!(extract(&format!("{BEGIN_MARKER}\n{{\"a\":\n{END_MARKER}"))
            .unwrap_err()
            .contains("JSON"));
    }

    #[test]
    fn rows_say_who_is_live() {
        let v: Value = serde_json::from_str(REPORT).unwrap();
        let rows = rows(&v);
        assert_eq!(
            rows[0],
            Row {
                device: "00:03.0 virtio-net".into(),
                driven: "yes: Virtio PCI Driver, agent 0x7e2000 (no Component Name 2)".into(),
                state: "running: modern queues enabled: 0, bus master on".into(),
                canary: "WRITTEN (1 range(s))".into(),
                verdict: "LIVE".into(),
            }
        );
        assert_eq!(rows[1].driven, "no");
        assert_eq!(rows[1].state, "no state reader, bus master off");
        assert_eq!(rows[1].canary, "no writes seen");
        let table = render(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("| device "));
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{table}");
        let notes = notes(&v);
        assert!(notes.contains("checks: 1 passed, 1 failed"), "{notes}");
        assert!(notes.contains("FAILED b: bad key"), "{notes}");
        assert!(
            notes.contains("live 00:03.0 virtio-net: still running"),
            "{notes}"
        );
        assert!(
            notes.contains("00:03.0 modern queue 0 device area"),
            "{notes}"
        );
        assert!(
            notes.contains("note: a PCI I/O handle reports 00:09.0"),
            "{notes}"
        );
    }

    #[test]
    fn driven_cells_say_what_the_firmware_said() {
        let cell = |json: &str| driven_cell(&serde_json::from_str(json).unwrap());
        assert_eq!(
            cell(
                r#"{"binding":{"status":"driven","drivers":[{"agent":"0x10","name":"e1000 UNDI"}]}}"#
            ),
            "yes: e1000 UNDI"
        );
        assert_eq!(
            cell(
                r#"{"binding":{"status":"not_driven","drivers":[]},"traces":["modern device_status 0x3"]}"#
            ),
            "no (registers show: modern device_status 0x3)"
        );
        assert_eq!(
            cell(r#"{"binding":{"status":"no_pci_io","drivers":[]}}"#),
            "no PCI I/O handle"
        );
        assert_eq!(
            cell(
                r#"{"binding":{"status":"unknown","drivers":[],"unknown_because":"LocateHandleBuffer: DEVICE_ERROR"}}"#
            ),
            "unknown: LocateHandleBuffer: DEVICE_ERROR"
        );
        assert_eq!(cell(r#"{"driven":true}"#), "not in the report");
        let located: Value = serde_json::from_str(
            r#"{"pci_io":{"located":false,"error":"LocateHandleBuffer: NOT_READY"}}"#,
        )
        .unwrap();
        assert!(
            notes(&located).contains("PCI I/O handles not located: LocateHandleBuffer: NOT_READY")
        );
    }

    #[test]
    fn exit_statuses_match_the_app() {
        assert_eq!(exit_status_for("clean"), Some(65));
        assert_eq!(exit_status_for("violations"), Some(67));
        assert_eq!(exit_status_for("audit_error"), Some(69));
        assert_eq!(exit_status_for("other"), None);
    }
}
