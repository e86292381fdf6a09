//! Placement policy, exhaustion and input validation.

use alloc::vec::Vec;
use core::ops::Range;

use super::check::{check_layout, check_programmed};
use super::fake::{BridgeCaps, FakeBar, FakeConfigSpace, ROOT};
use super::topology_tests::{bar_at, function, qemu_windows, run};
use crate::config::*;
use crate::enumerate::enumerate;
use crate::resources::{
    assign, Resource, ResourceError, Unassigned, UnassignedReason, WindowName, Windows,
};

const FOUR_GIB: u64 = 1 << 32;

fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
    Bdf::new(bus, device, function).expect("valid test bdf")
}

fn pref64(size: u64) -> FakeBar {
    FakeBar::Mem64 {
        size,
        prefetchable: true,
    }
}

fn mem32(size: u32) -> FakeBar {
    FakeBar::Mem32 {
        size,
        prefetchable: false,
    }
}

#[test]
fn prefetchable_64bit_resources_move_high_when_mem32_is_too_small() {
    let mut fake = FakeConfigSpace::new();
    // 8 MiB of 32-bit space; demand: 2 MiB non-prefetchable + 2×64 MiB 64-bit prefetchable + a bridge window.
    fake.add_endpoint(ROOT, 1, 0, &[mem32(0x20_0000), pref64(0x400_0000)]);
    fake.add_endpoint(
        ROOT,
        2,
        0,
        &[
            pref64(0x400_0000),
            FakeBar::Mem32 {
                size: 0x1000,
                prefetchable: true,
            },
        ],
    );
    let (_, all64) = fake.add_bridge(ROOT, 3, 0, BridgeCaps::FULL);
    fake.add_endpoint(all64, 0, 0, &[pref64(0x1000_0000), mem32(0x1000)]);
    // This bridge's prefetchable window holds a 32-bit prefetchable BAR, so it must stay low.
    let (_, mixed) = fake.add_bridge(ROOT, 4, 0, BridgeCaps::FULL);
    fake.add_endpoint(
        mixed,
        0,
        0,
        &[
            pref64(0x1000),
            FakeBar::Mem32 {
                size: 0x1000,
                prefetchable: true,
            },
        ],
    );
    // This bridge's prefetchable window is 32-bit only.
    let (_, narrow) = fake.add_bridge(
        ROOT,
        5,
        0,
        BridgeCaps {
            io: true,
            pref: Some(false),
        },
    );
    fake.add_endpoint(narrow, 0, 0, &[pref64(0x1000)]);
    let windows = Windows {
        mem32: 0xC000_0000..0xC080_0000,
        ..qemu_windows()
    };
    let (_, inventory) = run(&mut fake, &windows);
    assert!(
        inventory.unassigned.is_empty(),
        "{:?}",
        inventory.unassigned
    );

    let high = |address: Option<u64>| address.is_some_and(|a| windows.mem64.contains(&a));
    assert!(high(bar_at(function(&inventory, 0, 1, 0), 1).address));
    assert!(!high(bar_at(function(&inventory, 0, 1, 0), 0).address));
    assert!(high(bar_at(function(&inventory, 0, 2, 0), 0).address));
    assert!(bar_at(function(&inventory, 0, 2, 0), 2)
        .address
        .is_some_and(|a| a < FOUR_GIB));
    let pref_of = |device: u8| {
        function(&inventory, 0, device, 0)
            .bridge
            .clone()
            .and_then(|w| w.pref)
    };
    assert!(pref_of(3).is_some_and(|r| r.start >= windows.mem64.start));
    assert!(pref_of(4).is_some_and(|r| r.end <= FOUR_GIB));
    assert!(pref_of(5).is_some_and(|r| r.end <= FOUR_GIB));
    // The high bridge window is programmed with its upper 32 bits.
    let regs = &fake.functions[fake.resolve(bdf(0, 3, 0)).expect("bridge")];
    assert_eq!(
        u64::from(regs.get32(PREF_BASE_UPPER32)),
        pref_of(3).expect("window").start >> 32
    );
}

