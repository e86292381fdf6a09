//! PCI I/O accesses (UEFI 2.10 section 14.4): `Mem.Read/Write`, `Io.Read/Write`, `Pci.Read/Write`, `PollMem`,
//! `PollIo` and `CopyMem`.
//!
//! Widths (`EFI_PCI_IO_PROTOCOL_WIDTH`): `Uint8..Uint64` step both the device address and the buffer, `Fifo*`
//! keep the device address fixed (a FIFO register) and step the buffer, `Fill*` step the device address and keep
//! the buffer fixed. Poll and CopyMem accept only `Uint8..Uint64`.
//!
//! Validation, in this order: a foreign `This`, an invalid width, a NULL buffer/result are `EFI_INVALID_PARAMETER`;
//! then a BAR index that is not an assigned BAR of the right space (memory for Mem/PollMem/CopyMem, I/O for
//! Io/PollIo), an offset not aligned to the access size, or a range (`Offset + Count * size`, or one element for
//! FIFO widths) that leaves the BAR (or the 256/4096-byte configuration space) is `EFI_UNSUPPORTED`. Nothing is
//! accessed unless the whole request is valid. `EFI_PCI_IO_PASS_THROUGH_BAR` (0xFF) takes `Offset` as an absolute
//! address: a port below 0x10000, or memory in the identity-mapped first 4 GiB or the 64-bit PCI window.
//!
//! x86 has no 64-bit I/O cycle: `Io` and `PollIo` with a 64-bit width are `EFI_INVALID_PARAMETER`. 64-bit
//! configuration accesses are two 32-bit accesses, low dword first.
//!
//! Poll semantics (UEFI 2.10 section 14.4, PollMem): at least one read; success when `(Result & Mask) == Value`
//! with Mask truncated to the width; `Delay == 0` returns the single read with `EFI_SUCCESS` whatever it is;
//! otherwise the read repeats every 10 µs (stalling on the PM timer) until `Delay` (100 ns units) expired, then
//! `EFI_TIMEOUT`.

use core::ffi::c_void;

use hw::PortIo;
use pci::config::{Bdf, ConfigSpace};
use r_efi::efi::Status;
use r_efi::protocols::pci_io;

use super::{device, mem64_window, with_config, DeviceView};
use crate::arch::io::X86PortIo;

const FOUR_GIB: u64 = 1 << 32;
const PORT_SPACE: u64 = 0x1_0000;
/// Poll period in 100 ns units (10 µs).
const POLL_STEP: u64 = 100;

/// How an access steps through the device range and the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stepping {
    /// `Uint*`: both step.
    Both,
    /// `Fifo*`: the device address stays, the buffer steps.
    Fifo,
    /// `Fill*`: the device address steps, the buffer stays.
    Fill,
}

/// A decoded `EFI_PCI_IO_PROTOCOL_WIDTH`.
#[derive(Clone, Copy, Debug)]
struct Width {
    /// Bytes per element: 1, 2, 4 or 8.
    bytes: usize,
    stepping: Stepping,
}

impl Width {
    /// Decodes the raw width. Errors: `INVALID_PARAMETER` for `EfiPciIoWidthMaximum` and above.
    fn decode(raw: pci_io::Width) -> Result<Width, Status> {
        if raw >= pci_io::WIDTH_MAXIMUM {
            return Err(Status::INVALID_PARAMETER);
        }
        let stepping = match raw >> 2 {
            0 => Stepping::Both,
            1 => Stepping::Fifo,
            _ => Stepping::Fill,
        };
        Ok(Width {
            bytes: 1 << (raw & 3),
            stepping,
        })
    }

    /// Decodes a width that must be plain `Uint8..Uint64` (Poll, CopyMem).
    fn decode_plain(raw: pci_io::Width) -> Result<Width, Status> {
        match Width::decode(raw)? {
            w if w.stepping == Stepping::Both => Ok(w),
            _ => Err(Status::INVALID_PARAMETER),
        }
    }

    /// Bytes of the device range `count` elements touch (`None` on overflow).
    fn device_span(self, count: usize) -> Option<u64> {
        match (count, self.stepping) {
            (0, _) => Some(0),
            (_, Stepping::Fifo) => Some(self.bytes as u64),
            _ => (count as u64).checked_mul(self.bytes as u64),
        }
    }

    /// Bytes of the caller's buffer `count` elements touch (`None` on overflow).
    fn buffer_span(self, count: usize) -> Option<usize> {
        match (count, self.stepping) {
            (0, _) => Some(0),
            (_, Stepping::Fill) => Some(self.bytes),
            _ => count.checked_mul(self.bytes),
        }
    }

