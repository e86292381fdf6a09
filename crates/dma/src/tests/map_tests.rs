//! Map/Unmap/AllocateBuffer/FreeBuffer rules (UEFI 2.10 section 14.4).

use std::vec;
use std::vec::Vec;

use super::fake::FakeMemory;
use super::{dma_with_hosts, pattern, DISK, HIGH_HOST, LOW_HOST, NIC};
use crate::{Dma, DmaError, MapToken, Operation, Policy, Status, FOUR_GIB, PAGE_SIZE};

fn host_bytes(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(pattern).collect()
}

#[test]
fn bus_master_read_below_4g_is_identity() {
    let mut dma = dma_with_hosts(Policy::default());
    let m = dma
        .map(NIC, Operation::BusMasterRead, LOW_HOST + 0x10, 0x1234)
        .unwrap();
    assert_eq!(m.device_address, LOW_HOST + 0x10);
    assert_eq!(m.len, 0x1234);
    assert_eq!(dma.memory().allocate_calls, 0);
    assert_eq!(dma.memory().copy_calls, 0);
    let live: Vec<_> = dma.live_mappings().collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].bounce, None);
    assert_eq!(live[0].owner, NIC);
    dma.unmap(m.token).unwrap();
    assert_eq!(dma.live_mappings().count(), 0);
    assert_eq!(dma.memory().free_calls, 0);
}

#[test]
fn bus_master_read_above_4g_bounces_and_copies_at_map() {
    let mut dma = dma_with_hosts(Policy::default());
    let len = 0x1801;
    let m = dma
        .map(NIC, Operation::BusMasterRead, HIGH_HOST + 0x20, len)
        .unwrap();
    assert_ne!(m.device_address, HIGH_HOST + 0x20);
    assert!(
        m.device_address + len as u64 <= FOUR_GIB,
        "bounce must be reachable by a 32-bit device"
    );
    assert_eq!(m.device_address % PAGE_SIZE, 0);
    assert_eq!(dma.memory().allocations(), vec![(m.device_address, 2)]);
    // The device sees the host data at map time.
    assert_eq!(
        dma.memory().read(m.device_address, len),
        host_bytes(0x20, len)
    );
    // Reads are not copied back: a device scribbling on the bounce must not reach the host.
    dma.memory_mut().write(m.device_address, &[0; 16]);
    dma.unmap(m.token).unwrap();
    assert_eq!(
        dma.memory().read(HIGH_HOST + 0x20, len),
        host_bytes(0x20, len)
    );
    assert!(dma.memory().allocations().is_empty());
}

#[test]
fn bus_master_64bit_above_4g_is_identity() {
    let mut dma = dma_with_hosts(Policy::default());
    for op in [Operation::BusMasterRead64, Operation::BusMasterWrite64] {
        let m = dma.map(NIC, op, HIGH_HOST, 0x3000).unwrap();
        assert_eq!(m.device_address, HIGH_HOST);
        dma.unmap(m.token).unwrap();
    }
    assert_eq!(dma.memory().allocate_calls, 0);
}

#[test]
fn buffer_straddling_4g_bounces_for_32bit_devices() {
    let mut memory = FakeMemory::default();
    memory.add_host(FOUR_GIB - 0x800, 0x1000, pattern);
    let mut dma = Dma::new(memory, Policy::default());
    let m = dma
        .map(NIC, Operation::BusMasterRead, FOUR_GIB - 0x800, 0x1000)
        .unwrap();
    assert_ne!(m.device_address, FOUR_GIB - 0x800);
    assert!(m.device_address + 0x1000 <= FOUR_GIB);
    // Ending exactly at 4 GiB is reachable.
    let m2 = dma
        .map(NIC, Operation::BusMasterRead, FOUR_GIB - 0x800, 0x800)
        .unwrap();
    assert_eq!(m2.device_address, FOUR_GIB - 0x800);
}

#[test]
fn bus_master_write_bounce_copies_back_at_unmap() {
    let mut dma = dma_with_hosts(Policy::default());
    let len = 0x2000;
    let m = dma
        .map(DISK, Operation::BusMasterWrite, HIGH_HOST, len)
        .unwrap();
    assert!(m.device_address + len as u64 <= FOUR_GIB);
    // The device writes the first half only; the host is untouched until unmap.
    let written: Vec<u8> = (0..0x1000).map(|i| (i % 251) as u8).collect();
    dma.memory_mut().write(m.device_address, &written);
    assert_eq!(dma.memory().read(HIGH_HOST, len), host_bytes(0, len));
    dma.unmap(m.token).unwrap();
    assert_eq!(dma.memory().read(HIGH_HOST, 0x1000), written);
    // Bytes the device did not write come back unchanged (bounce was pre-filled from the host).
    assert_eq!(
        dma.memory().read(HIGH_HOST + 0x1000, 0x1000),
        host_bytes(0x1000, 0x1000)
    );
    assert!(dma.memory().allocations().is_empty());
}

