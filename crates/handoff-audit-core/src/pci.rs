//! PCI configuration space through configuration mechanism #1 (I/O ports 0xCF8 address / 0xCFC data, PCI Local
//! Bus Specification 3.0 §3.2.2.3.2) and a read-only scan of every bus, device and function.
//!
//! The scan probes buses 0..=255 by brute force instead of following bridges: it finds every function that any
//! bridge routes configuration cycles to, whatever bus numbers the firmware programmed, and it writes nothing.
//! Register offsets are those of the PCI Local Bus Specification 3.0 §6.1 (type-0 header) and §6.7
//! (capabilities list).

use alloc::vec::Vec;
use core::fmt;

use hw::PortIo;

/// CONFIG_ADDRESS.
pub const CONFIG_ADDRESS: u16 = 0xCF8;
/// CONFIG_DATA.
pub const CONFIG_DATA: u16 = 0xCFC;

/// Vendor ID (u16).
pub const VENDOR_ID: u8 = 0x00;
/// Device ID (u16).
pub const DEVICE_ID: u8 = 0x02;
/// Command register (u16).
pub const COMMAND: u8 = 0x04;
/// Status register (u16).
pub const STATUS: u8 = 0x06;
/// Revision ID (u8), then Programming Interface, Sub-class, Base Class.
pub const CLASS_REVISION: u8 = 0x08;
/// Header Type (u8); bit 7 = multi-function.
pub const HEADER_TYPE: u8 = 0x0E;
/// First Base Address Register.
pub const BAR0: u8 = 0x10;
/// Subsystem ID (u16, type-0 header).
pub const SUBSYSTEM_ID: u8 = 0x2E;
/// Capabilities Pointer (u8).
pub const CAPABILITIES_POINTER: u8 = 0x34;

/// Command: I/O Space enable.
pub const COMMAND_IO: u16 = 1 << 0;
/// Command: Memory Space enable.
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// Command: Bus Master enable.
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;
/// Status: Capabilities List.
pub const STATUS_CAPABILITIES: u16 = 1 << 4;

/// Capability ID of vendor-specific capabilities (used by virtio 1.2 §4.1.4).
pub const CAP_VENDOR: u8 = 0x09;

/// A bus/device/function address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bdf {
    /// Bus number 0..=255.
    pub bus: u8,
    /// Device number 0..=31.
    pub device: u8,
    /// Function number 0..=7.
    pub function: u8,
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// Read (and the one write the audit needs) access to configuration space.
pub trait ConfigSpace {
    /// Reads the aligned dword at `offset & !3`.
    fn read32(&mut self, bdf: Bdf, offset: u8) -> u32;
    /// Writes the aligned word at `offset & !1` (only the Command register is ever written, to enable decoding
    /// for a moment and restore it).
    fn write16(&mut self, bdf: Bdf, offset: u8, value: u16);

    /// Reads the word at `offset & !1`.
    fn read16(&mut self, bdf: Bdf, offset: u8) -> u16 {
        (self.read32(bdf, offset) >> ((offset & 2) * 8)) as u16
    }
    /// Reads the byte at `offset`.
    fn read8(&mut self, bdf: Bdf, offset: u8) -> u8 {
        (self.read32(bdf, offset) >> ((offset & 3) * 8)) as u8
    }
}

/// Configuration mechanism #1 over port I/O (256-byte configuration spaces).
pub struct PortConfig<P: PortIo>(pub P);

/// The CONFIG_ADDRESS value for a dword of `bdf`'s configuration space: enable bit 31, bus 23:16, device 15:11,
/// function 10:8, register 7:2.
pub fn config_address(bdf: Bdf, offset: u8) -> u32 {
    0x8000_0000
        | u32::from(bdf.bus) << 16
        | u32::from(bdf.device & 0x1f) << 11
        | u32::from(bdf.function & 7) << 8
        | u32::from(offset & 0xfc)
}

impl<P: PortIo> ConfigSpace for PortConfig<P> {
    fn read32(&mut self, bdf: Bdf, offset: u8) -> u32 {
        self.0.write32(CONFIG_ADDRESS, config_address(bdf, offset));
        self.0.read32(CONFIG_DATA)
    }
    fn write16(&mut self, bdf: Bdf, offset: u8, value: u16) {
        self.0.write32(CONFIG_ADDRESS, config_address(bdf, offset));
        self.0.write16(CONFIG_DATA + u16::from(offset & 2), value);
    }
}

