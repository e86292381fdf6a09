//! The app's heap: a bump allocator over one EfiLoaderData allocation made at entry, so the same heap serves
//! before and after ExitBootServices (the firmware's pool is gone after it) and never changes the memory map.
//!
//! Frees are ignored except for the most recent allocation, which may also grow in place; the app runs once and
//! allocates a few hundred KiB in all.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU64, Ordering};

/// Heap size: 4 MiB.
pub const HEAP_PAGES: usize = 1024;

/// The allocator. `end`, `next` and `last` are physical (= virtual, identity-mapped) addresses.
pub struct Bump {
    end: AtomicU64,
    next: AtomicU64,
    last: AtomicU64,
}

impl Bump {
    /// An allocator with no memory yet (every allocation fails until [`Bump::init`]).
    pub const fn empty() -> Bump {
        Bump {
            end: AtomicU64::new(0),
            next: AtomicU64::new(0),
            last: AtomicU64::new(0),
        }
    }

    /// Hands the allocator `[start, start + len)`.
    pub fn init(&self, start: u64, len: u64) {
        self.next.store(start, Ordering::SeqCst);
        self.end.store(start + len, Ordering::SeqCst);
    }
}

// SAFETY: single-threaded app with interrupts never enabled by it; each allocation is a fresh, aligned, in-bounds
// range of memory the app owns for its whole run.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let next = self.next.load(Ordering::SeqCst);
        let at = next.next_multiple_of(layout.align() as u64);
        let Some(new_next) = at.checked_add(layout.size() as u64) else {
            return core::ptr::null_mut();
        };
        if next == 0 || new_next > self.end.load(Ordering::SeqCst) {
            return core::ptr::null_mut();
        }
        self.next.store(new_next, Ordering::SeqCst);
        self.last.store(at, Ordering::SeqCst);
        at as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as u64 == self.last.load(Ordering::SeqCst) {
            let _ = layout;
            self.next.store(ptr as u64, Ordering::SeqCst);
            self.last.store(0, Ordering::SeqCst);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let end = self.end.load(Ordering::SeqCst);
        if ptr as u64 == self.last.load(Ordering::SeqCst) && ptr as u64 + new_size as u64 <= end {
            self.next
                .store(ptr as u64 + new_size as u64, Ordering::SeqCst);
            return ptr;
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (the caller guarantees no overflow).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: forwarded to this allocator's own `alloc`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both ranges are valid for the smaller size and do not overlap (bump order).
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
        }
        new
    }
}
