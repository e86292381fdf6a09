//! Block I/O checks (UEFI 2.10 §13.9) on the virtio-blk disks the load options describe (see [`spec`]).
//!
//! For each described disk: the Block I/O protocol sits on the PCI function's own handle (device path exactly
//! `PciRoot(0x0)/Pci(D,F)`, as edk2's VirtioBlkDxe installs it) with media matching the drive; reads of single
//! blocks, of 1 MiB in one call and of 6 MiB (several virtio requests) return the pattern the runner wrote; a
//! buffer at an odd address works when `IoAlign` allows it (and is refused when it does not); out-of-range,
//! partial-block and zero-length requests get the statuses of §13.9; a read-only disk refuses WriteBlocks with
//! `WRITE_PROTECTED` and stays unchanged; a writable one round-trips a write (which the runner verifies in the
//! file afterwards) and flushes; Reset keeps the disk usable; DisconnectController removes Block I/O and
//! ConnectController brings it back.
//!
//! Checks the specification requires but OVMF's VirtioBlkDxe does not implement (`MEDIA_CHANGED` for a stale
//! MediaId, `INVALID_PARAMETER` for a NULL buffer) and vmfw's own promises (a forged `This` is refused, bus
//! mastering is off once the driver stopped) run only when the firmware vendor is vmfw; everything else runs on
//! both, so OVMF shows the expectations are right.
//!
//! Without a `blockio=` load option the group prints that it was skipped. Buffers are pool memory freed by the
//! check that allocated them.

use core::fmt::Write;
use core::ptr;

mod disk;
pub mod spec;

use uefi_raw::protocol::block::BlockIoProtocol;
use uefi_raw::Status;

use self::disk::{compare, connect, find, load_options, Disk, Pool};
use self::spec::{DiskSpec, WRITE_BLOCKS, WRITE_LBA, WRITE_TAG};
use crate::pci::protocol::{Function, ATTRIBUTE_BUS_MASTER, ATTRIBUTE_OPERATION_GET};
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, expect_status};

const SECTOR: usize = 512;
/// The large single-call read.
const ONE_MIB: usize = 1 << 20;
/// The read that needs several virtio requests (vmfw cuts requests at 4 MiB).
const SIX_MIB: usize = 6 << 20;

fn check_media(disk: &Disk, vmfw: bool) -> Outcome {
    let m = disk.media();
    // SAFETY: `io` is installed.
    let revision = unsafe { (*disk.io).revision };
    ensure!(
        m.media_present.into() && !bool::from(m.logical_partition),
        "present {:?}, logical partition {:?}",
        m.media_present,
        m.logical_partition
    );
    ensure!(m.block_size == SECTOR as u32, "BlockSize {}", m.block_size);
    ensure!(
        m.last_block == disk.spec.sectors - 1,
        "LastBlock {}, the drive has {} sectors",
        m.last_block,
        disk.spec.sectors
    );
    ensure!(
        bool::from(m.read_only) == disk.spec.read_only,
        "ReadOnly {:?} on a {} drive",
        m.read_only,
        if disk.spec.read_only {
            "read-only"
        } else {
            "writable"
        }
    );
    ensure!(
        m.io_align <= 1 || m.io_align.is_power_of_two(),
        "IoAlign {} is not a power of two",
        m.io_align
    );
    if revision >= BlockIoProtocol::REVISION_2 {
        ensure!(
            m.logical_blocks_per_physical_block.is_power_of_two(),
            "LogicalBlocksPerPhysicalBlock {}",
            m.logical_blocks_per_physical_block
        );
        ensure!(
            m.lowest_aligned_lba <= m.last_block,
            "LowestAlignedLba {}",
            m.lowest_aligned_lba
        );
    }
    ensure!(
        !vmfw || revision == BlockIoProtocol::REVISION_3,
        "Revision {revision:#x}, vmfw installs revision 3"
    );
    Ok(())
}

fn check_small_reads(disk: &Disk) -> Outcome {
    let tag = disk.spec.tag;
    disk.expect_pattern(0, SECTOR, tag)?;
    disk.expect_pattern(disk.spec.sectors - 1, SECTOR, tag)?;
    disk.expect_pattern(7, 3 * SECTOR, tag)
}

fn check_large_read(disk: &Disk, len: usize, lba: u64) -> Outcome {
    let len = len.min((disk.spec.sectors - lba) as usize * SECTOR);
    disk.expect_pattern(lba, len, disk.spec.tag)
}

