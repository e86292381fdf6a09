//! The physical memory map at bring-up: QEMU's `etc/e820` (CMOS as the fallback), with every range the firmware
//! takes for itself carved out and named, and the regions bring-up hands out: the main heap and the arena that
//! holds the ACPI and SMBIOS tables.
//!
//! Layout (low RAM, below 4 GiB):
//! ```text
//! 0 .. 640 KiB        RAM
//! 640 KiB .. 1 MiB    reserved (legacy VGA, option ROMs, BIOS area)
//! 1 MiB ..            firmware image, .bss, boot page tables, stack, bootstrap heap (see firmware/layout.ld)
//! ..                  free RAM
//! top - 1 MiB - heap  main heap (1/16 of RAM, 16..64 MiB)
//! top - 1 MiB .. top  ACPI/SMBIOS table arena (reported as ACPI NVS: it holds the FACS)
//! ```

use core::ops::Range;

use qemu::e820::{MemoryKind, MemoryRanges};
use qemu::fw_cfg::FwCfg;

use crate::arch::io::X86PortIo;

const MIB: u64 = 1 << 20;
/// Size of the arena for firmware tables (ACPI from QEMU's table-loader, SMBIOS).
pub const TABLE_ARENA_SIZE: u64 = MIB;

extern "C" {
    static image_start: u8;
    static boot_page_tables: u8;
    static stack_bottom: u8;
    static stack_top: u8;
}

fn symbol(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// The memory map and the regions bring-up carved from it.
pub struct Memory {
    /// Normalised ranges with the firmware's own regions named.
    pub ranges: MemoryRanges,
    /// Where the ranges came from: `etc/e820` or CMOS.
    pub source: &'static str,
    /// RAM the platform reported, before the firmware carved anything (what `-m` asked for).
    pub platform_ram_bytes: u64,
    /// The arena for ACPI and SMBIOS tables.
    pub table_arena: Range<u64>,
}

/// Failure to build a usable map.
pub enum MemoryError {
    /// `etc/e820` was present but malformed.
    E820(qemu::e820::E820Error),
    /// Too little RAM below 4 GiB for the heap and table arena.
    TooLittleRam(u64),
}

impl core::fmt::Display for MemoryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MemoryError::E820(e) => write!(f, "etc/e820 is malformed: {e}"),
            MemoryError::TooLittleRam(top) => {
                write!(
                    f,
                    "RAM below 4 GiB ends at {top:#x}: too little for the heap and table arena"
                )
            }
        }
    }
}

/// Reads the map and carves the firmware's regions; makes the main heap available.
pub fn init(fw_cfg: Option<&mut FwCfg<X86PortIo>>) -> Result<Memory, MemoryError> {
    let e820 = fw_cfg.and_then(|f| f.read_file("etc/e820").ok());
    let (mut ranges, source) = match e820 {
        Some(blob) => (
            MemoryRanges::from_e820(&blob).map_err(MemoryError::E820)?,
            "etc/e820",
        ),
        None => (qemu::e820::ranges_from_cmos(&mut X86PortIo), "CMOS"),
    };
    let platform_ram_bytes = ranges.total_ram_bytes();
    let (heap_start, heap_end) = crate::heap::bootstrap_region();
    // SAFETY (all four): linker-script symbols; only their addresses are taken.
    let (image, tables, stack) = unsafe {
        (
            symbol(&image_start),
            symbol(&boot_page_tables),
            (symbol(&stack_bottom), symbol(&stack_top)),
        )
    };
    let carve = |ranges: &mut MemoryRanges, range: Range<u64>, kind| {
        if let Err(e) = ranges.reserve(range.clone(), kind) {
            log::error!(target: "memory", "cannot reserve {:#x}..{:#x} as {kind:?}: {e:?}", range.start, range.end);
        }
    };
    carve(&mut ranges, 0xa_0000..MIB, MemoryKind::Reserved);
    carve(&mut ranges, image..tables, MemoryKind::FirmwareImage);
    carve(&mut ranges, tables..stack.0, MemoryKind::PageTables);
    carve(&mut ranges, stack.0..stack.1, MemoryKind::FirmwareStack);
    carve(&mut ranges, heap_start..heap_end, MemoryKind::FirmwareHeap);

    let low_top = ranges.top_of_ram_below_4g();
    let heap_size = (ranges.total_ram_bytes() / 16).clamp(16 * MIB, 64 * MIB);
    let needed = heap_size + TABLE_ARENA_SIZE;
    if low_top < heap_end + needed {
        return Err(MemoryError::TooLittleRam(low_top));
    }
    let table_arena = low_top - TABLE_ARENA_SIZE..low_top;
    let heap = table_arena.start - heap_size..table_arena.start;
    carve(&mut ranges, table_arena.clone(), MemoryKind::AcpiNvs);
    carve(&mut ranges, heap.clone(), MemoryKind::FirmwareHeap);
    // SAFETY: `heap` is RAM below 4 GiB (identity-mapped by the reset code) that was just removed from free RAM
    // and is used by nothing else.
    unsafe { crate::heap::add_main_region(heap.start, heap.end - heap.start) };
    Ok(Memory {
        ranges,
        source,
        platform_ram_bytes,
        table_arena,
    })
}

/// Reserves the ECAM window in the map (q35).
pub fn reserve_ecam(memory: &mut Memory, base: u64, size: u64) {
    if let Err(e) = memory
        .ranges
        .reserve(base..base + size, MemoryKind::PciEcam)
    {
        log::error!(target: "memory", "cannot reserve ECAM {base:#x}+{size:#x}: {e:?}");
    }
}

/// A bump allocator over the table arena, for QEMU's table-loader and SMBIOS. Never frees: tables live as long
/// as the machine.
pub struct TableArena {
    next: u64,
    end: u64,
}

impl TableArena {
    /// An allocator over `range`, which must be identity-mapped RAM owned by the caller.
    pub fn new(range: Range<u64>) -> TableArena {
        TableArena {
            next: range.start,
            end: range.end,
        }
    }

    /// Allocates `size` zeroed bytes aligned to `align` (a power of two); returns the physical address.
    pub fn allocate(&mut self, size: usize, align: usize) -> Option<u64> {
        let align = (align.max(1)) as u64;
        let start = self.next.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(size as u64)?;
        if !align.is_power_of_two() || end > self.end {
            return None;
        }
        self.next = end;
        // SAFETY: [start, end) lies in the arena, which is identity-mapped RAM reserved for these tables.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, size) };
        Some(start)
    }
}
