//! Programming assigned resources into configuration space.
//!
//! Per function, with I/O and memory decoding disabled: write each assigned BAR (both halves of a 64-bit BAR),
//! and for bridges all three windows, empty ones closed (base > limit: Bridge spec 1.2 §3.2.5.6 ff.). Then the
//! Command register gets, for each of I/O and memory: enabled if the function owns at least one resource of that
//! type and all of them got addresses; disabled if any of them did not (an unassigned BAR would otherwise decode
//! at whatever it holds); unchanged if it owns none. Bus Master and all other Command bits are left as found.

use core::ops::Range;

use super::{BarKind, BridgeWindows, Node};
use crate::config::{
    command, Bdf, ConfigSpace, BAR0, COMMAND, IO_BASE, IO_BASE_UPPER16, IO_LIMIT, IO_LIMIT_UPPER16,
    MEMORY_BASE, MEMORY_LIMIT, PREF_BASE_UPPER32, PREF_LIMIT_UPPER32, PREF_MEMORY_BASE,
    PREF_MEMORY_LIMIT,
};

/// Programs `node`'s BARs, windows and Command register, recording the final Command value in the node.
pub(super) fn program<C: ConfigSpace + ?Sized>(cfg: &mut C, node: &mut Node) {
    let bdf = node.res.bdf;
    let original = cfg.read16(bdf, COMMAND);
    let decode = command::IO_SPACE | command::MEMORY_SPACE;
    cfg.write16(bdf, COMMAND, original & !decode);

    for found in &node.res.bars {
        let Some(address) = found.address else {
            continue;
        };
        let offset = BAR0 + 4 * u16::from(found.index);
        // The low type bits of a BAR are read-only; the address is aligned so they are written as 0.
        cfg.write32(bdf, offset, address as u32);
        if found.kind == BarKind::Mem64 {
            cfg.write32(bdf, offset + 4, (address >> 32) as u32);
        }
        log::debug!(
            "{bdf} BAR{} {:?} {address:#x} size {:#x}",
            found.index,
            found.kind,
            found.size
        );
    }
    if let Some(windows) = &node.res.bridge {
        program_windows(cfg, bdf, windows);
    }

    let io_bars = node
        .res
        .bars
        .iter()
        .filter(|found| found.kind == BarKind::Io);
    let mem_bars = node
        .res
        .bars
        .iter()
        .filter(|found| found.kind != BarKind::Io);
    let windows = node.res.bridge.as_ref();
    let io_owned = io_bars.clone().count() > 0 || windows.is_some_and(|w| w.io.is_some());
    let mem_owned = mem_bars.clone().count() > 0
        || windows.is_some_and(|w| w.mem.is_some() || w.pref.is_some());
    let io_complete = io_bars.clone().all(|found| found.address.is_some());
    let mem_complete = !node.malformed_mem && mem_bars.clone().all(|found| found.address.is_some());

    let mut value = original;
    for (owned, complete, bit) in [
        (io_owned, io_complete, command::IO_SPACE),
        (
            mem_owned || node.malformed_mem,
            mem_complete,
            command::MEMORY_SPACE,
        ),
    ] {
        if owned {
            value = if complete { value | bit } else { value & !bit };
        }
    }
    cfg.write16(bdf, COMMAND, value);
    node.res.command = value;
}

fn program_windows<C: ConfigSpace + ?Sized>(cfg: &mut C, bdf: Bdf, windows: &BridgeWindows) {
    // I/O: bits 15:12 in I/O Base/Limit bits 7:4, bits 31:16 in the Upper 16 registers (RO 0 on 16-bit bridges).
    let (base, limit) = base_limit(windows.io.as_ref());
    cfg.write8(bdf, IO_BASE, ((base >> 8) & 0xF0) as u8);
    cfg.write8(bdf, IO_LIMIT, ((limit >> 8) & 0xF0) as u8);
    cfg.write16(bdf, IO_BASE_UPPER16, (base >> 16) as u16);
    cfg.write16(bdf, IO_LIMIT_UPPER16, (limit >> 16) as u16);
    if let Some(io) = &windows.io {
        log::debug!("{bdf} I/O window {:#x}..{:#x}", io.start, io.end);
    }

    // Memory: address bits 31:20 in bits 15:4.
    let (base, limit) = base_limit(windows.mem.as_ref());
    cfg.write16(bdf, MEMORY_BASE, ((base >> 16) & 0xFFF0) as u16);
    cfg.write16(bdf, MEMORY_LIMIT, ((limit >> 16) & 0xFFF0) as u16);
    if let Some(mem) = &windows.mem {
        log::debug!("{bdf} memory window {:#x}..{:#x}", mem.start, mem.end);
    }

    // Prefetchable: bits 31:20 in bits 15:4, bits 63:32 in the Upper 32 registers (RO 0 on 32-bit windows).
    let (base, limit) = base_limit(windows.pref.as_ref());
    cfg.write16(bdf, PREF_MEMORY_BASE, ((base >> 16) & 0xFFF0) as u16);
    cfg.write16(bdf, PREF_MEMORY_LIMIT, ((limit >> 16) & 0xFFF0) as u16);
    cfg.write32(bdf, PREF_BASE_UPPER32, (base >> 32) as u32);
    cfg.write32(bdf, PREF_LIMIT_UPPER32, (limit >> 32) as u32);
    if let Some(pref) = &windows.pref {
        log::debug!(
            "{bdf} prefetchable window {:#x}..{:#x}",
            pref.start,
            pref.end
        );
    }
}

/// Base and inclusive limit to program for a window; a closed window is base = all ones, limit = 0 (after the
/// register's truncation this is still base > limit for every window type).
fn base_limit(window: Option<&Range<u64>>) -> (u64, u64) {
    match window {
        Some(range) if !range.is_empty() => (range.start, range.end - 1),
        _ => (u64::MAX, 0),
    }
}
