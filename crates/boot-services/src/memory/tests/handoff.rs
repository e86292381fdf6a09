//! The ExitBootServices handoff lock.

use alloc::string::String;

use r_efi::efi;

use super::*;
use crate::memory::{AllocateType, HandoffViolation, MapError, HANDOFF_LOCKED_STATUS};
use crate::Status;

#[test]
fn allocation_after_lock_is_recorded_as_violation() {
    let mut m = qemu();
    let pages = m
        .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 2)
        .unwrap();
    let pool = m.allocate_pool(efi::BOOT_SERVICES_DATA, 32).unwrap();
    m.lock("ExitBootServices");
    m.set_context("ExitBootServices notify of image 3");
    assert_eq!(
        m.allocate_pages(AllocateType::Address(0x20000), efi::LOADER_DATA, 1),
        Err(HANDOFF_LOCKED_STATUS)
    );
    assert_eq!(
        m.allocate_pool(efi::BOOT_SERVICES_DATA, 24),
        Err(HANDOFF_LOCKED_STATUS)
    );
    m.clear_context();
    assert_eq!(m.free_pages(pages, 2), Err(HANDOFF_LOCKED_STATUS));
    assert_eq!(m.free_pool(pool), Err(HANDOFF_LOCKED_STATUS));
    let v = m.violations();
    assert_eq!(v.len(), 4);
    assert_eq!(
        v[0],
        HandoffViolation {
            call: "AllocatePages",
            context: String::from("ExitBootServices notify of image 3"),
            lock_reason: "ExitBootServices",
            memory_type: Some(efi::LOADER_DATA),
            address: Some(0x20000),
            amount: 1,
        }
    );
    assert_eq!(
        (v[1].call, v[1].amount, v[1].memory_type),
        ("AllocatePool", 24, Some(efi::BOOT_SERVICES_DATA))
    );
    assert_eq!(v[1].context, "ExitBootServices notify of image 3");
    assert_eq!(
        (v[2].call, v[2].address, v[2].context.as_str()),
        ("FreePages", Some(pages), "")
    );
    assert_eq!(
        (v[3].call, v[3].address, v[3].amount),
        ("FreePool", Some(pool), 0)
    );
}

#[test]
fn handoff_locked_status_is_unsupported() {
    assert_eq!(HANDOFF_LOCKED_STATUS, Status::UNSUPPORTED);
}

#[test]
fn lock_freezes_map_and_key() {
    let mut m = qemu();
    let pool = m.allocate_pool(efi::BOOT_SERVICES_DATA, 32).unwrap();
    let before = ranges(&m);
    let key = m.map_key();
    m.take_changed();
    m.lock("ExitBootServices");
    let _ = m.allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 1);
    let _ = m.allocate_pool(efi::BOOT_SERVICES_DATA, 8);
    let _ = m.free_pool(pool);
    assert_eq!(ranges(&m), before);
    assert_eq!(m.map_key(), key);
    assert!(!m.take_changed());
    assert!(m.pool_allocation(pool).is_some());
}

#[test]
fn invalid_calls_after_lock_are_still_violations() {
    let mut m = qemu();
    m.lock("ExitBootServices");
    assert_eq!(
        m.allocate_pages(AllocateType::AnyPages, efi::CONVENTIONAL_MEMORY, 0),
        Err(HANDOFF_LOCKED_STATUS)
    );
    assert_eq!(m.free_pool(0x1234), Err(HANDOFF_LOCKED_STATUS));
    assert_eq!(m.violations().len(), 2);
}

#[test]
fn get_memory_map_works_after_lock() {
    let mut m = qemu();
    let key = m.map_key();
    m.lock("ExitBootServices");
    let snap = m.get_memory_map(usize::MAX).unwrap();
    assert_eq!(snap.map_key, key);
    assert!(m.violations().is_empty());
}

#[test]
fn firmware_map_changes_after_lock_are_refused() {
    let mut m = qemu();
    m.lock("ExitBootServices");
    assert_eq!(
        m.add_range(8 * GIB, 1, efi::CONVENTIONAL_MEMORY, RAM_ATTR),
        Err(MapError::Locked)
    );
    assert_eq!(
        m.reserve_range(0x20000, 1, efi::BOOT_SERVICES_DATA),
        Err(MapError::Locked)
    );
    assert_eq!(m.add_runtime_mmio(8 * GIB, 1), Err(MapError::Locked));
}

#[test]
fn lock_keeps_first_reason_and_starts_unlocked() {
    let mut m = qemu();
    assert!(!m.is_locked());
    assert_eq!(m.lock_reason(), None);
    m.lock("ExitBootServices");
    m.lock("again");
    assert!(m.is_locked());
    assert_eq!(m.lock_reason(), Some("ExitBootServices"));
    let _ = m.allocate_pool(efi::LOADER_DATA, 1);
    assert_eq!(m.violations()[0].lock_reason, "ExitBootServices");
}

#[test]
fn calls_before_lock_are_not_violations() {
    let mut m = qemu();
    m.set_context("driver");
    let a = m.allocate_pool(efi::LOADER_DATA, 1).unwrap();
    m.free_pool(a).unwrap();
    assert!(m.violations().is_empty());
}
