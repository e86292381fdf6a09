//! Intel 8254x/82574 ("e1000") registers (PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
//! Manual §13): RCTL.EN says the receiver writes frames into the receive ring's buffers; RDBA/RDLEN locate the
//! ring, whose legacy descriptors (§3.2.3: buffer address u64, then length/status) locate the buffers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Mmio, Ring};
use crate::json::Json;
use crate::memmap::Range;

/// Receive Control (bit 1 = EN).
pub const RCTL: u64 = 0x0100;
/// Transmit Control (bit 1 = EN).
pub const TCTL: u64 = 0x0400;
/// Receive Descriptor Base Address Low/High.
pub const RDBAL: u64 = 0x2800;
/// Receive Descriptor Length (bytes).
pub const RDLEN: u64 = 0x2808;
/// Receive Descriptor Head.
pub const RDH: u64 = 0x2810;
/// Receive Descriptor Tail.
pub const RDT: u64 = 0x2818;
/// Transmit Descriptor Base Address Low/High.
pub const TDBAL: u64 = 0x3800;
/// Transmit Descriptor Length (bytes).
pub const TDLEN: u64 = 0x3808;
/// Receive buffer size assumed for blame (RCTL.BSIZE default).
const RX_BUFFER: u64 = 2048;
/// At most this many receive descriptors are read.
const MAX_DESCRIPTORS: u64 = 64;

/// The registers read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct E1000State {
    /// RCTL.
    pub rctl: u32,
    /// TCTL.
    pub tctl: u32,
    /// RDBAH:RDBAL.
    pub rdba: u64,
    /// RDLEN.
    pub rdlen: u32,
    /// RDH.
    pub rdh: u32,
    /// RDT.
    pub rdt: u32,
    /// TDBAH:TDBAL.
    pub tdba: u64,
    /// Receive ring and buffers, transmit ring.
    pub rings: Vec<Ring>,
}

/// Reads the NIC at BAR0 address `base` (and the receive descriptors from RAM).
pub fn read(base: u64, mmio: &mut impl Mmio) -> E1000State {
    let mut s = E1000State {
        rctl: mmio.read32(base + RCTL),
        tctl: mmio.read32(base + TCTL),
        rdba: mmio.read64(base + RDBAL),
        rdlen: mmio.read32(base + RDLEN),
        rdh: mmio.read32(base + RDH),
        rdt: mmio.read32(base + RDT),
        tdba: mmio.read64(base + TDBAL),
        rings: Vec::new(),
    };
    if s.rdba != 0 && s.rdlen != 0 {
        s.rings.push(Ring {
            what: String::from("receive descriptor ring"),
            range: Range::at(s.rdba, u64::from(s.rdlen)),
        });
        for i in 0..(u64::from(s.rdlen) / 16).min(MAX_DESCRIPTORS) {
            let buffer = mmio.read64(s.rdba + 16 * i);
            if buffer != 0 {
                s.rings.push(Ring {
                    what: format!("receive buffer {i}"),
                    range: Range::at(buffer, RX_BUFFER),
                });
            }
        }
    }
    let tdlen = u64::from(mmio.read32(base + TDLEN));
    if s.tdba != 0 && tdlen != 0 {
        s.rings.push(Ring {
            what: String::from("transmit descriptor ring"),
            range: Range::at(s.tdba, tdlen),
        });
    }
    s
}

impl E1000State {
    /// The receiver enabled.
    pub fn running(&self) -> Vec<String> {
        if self.rctl & 2 != 0 {
            alloc::vec![format!("RCTL.EN=1 (RDH {} RDT {})", self.rdh, self.rdt)]
        } else {
            Vec::new()
        }
    }

    /// Programmed rings, a non-zero RCTL, or the transmitter enabled.
    pub fn traces(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.rdba != 0 || self.tdba != 0 {
            out.push(format!("rings at {:#x}/{:#x}", self.rdba, self.tdba));
        }
        if self.rctl != 0 {
            out.push(format!("RCTL {:#x}", self.rctl));
        }
        if self.tctl & 2 != 0 {
            out.push(String::from("TCTL.EN=1"));
        }
        out
    }

    /// JSON members.
    pub fn write_json(&self, w: &mut Json) {
        w.field_bool("rctl_en", self.rctl & 2 != 0);
        w.field_hex("rctl", u64::from(self.rctl));
        w.field_hex("tctl", u64::from(self.tctl));
        w.field_hex("rdba", self.rdba);
        w.field_u64("rdlen", u64::from(self.rdlen));
        w.field_u64("rdh", u64::from(self.rdh));
        w.field_u64("rdt", u64::from(self.rdt));
        w.field_hex("tdba", self.tdba);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeMemory;
    use super::*;

    #[test]
    fn receiving_nic_locates_ring_and_buffers() {
        let mut mem = FakeMemory::default();
        let base = 0xfeb8_0000;
        mem.put(base + RCTL, 0x0400_801a, 4);
        mem.put(base + RDBAL, 0x9000, 8);
        mem.put(base + RDLEN, 32, 4);
        mem.put(base + RDT, 1, 4);
        mem.put(0x9000, 0x1_0000, 8);
        mem.put(0x9010, 0x1_0800, 8);
        let s = read(base, &mut mem);
        assert_eq!(s.running(), ["RCTL.EN=1 (RDH 0 RDT 1)"]);
        let rings: Vec<Range> = s.rings.iter().map(|r| r.range).collect();
        assert_eq!(
            rings,
            [
                Range::at(0x9000, 32),
                Range::at(0x1_0000, 2048),
                Range::at(0x1_0800, 2048)
            ]
        );
    }

    #[test]
    fn reset_nic_is_quiet() {
        let s = read(0, &mut FakeMemory::default());
        assert!(s.running().is_empty() && s.traces().is_empty() && s.rings.is_empty());
    }
}
