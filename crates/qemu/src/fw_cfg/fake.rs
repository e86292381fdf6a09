//! In-process fake of the QEMU fw_cfg device for host tests.
//!
//! Serves a map of items (signature, feature bitmap, generated file directory, files) through the selector/data
//! ports and implements the DMA engine: on a write to the low DMA address port it reads the access structure from
//! the given address, which in host tests is a host pointer produced by [`super::FwCfg`]'s `expose_provenance`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use hw::PortIo;

use super::directory::encode_directory;
use super::*;

struct FakeFile {
    name: String,
    key: u16,
    writable: bool,
}

/// A fake fw_cfg device.
pub struct FakeFwCfg {
    items: BTreeMap<u16, Vec<u8>>,
    files: Vec<FakeFile>,
    dma: bool,
    /// When set, every DMA transfer completes with the error bit.
    pub fail_dma: bool,
    /// When set, DMA transfers never complete (control is left untouched).
    pub hang_dma: bool,
    /// When set, the directory item is not regenerated from the files (a test installed a raw one).
    raw_directory: bool,
    selected: u16,
    offset: usize,
    dma_high: u32,
    /// Number of DMA transfers performed.
    pub dma_transfers: usize,
    /// Number of bytes read through the data port.
    pub port_reads: usize,
}

impl FakeFwCfg {
    /// A device with the signature, a feature bitmap (traditional, plus DMA if `dma`) and an empty directory.
    pub fn new(dma: bool) -> Self {
        let mut fake = FakeFwCfg {
            items: BTreeMap::new(),
            files: Vec::new(),
            dma,
            fail_dma: false,
            hang_dma: false,
            raw_directory: false,
            selected: 0,
            offset: 0,
            dma_high: 0,
            dma_transfers: 0,
            port_reads: 0,
        };
        fake.items.insert(KEY_SIGNATURE, b"QEMU".to_vec());
        let features = FEATURE_TRADITIONAL | if dma { FEATURE_DMA } else { 0 };
        fake.items.insert(KEY_ID, features.to_le_bytes().to_vec());
        fake.rebuild_directory();
        fake
    }

    /// Adds a read-only file; returns its selector key (allocated from 0x20 upwards).
    pub fn add_file(&mut self, name: &str, data: &[u8]) -> u16 {
        self.add(name, data, false)
    }

    /// Adds a file that DMA writes may modify; returns its selector key.
    pub fn add_writable_file(&mut self, name: &str, data: &[u8]) -> u16 {
        self.add(name, data, true)
    }

    fn add(&mut self, name: &str, data: &[u8], writable: bool) -> u16 {
        let key = 0x20 + self.files.len() as u16;
        self.files.push(FakeFile {
            name: String::from(name),
            key,
            writable,
        });
        self.items.insert(key, data.to_vec());
        self.rebuild_directory();
        key
    }

    /// Replaces an item's raw contents (e.g. a corrupt signature or directory).
    pub fn set_item(&mut self, key: u16, data: &[u8]) {
        if key == KEY_FILE_DIR {
            self.raw_directory = true;
        }
        self.items.insert(key, data.to_vec());
    }

    /// Current contents of file `name`.
    pub fn file_data(&self, name: &str) -> Option<&[u8]> {
        let file = self.files.iter().find(|f| f.name == name)?;
        self.items.get(&file.key).map(Vec::as_slice)
    }

    fn rebuild_directory(&mut self) {
        if self.raw_directory {
            return;
        }
        let entries: Vec<(&str, u32, u16)> = self
            .files
            .iter()
            .map(|f| (f.name.as_str(), self.items[&f.key].len() as u32, f.key))
            .collect();
        let dir = encode_directory(entries.into_iter());
        self.items.insert(KEY_FILE_DIR, dir);
    }

    fn select(&mut self, key: u16) {
        self.selected = key;
        self.offset = 0;
    }

    /// Executes the DMA access structure at host address `address`.
    fn run_dma(&mut self, address: u64) {
        if !self.dma || self.hang_dma {
            return;
        }
        self.dma_transfers += 1;
        let access = core::ptr::with_exposed_provenance_mut::<DmaAccess>(address as usize);
        // SAFETY: in these host tests the only writer of the DMA address ports is `FwCfg::dma_transfer`, which
        // passes the exposed address of its live, aligned, local `DmaAccess`.
        let (control, length, target) = unsafe {
            (
                u32::from_be((*access).control),
                u32::from_be((*access).length) as usize,
                u64::from_be((*access).address),
            )
        };
        let ok = !self.fail_dma && self.execute(control, length, target);
        let status: u32 = if ok { 0 } else { DMA_CTL_ERROR };
        // SAFETY: as above; the structure is still live while `FwCfg` polls it.
        unsafe { core::ptr::addr_of_mut!((*access).control).write_volatile(status.to_be()) };
    }

    fn execute(&mut self, control: u32, length: usize, target: u64) -> bool {
        if control & DMA_CTL_SELECT != 0 {
            self.select((control >> 16) as u16);
        }
        let key = self.selected;
        if control & DMA_CTL_READ != 0 {
            let data = self.items.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let dest = core::ptr::with_exposed_provenance_mut::<u8>(target as usize);
            for i in 0..length {
                let byte = data.get(self.offset + i).copied().unwrap_or(0);
                // SAFETY: `FwCfg::dma_read` passes the exposed address of a live buffer of at least `length` bytes.
                unsafe { dest.add(i).write_volatile(byte) };
            }
            self.offset += length;
            true
        } else if control & DMA_CTL_WRITE != 0 {
            let writable = self.files.iter().any(|f| f.key == key && f.writable);
            let offset = self.offset;
            let Some(item) = self.items.get_mut(&key) else {
                return false;
            };
            if !writable || offset + length > item.len() {
                return false;
            }
            let src = core::ptr::with_exposed_provenance::<u8>(target as usize);
            for (i, slot) in item[offset..offset + length].iter_mut().enumerate() {
                // SAFETY: `FwCfg::write_file` passes the exposed address of a live slice of `length` bytes.
                *slot = unsafe { src.add(i).read_volatile() };
            }
            self.offset += length;
            true
        } else {
            if control & DMA_CTL_SKIP != 0 {
                self.offset += length;
            }
            true
        }
    }
}

impl PortIo for FakeFwCfg {
    fn read8(&mut self, port: u16) -> u8 {
        if port != DATA_PORT {
            return 0xff;
        }
        self.port_reads += 1;
        let byte = self
            .items
            .get(&self.selected)
            .and_then(|d| d.get(self.offset))
            .copied()
            .unwrap_or(0);
        self.offset += 1;
        byte
    }
    fn read16(&mut self, _port: u16) -> u16 {
        0xffff
    }
    fn read32(&mut self, _port: u16) -> u32 {
        0xffff_ffff
    }
    fn write8(&mut self, _port: u16, _value: u8) {}
    fn write16(&mut self, port: u16, value: u16) {
        if port == SELECTOR_PORT {
            self.select(value);
        }
    }
    fn write32(&mut self, port: u16, value: u32) {
        match port {
            DMA_ADDRESS_HIGH_PORT => self.dma_high = u32::from_be(value),
            DMA_ADDRESS_LOW_PORT => {
                let address = (self.dma_high as u64) << 32 | u32::from_be(value) as u64;
                self.run_dma(address);
            }
            _ => {}
        }
    }
}
