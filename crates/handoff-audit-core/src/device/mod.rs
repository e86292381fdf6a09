//! The DMA-relevant state of the PCI functions the audit knows, read the way an OS driver would find it after
//! ExitBootServices: virtio over the modern and legacy PCI transports, NVMe, xHCI and the e1000 family.
//!
//! Each reader returns a state that says (a) whether the device can still do DMA on its own ([`State::running`]),
//! (b) what shows the firmware drove it even if it stopped it since ([`State::traces`]), and (c) where in memory
//! its rings and buffers are ([`State::rings`]), so that overwritten canary pages can be blamed on a device.
//!
//! Register access goes through [`Mmio`] (memory BARs, and RAM for ring contents) and [`hw::PortIo`] (legacy
//! virtio I/O BARs). When a BAR's decoding is off in the Command register, [`read_state`] enables it for the
//! reads and restores the register: decoding lets the CPU reach the registers and never lets the device master
//! the bus.

pub mod e1000;
pub mod nvme;
pub mod virtio;
pub mod xhci;

use alloc::string::String;
use alloc::vec::Vec;

use hw::PortIo;

use crate::json::Json;
use crate::memmap::Range;
use crate::pci::{self, ConfigSpace, Function};

/// Memory-mapped access to physical addresses (device registers and RAM).
pub trait Mmio {
    /// Reads the byte at `addr`.
    fn read8(&mut self, addr: u64) -> u8;
    /// Reads the naturally aligned word at `addr`.
    fn read16(&mut self, addr: u64) -> u16;
    /// Reads the naturally aligned dword at `addr`.
    fn read32(&mut self, addr: u64) -> u32;
    /// Writes the naturally aligned word at `addr` (only selector registers are ever written).
    fn write16(&mut self, addr: u64, value: u16);

    /// Reads a 64-bit register as two dwords, low first (as virtio 1.2 §4.1.3.1 and NVMe allow).
    fn read64(&mut self, addr: u64) -> u64 {
        u64::from(self.read32(addr)) | u64::from(self.read32(addr + 4)) << 32
    }
}

/// What the audit knows how to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// A virtio device (vendor 0x1AF4, device 0x1000..=0x107F); `device_type` per virtio 1.2 §5 (1 = net,
    /// 2 = block, 4 = entropy, 8 = SCSI host, ...).
    Virtio {
        /// The virtio device type.
        device_type: u16,
    },
    /// NVM Express controller (class 01/08/02).
    Nvme,
    /// xHCI USB controller (class 0C/03/30).
    Xhci,
    /// Intel 8254x/82574 gigabit Ethernet ("e1000", "e1000e").
    E1000,
    /// Anything else: only the Command register is judged.
    Other,
}

/// Intel device IDs of the e1000 family QEMU emulates: 82540EM, 82544GC, 82545EM, 82574L.
pub const E1000_DEVICE_IDS: [u16; 4] = [0x100E, 0x100C, 0x100F, 0x10D3];

/// Identifies the model of `f` from its IDs and class code.
pub fn model(f: &Function) -> Model {
    match (f.vendor, f.device, f.class) {
        (0x1AF4, 0x1040..=0x107F, _) => Model::Virtio {
            device_type: f.device - 0x1040,
        },
        (0x1AF4, 0x1000..=0x103F, _) => Model::Virtio {
            device_type: f.subsystem,
        },
        (_, _, [0x01, 0x08, 0x02]) => Model::Nvme,
        (_, _, [0x0C, 0x03, 0x30]) => Model::Xhci,
        (0x8086, id, _) if E1000_DEVICE_IDS.contains(&id) => Model::E1000,
        _ => Model::Other,
    }
}

/// A short name for a function: the virtio device type, the controller kind, or the class code.
pub fn kind_name(f: &Function) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = match model(f) {
        Model::Virtio { device_type } => match device_type {
            1 => write!(s, "virtio-net"),
            2 => write!(s, "virtio-blk"),
            3 => write!(s, "virtio-console"),
            4 => write!(s, "virtio-rng"),
            5 => write!(s, "virtio-balloon"),
            8 => write!(s, "virtio-scsi"),
            16 => write!(s, "virtio-gpu"),
            t => write!(s, "virtio-{t}"),
        },
        Model::Nvme => write!(s, "nvme"),
        Model::Xhci => write!(s, "xhci"),
        Model::E1000 => write!(s, "e1000"),
        Model::Other => write!(
            s,
            "class-{:02x}{:02x}{:02x}",
            f.class[0], f.class[1], f.class[2]
        ),
    };
    s
}

