//! PCI transport rules (virtio 1.2 §4.1.4, §4.1.4.8) against the fake PCI function.

use alloc::vec;

use super::fake_pci::{FakePci, Model};
use crate::features::VIRTIO_F_VERSION_1;
use crate::mock::SharedMemory;
use crate::pci::caps::{parse_capabilities, StructureLocation, VirtioCapabilities};
use crate::pci::{legacy as l, modern as m, LegacyTransport, ModernTransport};
use crate::queue::{activate, Buffer, Layout, SplitQueue};
use crate::status::initialize;
use crate::transport::{QueueAddresses, Transport, TransportKind};
use crate::Error;

const BLK_SIZE: u64 = 1 << 6;
/// QEMU's modern layout: one 16 KiB 64-bit memory BAR 4 (BAR 5 is its upper half).
const BAR_SIZES: [u64; 6] = [0x40, 0x1000, 0, 0, 0x4000, 0];

fn location(bar: u8, offset: u32, length: u32) -> StructureLocation {
    StructureLocation {
        bar,
        offset,
        length,
    }
}

/// A modern function laid out like QEMU's: common 0x0000, ISR 0x1000, device 0x2000, notify 0x3000 (x4).
fn qemu_modern() -> FakePci {
    let mut pci = FakePci::new(
        Model::Modern { bar: 4, offset: 0 },
        BAR_SIZES.map(|s| s as usize),
    );
    pci.add_capability(0x11, &[0x01, 0x00, 0x01, 0, 0, 0, 0x01, 0x08, 0, 0]); // MSI-X, not enabled
    pci.add_virtio_cap(1, 4, 0x0000, 0x1000, None);
    pci.add_virtio_cap(3, 4, 0x1000, 0x1000, None);
    pci.add_virtio_cap(4, 4, 0x2000, 0x1000, None);
    pci.add_virtio_cap(2, 4, 0x3000, 0x1000, Some(4));
    pci.add_virtio_cap(5, 0, 0, 0, None);
    pci
}

#[test]
fn capability_parsing_finds_all_structures() {
    let mut pci = FakePci::new(
        Model::Modern { bar: 4, offset: 0 },
        BAR_SIZES.map(|s| s as usize),
    );
    pci.add_virtio_cap(1, 7, 0, 0x1000, None); // reserved BAR: ignored
    pci.add_capability(0x11, &[0x01, 0x00, 0x01, 0, 0, 0, 0x01, 0x08, 0, 0]);
    pci.add_virtio_cap(1, 4, 0x0000, 0x1000, None);
    pci.add_virtio_cap(1, 1, 0x0000, 0x100, None); // second common: the first one wins
    pci.add_virtio_cap(3, 4, 0x1000, 0x1000, None);
    pci.add_virtio_cap(5, 0, 0, 0, None); // PCI configuration access: ignored
    pci.add_virtio_cap(4, 4, 0x2000, 0x1000, None);
    pci.add_virtio_cap(8, 4, 0, 0x8000_0000, None); // shared memory: ignored
    pci.add_virtio_cap(2, 4, 0x3000, 0x1000, Some(4));
    let caps = parse_capabilities(&mut pci, &BAR_SIZES).expect("parse");
    assert_eq!(
        caps,
        VirtioCapabilities {
            common: location(4, 0, 0x1000),
            notify: location(4, 0x3000, 0x1000),
            notify_off_multiplier: 4,
            isr: Some(location(4, 0x1000, 0x1000)),
            device: Some(location(4, 0x2000, 0x1000)),
        }
    );

    // ISR and device configuration are optional; common and notify are not.
    let mut pci = FakePci::new(
        Model::Modern { bar: 4, offset: 0 },
        BAR_SIZES.map(|s| s as usize),
    );
    pci.add_virtio_cap(1, 4, 0, 0x1000, None);
    pci.add_virtio_cap(2, 4, 0x3000, 0x1000, Some(0));
    let caps = parse_capabilities(&mut pci, &BAR_SIZES).expect("parse");
    assert_eq!((caps.isr, caps.device), (None, None));
    let mut pci = FakePci::new(
        Model::Modern { bar: 4, offset: 0 },
        BAR_SIZES.map(|s| s as usize),
    );
    pci.add_virtio_cap(1, 4, 0, 0x1000, None);
    assert_eq!(
        parse_capabilities(&mut pci, &BAR_SIZES),
        Err(Error::CapabilityMissing { cfg_type: 2 })
    );
}

