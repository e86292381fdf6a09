//! `FakeConfigSpace`: an in-process PCI topology for tests.
//!
//! Each function has a byte array (256 or 4096 bytes) with a per-byte mask of writable bits and of RW1C bits, so
//! BARs read back their size mask after all ones are written, RO fields (IDs, header type, BAR type bits, window
//! capability nibbles) stay put and status error bits clear only when written with 1. Configuration reads are
//! routed like real bridges do: bus 0 is the root bus, and a request for bus N goes through the bridge whose
//! `secondary ..= subordinate` range holds N (type-0 on its secondary bus). Only `read32`/`write32` are
//! implemented, so the trait's default narrow accesses are what gets exercised.

use alloc::vec::Vec;

use crate::config::*;

/// Bus id of the root bus.
pub const ROOT: usize = 0;

pub struct FakeFunction {
    pub space: Vec<u8>,
    pub writable: Vec<u8>,
    pub rw1c: Vec<u8>,
    /// Bus id behind a bridge.
    pub downstream: Option<usize>,
}

impl FakeFunction {
    pub fn get8(&self, offset: u16) -> u8 {
        self.space[usize::from(offset)]
    }
    pub fn get16(&self, offset: u16) -> u16 {
        u16::from_le_bytes([self.get8(offset), self.get8(offset + 1)])
    }
    pub fn get32(&self, offset: u16) -> u32 {
        u32::from(self.get16(offset)) | u32::from(self.get16(offset + 2)) << 16
    }
    /// Sets register bytes directly (initial value, bypassing write masks).
    fn init(&mut self, offset: u16, bytes: &[u8], writable: &[u8]) {
        let at = usize::from(offset);
        self.space[at..at + bytes.len()].copy_from_slice(bytes);
        self.writable[at..at + writable.len()].copy_from_slice(writable);
    }
}

#[derive(Clone, Copy, Debug)]
pub enum FakeBar {
    /// I/O BAR; `decode16` models a device decoding only 16 address bits (bits 31:16 read back 0).
    Io {
        size: u32,
        decode16: bool,
    },
    Mem32 {
        size: u32,
        prefetchable: bool,
    },
    Mem64 {
        size: u64,
        prefetchable: bool,
    },
    /// A memory BAR with the reserved type 11.
    Reserved,
    /// An unimplemented BAR slot (reads 0, not writable).
    Unimplemented,
}

/// Optional windows of a fake bridge.
#[derive(Clone, Copy, Debug)]
pub struct BridgeCaps {
    pub io: bool,
    /// `None`: no prefetchable window; `Some(true)`: 64-bit capable.
    pub pref: Option<bool>,
}

impl BridgeCaps {
    pub const FULL: Self = Self {
        io: true,
        pref: Some(true),
    };
}

#[derive(Default)]
pub struct FakeConfigSpace {
    pub functions: Vec<FakeFunction>,
    /// Per bus id: (device, function, index into `functions`).
    buses: Vec<Vec<(u8, u8, usize)>>,
    /// Set if any write ever left BUS_MASTER set in a Command register.
    pub bus_master_ever_set: bool,
    pub accesses: usize,
}

impl FakeConfigSpace {
    pub fn new() -> Self {
        Self {
            buses: alloc::vec![Vec::new()],
            ..Self::default()
        }
    }