/// An odd buffer address: accepted and filled correctly when IoAlign is 0 or 1, refused otherwise.
fn check_unaligned_buffer(disk: &Disk) -> Outcome {
    let mut buffer = Pool::new(4 * SECTOR + 1)?;
    // SAFETY: one byte into a buffer one byte longer than the request.
    let odd = unsafe { buffer.ptr.add(1) };
    let status = disk.read(5, 4 * SECTOR, odd);
    if disk.media().io_align > 1 {
        return expect_status(
            "ReadBlocks(misaligned buffer)",
            status,
            Status::INVALID_PARAMETER,
        );
    }
    expect_status(
        "ReadBlocks(buffer at an odd address, IoAlign <= 1)",
        status,
        Status::SUCCESS,
    )?;
    compare(disk.spec.tag, 5, &buffer.bytes_mut()[1..])
}

fn check_refusals(disk: &Disk, vmfw: bool) -> Outcome {
    let buffer = Pool::new(2 * SECTOR)?;
    let last = disk.media().last_block;
    expect_status(
        "ReadBlocks(LastBlock + 1)",
        disk.read(last + 1, SECTOR, buffer.ptr),
        Status::INVALID_PARAMETER,
    )?;
    expect_status(
        "ReadBlocks(LastBlock, 2 blocks)",
        disk.read(last, 2 * SECTOR, buffer.ptr),
        Status::INVALID_PARAMETER,
    )?;
    expect_status(
        "ReadBlocks(100 bytes)",
        disk.read(0, 100, buffer.ptr),
        Status::BAD_BUFFER_SIZE,
    )?;
    expect_status(
        "ReadBlocks(0 bytes)",
        disk.read(0, 0, buffer.ptr),
        Status::SUCCESS,
    )?;
    if !disk.spec.read_only {
        expect_status(
            "WriteBlocks(LastBlock + 1)",
            disk.write(last + 1, SECTOR, buffer.ptr),
            Status::INVALID_PARAMETER,
        )?;
        expect_status(
            "WriteBlocks(100 bytes)",
            disk.write(0, 100, buffer.ptr),
            Status::BAD_BUFFER_SIZE,
        )?;
    }
    if vmfw {
        let media_id = disk.media().media_id.wrapping_add(1);
        expect_status(
            "ReadBlocks(stale MediaId)",
            disk.read_with(media_id, 0, SECTOR, buffer.ptr),
            Status::MEDIA_CHANGED,
        )?;
        expect_status(
            "ReadBlocks(NULL buffer)",
            disk.read(0, SECTOR, ptr::null_mut()),
            Status::INVALID_PARAMETER,
        )?;
        // SAFETY: `io` is installed; the copy only carries its function pointers.
        let forged = unsafe {
            BlockIoProtocol {
                revision: (*disk.io).revision,
                media: (*disk.io).media,
                reset: (*disk.io).reset,
                read_blocks: (*disk.io).read_blocks,
                write_blocks: (*disk.io).write_blocks,
                flush_blocks: (*disk.io).flush_blocks,
            }
        };
        // SAFETY: a call through the real function with a `This` the firmware never installed.
        let status = unsafe { (forged.read_blocks)(&forged, 0, 0, SECTOR, buffer.ptr.cast()) };
        expect_status("ReadBlocks(forged This)", status, Status::INVALID_PARAMETER)?;
    }
    Ok(())
}

fn check_read_only(disk: &Disk) -> Outcome {
    let mut buffer = Pool::new(SECTOR)?;
    spec::fill(WRITE_TAG, 0, buffer.bytes_mut());
    expect_status(
        "WriteBlocks on a read-only disk",
        disk.write(0, SECTOR, buffer.ptr),
        Status::WRITE_PROTECTED,
    )?;
    disk.expect_pattern(0, SECTOR, disk.spec.tag)
}

fn check_write_read_back(disk: &Disk) -> Outcome {
    let len = WRITE_BLOCKS as usize * SECTOR;
    let mut data = Pool::new(len)?;
    spec::fill(WRITE_TAG, WRITE_LBA, data.bytes_mut());
    expect_status(
        "WriteBlocks",
        disk.write(WRITE_LBA, len, data.ptr),
        Status::SUCCESS,
    )?;
    // SAFETY: `io` is installed.
    expect_status(
        "FlushBlocks",
        unsafe { ((*disk.io).flush_blocks)(disk.io) },
        Status::SUCCESS,
    )?;
    disk.expect_pattern(WRITE_LBA, len, WRITE_TAG)?;
    disk.expect_pattern(WRITE_LBA - 1, SECTOR, disk.spec.tag)?;
    disk.expect_pattern(WRITE_LBA + WRITE_BLOCKS, SECTOR, disk.spec.tag)
}

fn check_reset(disk: &Disk) -> Outcome {
    // SAFETY: `io` is installed.
    let status = unsafe { ((*disk.io).reset)(disk.io, false.into()) };
    expect_status("Reset(FALSE)", status, Status::SUCCESS)?;
    disk.expect_pattern(3, 2 * SECTOR, disk.spec.tag)
}

