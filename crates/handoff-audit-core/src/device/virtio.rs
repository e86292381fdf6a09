//! Virtio over PCI (virtio 1.2 §4.1): the device status and the queues a firmware left configured, read through
//! the modern transport (the common configuration structure found by walking the vendor-specific capabilities,
//! §4.1.4.3) and, for transitional devices, the legacy I/O BAR as well (§4.1.4.8).
//!
//! The only writes are to the queue selectors (`queue_select`), which are restored afterwards; ISR status is never
//! read because reading it clears it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hw::PortIo;

use super::{Mmio, Ring};
use crate::json::Json;
use crate::memmap::Range;
use crate::pci::{ConfigSpace, Function, CAP_VENDOR};

/// `cfg_type` of the common configuration capability (VIRTIO_PCI_CAP_COMMON_CFG).
pub const CAP_COMMON_CFG: u8 = 1;
/// Device status bit DRIVER_OK (virtio 1.2 §2.1).
pub const STATUS_DRIVER_OK: u8 = 4;
/// At most this many queues are read per transport.
pub const MAX_QUEUES: u16 = 64;
/// At most this many descriptors per queue are read for buffer addresses.
pub const MAX_BUFFERS: u16 = 64;

/// Common configuration offsets (§4.1.4.3).
mod common {
    pub const NUM_QUEUES: u64 = 0x12;
    pub const DEVICE_STATUS: u64 = 0x14;
    pub const QUEUE_SELECT: u64 = 0x16;
    pub const QUEUE_SIZE: u64 = 0x18;
    pub const QUEUE_ENABLE: u64 = 0x1C;
    pub const QUEUE_DESC: u64 = 0x20;
    pub const QUEUE_DRIVER: u64 = 0x28;
    pub const QUEUE_DEVICE: u64 = 0x30;
}

/// Legacy I/O registers (§4.1.4.8).
mod legacy {
    pub const QUEUE_PFN: u16 = 0x08;
    pub const QUEUE_SIZE: u16 = 0x0C;
    pub const QUEUE_SELECT: u16 = 0x0E;
    pub const DEVICE_STATUS: u16 = 0x12;
    /// The legacy ring alignment.
    pub const ALIGN: u64 = 4096;
}

/// One queue as the transport shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queue {
    /// Queue index.
    pub index: u16,
    /// `queue_size` (legacy: the device's fixed size).
    pub size: u16,
    /// Modern `queue_enable` = 1, or legacy queue PFN ≠ 0.
    pub enabled: bool,
    /// Descriptor table address.
    pub desc: u64,
    /// Driver (available) ring address.
    pub driver: u64,
    /// Device (used) ring address.
    pub device: u64,
}

/// What one transport shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// `device_status`.
    pub device_status: u8,
    /// Modern `num_queues`; for legacy the number of queues with a non-zero size.
    pub num_queues: u16,
    /// Queues that are enabled or have an address set.
    pub queues: Vec<Queue>,
}

/// The state of a virtio device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtioState {
    /// Through the modern common configuration, when the device has one.
    pub modern: Option<View>,
    /// Through the legacy I/O BAR, when the device has one (transitional devices).
    pub legacy: Option<View>,
    /// Rings and buffers of the enabled queues.
    pub rings: Vec<Ring>,
}

/// The physical address of the common configuration structure: the vendor capability with `cfg_type` 1, its
/// `bar` and `offset` (§4.1.4). `None` without one or when its BAR is not an assigned memory BAR.
pub fn common_config(cfg: &mut impl ConfigSpace, f: &Function) -> Option<u64> {
    f.capabilities
        .iter()
        .filter(|&&(id, _)| id == CAP_VENDOR)
        .find_map(|&(_, at)| {
            if cfg.read8(f.bdf, at + 3) != CAP_COMMON_CFG {
                return None;
            }
            let bar = usize::from(cfg.read8(f.bdf, at + 4));
            let offset = cfg.read32(f.bdf, at + 8);
            Some(f.bars.get(bar)?.memory_base()? + u64::from(offset))
        })
}

fn read_modern(base: u64, mmio: &mut impl Mmio) -> View {
    let device_status = mmio.read8(base + common::DEVICE_STATUS);
    let num_queues = mmio.read16(base + common::NUM_QUEUES);
    let saved = mmio.read16(base + common::QUEUE_SELECT);
    let mut queues = Vec::new();
    for index in 0..num_queues.min(MAX_QUEUES) {
        mmio.write16(base + common::QUEUE_SELECT, index);
        let q = Queue {
            index,
            size: mmio.read16(base + common::QUEUE_SIZE),
            enabled: mmio.read16(base + common::QUEUE_ENABLE) != 0,
            desc: mmio.read64(base + common::QUEUE_DESC),
            driver: mmio.read64(base + common::QUEUE_DRIVER),
            device: mmio.read64(base + common::QUEUE_DEVICE),
        };
        if q.enabled || q.desc != 0 {
            queues.push(q);
        }
    }
    mmio.write16(base + common::QUEUE_SELECT, saved);
    View {
        device_status,
        num_queues,
        queues,
    }
}

