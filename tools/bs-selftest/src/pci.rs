//! PCI I/O checks (UEFI 2.10 §14.4): the handles the PCI bus support installs, their device paths, configuration
//! reads against the legacy configuration mechanism, attributes, memory accesses through a VGA BAR in every width
//! flavour, and the DMA services (AllocateBuffer, Map, Unmap, FreeBuffer).
//!
//! Design: `uefi-raw` has no PCI I/O protocol, so `protocol` declares it from the specification. The checks
//! only expect what the specification guarantees, so they also pass on OVMF: Attributes(Get) must match the Command
//! register everywhere, while "bus mastering off on every function" is vmfw's own promise, checked only when the
//! firmware vendor is vmfw; 32-bit DMA device addresses must lie below 4 GiB, and a
//! `BusMasterRead` mapping must show the host bytes at its device address (bounce or not). Every pool buffer,
//! mapping and common buffer is released by the check that made it. Memory accesses only touch the VGA
//! framebuffer (BAR 0 of the first display controller), which has no side effects.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;

use uefi_raw::Status;

use crate::expect_status;
use crate::memory::{alloc_pool, free_pool};
use crate::protocols::{handle_protocol, open_info_matching, BY_DRIVER};
use crate::report::{Detail, Outcome, Report};

pub(crate) mod protocol;

use protocol::*;

fn check_handles() -> Outcome {
    let handles = Handles::locate()?;
    ensure!(
        handles.count >= 3,
        "only {} PCI I/O handles (host bridge, LPC/ISA, VGA expected)",
        handles.count
    );
    Ok(())
}

/// The device path: ACPI PNP0A03 first, only PCI nodes after it, the last one matching GetLocation.
fn check_device_paths() -> Outcome {
    for_each_function(|f| {
        let path = handle_protocol(f.handle, &DEVICE_PATH_GUID)
            .map_err(|s| {
                Detail::new(format_args!(
                    "{}: HandleProtocol(DevicePath) returned {s:?}",
                    f.name()
                ))
            })?
            .cast::<u8>();
        // SAFETY: device path nodes are read by their 4-byte headers up to the end node (at most 64 nodes).
        let node = |at: usize| unsafe { core::slice::from_raw_parts(path.add(at), 4) };
        let first = node(0);
        // SAFETY: an ACPI node of length 12 holds HID at +4.
        let hid = unsafe { path.add(4).cast::<u32>().read_unaligned() };
        ensure!(
            first[0] == 2 && first[1] == 1 && first[2] == 12 && hid == PNP0A03,
            "{}: device path starts with {first:?} HID {hid:#x}, not ACPI PNP0A03",
            f.name()
        );
        let (mut at, mut last) = (12usize, None);
        for _ in 0..64 {
            let header = node(at);
            if header[0] == 0x7f {
                break;
            }
            ensure!(
                header[0] == 1 && header[1] == 1 && header[2] == 6,
                "{}: node {header:?} is not Pci()",
                f.name()
            );
            // SAFETY: a PCI node has 6 bytes: Function at +4, Device at +5.
            last = Some(unsafe { (path.add(at + 5).read(), path.add(at + 4).read()) });
            at += 6;
        }
        ensure!(
            last == Some((f.device, f.function)),
            "{}: last Pci node {last:?}, GetLocation says ({}, {})",
            f.name(),
            f.device,
            f.function
        );
        Ok(())
    })
}

/// Pci.Read(Uint16, 0) against mechanism #1, plus the same bytes as two Uint8 and one Uint32 read.
fn check_config_reads() -> Outcome {
    for_each_function(|f| {
        let vendor = f.config16(0)?;
        let legacy = legacy_config32(f.bus, f.device, f.function, 0);
        ensure!(vendor != 0xffff, "{}: vendor ID reads 0xffff", f.name());
        ensure!(
            u32::from(vendor) == legacy & 0xffff,
            "{}: Pci.Read {vendor:#06x}, ports {legacy:#010x}",
            f.name()
        );
        let mut bytes = [0u8; 2];
        let status = f.config_read(WIDTH_UINT8, 0, 2, bytes.as_mut_ptr().cast());
        expect_status("Pci.Read(Uint8, count 2)", status, Status::SUCCESS)?;
        let mut dword = 0u32;
        let status = f.config_read(WIDTH_UINT32, 0, 1, ptr::from_mut(&mut dword).cast());
        expect_status("Pci.Read(Uint32)", status, Status::SUCCESS)?;
        ensure!(
            u16::from_le_bytes(bytes) == vendor && dword == legacy,
            "{}: Uint8 reads {bytes:?}, Uint32 {dword:#x}, ports {legacy:#x}",
            f.name()
        );
        Ok(())
    })
}