/// A range of memory a device reads or writes by DMA, named for the report ("queue 0 descriptors").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// What it is.
    pub what: String,
    /// Where it is.
    pub range: Range,
}

/// The state read from one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// A virtio device.
    Virtio(virtio::VirtioState),
    /// An NVMe controller.
    Nvme(nvme::NvmeState),
    /// An xHCI controller.
    Xhci(xhci::XhciState),
    /// An e1000 NIC.
    E1000(e1000::E1000State),
    /// The model is known but its registers cannot be reached (why).
    Unreadable(&'static str),
    /// No reader for this model.
    Unknown,
}

impl State {
    /// Why the device can still do DMA by itself (empty when it cannot).
    pub fn running(&self) -> Vec<String> {
        match self {
            State::Virtio(s) => s.running(),
            State::Nvme(s) => s.running(),
            State::Xhci(s) => s.running(),
            State::E1000(s) => s.running(),
            State::Unreadable(_) | State::Unknown => Vec::new(),
        }
    }

    /// What shows the firmware configured the device (empty when nothing does).
    pub fn traces(&self) -> Vec<String> {
        match self {
            State::Virtio(s) => s.traces(),
            State::Nvme(s) => s.traces(),
            State::Xhci(s) => s.traces(),
            State::E1000(s) => s.traces(),
            State::Unreadable(_) | State::Unknown => Vec::new(),
        }
    }

    /// Where the device's rings and buffers are.
    pub fn rings(&self) -> Vec<Ring> {
        match self {
            State::Virtio(s) => s.rings.clone(),
            State::Nvme(s) => s.rings(),
            State::Xhci(s) => s.rings.clone(),
            State::E1000(s) => s.rings.clone(),
            State::Unreadable(_) | State::Unknown => Vec::new(),
        }
    }

    /// Writes the state's registers as JSON members of the current object.
    pub fn write_json(&self, w: &mut Json) {
        match self {
            State::Virtio(s) => s.write_json(w),
            State::Nvme(s) => s.write_json(w),
            State::Xhci(s) => s.write_json(w),
            State::E1000(s) => s.write_json(w),
            State::Unreadable(why) => w.field_str("unreadable", why),
            State::Unknown => {}
        }
    }
}

/// Runs `read` with the decoding in `need` (pci::COMMAND_IO and/or pci::COMMAND_MEMORY) enabled, restoring the
/// Command register afterwards; returns whether decoding had to be enabled.
fn with_decode<C: ConfigSpace, T>(
    cfg: &mut C,
    f: &Function,
    need: u16,
    read: impl FnOnce() -> T,
) -> (T, bool) {
    let current = cfg.read16(f.bdf, pci::COMMAND);
    if current & need == need {
        return (read(), false);
    }
    cfg.write16(f.bdf, pci::COMMAND, current | need);
    let out = read();
    cfg.write16(f.bdf, pci::COMMAND, current);
    (out, true)
}

/// The state of `f` and whether decoding had to be enabled for a moment to read it.
pub fn read_state(
    f: &Function,
    cfg: &mut impl ConfigSpace,
    mmio: &mut impl Mmio,
    io: &mut impl PortIo,
) -> (State, bool) {
    match model(f) {
        Model::Virtio { .. } => {
            let modern = virtio::common_config(cfg, f);
            let legacy = f.bars[0].io_base();
            if modern.is_none() && legacy.is_none() {
                return (
                    State::Unreadable("no common configuration and no I/O BAR"),
                    false,
                );
            }
            let need = if modern.is_some() {
                pci::COMMAND_MEMORY
            } else {
                0
            } | if legacy.is_some() { pci::COMMAND_IO } else { 0 };
            let (state, forced) =
                with_decode(cfg, f, need, || virtio::read(modern, legacy, mmio, io));
            (State::Virtio(state), forced)
        }
        Model::Nvme => match f.bars[0].memory_base() {
            Some(base) => {
                let (s, forced) =
                    with_decode(cfg, f, pci::COMMAND_MEMORY, || nvme::read(base, mmio));
                (State::Nvme(s), forced)
            }
            None => (State::Unreadable("BAR0 not assigned"), false),
        },
        Model::Xhci => match f.bars[0].memory_base() {
            Some(base) => {
                let (s, forced) =
                    with_decode(cfg, f, pci::COMMAND_MEMORY, || xhci::read(base, mmio));
                (State::Xhci(s), forced)
            }
            None => (State::Unreadable("BAR0 not assigned"), false),
        },
        Model::E1000 => match f.bars[0].memory_base() {
            Some(base) => {
                let (s, forced) =
                    with_decode(cfg, f, pci::COMMAND_MEMORY, || e1000::read(base, mmio));
                (State::E1000(s), forced)
            }
            None => (State::Unreadable("BAR0 not assigned"), false),
        },
        Model::Other => (State::Unknown, false),
    }
}