    /// Adds a function with the given identity; returns its index.
    pub fn add_function(
        &mut self,
        bus: usize,
        device: u8,
        function: u8,
        class: [u8; 3],
        header: u8,
    ) -> usize {
        let size = if header == header_type::PCI_BRIDGE {
            4096
        } else {
            256
        };
        let mut f = FakeFunction {
            space: alloc::vec![0; size],
            writable: alloc::vec![0; size],
            rw1c: alloc::vec![0; size],
            downstream: None,
        };
        let device_id = 0x1000 + u16::from(device) * 8 + u16::from(function);
        f.init(VENDOR_ID, &0x1af4u16.to_le_bytes(), &[0, 0]);
        f.init(DEVICE_ID, &device_id.to_le_bytes(), &[0, 0]);
        // Command: I/O, memory, bus master, interrupt disable writable.
        f.init(COMMAND, &[0, 0], &[0x07, 0x04]);
        // Status: capabilities list (RO) and the RW1C error bits.
        f.init(STATUS, &status::CAPABILITIES_LIST.to_le_bytes(), &[0, 0]);
        f.rw1c[usize::from(STATUS)..usize::from(STATUS) + 2]
            .copy_from_slice(&status::RW1C_MASK.to_le_bytes());
        f.init(REVISION_ID, &[1, class[2], class[1], class[0]], &[0; 4]);
        f.init(CACHE_LINE_SIZE, &[0], &[0xFF]);
        f.init(HEADER_TYPE, &[header], &[0]);
        f.init(INTERRUPT_LINE, &[0], &[0xFF]);
        if header == header_type::ENDPOINT {
            // Expansion ROM: 64 KiB, enabled at reset (so the test can see it being disabled).
            f.init(
                EXPANSION_ROM,
                &0x0000_0001u32.to_le_bytes(),
                &0xFFFF_0001u32.to_le_bytes(),
            );
        }
        let index = self.functions.len();
        self.functions.push(f);
        self.buses[bus].push((device, function, index));
        index
    }

    /// Adds a type-0 function with `bars` in BAR slots 0, 1, … (64-bit BARs take two slots).
    pub fn add_endpoint(
        &mut self,
        bus: usize,
        device: u8,
        function: u8,
        bars: &[FakeBar],
    ) -> usize {
        let index = self.add_function(
            bus,
            device,
            function,
            [0x02, 0x00, 0x00],
            header_type::ENDPOINT,
        );
        self.set_bars(index, bars);
        index
    }

    /// Adds a PCI-PCI bridge; returns (function index, bus id behind it).
    pub fn add_bridge(
        &mut self,
        bus: usize,
        device: u8,
        function: u8,
        caps: BridgeCaps,
    ) -> (usize, usize) {
        let index = self.add_function(
            bus,
            device,
            function,
            [0x06, 0x04, 0x00],
            header_type::PCI_BRIDGE,
        );
        let f = &mut self.functions[index];
        f.init(PRIMARY_BUS, &[0; 4], &[0xFF; 4]);
        if caps.io {
            // 32-bit I/O decode (capability nibble 1).
            f.init(IO_BASE, &[0x01, 0x01], &[0xF0, 0xF0]);
            f.init(IO_BASE_UPPER16, &[0; 4], &[0xFF; 4]);
        }
        f.rw1c[usize::from(SECONDARY_STATUS)..usize::from(SECONDARY_STATUS) + 2]
            .copy_from_slice(&status::RW1C_MASK.to_le_bytes());
        f.init(MEMORY_BASE, &[0; 4], &[0xF0, 0xFF, 0xF0, 0xFF]);
        if let Some(is64) = caps.pref {
            let nibble = u8::from(is64);
            f.init(
                PREF_MEMORY_BASE,
                &[nibble, 0, nibble, 0],
                &[0xF0, 0xFF, 0xF0, 0xFF],
            );
            if is64 {
                f.init(PREF_BASE_UPPER32, &[0; 8], &[0xFF; 8]);
            }
        }
        f.init(BRIDGE_CONTROL, &[0, 0], &[0xFF, 0x0F]);
        f.rw1c[usize::from(BRIDGE_CONTROL) + 1] = (bridge_control::DISCARD_TIMER_STATUS >> 8) as u8;
        let downstream = self.buses.len();
        self.buses.push(Vec::new());
        self.functions[index].downstream = Some(downstream);
        (index, downstream)
    }