/// A decoded Base Address Register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    /// Not implemented or not assigned (reads as 0).
    None,
    /// I/O space at `base`.
    Io {
        /// Port address.
        base: u32,
    },
    /// Memory space at `base`.
    Memory {
        /// Physical address (both halves for a 64-bit BAR).
        base: u64,
        /// 64-bit BAR (it uses the next slot too).
        is_64: bool,
    },
}

impl Bar {
    /// The memory address, when this is an assigned memory BAR.
    pub fn memory_base(self) -> Option<u64> {
        match self {
            Bar::Memory { base, .. } if base != 0 => Some(base),
            _ => None,
        }
    }
    /// The I/O port, when this is an assigned I/O BAR below 64 KiB.
    pub fn io_base(self) -> Option<u16> {
        match self {
            Bar::Io { base } if base != 0 => u16::try_from(base).ok(),
            _ => None,
        }
    }
}

/// One function found by [`scan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Its address.
    pub bdf: Bdf,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Base class, sub-class, programming interface.
    pub class: [u8; 3],
    /// Header type without the multi-function bit (0 = device, 1 = PCI-PCI bridge).
    pub header_type: u8,
    /// Subsystem ID (type-0 headers; 0 otherwise).
    pub subsystem: u16,
    /// The Command register as found.
    pub command: u16,
    /// BARs 0..=5 (type 0) or 0..=1 (type 1; the rest `None`); the upper half of a 64-bit BAR is `None`.
    pub bars: [Bar; 6],
    /// Capabilities `(id, offset)` in list order.
    pub capabilities: Vec<(u8, u8)>,
}

impl Function {
    /// Whether Bus Master is enabled in the Command register.
    pub fn bus_master(&self) -> bool {
        self.command & COMMAND_BUS_MASTER != 0
    }
}

fn read_bars(cfg: &mut impl ConfigSpace, bdf: Bdf, count: u8) -> [Bar; 6] {
    let mut bars = [Bar::None; 6];
    let mut i = 0;
    while i < count {
        let low = cfg.read32(bdf, BAR0 + 4 * i);
        if low & 1 == 1 {
            bars[i as usize] = Bar::Io { base: low & !3 };
        } else if low != 0 || i + 1 < count {
            let is_64 = (low >> 1) & 3 == 2 && i + 1 < count;
            let high = if is_64 {
                cfg.read32(bdf, BAR0 + 4 * (i + 1))
            } else {
                0
            };
            let base = u64::from(low & !0xf) | u64::from(high) << 32;
            bars[i as usize] = if base == 0 {
                Bar::None
            } else {
                Bar::Memory { base, is_64 }
            };
            if is_64 {
                i += 1;
            }
        }
        i += 1;
    }
    bars
}

/// Walks the capabilities list; stops after 48 entries so a looped list cannot hang the scan.
pub fn capabilities(cfg: &mut impl ConfigSpace, bdf: Bdf) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    if cfg.read16(bdf, STATUS) & STATUS_CAPABILITIES == 0 {
        return out;
    }
    let mut ptr = cfg.read8(bdf, CAPABILITIES_POINTER) & 0xfc;
    while ptr >= 0x40 && out.len() < 48 {
        let id = cfg.read8(bdf, ptr);
        out.push((id, ptr));
        ptr = cfg.read8(bdf, ptr + 1) & 0xfc;
    }
    out
}

/// Reads one function (`None` when nothing answers at `bdf`).
pub fn read_function(cfg: &mut impl ConfigSpace, bdf: Bdf) -> Option<Function> {
    let ids = cfg.read32(bdf, VENDOR_ID);
    let vendor = ids as u16;
    if vendor == 0xffff || vendor == 0 {
        return None;
    }
    let class = cfg.read32(bdf, CLASS_REVISION);
    let header_type = cfg.read8(bdf, HEADER_TYPE) & 0x7f;
    let (bar_count, subsystem) = match header_type {
        0 => (6, cfg.read16(bdf, SUBSYSTEM_ID)),
        1 => (2, 0),
        _ => (0, 0),
    };
    Some(Function {
        bdf,
        vendor,
        device: (ids >> 16) as u16,
        class: [(class >> 24) as u8, (class >> 16) as u8, (class >> 8) as u8],
        header_type,
        subsystem,
        command: cfg.read16(bdf, COMMAND),
        bars: read_bars(cfg, bdf, bar_count),
        capabilities: capabilities(cfg, bdf),
    })
}