/// Where the legacy layout puts the rings of a queue of `size` entries whose descriptor table is at `desc`
/// (§2.7.2 legacy layout: available ring right after the table, used ring at the next 4 KiB boundary).
pub fn legacy_layout(desc: u64, size: u16) -> (u64, u64) {
    let n = u64::from(size);
    let driver = desc + 16 * n;
    let device = (driver + 6 + 2 * n).next_multiple_of(legacy::ALIGN);
    (driver, device)
}

fn read_legacy(port: u16, io: &mut impl PortIo) -> View {
    let device_status = io.read8(port + legacy::DEVICE_STATUS);
    let saved = io.read16(port + legacy::QUEUE_SELECT);
    let mut queues = Vec::new();
    let mut num_queues = 0;
    for index in 0..MAX_QUEUES {
        io.write16(port + legacy::QUEUE_SELECT, index);
        let size = io.read16(port + legacy::QUEUE_SIZE);
        if size == 0 {
            break;
        }
        num_queues += 1;
        let pfn = io.read32(port + legacy::QUEUE_PFN);
        if pfn != 0 {
            let desc = u64::from(pfn) << 12;
            let (driver, device) = legacy_layout(desc, size);
            queues.push(Queue {
                index,
                size,
                enabled: true,
                desc,
                driver,
                device,
            });
        }
    }
    io.write16(port + legacy::QUEUE_SELECT, saved);
    View {
        device_status,
        num_queues,
        queues,
    }
}

fn queue_rings(q: &Queue, transport: &str, mmio: &mut impl Mmio, out: &mut Vec<Ring>) {
    let n = u64::from(q.size.max(1));
    let ring = |what: &str, start: u64, len: u64| Ring {
        what: format!("{transport} queue {} {what}", q.index),
        range: Range::at(start, len),
    };
    if q.desc != 0 {
        out.push(ring("descriptors", q.desc, 16 * n));
    }
    if q.driver != 0 {
        out.push(ring("driver area", q.driver, 6 + 2 * n));
    }
    if q.device != 0 {
        out.push(ring("device area", q.device, 6 + 8 * n));
    }
    if q.enabled && q.desc != 0 {
        for i in 0..q.size.min(MAX_BUFFERS) {
            let at = q.desc + 16 * u64::from(i);
            let addr = mmio.read64(at);
            let len = mmio.read32(at + 8);
            if addr != 0 && len != 0 {
                out.push(ring("buffer", addr, u64::from(len).min(1 << 16)));
            }
        }
    }
}

/// Reads the modern view at common configuration `modern` and the legacy view at I/O port `legacy`, then the
/// buffer addresses of the enabled queues' descriptor tables (from RAM, through `mmio`).
pub fn read(
    modern: Option<u64>,
    legacy: Option<u16>,
    mmio: &mut impl Mmio,
    io: &mut impl PortIo,
) -> VirtioState {
    let modern = modern.map(|base| read_modern(base, mmio));
    let legacy = legacy.map(|port| read_legacy(port, io));
    let mut rings = Vec::new();
    for (name, view) in [("modern", &modern), ("legacy", &legacy)] {
        for q in view.iter().flat_map(|v| &v.queues) {
            queue_rings(q, name, mmio, &mut rings);
        }
    }
    VirtioState {
        modern,
        legacy,
        rings,
    }
}

impl VirtioState {
    fn views(&self) -> impl Iterator<Item = (&'static str, &View)> {
        [("modern", &self.modern), ("legacy", &self.legacy)]
            .into_iter()
            .filter_map(|(name, v)| Some((name, v.as_ref()?)))
    }

