//! NVM Express controller registers (NVMe Base Specification 2.0 §3.1.3): CC.EN and CSTS.RDY say whether the
//! controller still processes queues; AQA/ASQ/ACQ locate the admin queues. I/O queues are created by admin
//! commands and have no registers, so they cannot be located from outside.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Mmio, Ring};
use crate::json::Json;
use crate::memmap::Range;

/// Controller Configuration.
pub const CC: u64 = 0x14;
/// Controller Status.
pub const CSTS: u64 = 0x1C;
/// Admin Queue Attributes.
pub const AQA: u64 = 0x24;
/// Admin Submission Queue Base Address.
pub const ASQ: u64 = 0x28;
/// Admin Completion Queue Base Address.
pub const ACQ: u64 = 0x30;

/// The registers read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmeState {
    /// CC (bit 0 = EN).
    pub cc: u32,
    /// CSTS (bit 0 = RDY).
    pub csts: u32,
    /// AQA (ASQS 11:0, ACQS 27:16, both 0-based).
    pub aqa: u32,
    /// ASQ.
    pub asq: u64,
    /// ACQ.
    pub acq: u64,
}

/// Reads the controller at BAR0 address `base`.
pub fn read(base: u64, mmio: &mut impl Mmio) -> NvmeState {
    NvmeState {
        cc: mmio.read32(base + CC),
        csts: mmio.read32(base + CSTS),
        aqa: mmio.read32(base + AQA),
        asq: mmio.read64(base + ASQ) & !0xfff,
        acq: mmio.read64(base + ACQ) & !0xfff,
    }
}

impl NvmeState {
    /// CC.EN or CSTS.RDY set. (A dead controller reads all ones: CSTS = 0xFFFFFFFF is reported as is.)
    pub fn running(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.cc & 1 != 0 {
            out.push(String::from("CC.EN=1"));
        }
        if self.csts & 1 != 0 {
            out.push(String::from("CSTS.RDY=1"));
        }
        out
    }

    /// Admin queue addresses.
    pub fn traces(&self) -> Vec<String> {
        if self.asq != 0 || self.acq != 0 {
            alloc::vec![format!("admin queues at {:#x}/{:#x}", self.asq, self.acq)]
        } else {
            Vec::new()
        }
    }

    /// The admin submission (64-byte entries) and completion (16-byte entries) queues.
    pub fn rings(&self) -> Vec<Ring> {
        let mut out = Vec::new();
        let sq_entries = u64::from(self.aqa & 0xfff) + 1;
        let cq_entries = u64::from((self.aqa >> 16) & 0xfff) + 1;
        if self.asq != 0 {
            out.push(Ring {
                what: String::from("admin submission queue"),
                range: Range::at(self.asq, 64 * sq_entries),
            });
        }
        if self.acq != 0 {
            out.push(Ring {
                what: String::from("admin completion queue"),
                range: Range::at(self.acq, 16 * cq_entries),
            });
        }
        out
    }

    /// JSON members.
    pub fn write_json(&self, w: &mut Json) {
        w.field_bool("cc_en", self.cc & 1 != 0);
        w.field_bool("csts_rdy", self.csts & 1 != 0);
        w.field_hex("cc", u64::from(self.cc));
        w.field_hex("csts", u64::from(self.csts));
        w.field_hex("aqa", u64::from(self.aqa));
        w.field_hex("asq", self.asq);
        w.field_hex("acq", self.acq);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeMemory;
    use super::*;

    #[test]
    fn enabled_controller_is_running_with_its_admin_queues() {
        let mut mem = FakeMemory::default();
        let base = 0xfebd_0000;
        mem.put(base + CC, 0x0046_0001, 4);
        mem.put(base + CSTS, 1, 4);
        mem.put(base + AQA, 0x001f_001f, 4);
        mem.put(base + ASQ, 0x1_2345_6000, 8);
        mem.put(base + ACQ, 0x7000, 8);
        let s = read(base, &mut mem);
        assert_eq!(s.running(), ["CC.EN=1", "CSTS.RDY=1"]);
        assert_eq!(s.traces(), ["admin queues at 0x123456000/0x7000"]);
        let rings: Vec<Range> = s.rings().iter().map(|r| r.range).collect();
        assert_eq!(
            rings,
            [Range::at(0x1_2345_6000, 2048), Range::at(0x7000, 512)]
        );
    }

    #[test]
    fn disabled_controller_keeps_only_traces() {
        let mut mem = FakeMemory::default();
        mem.put(ASQ, 0x8000, 8);
        let s = read(0, &mut mem);
        assert!(s.running().is_empty());
        assert_eq!(s.traces().len(), 1);
        assert_eq!(s.rings().len(), 1);
    }
}