    /// All ones in the low `bytes` bytes.
    fn value_mask(self) -> u64 {
        if self.bytes == 8 {
            u64::MAX
        } else {
            (1u64 << (self.bytes * 8)) - 1
        }
    }
}

/// The address space a BAR-relative access targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mem,
    Io,
}

/// The absolute address of `span` bytes at `offset` of BAR `bar_index` (or pass-through), for `bytes`-sized
/// accesses. Errors: `UNSUPPORTED` (module notes).
fn resolve(
    dev: &DeviceView,
    kind: Kind,
    bar_index: u8,
    offset: u64,
    bytes: usize,
    span: u64,
) -> Result<u64, Status> {
    if !offset.is_multiple_of(bytes as u64) {
        return Err(Status::UNSUPPORTED);
    }
    let end = offset.checked_add(span).ok_or(Status::UNSUPPORTED)?;
    if bar_index == pci_io::PASS_THROUGH_BAR {
        let ok = match kind {
            Kind::Io => end <= PORT_SPACE,
            Kind::Mem => {
                let (start64, end64) = mem64_window();
                end <= FOUR_GIB || (offset >= start64 && end <= end64)
            }
        };
        return if ok {
            Ok(offset)
        } else {
            Err(Status::UNSUPPORTED)
        };
    }
    let bar = dev
        .bars
        .get(bar_index as usize)
        .copied()
        .flatten()
        .ok_or(Status::UNSUPPORTED)?;
    if bar.io != (kind == Kind::Io) || end > bar.size {
        return Err(Status::UNSUPPORTED);
    }
    Ok(bar.address + offset)
}

/// One address space, accessed in elements of 1, 2, 4 or 8 bytes.
trait Space {
    fn read(&mut self, address: u64, bytes: usize) -> u64;
    fn write(&mut self, address: u64, bytes: usize, value: u64);
}

/// Memory space: identity-mapped MMIO (or RAM), volatile accesses of exactly the element size.
struct Mmio;

impl Space for Mmio {
    fn read(&mut self, address: u64, bytes: usize) -> u64 {
        // SAFETY: `resolve` only yields addresses inside an assigned memory BAR or the pass-through ranges, all
        // identity-mapped (bring-up maps RAM and every PCI window); accesses are aligned to their size.
        unsafe {
            match bytes {
                1 => core::ptr::read_volatile(address as *const u8) as u64,
                2 => core::ptr::read_volatile(address as *const u16) as u64,
                4 => core::ptr::read_volatile(address as *const u32) as u64,
                _ => core::ptr::read_volatile(address as *const u64),
            }
        }
    }
    fn write(&mut self, address: u64, bytes: usize, value: u64) {
        // SAFETY: as in `read`.
        unsafe {
            match bytes {
                1 => core::ptr::write_volatile(address as *mut u8, value as u8),
                2 => core::ptr::write_volatile(address as *mut u16, value as u16),
                4 => core::ptr::write_volatile(address as *mut u32, value as u32),
                _ => core::ptr::write_volatile(address as *mut u64, value),
            }
        }
    }
}

/// I/O space through `in`/`out` (never 8-byte elements: rejected before).
struct Ports;

impl Space for Ports {
    fn read(&mut self, address: u64, bytes: usize) -> u64 {
        let port = address as u16;
        match bytes {
            1 => X86PortIo.read8(port) as u64,
            2 => X86PortIo.read16(port) as u64,
            _ => X86PortIo.read32(port) as u64,
        }
    }
    fn write(&mut self, address: u64, bytes: usize, value: u64) {
        let port = address as u16;
        match bytes {
            1 => X86PortIo.write8(port, value as u8),
            2 => X86PortIo.write16(port, value as u16),
            _ => X86PortIo.write32(port, value as u32),
        }
    }
}

/// One function's configuration space (offsets validated against its size before).
struct Config<'a> {
    cfg: &'a mut dyn ConfigSpace,
    bdf: Bdf,
}

impl Space for Config<'_> {
    fn read(&mut self, address: u64, bytes: usize) -> u64 {
        let offset = address as u16;
        match bytes {
            1 => self.cfg.read8(self.bdf, offset) as u64,
            2 => self.cfg.read16(self.bdf, offset) as u64,
            4 => self.cfg.read32(self.bdf, offset) as u64,
            _ => {
                let low = self.cfg.read32(self.bdf, offset) as u64;
                low | (self.cfg.read32(self.bdf, offset + 4) as u64) << 32
            }
        }
    }
    fn write(&mut self, address: u64, bytes: usize, value: u64) {
        let offset = address as u16;
        match bytes {
            1 => self.cfg.write8(self.bdf, offset, value as u8),
            2 => self.cfg.write16(self.bdf, offset, value as u16),
            4 => self.cfg.write32(self.bdf, offset, value as u32),
            _ => {
                self.cfg.write32(self.bdf, offset, value as u32);
                self.cfg.write32(self.bdf, offset + 4, (value >> 32) as u32);
            }
        }
    }
}