#[test]
fn common_buffer_never_bounces() {
    let mut dma = dma_with_hosts(Policy { force_bounce: true });
    let low = dma.allocate_buffer(NIC, 2, true).unwrap();
    let high = dma.allocate_buffer(NIC, 2, false).unwrap();
    assert!(low + 2 * PAGE_SIZE <= FOUR_GIB);
    assert!(high >= FOUR_GIB);
    let allocations_before = dma.memory().allocate_calls;

    let m = dma
        .map(NIC, Operation::BusMasterCommonBuffer, low + 0x100, 0x1000)
        .unwrap();
    assert_eq!(m.device_address, low + 0x100);
    let m64 = dma
        .map(NIC, Operation::BusMasterCommonBuffer64, high, 0x2000)
        .unwrap();
    assert_eq!(m64.device_address, high);
    assert_eq!(dma.memory().allocate_calls, allocations_before);

    // Unreachable for a 32-bit device: error, not a bounce.
    assert_eq!(
        dma.map(NIC, Operation::BusMasterCommonBuffer, high, 0x1000),
        Err(DmaError::CommonBufferUnreachable {
            host_address: high,
            len: 0x1000
        })
    );
    // Not from allocate_buffer (or running past its end): error.
    assert_eq!(
        dma.map(NIC, Operation::BusMasterCommonBuffer, LOW_HOST, 0x10),
        Err(DmaError::CommonBufferNotAllocated {
            host_address: LOW_HOST,
            len: 0x10
        })
    );
    assert_eq!(
        dma.map(NIC, Operation::BusMasterCommonBuffer, low + 0x1000, 0x1001),
        Err(DmaError::CommonBufferNotAllocated {
            host_address: low + 0x1000,
            len: 0x1001
        })
    );
    assert_eq!(dma.memory().allocate_calls, allocations_before);
    assert_eq!(dma.live_mappings().count(), 2);

    // A buffer cannot be freed while mapped.
    assert_eq!(
        dma.free_buffer(low, 2),
        Err(DmaError::BufferStillMapped {
            address: low,
            token: m.token
        })
    );
    dma.unmap(m.token).unwrap();
    dma.unmap(m64.token).unwrap();
    dma.free_buffer(low, 2).unwrap();
    dma.free_buffer(high, 2).unwrap();
    assert!(dma.memory().allocations().is_empty());
}

#[test]
fn free_buffer_rejects_unknown_and_mismatched() {
    let mut dma = dma_with_hosts(Policy::default());
    let b = dma.allocate_buffer(DISK, 3, true).unwrap();
    assert_eq!(
        dma.free_buffer(b + PAGE_SIZE, 2),
        Err(DmaError::BufferNotAllocated {
            address: b + PAGE_SIZE
        })
    );
    assert_eq!(
        dma.free_buffer(b, 2),
        Err(DmaError::BufferPagesMismatch {
            address: b,
            allocated: 3,
            given: 2
        })
    );
    assert_eq!(dma.free_buffer(b, 0), Err(DmaError::ZeroPages));
    assert_eq!(dma.allocate_buffer(DISK, 0, true), Err(DmaError::ZeroPages));
    assert_eq!(dma.live_buffers().count(), 1);
    dma.free_buffer(b, 3).unwrap();
    assert_eq!(
        dma.free_buffer(b, 3),
        Err(DmaError::BufferNotAllocated { address: b })
    );
}

#[test]
fn unmap_stale_token_is_an_error() {
    let mut dma = dma_with_hosts(Policy::default());
    let m = dma
        .map(NIC, Operation::BusMasterWrite, HIGH_HOST, 0x100)
        .unwrap();
    dma.unmap(m.token).unwrap();
    let frees = dma.memory().free_calls;
    let copies = dma.memory().copy_calls;
    assert_eq!(dma.unmap(m.token), Err(DmaError::UnknownToken(m.token)));
    assert_eq!(
        dma.unmap(MapToken::from_raw(0)),
        Err(DmaError::UnknownToken(MapToken::from_raw(0)))
    );
    assert_eq!(
        dma.unmap(MapToken::from_raw(999)),
        Err(DmaError::UnknownToken(MapToken::from_raw(999)))
    );
    // A stale unmap neither frees nor copies again.
    assert_eq!(dma.memory().free_calls, frees);
    assert_eq!(dma.memory().copy_calls, copies);
    // A new mapping never reuses the old token.
    let m2 = dma
        .map(NIC, Operation::BusMasterWrite, HIGH_HOST, 0x100)
        .unwrap();
    assert_ne!(m2.token, m.token);
    assert_ne!(m2.token.as_raw(), 0);
    assert_eq!(dma.unmap(m.token), Err(DmaError::UnknownToken(m.token)));
    assert_eq!(dma.live_mappings().count(), 1);
    assert_eq!(
        dma.unmap(m.token).unwrap_err().status(),
        Status::INVALID_PARAMETER
    );
}

