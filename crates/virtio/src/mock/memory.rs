//! [`SharedMemory`]: queue memory in a `Vec` shared between the driver's queue and the mock device, with a log of
//! every driver access and fence.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::sync::atomic::Ordering;

use crate::queue::QueueMemory;

/// One driver-side event on a [`SharedMemory`], in program order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryEvent {
    /// A write of `width` bytes of `value` at `offset`.
    Write {
        /// Byte offset.
        offset: usize,
        /// Width in bytes (1, 2, 4 or 8).
        width: u8,
        /// Value written.
        value: u64,
    },
    /// A fence of the given ordering.
    Fence(Ordering),
}

#[derive(Debug)]
struct Inner {
    bytes: Vec<u8>,
    log: Vec<MemoryEvent>,
}

/// Queue memory of `len` bytes at device address `base`, cloneable: clones share the bytes and the log, so the
/// driver's queue owns one clone and the mock device (or a test) reads and writes through another.
///
/// Driver accesses (the [`QueueMemory`] methods) are logged; the `device_*` methods are not. Out-of-range
/// accesses panic (it is test support: the queue must never make one).
#[derive(Debug, Clone)]
pub struct SharedMemory {
    base: u64,
    inner: Rc<RefCell<Inner>>,
}

impl SharedMemory {
    /// `len` zero bytes at device address `base`.
    pub fn new(base: u64, len: usize) -> Self {
        Self {
            base,
            inner: Rc::new(RefCell::new(Inner {
                bytes: vec![0; len],
                log: Vec::new(),
            })),
        }
    }

    /// Translates a device address range to an offset, if it lies inside the memory.
    pub fn offset_of(&self, address: u64, len: usize) -> Option<usize> {
        let offset = usize::try_from(address.checked_sub(self.base)?).ok()?;
        (offset.checked_add(len)? <= self.inner.borrow().bytes.len()).then_some(offset)
    }

    /// The driver events logged so far.
    pub fn events(&self) -> Vec<MemoryEvent> {
        self.inner.borrow().log.clone()
    }

    /// Forgets the logged events.
    pub fn clear_events(&self) {
        self.inner.borrow_mut().log.clear();
    }

    /// Device-side read of `N` little-endian bytes at `offset`.
    pub fn device_read<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&self.inner.borrow().bytes[offset..offset + N]);
        out
    }

    /// Device-side read of `len` bytes at `offset`.
    pub fn device_bytes(&self, offset: usize, len: usize) -> Vec<u8> {
        self.inner.borrow().bytes[offset..offset + len].to_vec()
    }

    /// Device-side 16-bit read.
    pub fn device_read16(&self, offset: usize) -> u16 {
        u16::from_le_bytes(self.device_read(offset))
    }

    /// Device-side 32-bit read.
    pub fn device_read32(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.device_read(offset))
    }

    /// Device-side 64-bit read.
    pub fn device_read64(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.device_read(offset))
    }

    /// Device-side write of `bytes` at `offset` (not logged).
    pub fn device_write(&self, offset: usize, bytes: &[u8]) {
        self.inner.borrow_mut().bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    fn driver_write(&mut self, offset: usize, bytes: &[u8]) {
        let mut value = [0u8; 8];
        value[..bytes.len()].copy_from_slice(bytes);
        let mut inner = self.inner.borrow_mut();
        inner.bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
        inner.log.push(MemoryEvent::Write {
            offset,
            width: bytes.len() as u8,
            value: u64::from_le_bytes(value),
        });
    }
}

impl QueueMemory for SharedMemory {
    fn base_address(&self) -> u64 {
        self.base
    }
    fn len(&self) -> usize {
        self.inner.borrow().bytes.len()
    }
    fn read8(&self, offset: usize) -> u8 {
        self.device_read::<1>(offset)[0]
    }
    fn read16(&self, offset: usize) -> u16 {
        self.device_read16(offset)
    }
    fn read32(&self, offset: usize) -> u32 {
        self.device_read32(offset)
    }
    fn write8(&mut self, offset: usize, value: u8) {
        self.driver_write(offset, &[value]);
    }
    fn write16(&mut self, offset: usize, value: u16) {
        self.driver_write(offset, &value.to_le_bytes());
    }
    fn write32(&mut self, offset: usize, value: u32) {
        self.driver_write(offset, &value.to_le_bytes());
    }
    fn write64(&mut self, offset: usize, value: u64) {
        self.driver_write(offset, &value.to_le_bytes());
    }
    fn fence(&mut self, order: Ordering) {
        core::sync::atomic::fence(order);
        self.inner.borrow_mut().log.push(MemoryEvent::Fence(order));
    }
}