/// A fake physical address space for tests: sparse bytes (absent ones read 0) plus a log of writes.
#[cfg(test)]
pub mod fake {
    use super::Mmio;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    /// Sparse memory.
    #[derive(Default)]
    pub struct FakeMemory {
        /// Bytes by address.
        pub bytes: BTreeMap<u64, u8>,
        /// Every 16-bit write: (address, value).
        pub writes: Vec<(u64, u16)>,
    }

    impl FakeMemory {
        /// Stores `value` little-endian at `addr`.
        pub fn put(&mut self, addr: u64, value: u64, len: usize) {
            for i in 0..len {
                self.bytes.insert(addr + i as u64, (value >> (8 * i)) as u8);
            }
        }
        fn get(&self, addr: u64, len: usize) -> u64 {
            (0..len).fold(0, |acc, i| {
                acc | u64::from(*self.bytes.get(&(addr + i as u64)).unwrap_or(&0)) << (8 * i)
            })
        }
    }

    impl Mmio for FakeMemory {
        fn read8(&mut self, addr: u64) -> u8 {
            self.get(addr, 1) as u8
        }
        fn read16(&mut self, addr: u64) -> u16 {
            self.get(addr, 2) as u16
        }
        fn read32(&mut self, addr: u64) -> u32 {
            self.get(addr, 4) as u32
        }
        fn write16(&mut self, addr: u64, value: u16) {
            self.writes.push((addr, value));
            self.put(addr, u64::from(value), 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeMemory;
    use super::*;
    use crate::pci::fake::{put32, FakeConfig};
    use crate::pci::Bdf;

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

    fn function(cfg: &mut FakeConfig, vendor: u16, device: u16, class: [u8; 3]) -> Function {
        let bdf = Bdf {
            bus: 0,
            device: 4,
            function: 0,
        };
        let s = cfg.add(bdf, vendor, device, class, 0);
        put32(s, 0x10, 0xfe00_0004);
        put32(s, 0x14, 0);
        pci::read_function(cfg, bdf).unwrap()
    }

    #[test]
    fn models_from_ids_and_class() {
        let mut cfg = FakeConfig::default();
        let mut f = function(&mut cfg, 0x1af4, 0x1041, [2, 0, 0]);
        assert_eq!(model(&f), Model::Virtio { device_type: 1 });
        assert_eq!(kind_name(&f), "virtio-net");
        f.device = 0x1004;
        f.subsystem = 8;
        assert_eq!(kind_name(&f), "virtio-scsi");
        f.vendor = 0x1b36;
        f.device = 0x0010;
        f.class = [1, 8, 2];
        assert_eq!(model(&f), Model::Nvme);
        f.class = [0xc, 3, 0x30];
        assert_eq!(model(&f), Model::Xhci);
        f.vendor = 0x8086;
        f.device = 0x100e;
        f.class = [2, 0, 0];
        assert_eq!(model(&f), Model::E1000);
        f.device = 0x2922;
        f.class = [1, 6, 1];
        assert_eq!(kind_name(&f), "class-010601");
    }

    #[test]
    fn decoding_is_enabled_only_for_the_reads_and_restored() {
        let mut cfg = FakeConfig::default();
        let f = function(&mut cfg, 0x8086, 0x100e, [2, 0, 0]);
        let mut mem = FakeMemory::default();
        mem.put(0xfe00_0100, 0x2, 4); // RCTL.EN
        let (state, forced) = read_state(&f, &mut cfg, &mut mem, &mut NoPorts);
        assert!(forced);
        assert!(matches!(state, State::E1000(ref s) if s.rctl == 2));
        assert_eq!(
            cfg.writes,
            [
                (f.bdf, pci::COMMAND, pci::COMMAND_MEMORY),
                (f.bdf, pci::COMMAND, 0)
            ]
        );
    }

    #[test]
    fn unassigned_bar_is_unreadable() {
        let mut cfg = FakeConfig::default();
        let mut f = function(&mut cfg, 0x1b36, 0x10, [1, 8, 2]);
        f.bars[0] = pci::Bar::None;
        let (state, forced) = read_state(&f, &mut cfg, &mut FakeMemory::default(), &mut NoPorts);
        assert_eq!(state, State::Unreadable("BAR0 not assigned"));
        assert!(!forced && state.running().is_empty() && state.rings().is_empty());
    }
}
