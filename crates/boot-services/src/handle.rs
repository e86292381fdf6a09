//! Handle values handed out by the protocol database (UEFI 2.10 section 7.3, "EFI_HANDLE").
//!
//! A UEFI handle is an opaque `*mut c_void`. This engine never dereferences one: a handle is only a key into the
//! database's `BTreeMap<usize, _>`, so a stale, forged or null handle is simply absent from the map and every
//! service reports `EFI_INVALID_PARAMETER` for it.
//!
//! Invariants:
//! - handle values come from a monotonically increasing counter and are never reused, so a handle that was
//!   destroyed (its last protocol uninstalled) can never alias a later handle;
//! - values are multiples of [`HANDLE_STRIDE`] and never 0, so they look like aligned pointers to C callers, and
//!   they never collide with registration keys (which are odd multiples of 8, see
//!   [`crate::protocol::Registration`]);
//! - the pointer values carry no provenance (`core::ptr::without_provenance_mut`): nothing may read through them.

use r_efi::efi::Handle;

/// Distance in bytes between two consecutive handle values.
pub const HANDLE_STRIDE: usize = 16;

/// Converts a handle to the integer key the database uses. Pure address arithmetic, never a dereference.
pub fn handle_key(handle: Handle) -> usize {
    handle.addr()
}

/// Converts a database key back to the opaque handle given to callers.
pub fn key_handle(key: usize) -> Handle {
    core::ptr::without_provenance_mut(key)
}

/// Allocator of fresh handle values: monotonically increasing, never reused.
#[derive(Debug)]
pub struct HandleAllocator {
    next: usize,
}

impl HandleAllocator {
    /// A new allocator; the first handle it returns is `HANDLE_STRIDE`.
    pub const fn new() -> Self {
        HandleAllocator {
            next: HANDLE_STRIDE,
        }
    }

    /// The next never-used handle key, or `None` once the address space is exhausted (the caller reports
    /// `EFI_OUT_OF_RESOURCES`).
    pub fn allocate(&mut self) -> Option<usize> {
        let key = self.next;
        self.next = key.checked_add(HANDLE_STRIDE)?;
        Some(key)
    }
}

impl Default for HandleAllocator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_never_reuses_and_never_returns_null() {
        let mut a = HandleAllocator::new();
        let x = a.allocate().unwrap();
        let y = a.allocate().unwrap();
        assert_ne!(x, 0);
        assert!(y > x);
        assert_eq!(x % HANDLE_STRIDE, 0);
        assert_eq!(handle_key(key_handle(y)), y);
    }

    #[test]
    fn allocator_reports_exhaustion() {
        let mut a = HandleAllocator {
            next: usize::MAX - 3,
        };
        assert!(a.allocate().is_none());
    }
}
