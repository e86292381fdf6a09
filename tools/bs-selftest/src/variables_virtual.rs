//! The last checks of the `variables` group, after ExitBootServices: SetVirtualAddressMap (UEFI 2.10 §8.4) with
//! every runtime range moved to a new virtual address, then runtime services called through the converted table at
//! those new addresses.
//!
//! Before ExitBootServices ([`prepare`]) the app checks that SetVirtualAddressMap is refused, takes the runtime
//! descriptors of the memory map (none is allocated between then and ExitBootServices) and allocates pages for its
//! page tables. After it ([`run`]) the app builds page tables that map the first 4 GiB one to one and every runtime
//! page also at physical address + [`OFFSET`] (the arrangement x86-64 Linux uses), loads them into CR3 (with a
//! full TLB flush) for the calls only, and calls through the converted table. Interrupts are off after
//! ExitBootServices, so nothing else runs meanwhile.
//!
//! With the load option [`VIRTUAL_ONLY`] the one-to-one mapping of the runtime pages is left out, so the runtime
//! ranges exist *only* at their new addresses, which is all the spec promises. A firmware that still follows a
//! physical address into its runtime memory then faults (and the missing summary fails the run). vmfw is tested
//! that way; OVMF is not, because its runtime code does call through an unconverted pointer.

use core::arch::asm;
use core::fmt::Write;
use core::mem::size_of;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use uefi_raw::table::boot::{AllocateType, MemoryAttribute, MemoryDescriptor, MemoryType};
use uefi_raw::table::runtime::{RuntimeServices, TimeCapabilities, VariableAttributes as Attr};
use uefi_raw::table::system::SystemTable;
use uefi_raw::time::Time;
use uefi_raw::{Guid, Status};

use crate::memory::MapBuffer;
use crate::report::{Detail, Outcome, Report};
use crate::variables::{runtime, Name, VENDOR};
use crate::{boot_services, expect_status, system_table};

/// The load-options word that leaves runtime memory unmapped at its physical addresses.
pub const VIRTUAL_ONLY: &str = "virtual-only";
/// Where the runtime ranges go: physical address + 64 TiB (PML4 slot 128).
pub const OFFSET: u64 = 0x4000_0000_0000;
const MAX_RUNTIME: usize = 64;
const TABLE_PAGES: usize = 128;
const PAGE: u64 = 4096;
const PRESENT_WRITABLE: u64 = 0x3;
const LARGE: u64 = 0x80;
const ADDRESS: u64 = 0x000f_ffff_ffff_f000;

/// What [`prepare`] leaves for [`run`], in loader data.
struct Prepared {
    map: [MemoryDescriptor; MAX_RUNTIME],
    count: usize,
    tables: u64,
    virtual_only: bool,
}

static PREPARED: AtomicPtr<Prepared> = AtomicPtr::new(ptr::null_mut());

fn allocate_below_4g(pages: usize) -> Result<u64, Detail> {
    let mut address = 0xffff_ffffu64;
    // SAFETY: a valid in/out pointer; boot services are active; the pages are never freed.
    let status = unsafe {
        (boot_services().allocate_pages)(
            AllocateType::MAX_ADDRESS,
            MemoryType::LOADER_DATA,
            pages,
            &mut address,
        )
    };
    expect_status("AllocatePages(below 4 GiB)", status, Status::SUCCESS)?;
    Ok(address)
}

fn svam(rt: &RuntimeServices, map: &[MemoryDescriptor]) -> Status {
    // SAFETY: `map` is an array of descriptors of the stated size and version.
    unsafe {
        (rt.set_virtual_address_map)(
            size_of_val(map),
            size_of::<MemoryDescriptor>(),
            1,
            map.as_ptr(),
        )
    }
}

