//! Configuration-space access: function addresses ([`Bdf`]), the [`ConfigSpace`] trait and its two backends.
//!
//! Design notes:
//! - Backends implement 32-bit accesses ([`ConfigSpace::read32`], [`ConfigSpace::write32`]); the 8- and 16-bit
//!   accesses have default implementations built on them and are meant to be overridden by backends that can do
//!   true narrow accesses (both [`PortConfigAccess`] and [`EcamConfigAccess`] do).
//! - A narrow write emulated by read-modify-write of the containing dword would write back the *other* bytes as
//!   read. That is wrong for write-1-to-clear (RW1C) bits: writing back a set error bit clears it. The default
//!   narrow writes therefore write **0** to the RW1C bits they are not targeting, in the registers of the standard
//!   headers that have them: Status (dword 0x04, all headers), Secondary Status (dword 0x1C, type 1) and the
//!   Discard Timer Status bit of Bridge Control (dword 0x3C, type 1). Writing 0 to an RW1C bit leaves it unchanged,
//!   and the other Status bits are read-only, so e.g. a 16-bit write of COMMAND through the default path writes
//!   `0x0000_cccc` to dword 0x04. RW1C bits inside capability structures (e.g. PCIe Device Status) are not known to
//!   the default path: backends that need those must override the narrow writes.
//! - Accesses to an invalid [`Bdf`] (device ≥ 32 or function ≥ 8) or an offset outside the backend's space behave
//!   like a master abort: reads return all ones, writes are dropped. Offsets are rounded down to the access width.

mod ecam;
mod port;
mod regs;

use core::fmt;

pub use ecam::{EcamConfigAccess, EcamError};
pub use port::{PortConfigAccess, CONFIG_ADDRESS, CONFIG_DATA};
pub use regs::*;

/// A PCI function address: bus (0–255), device (0–31), function (0–7).
///
/// Displayed like `lspci` does: `bb:dd.f` in lower-case hex, e.g. `00:1f.3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// Bus number, 0–255.
    pub bus: u8,
    /// Device number, 0–31.
    pub device: u8,
    /// Function number, 0–7.
    pub function: u8,
}

impl Bdf {
    /// Number of devices on a bus.
    pub const DEVICES_PER_BUS: u8 = 32;
    /// Number of functions per device.
    pub const FUNCTIONS_PER_DEVICE: u8 = 8;

    /// Builds a `Bdf`, or `None` if `device >= 32` or `function >= 8`.
    pub const fn new(bus: u8, device: u8, function: u8) -> Option<Self> {
        if device < Self::DEVICES_PER_BUS && function < Self::FUNCTIONS_PER_DEVICE {
            Some(Self {
                bus,
                device,
                function,
            })
        } else {
            None
        }
    }

    /// Whether `device` and `function` are in range (the fields are public, so a `Bdf` may be built invalid).
    pub const fn is_valid(&self) -> bool {
        self.device < Self::DEVICES_PER_BUS && self.function < Self::FUNCTIONS_PER_DEVICE
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02x}:{:02x}.{:x}",
            self.bus, self.device, self.function
        )
    }
}

/// Access to PCI configuration space.
///
/// `offset` is a byte offset into the function's configuration space (256 bytes for conventional PCI, 4096 for
/// PCIe through ECAM). 32-bit accesses round `offset` down to a multiple of 4, 16-bit ones to a multiple of 2.
/// See the module notes for the default narrow accesses and their RW1C handling.
pub trait ConfigSpace {
    /// Reads the dword at `offset & !3` of `bdf`; all ones if there is no such function or register.
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32;

    /// Writes the dword at `offset & !3` of `bdf`; dropped if there is no such function or register.
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32);

    /// Reads the byte at `offset` (default: extracted from the containing dword).
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        let shift = u32::from(offset & 3) * 8;
        (self.read32(bdf, offset & !3) >> shift) as u8
    }

    /// Reads the word at `offset & !1` (default: extracted from the containing dword).
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        let shift = u32::from(offset & 2) * 8;
        (self.read32(bdf, offset & !3) >> shift) as u16
    }

    /// Writes the byte at `offset` (default: read-modify-write of the containing dword, RW1C-safe for the standard
    /// header registers, see the module notes).
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        let shift = u32::from(offset & 3) * 8;
        merge_write(
            self,
            bdf,
            offset & !3,
            0xFF << shift,
            u32::from(value) << shift,
        );
    }

    /// Writes the word at `offset & !1` (default: read-modify-write of the containing dword, RW1C-safe for the
    /// standard header registers, see the module notes).
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        let shift = u32::from(offset & 2) * 8;
        merge_write(
            self,
            bdf,
            offset & !3,
            0xFFFF << shift,
            u32::from(value) << shift,
        );
    }
}

impl<C: ConfigSpace + ?Sized> ConfigSpace for &mut C {
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        (**self).read32(bdf, offset)
    }
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        (**self).write32(bdf, offset, value)
    }
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        (**self).read8(bdf, offset)
    }
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        (**self).read16(bdf, offset)
    }
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        (**self).write8(bdf, offset, value)
    }
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        (**self).write16(bdf, offset, value)
    }
}

/// Read-modify-write of the dword at `dword_offset`: bits in `target_mask` take `value`, other bits keep their
/// read value except RW1C bits (see [`rw1c_bits`]), which are written as 0 so they are not cleared by accident.
fn merge_write<C: ConfigSpace + ?Sized>(
    cfg: &mut C,
    bdf: Bdf,
    dword_offset: u16,
    target_mask: u32,
    value: u32,
) {
    let rw1c = rw1c_bits(cfg, bdf, dword_offset);
    let old = cfg.read32(bdf, dword_offset);
    let keep = old & !target_mask & !rw1c;
    cfg.write32(bdf, dword_offset, keep | (value & target_mask));
}

/// The RW1C bits of the standard header in the dword at `dword_offset` (a multiple of 4), as a dword mask.
fn rw1c_bits<C: ConfigSpace + ?Sized>(cfg: &mut C, bdf: Bdf, dword_offset: u16) -> u32 {
    let status_half = u32::from(status::RW1C_MASK) << 16;
    match dword_offset {
        COMMAND => status_half,
        IO_BASE | INTERRUPT_LINE => {
            let layout = (cfg.read32(bdf, HEADER_TYPE & !3) >> 16) as u8 & header_type::LAYOUT_MASK;
            if layout != header_type::PCI_BRIDGE {
                0
            } else if dword_offset == IO_BASE {
                status_half
            } else {
                u32::from(bridge_control::DISCARD_TIMER_STATUS) << 16
            }
        }
        _ => 0,
    }
}
