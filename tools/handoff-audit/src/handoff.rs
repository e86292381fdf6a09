//! Everything before and including ExitBootServices (UEFI 2.10 §4.2, §7.2.3, §7.4.6), through the raw tables so
//! every status the firmware returns is seen unfiltered:
//!
//! 1. the header CRC32s of the system, boot-services and runtime-services tables;
//! 2. a memory map into a heap buffer with slack, checked against [`memmap::RULES`];
//! 3. the map-key rule: after that GetMemoryMap the app allocates what it needs after exit (page-table pool,
//!    stack) with AllocatePages, which changes the map; ExitBootServices with the old key must then return
//!    EFI_INVALID_PARAMETER; a fresh GetMemoryMap and ExitBootServices with its key must succeed (one more try
//!    is allowed, as the specification lets the map change during a failed call). The raw function pointer is
//!    called because the `uefi` crate's wrapper retries by itself.
//!
//! Nothing after the first ExitBootServices call uses ConOut or allocates: progress goes to COM1 directly.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use handoff_audit_core::crc;
use handoff_audit_core::memmap::{self, MemoryMap, Range, PAGE_SIZE};
use handoff_audit_core::report::{MapSummary, Report};
use uefi_raw::table::boot::{AllocateType, BootServices, MemoryDescriptor, MemoryType};
use uefi_raw::table::system::SystemTable;
use uefi_raw::Status;

use crate::com1;

/// Pages for page tables.
pub const TABLE_POOL_PAGES: usize = 64;
/// Pages for the stack used after ExitBootServices (256 KiB).
pub const STACK_PAGES: usize = 64;

/// What the OS side needs.
pub struct Handoff {
    /// The map ExitBootServices succeeded with.
    pub map: MemoryMap,
    /// Page-table pool (physical address, pages).
    pub table_pool: (u64, u64),
    /// Stack (lowest address, pages).
    pub stack: (u64, u64),
    /// Every range the app itself uses (image, heap, pool, stack), never free for the canary.
    pub own: Vec<Range>,
}

fn system_table() -> *const SystemTable {
    uefi::table::system_table_raw()
        .expect("the entry point stored the system table")
        .as_ptr()
}

/// The boot-services table (only before ExitBootServices succeeds).
pub fn boot_services() -> &'static BootServices {
    // SAFETY: valid until ExitBootServices succeeds; callers stop using it then.
    unsafe { &*(*system_table()).boot_services }
}

/// The table whose header is at `header`, as `HeaderSize` bytes (clamped to [`crc::MAX_TABLE`]).
///
/// # Safety
/// `header` must point at a live EFI_TABLE_HEADER followed by the table.
unsafe fn table_bytes(header: *const u8) -> &'static [u8] {
    // SAFETY: the caller guarantees a readable header.
    let head = unsafe { core::slice::from_raw_parts(header, crc::HEADER_LEN) };
    let len = (crc::header_size(head) as usize).clamp(crc::HEADER_LEN, crc::MAX_TABLE);
    // SAFETY: the caller guarantees the table; a corrupt HeaderSize is clamped and then reported by the check.
    unsafe { core::slice::from_raw_parts(header, len) }
}

/// Checks the system table's CRC and, when `with_boot_services`, the boot-services table's; always the runtime
/// services table's. `when` names the moment in the check names.
pub fn table_checks(report: &mut Report, when: &str, with_boot_services: bool) {
    let st = system_table();
    // SAFETY: the system table lives for the whole run.
    let st_bytes = unsafe { table_bytes(st.cast()) };
    report.check_result(
        &format!("system table CRC32 {when}"),
        "valid",
        crc::check_table(st_bytes, crc::SYSTEM_TABLE_SIGNATURE),
    );
    // SAFETY: as above.
    let (bs, rt) = unsafe { ((*st).boot_services, (*st).runtime_services) };
    if with_boot_services {
        // SAFETY: the boot-services table is live before ExitBootServices.
        let bytes = unsafe { table_bytes(bs.cast()) };
        report.check_result(
            "boot services table CRC32",
            "valid",
            crc::check_table(bytes, crc::BOOT_SERVICES_SIGNATURE),
        );
    } else {
        report.check(
            "BootServices pointer cleared after ExitBootServices",
            bs.is_null(),
            format!("{bs:p}"),
        );
    }
    if rt.is_null() {
        report.check(
            &format!("runtime services table CRC32 {when}"),
            false,
            "RuntimeServices is NULL",
        );
    } else {
        // SAFETY: the runtime-services table lives in runtime memory for the whole run.
        let bytes = unsafe { table_bytes(rt.cast()) };
        report.check_result(
            &format!("runtime services table CRC32 {when}"),
            "valid",
            crc::check_table(bytes, crc::RUNTIME_SERVICES_SIGNATURE),
        );
    }
}

