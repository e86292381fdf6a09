use alloc::vec::Vec;

use super::fake::{BridgeCaps, FakeBar, FakeConfigSpace, ROOT};
use crate::config::*;
use crate::enumerate::{enumerate, BusNumbers, EnumerateError, HeaderType, PciFunction};

fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
    Bdf::new(bus, device, function).expect("valid test bdf")
}

fn bdfs(found: &[PciFunction]) -> Vec<Bdf> {
    found.iter().map(|f| f.bdf).collect()
}

fn buses(found: &[PciFunction], at: Bdf) -> BusNumbers {
    found
        .iter()
        .find(|f| f.bdf == at)
        .and_then(|f| f.bridge_buses)
        .expect("bridge found")
}

#[test]
fn flat_bus_lists_present_devices_with_ids() {
    let mut fake = FakeConfigSpace::new();
    fake.add_endpoint(ROOT, 0, 0, &[]);
    fake.add_endpoint(
        ROOT,
        3,
        0,
        &[FakeBar::Io {
            size: 0x20,
            decode16: false,
        }],
    );
    fake.add_endpoint(ROOT, 31, 0, &[]);
    let found = enumerate(&mut fake, 0xFF).expect("enumerates");
    assert_eq!(bdfs(&found), [bdf(0, 0, 0), bdf(0, 3, 0), bdf(0, 31, 0)]);
    let third = &found[1];
    assert_eq!((third.vendor_id, third.device_id), (0x1af4, 0x1018));
    assert_eq!(
        (
            third.class,
            third.subclass,
            third.prog_if,
            third.revision_id
        ),
        (0x02, 0x00, 0x00, 1)
    );
    assert_eq!(third.header_type, HeaderType::Endpoint);
    assert!(found
        .iter()
        .all(|f| f.parent.is_none() && f.bridge_buses.is_none() && !f.multi_function));
}

#[test]
fn functions_above_zero_only_for_multi_function_devices() {
    let mut fake = FakeConfigSpace::new();
    let f0 = fake.add_endpoint(ROOT, 2, 0, &[]);
    fake.add_endpoint(ROOT, 2, 1, &[]);
    fake.add_endpoint(ROOT, 2, 5, &[]);
    fake.set_header_byte(f0, header_type::MULTI_FUNCTION | header_type::ENDPOINT);
    // Device 4 answers on function 1 too but does not claim to be multi-function.
    fake.add_endpoint(ROOT, 4, 0, &[]);
    fake.add_endpoint(ROOT, 4, 1, &[]);
    let found = enumerate(&mut fake, 0xFF).expect("enumerates");
    assert_eq!(
        bdfs(&found),
        [bdf(0, 2, 0), bdf(0, 2, 1), bdf(0, 2, 5), bdf(0, 4, 0)]
    );
    assert!(found[0].multi_function);
}

#[test]
fn bridge_gets_bus_numbers_and_devices_behind_it_are_found() {
    let mut fake = FakeConfigSpace::new();
    fake.add_endpoint(ROOT, 0, 0, &[]);
    let (bridge, behind) = fake.add_bridge(ROOT, 1, 0, BridgeCaps::FULL);
    fake.add_endpoint(behind, 0, 0, &[]);
    fake.add_endpoint(behind, 7, 0, &[]);
    let found = enumerate(&mut fake, 0xFF).expect("enumerates");
    assert_eq!(
        bdfs(&found),
        [bdf(0, 0, 0), bdf(0, 1, 0), bdf(1, 0, 0), bdf(1, 7, 0)]
    );
    assert_eq!(found[1].header_type, HeaderType::PciBridge);
    assert_eq!(
        buses(&found, bdf(0, 1, 0)),
        BusNumbers {
            primary: 0,
            secondary: 1,
            subordinate: 1
        }
    );
    assert_eq!(found[2].parent, Some(bdf(0, 1, 0)));
    assert_eq!(found[3].parent, Some(bdf(0, 1, 0)));
    let regs = &fake.functions[bridge];
    assert_eq!(
        (
            regs.get8(PRIMARY_BUS),
            regs.get8(SECONDARY_BUS),
            regs.get8(SUBORDINATE_BUS)
        ),
        (0, 1, 1)
    );
    assert_eq!(
        regs.get16(COMMAND),
        0,
        "enumeration does not touch the command register"
    );
    assert!(!fake.bus_master_ever_set);
}

