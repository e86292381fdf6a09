//! BAR sizing (PCI LB 3.0 §6.2.5.1) and bridge-window capability probing (Bridge spec 1.2 §3.2.5.6–§3.2.5.9).
//!
//! For each BAR: save it, write all ones, read back, restore. The read-back has ones exactly in the writable
//! address bits, so the size is the lowest set address bit. A 64-bit BAR's upper half is sized the same way and
//! combined. I/O and memory decoding are disabled in the Command register for the whole sequence (a BAR holding
//! all ones must not decode) and the original Command value is restored afterwards.
//!
//! The expansion ROM BAR is deliberately not sized or assigned: vmfw does not run option ROMs. Its enable bit is
//! cleared if set, so the ROM can never decode once memory decoding is enabled.

use alloc::vec::Vec;

use super::{
    Bar, BarKind, BridgeWindows, FunctionResources, Node, Resource, Unassigned, UnassignedReason,
};
use crate::config::{
    bar, command, rom, Bdf, ConfigSpace, BAR0, BRIDGE_EXPANSION_ROM, COMMAND, EXPANSION_ROM,
    IO_BASE, PREF_MEMORY_BASE,
};
use crate::enumerate::{HeaderType, PciFunction};

/// Sizes `function`'s BARs and probes its bridge windows. Returns `None` for header types that get no resources
/// (CardBus and unknown layouts). Malformed BARs are pushed to `unassigned`.
pub(super) fn size_function<C: ConfigSpace + ?Sized>(
    cfg: &mut C,
    function: &PciFunction,
    unassigned: &mut Vec<Unassigned>,
) -> Option<Node> {
    let bdf = function.bdf;
    let (bar_count, rom_offset) = match function.header_type {
        HeaderType::Endpoint => (bar::COUNT_TYPE0, EXPANSION_ROM),
        HeaderType::PciBridge => (bar::COUNT_TYPE1, BRIDGE_EXPANSION_ROM),
        HeaderType::CardBusBridge | HeaderType::Unknown(_) => {
            log::debug!(
                "{bdf}: header type {:?} gets no resources",
                function.header_type
            );
            return None;
        }
    };
    let original_command = cfg.read16(bdf, COMMAND);
    cfg.write16(
        bdf,
        COMMAND,
        original_command & !(command::IO_SPACE | command::MEMORY_SPACE),
    );

    let mut bars = Vec::new();
    let mut malformed_mem = false;
    let mut index = 0;
    while index < bar_count {
        match size_bar(cfg, bdf, index, bar_count) {
            Probed::Unimplemented { slots } => index += slots,
            Probed::Bar(found) => {
                log::trace!("{bdf} BAR{index}: {:?} size {:#x}", found.kind, found.size);
                index += if found.kind == BarKind::Mem64 { 2 } else { 1 };
                bars.push(found);
            }
            Probed::Malformed => {
                malformed_mem = true;
                unassigned.push(Unassigned {
                    bdf,
                    resource: Resource::Bar(index),
                    size: 0,
                    reason: UnassignedReason::MalformedBar,
                });
                index += 1;
            }
        }
    }

    let rom_bar = cfg.read32(bdf, rom_offset);
    if rom_bar & rom::ENABLE != 0 {
        cfg.write32(bdf, rom_offset, rom_bar & !rom::ENABLE);
    }
    let bridge = (function.header_type == HeaderType::PciBridge).then(|| probe_bridge(cfg, bdf));
    cfg.write16(bdf, COMMAND, original_command);

    Some(Node {
        res: FunctionResources {
            bdf,
            bars,
            bridge,
            command: original_command,
        },
        parent: function.parent,
        malformed_mem,
    })
}

enum Probed {
    /// Nothing decodes here; skip `slots` BAR slots (2 for an all-zero 64-bit BAR pair).
    Unimplemented {
        slots: u8,
    },
    Bar(Bar),
    Malformed,
}

