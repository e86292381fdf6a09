use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::format;
use alloc::vec::Vec;

use super::fake::{BridgeCaps, FakeConfigSpace, ROOT};
use crate::config::*;

fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
    Bdf::new(bus, device, function).expect("valid test bdf")
}

#[test]
fn bdf_display_and_validation() {
    assert_eq!(format!("{}", bdf(0, 0x1f, 3)), "00:1f.3");
    assert_eq!(format!("{}", bdf(0xab, 2, 7)), "ab:02.7");
    assert_eq!(Bdf::new(0, 32, 0), None);
    assert_eq!(Bdf::new(0, 0, 8), None);
    assert!(!Bdf {
        bus: 0,
        device: 40,
        function: 0
    }
    .is_valid());
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Op {
    In(u8, u16),
    Out(u8, u16, u32),
}

#[derive(Default)]
struct RecordingPorts {
    ops: Vec<Op>,
    data: u32,
}

impl hw::PortIo for RecordingPorts {
    fn read8(&mut self, port: u16) -> u8 {
        self.ops.push(Op::In(8, port));
        (self.data >> ((port & 3) * 8)) as u8
    }
    fn read16(&mut self, port: u16) -> u16 {
        self.ops.push(Op::In(16, port));
        (self.data >> ((port & 3) * 8)) as u16
    }
    fn read32(&mut self, port: u16) -> u32 {
        self.ops.push(Op::In(32, port));
        self.data
    }
    fn write8(&mut self, port: u16, value: u8) {
        self.ops.push(Op::Out(8, port, value.into()));
    }
    fn write16(&mut self, port: u16, value: u16) {
        self.ops.push(Op::Out(16, port, value.into()));
    }
    fn write32(&mut self, port: u16, value: u32) {
        self.ops.push(Op::Out(32, port, value));
    }
}

#[test]
fn port_access_encodes_config_address() {
    let mut cfg = PortConfigAccess::new(RecordingPorts {
        data: 0x1234_5678,
        ..Default::default()
    });
    let target = bdf(0x12, 0x1f, 5);
    assert_eq!(cfg.read32(target, 0x42), 0x1234_5678);
    assert_eq!(cfg.read8(target, 0x0E), 0x34);
    assert_eq!(cfg.read16(target, 0x06), 0x1234);
    cfg.write16(target, 0x3E, 0xBEEF);
    cfg.write8(bdf(0, 0, 0), 0xFF, 0x5A);
    cfg.write32(bdf(0xFF, 0, 7), 0x10, 0xFFFF_FFFF);
    let expected = [
        Op::Out(32, 0xCF8, 0x8012_FD40),
        Op::In(32, 0xCFC),
        Op::Out(32, 0xCF8, 0x8012_FD0C),
        Op::In(8, 0xCFE),
        Op::Out(32, 0xCF8, 0x8012_FD04),
        Op::In(16, 0xCFE),
        Op::Out(32, 0xCF8, 0x8012_FD3C),
        Op::Out(16, 0xCFE, 0xBEEF),
        Op::Out(32, 0xCF8, 0x8000_00FC),
        Op::Out(8, 0xCFF, 0x5A),
        Op::Out(32, 0xCF8, 0x80FF_0710),
        Op::Out(32, 0xCFC, 0xFFFF_FFFF),
    ];
    assert_eq!(cfg.into_inner().ops, expected);
}

#[test]
fn port_access_rejects_unreachable_registers() {
    let mut cfg = PortConfigAccess::new(RecordingPorts::default());
    assert_eq!(cfg.read32(bdf(0, 1, 0), 0x100), u32::MAX);
    assert_eq!(
        cfg.read8(
            Bdf {
                bus: 0,
                device: 32,
                function: 0
            },
            0
        ),
        0xFF
    );
    cfg.write16(
        Bdf {
            bus: 0,
            device: 0,
            function: 9,
        },
        4,
        0,
    );
    assert!(cfg.into_inner().ops.is_empty());
}

#[test]
fn default_narrow_writes_keep_status_rw1c_bits() {
    let mut fake = FakeConfigSpace::new();
    let dev = fake.add_endpoint(ROOT, 1, 0, &[]);
    let errors = 0x2000 | 0x0100; // received master abort, master data parity error
    fake.raise(dev, STATUS, errors);
    let at = bdf(0, 1, 0);

    fake.write16(at, COMMAND, command::MEMORY_SPACE);
    fake.write8(at, COMMAND + 1, (command::INTERRUPT_DISABLE >> 8) as u8);
    assert_eq!(
        fake.read16(at, COMMAND),
        command::MEMORY_SPACE | command::INTERRUPT_DISABLE
    );
    assert_eq!(fake.read16(at, STATUS), status::CAPABILITIES_LIST | errors);

    // Writing the status half itself clears exactly the bits written as 1.
    fake.write16(at, STATUS, 0x2000);
    assert_eq!(fake.read16(at, STATUS), status::CAPABILITIES_LIST | 0x0100);
    assert_eq!(
        fake.read16(at, COMMAND),
        command::MEMORY_SPACE | command::INTERRUPT_DISABLE
    );

    // Sanity check of the fake: a naive read-modify-write would have cleared them.
    let dword = fake.read32(at, COMMAND);
    fake.write32(at, COMMAND, dword);
    assert_eq!(fake.read16(at, STATUS), status::CAPABILITIES_LIST);
}

#[test]
fn default_narrow_writes_keep_bridge_rw1c_bits() {
    let mut fake = FakeConfigSpace::new();
    let (bridge, _) = fake.add_bridge(ROOT, 2, 0, BridgeCaps::FULL);
    fake.raise(bridge, SECONDARY_STATUS, 0x8000);
    fake.raise(bridge, BRIDGE_CONTROL, bridge_control::DISCARD_TIMER_STATUS);
    let at = bdf(0, 2, 0);
    fake.write8(at, IO_BASE, 0x20);
    fake.write8(at, IO_LIMIT, 0x30);
    fake.write8(at, INTERRUPT_LINE, 11);
    assert_eq!(fake.read16(at, IO_BASE), 0x3121);
    assert_eq!(fake.read16(at, SECONDARY_STATUS), 0x8000);
    assert_eq!(fake.read8(at, INTERRUPT_LINE), 11);
    assert_eq!(
        fake.read16(at, BRIDGE_CONTROL),
        bridge_control::DISCARD_TIMER_STATUS
    );
}

/// A 4 KiB-aligned host buffer standing in for an ECAM window.
struct Buffer {
    ptr: *mut u8,
    layout: Layout,
}

impl Buffer {
    fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size, 4096).expect("layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }
    fn byte(&self, offset: usize) -> u8 {
        assert!(offset < self.layout.size());
        // SAFETY: in bounds of the live allocation.
        unsafe { self.ptr.add(offset).read_volatile() }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

#[test]
fn ecam_access_maps_bdf_and_offset() {
    let buffer = Buffer::new(2 << 20);
    // SAFETY: the buffer is 2 MiB (two buses), 4 KiB aligned, and only accessed through `ecam` (and volatile reads
    // in `Buffer::byte`) while it lives.
    let mut ecam = unsafe { EcamConfigAccess::new(buffer.ptr as u64, 2) }.expect("valid window");
    assert_eq!(ecam.last_bus(), 1);
    let target = bdf(1, 2, 3);
    let base = 1 << 20 | 2 << 15 | 3 << 12;
    ecam.write32(target, 0x104, 0xA1B2_C3D4);
    assert_eq!(buffer.byte(base + 0x104), 0xD4);
    assert_eq!(buffer.byte(base + 0x107), 0xA1);
    assert_eq!(ecam.read8(target, 0x106), 0xB2);
    assert_eq!(ecam.read16(target, 0x106), 0xA1B2);
    ecam.write16(target, 0xFFE, 0x1122);
    ecam.write8(target, 0x3, 0x77);
    assert_eq!(buffer.byte(base + 0xFFE), 0x22);
    assert_eq!(buffer.byte(base + 3), 0x77);
    assert_eq!(ecam.read32(target, 0), 0x7700_0000);
    // Outside the window or the function's 4 KiB: master-abort behaviour.
    assert_eq!(ecam.read32(bdf(2, 0, 0), 0), u32::MAX);
    assert_eq!(ecam.read16(target, 0x1000), u16::MAX);
    ecam.write32(target, 0x1000, 0xFFFF_FFFF);
    assert_eq!(
        buffer.byte(base + 0x1000),
        0,
        "the next function's space is untouched"
    );
}

#[test]
fn ecam_rejects_bad_windows() {
    // SAFETY: all of these are rejected before any access could happen.
    unsafe {
        assert_eq!(EcamConfigAccess::new(0, 1).err(), Some(EcamError::NullBase));
        assert_eq!(
            EcamConfigAccess::new(0xB000_0000, 0).err(),
            Some(EcamError::InvalidBusCount(0))
        );
        assert_eq!(
            EcamConfigAccess::new(0xB000_0000, 257).err(),
            Some(EcamError::InvalidBusCount(257))
        );
        assert_eq!(
            EcamConfigAccess::new(0xB000_0800, 1).err(),
            Some(EcamError::MisalignedBase(0xB000_0800))
        );
        let top: u64 = !0xFFF;
        assert_eq!(
            EcamConfigAccess::new(top, 256).err(),
            Some(EcamError::WindowOverflow {
                base: top,
                bus_count: 256
            })
        );
        let ok = EcamConfigAccess::new(0xB000_0000, 256).expect("q35 window");
        assert_eq!(
            (ok.base(), ok.bus_count(), ok.last_bus()),
            (0xB000_0000, 256, 255)
        );
    }
}