/// Moves `count` elements between `space` at `address` and the caller's `buffer`, stepping per `width`.
///
/// # Safety
/// `buffer` must be valid for `width.buffer_span(count)` bytes (reads for a write, writes for a read); the device
/// range must have been validated by `resolve` (or against the configuration space size).
unsafe fn transfer(
    space: &mut dyn Space,
    width: Width,
    address: u64,
    count: usize,
    buffer: *mut u8,
    write: bool,
) {
    let bytes = width.bytes;
    for i in 0..count {
        let at = match width.stepping {
            Stepping::Fifo => address,
            _ => address + (i * bytes) as u64,
        };
        let element = match width.stepping {
            Stepping::Fill => buffer,
            // SAFETY: inside the buffer span (contract).
            _ => unsafe { buffer.add(i * bytes) },
        };
        // SAFETY: `element` has `bytes` valid bytes (contract); unaligned caller buffers are allowed.
        unsafe {
            if write {
                let value = match bytes {
                    1 => element.read() as u64,
                    2 => (element as *const u16).read_unaligned() as u64,
                    4 => (element as *const u32).read_unaligned() as u64,
                    _ => (element as *const u64).read_unaligned(),
                };
                space.write(at, bytes, value);
            } else {
                let value = space.read(at, bytes);
                match bytes {
                    1 => element.write(value as u8),
                    2 => (element as *mut u16).write_unaligned(value as u16),
                    4 => (element as *mut u32).write_unaligned(value as u32),
                    _ => (element as *mut u64).write_unaligned(value),
                }
            }
        }
    }
}

/// Mem/Io Read/Write after validation.
#[allow(clippy::too_many_arguments)]
fn io_mem(
    this: *mut pci_io::Protocol,
    kind: Kind,
    raw_width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    count: usize,
    buffer: *mut c_void,
    write: bool,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        let width = Width::decode(raw_width)?;
        if buffer.is_null() || (kind == Kind::Io && width.bytes == 8) {
            return Err(Status::INVALID_PARAMETER);
        }
        let span = width.device_span(count).ok_or(Status::UNSUPPORTED)?;
        width.buffer_span(count).ok_or(Status::INVALID_PARAMETER)?;
        let address = resolve(&dev, kind, bar_index, offset, width.bytes, span)?;
        let space: &mut dyn Space = match kind {
            Kind::Mem => &mut Mmio,
            Kind::Io => &mut Ports,
        };
        // SAFETY: the caller's buffer holds `buffer_span(count)` bytes (Mem/Io Read/Write contract); the device
        // range was validated by `resolve`.
        unsafe { transfer(space, width, address, count, buffer as *mut u8, write) };
        Ok(())
    };
    crate::efi::status(run())
}

pub extern "efiapi" fn mem_read(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    count: usize,
    buffer: *mut c_void,
) -> Status {
    io_mem(
        this,
        Kind::Mem,
        width,
        bar_index,
        offset,
        count,
        buffer,
        false,
    )
}

pub extern "efiapi" fn mem_write(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    count: usize,
    buffer: *mut c_void,
) -> Status {
    io_mem(
        this,
        Kind::Mem,
        width,
        bar_index,
        offset,
        count,
        buffer,
        true,
    )
}

pub extern "efiapi" fn io_read(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    count: usize,
    buffer: *mut c_void,
) -> Status {
    io_mem(
        this,
        Kind::Io,
        width,
        bar_index,
        offset,
        count,
        buffer,
        false,
    )
}

pub extern "efiapi" fn io_write(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    count: usize,
    buffer: *mut c_void,
) -> Status {
    io_mem(
        this,
        Kind::Io,
        width,
        bar_index,
        offset,
        count,
        buffer,
        true,
    )
}