/// True when the firmware vendor string of the system table is "vmfw".
pub(crate) fn is_vmfw() -> bool {
    let vendor = crate::system_table().firmware_vendor;
    // SAFETY: the system table's vendor string is NUL-terminated UCS-2; at most five units are read.
    !vendor.is_null()
        && (0..5).all(|i| unsafe { *vendor.add(i) } == u16::from(*b"vmfw\0".get(i).unwrap_or(&0)))
}

/// On every function, Attributes(Get)'s BUS_MASTER equals the Command register's Bus Master bit (read through
/// ports), as the attributes describe the controller. Under vmfw, additionally no function that no driver manages
/// (no `BY_DRIVER` opener of its PCI I/O) has bus mastering on: bring-up never enables it, only a driver's Start
/// does. That is vmfw's handoff promise, not a spec rule (OVMF leaves it on where its drivers or bus driver chose
/// to), so it is checked only there.
fn check_bus_master_off() -> Outcome {
    let strict = is_vmfw();
    for_each_function(|f| {
        let get = get_attributes(f, ATTRIBUTE_OPERATION_GET)? & ATTRIBUTE_BUS_MASTER != 0;
        let command = legacy_config32(f.bus, f.device, f.function, 4) & 4 != 0;
        ensure!(
            get == command,
            "{}: Get says bus master {get}, Command register {command}",
            f.name()
        );
        let (by_driver, _) =
            open_info_matching(f.handle, &PCI_IO_GUID, |e| e.attributes & BY_DRIVER != 0)?;
        ensure!(
            !(strict && get && by_driver == 0),
            "{}: bus mastering on without a driver",
            f.name()
        );
        Ok(())
    })
}

/// Attributes(Get) of `f`.
fn get_attributes(f: &Function, operation: u32) -> Result<u64, Detail> {
    let mut attributes = 0u64;
    // SAFETY: `f.io` is the firmware's instance; `attributes` is a valid out-pointer.
    let status = unsafe { ((*f.io).attributes)(f.io, operation, 0, &mut attributes) };
    expect_status("Attributes(Get/Supported)", status, Status::SUCCESS)?;
    Ok(attributes)
}

/// On the first driver-less endpoint that supports it: Attributes(Enable, BUS_MASTER) sets the Command register
/// bit (read through ports) and Get reports it; Disable clears both. The order follows the initial state, so the
/// function ends as it started.
fn check_bus_master_toggle() -> Outcome {
    let handles = Handles::locate()?;
    for handle in handles.iter() {
        let f = Function::open(handle)?;
        let (by_driver, _) =
            open_info_matching(f.handle, &PCI_IO_GUID, |e| e.attributes & BY_DRIVER != 0)?;
        if by_driver > 0
            || f.config16(0x0a)? >> 8 == 0x06
            || get_attributes(&f, ATTRIBUTE_OPERATION_SUPPORTED)? & ATTRIBUTE_BUS_MASTER == 0
        {
            continue;
        }
        let enable = (ATTRIBUTE_OPERATION_ENABLE, true);
        let disable = (ATTRIBUTE_OPERATION_DISABLE, false);
        let steps = if get_attributes(&f, ATTRIBUTE_OPERATION_GET)? & ATTRIBUTE_BUS_MASTER != 0 {
            [disable, enable]
        } else {
            [enable, disable]
        };
        for (operation, on) in steps {
            // SAFETY: Result may be NULL for Enable/Disable.
            let status = unsafe {
                ((*f.io).attributes)(f.io, operation, ATTRIBUTE_BUS_MASTER, ptr::null_mut())
            };
            expect_status(
                "Attributes(Enable/Disable, BUS_MASTER)",
                status,
                Status::SUCCESS,
            )?;
            let get = get_attributes(&f, ATTRIBUTE_OPERATION_GET)? & ATTRIBUTE_BUS_MASTER != 0;
            let command = legacy_config32(f.bus, f.device, f.function, 4) & 4 != 0;
            ensure!(
                get == on && command == on,
                "{}: bus master {on} asked, Get says {get}, Command {command}",
                f.name()
            );
        }
        return Ok(());
    }
    fail!("no driver-less endpoint supports bus mastering")
}

