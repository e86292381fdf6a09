//! Memory-services checks (UEFI 2.10 §7.2): AllocatePages in its three modes, FreePages, AllocatePool/FreePool and
//! GetMemoryMap, including how the map key reacts to changes.
//!
//! Design: every page or pool allocation is freed by the check that made it, even when a later step of the same
//! check fails, so a failure does not leak into the next check's map-key comparisons. The helpers at the top
//! ([`alloc_pool`], [`MapBuffer`]) are shared with the ExitBootServices check.

use core::fmt::Write;
use core::ptr;

use uefi_raw::table::boot::{AllocateType, MemoryDescriptor, MemoryType};
use uefi_raw::Status;

use crate::memmap::{self, PAGE_SIZE};
use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, expect_status};

/// Allocates `size` bytes of EfiLoaderData pool.
pub fn alloc_pool(size: usize) -> Result<*mut u8, Detail> {
    let mut buffer: *mut u8 = ptr::null_mut();
    // SAFETY: `buffer` is a valid out-pointer; boot services are active.
    let status =
        unsafe { (boot_services().allocate_pool)(MemoryType::LOADER_DATA, size, &mut buffer) };
    ensure!(
        status == Status::SUCCESS,
        "AllocatePool({size}) returned {status:?}"
    );
    ensure!(
        !buffer.is_null(),
        "AllocatePool({size}) returned SUCCESS and NULL"
    );
    Ok(buffer)
}

/// Frees pool memory from [`alloc_pool`] (or from the firmware, e.g. a LocateHandleBuffer result).
pub fn free_pool(buffer: *mut u8) -> Status {
    // SAFETY: `buffer` came from AllocatePool and is not used afterwards.
    unsafe { (boot_services().free_pool)(buffer) }
}

/// What GetMemoryMap reported besides the descriptors.
#[derive(Clone, Copy)]
pub struct MapInfo {
    /// `MemoryMapSize` on return: bytes of descriptors written.
    pub size: usize,
    /// `MapKey`.
    pub key: usize,
    /// `DescriptorSize`: stride between descriptors in bytes.
    pub desc_size: usize,
    /// `DescriptorVersion`.
    pub version: u32,
}

/// Asks GetMemoryMap for the buffer size it needs (a NULL buffer of size 0); returns (size, descriptor size).
pub fn query_map_size() -> Result<(usize, usize), Detail> {
    let (mut size, mut key, mut desc_size, mut version) = (0usize, 0usize, 0usize, 0u32);
    // SAFETY: a NULL map with size 0 is the documented way to ask for the size; all out-pointers are valid.
    let status = unsafe {
        (boot_services().get_memory_map)(
            &mut size,
            ptr::null_mut(),
            &mut key,
            &mut desc_size,
            &mut version,
        )
    };
    ensure!(
        status == Status::BUFFER_TOO_SMALL,
        "GetMemoryMap(size 0) returned {status:?}, expected BUFFER_TOO_SMALL"
    );
    ensure!(size > 0, "GetMemoryMap(size 0) reported a needed size of 0");
    Ok((size, desc_size))
}

/// A pool buffer for memory maps, allocated once with slack so that later GetMemoryMap calls need no allocation.
pub struct MapBuffer {
    ptr: *mut u8,
    capacity: usize,
}

impl MapBuffer {
    /// Allocates room for the current map plus `extra_descriptors` more.
    pub fn new(extra_descriptors: usize) -> Result<MapBuffer, Detail> {
        let (size, desc_size) = query_map_size()?;
        let capacity = size + extra_descriptors * desc_size.max(memmap::DESCRIPTOR_SIZE_V1);
        Ok(MapBuffer {
            ptr: alloc_pool(capacity)?,
            capacity,
        })
    }