/// Every function on buses 0..=255: function 0 of each device first, functions 1..=7 only when function 0's
/// Header Type says multi-function. Only configuration reads are made.
pub fn scan(cfg: &mut impl ConfigSpace) -> Vec<Function> {
    let mut out = Vec::new();
    for bus in 0..=255u8 {
        for device in 0..32u8 {
            let bdf = Bdf {
                bus,
                device,
                function: 0,
            };
            let Some(f0) = read_function(cfg, bdf) else {
                continue;
            };
            let multi = cfg.read8(bdf, HEADER_TYPE) & 0x80 != 0;
            out.push(f0);
            if multi {
                for function in 1..8 {
                    let bdf = Bdf {
                        bus,
                        device,
                        function,
                    };
                    out.extend(read_function(cfg, bdf));
                }
            }
        }
    }
    out
}

/// A fake configuration space for tests: functions as 256-byte arrays.
#[cfg(test)]
pub mod fake {
    use super::*;
    use alloc::collections::BTreeMap;

    /// Functions by address; absent ones read all ones.
    #[derive(Default)]
    pub struct FakeConfig {
        /// Configuration spaces.
        pub spaces: BTreeMap<Bdf, [u8; 256]>,
        /// Every write made: (bdf, offset, value).
        pub writes: Vec<(Bdf, u8, u16)>,
    }

    impl FakeConfig {
        /// Adds a type-0 function with the given ids, class and command; returns its space for more setup.
        pub fn add(
            &mut self,
            bdf: Bdf,
            vendor: u16,
            device: u16,
            class: [u8; 3],
            command: u16,
        ) -> &mut [u8; 256] {
            let s = self.spaces.entry(bdf).or_insert([0; 256]);
            s[0..2].copy_from_slice(&vendor.to_le_bytes());
            s[2..4].copy_from_slice(&device.to_le_bytes());
            s[4..6].copy_from_slice(&command.to_le_bytes());
            s[9] = class[2];
            s[10] = class[1];
            s[11] = class[0];
            s
        }
    }