#[test]
fn capability_outside_bar_is_rejected() {
    let mut pci = qemu_modern();
    pci.add_virtio_cap(4, 4, 0x2000, 0x1000, None); // a second device cfg is never looked at
    let mut sizes = BAR_SIZES;
    sizes[4] = 0x3800; // too small for the notify structure at 0x3000..0x4000
    assert_eq!(
        parse_capabilities(&mut pci, &sizes),
        Err(Error::CapabilityOutsideBar {
            cfg_type: 2,
            bar: 4,
            offset: 0x3000,
            length: 0x1000,
            bar_size: 0x3800
        })
    );

    let mut pci = FakePci::new(Model::Legacy, [0x40, 0, 0, 0, 0, 0]);
    pci.add_virtio_cap(1, 2, 0, 0x100, None); // BAR 2 not implemented
    assert_eq!(
        parse_capabilities(&mut pci, &BAR_SIZES),
        Err(Error::CapabilityOutsideBar {
            cfg_type: 1,
            bar: 2,
            offset: 0,
            length: 0x100,
            bar_size: 0
        })
    );

    let mut pci = FakePci::new(Model::Legacy, [0x40, 0, 0, 0, 0, 0]);
    pci.add_virtio_cap(1, 4, u32::MAX, 0x100, None); // offset + length overflows 32 bits
    assert!(matches!(
        parse_capabilities(&mut pci, &BAR_SIZES),
        Err(Error::CapabilityOutsideBar { cfg_type: 1, .. })
    ));

    let mut pci = FakePci::new(Model::Legacy, [0x40, 0, 0, 0, 0, 0]);
    pci.add_virtio_cap(1, 4, 0, 0x20, None); // shorter than the fields used
    assert_eq!(
        parse_capabilities(&mut pci, &BAR_SIZES),
        Err(Error::CapabilityTooShort {
            cfg_type: 1,
            length: 0x20,
            required: 0x38
        })
    );
}

#[test]
fn malformed_capability_list_is_rejected() {
    let mut pci = qemu_modern();
    pci.config[0x34] = 0x20;
    assert_eq!(
        parse_capabilities(&mut pci, &BAR_SIZES),
        Err(Error::CapabilityListMalformed { pointer: 0x20 })
    );
    let mut pci = qemu_modern();
    let first = pci.config[0x34];
    pci.config[usize::from(first) + 1] = first; // a loop
    assert!(matches!(
        parse_capabilities(&mut pci, &BAR_SIZES),
        Err(Error::CapabilityListMalformed { .. })
    ));
}

#[test]
fn modern_transport_drives_common_cfg() {
    let mut pci = qemu_modern();
    pci.device_features = VIRTIO_F_VERSION_1 | BLK_SIZE | (1 << 9);
    pci.queues = vec![(1024, 3)];
    pci.bars[4][m::NUM_QUEUES as usize] = 1;
    pci.bars[4][0x2000..0x2008].copy_from_slice(&0x4_0000u64.to_le_bytes()); // virtio-blk capacity
    let mut transport = ModernTransport::new(pci, BAR_SIZES).expect("transport");
    assert_eq!(transport.num_queues(), 1);
    assert_eq!(transport.max_queue_size(1), 0);

    let memory = SharedMemory::new(
        0x10_0000,
        Layout::new(TransportKind::Modern, 256).unwrap().total_len,
    );
    let mut queue = SplitQueue::new(memory, TransportKind::Modern, 256).expect("queue");
    let features =
        initialize(&mut transport, BLK_SIZE, |t, _| activate(t, 0, &queue)).expect("init");
    assert_eq!(features, VIRTIO_F_VERSION_1 | BLK_SIZE);
    assert_eq!(transport.config_read32(0), Ok(0x4_0000));
    assert_eq!(transport.config_read32(4), Ok(0));
    assert_eq!(
        transport.config_read32(0xffe),
        Err(Error::ConfigOutOfRange {
            offset: 0xffe,
            width: 4,
            length: 0x1000
        })
    );
    queue
        .add_chain(&[Buffer::readable(0x5000, 16)])
        .expect("add");
    transport.notify(0).expect("notify");
    assert_eq!(
        transport.notify(1),
        Err(Error::QueueNotConfigured { queue: 1 })
    );

    let pci = transport.into_inner();
    assert_eq!(pci.driver_features, VIRTIO_F_VERSION_1 | BLK_SIZE);
    let reg = |r: u64| pci.queue_regs.get(&(0, r)).copied();
    assert_eq!(reg(m::QUEUE_SIZE), Some(256));
    assert_eq!(reg(m::QUEUE_DESC), Some(0x10_0000));
    assert_eq!(reg(m::QUEUE_DESC + 4), Some(0));
    assert_eq!(reg(m::QUEUE_DRIVER), Some(0x10_0000 + 16 * 256));
    assert_eq!(reg(m::QUEUE_DEVICE), Some(queue.addresses().used));
    assert_eq!(reg(m::QUEUE_ENABLE), Some(1));
    let status_writes: vec::Vec<u64> = pci
        .writes
        .iter()
        .filter(|w| (w.0, w.1) == (4, m::DEVICE_STATUS))
        .map(|w| w.3)
        .collect();
    assert_eq!(status_writes, vec![0, 1, 3, 11, 15]);
    // queue_notify_off 3 times the multiplier 4, past the notify structure's offset; the value is the index.
    assert_eq!(pci.writes.last(), Some(&(4, 0x3000 + 3 * 4, 2, 0)));
}