/// FirmwareVendor, FirmwareRevision and the UEFI revision into the report.
pub fn firmware_info(report: &mut Report) {
    let st = system_table();
    // SAFETY: the system table lives for the whole run.
    let (vendor, revision, uefi) = unsafe {
        (
            (*st).firmware_vendor,
            (*st).firmware_revision,
            (*st).header.revision,
        )
    };
    let mut name = String::new();
    if !vendor.is_null() {
        for i in 0..128 {
            // SAFETY: FirmwareVendor is a NUL-terminated UCS-2 string; reading stops at NUL or 128 units.
            let unit = unsafe { *vendor.add(i) };
            if unit == 0 {
                break;
            }
            name.push(char::from_u32(u32::from(unit)).unwrap_or('?'));
        }
    }
    report.firmware_vendor = name;
    report.firmware_revision = revision;
    report.uefi_revision = uefi.0;
}

/// One GetMemoryMap result.
struct Fetched {
    size: usize,
    key: usize,
    desc_size: usize,
    version: u32,
}

/// A heap buffer for memory maps (heap memory never changes the map).
struct MapBuffer {
    bytes: Vec<u64>,
}

impl MapBuffer {
    fn new() -> Result<MapBuffer, String> {
        let (mut size, mut key, mut desc_size, mut version) = (0usize, 0usize, 0usize, 0u32);
        // SAFETY: a zero size with a NULL buffer asks for the needed size; the out-pointers are valid.
        let status = unsafe {
            (boot_services().get_memory_map)(
                &mut size,
                core::ptr::null_mut(),
                &mut key,
                &mut desc_size,
                &mut version,
            )
        };
        if status != Status::BUFFER_TOO_SMALL {
            return Err(format!(
                "GetMemoryMap(size 0) returned {status:?}, expected BUFFER_TOO_SMALL"
            ));
        }
        let slack = 64 * desc_size.max(memmap::DESCRIPTOR_SIZE_V1);
        Ok(MapBuffer {
            bytes: vec![0; (size + slack).div_ceil(8)],
        })
    }

    fn fetch(&mut self) -> Result<Fetched, Status> {
        let mut f = Fetched {
            size: self.bytes.len() * 8,
            key: 0,
            desc_size: 0,
            version: 0,
        };
        // SAFETY: the buffer holds `size` bytes, 8-byte aligned; the out-pointers are valid.
        let status = unsafe {
            (boot_services().get_memory_map)(
                &mut f.size,
                self.bytes.as_mut_ptr().cast::<MemoryDescriptor>(),
                &mut f.key,
                &mut f.desc_size,
                &mut f.version,
            )
        };
        match status {
            Status::SUCCESS if f.size <= self.bytes.len() * 8 => Ok(f),
            Status::SUCCESS => Err(Status::BAD_BUFFER_SIZE),
            other => Err(other),
        }
    }

    fn parse(&self, f: &Fetched) -> MemoryMap {
        // SAFETY: `fetch` checked `size` fits the buffer; the firmware wrote those bytes.
        let bytes =
            unsafe { core::slice::from_raw_parts(self.bytes.as_ptr().cast::<u8>(), f.size) };
        memmap::parse(bytes, f.desc_size, f.version)
    }
}

fn allocate_pages(pages: usize) -> Result<u64, Status> {
    let mut addr = 0u64;
    // SAFETY: `addr` is a valid out-pointer.
    let status = unsafe {
        (boot_services().allocate_pages)(
            AllocateType::ANY_PAGES,
            MemoryType::LOADER_DATA,
            pages,
            &mut addr,
        )
    };
    if status == Status::SUCCESS {
        Ok(addr)
    } else {
        Err(status)
    }
}

fn exit_boot_services(key: usize) -> Status {
    let image = uefi::boot::image_handle().as_ptr();
    // SAFETY: after SUCCESS the app calls no boot service and uses only memory it owns.
    unsafe { (boot_services().exit_boot_services)(image, key) }
}