/// AllocateBuffer(1 page) + Map(BusMasterCommonBuffer) + Unmap + FreeBuffer on every function.
fn check_common_buffer() -> Outcome {
    for_each_function(|f| {
        let io = f.io;
        let mut host = ptr::null_mut::<c_void>();
        // SAFETY: valid out-pointer; Type is ignored by the spec.
        let status = unsafe { ((*io).allocate_buffer)(io, 0, BOOT_SERVICES_DATA, 1, &mut host, 0) };
        expect_status("AllocateBuffer(1 page)", status, Status::SUCCESS)?;
        let (mut bytes, mut device, mut mapping) = (4096usize, 0u64, ptr::null_mut::<c_void>());
        // SAFETY: `host` is the page just allocated; out-pointers are valid.
        let mapped = unsafe {
            ((*io).map)(
                io,
                OPERATION_BUS_MASTER_COMMON_BUFFER,
                host,
                &mut bytes,
                &mut device,
                &mut mapping,
            )
        };
        let mut outcome = expect_status("Map(BusMasterCommonBuffer)", mapped, Status::SUCCESS);
        if mapped == Status::SUCCESS {
            if device + bytes as u64 > FOUR_GIB || bytes != 4096 {
                outcome = fail!(
                    "{}: common buffer mapped {bytes} bytes at {device:#x}",
                    f.name()
                );
            }
            // SAFETY: `mapping` came from Map.
            let status = unsafe { ((*io).unmap)(io, mapping) };
            outcome = outcome.and(expect_status("Unmap", status, Status::SUCCESS));
        }
        // SAFETY: `host` came from AllocateBuffer with 1 page.
        let status = unsafe { ((*io).free_buffer)(io, 1, host) };
        outcome.and(expect_status("FreeBuffer", status, Status::SUCCESS))
    })
}

/// Map(BusMasterRead) of a pool buffer: the device address (below 4 GiB) shows the host bytes.
fn check_map_read() -> Outcome {
    let handles = Handles::locate()?;
    let f = Function::open(
        handles
            .iter()
            .next()
            .ok_or_else(|| Detail::new(format_args!("no handle")))?,
    )?;
    let len = 512usize;
    let host = alloc_pool(len)?;
    for i in 0..len {
        // SAFETY: `host` has `len` bytes.
        unsafe { host.add(i).write(i as u8 ^ 0x5a) };
    }
    let (mut bytes, mut device, mut mapping) = (len, 0u64, ptr::null_mut::<c_void>());
    // SAFETY: `host` is a live pool buffer of `len` bytes; out-pointers are valid.
    let status = unsafe {
        ((*f.io).map)(
            f.io,
            OPERATION_BUS_MASTER_READ,
            host.cast(),
            &mut bytes,
            &mut device,
            &mut mapping,
        )
    };
    let mut outcome = expect_status("Map(BusMasterRead)", status, Status::SUCCESS);
    if status == Status::SUCCESS {
        // SAFETY: memory is identity-mapped in UEFI; the mapping covers `bytes` bytes at `device`.
        let same =
            (0..bytes).all(|i| unsafe { (device as *const u8).add(i).read() } == i as u8 ^ 0x5a);
        if device == 0 || bytes == 0 || bytes > len || device + bytes as u64 > FOUR_GIB || !same {
            outcome = fail!(
                "mapped {bytes} bytes at {device:#x} (host {host:p}), contents equal: {same}"
            );
        }
        // SAFETY: `mapping` came from Map.
        let status = unsafe { ((*f.io).unmap)(f.io, mapping) };
        outcome = outcome.and(expect_status("Unmap", status, Status::SUCCESS));
    }
    let _ = free_pool(host);
    outcome
}

