//! Port I/O: the real `in`/`out` instructions behind [`hw::PortIo`].

use x86_64::instructions::port::Port;

/// The machine's I/O port space. Zero-sized: every instance reaches the same ports.
#[derive(Clone, Copy, Default)]
pub struct X86PortIo;

impl hw::PortIo for X86PortIo {
    fn read8(&mut self, port: u16) -> u8 {
        // SAFETY: port I/O cannot violate memory safety; callers own the device protocol on that port.
        unsafe { Port::<u8>::new(port).read() }
    }
    fn read16(&mut self, port: u16) -> u16 {
        // SAFETY: as in `read8`.
        unsafe { Port::<u16>::new(port).read() }
    }
    fn read32(&mut self, port: u16) -> u32 {
        // SAFETY: as in `read8`.
        unsafe { Port::<u32>::new(port).read() }
    }
    fn write8(&mut self, port: u16, value: u8) {
        // SAFETY: as in `read8`.
        unsafe { Port::<u8>::new(port).write(value) }
    }
    fn write16(&mut self, port: u16, value: u16) {
        // SAFETY: as in `read8`.
        unsafe { Port::<u16>::new(port).write(value) }
    }
    fn write32(&mut self, port: u16, value: u32) {
        // SAFETY: as in `read8`.
        unsafe { Port::<u32>::new(port).write(value) }
    }
}
