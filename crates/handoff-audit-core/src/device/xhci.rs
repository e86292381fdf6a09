//! xHCI registers (eXtensible Host Controller Interface 1.2 §5.3–5.5): USBCMD.R/S and USBSTS.HCH say whether the
//! controller runs its schedules; CRCR.CRR whether the command ring runs; DCBAAP and interrupter 0's event ring
//! segment table locate what it writes to memory.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Mmio, Ring};
use crate::json::Json;
use crate::memmap::Range;

/// CAPLENGTH (u8): offset of the operational registers.
pub const CAPLENGTH: u64 = 0x00;
/// HCSPARAMS1: MaxSlots in 7:0.
pub const HCSPARAMS1: u64 = 0x04;
/// RTSOFF: runtime register space offset (bits 4:0 reserved).
pub const RTSOFF: u64 = 0x18;
/// Operational: USBCMD (bit 0 = Run/Stop).
pub const USBCMD: u64 = 0x00;
/// Operational: USBSTS (bit 0 = HCHalted).
pub const USBSTS: u64 = 0x04;
/// Operational: CRCR (reads 0 except CRR, bit 3).
pub const CRCR: u64 = 0x18;
/// Operational: DCBAAP.
pub const DCBAAP: u64 = 0x30;
/// Runtime: interrupter 0 register set.
pub const INTERRUPTER0: u64 = 0x20;
/// Interrupter: ERSTSZ (15:0).
pub const ERSTSZ: u64 = 0x08;
/// Interrupter: ERSTBA.
pub const ERSTBA: u64 = 0x10;
/// At most this many event ring segments are located.
const MAX_SEGMENTS: u32 = 4;

/// The registers read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XhciState {
    /// CAPLENGTH.
    pub caplength: u8,
    /// USBCMD.
    pub usbcmd: u32,
    /// USBSTS.
    pub usbsts: u32,
    /// CRCR as read (only CRR is meaningful).
    pub crcr: u32,
    /// DCBAAP.
    pub dcbaap: u64,
    /// Interrupter 0 ERSTBA.
    pub erstba: u64,
    /// Interrupter 0 ERSTSZ.
    pub erstsz: u16,
    /// Device context base address array and event ring segments.
    pub rings: Vec<Ring>,
}

/// Reads the controller at BAR0 address `base` (and the event ring segment table from RAM).
pub fn read(base: u64, mmio: &mut impl Mmio) -> XhciState {
    let caplength = mmio.read8(base + CAPLENGTH);
    let max_slots = u64::from(mmio.read32(base + HCSPARAMS1) & 0xff);
    let runtime = base + u64::from(mmio.read32(base + RTSOFF) & !0x1f);
    let op = base + u64::from(caplength);
    let irq0 = runtime + INTERRUPTER0;
    let mut s = XhciState {
        caplength,
        usbcmd: mmio.read32(op + USBCMD),
        usbsts: mmio.read32(op + USBSTS),
        crcr: mmio.read32(op + CRCR),
        dcbaap: mmio.read64(op + DCBAAP) & !0x3f,
        erstba: mmio.read64(irq0 + ERSTBA) & !0x3f,
        erstsz: mmio.read32(irq0 + ERSTSZ) as u16,
        rings: Vec::new(),
    };
    if s.dcbaap != 0 {
        s.rings.push(Ring {
            what: String::from("device context base address array"),
            range: Range::at(s.dcbaap, 8 * (max_slots + 1)),
        });
    }
    if s.erstba != 0 && s.erstsz != 0 {
        s.rings.push(Ring {
            what: String::from("event ring segment table"),
            range: Range::at(s.erstba, 16 * u64::from(s.erstsz)),
        });
        for i in 0..u32::from(s.erstsz).min(MAX_SEGMENTS) {
            let entry = s.erstba + 16 * u64::from(i);
            let segment = mmio.read64(entry) & !0x3f;
            let trbs = mmio.read32(entry + 8) & 0xffff;
            if segment != 0 && trbs != 0 {
                s.rings.push(Ring {
                    what: format!("event ring segment {i}"),
                    range: Range::at(segment, 16 * u64::from(trbs)),
                });
            }
        }
    }
    s
}

impl XhciState {
    /// Run/Stop set, not halted, or the command ring running.
    pub fn running(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.usbcmd & 1 != 0 {
            out.push(String::from("USBCMD.R/S=1"));
        }
        if self.usbsts & 1 == 0 {
            out.push(String::from("USBSTS.HCH=0"));
        }
        if self.crcr & (1 << 3) != 0 {
            out.push(String::from("CRCR.CRR=1"));
        }
        out
    }

    /// DCBAAP or an event ring programmed.
    pub fn traces(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.dcbaap != 0 {
            out.push(format!("DCBAAP {:#x}", self.dcbaap));
        }
        if self.erstba != 0 {
            out.push(format!("ERSTBA {:#x}", self.erstba));
        }
        out
    }

    /// JSON members.
    pub fn write_json(&self, w: &mut Json) {
        w.field_bool("usbcmd_rs", self.usbcmd & 1 != 0);
        w.field_bool("usbsts_hch", self.usbsts & 1 != 0);
        w.field_hex("caplength", u64::from(self.caplength));
        w.field_hex("usbcmd", u64::from(self.usbcmd));
        w.field_hex("usbsts", u64::from(self.usbsts));
        w.field_hex("crcr", u64::from(self.crcr));
        w.field_hex("dcbaap", self.dcbaap);
        w.field_hex("erstba", self.erstba);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeMemory;
    use super::*;

    const BASE: u64 = 0xfeb0_0000;

    fn controller(usbcmd: u32, usbsts: u32) -> FakeMemory {
        let mut mem = FakeMemory::default();
        mem.put(BASE + CAPLENGTH, 0x40, 1);
        mem.put(BASE + HCSPARAMS1, 0x4000_0840, 4); // MaxSlots 0x40
        mem.put(BASE + RTSOFF, 0x1000, 4);
        mem.put(BASE + 0x40 + USBCMD, u64::from(usbcmd), 4);
        mem.put(BASE + 0x40 + USBSTS, u64::from(usbsts), 4);
        mem
    }

    #[test]
    fn halted_controller_is_quiet() {
        let s = read(BASE, &mut controller(0, 1));
        assert!(s.running().is_empty() && s.traces().is_empty() && s.rings.is_empty());
    }

    #[test]
    fn running_controller_with_event_ring() {
        let mut mem = controller(1, 0);
        mem.put(BASE + 0x40 + DCBAAP, 0x3000, 8);
        mem.put(BASE + 0x1000 + INTERRUPTER0 + ERSTSZ, 1, 4);
        mem.put(BASE + 0x1000 + INTERRUPTER0 + ERSTBA, 0x5000, 8);
        mem.put(0x5000, 0x6000, 8);
        mem.put(0x5008, 256, 4);
        let s = read(BASE, &mut mem);
        assert_eq!(s.running(), ["USBCMD.R/S=1", "USBSTS.HCH=0"]);
        assert_eq!(s.traces(), ["DCBAAP 0x3000", "ERSTBA 0x5000"]);
        let rings: Vec<Range> = s.rings.iter().map(|r| r.range).collect();
        assert_eq!(
            rings,
            [
                Range::at(0x3000, 8 * 65),
                Range::at(0x5000, 16),
                Range::at(0x6000, 4096)
            ]
        );
    }
}