#[test]
fn modern_notify_outside_structure_is_rejected() {
    let mut pci = qemu_modern();
    pci.device_features = VIRTIO_F_VERSION_1;
    pci.queues = vec![(256, 0x400)]; // 0x400 * 4 = 0x1000: the 2-byte write would end past the structure
    pci.bars[4][m::NUM_QUEUES as usize] = 1;
    let mut transport = ModernTransport::new(pci, BAR_SIZES).expect("transport");
    let addresses = QueueAddresses {
        desc: 0x1000,
        avail: 0x2000,
        used: 0x3000,
    };
    assert_eq!(
        transport.set_queue(0, 256, addresses),
        Err(Error::NotifyOutOfRange {
            queue: 0,
            queue_notify_off: 0x400
        })
    );
}

fn legacy(msix_enabled: bool) -> FakePci {
    let mut pci = FakePci::new(Model::Legacy, [0x40, 0x1000, 0, 0, 0, 0]);
    let control = if msix_enabled { 0x80u8 } else { 0 };
    pci.add_capability(0x11, &[0x01, control, 0x01, 0, 0, 0, 0x01, 0x08, 0, 0]);
    pci.device_features = BLK_SIZE | (1 << 9);
    pci.queues = vec![(256, 0)];
    pci
}

#[test]
fn legacy_transport_programs_pfn_of_legacy_layout() {
    let mut pci = legacy(false);
    pci.bars[0][0x14..0x18].copy_from_slice(&0x800u32.to_le_bytes());
    let mut transport = LegacyTransport::new(pci, 0x40).expect("transport");
    assert_eq!(transport.config_offset(), 0x14);
    let layout = Layout::new(TransportKind::Legacy, 256).unwrap();
    let memory = SharedMemory::new(0x12_3000, layout.total_len);
    let queue = SplitQueue::new(memory, TransportKind::Legacy, 256).expect("queue");
    let features =
        initialize(&mut transport, BLK_SIZE, |t, _| activate(t, 0, &queue)).expect("init");
    assert_eq!(features, BLK_SIZE);
    assert_eq!(transport.config_read32(0), Ok(0x800));
    assert!(
        transport.config_read32(0x28).is_ok(),
        "the last dword of the 0x2c config bytes"
    );
    assert!(matches!(
        transport.config_read32(0x29),
        Err(Error::ConfigOutOfRange { length: 0x2c, .. })
    ));

    // A used ring that is not at the next 4096 boundary cannot be expressed by one PFN.
    let shifted = QueueAddresses {
        used: queue.addresses().used - 0x800,
        ..queue.addresses()
    };
    assert!(matches!(
        transport.set_queue(0, 256, shifted),
        Err(Error::LegacyLayoutMismatch { .. })
    ));
    assert_eq!(
        transport.set_queue(0, 128, queue.addresses()),
        Err(Error::LegacyQueueSizeMismatch {
            size: 128,
            device: 256
        })
    );

    let pci = transport.into_inner();
    assert_eq!(pci.driver_features, BLK_SIZE);
    assert_eq!(pci.queue_regs.get(&(0, l::QUEUE_ADDRESS)), Some(&0x123));
    let status_writes: vec::Vec<u64> = pci
        .writes
        .iter()
        .filter(|w| (w.0, w.1) == (0, l::DEVICE_STATUS))
        .map(|w| w.3)
        .collect();
    assert_eq!(status_writes, vec![0, 1, 3, 7]);
}

#[test]
fn legacy_config_moves_with_msix() {
    let mut pci = legacy(true);
    pci.bars[0][0x18] = 0xab;
    let mut transport = LegacyTransport::new(pci, 0x40).expect("transport");
    assert_eq!(transport.config_offset(), 0x18);
    assert_eq!(transport.config_read8(0), Ok(0xab));
    assert_eq!(
        LegacyTransport::new(legacy(true), 0x14).err(),
        Some(Error::LegacyBarTooSmall {
            bar_size: 0x14,
            required: 0x18
        })
    );
}