    /// Calls GetMemoryMap into this buffer.
    pub fn fetch(&mut self) -> Result<MapInfo, Status> {
        let mut info = MapInfo {
            size: self.capacity,
            key: 0,
            desc_size: 0,
            version: 0,
        };
        // SAFETY: the buffer holds `capacity` bytes from AllocatePool (8-byte aligned); all out-pointers are valid.
        let status = unsafe {
            (boot_services().get_memory_map)(
                &mut info.size,
                self.ptr.cast::<MemoryDescriptor>(),
                &mut info.key,
                &mut info.desc_size,
                &mut info.version,
            )
        };
        if status == Status::SUCCESS && info.size <= self.capacity {
            Ok(info)
        } else if status == Status::SUCCESS {
            Err(Status::BAD_BUFFER_SIZE)
        } else {
            Err(status)
        }
    }

    /// [`MapBuffer::fetch`] with the failure as a detail.
    pub fn fetch_checked(&mut self) -> Result<MapInfo, Detail> {
        self.fetch()
            .map_err(|status| Detail::new(format_args!("GetMemoryMap returned {status:?}")))
    }

    /// The descriptors of the last successful fetch that returned `info`.
    pub fn bytes(&self, info: &MapInfo) -> &[u8] {
        // SAFETY: `fetch` checked `info.size <= capacity`; the firmware wrote those bytes.
        unsafe { core::slice::from_raw_parts(self.ptr, info.size) }
    }
}

impl Drop for MapBuffer {
    fn drop(&mut self) {
        let _ = free_pool(self.ptr);
    }
}

/// AllocatePages with `ty`; `addr` is the in/out `Memory` argument.
fn allocate_pages(ty: AllocateType, pages: usize, addr: &mut u64) -> Status {
    // SAFETY: `addr` is a valid in/out pointer; boot services are active.
    unsafe { (boot_services().allocate_pages)(ty, MemoryType::LOADER_DATA, pages, addr) }
}

fn free_pages(addr: u64, pages: usize) -> Status {
    // SAFETY: the range is either owned by this check or deliberately bogus (the firmware must refuse it).
    unsafe { (boot_services().free_pages)(addr, pages) }
}

/// Writes a distinct byte at the start and end of every page of `[addr, addr + pages)` and reads them back.
fn touch_pages(addr: u64, pages: usize) -> Outcome {
    for page in 0..pages as u64 {
        let first = (addr + page * PAGE_SIZE) as *mut u8;
        let value = 0xA0 ^ page as u8;
        // SAFETY: the pages were just allocated to this app, so they are mapped RAM it owns.
        let back = unsafe {
            first.write_volatile(value);
            first.add(PAGE_SIZE as usize - 1).write_volatile(!value);
            (
                first.read_volatile(),
                first.add(PAGE_SIZE as usize - 1).read_volatile(),
            )
        };
        ensure!(
            back == (value, !value),
            "page {:#x} did not keep what was written",
            addr + page * PAGE_SIZE
        );
    }
    Ok(())
}

/// Type of the map descriptor covering `[addr, addr + len)`, fetched fresh.
fn covering_type(addr: u64, len: u64) -> Result<Option<u32>, Detail> {
    let mut buffer = MapBuffer::new(8)?;
    let info = buffer.fetch_checked()?;
    Ok(memmap::type_covering(
        buffer.bytes(&info),
        info.desc_size,
        addr,
        len,
    ))
}

/// Runs the memory checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    report.record(out, "memory: GetMemoryMap size query", check_size_query());
    report.record(
        out,
        "memory: GetMemoryMap well-formed, key stable",
        check_map(),
    );
    report.record(
        out,
        "memory: AllocatePages AnyPages + map key",
        check_any_pages(),
    );
    report.record(
        out,
        "memory: AllocatePages Address + FreePages",
        check_address(),
    );
    report.record(out, "memory: AllocatePages MaxAddress", check_max_address());
    report.record(
        out,
        "memory: AllocatePages bad arguments",
        check_bad_arguments(),
    );
    report.record(out, "memory: AllocatePool/FreePool", check_pool());
}