/// The image's own range from its Loaded Image protocol.
pub fn image_range() -> Option<Range> {
    let loaded = uefi::boot::open_protocol_exclusive::<uefi::proto::loaded_image::LoadedImage>(
        uefi::boot::image_handle(),
    )
    .ok()?;
    let (base, size) = loaded.info();
    Some(Range::at(base as u64, size))
}

/// Runs the checks before ExitBootServices and exits boot services. `Err` when boot services could not be
/// exited (the report says why); the app then ends with an audit error or the failed checks.
pub fn run(report: &mut Report, own: Vec<Range>) -> Result<Handoff, ()> {
    firmware_info(report);
    table_checks(report, "before ExitBootServices", true);
    let mut buffer = match MapBuffer::new() {
        Ok(b) => b,
        Err(e) => {
            report.error(e);
            return Err(());
        }
    };
    let first = match buffer.fetch() {
        Ok(f) => f,
        Err(status) => {
            report.error(format!("GetMemoryMap returned {status:?}"));
            return Err(());
        }
    };
    let before = buffer.parse(&first);
    report.map_checks("memory map", &before);

    // The allocation that makes `first.key` stale.
    let pool = allocate_pages(TABLE_POOL_PAGES);
    let stack = allocate_pages(STACK_PAGES);
    let (pool, stack) = match (pool, stack) {
        (Ok(p), Ok(s)) => (p, s),
        (p, s) => {
            report.error(format!(
                "AllocatePages for page tables/stack: {p:?} / {s:?}"
            ));
            return Err(());
        }
    };
    let _ = writeln!(
        com1(),
        "handoff-audit: calling ExitBootServices with a stale map key"
    );
    let stale = exit_boot_services(first.key);
    report.check(
        "ExitBootServices with a stale map key returns EFI_INVALID_PARAMETER",
        stale == Status::INVALID_PARAMETER,
        format!("{stale:?} after AllocatePages changed the map"),
    );
    let mut final_map = None;
    let mut attempts = Vec::new();
    if stale == Status::SUCCESS {
        // Boot services are gone; the only map is the stale one (the app's new pages are left out of it, so
        // they are excluded from the canary through `own`).
        final_map = Some((before, first.desc_size, first.version));
    } else {
        for _ in 0..2 {
            match buffer.fetch() {
                Ok(f) => {
                    let status = exit_boot_services(f.key);
                    attempts.push(format!("{status:?}"));
                    if status == Status::SUCCESS {
                        final_map = Some((buffer.parse(&f), f.desc_size, f.version));
                        break;
                    }
                }
                Err(status) => attempts.push(format!("GetMemoryMap {status:?}")),
            }
        }
        report.check(
            "ExitBootServices with a fresh map key succeeds",
            final_map.is_some(),
            attempts.join(", then "),
        );
    }
    let Some((map, descriptor_size, descriptor_version)) = final_map else {
        report.error("ExitBootServices never succeeded");
        return Err(());
    };
    let _ = writeln!(com1(), "handoff-audit: boot services exited");
    report.map_checks("final memory map", &map);
    let mut own = own;
    own.push(Range::at(pool, TABLE_POOL_PAGES as u64 * PAGE_SIZE));
    own.push(Range::at(stack, STACK_PAGES as u64 * PAGE_SIZE));
    let wrong: Vec<String> = own
        .iter()
        .filter(|r| {
            !matches!(
                map.covering_type(**r),
                Some(memmap::ty::LOADER_CODE | memmap::ty::LOADER_DATA)
            )
        })
        .map(|r| {
            format!(
                "{:#x}..{:#x} is {:?}",
                r.start,
                r.end,
                map.covering_type(*r).map(memmap::type_name)
            )
        })
        .collect();
    report.check(
        "the app's image and allocations are loader memory in the final map",
        wrong.is_empty(),
        if wrong.is_empty() {
            format!("{} ranges", own.len())
        } else {
            wrong.join("; ")
        },
    );
    report.memory_map = Some(MapSummary {
        descriptors: map.descriptors.len(),
        descriptor_size,
        descriptor_version,
        problems: map.problems.iter().map(|p| format!("{p}")).collect(),
        pages_by_type: map.pages_by_type(),
        free_bytes: map.free_ranges().iter().map(Range::len).sum(),
    });
    Ok(Handoff {
        map,
        table_pool: (pool, TABLE_POOL_PAGES as u64),
        stack: (stack, STACK_PAGES as u64),
        own,
    })
}