    /// DRIVER_OK still set, or queues still enabled.
    pub fn running(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, v) in self.views() {
            if v.device_status & STATUS_DRIVER_OK != 0 {
                out.push(format!(
                    "{name} device_status {:#x} has DRIVER_OK",
                    v.device_status
                ));
            }
            let enabled: Vec<String> = v
                .queues
                .iter()
                .filter(|q| q.enabled)
                .map(|q| format!("{}", q.index))
                .collect();
            if !enabled.is_empty() {
                out.push(format!("{name} queues enabled: {}", enabled.join(",")));
            }
        }
        out
    }

    /// A non-zero device status or queue addresses.
    pub fn traces(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, v) in self.views() {
            if v.device_status != 0 {
                out.push(format!("{name} device_status {:#x}", v.device_status));
            }
            if v.queues.iter().any(|q| q.desc != 0) {
                out.push(format!("{name} queue addresses set"));
            }
        }
        out
    }

    /// JSON members: `modern` and `legacy` views.
    pub fn write_json(&self, w: &mut Json) {
        for (name, v) in self.views() {
            w.object_field(name);
            w.field_hex("device_status", u64::from(v.device_status));
            w.field_u64("num_queues", u64::from(v.num_queues));
            w.array_field("queues");
            for q in &v.queues {
                w.begin_object();
                w.field_u64("index", u64::from(q.index));
                w.field_u64("size", u64::from(q.size));
                w.field_bool("enabled", q.enabled);
                w.field_hex("desc", q.desc);
                w.field_hex("driver", q.driver);
                w.field_hex("device", q.device);
                w.end_object();
            }
            w.end_array();
            w.end_object();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeMemory;
    use super::*;
    use crate::pci::fake::{put32, FakeConfig};
    use crate::pci::{self, Bdf};
    use alloc::string::ToString;
    use alloc::vec;

    const COMMON: u64 = 0xfe00_4000;

    /// Modern common config whose queue fields follow `queue_select`, backed by per-queue values.
    struct ModernDevice {
        mem: FakeMemory,
        status: u8,
        queues: Vec<(u16, u16, u64)>, // (size, enable, desc)
        select: u16,
        selects: Vec<u16>,
    }

    impl Mmio for ModernDevice {
        fn read8(&mut self, addr: u64) -> u8 {
            match addr - COMMON {
                common::DEVICE_STATUS => self.status,
                _ => self.mem.read8(addr),
            }
        }
        fn read16(&mut self, addr: u64) -> u16 {
            let q = self.queues.get(usize::from(self.select)).copied();
            match addr.wrapping_sub(COMMON) {
                common::NUM_QUEUES => self.queues.len() as u16,
                common::QUEUE_SELECT => self.select,
                common::QUEUE_SIZE => q.map_or(0, |q| q.0),
                common::QUEUE_ENABLE => q.map_or(0, |q| q.1),
                _ => self.mem.read16(addr),
            }
        }
        fn read32(&mut self, addr: u64) -> u32 {
            let q = self.queues.get(usize::from(self.select)).copied();
            match addr.wrapping_sub(COMMON) {
                common::QUEUE_DESC => q.map_or(0, |q| q.2 as u32),
                0x24 => q.map_or(0, |q| (q.2 >> 32) as u32),
                common::QUEUE_DRIVER => q.map_or(0, |q| (q.2 as u32).wrapping_add(0x1000)),
                common::QUEUE_DEVICE => q.map_or(0, |q| (q.2 as u32).wrapping_add(0x2000)),
                0x2c | 0x34 => 0,
                _ => self.mem.read32(addr),
            }
        }
        fn write16(&mut self, addr: u64, value: u16) {
            assert_eq!(
                addr,
                COMMON + common::QUEUE_SELECT,
                "only queue_select is written"
            );
            self.select = value;
            self.selects.push(value);
        }
    }

    fn function_with_common_cfg(cfg: &mut FakeConfig) -> Function {
        let bdf = Bdf {
            bus: 0,
            device: 3,
            function: 0,
        };
        let s = cfg.add(bdf, 0x1af4, 0x1041, [2, 0, 0], 0x6);
        put32(s, 0x20, 0xfe00_000c); // BAR4, 64-bit
        put32(s, 0x24, 0);
        s[6] = 0x10;
        s[0x34] = 0x40;
        // A notify capability first, then the common one at 0x50.
        s[0x40] = 0x09;
        s[0x41] = 0x50;
        s[0x43] = 2;
        s[0x50] = 0x09;
        s[0x51] = 0x00;
        s[0x53] = 1;
        s[0x54] = 4;
        put32(s, 0x58, 0x4000);
        pci::read_function(cfg, bdf).unwrap()
    }

    #[test]
    fn finds_the_common_config_through_the_vendor_capabilities() {
        let mut cfg = FakeConfig::default();
        let f = function_with_common_cfg(&mut cfg);
        assert_eq!(common_config(&mut cfg, &f), Some(COMMON));
        let mut no_bar = f.clone();
        no_bar.bars[4] = pci::Bar::None;
        assert_eq!(common_config(&mut cfg, &no_bar), None);
    }

    #[test]
    fn modern_reset_device_is_quiet() {
        let mut dev = ModernDevice {
            mem: FakeMemory::default(),
            status: 0,
            queues: vec![(256, 0, 0), (256, 0, 0)],
            select: 1,
            selects: vec![],
        };
        let s = read(Some(COMMON), None, &mut dev, &mut NoPorts);
        assert!(s.running().is_empty());
        assert!(s.traces().is_empty());
        assert!(s.rings.is_empty());
        assert_eq!(s.modern.as_ref().unwrap().num_queues, 2);
        assert_eq!(
            dev.selects,
            [0, 1, 1],
            "each queue selected, then the old selector restored"
        );
    }

    #[test]
    fn modern_live_queue_reports_rings_and_buffers() {
        let mut dev = ModernDevice {
            mem: FakeMemory::default(),
            status: 0x0f,
            queues: vec![(4, 1, 0x10_0000), (4, 0, 0)],
            select: 0,
            selects: vec![],
        };
        // Descriptor 0 -> buffer at 0x20_0000, 1526 bytes; descriptor 1 empty.
        dev.mem.put(0x10_0000, 0x20_0000, 8);
        dev.mem.put(0x10_0008, 1526, 4);
        let s = read(Some(COMMON), None, &mut dev, &mut NoPorts);
        assert_eq!(
            s.running(),
            vec![
                "modern device_status 0xf has DRIVER_OK".to_string(),
                "modern queues enabled: 0".to_string()
            ]
        );
        assert_eq!(
            s.traces(),
            vec![
                "modern device_status 0xf".to_string(),
                "modern queue addresses set".to_string()
            ]
        );
        let rings: Vec<(&str, Range)> =
            s.rings.iter().map(|r| (r.what.as_str(), r.range)).collect();
        assert_eq!(
            rings,
            vec![
                ("modern queue 0 descriptors", Range::at(0x10_0000, 64)),
                ("modern queue 0 driver area", Range::at(0x10_1000, 14)),
                ("modern queue 0 device area", Range::at(0x10_2000, 38)),
                ("modern queue 0 buffer", Range::at(0x20_0000, 1526)),
            ]
        );
    }

    struct NoPorts;
    impl PortIo for NoPorts {
        fn read8(&mut self, _: u16) -> u8 {
            unreachable!()
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write8(&mut self, _: u16, _: u8) {
            unreachable!()
        }
        fn write16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn write32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    /// A legacy device at port 0xc000 with queue sizes and PFNs.
    struct LegacyPorts {
        status: u8,
        queues: Vec<(u16, u32)>,
        select: u16,
        reads_of_isr: u32,
    }

    impl PortIo for LegacyPorts {
        fn read8(&mut self, port: u16) -> u8 {
            match port - 0xc000 {
                legacy::DEVICE_STATUS => self.status,
                0x13 => {
                    self.reads_of_isr += 1;
                    0
                }
                _ => 0,
            }
        }
        fn read16(&mut self, port: u16) -> u16 {
            match port - 0xc000 {
                legacy::QUEUE_SELECT => self.select,
                legacy::QUEUE_SIZE => self.queues.get(usize::from(self.select)).map_or(0, |q| q.0),
                _ => 0,
            }
        }
        fn read32(&mut self, port: u16) -> u32 {
            match port - 0xc000 {
                legacy::QUEUE_PFN => self.queues.get(usize::from(self.select)).map_or(0, |q| q.1),
                _ => 0,
            }
        }
        fn write8(&mut self, _: u16, _: u8) {
            panic!("no byte writes");
        }
        fn write16(&mut self, port: u16, value: u16) {
            assert_eq!(port, 0xc000 + legacy::QUEUE_SELECT);
            self.select = value;
        }
        fn write32(&mut self, _: u16, _: u32) {
            panic!("no dword writes");
        }
    }

    #[test]
    fn legacy_queues_by_pfn_and_the_legacy_layout() {
        let mut ports = LegacyPorts {
            status: 3,
            queues: vec![(256, 0x1234), (256, 0), (64, 0)],
            select: 2,
            reads_of_isr: 0,
        };
        let mut mem = FakeMemory::default();
        let s = read(None, Some(0xc000), &mut mem, &mut ports);
        let v = s.legacy.as_ref().unwrap();
        assert_eq!(v.num_queues, 3);
        assert_eq!(v.queues.len(), 1);
        assert_eq!(v.queues[0].desc, 0x123_4000);
        assert_eq!(
            legacy_layout(0x123_4000, 256),
            (0x123_5000, 0x123_6000),
            "avail after 4 KiB of descriptors, used at the next page"
        );
        assert_eq!(s.running(), vec!["legacy queues enabled: 0".to_string()]);
        assert_eq!(ports.select, 2, "selector restored");
        assert_eq!(ports.reads_of_isr, 0, "ISR is read-to-clear: never read");
    }
}