fn check_size_query() -> Outcome {
    let (size, desc_size) = query_map_size()?;
    ensure!(
        desc_size >= memmap::DESCRIPTOR_SIZE_V1,
        "DescriptorSize {desc_size} < sizeof(EFI_MEMORY_DESCRIPTOR) {}",
        memmap::DESCRIPTOR_SIZE_V1
    );
    ensure!(
        size.is_multiple_of(desc_size),
        "needed size {size} is not a multiple of DescriptorSize {desc_size}"
    );
    Ok(())
}

fn check_map() -> Outcome {
    let mut buffer = MapBuffer::new(8)?;
    let first = buffer.fetch_checked()?;
    ensure!(
        first.version == MemoryDescriptor::VERSION,
        "DescriptorVersion {}, expected 1",
        first.version
    );
    let count = memmap::validate(buffer.bytes(&first), first.desc_size)
        .map_err(|e| Detail::new(format_args!("{e}")))?;
    ensure!(count > 0, "the map is empty");
    let second = buffer.fetch_checked()?;
    ensure!(
        second.key == first.key,
        "map key changed from {:#x} to {:#x} with no allocation in between",
        first.key,
        second.key
    );
    Ok(())
}

fn check_any_pages() -> Outcome {
    let mut buffer = MapBuffer::new(8)?;
    let before = buffer.fetch_checked()?;
    let mut addr = 0;
    expect_status(
        "AllocatePages(AnyPages, 3)",
        allocate_pages(AllocateType::ANY_PAGES, 3, &mut addr),
        Status::SUCCESS,
    )?;
    let result = (|| {
        ensure!(
            addr != 0 && addr.is_multiple_of(PAGE_SIZE),
            "AllocatePages returned address {addr:#x}"
        );
        touch_pages(addr, 3)?;
        let after = buffer.fetch_checked()?;
        ensure!(
            after.key != before.key,
            "map key {:#x} unchanged after AllocatePages",
            before.key
        );
        let ty = memmap::type_covering(buffer.bytes(&after), after.desc_size, addr, 3 * PAGE_SIZE);
        ensure!(
            ty == Some(MemoryType::LOADER_DATA.0),
            "map type at {addr:#x} is {ty:?}, expected Some(2) (EfiLoaderData)"
        );
        Ok(())
    })();
    let freed = free_pages(addr, 3);
    result?;
    expect_status("FreePages", freed, Status::SUCCESS)?;
    // Reuse the buffer: a new pool allocation now could land in the pages just freed.
    let after_free = buffer.fetch_checked()?;
    let ty = memmap::type_covering(
        buffer.bytes(&after_free),
        after_free.desc_size,
        addr,
        3 * PAGE_SIZE,
    );
    ensure!(
        ty == Some(MemoryType::CONVENTIONAL.0),
        "freed pages at {addr:#x} have map type {ty:?}, expected Some(7) (EfiConventionalMemory)"
    );
    Ok(())
}

fn check_address() -> Outcome {
    // Find free pages, give them back, then ask for exactly that address.
    let mut addr = 0;
    expect_status(
        "AllocatePages(AnyPages, 2)",
        allocate_pages(AllocateType::ANY_PAGES, 2, &mut addr),
        Status::SUCCESS,
    )?;
    expect_status("FreePages", free_pages(addr, 2), Status::SUCCESS)?;
    let wanted = addr;
    let mut at = wanted;
    expect_status(
        "AllocatePages(Address)",
        allocate_pages(AllocateType::ADDRESS, 2, &mut at),
        Status::SUCCESS,
    )?;
    let result = (|| {
        ensure!(
            at == wanted,
            "AllocatePages(Address {wanted:#x}) returned {at:#x}"
        );
        touch_pages(at, 2)?;
        let mut again = wanted;
        expect_status(
            "AllocatePages(Address) on allocated pages",
            allocate_pages(AllocateType::ADDRESS, 1, &mut again),
            Status::NOT_FOUND,
        )
    })();
    let freed = free_pages(wanted, 2);
    result?;
    expect_status("FreePages", freed, Status::SUCCESS)?;
    expect_status(
        "FreePages of freed pages",
        free_pages(wanted, 2),
        Status::NOT_FOUND,
    )
}

