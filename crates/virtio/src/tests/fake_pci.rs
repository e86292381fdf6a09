//! A fake virtio PCI function for the transport tests: a 256-byte configuration space with a capability list the
//! test builds, six BARs of plain memory, and register semantics for the few registers that are not plain memory
//! (feature selects and per-queue registers of the modern common configuration; queue select/size/address of the
//! legacy header). Every BAR write is logged in order.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::pci::modern as m;
use crate::pci::{legacy as l, PciAccess};

/// Which register model the fake applies to its BARs.
pub enum Model {
    /// Modern: common configuration structure at (`bar`, `offset`).
    Modern { bar: u8, offset: u64 },
    /// Legacy header in BAR 0.
    Legacy,
}

pub struct FakePci {
    pub config: [u8; 256],
    pub bars: [Vec<u8>; 6],
    /// Every BAR write: (bar, offset, width, value).
    pub writes: Vec<(u8, u64, u8, u64)>,
    pub model: Model,
    pub device_features: u64,
    pub driver_features: u64,
    /// Per queue: maximum size and `queue_notify_off`.
    pub queues: Vec<(u16, u16)>,
    /// Per-queue register values written by the driver: (queue, register offset) -> value.
    pub queue_regs: BTreeMap<(u16, u64), u64>,
    last_cap: Option<u8>,
    next_free: u8,
}

impl FakePci {
    pub fn new(model: Model, bar_sizes: [usize; 6]) -> Self {
        Self {
            config: [0; 256],
            bars: bar_sizes.map(|size| vec![0; size]),
            writes: Vec::new(),
            model,
            device_features: 0,
            driver_features: 0,
            queues: Vec::new(),
            queue_regs: BTreeMap::new(),
            last_cap: None,
            next_free: 0x40,
        }
    }

    /// Appends a capability with `body` (bytes from offset 2) to the list; returns its pointer.
    pub fn add_capability(&mut self, id: u8, body: &[u8]) -> u8 {
        let pointer = self.next_free;
        let at = usize::from(pointer);
        self.config[at] = id;
        self.config[at + 1] = 0;
        self.config[at + 2..at + 2 + body.len()].copy_from_slice(body);
        match self.last_cap {
            None => {
                self.config[0x06] |= 1 << 4;
                self.config[0x34] = pointer;
            }
            Some(previous) => self.config[usize::from(previous) + 1] = pointer,
        }
        self.last_cap = Some(pointer);
        self.next_free = pointer + ((2 + body.len() as u8).next_multiple_of(4));
        pointer
    }

    /// Appends a `virtio_pci_cap` (with `notify_off_multiplier` when given).
    pub fn add_virtio_cap(
        &mut self,
        cfg_type: u8,
        bar: u8,
        offset: u32,
        length: u32,
        multiplier: Option<u32>,
    ) -> u8 {
        let cap_len: u8 = if multiplier.is_some() { 20 } else { 16 };
        let mut body = vec![cap_len, cfg_type, bar, 0, 0, 0];
        body.extend_from_slice(&offset.to_le_bytes());
        body.extend_from_slice(&length.to_le_bytes());
        if let Some(multiplier) = multiplier {
            body.extend_from_slice(&multiplier.to_le_bytes());
        }
        self.add_capability(0x09, &body)
    }

    fn plain_read(&self, bar: u8, offset: u64, width: usize) -> u64 {
        let start = offset as usize;
        let mut bytes = [0u8; 8];
        bytes[..width].copy_from_slice(&self.bars[usize::from(bar)][start..start + width]);
        u64::from_le_bytes(bytes)
    }

    fn plain_write(&mut self, bar: u8, offset: u64, width: usize, value: u64) {
        let start = offset as usize;
        self.bars[usize::from(bar)][start..start + width]
            .copy_from_slice(&value.to_le_bytes()[..width]);
    }

    /// Register offset within the modeled structure, if (bar, offset) falls into it.
    fn register(&self, bar: u8, offset: u64) -> Option<u64> {
        match self.model {
            Model::Modern {
                bar: b,
                offset: base,
            } if b == bar && offset >= base && offset < base + 0x38 => Some(offset - base),
            Model::Legacy if bar == 0 && offset < 0x14 => Some(offset),
            _ => None,
        }
    }

