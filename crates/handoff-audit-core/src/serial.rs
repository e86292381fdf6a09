//! A 16550 UART (COM1 at 0x3F8) driven directly, as an OS would after ExitBootServices: a `fmt::Write` sink that
//! sends `\n` as `\r\n`, and a line reader for what the host runner types into the serial console.
//!
//! The UART is assumed programmed by the firmware (baud rate, 8N1). Each byte waits for the transmitter holding
//! register to empty (LSR bit 5) with a bounded spin, so a missing UART cannot hang the audit.

use core::fmt;

use hw::PortIo;

/// COM1's base port.
pub const COM1: u16 = 0x3F8;
/// Line status register offset.
const LSR: u16 = 5;
/// LSR: data ready.
const LSR_DR: u8 = 1 << 0;
/// LSR: transmitter holding register empty.
const LSR_THRE: u8 = 1 << 5;
/// LSR polls before a byte is sent anyway.
const THRE_SPINS: u32 = 100_000;

/// A UART at `base`.
pub struct Uart<P: PortIo> {
    ports: P,
    base: u16,
}

impl<P: PortIo> Uart<P> {
    /// The UART at I/O port `base`.
    pub fn new(ports: P, base: u16) -> Uart<P> {
        Uart { ports, base }
    }

    fn put(&mut self, byte: u8) {
        for _ in 0..THRE_SPINS {
            if self.ports.read8(self.base + LSR) & LSR_THRE != 0 {
                break;
            }
        }
        self.ports.write8(self.base, byte);
    }

    /// The next received byte, if one is waiting.
    pub fn try_read(&mut self) -> Option<u8> {
        if self.ports.read8(self.base + LSR) & LSR_DR != 0 {
            Some(self.ports.read8(self.base))
        } else {
            None
        }
    }
}

impl<P: PortIo> fmt::Write for Uart<P> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.put(b'\r');
            }
            self.put(byte);
        }
        Ok(())
    }
}

/// Assembles received bytes into lines (CR and LF end a line; bytes past 80 per line are dropped).
pub struct LineReader {
    buf: [u8; 80],
    len: usize,
}

impl Default for LineReader {
    fn default() -> LineReader {
        LineReader {
            buf: [0; 80],
            len: 0,
        }
    }
}

impl LineReader {
    /// Feeds one byte; returns true when it ended a line equal to `wanted` (surrounding spaces ignored).
    pub fn push(&mut self, byte: u8, wanted: &str) -> bool {
        if byte == b'\n' || byte == b'\r' {
            let line = core::str::from_utf8(&self.buf[..self.len]).unwrap_or("");
            let hit = line.trim() == wanted;
            self.len = 0;
            return hit;
        }
        if self.len < self.buf.len() {
            self.buf[self.len] = byte;
            self.len += 1;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::collections::VecDeque;
    use std::vec::Vec;

    #[derive(Default)]
    struct FakeUart {
        sent: Vec<u8>,
        incoming: VecDeque<u8>,
        busy_polls: u32,
        lsr_reads: u32,
    }

    impl PortIo for FakeUart {
        fn read8(&mut self, port: u16) -> u8 {
            if port == COM1 {
                return self
                    .incoming
                    .pop_front()
                    .expect("RBR read only when data ready");
            }
            assert_eq!(port, COM1 + LSR);
            self.lsr_reads += 1;
            let thre = if self.busy_polls > 0 {
                self.busy_polls -= 1;
                0
            } else {
                LSR_THRE
            };
            thre | u8::from(!self.incoming.is_empty())
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write8(&mut self, port: u16, value: u8) {
            assert_eq!(port, COM1);
            self.sent.push(value);
        }
        fn write16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn write32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    #[test]
    fn writes_crlf_and_waits_boundedly() {
        let mut fake = FakeUart {
            busy_polls: 2,
            ..FakeUart::default()
        };
        writeln!(Uart::new(&mut fake, COM1), "ok").unwrap();
        assert_eq!(fake.sent, b"ok\r\n");
        assert_eq!(fake.lsr_reads, 2 + 4);
        let mut dead = FakeUart {
            busy_polls: u32::MAX,
            ..FakeUart::default()
        };
        write!(Uart::new(&mut dead, COM1), "x").unwrap();
        assert_eq!(dead.sent, b"x");
        assert_eq!(dead.lsr_reads, THRE_SPINS);
    }

    #[test]
    fn reads_lines_from_the_runner() {
        let mut fake = FakeUart::default();
        fake.incoming.extend(b"noise\r\n  traffic sent \n".iter());
        let mut uart = Uart::new(&mut fake, COM1);
        let mut lines = LineReader::default();
        let mut hits = Vec::new();
        while let Some(b) = uart.try_read() {
            hits.push(lines.push(b, "traffic sent"));
        }
        assert_eq!(hits.iter().filter(|&&h| h).count(), 1);
        assert_eq!(hits.last(), Some(&true));
        assert_eq!(uart.try_read(), None);
    }
}
