//! The firmware's Rust heap (`alloc`).
//!
//! Two regions: a bootstrap region linked into the image (for fw_cfg parsing before the memory map is known) and
//! the main region, carved from RAM once `etc/e820` has been read. Both are reported in the memory map as the
//! firmware's own. The lock is a spin flag held with interrupts masked: event notify functions run from the timer
//! interrupt (UEFI 2.10 section 7.1: a TPL drop dispatches them), and they may allocate, so an interrupt must never
//! arrive while the flag is held on the same CPU.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};
use linked_list_allocator::Heap;

extern "C" {
    static bootstrap_heap_start: u8;
    static bootstrap_heap_end: u8;
}

struct Heaps {
    lock: AtomicBool,
    regions: UnsafeCell<[(Heap, u64, u64); 2]>,
}

// SAFETY: `regions` is only touched while `lock` is held.
unsafe impl Sync for Heaps {}

#[global_allocator]
static HEAPS: Heaps = Heaps {
    lock: AtomicBool::new(false),
    regions: UnsafeCell::new([(Heap::empty(), 0, 0), (Heap::empty(), 0, 0)]),
};

impl Heaps {
    fn with<R>(&self, f: impl FnOnce(&mut [(Heap, u64, u64); 2]) -> R) -> R {
        x86_64::instructions::interrupts::without_interrupts(|| self.locked(f))
    }

    fn locked<R>(&self, f: impl FnOnce(&mut [(Heap, u64, u64); 2]) -> R) -> R {
        while self
            .lock
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: the lock flag gives exclusive access.
        let result = f(unsafe { &mut *self.regions.get() });
        self.lock.store(false, Ordering::Release);
        result
    }
}

unsafe impl GlobalAlloc for Heaps {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with(|regions| {
            // Prefer the main region (index 1) once it exists.
            for (heap, _, _) in regions.iter_mut().rev() {
                if let Ok(ptr) = heap.allocate_first_fit(layout) {
                    return ptr.as_ptr();
                }
            }
            null_mut()
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.with(|regions| {
            let addr = ptr as u64;
            if let Some((heap, _, _)) = regions
                .iter_mut()
                .find(|(_, start, end)| (*start..*end).contains(&addr))
            {
                // SAFETY: `ptr` came from this heap's `allocate_first_fit` with the same layout (GlobalAlloc contract).
                unsafe { heap.deallocate(NonNull::new_unchecked(ptr), layout) };
            }
        })
    }
}

/// The bootstrap region's bounds, `[start, end)`.
pub fn bootstrap_region() -> (u64, u64) {
    // SAFETY: linker-script symbols; only their addresses are taken.
    unsafe {
        (
            &bootstrap_heap_start as *const u8 as u64,
            &bootstrap_heap_end as *const u8 as u64,
        )
    }
}

/// Makes the bootstrap region available. Called once, first thing at bring-up.
pub fn init_bootstrap() {
    let (start, end) = bootstrap_region();
    // SAFETY: the linker reserves [start, end) for this heap alone and nothing else uses it.
    HEAPS.with(|r| unsafe {
        r[0].0.init(start as *mut u8, (end - start) as usize);
        r[0].1 = start;
        r[0].2 = end;
    });
}

/// Adds the main region `[start, start + size)`, which the caller has removed from the memory map's free RAM.
///
/// # Safety
/// The range must be RAM, identity-mapped, and used by nothing else for the firmware's lifetime.
pub unsafe fn add_main_region(start: u64, size: u64) {
    HEAPS.with(|r| {
        // SAFETY: guaranteed by this function's contract.
        unsafe { r[1].0.init(start as *mut u8, size as usize) };
        r[1].1 = start;
        r[1].2 = start + size;
    });
}

/// Bytes in use and free across both regions, for the inventory.
pub fn usage() -> (usize, usize) {
    HEAPS.with(|r| {
        r.iter().fold((0, 0), |(used, free), (heap, _, _)| {
            (used + heap.used(), free + heap.free())
        })
    })
}