/// Bad widths, BAR indexes, configuration offsets and attribute operations are refused as the spec says.
fn check_refusals() -> Outcome {
    let handles = Handles::locate()?;
    let f = Function::open(
        handles
            .iter()
            .next()
            .ok_or_else(|| Detail::new(format_args!("no handle")))?,
    )?;
    let mut scratch = [0u64; 2];
    let buf = scratch.as_mut_ptr().cast::<c_void>();
    expect_status(
        "Pci.Read(width 12)",
        f.config_read(WIDTH_MAXIMUM, 0, 1, buf),
        Status::INVALID_PARAMETER,
    )?;
    expect_status(
        "Pci.Read(offset 0x1000)",
        f.config_read(WIDTH_UINT32, 0x1000, 1, buf),
        Status::UNSUPPORTED,
    )?;
    expect_status(
        "Mem.Read(BAR 6)",
        f.mem(false, WIDTH_UINT32, 6, 0, 1, buf),
        Status::UNSUPPORTED,
    )?;
    let mut result = 0u64;
    // SAFETY: valid out-pointer.
    let status = unsafe { ((*f.io).attributes)(f.io, ATTRIBUTE_OPERATION_MAXIMUM, 0, &mut result) };
    expect_status("Attributes(operation 5)", status, Status::INVALID_PARAMETER)?;
    let mut x = 0usize;
    // SAFETY: NULL Segment is the point; the others are valid.
    let status = unsafe { ((*f.io).get_location)(f.io, ptr::null_mut(), &mut x, &mut x, &mut x) };
    expect_status(
        "GetLocation(NULL segment)",
        status,
        Status::INVALID_PARAMETER,
    )?;
    let mut lsr = 0u8;
    // SAFETY: a pass-through read of COM1's line status register into a valid byte.
    let status = unsafe {
        ((*f.io).io.read)(
            f.io,
            WIDTH_UINT8,
            PASS_THROUGH_BAR,
            0x3fd,
            1,
            ptr::from_mut(&mut lsr).cast(),
        )
    };
    expect_status("Io.Read(pass-through, COM1 LSR)", status, Status::SUCCESS)
}

/// The first display controller (class 0x03) and its BAR 0 length (GetBarAttributes' QWORD descriptor), which
/// must equal the BAR register's address.
fn vga() -> Result<(Function, u64), Detail> {
    let handles = Handles::locate()?;
    for handle in handles.iter() {
        let f = Function::open(handle)?;
        if f.config16(0x0a)? >> 8 != 0x03 {
            continue;
        }
        let mut resources = ptr::null_mut::<c_void>();
        // SAFETY: valid out-pointer; Supports may be NULL when Resources is not.
        let status =
            unsafe { ((*f.io).get_bar_attributes)(f.io, 0, ptr::null_mut(), &mut resources) };
        expect_status("GetBarAttributes(BAR 0)", status, Status::SUCCESS)?;
        // SAFETY: a QWORD descriptor (46 bytes) + end tag; fields read unaligned.
        let (tag, kind, min, len, end) = unsafe {
            let d = resources.cast::<u8>();
            (
                d.read(),
                d.add(3).read(),
                d.add(14).cast::<u64>().read_unaligned(),
                d.add(38).cast::<u64>().read_unaligned(),
                d.add(46).read(),
            )
        };
        let _ = free_pool(resources.cast());
        let bar = legacy_config32(f.bus, f.device, f.function, 0x10) & !0xf;
        ensure!(
            tag == 0x8a && kind == 0 && end == 0x79 && min == u64::from(bar) && len >= 4096,
            "{}: BAR 0 descriptor tag {tag:#x} type {kind} {min:#x}+{len:#x} end {end:#x}, BAR reg {bar:#x}",
            f.name()
        );
        return Ok((f, len));
    }
    fail!("no display controller")
}

