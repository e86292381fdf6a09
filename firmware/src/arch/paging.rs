//! Identity paging (Intel SDM vol. 3A section 4.5, 4-level paging with 2 MiB pages).
//!
//! The reset code maps [0, 4 GiB) through `boot_page_tables` (PML4, one PDPT, four page directories). Once the
//! memory map and the 64-bit PCI window are known, [`map_identity`] extends the same tables up to the highest
//! address in use: RAM above 4 GiB and 64-bit BARs. Every address the firmware can touch is mapped 1:1, so a
//! physical address is a pointer; that is the invariant the DMA layer and fw_cfg rely on.

use alloc::alloc::{alloc_zeroed, Layout};

extern "C" {
    static boot_page_tables: u8;
}

const PRESENT_WRITABLE: u64 = 0x3;
const PAGE_SIZE_2M: u64 = 0x80;
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
const GIB: u64 = 1 << 30;

/// The page-table page behind `entry`, allocating a zeroed one if the entry is empty.
fn next_table(entry: &mut u64) -> Option<&'static mut [u64; 512]> {
    if *entry & 1 == 0 {
        // SAFETY: the layout has non-zero size.
        let page = unsafe { alloc_zeroed(Layout::from_size_align(4096, 4096).ok()?) };
        if page.is_null() {
            return None;
        }
        *entry = page as u64 | PRESENT_WRITABLE;
    }
    // SAFETY: present entries of these tables point at 4 KiB table pages that are identity-mapped and owned by
    // the paging code for the firmware's lifetime (the boot tables or pages leaked from the heap above).
    Some(unsafe { &mut *((*entry & ADDRESS_MASK) as *mut [u64; 512]) })
}

/// Extends the identity map to cover [0, `top`) (rounded up to 1 GiB), with 2 MiB pages. Returns the new top,
/// or `None` if a page-table page could not be allocated.
pub fn map_identity(top: u64) -> Option<u64> {
    let top = top.div_ceil(GIB) * GIB;
    // SAFETY: `boot_page_tables` is the PML4 the reset code built and loaded into CR3; nothing else holds a
    // reference to it, and bring-up runs on one CPU.
    let pml4 = unsafe { &mut *(core::ptr::addr_of!(boot_page_tables) as u64 as *mut [u64; 512]) };
    let mut gib = 4;
    while gib * GIB < top {
        let address = gib * GIB;
        let pdpt = next_table(&mut pml4[(address >> 39) as usize & 511])?;
        let pdpt_entry = &mut pdpt[(address >> 30) as usize & 511];
        if *pdpt_entry & 1 == 0 {
            let pd = next_table(pdpt_entry)?;
            for (i, pde) in pd.iter_mut().enumerate() {
                *pde = (address + ((i as u64) << 21)) | PRESENT_WRITABLE | PAGE_SIZE_2M;
            }
        }
        gib += 1;
    }
    x86_64::instructions::tlb::flush_all();
    Some(top)
}