#[test]
fn force_bounce_policy_bounces_everything_but_common_buffers() {
    let mut dma = dma_with_hosts(Policy { force_bounce: true });
    for (op, host) in [
        (Operation::BusMasterRead, LOW_HOST),
        (Operation::BusMasterWrite, LOW_HOST),
        (Operation::BusMasterRead64, HIGH_HOST),
        (Operation::BusMasterWrite64, LOW_HOST),
    ] {
        let m = dma.map(NIC, op, host + 0x40, 0x200).unwrap();
        assert_ne!(m.device_address, host + 0x40, "{op:?} must bounce");
        let live = dma.live_mappings().find(|l| l.token == m.token).unwrap();
        assert_eq!(live.bounce.map(|b| b.address), Some(m.device_address));
        if !op.is_64bit() {
            assert!(m.device_address < FOUR_GIB);
        }
        assert_eq!(
            dma.memory().read(m.device_address, 0x200),
            host_bytes(0x40, 0x200)
        );
    }
    let buffer = dma.allocate_buffer(NIC, 1, true).unwrap();
    let c = dma
        .map(NIC, Operation::BusMasterCommonBuffer, buffer, 0x1000)
        .unwrap();
    assert_eq!(c.device_address, buffer);
    assert_eq!(
        dma.live_mappings().filter(|l| l.bounce.is_some()).count(),
        4
    );
}

#[test]
fn map_rejects_bad_arguments_without_side_effects() {
    let mut dma = dma_with_hosts(Policy::default());
    assert_eq!(
        dma.map(NIC, Operation::BusMasterRead, LOW_HOST, 0),
        Err(DmaError::ZeroLength)
    );
    assert_eq!(
        dma.map(NIC, Operation::BusMasterRead, u64::MAX - 4, 0x10),
        Err(DmaError::AddressOverflow {
            host_address: u64::MAX - 4,
            len: 0x10
        })
    );
    dma.memory_mut().fail_allocations = true;
    let err = dma
        .map(NIC, Operation::BusMasterRead, HIGH_HOST, 0x10)
        .unwrap_err();
    assert_eq!(err, DmaError::AllocatePages(Status::OUT_OF_RESOURCES));
    assert_eq!(err.status(), Status::OUT_OF_RESOURCES);
    assert_eq!(dma.live_mappings().count(), 0);
    // The failed attempts consumed no token.
    dma.memory_mut().fail_allocations = false;
    let m = dma
        .map(NIC, Operation::BusMasterRead, HIGH_HOST, 0x10)
        .unwrap();
    assert_eq!(m.token.as_raw(), 1);
}

#[test]
fn pages_promised_below_4g_are_checked() {
    let mut dma = dma_with_hosts(Policy::default());
    dma.memory_mut().misplace_next = Some(0x30_0000_0000);
    assert_eq!(
        dma.map(NIC, Operation::BusMasterRead, HIGH_HOST, 0x10),
        Err(DmaError::PagesAbove4GiB {
            address: 0x30_0000_0000,
            pages: 1
        })
    );
    // The misplaced pages were given back.
    assert!(dma.memory().allocations().is_empty());
    assert_eq!(dma.live_mappings().count(), 0);
}

#[test]
fn check_released_names_what_an_owner_still_holds() {
    let mut dma = dma_with_hosts(Policy::default());
    let m = dma
        .map(NIC, Operation::BusMasterRead, LOW_HOST, 0x10)
        .unwrap();
    let b = dma.allocate_buffer(NIC, 1, true).unwrap();
    let d = dma
        .map(DISK, Operation::BusMasterWrite, HIGH_HOST, 0x10)
        .unwrap();
    assert_eq!(
        dma.check_released(NIC),
        Err(DmaError::OwnerStillHolds {
            owner: NIC,
            mappings: 1,
            buffers: 1
        })
    );
    assert_eq!(
        dma.mappings_of(DISK).map(|l| l.token).collect::<Vec<_>>(),
        vec![d.token]
    );
    dma.unmap(m.token).unwrap();
    dma.free_buffer(b, 1).unwrap();
    assert_eq!(dma.check_released(NIC), Ok(()));
    assert_eq!(dma.buffers_of(NIC).count(), 0);
    assert!(dma.check_released(DISK).is_err());
}

#[test]
fn operation_raw_values_follow_the_spec() {
    for (raw, op) in Operation::ALL.iter().enumerate() {
        assert_eq!(Operation::from_raw(raw as u32), Ok(*op));
        assert_eq!(op.as_raw(), raw as u32);
    }
    assert_eq!(Operation::from_raw(6), Err(DmaError::UnknownOperation(6)));
    assert!(Operation::BusMasterWrite64.is_write() && Operation::BusMasterWrite64.is_64bit());
    assert!(
        !Operation::BusMasterCommonBuffer.is_read() && !Operation::BusMasterCommonBuffer.is_write()
    );
}