/// Bus mastering of the disk's PCI function (Attributes(Get)).
fn bus_master(disk: &Disk) -> Result<bool, Detail> {
    let f = Function::open(disk.handle)?;
    let mut attributes = 0u64;
    // SAFETY: `f.io` is the firmware's instance; `attributes` is a valid out-pointer.
    let status = unsafe { ((*f.io).attributes)(f.io, ATTRIBUTE_OPERATION_GET, 0, &mut attributes) };
    expect_status("Attributes(Get)", status, Status::SUCCESS)?;
    Ok(attributes & ATTRIBUTE_BUS_MASTER != 0)
}

fn check_stop_start(disk: &Disk, vmfw: bool) -> Outcome {
    let bs = boot_services();
    // SAFETY: plain call on a live handle; NULL driver and child mean "every driver".
    let status =
        unsafe { (bs.disconnect_controller)(disk.handle, ptr::null_mut(), ptr::null_mut()) };
    expect_status("DisconnectController", status, Status::SUCCESS)?;
    let gone = handle_protocol(disk.handle, &BlockIoProtocol::GUID);
    ensure!(
        gone == Err(Status::UNSUPPORTED),
        "HandleProtocol(Block I/O) after Stop gave {gone:?}"
    );
    if vmfw {
        ensure!(
            !bus_master(disk)?,
            "bus mastering still on after the driver stopped"
        );
    }
    // SAFETY: plain call; NULL driver list and remaining path are allowed.
    let status = unsafe {
        (bs.connect_controller)(disk.handle, ptr::null_mut(), ptr::null_mut(), true.into())
    };
    expect_status("ConnectController", status, Status::SUCCESS)?;
    let again = find(&disk.spec)?;
    ensure!(
        again.handle == disk.handle,
        "Block I/O came back on another handle"
    );
    again.expect_pattern(0, 2 * SECTOR, disk.spec.tag)
}

/// Records one check named `blockio: DD.F: what`.
fn record(report: &mut Report, out: &mut dyn Write, spec: &DiskSpec, what: &str, outcome: Outcome) {
    let name = Detail::new(format_args!(
        "blockio: {:02x}.{:x}: {what}",
        spec.device, spec.function
    ));
    report.record(out, name.as_str(), outcome);
}

fn run_disk(report: &mut Report, out: &mut dyn Write, spec: &DiskSpec, vmfw: bool) {
    let disk = match find(spec) {
        Ok(disk) => disk,
        Err(detail) => {
            return record(
                report,
                out,
                spec,
                "Block I/O on PciRoot(0x0)/Pci(D,F)",
                Err(detail),
            )
        }
    };
    record(
        report,
        out,
        spec,
        "Block I/O on PciRoot(0x0)/Pci(D,F)",
        Ok(()),
    );
    record(
        report,
        out,
        spec,
        "media matches the drive",
        check_media(&disk, vmfw),
    );
    record(
        report,
        out,
        spec,
        "ReadBlocks of first, last and middle blocks",
        check_small_reads(&disk),
    );
    record(
        report,
        out,
        spec,
        "ReadBlocks of 1 MiB in one call",
        check_large_read(&disk, ONE_MIB, 1),
    );
    record(
        report,
        out,
        spec,
        "ReadBlocks of 6 MiB in one call",
        check_large_read(&disk, SIX_MIB, 3),
    );
    record(
        report,
        out,
        spec,
        "ReadBlocks into a buffer at an odd address",
        check_unaligned_buffer(&disk),
    );
    record(
        report,
        out,
        spec,
        "out-of-range, partial and empty requests",
        check_refusals(&disk, vmfw),
    );
    if disk.spec.read_only {
        record(
            report,
            out,
            spec,
            "WriteBlocks is WRITE_PROTECTED",
            check_read_only(&disk),
        );
    } else {
        record(
            report,
            out,
            spec,
            "WriteBlocks, FlushBlocks, ReadBlocks round-trip",
            check_write_read_back(&disk),
        );
    }
    record(
        report,
        out,
        spec,
        "Reset keeps the disk readable",
        check_reset(&disk),
    );
    record(
        report,
        out,
        spec,
        "Disconnect/ConnectController stop and restart it",
        check_stop_start(&disk, vmfw),
    );
}

/// Runs the Block I/O checks for the disks the load options describe.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    let mut text = [0u8; 256];
    let disks = match spec::parse(load_options(&mut text).unwrap_or("")) {
        Ok(Some(disks)) if !disks.is_empty() => disks,
        Ok(_) => {
            let _ = writeln!(
                out,
                "selftest: blockio: no disks described (load option {}...), skipped",
                spec::KEY
            );
            return;
        }
        Err(why) => {
            report.record(
                out,
                "blockio: the load options describe the disks",
                fail!("{why}"),
            );
            return;
        }
    };
    report.record(
        out,
        "blockio: ConnectController on the disks' functions",
        connect(&disks),
    );
    let vmfw = crate::pci::is_vmfw();
    for spec in disks.iter() {
        run_disk(report, out, spec, vmfw);
    }
}
