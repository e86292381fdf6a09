//! Memory-size fallback from the CMOS/RTC NVRAM, for when `etc/e820` is absent.
//!
//! Register layout (as QEMU's `pc_cmos_init` fills it; the classic PC/AT extended-memory registers):
//!
//! | registers   | contents                                                            |
//! |-------------|---------------------------------------------------------------------|
//! | 0x30/0x31   | RAM above 1 MiB in KiB, low byte first, saturates at 0xFFFF         |
//! | 0x34/0x35   | RAM between 16 MiB and 4 GiB in 64 KiB units, low byte first        |
//! | 0x5B..0x5D  | RAM above 4 GiB in 64 KiB units, lowest byte first (24 bits)        |
//!
//! Registers are read by writing the index to port 0x70 and reading port 0x71. The resulting map is
//! RAM `[0, 640 KiB)`, RAM `[1 MiB, top of low RAM)` and RAM `[4 GiB, 4 GiB + high RAM)`; the legacy VGA/BIOS hole
//! and the 32-bit PCI hole are left unmapped.

use hw::PortIo;

use super::{MemoryKind, MemoryRange, MemoryRanges, FOUR_GIB};

/// CMOS index (address) port.
pub const CMOS_INDEX_PORT: u16 = 0x70;
/// CMOS data port.
pub const CMOS_DATA_PORT: u16 = 0x71;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const UNIT_64K: u64 = 64 * KIB;

fn cmos_read(io: &mut impl PortIo, index: u8) -> u8 {
    io.write8(CMOS_INDEX_PORT, index);
    io.read8(CMOS_DATA_PORT)
}

/// Builds a RAM-only memory map from the CMOS memory-size registers (see the module note for the layout).
///
/// Low RAM ends at `16 MiB + regs[0x34..=0x35] * 64 KiB`; if those registers are 0 (a guest with at most 16 MiB),
/// at `1 MiB + regs[0x30..=0x31] KiB`. High RAM is `regs[0x5B..=0x5D] * 64 KiB` starting at 4 GiB.
pub fn ranges_from_cmos(io: &mut impl PortIo) -> MemoryRanges {
    let above_16m = u16::from_le_bytes([cmos_read(io, 0x34), cmos_read(io, 0x35)]) as u64;
    let low_top = if above_16m != 0 {
        16 * MIB + above_16m * UNIT_64K
    } else {
        let above_1m = u16::from_le_bytes([cmos_read(io, 0x30), cmos_read(io, 0x31)]) as u64;
        MIB + above_1m * KIB
    };
    let high = u32::from_le_bytes([
        cmos_read(io, 0x5b),
        cmos_read(io, 0x5c),
        cmos_read(io, 0x5d),
        0,
    ]) as u64;
    let high_bytes = high * UNIT_64K;
    log::debug!(
        "cmos: low RAM top {:#x}, high RAM {:#x} bytes",
        low_top,
        high_bytes
    );

    let mut raw = alloc::vec![
        MemoryRange {
            start: 0,
            end: 640 * KIB,
            kind: MemoryKind::Ram
        },
        MemoryRange {
            start: MIB,
            end: low_top,
            kind: MemoryKind::Ram
        },
    ];
    if high_bytes != 0 {
        raw.push(MemoryRange {
            start: FOUR_GIB,
            end: FOUR_GIB + high_bytes,
            kind: MemoryKind::Ram,
        });
    }
    MemoryRanges {
        ranges: super::normalise(&raw),
    }
}