#[test]
fn exhaustion_is_reported_never_wrapped() {
    let mut fake = FakeConfigSpace::new();
    let dev = fake.add_endpoint(
        ROOT,
        1,
        0,
        &[
            pref64(0x4000),
            pref64(0x1000),
            FakeBar::Io {
                size: 0x20,
                decode16: false,
            },
        ],
    );
    fake.add_endpoint(
        ROOT,
        2,
        0,
        &[FakeBar::Io {
            size: 0x10,
            decode16: false,
        }],
    );
    // mem64 ends at the top of the address space; a 16 KiB BAR would need to wrap to fit.
    let windows = Windows {
        io: 0xFFF0..0x1_0000,
        mem32: 0xC000_0000..0xC000_0000,
        mem64: u64::MAX - 0x1FFF..u64::MAX,
    };
    let found = enumerate(&mut fake, 0xFF).expect("enumerates");
    let inventory = assign(&mut fake, &found, &windows).expect("valid input");
    check_layout(&inventory, &found, &windows);
    check_programmed(&fake, &inventory);
    let f = function(&inventory, 0, 1, 0);
    assert_eq!(bar_at(f, 0).address, None);
    assert_eq!(bar_at(f, 2).address, Some(0xFFFF_FFFF_FFFF_E000));
    assert_eq!(
        bar_at(f, 4).address,
        None,
        "0x20 bytes of I/O do not fit in 0x10"
    );
    assert_eq!(
        bar_at(function(&inventory, 0, 2, 0), 0).address,
        Some(0xFFF0)
    );
    let reported: Vec<(Bdf, Resource, UnassignedReason)> = inventory
        .unassigned
        .iter()
        .map(|u| (u.bdf, u.resource, u.reason))
        .collect();
    assert_eq!(
        reported,
        [
            (bdf(0, 1, 0), Resource::Bar(4), UnassignedReason::NoSpace),
            (bdf(0, 1, 0), Resource::Bar(0), UnassignedReason::NoSpace)
        ]
    );
    assert_eq!(
        f.command & (command::IO_SPACE | command::MEMORY_SPACE),
        0,
        "incomplete: decode stays off"
    );
    assert_eq!(
        fake.functions[dev].get32(BAR0) & bar::MEM_ADDRESS_MASK,
        0,
        "unassigned BAR restored"
    );
}

#[test]
fn io_window_exhaustion_across_many_root_ports() {
    // Like q35 with six root ports each holding an I/O device: 16 KiB of I/O fits four 4 KiB windows.
    let mut fake = FakeConfigSpace::new();
    for device in 1..=6 {
        let (_, bus) = fake.add_bridge(ROOT, device, 0, BridgeCaps::FULL);
        fake.add_endpoint(
            bus,
            0,
            0,
            &[
                FakeBar::Io {
                    size: 0x40,
                    decode16: false,
                },
                mem32(0x1000),
            ],
        );
    }
    let (_, inventory) = run(&mut fake, &qemu_windows());
    let windows_out: Vec<Unassigned> = inventory
        .unassigned
        .iter()
        .filter(|u| u.resource == Resource::IoWindow)
        .copied()
        .collect();
    assert_eq!(windows_out.len(), 2);
    assert!(windows_out
        .iter()
        .all(|u| u.reason == UnassignedReason::NoSpace && u.size == 0x1000));
    let orphans = inventory
        .unassigned
        .iter()
        .filter(|u| matches!(u.reason, UnassignedReason::ParentWindowUnassigned { .. }));
    assert_eq!(orphans.count(), 2);
    for u in &windows_out {
        let port = inventory
            .functions
            .iter()
            .find(|f| f.bdf == u.bdf)
            .expect("bridge");
        assert_eq!(
            port.command,
            command::MEMORY_SPACE,
            "{}: memory still forwarded, I/O left alone",
            u.bdf
        );
    }
}

#[test]
fn bridge_without_io_or_prefetchable_window() {
    let mut fake = FakeConfigSpace::new();
    let (_, bus) = fake.add_bridge(
        ROOT,
        1,
        0,
        BridgeCaps {
            io: false,
            pref: None,
        },
    );
    fake.add_endpoint(
        bus,
        0,
        0,
        &[
            FakeBar::Io {
                size: 0x20,
                decode16: false,
            },
            pref64(0x10_0000),
            mem32(0x1000),
        ],
    );
    let (_, inventory) = run(&mut fake, &qemu_windows());
    let w = function(&inventory, 0, 1, 0)
        .bridge
        .clone()
        .expect("windows");
    assert!(!w.io_supported && !w.pref_supported);
    assert_eq!(
        w.mem.as_ref().map(|r| r.end - r.start),
        Some(0x20_0000),
        "prefetchable BAR in the memory window"
    );
    let dev = function(&inventory, 1, 0, 0);
    assert!(bar_at(dev, 1).address.is_some());
    assert_eq!(
        inventory.unassigned,
        [Unassigned {
            bdf: bdf(1, 0, 0),
            resource: Resource::Bar(0),
            size: 0x20,
            reason: UnassignedReason::NoBridgeWindow {
                bridge: bdf(0, 1, 0)
            }
        }]
    );
    assert_eq!(dev.command, command::MEMORY_SPACE);
}