fn check_max_address() -> Outcome {
    const MAX: u64 = 0x3FF_FFFF; // last byte below 64 MiB
    let mut addr = MAX;
    expect_status(
        "AllocatePages(MaxAddress 64 MiB - 1, 2)",
        allocate_pages(AllocateType::MAX_ADDRESS, 2, &mut addr),
        Status::SUCCESS,
    )?;
    let result = (|| {
        ensure!(
            addr.is_multiple_of(PAGE_SIZE),
            "AllocatePages(MaxAddress) returned unaligned {addr:#x}"
        );
        ensure!(
            addr + 2 * PAGE_SIZE - 1 <= MAX,
            "AllocatePages(MaxAddress {MAX:#x}) returned pages at {addr:#x}"
        );
        touch_pages(addr, 2)
    })();
    let freed = free_pages(addr, 2);
    result?;
    expect_status("FreePages", freed, Status::SUCCESS)
}

fn check_bad_arguments() -> Outcome {
    let mut addr = 0;
    expect_status(
        "AllocatePages(type MaxAllocateType)",
        allocate_pages(AllocateType::MAX_ALLOCATE_TYPE, 1, &mut addr),
        Status::INVALID_PARAMETER,
    )?;
    // SAFETY: `addr` is a valid in/out pointer; the memory type 0x1000 lies in the reserved range
    // EfiMaxMemoryType..=0x6FFFFFFF, which the firmware must refuse.
    let status = unsafe {
        (boot_services().allocate_pages)(AllocateType::ANY_PAGES, MemoryType(0x1000), 1, &mut addr)
    };
    expect_status(
        "AllocatePages(memory type 0x1000)",
        status,
        Status::INVALID_PARAMETER,
    )
}

fn check_pool() -> Outcome {
    const SIZES: [usize; 7] = [1, 8, 24, 100, 4000, 4096, 70_000];
    let mut buffers = [ptr::null_mut::<u8>(); SIZES.len()];
    let result = (|| {
        for (i, &size) in SIZES.iter().enumerate() {
            let buffer = alloc_pool(size)?;
            buffers[i] = buffer;
            ensure!(
                (buffer as usize).is_multiple_of(8),
                "AllocatePool({size}) returned {buffer:p}, not 8-byte aligned"
            );
            // SAFETY: the pool buffer holds `size` bytes owned by this check.
            unsafe { ptr::write_bytes(buffer, i as u8 + 1, size) };
        }
        for (i, &size) in SIZES.iter().enumerate() {
            // SAFETY: as above; still allocated.
            let bytes = unsafe { core::slice::from_raw_parts(buffers[i], size) };
            ensure!(
                bytes.iter().all(|&b| b == i as u8 + 1),
                "pool buffer of {size} bytes was overwritten (overlap)"
            );
        }
        let big = buffers[SIZES.len() - 1] as u64;
        let ty = covering_type(big, 70_000)?;
        ensure!(
            ty == Some(MemoryType::LOADER_DATA.0),
            "70000-byte EfiLoaderData pool lies in map type {ty:?}"
        );
        Ok(())
    })();
    let mut free_failure = None;
    for buffer in buffers.into_iter().filter(|b| !b.is_null()) {
        let status = free_pool(buffer);
        if status != Status::SUCCESS {
            free_failure = Some(status);
        }
    }
    result?;
    match free_failure {
        Some(status) => fail!("FreePool returned {status:?}"),
        None => Ok(()),
    }
}
