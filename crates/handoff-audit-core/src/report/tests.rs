//! Host tests of the report: outcome, map checks, JSON.

use super::*;
use crate::binding::{location, Driver};
use crate::device::nvme::NvmeState;
use crate::device::State;
use crate::judge::judge;
use crate::pci::{Bar, Bdf, Function, COMMAND_BUS_MASTER};
use alloc::vec;

fn nvme(cc: u32) -> Finding {
    let f = Function {
        bdf: Bdf {
            bus: 0,
            device: 5,
            function: 0,
        },
        vendor: 0x1b36,
        device: 0x10,
        class: [1, 8, 2],
        header_type: 0,
        subsystem: 0,
        command: COMMAND_BUS_MASTER,
        bars: [Bar::None; 6],
        capabilities: vec![],
    };
    let state = State::Nvme(NvmeState {
        cc,
        csts: cc,
        aqa: 0,
        asq: 0x8000,
        acq: 0x9000,
    });
    let binding = Binding::Driven(vec![Driver {
        agent: 0x7e00,
        attributes: 0x10,
        name: Some(String::from("NVMe \"x\"")),
    }]);
    judge(f, state, false, binding, &[])
}

fn canary(pages: &[u64]) -> CanaryResult {
    let mut changes = Changes::new(8);
    for &p in pages {
        changes.record(p);
    }
    CanaryResult {
        free_bytes: 1 << 20,
        runner_confirmed: true,
        wait_ms: 1000,
        changes,
    }
}

#[test]
fn outcome_precedence() {
    let mut r = Report::default();
    r.check("a", true, "ok");
    r.canary = Some(canary(&[]));
    assert_eq!(r.outcome(), Outcome::Clean);
    r.devices.push(nvme(0));
    assert_eq!(r.outcome(), Outcome::Clean, "bus master alone is a warning");
    r.canary = Some(canary(&[0x8000]));
    assert_eq!(r.outcome(), Outcome::Violations);
    r.canary = Some(canary(&[]));
    r.check_result::<&str>("b", "", Err("bad"));
    assert_eq!(r.outcome(), Outcome::Violations);
    r.error("no timer");
    assert_eq!(r.outcome(), Outcome::AuditError);
    assert_eq!(Outcome::AuditError.exit_value(), EXIT_AUDIT_ERROR);
}

#[test]
fn unknown_bindings_are_null_with_the_reason() {
    let mut f = nvme(0);
    f.binding = Binding::Unknown(String::from("LocateHandleBuffer: NOT_READY"));
    let r = Report {
        devices: vec![f],
        bindings: Some(Bindings::unavailable("LocateHandleBuffer: NOT_READY")),
        ..Report::default()
    };
    let json = r.to_json();
    assert!(
        json.contains(r#""driven":null,"binding":{"status":"unknown","drivers":[],"unknown_because":"LocateHandleBuffer: NOT_READY"}"#),
        "{json}"
    );
    assert!(
        json.contains(
            r#""pci_io":{"located":false,"error":"LocateHandleBuffer: NOT_READY","handles":0"#
        ),
        "{json}"
    );
    assert!(Report::default().to_json().contains(r#""pci_io":null"#));
}

#[test]
fn one_check_per_map_rule() {
    let mut r = Report::default();
    let map = memmap::MemoryMap {
        descriptors: vec![],
        problems: vec![
            memmap::Problem::Empty { index: 1 },
            memmap::Problem::Overlap {
                first: 0,
                second: 2,
            },
            memmap::Problem::Overlap {
                first: 0,
                second: 3,
            },
        ],
    };
    r.map_checks("map", &map);
    let got: Vec<(&str, bool)> = r
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.passed))
        .collect();
    assert_eq!(
        got,
        [
            ("map: descriptor size and version", true),
            ("map: page-aligned, non-empty descriptors", false),
            ("map: no overlapping descriptors", false),
            ("map: known memory types", true),
            ("map: runtime types carry EFI_MEMORY_RUNTIME", true),
        ]
    );
    assert_eq!(
        r.checks[2].detail,
        "descriptors 0 and 2 overlap; descriptors 0 and 3 overlap (2 in all)"
    );
}

#[test]
fn json_names_blamed_rings_and_verdicts() {
    let mut r = Report {
        firmware_vendor: String::from("vmfw \"test\""),
        uefi_revision: 0x2_0046,
        tsc_hz: Some(2_000_000_000),
        ..Report::default()
    };
    r.check("crc: system table", true, "ok");
    r.devices.push(nvme(1));
    let mut bindings = Bindings::default();
    bindings.add(Ok(location(0, 0, 5, 0)), Ok(vec![]));
    bindings.add(Ok(location(1, 0, 0, 0)), Ok(vec![]));
    r.bindings = Some(bindings);
    r.canary = Some(canary(&[0x8000, 0x4_0000]));
    r.memory_map = Some(MapSummary {
        descriptors: 2,
        descriptor_size: 48,
        descriptor_version: 1,
        problems: vec![],
        pages_by_type: vec![(7, 10), (0x7000_0000, 1)],
        free_bytes: 40960,
    });
    let json = r.to_json();
    assert!(json.starts_with(r#"{"tool":"handoff-audit","format":1,"outcome":"violations","firmware":{"vendor":"vmfw \"test\"""#), "{json}");
    assert!(
        json.contains(
            r#""summary":{"checks_failed":0,"live":1,"warnings":0,"driven":1,"changed_pages":2}"#
        ),
        "{json}"
    );
    assert!(
        json.contains(r#""pages_by_type":{"conventional":10,"0x70000000":1}"#),
        "{json}"
    );
    assert!(json.contains(r#""verdict":"live""#), "{json}");
    assert!(
        json.contains(r#""driven":true,"binding":{"status":"driven","drivers":[{"agent":"0x7e00","attributes":"0x10","name":"NVMe \"x\""}]},"verdict""#),
        "{json}"
    );
    assert!(
        json.contains(
            r#""pci_io":{"located":true,"error":null,"handles":2,"other_segments":1,"problems":[]}"#
        ),
        "{json}"
    );
    assert!(json.contains(r#""state":{"cc_en":true"#), "{json}");
    assert!(
        json.contains(r#"{"start":"0x8000","end":"0x9000","pages":1,"blamed":["00:05.0 admin submission queue"]}"#),
        "{json}"
    );
    assert!(
        json.contains(r#""blamed":[]}"#),
        "the page at 0x40000 is nobody's: {json}"
    );
    assert!(json.ends_with(r#""errors":[],"notes":[]}"#), "{json}");
}