/// Mem.Write/Read in plain, FILL and FIFO widths, CopyMem and PollMem on the VGA framebuffer; a range past the
/// BAR's end is UNSUPPORTED.
fn check_mem_access() -> Outcome {
    let (f, len) = vga()?;
    let pattern = 0x1234_5678u32;
    let mut value = pattern;
    expect_status(
        "Mem.Write(Fill Uint32 x4)",
        f.mem(
            true,
            WIDTH_FILL_UINT32,
            0,
            16,
            4,
            ptr::from_mut(&mut value).cast(),
        ),
        Status::SUCCESS,
    )?;
    let mut four = [0u32; 4];
    expect_status(
        "Mem.Read(Uint32 x4)",
        f.mem(false, WIDTH_UINT32, 0, 16, 4, four.as_mut_ptr().cast()),
        Status::SUCCESS,
    )?;
    ensure!(four == [pattern; 4], "Fill wrote {four:x?}");
    let mut fifo = [0u32; 2];
    expect_status(
        "Mem.Read(Fifo Uint32 x2)",
        f.mem(false, WIDTH_FIFO_UINT32, 0, 20, 2, fifo.as_mut_ptr().cast()),
        Status::SUCCESS,
    )?;
    ensure!(fifo == [pattern; 2], "FIFO read {fifo:x?}");
    // SAFETY: offsets 16..32 and 64..80 are inside BAR 0 (>= 4 KiB).
    let status = unsafe { ((*f.io).copy_mem)(f.io, WIDTH_UINT64, 0, 64, 0, 16, 2) };
    expect_status("CopyMem(Uint64 x2)", status, Status::SUCCESS)?;
    let mut wide = 0u64;
    expect_status(
        "Mem.Read(Uint64)",
        f.mem(
            false,
            WIDTH_UINT64,
            0,
            72,
            1,
            ptr::from_mut(&mut wide).cast(),
        ),
        Status::SUCCESS,
    )?;
    ensure!(
        wide == u64::from(pattern) << 32 | u64::from(pattern),
        "CopyMem copied {wide:#x}"
    );
    let mut result = 0u64;
    // SAFETY: valid out-pointer; offset 16 is inside BAR 0.
    let status = unsafe {
        ((*f.io).poll_mem)(
            f.io,
            WIDTH_UINT32,
            0,
            16,
            u64::MAX,
            u64::from(pattern),
            0,
            &mut result,
        )
    };
    expect_status("PollMem(match)", status, Status::SUCCESS)?;
    ensure!(result == u64::from(pattern), "PollMem result {result:#x}");
    // SAFETY: as above; 1000 x 100 ns = 100 us, never matching.
    let status =
        unsafe { ((*f.io).poll_mem)(f.io, WIDTH_UINT32, 0, 16, u64::MAX, 1, 1000, &mut result) };
    expect_status("PollMem(no match, 100 us)", status, Status::TIMEOUT)?;
    let mut byte = 0u8;
    expect_status(
        "Mem.Read(last byte)",
        f.mem(
            false,
            WIDTH_UINT8,
            0,
            len - 1,
            1,
            ptr::from_mut(&mut byte).cast(),
        ),
        Status::SUCCESS,
    )?;
    expect_status(
        "Mem.Read(Uint32 at the BAR end)",
        f.mem(
            false,
            WIDTH_UINT32,
            0,
            len,
            1,
            ptr::from_mut(&mut value).cast(),
        ),
        Status::UNSUPPORTED,
    )
}

/// Runs the PCI I/O checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    report.record(
        out,
        "pci: LocateHandleBuffer(PCI I/O) finds at least 3 functions",
        check_handles(),
    );
    report.record(
        out,
        "pci: device paths are PciRoot(PNP0A03)/Pci()... matching GetLocation",
        check_device_paths(),
    );
    report.record(
        out,
        "pci: Pci.Read agrees with configuration mechanism #1",
        check_config_reads(),
    );
    report.record(
        out,
        "pci: Attributes(Get) bus master matches Command (vmfw: off without a driver)",
        check_bus_master_off(),
    );
    report.record(
        out,
        "pci: Attributes(Enable/Disable, BUS_MASTER) drive the Command register",
        check_bus_master_toggle(),
    );
    report.record(
        out,
        "pci: AllocateBuffer, Map(CommonBuffer), Unmap, FreeBuffer",
        check_common_buffer(),
    );
    report.record(
        out,
        "pci: Map(BusMasterRead) of pool memory",
        check_map_read(),
    );
    report.record(
        out,
        "pci: invalid widths, BARs, offsets and operations refused",
        check_refusals(),
    );
    report.record(
        out,
        "pci: VGA BAR 0 Mem.Read/Write, FIFO/Fill, CopyMem, PollMem, bounds",
        check_mem_access(),
    );
}