#[test]
fn malformed_bars_keep_memory_decode_off() {
    let mut fake = FakeConfigSpace::new();
    fake.add_endpoint(ROOT, 1, 0, &[FakeBar::Reserved, mem32(0x1000)]);
    // A 64-bit BAR type in BAR5 has no upper half.
    let dev = fake.add_endpoint(ROOT, 2, 0, &[]);
    let slots = [
        FakeBar::Unimplemented,
        FakeBar::Unimplemented,
        FakeBar::Unimplemented,
        FakeBar::Unimplemented,
    ];
    let mut bars: Vec<FakeBar> = slots.to_vec();
    bars.push(FakeBar::Io {
        size: 0x10,
        decode16: false,
    });
    bars.push(mem32(0x1000));
    fake.set_bars(dev, &bars);
    let bar5 = &mut fake.functions[dev];
    bar5.space[usize::from(BAR5)] = bar::MEM_TYPE_64 as u8;
    let (_, inventory) = run(&mut fake, &qemu_windows());
    let reasons: Vec<(Bdf, Resource, UnassignedReason)> = inventory
        .unassigned
        .iter()
        .map(|u| (u.bdf, u.resource, u.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                bdf(0, 1, 0),
                Resource::Bar(0),
                UnassignedReason::MalformedBar
            ),
            (
                bdf(0, 2, 0),
                Resource::Bar(5),
                UnassignedReason::MalformedBar
            )
        ]
    );
    assert_eq!(function(&inventory, 0, 1, 0).command, 0);
    assert_eq!(function(&inventory, 0, 2, 0).command, command::IO_SPACE);
}

#[test]
fn invalid_input_is_rejected_before_any_access() {
    let mut fake = FakeConfigSpace::new();
    fake.add_endpoint(ROOT, 1, 0, &[mem32(0x1000)]);
    let found = enumerate(&mut fake, 0xFF).expect("enumerates");
    let cases = [
        (
            Windows {
                io: 0xC000..0x1_0001,
                ..qemu_windows()
            },
            WindowName::Io,
        ),
        (
            Windows {
                mem32: 0xC000_0000..0x1_0000_1000,
                ..qemu_windows()
            },
            WindowName::Mem32,
        ),
        (
            Windows {
                mem64: Range {
                    start: 0x2000,
                    end: 0x1000,
                },
                ..qemu_windows()
            },
            WindowName::Mem64,
        ),
    ];
    let before = fake.accesses;
    for (windows, name) in cases {
        let err = assign(&mut fake, &found, &windows).expect_err("invalid window");
        assert!(
            matches!(err, ResourceError::InvalidWindow { window, .. } if window == name),
            "{err:?}"
        );
    }
    let overlapping = Windows {
        mem64: 0xF000_0000..0x2_0000_0000,
        ..qemu_windows()
    };
    assert_eq!(
        assign(&mut fake, &found, &overlapping),
        Err(ResourceError::OverlappingWindows)
    );
    let twice = [found[0].clone(), found[0].clone()];
    assert_eq!(
        assign(&mut fake, &twice, &qemu_windows()),
        Err(ResourceError::DuplicateFunction(bdf(0, 1, 0)))
    );
    assert_eq!(fake.accesses, before);
}

#[test]
fn unreachable_functions_are_reported() {
    let mut fake = FakeConfigSpace::new();
    fake.add_endpoint(ROOT, 1, 0, &[mem32(0x1000)]);
    let mut found = enumerate(&mut fake, 0xFF).expect("enumerates");
    found[0].parent = Some(bdf(0, 9, 0));
    let inventory = assign(&mut fake, &found, &qemu_windows()).expect("valid input");
    assert_eq!(
        inventory.unassigned[0].reason,
        UnassignedReason::Unreachable
    );
    assert_eq!(inventory.functions[0].command, 0);
}

#[test]
fn alignment_is_honoured_from_unaligned_window_starts() {
    let mut fake = FakeConfigSpace::new();
    // A bridge whose memory window is 3 MiB aligned 2 MiB, then a root 2 MiB BAR: the BAR cannot follow the window
    // directly (offset 3 MiB) and must skip to the next 2 MiB boundary.
    let (_, bus) = fake.add_bridge(ROOT, 1, 0, BridgeCaps::FULL);
    fake.add_endpoint(
        bus,
        0,
        0,
        &[
            mem32(0x20_0000),
            mem32(0x10_0000),
            FakeBar::Io {
                size: 0x10,
                decode16: false,
            },
        ],
    );
    fake.add_endpoint(
        ROOT,
        2,
        0,
        &[
            mem32(0x20_0000),
            FakeBar::Io {
                size: 0x100,
                decode16: false,
            },
        ],
    );
    let windows = Windows {
        io: 0xC010..0x1_0000,
        mem32: 0xC010_0000..0xD000_0000,
        ..qemu_windows()
    };
    let (_, inventory) = run(&mut fake, &windows);
    assert!(
        inventory.unassigned.is_empty(),
        "{:?}",
        inventory.unassigned
    );
    let bridge = function(&inventory, 0, 1, 0)
        .bridge
        .clone()
        .expect("windows");
    assert_eq!(bridge.io, Some(0xD000..0xE000));
    assert_eq!(bridge.mem, Some(0xC020_0000..0xC050_0000));
    let dev = function(&inventory, 0, 2, 0);
    assert_eq!(bar_at(dev, 0).address, Some(0xC060_0000));
    assert_eq!(bar_at(dev, 1).address, Some(0xE000));
}
