//! Split-virtqueue rules (virtio 1.2 §2.7), with the mock device consuming a real queue.

use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::features::VIRTIO_F_VERSION_1;
use crate::mock::{Descriptor, MemoryEvent, MockDevice, SharedMemory};
use crate::queue::split::{VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use crate::queue::{activate, choose_size, Buffer, Layout, QueueMemory, SplitQueue, UsedElement};
use crate::status::initialize;
use crate::transport::{Transport, TransportKind};
use crate::Error;

const QUEUE_BASE: u64 = 0x8000_0000;

/// A modern mock device with one queue of `size` entries, initialised, and the driver's queue for it.
fn setup(size: u16) -> (MockDevice, SplitQueue<SharedMemory>, SharedMemory) {
    let mut dev = MockDevice::new(TransportKind::Modern, VIRTIO_F_VERSION_1, &[size]);
    let size = choose_size(TransportKind::Modern, dev.max_queue_size(0), size).expect("size");
    let layout = Layout::new(TransportKind::Modern, size).expect("layout");
    let memory = SharedMemory::new(QUEUE_BASE, layout.total_len);
    let queue = SplitQueue::new(memory.clone(), TransportKind::Modern, size).expect("queue");
    initialize(&mut dev, 0, |t, _| activate(t, 0, &queue)).expect("init");
    (dev, queue, memory)
}

/// Completes every available chain, reporting `written` bytes for each; returns the chains the device saw.
fn complete_all(dev: &mut MockDevice, memory: &SharedMemory, written: u32) -> Vec<Vec<Descriptor>> {
    let mut chains = Vec::new();
    dev.process(0, memory, |chain| {
        chains.push(chain.to_vec());
        written
    })
    .expect("device");
    chains
}

#[test]
fn chain_of_many_descriptors_round_trips() {
    let (mut dev, mut queue, memory) = setup(64);
    // A virtio-blk read of 8 sectors: header, 8 data buffers, status byte.
    let mut buffers = vec![Buffer::readable(0x1000, 16)];
    buffers.extend((0..8).map(|i| Buffer::writable(0x10_0000 + i * 0x1000, 512)));
    buffers.push(Buffer::writable(0x2000, 1));
    let head = queue.add_chain(&buffers).expect("add");
    assert_eq!(queue.num_free(), 64 - 10);
    assert_eq!(queue.in_flight(), 1);
    dev.notify(0).expect("notify");
    assert_eq!(dev.notifications, vec![0]);

    let chains = complete_all(&mut dev, &memory, 8 * 512 + 1);
    assert_eq!(chains.len(), 1);
    let chain = &chains[0];
    assert_eq!(chain.len(), buffers.len());
    for (i, (descriptor, buffer)) in chain.iter().zip(&buffers).enumerate() {
        assert_eq!(
            (descriptor.addr, descriptor.len),
            (buffer.addr, buffer.len),
            "descriptor {i}"
        );
        let last = i + 1 == buffers.len();
        assert_eq!(
            descriptor.flags & VIRTQ_DESC_F_NEXT != 0,
            !last,
            "NEXT on descriptor {i}"
        );
        assert_eq!(
            descriptor.flags & VIRTQ_DESC_F_WRITE != 0,
            buffer.device_writes,
            "WRITE on descriptor {i}"
        );
    }

    assert_eq!(
        queue.poll_used(),
        Ok(Some(UsedElement {
            head,
            len: 8 * 512 + 1
        }))
    );
    assert_eq!(queue.poll_used(), Ok(None));
    assert_eq!(queue.num_free(), 64);
    assert_eq!(queue.in_flight(), 0);
}

#[test]
fn free_list_recycles_descriptors() {
    let (mut dev, mut queue, memory) = setup(8);
    // Many more descriptors than the queue has, over many round trips and index wrap-arounds of the rings.
    for round in 0..40u32 {
        let count = 1 + (round % 8) as usize;
        let buffers: Vec<Buffer> = (0..count)
            .map(|i| Buffer::writable(0x1000 * i as u64, 64))
            .collect();
        let head = queue.add_chain(&buffers).expect("add");
        assert_eq!(usize::from(queue.num_free()), 8 - count);
        complete_all(&mut dev, &memory, 64);
        assert_eq!(queue.poll_used(), Ok(Some(UsedElement { head, len: 64 })));
        assert_eq!(queue.num_free(), 8);
    }

    // Three chains in flight use disjoint descriptors; completing them out of order frees all of them.
    let heads: Vec<u16> = [3usize, 2, 3]
        .iter()
        .map(|&n| {
            queue
                .add_chain(&vec![Buffer::readable(0, 1); n])
                .expect("add")
        })
        .collect();
    assert_eq!(queue.num_free(), 0);
    let chains = complete_all(&mut dev, &memory, 0);
    let lengths: Vec<usize> = chains.iter().map(Vec::len).collect();
    assert_eq!(lengths, vec![3, 2, 3]);
    let mut seen = BTreeSet::new();
    // Walk the device-visible links to collect the descriptor indices of each chain.
    for &head in &heads {
        let layout = *queue.layout();
        let mut index = head;
        loop {
            assert!(seen.insert(index), "descriptor {index} in two chains");
            let flags = memory.read16(layout.descriptor(index) + 12);
            if flags & VIRTQ_DESC_F_NEXT == 0 {
                break;
            }
            index = memory.read16(layout.descriptor(index) + 14);
        }
    }
    assert_eq!(seen.len(), 8);
    let mut returned: Vec<u16> = (0..3)
        .map(|_| queue.poll_used().unwrap().unwrap().head)
        .collect();
    returned.sort_unstable();
    let mut expected = heads.clone();
    expected.sort_unstable();
    assert_eq!(returned, expected);
    assert_eq!(queue.num_free(), 8);
    // The whole table is usable as one chain again.
    queue
        .add_chain(&[Buffer::readable(0, 1); 8])
        .expect("all descriptors free");
}

#[test]
fn full_queue_is_an_error() {
    let (_dev, mut queue, memory) = setup(4);
    assert_eq!(
        queue.add_chain(&[Buffer::readable(0, 1); 5]),
        Err(Error::QueueFull { needed: 5, free: 4 })
    );
    queue.add_chain(&[Buffer::readable(0, 1); 3]).expect("add");
    let avail_idx = memory.read16(queue.layout().avail_idx());
    assert_eq!(
        queue.add_chain(&[Buffer::readable(0, 1); 2]),
        Err(Error::QueueFull { needed: 2, free: 1 })
    );
    assert_eq!(queue.num_free(), 1, "a refused chain takes nothing");
    assert_eq!(
        memory.read16(queue.layout().avail_idx()),
        avail_idx,
        "and publishes nothing"
    );
    queue
        .add_chain(&[Buffer::readable(0, 1)])
        .expect("the last descriptor is still free");
    assert_eq!(
        queue.add_chain(&[Buffer::readable(0, 1)]),
        Err(Error::QueueFull { needed: 1, free: 0 })
    );
}

#[test]
fn chain_shape_errors() {
    let (_dev, mut queue, _memory) = setup(8);
    assert_eq!(queue.add_chain(&[]), Err(Error::EmptyChain));
    assert_eq!(
        queue.add_chain(&[Buffer::writable(0, 1), Buffer::readable(0, 1)]),
        Err(Error::ReadableAfterWritable { index: 1 })
    );
    assert_eq!(
        queue.add_chain(&[Buffer::readable(0, u32::MAX), Buffer::writable(0, 1)]),
        Err(Error::ChainTooLong {
            total: u64::from(u32::MAX) + 1
        })
    );
    assert_eq!(queue.num_free(), 8);
}

#[test]
fn used_id_not_in_flight_is_an_error() {
    let (mut dev, mut queue, memory) = setup(8);
    let head = queue
        .add_chain(&[Buffer::readable(0, 16), Buffer::writable(0x100, 4)])
        .expect("add");
    let other = (head + 5) % 8;
    dev.push_used(0, &memory, u32::from(other), 0)
        .expect("push");
    assert_eq!(
        queue.poll_used(),
        Err(Error::UsedIdNotInFlight {
            id: u32::from(other)
        })
    );
    assert_eq!(queue.num_free(), 6, "nothing freed for a bogus id");

    dev.push_used(0, &memory, 1000, 0).expect("push");
    assert_eq!(
        queue.poll_used(),
        Err(Error::UsedIdNotInFlight { id: 1000 })
    );

    dev.push_used(0, &memory, u32::from(head), 5).expect("push");
    assert_eq!(
        queue.poll_used(),
        Err(Error::UsedLenTooLarge {
            head,
            len: 5,
            writable: 4
        })
    );
    assert_eq!(queue.num_free(), 8, "the chain itself came back");

    // A head the device already returned is no longer in flight, even while another chain is.
    let first = queue.add_chain(&[Buffer::writable(0, 4)]).expect("add");
    let second = queue.add_chain(&[Buffer::writable(0, 4)]).expect("add");
    assert_ne!(first, second);
    dev.push_used(0, &memory, u32::from(first), 4)
        .expect("push");
    assert_eq!(
        queue.poll_used(),
        Ok(Some(UsedElement {
            head: first,
            len: 4
        }))
    );
    dev.push_used(0, &memory, u32::from(first), 4)
        .expect("push");
    assert_eq!(
        queue.poll_used(),
        Err(Error::UsedIdNotInFlight {
            id: u32::from(first)
        })
    );
    assert_eq!(queue.in_flight(), 1);
}

#[test]
fn used_idx_beyond_in_flight_is_an_error() {
    let (mut dev, mut queue, memory) = setup(8);
    let head = queue.add_chain(&[Buffer::writable(0, 4)]).expect("add");
    dev.push_used(0, &memory, u32::from(head), 4).expect("push");
    dev.push_used(0, &memory, u32::from(head), 4).expect("push");
    assert_eq!(
        queue.poll_used(),
        Err(Error::UsedIdxAhead {
            used_idx: 2,
            last_used: 0,
            in_flight: 1
        })
    );
}

#[test]
fn avail_idx_published_after_ring_entry() {
    let (_dev, mut queue, memory) = setup(8);
    let layout = *queue.layout();
    memory.clear_events();
    let head = queue
        .add_chain(&[Buffer::readable(0x5000, 16), Buffer::writable(0x6000, 1)])
        .expect("add");
    let events = memory.events();
    let position = |wanted: MemoryEvent| events.iter().position(|&e| e == wanted);
    let ring_entry = position(MemoryEvent::Write {
        offset: layout.avail_ring(0),
        width: 2,
        value: u64::from(head),
    })
    .expect("ring entry written");
    let fence = position(MemoryEvent::Fence(Ordering::Release)).expect("release fence");
    let idx = position(MemoryEvent::Write {
        offset: layout.avail_idx(),
        width: 2,
        value: 1,
    })
    .expect("avail.idx written");
    assert!(ring_entry < fence && fence < idx, "{events:?}");
    assert_eq!(idx, events.len() - 1, "avail.idx is the last write");
    let last_descriptor_write = events
        .iter()
        .rposition(
            |e| matches!(e, MemoryEvent::Write { offset, .. } if *offset < layout.avail_offset),
        )
        .expect("descriptors written");
    assert!(last_descriptor_write < fence);
}

#[test]
fn poll_used_fences_after_reading_used_idx() {
    let (mut dev, mut queue, memory) = setup(8);
    queue.add_chain(&[Buffer::writable(0, 4)]).expect("add");
    complete_all(&mut dev, &memory, 4);
    memory.clear_events();
    queue.poll_used().expect("poll").expect("used");
    assert_eq!(memory.events(), vec![MemoryEvent::Fence(Ordering::Acquire)]);
}

#[test]
fn legacy_layout_aligns_used_ring() {
    let layout = Layout::new(TransportKind::Legacy, 256).expect("layout");
    assert_eq!(
        layout.avail_offset, 4096,
        "avail ring right after the 256 16-byte descriptors"
    );
    assert_eq!(
        layout.used_offset, 8192,
        "4096 + 6 + 512 rounded up to 4096"
    );
    assert_eq!(layout.total_len, 8192 + 4096);
    let mut size = 1u16;
    loop {
        let legacy = Layout::new(TransportKind::Legacy, size).expect("layout");
        let modern = Layout::new(TransportKind::Modern, size).expect("layout");
        let avail_end = 16 * usize::from(size) + 6 + 2 * usize::from(size);
        assert_eq!(legacy.avail_offset, 16 * usize::from(size));
        assert_eq!(legacy.used_offset % 4096, 0, "size {size}");
        assert!(legacy.used_offset >= avail_end && legacy.used_offset - avail_end < 4096);
        assert_eq!(legacy.total_len % 4096, 0);
        assert_eq!(modern.used_offset % 4, 0);
        assert!(modern.used_offset >= avail_end && modern.used_offset - avail_end < 4);
        if size == 32768 {
            break;
        }
        size *= 2;
    }
    // Legacy memory must be page-aligned as a whole.
    let memory = SharedMemory::new(QUEUE_BASE + 16, layout.total_len);
    assert!(matches!(
        SplitQueue::new(memory, TransportKind::Legacy, 256),
        Err(Error::QueueMemoryMisaligned { align: 4096, .. })
    ));
}

#[test]
fn queue_size_rules() {
    assert_eq!(
        Layout::new(TransportKind::Modern, 0),
        Err(Error::InvalidQueueSize {
            size: 0,
            max: 32768
        })
    );
    assert_eq!(
        Layout::new(TransportKind::Modern, 96),
        Err(Error::InvalidQueueSize {
            size: 96,
            max: 32768
        })
    );
    assert_eq!(choose_size(TransportKind::Modern, 1024, 256), Ok(256));
    assert_eq!(choose_size(TransportKind::Modern, 100, 256), Ok(64));
    assert_eq!(choose_size(TransportKind::Legacy, 128, 256), Ok(128));
    assert!(choose_size(TransportKind::Modern, 0, 256).is_err());
    let memory = SharedMemory::new(QUEUE_BASE, 100);
    assert!(matches!(
        SplitQueue::new(memory, TransportKind::Modern, 8),
        Err(Error::QueueMemoryTooSmall { available: 100, .. })
    ));
    // The device refuses a queue larger than its maximum.
    let mut dev = MockDevice::new(TransportKind::Modern, VIRTIO_F_VERSION_1, &[16]);
    let memory = SharedMemory::new(QUEUE_BASE, 4096);
    let queue = SplitQueue::new(memory, TransportKind::Modern, 32).expect("queue");
    assert_eq!(
        activate(&mut dev, 0, &queue),
        Err(Error::InvalidQueueSize { size: 32, max: 16 })
    );
    assert_eq!(
        activate(&mut dev, 1, &queue),
        Err(Error::QueueUnavailable { queue: 1 })
    );
}
