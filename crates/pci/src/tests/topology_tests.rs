//! End-to-end: enumerate + assign on the required topologies, checking the layout invariants.

use alloc::vec::Vec;

use super::check::{check_layout, check_programmed};
use super::fake::{BridgeCaps, FakeBar, FakeConfigSpace, ROOT};
use crate::config::*;
use crate::enumerate::{enumerate, PciFunction};
use crate::resources::{assign, Bar, BarKind, FunctionResources, Inventory, Windows};

pub fn qemu_windows() -> Windows {
    Windows {
        io: 0xC000..0x1_0000,
        mem32: 0xC000_0000..0xFC00_0000,
        mem64: 0x80_0000_0000..0x100_0000_0000,
    }
}

/// Enumerates and assigns, then checks the invariants.
pub fn run(fake: &mut FakeConfigSpace, windows: &Windows) -> (Vec<PciFunction>, Inventory) {
    let found = enumerate(fake, 0xFF).expect("enumerates");
    let inventory = assign(fake, &found, windows).expect("valid input");
    check_layout(&inventory, &found, windows);
    check_programmed(fake, &inventory);
    (found, inventory)
}

pub fn function(inventory: &Inventory, bus: u8, device: u8, func: u8) -> &FunctionResources {
    let at = Bdf::new(bus, device, func).expect("valid");
    inventory
        .functions
        .iter()
        .find(|f| f.bdf == at)
        .expect("function in inventory")
}

pub fn bar_at(f: &FunctionResources, index: u8) -> Bar {
    *f.bars
        .iter()
        .find(|b| b.index == index)
        .expect("BAR present")
}

const IO_32: FakeBar = FakeBar::Io {
    size: 0x20,
    decode16: false,
};
const MEM_4K: FakeBar = FakeBar::Mem32 {
    size: 0x1000,
    prefetchable: false,
};
const PREF64_16K: FakeBar = FakeBar::Mem64 {
    size: 0x4000,
    prefetchable: true,
};

#[test]
fn flat_bus_all_bar_kinds() {
    let mut fake = FakeConfigSpace::new();
    fake.add_endpoint(ROOT, 0, 0, &[]);
    fake.add_endpoint(ROOT, 1, 0, &[IO_32, MEM_4K, PREF64_16K]);
    fake.add_endpoint(
        ROOT,
        2,
        0,
        &[
            FakeBar::Mem32 {
                size: 0x10_0000,
                prefetchable: false,
            },
            FakeBar::Io {
                size: 0x100,
                decode16: true,
            },
        ],
    );
    fake.add_endpoint(
        ROOT,
        3,
        0,
        &[
            FakeBar::Mem64 {
                size: 0x200_0000,
                prefetchable: true,
            },
            FakeBar::Mem32 {
                size: 0x80,
                prefetchable: true,
            },
        ],
    );
    let (_, inventory) = run(&mut fake, &qemu_windows());
    assert!(
        inventory.unassigned.is_empty(),
        "{:?}",
        inventory.unassigned
    );

    let dev1 = function(&inventory, 0, 1, 0);
    let kinds: Vec<(u8, BarKind, bool, u64)> = dev1
        .bars
        .iter()
        .map(|b| (b.index, b.kind, b.prefetchable, b.size))
        .collect();
    assert_eq!(
        kinds,
        [
            (0, BarKind::Io, false, 0x20),
            (1, BarKind::Mem32, false, 0x1000),
            (2, BarKind::Mem64, true, 0x4000)
        ]
    );
    assert_eq!(dev1.command, command::IO_SPACE | command::MEMORY_SPACE);
    let dev2 = function(&inventory, 0, 2, 0);
    assert_eq!(
        bar_at(dev2, 1).size,
        0x100,
        "16-bit I/O decoder sized from its low bits"
    );
    let dev3 = function(&inventory, 0, 3, 0);
    assert_eq!(bar_at(dev3, 2).kind, BarKind::Mem32);
    assert!(bar_at(dev3, 2).prefetchable);
    assert_eq!(
        dev3.command,
        command::MEMORY_SPACE,
        "no I/O BAR, I/O decode left as found"
    );
    // The 32-bit window was big enough: 64-bit BARs stay below 4 GiB.
    assert!(inventory
        .functions
        .iter()
        .flat_map(|f| &f.bars)
        .all(|b| b.address.is_some_and(|a| a < 1 << 32)));
    // The host bridge (no BARs) keeps its command register.
    assert_eq!(function(&inventory, 0, 0, 0).command, 0);
    // Largest alignment first from the window start: the 32 MiB BAR sits at the bottom of mem32.
    assert_eq!(bar_at(dev3, 0).address, Some(0xC000_0000));
    // Expansion ROMs were disabled, not assigned.
    assert!(fake
        .functions
        .iter()
        .all(|f| f.get32(EXPANSION_ROM) & rom::ENABLE == 0));
}

#[test]
fn multi_function_device_gets_per_function_resources() {
    let mut fake = FakeConfigSpace::new();
    let f0 = fake.add_endpoint(ROOT, 5, 0, &[MEM_4K]);
    fake.add_endpoint(ROOT, 5, 1, &[MEM_4K, IO_32]);
    fake.add_endpoint(ROOT, 5, 3, &[PREF64_16K]);
    fake.set_header_byte(f0, header_type::MULTI_FUNCTION);
    let (found, inventory) = run(&mut fake, &qemu_windows());
    assert_eq!(found.len(), 3);
    assert!(inventory.unassigned.is_empty());
    assert_eq!(
        function(&inventory, 0, 5, 1).command,
        command::IO_SPACE | command::MEMORY_SPACE
    );
    assert_eq!(function(&inventory, 0, 5, 3).command, command::MEMORY_SPACE);
}