fn prepare_inner() -> Outcome {
    let refused = svam(runtime(), &[]);
    expect_status(
        "SetVirtualAddressMap before ExitBootServices",
        refused,
        Status::UNSUPPORTED,
    )?;
    let block = allocate_below_4g(size_of::<Prepared>().div_ceil(PAGE as usize))? as *mut Prepared;
    let tables = allocate_below_4g(TABLE_PAGES)?;
    let mut buffer = MapBuffer::new(4)?;
    let info = buffer.fetch_checked()?;
    let mut prepared = Prepared {
        map: [MemoryDescriptor::default(); MAX_RUNTIME],
        count: 0,
        tables,
        virtual_only: crate::violation::has_option(VIRTUAL_ONLY),
    };
    for chunk in buffer.bytes(&info).chunks_exact(info.desc_size) {
        // SAFETY: each chunk starts with an EFI_MEMORY_DESCRIPTOR (GetMemoryMap contract).
        let d = unsafe { chunk.as_ptr().cast::<MemoryDescriptor>().read_unaligned() };
        if !d.att.contains(MemoryAttribute::RUNTIME) {
            continue;
        }
        ensure!(
            prepared.count < MAX_RUNTIME,
            "more than {MAX_RUNTIME} runtime descriptors"
        );
        ensure!(
            d.phys_start + d.page_count * PAGE <= 1 << 32,
            "runtime range {:#x} above 4 GiB",
            d.phys_start
        );
        prepared.map[prepared.count] = MemoryDescriptor {
            virt_start: d.phys_start + OFFSET,
            ..d
        };
        prepared.count += 1;
    }
    ensure!(prepared.count > 0, "the memory map has no runtime range");
    // SAFETY: `block` is a fresh allocation of enough pages for a `Prepared`, never freed.
    unsafe { block.write(prepared) };
    PREPARED.store(block, Ordering::Release);
    Ok(())
}

/// Before ExitBootServices: SetVirtualAddressMap must be refused; remember the runtime ranges.
pub fn prepare(report: &mut Report, out: &mut dyn Write) {
    report.record(
        out,
        "variables: SetVirtualAddressMap before ExitBootServices is refused",
        prepare_inner(),
    );
}

/// A bump allocator over the prepared page-table pages, and the mapping helpers.
struct Tables {
    next: u64,
    end: u64,
}

impl Tables {
    fn page(&mut self) -> Result<*mut u64, Detail> {
        ensure!(
            self.next < self.end,
            "page tables need more than {TABLE_PAGES} pages"
        );
        let page = self.next as *mut u64;
        self.next += PAGE;
        // SAFETY: a page of the prepared allocation, identity-mapped (the firmware's tables are still in use).
        unsafe { ptr::write_bytes(page, 0, 512) };
        Ok(page)
    }

    /// The table `entry` points to, made (and a large page split into 4 KiB pages) if needed.
    fn next_level(&mut self, entry: *mut u64) -> Result<*mut u64, Detail> {
        // SAFETY: `entry` is an entry of a table this allocator made.
        let value = unsafe { entry.read() };
        if value & 1 != 0 && value & LARGE == 0 {
            return Ok((value & ADDRESS) as *mut u64);
        }
        let table = self.page()?;
        if value & LARGE != 0 {
            let base = value & 0x000f_ffff_ffe0_0000;
            for i in 0..512 {
                // SAFETY: `table` is a fresh 512-entry page.
                unsafe {
                    table
                        .add(i)
                        .write((base + i as u64 * PAGE) | PRESENT_WRITABLE)
                };
            }
        }
        // SAFETY: as above.
        unsafe { entry.write(table as u64 | PRESENT_WRITABLE) };
        Ok(table)
    }

    /// The 4 KiB page-table entry for `virtual_address` under `pml4`.
    fn pte(&mut self, pml4: *mut u64, virtual_address: u64) -> Result<*mut u64, Detail> {
        let index = |level: u32| ((virtual_address >> (12 + 9 * level)) & 511) as usize;
        let mut table = pml4;
        for level in (1..4).rev() {
            // SAFETY: `table` is a 512-entry table of this allocator.
            table = self.next_level(unsafe { table.add(index(level)) })?;
        }
        // SAFETY: as above.
        Ok(unsafe { table.add(index(0)) })
    }
}