    fn selected_queue(&self, bar: u8, offset: u64) -> u16 {
        let select = match self.model {
            Model::Modern { .. } => m::QUEUE_SELECT,
            Model::Legacy => l::QUEUE_SELECT,
        };
        self.plain_read(
            bar,
            offset - self.register(bar, offset).unwrap_or(0) + select,
            2,
        ) as u16
    }

    fn read(&mut self, bar: u8, offset: u64, width: usize) -> u64 {
        let Some(register) = self.register(bar, offset) else {
            return self.plain_read(bar, offset, width);
        };
        let queue = self.selected_queue(bar, offset);
        let (max, notify_off) = self
            .queues
            .get(usize::from(queue))
            .copied()
            .unwrap_or((0, 0));
        let stored = |reg: u64| self.queue_regs.get(&(queue, reg)).copied();
        match (&self.model, register) {
            (Model::Modern { .. }, m::DEVICE_FEATURE) => {
                let select = self.plain_read(bar, offset - register + m::DEVICE_FEATURE_SELECT, 4);
                match select {
                    0 => self.device_features & 0xffff_ffff,
                    1 => self.device_features >> 32,
                    _ => 0,
                }
            }
            (Model::Modern { .. }, m::QUEUE_SIZE) => {
                stored(m::QUEUE_SIZE).unwrap_or(u64::from(max))
            }
            (Model::Modern { .. }, m::QUEUE_NOTIFY_OFF) => u64::from(notify_off),
            (Model::Modern { .. }, m::QUEUE_ENABLE) => stored(m::QUEUE_ENABLE).unwrap_or(0),
            (Model::Legacy, l::DEVICE_FEATURES) => self.device_features & 0xffff_ffff,
            (Model::Legacy, l::QUEUE_SIZE) => u64::from(max),
            (Model::Legacy, l::QUEUE_ADDRESS) => stored(l::QUEUE_ADDRESS).unwrap_or(0),
            _ => self.plain_read(bar, offset, width),
        }
    }

    fn write(&mut self, bar: u8, offset: u64, width: usize, value: u64) {
        self.writes.push((bar, offset, width as u8, value));
        let Some(register) = self.register(bar, offset) else {
            return self.plain_write(bar, offset, width, value);
        };
        let queue = self.selected_queue(bar, offset);
        match (&self.model, register) {
            (Model::Modern { .. }, m::DRIVER_FEATURE) => {
                let select = self.plain_read(bar, offset - register + m::DRIVER_FEATURE_SELECT, 4);
                let shift = 32 * select.min(1);
                self.driver_features =
                    (self.driver_features & !(0xffff_ffff << shift)) | (value << shift);
            }
            (Model::Modern { .. }, m::QUEUE_SIZE..=0x37) | (Model::Legacy, l::QUEUE_ADDRESS) => {
                self.queue_regs.insert((queue, register), value);
            }
            (Model::Legacy, l::GUEST_FEATURES) => self.driver_features = value,
            _ => self.plain_write(bar, offset, width, value),
        }
    }
}

impl PciAccess for FakePci {
    fn config_read8(&mut self, offset: u16) -> u8 {
        self.config[usize::from(offset)]
    }
    fn config_read16(&mut self, offset: u16) -> u16 {
        let at = usize::from(offset);
        u16::from_le_bytes([self.config[at], self.config[at + 1]])
    }
    fn config_read32(&mut self, offset: u16) -> u32 {
        let at = usize::from(offset);
        u32::from_le_bytes(self.config[at..at + 4].try_into().unwrap())
    }
    fn bar_read8(&mut self, bar: u8, offset: u64) -> u8 {
        self.read(bar, offset, 1) as u8
    }
    fn bar_read16(&mut self, bar: u8, offset: u64) -> u16 {
        self.read(bar, offset, 2) as u16
    }
    fn bar_read32(&mut self, bar: u8, offset: u64) -> u32 {
        self.read(bar, offset, 4) as u32
    }
    fn bar_write8(&mut self, bar: u8, offset: u64, value: u8) {
        self.write(bar, offset, 1, u64::from(value));
    }
    fn bar_write16(&mut self, bar: u8, offset: u64, value: u16) {
        self.write(bar, offset, 2, u64::from(value));
    }
    fn bar_write32(&mut self, bar: u8, offset: u64, value: u32) {
        self.write(bar, offset, 4, u64::from(value));
    }
}
