//! Virtio over PCI (virtio 1.2 §4.1).
//!
//! - [`caps`]: the vendor-specific capabilities (id 0x09) that locate the modern interface's structures.
//! - [`ModernTransport`]: the virtio 1.x interface (common, notify, ISR and device configuration structures in
//!   memory BARs), §4.1.4.
//! - [`LegacyTransport`]: the transitional/legacy interface in I/O BAR0, §4.1.4.8.
//! - [`PciTransport`]: whichever of the two a function offers ([`PciTransport::probe`]), and
//!   [`StatusRegister`], the `device_status` location a quiesce resets through.
//!
//! Both reach the function only through [`PciAccess`], which the firmware binds to the UEFI PCI I/O protocol
//! (`Pci.Read` for configuration space, `Mem`/`Io` `Read`/`Write` with a BAR index for BARs) and tests to a fake.
//! The caller enables memory/I/O decoding and bus mastering before using a transport.

pub mod caps;
pub mod legacy;
pub mod modern;
pub mod probe;

pub use caps::{StructureLocation, VirtioCapabilities};
pub use legacy::LegacyTransport;
pub use modern::ModernTransport;
pub use probe::{PciTransport, StatusRegister};

/// PCI vendor id of virtio devices.
pub const VIRTIO_VENDOR_ID: u16 = 0x1af4;

/// Narrow access to one PCI function: its configuration space and its BARs.
///
/// Configuration offsets are bytes into the 256-byte header space; BAR offsets are bytes from the BAR's start and
/// the BAR index is 0–5 (for an I/O BAR the access is port I/O, for a memory BAR MMIO). Values are little-endian
/// register values. The 64-bit defaults perform two 32-bit accesses, low half first.
pub trait PciAccess {
    /// Reads the configuration-space byte at `offset`.
    fn config_read8(&mut self, offset: u16) -> u8;
    /// Reads the configuration-space word at `offset` (2-aligned).
    fn config_read16(&mut self, offset: u16) -> u16;
    /// Reads the configuration-space dword at `offset` (4-aligned).
    fn config_read32(&mut self, offset: u16) -> u32;
    /// Reads a byte of BAR `bar` at `offset`.
    fn bar_read8(&mut self, bar: u8, offset: u64) -> u8;
    /// Reads a 16-bit register of BAR `bar` at `offset`.
    fn bar_read16(&mut self, bar: u8, offset: u64) -> u16;
    /// Reads a 32-bit register of BAR `bar` at `offset`.
    fn bar_read32(&mut self, bar: u8, offset: u64) -> u32;
    /// Reads a 64-bit register of BAR `bar` at `offset`.
    fn bar_read64(&mut self, bar: u8, offset: u64) -> u64 {
        let low = self.bar_read32(bar, offset);
        let high = self.bar_read32(bar, offset + 4);
        u64::from(low) | (u64::from(high) << 32)
    }
    /// Writes a byte of BAR `bar` at `offset`.
    fn bar_write8(&mut self, bar: u8, offset: u64, value: u8);
    /// Writes a 16-bit register of BAR `bar` at `offset`.
    fn bar_write16(&mut self, bar: u8, offset: u64, value: u16);
    /// Writes a 32-bit register of BAR `bar` at `offset`.
    fn bar_write32(&mut self, bar: u8, offset: u64, value: u32);
    /// Writes a 64-bit register of BAR `bar` at `offset`.
    fn bar_write64(&mut self, bar: u8, offset: u64, value: u64) {
        self.bar_write32(bar, offset, value as u32);
        self.bar_write32(bar, offset + 4, (value >> 32) as u32);
    }
}

impl<T: PciAccess + ?Sized> PciAccess for &mut T {
    fn config_read8(&mut self, offset: u16) -> u8 {
        (**self).config_read8(offset)
    }
    fn config_read16(&mut self, offset: u16) -> u16 {
        (**self).config_read16(offset)
    }
    fn config_read32(&mut self, offset: u16) -> u32 {
        (**self).config_read32(offset)
    }
    fn bar_read8(&mut self, bar: u8, offset: u64) -> u8 {
        (**self).bar_read8(bar, offset)
    }
    fn bar_read16(&mut self, bar: u8, offset: u64) -> u16 {
        (**self).bar_read16(bar, offset)
    }
    fn bar_read32(&mut self, bar: u8, offset: u64) -> u32 {
        (**self).bar_read32(bar, offset)
    }
    fn bar_read64(&mut self, bar: u8, offset: u64) -> u64 {
        (**self).bar_read64(bar, offset)
    }
    fn bar_write8(&mut self, bar: u8, offset: u64, value: u8) {
        (**self).bar_write8(bar, offset, value)
    }
    fn bar_write16(&mut self, bar: u8, offset: u64, value: u16) {
        (**self).bar_write16(bar, offset, value)
    }
    fn bar_write32(&mut self, bar: u8, offset: u64, value: u32) {
        (**self).bar_write32(bar, offset, value)
    }
    fn bar_write64(&mut self, bar: u8, offset: u64, value: u64) {
        (**self).bar_write64(bar, offset, value)
    }
}
