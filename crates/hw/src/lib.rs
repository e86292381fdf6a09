//! Narrow hardware-access traits shared by vmfw's crates.
//!
//! Library crates (fw_cfg, PCI, CMOS, timers) talk to hardware only through these traits, so that each runs on the
//! host in `cargo test` against an in-process fake. Only the `firmware` crate binds them to real `in`/`out`
//! instructions.
#![no_std]
#![deny(missing_docs)]

/// x86 port I/O: the `in`/`out` instructions on a 16-bit I/O port address.
///
/// Implementations on real hardware are zero-sized; fakes keep their state in `self`.
pub trait PortIo {
    /// Reads one byte from `port`.
    fn read8(&mut self, port: u16) -> u8;
    /// Reads a 16-bit word from `port`.
    fn read16(&mut self, port: u16) -> u16;
    /// Reads a 32-bit doubleword from `port`.
    fn read32(&mut self, port: u16) -> u32;
    /// Writes one byte to `port`.
    fn write8(&mut self, port: u16, value: u8);
    /// Writes a 16-bit word to `port`.
    fn write16(&mut self, port: u16, value: u16);
    /// Writes a 32-bit doubleword to `port`.
    fn write32(&mut self, port: u16, value: u32);
}

impl<T: PortIo + ?Sized> PortIo for &mut T {
    fn read8(&mut self, port: u16) -> u8 {
        (**self).read8(port)
    }
    fn read16(&mut self, port: u16) -> u16 {
        (**self).read16(port)
    }
    fn read32(&mut self, port: u16) -> u32 {
        (**self).read32(port)
    }
    fn write8(&mut self, port: u16, value: u8) {
        (**self).write8(port, value)
    }
    fn write16(&mut self, port: u16, value: u16) {
        (**self).write16(port, value)
    }
    fn write32(&mut self, port: u16, value: u32) {
        (**self).write32(port, value)
    }
}
