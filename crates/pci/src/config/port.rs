//! Configuration mechanism #1 (PCI LB 3.0 §3.2.2.3.2): the CONFIG_ADDRESS (0xCF8) / CONFIG_DATA (0xCFC) port pair.
//!
//! CONFIG_ADDRESS layout: bit 31 enable, bits 23:16 bus, 15:11 device, 10:8 function, 7:2 register (dword), 1:0 zero.
//! The data port is accessed at `0xCFC + (offset & 3)` with the width of the access, so narrow accesses are real
//! narrow accesses (no read-modify-write). Only offsets 0–255 are reachable; larger offsets act like a master
//! abort (reads all ones, writes dropped), as do invalid [`Bdf`]s.
//!
//! The address/data pair is not atomic: callers must not interleave accesses from several CPUs or interrupt
//! handlers (the firmware is single-threaded during bring-up).

use super::{Bdf, ConfigSpace};
use hw::PortIo;

/// I/O port of CONFIG_ADDRESS.
pub const CONFIG_ADDRESS: u16 = 0xCF8;
/// I/O port of CONFIG_DATA (bytes at 0xCFC–0xCFF).
pub const CONFIG_DATA: u16 = 0xCFC;

/// Configuration access through I/O ports 0xCF8/0xCFC (mechanism #1), over any [`PortIo`].
#[derive(Debug)]
pub struct PortConfigAccess<P: PortIo> {
    io: P,
}

impl<P: PortIo> PortConfigAccess<P> {
    /// Wraps a port-I/O implementation.
    pub const fn new(io: P) -> Self {
        Self { io }
    }

    /// Returns the wrapped port-I/O implementation.
    pub fn into_inner(self) -> P {
        self.io
    }

    /// The CONFIG_ADDRESS value for `bdf` and `offset`, or `None` if unreachable (offset ≥ 256 or invalid `bdf`).
    pub fn address(bdf: Bdf, offset: u16) -> Option<u32> {
        if !bdf.is_valid() || offset > 0xFF {
            return None;
        }
        Some(
            0x8000_0000
                | u32::from(bdf.bus) << 16
                | u32::from(bdf.device) << 11
                | u32::from(bdf.function) << 8
                | u32::from(offset & 0xFC),
        )
    }

    /// Selects `bdf`/`offset` in CONFIG_ADDRESS; returns the data port for the byte lane, or `None` if unreachable.
    fn select(&mut self, bdf: Bdf, offset: u16) -> Option<u16> {
        let address = Self::address(bdf, offset)?;
        self.io.write32(CONFIG_ADDRESS, address);
        Some(CONFIG_DATA + (offset & 3))
    }
}

impl<P: PortIo> ConfigSpace for PortConfigAccess<P> {
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        match self.select(bdf, offset & !3) {
            Some(port) => self.io.read32(port),
            None => u32::MAX,
        }
    }

    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        if let Some(port) = self.select(bdf, offset & !3) {
            self.io.write32(port, value);
        }
    }

    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        match self.select(bdf, offset) {
            Some(port) => self.io.read8(port),
            None => u8::MAX,
        }
    }

    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        match self.select(bdf, offset & !1) {
            Some(port) => self.io.read16(port),
            None => u16::MAX,
        }
    }

    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        if let Some(port) = self.select(bdf, offset) {
            self.io.write8(port, value);
        }
    }

    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        if let Some(port) = self.select(bdf, offset & !1) {
            self.io.write16(port, value);
        }
    }
}
