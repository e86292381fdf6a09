//! The ExitBootServices final phase: copy-back, no memory-map calls, no heap, owner report.

use std::vec::Vec;

use super::alloc_count::count_heap;
use super::{dma_with_hosts, pattern, DISK, HIGH_HOST, LOW_HOST, NIC};
use crate::{DmaError, MapToken, Operation, Policy};

#[test]
fn exit_release_allocates_nothing_and_completes_copy_back() {
    let mut dma = dma_with_hosts(Policy::default());
    let write = dma
        .map(DISK, Operation::BusMasterWrite, HIGH_HOST + 0x100, 0x1800)
        .unwrap();
    let read = dma
        .map(DISK, Operation::BusMasterRead, HIGH_HOST + 0x4000, 0x100)
        .unwrap();
    let identity = dma
        .map(NIC, Operation::BusMasterWrite, LOW_HOST, 0x100)
        .unwrap();
    let buffer = dma.allocate_buffer(NIC, 4, true).unwrap();
    dma.map(NIC, Operation::BusMasterCommonBuffer, buffer, 0x4000)
        .unwrap();
    assert_ne!(write.device_address, HIGH_HOST + 0x100);
    assert_ne!(read.device_address, HIGH_HOST + 0x4000);
    assert_eq!(identity.device_address, LOW_HOST);

    // The device wrote its final data, then its quiesce handler reset it.
    let data: Vec<u8> = (0..0x1800).map(|i| (i % 13) as u8).collect();
    dma.memory_mut().write(write.device_address, &data);
    dma.memory_mut().write(read.device_address, &[0xAA; 0x100]);
    let allocations = dma.memory().allocations();

    dma.memory_mut().frozen = true;
    let (calls, copies) = (
        dma.memory().allocate_calls + dma.memory().free_calls,
        dma.memory().copy_calls,
    );
    let (report, heap_calls) = count_heap(|| {
        let report = dma.release_all_at_exit();
        (
            report.mappings_released,
            report.bounce_mappings_released,
            report.copy_backs_completed,
            report.buffers_released,
            report.owners_truncated,
        )
    });
    assert_eq!(heap_calls, 0, "the final phase touched the heap");
    assert_eq!(report, (4, 2, 1, 1, false));
    assert_eq!(dma.memory().violations, 0);
    assert_eq!(dma.memory().allocate_calls + dma.memory().free_calls, calls);
    assert_eq!(dma.memory().copy_calls, copies + 1);
    // Copy-back done for the write bounce only; the read bounce did not leak into the host.
    assert_eq!(dma.memory().read(HIGH_HOST + 0x100, 0x1800), data);
    let host_read: Vec<u8> = (0x4000..0x4100).map(pattern).collect();
    assert_eq!(dma.memory().read(HIGH_HOST + 0x4000, 0x100), host_read);
    // Pages stay allocated (boot-services data for the OS); the lists are empty.
    assert_eq!(dma.memory().allocations(), allocations);
    assert_eq!(dma.live_mappings().count(), 0);
    assert_eq!(dma.live_buffers().count(), 0);
    assert!(dma.has_exited());
}

#[test]
fn exit_report_names_owners_that_left_mappings() {
    let mut dma = dma_with_hosts(Policy::default());
    const STOPPED: u64 = 0xC000;
    let s = dma
        .map(STOPPED, Operation::BusMasterRead, LOW_HOST, 0x10)
        .unwrap();
    dma.map(DISK, Operation::BusMasterRead, LOW_HOST, 0x10)
        .unwrap();
    dma.map(DISK, Operation::BusMasterWrite64, HIGH_HOST, 0x10)
        .unwrap();
    dma.allocate_buffer(NIC, 1, false).unwrap();
    dma.map(NIC, Operation::BusMasterRead, LOW_HOST + 0x20, 0x10)
        .unwrap();
    // The stopped driver released its mapping in Stop().
    dma.unmap(s.token).unwrap();
    dma.check_released(STOPPED).unwrap();

    let report = dma.release_all_at_exit();
    assert_eq!(report.owners, &[NIC, DISK][..]);
    assert_eq!(report.mappings_released, 3);
    assert_eq!(report.buffers_released, 1);
    assert!(!report.is_clean());
}

#[test]
fn exit_with_nothing_live_is_clean_and_second_exit_is_empty() {
    let mut dma = dma_with_hosts(Policy::default());
    let m = dma
        .map(NIC, Operation::BusMasterRead, HIGH_HOST, 0x10)
        .unwrap();
    dma.unmap(m.token).unwrap();
    let report = dma.release_all_at_exit();
    assert!(report.is_clean());
    assert!(report.owners.is_empty());
    let again = dma.release_all_at_exit();
    assert!(again.is_clean());
}

#[test]
fn calls_after_exit_are_refused() {
    let mut dma = dma_with_hosts(Policy::default());
    let m = dma
        .map(NIC, Operation::BusMasterWrite, HIGH_HOST, 0x10)
        .unwrap();
    let b = dma.allocate_buffer(NIC, 1, true).unwrap();
    dma.release_all_at_exit();
    let frozen_calls = dma.memory().allocate_calls + dma.memory().free_calls;
    assert_eq!(
        dma.map(NIC, Operation::BusMasterRead, LOW_HOST, 0x10),
        Err(DmaError::AfterExitBootServices)
    );
    assert_eq!(dma.unmap(m.token), Err(DmaError::AfterExitBootServices));
    assert_eq!(
        dma.unmap(MapToken::from_raw(77)),
        Err(DmaError::AfterExitBootServices)
    );
    assert_eq!(
        dma.allocate_buffer(NIC, 1, true),
        Err(DmaError::AfterExitBootServices)
    );
    assert_eq!(dma.free_buffer(b, 1), Err(DmaError::AfterExitBootServices));
    assert_eq!(
        dma.memory().allocate_calls + dma.memory().free_calls,
        frozen_calls
    );
}
