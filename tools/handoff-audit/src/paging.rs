//! The app's own page tables after ExitBootServices: 4-level paging, identity-mapped with 2 MiB pages, built in an
//! EfiLoaderData pool the app allocated before ExitBootServices (Intel SDM vol. 3A §4.5).
//!
//! What is mapped: every range of the final memory map (write-back; MMIO descriptors uncached), the rest of the
//! first 4 GiB uncached (32-bit BARs, ECAM, APICs), and on demand the 2 MiB pages holding the 64-bit BARs the
//! audit reads ([`PhysMmio`]). A 2 MiB page keeps the attributes of its first mapping. Adding a mapping for a
//! page that was not present needs no TLB flush (not-present entries are never cached); `invlpg` is issued
//! anyway.

use handoff_audit_core::device::Mmio;
use handoff_audit_core::memmap::{Range, PAGE_SIZE};

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
const LARGE: u64 = 1 << 7;
const ADDRESS: u64 = 0x000f_ffff_ffff_f000;
/// 2 MiB.
pub const LARGE_PAGE: u64 = 1 << 21;
/// Addresses from 2^48 on cannot be mapped with 4-level paging.
const LIMIT: u64 = 1 << 48;

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The table pool is used up.
    PoolExhausted,
    /// The address is at or above 2^48.
    TooHigh(u64),
}

/// Page tables in a pool of pages.
pub struct PageTables {
    pml4: u64,
    pool_next: u64,
    pool_end: u64,
}

impl PageTables {
    /// Tables whose pages come from `[pool, pool + pages * 4 KiB)` (identity-mapped, owned by the app).
    pub fn new(pool: u64, pages: u64) -> Result<PageTables, MapError> {
        let mut t = PageTables {
            pml4: 0,
            pool_next: pool,
            pool_end: pool + pages * PAGE_SIZE,
        };
        t.pml4 = t.table()?;
        Ok(t)
    }

    fn table(&mut self) -> Result<u64, MapError> {
        if self.pool_next >= self.pool_end {
            return Err(MapError::PoolExhausted);
        }
        let page = self.pool_next;
        self.pool_next += PAGE_SIZE;
        // SAFETY: the page lies in the app's own pool, identity-mapped under both the firmware's and these tables.
        unsafe { core::ptr::write_bytes(page as *mut u8, 0, PAGE_SIZE as usize) };
        Ok(page)
    }

    fn slot(table: u64, index: u64) -> *mut u64 {
        (table + 8 * index) as *mut u64
    }

    fn next_level(&mut self, table: u64, index: u64) -> Result<u64, MapError> {
        let slot = Self::slot(table, index);
        // SAFETY: `table` is one of this pool's pages and `index` < 512.
        let entry = unsafe { slot.read_volatile() };
        if entry & PRESENT != 0 {
            return Ok(entry & ADDRESS);
        }
        let next = self.table()?;
        // SAFETY: as above.
        unsafe { slot.write_volatile(next | PRESENT | WRITABLE) };
        Ok(next)
    }

    /// Maps the 2 MiB page holding `addr`; returns whether it was newly mapped.
    pub fn map_large(&mut self, addr: u64, uncached: bool) -> Result<bool, MapError> {
        if addr >= LIMIT {
            return Err(MapError::TooHigh(addr));
        }
        let page = addr & !(LARGE_PAGE - 1);
        let pdpt = self.next_level(self.pml4, (page >> 39) & 511)?;
        let pd = self.next_level(pdpt, (page >> 30) & 511)?;
        let slot = Self::slot(pd, (page >> 21) & 511);
        // SAFETY: `pd` is one of this pool's pages.
        if unsafe { slot.read_volatile() } & PRESENT != 0 {
            return Ok(false);
        }
        let cache = if uncached {
            CACHE_DISABLE | WRITE_THROUGH
        } else {
            0
        };
        // SAFETY: as above; the entry was not present, so no TLB holds it.
        unsafe {
            slot.write_volatile(page | PRESENT | WRITABLE | LARGE | cache);
            core::arch::asm!("invlpg [{}]", in(reg) page, options(nostack));
        }
        Ok(true)
    }

    /// Maps every 2 MiB page that `range` touches.
    pub fn map_range(&mut self, range: Range, uncached: bool) -> Result<(), MapError> {
        let mut page = range.start & !(LARGE_PAGE - 1);
        while page < range.end {
            self.map_large(page, uncached)?;
            page = match page.checked_add(LARGE_PAGE) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(())
    }

    /// Loads these tables into CR3.
    ///
    /// # Safety
    /// Everything the app touches from here on (its code, data, stack, heap, the pool) must be mapped.
    pub unsafe fn activate(&self) {
        // SAFETY: the caller guarantees the tables cover everything in use.
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) self.pml4, options(nostack)) };
    }
}

/// Physical memory through the app's tables: each access first maps its 2 MiB page (uncached when new).
pub struct PhysMmio<'a> {
    /// The live tables.
    pub tables: &'a mut PageTables,
    /// Set when a mapping failed; the access then read all ones.
    pub failed: Option<MapError>,
}

impl PhysMmio<'_> {
    fn reachable(&mut self, addr: u64) -> bool {
        match self.tables.map_large(addr, true) {
            Ok(_) => true,
            Err(e) => {
                self.failed.get_or_insert(e);
                false
            }
        }
    }
}

impl Mmio for PhysMmio<'_> {
    fn read8(&mut self, addr: u64) -> u8 {
        if !self.reachable(addr) {
            return !0;
        }
        // SAFETY: the page is identity-mapped; device registers and RAM accept reads.
        unsafe { (addr as *const u8).read_volatile() }
    }
    fn read16(&mut self, addr: u64) -> u16 {
        if !self.reachable(addr) {
            return !0;
        }
        // SAFETY: as `read8`; callers pass naturally aligned register addresses.
        unsafe { (addr as *const u16).read_volatile() }
    }
    fn read32(&mut self, addr: u64) -> u32 {
        if !self.reachable(addr) {
            return !0;
        }
        // SAFETY: as `read16`.
        unsafe { (addr as *const u32).read_volatile() }
    }
    fn write16(&mut self, addr: u64, value: u16) {
        if self.reachable(addr) {
            // SAFETY: only virtio `queue_select` registers are written (a selector; no DMA follows).
            unsafe { (addr as *mut u16).write_volatile(value) };
        }
    }
}