#[test]
fn nested_and_empty_bridges_are_numbered_depth_first() {
    let mut fake = FakeConfigSpace::new();
    let (_, bus_a) = fake.add_bridge(ROOT, 1, 0, BridgeCaps::FULL);
    let (_, bus_b) = fake.add_bridge(bus_a, 0, 0, BridgeCaps::FULL);
    fake.add_endpoint(bus_b, 0, 0, &[]);
    let (_, _empty) = fake.add_bridge(bus_a, 1, 0, BridgeCaps::FULL);
    let (_, bus_d) = fake.add_bridge(ROOT, 2, 0, BridgeCaps::FULL);
    fake.add_endpoint(bus_d, 0, 0, &[]);
    fake.add_endpoint(ROOT, 3, 0, &[]);
    let found = enumerate(&mut fake, 0xFF).expect("enumerates");
    assert_eq!(
        bdfs(&found),
        [
            bdf(0, 1, 0),
            bdf(1, 0, 0),
            bdf(2, 0, 0),
            bdf(1, 1, 0),
            bdf(0, 2, 0),
            bdf(4, 0, 0),
            bdf(0, 3, 0)
        ]
    );
    assert_eq!(
        buses(&found, bdf(0, 1, 0)),
        BusNumbers {
            primary: 0,
            secondary: 1,
            subordinate: 3
        }
    );
    assert_eq!(
        buses(&found, bdf(1, 0, 0)),
        BusNumbers {
            primary: 1,
            secondary: 2,
            subordinate: 2
        }
    );
    assert_eq!(
        buses(&found, bdf(1, 1, 0)),
        BusNumbers {
            primary: 1,
            secondary: 3,
            subordinate: 3
        }
    );
    assert_eq!(
        buses(&found, bdf(0, 2, 0)),
        BusNumbers {
            primary: 0,
            secondary: 4,
            subordinate: 4
        }
    );
    assert_eq!(found[2].parent, Some(bdf(1, 0, 0)));
    assert_eq!(found[5].parent, Some(bdf(0, 2, 0)));
    // The final numbering routes every function through the fake's bridges.
    for f in &found {
        assert!(fake.resolve(f.bdf).is_some(), "{} reachable", f.bdf);
    }
}

#[test]
fn running_out_of_bus_numbers_is_an_error_not_a_wrap() {
    let mut fake = FakeConfigSpace::new();
    let mut bus = ROOT;
    for _ in 0..4 {
        bus = fake.add_bridge(bus, 0, 0, BridgeCaps::FULL).1;
    }
    let err = enumerate(&mut fake, 2).expect_err("only buses 0..=2");
    assert_eq!(
        err,
        EnumerateError::BusNumbersExhausted {
            bridge: bdf(2, 0, 0),
            last_bus: 2
        }
    );
    // The numbered bridges were closed to their real range; the unnumbered one forwards nothing.
    let numbers: Vec<(u8, u8, u8)> = fake
        .functions
        .iter()
        .map(|f| {
            (
                f.get8(PRIMARY_BUS),
                f.get8(SECONDARY_BUS),
                f.get8(SUBORDINATE_BUS),
            )
        })
        .collect();
    assert_eq!(numbers, [(0, 1, 2), (1, 2, 2), (2, 0, 0), (0, 0, 0)]);
}

#[test]
fn bus_255_is_the_last_number_handed_out() {
    let mut fake = FakeConfigSpace::new();
    let mut bus = ROOT;
    for _ in 0..256 {
        bus = fake.add_bridge(bus, 0, 0, BridgeCaps::FULL).1;
    }
    let err = enumerate(&mut fake, 0xFF).expect_err("256 nested bridges need bus 256");
    assert_eq!(
        err,
        EnumerateError::BusNumbersExhausted {
            bridge: bdf(255, 0, 0),
            last_bus: 0xFF
        }
    );
    assert_eq!(fake.functions[254].get8(SECONDARY_BUS), 255);
    assert_eq!(fake.functions[0].get8(SUBORDINATE_BUS), 255);
}