    /// Writes `value` little-endian at `offset` of `space`.
    pub fn put32(space: &mut [u8; 256], offset: usize, value: u32) {
        space[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    impl ConfigSpace for FakeConfig {
        fn read32(&mut self, bdf: Bdf, offset: u8) -> u32 {
            let o = usize::from(offset & 0xfc);
            self.spaces.get(&bdf).map_or(u32::MAX, |s| {
                u32::from_le_bytes([s[o], s[o + 1], s[o + 2], s[o + 3]])
            })
        }
        fn write16(&mut self, bdf: Bdf, offset: u8, value: u16) {
            self.writes.push((bdf, offset, value));
            let o = usize::from(offset & 0xfe);
            if let Some(s) = self.spaces.get_mut(&bdf) {
                s[o..o + 2].copy_from_slice(&value.to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
        Bdf {
            bus,
            device,
            function,
        }
    }

    #[test]
    fn config_address_layout() {
        assert_eq!(config_address(bdf(0, 0, 0), 0), 0x8000_0000);
        assert_eq!(config_address(bdf(0x12, 0x1f, 7), 0x3f), 0x8012_ff3c);
        assert_eq!(bdf(1, 2, 3).to_string(), "01:02.3");
    }

    /// Port I/O fake: latches CONFIG_ADDRESS and answers CONFIG_DATA from a FakeConfig.
    struct Ports(FakeConfig, u32);
    impl PortIo for Ports {
        fn read8(&mut self, _: u16) -> u8 {
            unreachable!()
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, port: u16) -> u32 {
            assert_eq!(port, CONFIG_DATA);
            let a = self.1;
            let b = bdf((a >> 16) as u8, (a >> 11) as u8 & 0x1f, (a >> 8) as u8 & 7);
            self.0.read32(b, a as u8)
        }
        fn write8(&mut self, _: u16, _: u8) {
            unreachable!()
        }
        fn write16(&mut self, port: u16, value: u16) {
            let a = self.1;
            let b = bdf((a >> 16) as u8, (a >> 11) as u8 & 0x1f, (a >> 8) as u8 & 7);
            self.0
                .write16(b, a as u8 + (port - CONFIG_DATA) as u8, value);
        }
        fn write32(&mut self, port: u16, value: u32) {
            assert_eq!(port, CONFIG_ADDRESS);
            self.1 = value;
        }
    }

    #[test]
    fn port_mechanism_reads_words_and_bytes_and_writes_the_right_half() {
        let mut fake = FakeConfig::default();
        fake.add(bdf(0, 3, 0), 0x1af4, 0x1041, [2, 0, 0], 0x0507);
        let mut cfg = PortConfig(Ports(fake, 0));
        let b = bdf(0, 3, 0);
        assert_eq!(cfg.read16(b, DEVICE_ID), 0x1041);
        assert_eq!(cfg.read8(b, 0x0b), 2);
        cfg.write16(b, COMMAND, 0x0003);
        assert_eq!(cfg.0 .0.writes, vec![(b, COMMAND, 0x0003)]);
        assert_eq!(cfg.read16(b, COMMAND), 0x0003);
    }

    #[test]
    fn scan_finds_functions_on_any_bus_and_decodes_bars_and_capabilities() {
        let mut fake = FakeConfig::default();
        // Host bridge, single function, with a multi-function device whose fn 0 has no header bit: fn 1 unseen.
        fake.add(bdf(0, 0, 0), 0x8086, 0x29c0, [6, 0, 0], 0);
        fake.add(bdf(0, 0, 1), 0x8086, 0x1111, [6, 0, 0], 0);
        // Multi-function device 0x1f.
        fake.add(bdf(0, 0x1f, 0), 0x8086, 0x2918, [6, 1, 0], 0)[14] = 0x80;
        fake.add(bdf(0, 0x1f, 3), 0x8086, 0x2930, [0xc, 5, 0], 0);
        // A device on bus 5 (behind some bridge) with I/O, 32-bit and 64-bit BARs and two capabilities.
        let s = fake.add(bdf(5, 0, 0), 0x1af4, 0x1000, [2, 0, 0], 0x0007);
        put32(s, 0x10, 0xc041);
        put32(s, 0x14, 0xfebf_1000);
        put32(s, 0x18, 0xfe00_000c);
        put32(s, 0x1c, 0x0000_0080);
        put32(s, 0x2c, 0x0001_1af4);
        s[6] = 0x10;
        s[0x34] = 0x98;
        s[0x98] = 0x09;
        s[0x99] = 0x84;
        s[0x84] = 0x11;
        s[0x85] = 0x00;
        let mut cfg = fake;
        let found = scan(&mut cfg);
        let at: Vec<Bdf> = found.iter().map(|f| f.bdf).collect();
        assert_eq!(
            at,
            vec![bdf(0, 0, 0), bdf(0, 0x1f, 0), bdf(0, 0x1f, 3), bdf(5, 0, 0)]
        );
        let virtio = &found[3];
        assert_eq!(virtio.bars[0], Bar::Io { base: 0xc040 });
        assert_eq!(virtio.bars[0].io_base(), Some(0xc040));
        assert_eq!(
            virtio.bars[1],
            Bar::Memory {
                base: 0xfebf_1000,
                is_64: false
            }
        );
        assert_eq!(
            virtio.bars[2],
            Bar::Memory {
                base: 0x80_fe00_0000,
                is_64: true
            }
        );
        assert_eq!(virtio.bars[3], Bar::None);
        assert_eq!(virtio.subsystem, 1);
        assert_eq!(virtio.capabilities, vec![(0x09, 0x98), (0x11, 0x84)]);
        assert!(virtio.bus_master());
        assert_eq!(found[2].class, [0xc, 5, 0]);
        assert!(!found[0].bus_master());
        assert!(cfg.writes.is_empty(), "the scan must not write");
    }

    #[test]
    fn a_looped_capability_list_ends() {
        let mut fake = FakeConfig::default();
        let s = fake.add(bdf(0, 1, 0), 0x1234, 1, [0xff, 0, 0], 0);
        s[6] = 0x10;
        s[0x34] = 0x40;
        s[0x40] = 0x05;
        s[0x41] = 0x40;
        assert_eq!(capabilities(&mut fake, bdf(0, 1, 0)).len(), 48);
    }
}