/// Pci.Read/Write after validation.
fn config(
    this: *mut pci_io::Protocol,
    raw_width: pci_io::Width,
    offset: u32,
    count: usize,
    buffer: *mut c_void,
    write: bool,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        let width = Width::decode(raw_width)?;
        if buffer.is_null() {
            return Err(Status::INVALID_PARAMETER);
        }
        width.buffer_span(count).ok_or(Status::INVALID_PARAMETER)?;
        let span = width.device_span(count).ok_or(Status::UNSUPPORTED)?;
        let offset = u64::from(offset);
        let end = offset.checked_add(span).ok_or(Status::UNSUPPORTED)?;
        if !offset.is_multiple_of(width.bytes as u64) || end > u64::from(dev.config_size) {
            return Err(Status::UNSUPPORTED);
        }
        with_config(|cfg| {
            let mut space = Config { cfg, bdf: dev.bdf };
            // SAFETY: the caller's buffer holds `buffer_span(count)` bytes (Pci.Read/Write contract); offsets
            // were checked against the configuration space size.
            unsafe { transfer(&mut space, width, offset, count, buffer as *mut u8, write) };
        })
    };
    crate::efi::status(run())
}

pub extern "efiapi" fn pci_read(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    offset: u32,
    count: usize,
    buffer: *mut c_void,
) -> Status {
    config(this, width, offset, count, buffer, false)
}

pub extern "efiapi" fn pci_write(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    offset: u32,
    count: usize,
    buffer: *mut c_void,
) -> Status {
    config(this, width, offset, count, buffer, true)
}

/// PollMem/PollIo (module notes).
#[allow(clippy::too_many_arguments)]
fn poll(
    this: *mut pci_io::Protocol,
    kind: Kind,
    raw_width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    mask: u64,
    value: u64,
    delay: u64,
    result: *mut u64,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        let width = Width::decode_plain(raw_width)?;
        if result.is_null() || (kind == Kind::Io && width.bytes == 8) {
            return Err(Status::INVALID_PARAMETER);
        }
        let address = resolve(
            &dev,
            kind,
            bar_index,
            offset,
            width.bytes,
            width.bytes as u64,
        )?;
        let mask = mask & width.value_mask();
        let mut remaining = delay;
        loop {
            let read = match kind {
                Kind::Mem => Mmio.read(address, width.bytes),
                Kind::Io => Ports.read(address, width.bytes),
            };
            // SAFETY: `result` is a non-null OUT UINT64 (PollMem/PollIo contract); alignment is not assumed.
            unsafe { result.write_unaligned(read) };
            if read & mask == value || delay == 0 {
                return Ok(());
            }
            if remaining == 0 {
                return Err(Status::TIMEOUT);
            }
            let step = remaining.min(POLL_STEP);
            crate::platform::timer::stall(step.div_ceil(10));
            remaining -= step;
        }
    };
    crate::efi::status(run())
}

#[allow(clippy::too_many_arguments)]
pub extern "efiapi" fn poll_mem(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    mask: u64,
    value: u64,
    delay: u64,
    result: *mut u64,
) -> Status {
    poll(
        this,
        Kind::Mem,
        width,
        bar_index,
        offset,
        mask,
        value,
        delay,
        result,
    )
}

#[allow(clippy::too_many_arguments)]
pub extern "efiapi" fn poll_io(
    this: *mut pci_io::Protocol,
    width: pci_io::Width,
    bar_index: u8,
    offset: u64,
    mask: u64,
    value: u64,
    delay: u64,
    result: *mut u64,
) -> Status {
    poll(
        this,
        Kind::Io,
        width,
        bar_index,
        offset,
        mask,
        value,
        delay,
        result,
    )
}

/// CopyMem: `count` elements from one memory BAR range to another; overlapping ranges copy as if through a
/// temporary (backwards when the destination is above the source), as the spec requires.
pub extern "efiapi" fn copy_mem(
    this: *mut pci_io::Protocol,
    raw_width: pci_io::Width,
    dest_bar: u8,
    dest_offset: u64,
    src_bar: u8,
    src_offset: u64,
    count: usize,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        let width = Width::decode_plain(raw_width)?;
        let span = width.device_span(count).ok_or(Status::UNSUPPORTED)?;
        let dest = resolve(&dev, Kind::Mem, dest_bar, dest_offset, width.bytes, span)?;
        let src = resolve(&dev, Kind::Mem, src_bar, src_offset, width.bytes, span)?;
        if dest == src {
            return Ok(());
        }
        let backwards = dest > src && dest < src + span;
        let bytes = width.bytes as u64;
        for i in 0..count as u64 {
            let element = if backwards { count as u64 - 1 - i } else { i };
            let value = Mmio.read(src + element * bytes, width.bytes);
            Mmio.write(dest + element * bytes, width.bytes, value);
        }
        Ok(())
    };
    crate::efi::status(run())
}