/// Builds the page tables of the module doc (without the one-to-one mapping of runtime pages when
/// `prepared.virtual_only`); returns the PML4's address.
fn build_tables(prepared: &Prepared) -> Result<u64, Detail> {
    let mut tables = Tables {
        next: prepared.tables,
        end: prepared.tables + TABLE_PAGES as u64 * PAGE,
    };
    let pml4 = tables.page()?;
    let pdpt = tables.page()?;
    // SAFETY: fresh tables of this allocator.
    unsafe { pml4.write(pdpt as u64 | PRESENT_WRITABLE) };
    for gib in 0..4u64 {
        let pd = tables.page()?;
        for i in 0..512u64 {
            // SAFETY: as above.
            unsafe {
                pd.add(i as usize)
                    .write(((gib << 30) + (i << 21)) | PRESENT_WRITABLE | LARGE)
            };
        }
        // SAFETY: as above.
        unsafe { pdpt.add(gib as usize).write(pd as u64 | PRESENT_WRITABLE) };
    }
    for d in &prepared.map[..prepared.count] {
        for page in 0..d.page_count {
            let physical = d.phys_start + page * PAGE;
            // SAFETY: entries of this allocator's tables.
            unsafe {
                if prepared.virtual_only {
                    tables.pte(pml4, physical)?.write(0);
                }
                tables
                    .pte(pml4, physical + OFFSET)?
                    .write(physical | PRESENT_WRITABLE);
            }
        }
    }
    Ok(pml4 as u64)
}

/// Runs `f` with CR3 = `pml4`, flushing every TLB entry (global ones too) on the way in and out.
fn with_page_tables<T>(pml4: u64, f: impl FnOnce() -> T) -> T {
    let flush = || {
        // SAFETY: toggling CR4.PGE flushes the whole TLB and changes nothing else.
        unsafe {
            asm!(
                "mov {t}, cr4",
                "xor {t}, 0x80",
                "mov cr4, {t}",
                "xor {t}, 0x80",
                "mov cr4, {t}",
                t = out(reg) _,
                options(nostack)
            )
        }
    };
    let old: u64;
    // SAFETY: the new tables map the app's code, stack and data one to one (all below 4 GiB and not runtime
    // memory); interrupts are off after ExitBootServices.
    unsafe {
        asm!("mov {}, cr3", out(reg) old, options(nomem, nostack));
        asm!("mov cr3, {}", in(reg) pml4, options(nostack));
    }
    flush();
    let result = f();
    // SAFETY: back to the firmware's tables, which were in use before.
    unsafe { asm!("mov cr3, {}", in(reg) old, options(nostack)) };
    flush();
    result
}

