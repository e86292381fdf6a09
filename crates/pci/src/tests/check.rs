//! Invariant checks over an [`Inventory`], shared by the resource tests.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::fake::FakeConfigSpace;
use crate::config::*;
use crate::enumerate::PciFunction;
use crate::resources::{BarKind, FunctionResources, Inventory, Windows};

const FOUR_GIB: u64 = 1 << 32;

/// An address range with a name for messages.
type Named = (Range<u64>, String);

fn contains(outer: &Range<u64>, inner: &Range<u64>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

fn assert_disjoint(ranges: &[(Range<u64>, String)]) {
    for (i, (a, name_a)) in ranges.iter().enumerate() {
        for (b, name_b) in &ranges[i + 1..] {
            assert!(!overlaps(a, b), "{name_a} {a:x?} overlaps {name_b} {b:x?}");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Space {
    Io,
    Mem,
}

/// Checks every assigned range: BARs naturally aligned, bridge windows granular, everything inside the window it
/// is routed through (its parent bridge's window or the root windows), 32-bit resources below 4 GiB, and no two
/// things overlapping — globally among BARs, and among siblings (BARs and windows) on each bus.
pub fn check_layout(inventory: &Inventory, functions: &[PciFunction], windows: &Windows) {
    let by_bdf: BTreeMap<Bdf, &FunctionResources> =
        inventory.functions.iter().map(|f| (f.bdf, f)).collect();
    let parent_of: BTreeMap<Bdf, Option<Bdf>> =
        functions.iter().map(|f| (f.bdf, f.parent)).collect();
    let mut all_bars: Vec<(Range<u64>, String)> = Vec::new();
    let mut all_io_bars: Vec<(Range<u64>, String)> = Vec::new();
    let mut siblings: BTreeMap<(Option<Bdf>, bool), Vec<Named>> = BTreeMap::new();

    for f in &inventory.functions {
        let parent = parent_of[&f.bdf];
        // (space, range, name, prefetchable, needs below 4 GiB)
        let mut items: Vec<(Space, Range<u64>, String, bool, bool)> = Vec::new();
        for b in &f.bars {
            let Some(range) = b.range() else { continue };
            assert!(
                b.size.is_power_of_two(),
                "{} BAR{} size {:#x}",
                f.bdf,
                b.index,
                b.size
            );
            assert_eq!(
                range.start % b.size,
                0,
                "{} BAR{} misaligned",
                f.bdf,
                b.index
            );
            let name = format!("{} BAR{}", f.bdf, b.index);
            let space = if b.kind == BarKind::Io {
                Space::Io
            } else {
                Space::Mem
            };
            if space == Space::Io {
                all_io_bars.push((range.clone(), name.clone()));
            } else {
                all_bars.push((range.clone(), name.clone()));
            }
            items.push((space, range, name, b.prefetchable, b.kind != BarKind::Mem64));
        }
        if let Some(w) = &f.bridge {
            if let Some(io) = &w.io {
                assert!(
                    io.start % 0x1000 == 0 && io.end % 0x1000 == 0,
                    "{} io window {io:x?}",
                    f.bdf
                );
                items.push((
                    Space::Io,
                    io.clone(),
                    format!("{} io window", f.bdf),
                    false,
                    true,
                ));
            }
            if let Some(mem) = &w.mem {
                assert!(
                    mem.start % 0x10_0000 == 0 && mem.end % 0x10_0000 == 0,
                    "{} mem window {mem:x?}",
                    f.bdf
                );
                items.push((
                    Space::Mem,
                    mem.clone(),
                    format!("{} mem window", f.bdf),
                    false,
                    true,
                ));
            }
            if let Some(pref) = &w.pref {
                assert!(
                    pref.start % 0x10_0000 == 0 && pref.end % 0x10_0000 == 0,
                    "{} pref {pref:x?}",
                    f.bdf
                );
                items.push((
                    Space::Mem,
                    pref.clone(),
                    format!("{} pref window", f.bdf),
                    true,
                    !w.pref_64bit,
                ));
            }
        }
        for (space, range, name, prefetchable, low_only) in items {
            assert!(!range.is_empty(), "{name} is empty");
            if low_only {
                assert!(
                    range.end <= FOUR_GIB,
                    "{name} {range:x?} must be below 4 GiB"
                );
            }
            let container: Vec<Range<u64>> = match parent {
                None => match space {
                    Space::Io => alloc::vec![windows.io.clone()],
                    Space::Mem => alloc::vec![windows.mem32.clone(), windows.mem64.clone()],
                },
                Some(bridge) => {
                    let w = by_bdf[&bridge].bridge.as_ref().expect("parent is a bridge");
                    let window = match space {
                        Space::Io => w.io.clone(),
                        Space::Mem if prefetchable && w.pref_supported => w.pref.clone(),
                        Space::Mem => w.mem.clone(),
                    };
                    alloc::vec![window
                        .unwrap_or_else(|| panic!("{name} assigned but {bridge} window is closed"))]
                }
            };
            assert!(
                container.iter().any(|c| contains(c, &range)),
                "{name} {range:x?} outside {container:x?}"
            );
            siblings
                .entry((parent, space == Space::Io))
                .or_default()
                .push((range, name));
        }
    }
    assert_disjoint(&all_bars);
    assert_disjoint(&all_io_bars);
    for list in siblings.values() {
        assert_disjoint(list);
    }
}

/// Checks that the fake's registers hold what the inventory says, decoding is on for every assigned BAR of a
/// function with nothing unassigned, and bus mastering was never enabled.
pub fn check_programmed(fake: &FakeConfigSpace, inventory: &Inventory) {
    assert!(!fake.bus_master_ever_set, "BUS_MASTER was set");
    for f in &inventory.functions {
        let index = fake.resolve(f.bdf).expect("function reachable");
        let regs = &fake.functions[index];
        assert_eq!(regs.get16(COMMAND), f.command, "{} command", f.bdf);
        assert_eq!(f.command & command::BUS_MASTER, 0);
        for b in &f.bars {
            let offset = BAR0 + 4 * u16::from(b.index);
            let Some(address) = b.address else { continue };
            let mask = if b.kind == BarKind::Io {
                bar::IO_ADDRESS_MASK
            } else {
                bar::MEM_ADDRESS_MASK
            };
            let mut value = u64::from(regs.get32(offset) & mask);
            if b.kind == BarKind::Mem64 {
                value |= u64::from(regs.get32(offset + 4)) << 32;
            }
            assert_eq!(value, address, "{} BAR{}", f.bdf, b.index);
            if inventory.unassigned.iter().any(|u| u.bdf == f.bdf) {
                continue;
            }
            let bit = if b.kind == BarKind::Io {
                command::IO_SPACE
            } else {
                command::MEMORY_SPACE
            };
            assert_ne!(
                f.command & bit,
                0,
                "{} decode for BAR{} enabled",
                f.bdf,
                b.index
            );
        }
        let Some(w) = &f.bridge else { continue };
        let io = (
            u64::from(regs.get8(IO_BASE) & 0xF0) << 8
                | u64::from(regs.get16(IO_BASE_UPPER16)) << 16,
            u64::from(regs.get8(IO_LIMIT) & 0xF0) << 8
                | u64::from(regs.get16(IO_LIMIT_UPPER16)) << 16
                | 0xFFF,
        );
        let mem = (
            u64::from(regs.get16(MEMORY_BASE) & 0xFFF0) << 16,
            u64::from(regs.get16(MEMORY_LIMIT) & 0xFFF0) << 16 | 0xF_FFFF,
        );
        let pref = (
            u64::from(regs.get16(PREF_MEMORY_BASE) & 0xFFF0) << 16
                | u64::from(regs.get32(PREF_BASE_UPPER32)) << 32,
            u64::from(regs.get16(PREF_MEMORY_LIMIT) & 0xFFF0) << 16
                | u64::from(regs.get32(PREF_LIMIT_UPPER32)) << 32
                | 0xF_FFFF,
        );
        for (name, window, (base, limit), supported) in [
            ("io", &w.io, io, w.io_supported),
            ("mem", &w.mem, mem, true),
            ("pref", &w.pref, pref, w.pref_supported),
        ] {
            match window {
                Some(range) => assert_eq!(
                    (base, limit),
                    (range.start, range.end - 1),
                    "{} {name} window",
                    f.bdf
                ),
                None if supported => assert!(
                    base > limit,
                    "{} {name} window open: {base:#x}..={limit:#x}",
                    f.bdf
                ),
                None => {}
            }
        }
    }
}