/// Writes all ones to the dword at `offset`, returns what reads back, and restores the original value.
fn probe_dword<C: ConfigSpace + ?Sized>(cfg: &mut C, bdf: Bdf, offset: u16) -> u32 {
    let original = cfg.read32(bdf, offset);
    cfg.write32(bdf, offset, u32::MAX);
    let probed = cfg.read32(bdf, offset);
    cfg.write32(bdf, offset, original);
    probed
}

/// Lowest set bit of `mask` (the size of a BAR whose writable address bits are `mask`), or `None` if 0.
fn lowest_bit(mask: u64) -> Option<u64> {
    (mask != 0).then(|| mask & mask.wrapping_neg())
}

fn size_bar<C: ConfigSpace + ?Sized>(cfg: &mut C, bdf: Bdf, index: u8, bar_count: u8) -> Probed {
    let offset = BAR0 + 4 * u16::from(index);
    let probed = probe_dword(cfg, bdf, offset);
    if probed == 0 {
        return Probed::Unimplemented { slots: 1 };
    }
    if probed & bar::IO_SPACE != 0 {
        // Devices that decode only 16 address bits read back zeros in 31:16; the lowest writable bit is still the
        // size.
        return match lowest_bit(u64::from(probed & bar::IO_ADDRESS_MASK)) {
            Some(size) => Probed::Bar(Bar {
                index,
                kind: BarKind::Io,
                prefetchable: false,
                size,
                address: None,
            }),
            None => Probed::Unimplemented { slots: 1 },
        };
    }
    let prefetchable = probed & bar::PREFETCHABLE != 0;
    let (kind, mask) = match probed & bar::MEM_TYPE_MASK {
        bar::MEM_TYPE_32 | bar::MEM_TYPE_1M => {
            (BarKind::Mem32, u64::from(probed & bar::MEM_ADDRESS_MASK))
        }
        bar::MEM_TYPE_64 if index + 1 < bar_count => {
            let upper = probe_dword(cfg, bdf, offset + 4);
            (
                BarKind::Mem64,
                u64::from(upper) << 32 | u64::from(probed & bar::MEM_ADDRESS_MASK),
            )
        }
        _ => {
            log::warn!("{bdf} BAR{index}: malformed memory BAR (reads {probed:#010x})");
            return Probed::Malformed;
        }
    };
    match lowest_bit(mask) {
        Some(size) => Probed::Bar(Bar {
            index,
            kind,
            prefetchable,
            size,
            address: None,
        }),
        None => Probed::Unimplemented {
            slots: if kind == BarKind::Mem64 { 2 } else { 1 },
        },
    }
}

/// Finds out which optional windows a bridge implements: the I/O and prefetchable base registers read as zero
/// (including their read-only capability nibble) when the window is absent, and keep written address bits
/// otherwise. Original register values are restored.
fn probe_bridge<C: ConfigSpace + ?Sized>(cfg: &mut C, bdf: Bdf) -> BridgeWindows {
    let io_base = cfg.read8(bdf, IO_BASE);
    let io_supported = io_base != 0 || {
        cfg.write8(bdf, IO_BASE, 0xF0);
        let probed = cfg.read8(bdf, IO_BASE);
        cfg.write8(bdf, IO_BASE, io_base);
        probed != 0
    };
    let mut pref_base = cfg.read16(bdf, PREF_MEMORY_BASE);
    if pref_base == 0 {
        cfg.write16(bdf, PREF_MEMORY_BASE, 0xFFF0);
        pref_base = cfg.read16(bdf, PREF_MEMORY_BASE);
        cfg.write16(bdf, PREF_MEMORY_BASE, 0);
    }
    BridgeWindows {
        io_supported,
        pref_supported: pref_base != 0,
        pref_64bit: pref_base & 0xF == 1,
        io: None,
        mem: None,
        pref: None,
    }
}