    /// Sets BAR slots from `bars`.
    pub fn set_bars(&mut self, index: usize, bars: &[FakeBar]) {
        let f = &mut self.functions[index];
        let mut offset = BAR0;
        for b in bars {
            match *b {
                FakeBar::Io { size, decode16 } => {
                    let mut mask = !(size - 1) & !0x3;
                    if decode16 {
                        mask &= 0xFFFF;
                    }
                    f.init(offset, &1u32.to_le_bytes(), &mask.to_le_bytes());
                }
                FakeBar::Mem32 { size, prefetchable } => {
                    let value = if prefetchable { bar::PREFETCHABLE } else { 0 };
                    f.init(
                        offset,
                        &value.to_le_bytes(),
                        &(!(size - 1) & !0xF).to_le_bytes(),
                    );
                }
                FakeBar::Mem64 { size, prefetchable } => {
                    let value = bar::MEM_TYPE_64 | if prefetchable { bar::PREFETCHABLE } else { 0 };
                    let mask = !(size - 1) & !0xF;
                    f.init(offset, &value.to_le_bytes(), &(mask as u32).to_le_bytes());
                    offset += 4;
                    f.init(offset, &[0; 4], &((mask >> 32) as u32).to_le_bytes());
                }
                FakeBar::Unimplemented => f.init(offset, &[0; 4], &[0; 4]),
                FakeBar::Reserved => f.init(
                    offset,
                    &0b110u32.to_le_bytes(),
                    &0xFFFF_F000u32.to_le_bytes(),
                ),
            }
            offset += 4;
        }
    }

    pub fn set_header_byte(&mut self, index: usize, value: u8) {
        self.functions[index].space[usize::from(HEADER_TYPE)] = value;
    }

    /// Sets status-type bits directly (as the device would).
    pub fn raise(&mut self, index: usize, offset: u16, bits: u16) {
        let f = &mut self.functions[index];
        let value = f.get16(offset) | bits;
        f.space[usize::from(offset)..usize::from(offset) + 2].copy_from_slice(&value.to_le_bytes());
    }

    /// Index of the function currently reachable at `bdf`, following bridges' bus numbers.
    pub fn resolve(&self, bdf: Bdf) -> Option<usize> {
        let (mut bus_id, mut bus_number) = (ROOT, 0u8);
        for _ in 0..=256 {
            let slots = &self.buses[bus_id];
            if bdf.bus == bus_number {
                return slots
                    .iter()
                    .find(|s| s.0 == bdf.device && s.1 == bdf.function)
                    .map(|s| s.2);
            }
            let next = slots.iter().find_map(|&(_, _, index)| {
                let f = &self.functions[index];
                let (secondary, subordinate) = (f.get8(SECONDARY_BUS), f.get8(SUBORDINATE_BUS));
                let forwards = secondary != 0 && secondary <= bdf.bus && bdf.bus <= subordinate;
                forwards.then_some((f.downstream?, secondary))
            });
            (bus_id, bus_number) = next?;
        }
        None
    }
}

impl ConfigSpace for FakeConfigSpace {
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        self.accesses += 1;
        let offset = offset & !3;
        match self.resolve(bdf) {
            Some(index) if usize::from(offset) < self.functions[index].space.len() => {
                self.functions[index].get32(offset)
            }
            _ => u32::MAX,
        }
    }

    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        self.accesses += 1;
        let offset = offset & !3;
        let Some(index) = self.resolve(bdf) else {
            return;
        };
        let f = &mut self.functions[index];
        if usize::from(offset) >= f.space.len() {
            return;
        }
        for (i, byte) in value.to_le_bytes().into_iter().enumerate() {
            let at = usize::from(offset) + i;
            let (old, rw1c) = (f.space[at], f.rw1c[at]);
            let writable = f.writable[at] & !rw1c;
            f.space[at] = ((old & !writable) | (byte & writable)) & !(byte & rw1c);
        }
        if f.get16(COMMAND) & command::BUS_MASTER != 0 {
            self.bus_master_ever_set = true;
        }
    }
}
