//! Interface choice (virtio 1.2 §4.1.2, §4.1.4.8) and the stand-alone status-register reset, against the fake PCI
//! function.

use super::fake_pci::{FakePci, Model};
use crate::pci::{PciTransport, StatusRegister};
use crate::transport::{Transport, TransportKind};
use crate::Error;

const MODERN_BARS: [u64; 6] = [0x40, 0x1000, 0, 0, 0x4000, 0];

/// A function with `device_id`, BAR 0 an I/O BAR when `bar0_io`, and (with `caps`) QEMU's modern capabilities.
fn function(device_id: u16, bar0_io: bool, caps: bool) -> FakePci {
    let model = if caps {
        Model::Modern { bar: 4, offset: 0 }
    } else {
        Model::Legacy
    };
    let mut pci = FakePci::new(model, MODERN_BARS.map(|s| s as usize));
    pci.config[0..2].copy_from_slice(&0x1af4u16.to_le_bytes());
    pci.config[2..4].copy_from_slice(&device_id.to_le_bytes());
    pci.config[0x10] = u8::from(bar0_io);
    if caps {
        pci.add_virtio_cap(1, 4, 0x0000, 0x1000, None);
        pci.add_virtio_cap(3, 4, 0x1000, 0x1000, None);
        pci.add_virtio_cap(4, 4, 0x2000, 0x1000, None);
        pci.add_virtio_cap(2, 4, 0x3000, 0x1000, Some(4));
    }
    pci
}

#[test]
fn modern_interface_wins_when_its_capabilities_exist() {
    for device_id in [0x1042, 0x1001] {
        let transport = PciTransport::probe(function(device_id, true, true), MODERN_BARS).unwrap();
        assert_eq!(
            transport.kind(),
            TransportKind::Modern,
            "device {device_id:#x}"
        );
        assert_eq!(
            transport.status_register(),
            StatusRegister {
                bar: 4,
                offset: 0x14
            }
        );
    }
}

#[test]
fn transitional_device_without_capabilities_is_driven_legacy() {
    let mut transport = PciTransport::probe(function(0x1001, true, false), MODERN_BARS).unwrap();
    assert_eq!(transport.kind(), TransportKind::Legacy);
    assert_eq!(
        transport.status_register(),
        StatusRegister {
            bar: 0,
            offset: 0x12
        }
    );
    // It really is the legacy header: the 32-bit feature register at BAR 0 offset 0.
    let PciTransport::Legacy(legacy) = &mut transport else {
        unreachable!()
    };
    assert_eq!(legacy.config_offset(), 0x14);
}

#[test]
fn no_interface_is_an_error() {
    // A non-transitional id has no legacy interface; a memory BAR 0 cannot be the legacy header.
    for (device_id, bar0_io) in [(0x1042, true), (0x1001, false)] {
        let result = PciTransport::probe(function(device_id, bar0_io, false), MODERN_BARS);
        assert!(
            matches!(result, Err(Error::CapabilityMissing { cfg_type: 1 })),
            "device {device_id:#x}, I/O BAR 0 {bar0_io}"
        );
    }
}

#[test]
fn status_register_reset_writes_one_byte_and_waits() {
    let mut pci = function(0x1042, false, true);
    pci.bars[4][0x14] = 0x0f;
    let register = StatusRegister {
        bar: 4,
        offset: 0x14,
    };
    register.reset(&mut pci, 10).unwrap();
    assert_eq!(pci.writes, [(4, 0x14, 1, 0)]);
    assert_eq!(pci.bars[4][0x14], 0);
}