#[test]
fn bridge_windows_contain_the_devices_behind_them() {
    let mut fake = FakeConfigSpace::new();
    let (_, behind) = fake.add_bridge(ROOT, 1, 0, BridgeCaps::FULL);
    fake.add_endpoint(behind, 0, 0, &[IO_32, MEM_4K, PREF64_16K]);
    fake.add_endpoint(
        behind,
        1,
        0,
        &[FakeBar::Mem32 {
            size: 0x20_0000,
            prefetchable: false,
        }],
    );
    fake.add_endpoint(ROOT, 2, 0, &[MEM_4K]);
    let (_, inventory) = run(&mut fake, &qemu_windows());
    assert!(inventory.unassigned.is_empty());
    let bridge = function(&inventory, 0, 1, 0);
    let w = bridge.bridge.as_ref().expect("bridge windows");
    assert!(w.io_supported && w.pref_supported && w.pref_64bit);
    assert_eq!(
        w.io.as_ref().map(|r| r.end - r.start),
        Some(0x1000),
        "I/O rounded to 4 KiB"
    );
    assert_eq!(
        w.mem.as_ref().map(|r| r.end - r.start),
        Some(0x30_0000),
        "2 MiB + 4 KiB rounded to 1 MiB"
    );
    assert_eq!(
        w.mem.as_ref().map(|r| r.start % 0x20_0000),
        Some(0),
        "aligned for the 2 MiB BAR"
    );
    assert_eq!(w.pref.as_ref().map(|r| r.end - r.start), Some(0x10_0000));
    assert_eq!(bridge.command, command::IO_SPACE | command::MEMORY_SPACE);
}

#[test]
fn nested_bridges_and_an_empty_bridge() {
    let mut fake = FakeConfigSpace::new();
    let (_, bus1) = fake.add_bridge(ROOT, 1, 0, BridgeCaps::FULL);
    let (_, bus2) = fake.add_bridge(bus1, 0, 0, BridgeCaps::FULL);
    fake.add_endpoint(bus2, 0, 0, &[IO_32, MEM_4K, PREF64_16K]);
    let (_, bus3) = fake.add_bridge(bus1, 1, 0, BridgeCaps::FULL);
    fake.add_endpoint(
        bus3,
        0,
        0,
        &[FakeBar::Mem64 {
            size: 0x40_0000,
            prefetchable: true,
        }],
    );
    fake.add_endpoint(bus1, 2, 0, &[MEM_4K]);
    let (empty, _) = fake.add_bridge(ROOT, 2, 0, BridgeCaps::FULL);
    let (_, inventory) = run(&mut fake, &qemu_windows());
    assert!(
        inventory.unassigned.is_empty(),
        "{:?}",
        inventory.unassigned
    );

    let outer = function(&inventory, 0, 1, 0)
        .bridge
        .clone()
        .expect("windows");
    let inner = function(&inventory, 1, 0, 0)
        .bridge
        .clone()
        .expect("windows");
    assert!(outer.io.is_some() && outer.mem.is_some() && outer.pref.is_some());
    assert_eq!(
        outer.pref.as_ref().map(|r| r.end - r.start),
        Some(0x50_0000),
        "1 MiB + 4 MiB child windows"
    );
    assert!(inner.pref.is_some());

    let closed = function(&inventory, 0, 2, 0);
    let w = closed.bridge.as_ref().expect("windows");
    assert_eq!((&w.io, &w.mem, &w.pref), (&None, &None, &None));
    assert_eq!(closed.command, 0, "nothing to decode: command untouched");
    let regs = &fake.functions[empty];
    assert!(regs.get16(MEMORY_BASE) > regs.get16(MEMORY_LIMIT));
    assert!(regs.get8(IO_BASE) & 0xF0 > regs.get8(IO_LIMIT) & 0xF0);
}

#[test]
fn sizing_restores_registers_it_does_not_assign() {
    let mut fake = FakeConfigSpace::new();
    let dev = fake.add_endpoint(ROOT, 1, 0, &[MEM_4K]);
    // BAR1 is unimplemented; BARs 2-3 are a non-prefetchable 64-bit BAR too large for the 32-bit window.
    let huge = FakeBar::Mem64 {
        size: 1 << 40,
        prefetchable: false,
    };
    fake.set_bars(dev, &[MEM_4K, FakeBar::Unimplemented, huge]);
    let (_, inventory) = run(&mut fake, &qemu_windows());
    let f = function(&inventory, 0, 1, 0);
    assert_eq!(bar_at(f, 2).size, 1 << 40);
    assert_eq!(bar_at(f, 2).address, None);
    assert_eq!(inventory.unassigned.len(), 1);
    // The unplaced BAR holds its original value (0), not the all-ones sizing pattern, and memory decode is off.
    assert_eq!(fake.functions[dev].get32(BAR2) & bar::MEM_ADDRESS_MASK, 0);
    assert_eq!(fake.functions[dev].get32(BAR3), 0);
    assert_eq!(fake.functions[dev].get32(BAR1), 0);
    assert_eq!(f.bars.len(), 2);
    assert_eq!(f.command & command::MEMORY_SPACE, 0);
}