/// Runtime services through the table at its virtual address, with runtime memory unmapped at its physical one.
fn calls_in_virtual_mode(rt: &RuntimeServices) -> Outcome {
    let mut time = Time::invalid();
    let mut capabilities = TimeCapabilities::default();
    // SAFETY: valid pointers to the app's stack and image (every call below passes only such pointers), which
    // the page tables keep mapped.
    let status = unsafe { (rt.get_time)(&mut time, &mut capabilities) };
    expect_status("GetTime", status, Status::SUCCESS)?;
    ensure!(time.is_valid(), "GetTime returned {time:?}");
    let (name, attributes) = (
        Name::new("VmfwSelftestVirtual"),
        Attr::NON_VOLATILE | Attr::BOOTSERVICE_ACCESS | Attr::RUNTIME_ACCESS,
    );
    let data = *b"virtual";
    // SAFETY: as for GetTime.
    let status = unsafe {
        (rt.set_variable)(
            name.as_ptr(),
            &VENDOR,
            attributes,
            data.len(),
            data.as_ptr(),
        )
    };
    expect_status("SetVariable(NV|BS|RT)", status, Status::SUCCESS)?;
    let mut buffer = [0u8; 16];
    let (mut got, mut size) = (Attr::empty(), buffer.len());
    // SAFETY: as for GetTime.
    let status = unsafe {
        (rt.get_variable)(
            name.as_ptr(),
            &VENDOR,
            &mut got,
            &mut size,
            buffer.as_mut_ptr(),
        )
    };
    expect_status("GetVariable", status, Status::SUCCESS)?;
    ensure!(
        got == attributes && buffer[..size] == data,
        "read back {got:?} {:?}",
        &buffer[..size]
    );
    let mut units = [0u16; 128];
    let (mut vendor, mut count, mut seen) = (Guid::ZERO, 0, false);
    loop {
        let mut size = size_of_val(&units);
        // SAFETY: as for GetTime.
        let status =
            unsafe { (rt.get_next_variable_name)(&mut size, units.as_mut_ptr(), &mut vendor) };
        if status == Status::NOT_FOUND {
            break;
        }
        expect_status("GetNextVariableName", status, Status::SUCCESS)?;
        seen |= vendor == VENDOR && name.is(&units);
        count += 1;
        ensure!(count < 4096, "enumeration does not end");
    }
    ensure!(
        seen,
        "GetNextVariableName missed the variable set in virtual mode ({count} listed)"
    );
    let (mut max, mut remaining, mut largest) = (0, 0, 0);
    // SAFETY: as for GetTime.
    let status =
        unsafe { (rt.query_variable_info)(attributes, &mut max, &mut remaining, &mut largest) };
    expect_status("QueryVariableInfo", status, Status::SUCCESS)?;
    // SAFETY: as for GetTime.
    let status = unsafe { (rt.set_variable)(name.as_ptr(), &VENDOR, attributes, 0, ptr::null()) };
    expect_status("SetVariable(delete)", status, Status::SUCCESS)?;
    let mut high = 0;
    // SAFETY: as for GetTime.
    let status = unsafe { (rt.get_next_high_monotonic_count)(&mut high) };
    expect_status("GetNextHighMonotonicCount", status, Status::SUCCESS)?;
    let again = svam(rt, &[]);
    expect_status(
        "SetVirtualAddressMap a second time",
        again,
        Status::UNSUPPORTED,
    )
}

fn virtual_mode(prepared: &Prepared) -> (Outcome, Outcome) {
    let map = &prepared.map[..prepared.count];
    let st = system_table() as *const SystemTable as u64;
    let moved = (|| {
        expect_status(
            "SetVirtualAddressMap",
            svam(runtime(), map),
            Status::SUCCESS,
        )?;
        Ok(())
    })();
    if moved.is_err() {
        return (moved, crate::fail!("not run: SetVirtualAddressMap failed"));
    }
    let pml4 = match build_tables(prepared) {
        Ok(pml4) => pml4,
        Err(detail) => return (moved, Err(detail)),
    };
    let calls = with_page_tables(pml4, || {
        // The system table is runtime-services data: read it at its new address.
        // SAFETY: the system table's virtual address in the map the firmware accepted.
        let rt = unsafe { (*((st + OFFSET) as *const SystemTable)).runtime_services };
        ensure!(
            (rt as u64) >= OFFSET,
            "RuntimeServices in the system table is still {rt:p} after SetVirtualAddressMap"
        );
        // SAFETY: the converted runtime-services table, mapped at its virtual address.
        calls_in_virtual_mode(unsafe { &*rt })
    });
    (moved, calls)
}

/// After ExitBootServices: SetVirtualAddressMap, then runtime services in virtual mode (see the module doc).
pub fn run(report: &mut Report, out: &mut dyn Write) {
    let prepared = PREPARED.load(Ordering::Acquire);
    let (moved, calls) = if prepared.is_null() {
        (
            crate::fail!("not prepared before ExitBootServices"),
            crate::fail!("not run"),
        )
    } else {
        // SAFETY: written by `prepare` into loader data, which the app still owns.
        virtual_mode(unsafe { &*prepared })
    };
    report.record(
        out,
        "variables: SetVirtualAddressMap moves every runtime range",
        moved,
    );
    let virtual_only = !prepared.is_null() && {
        // SAFETY: as above.
        unsafe { (*prepared).virtual_only }
    };
    report.record(
        out,
        if virtual_only {
            "variables: runtime services work mapped only at their new virtual addresses"
        } else {
            "variables: runtime services work at their new virtual addresses"
        },
        calls,
    );
}
