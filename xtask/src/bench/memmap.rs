//! How much guest RAM the firmware kept from the OS, read from the guest itself.
//!
//! The initramfs' `/init` (see `assets::INIT`) prints, after its marker:
//! - `vmfw-guest: memmap START END TYPE` for every `/sys/firmware/memmap/N` entry: the memory map the firmware
//!   handed to the kernel, in e820 terms, before the kernel changed anything (START and END hexadecimal, END
//!   inclusive; TYPE as Linux names e820 types: `System RAM`, `Reserved`, `ACPI Tables`,
//!   `ACPI Non-volatile Storage`, `Unusable memory`, `Persistent Memory`, ...). On a UEFI boot the kernel's EFI
//!   stub builds this map from the final UEFI memory map, the one it got right before ExitBootServices, so it is
//!   the final map for every firmware, UEFI or BIOS, in one format.
//! - `vmfw-guest: efi-runtime TYPE PHYS_ADDR NUM_PAGES` for every `/sys/firmware/efi/runtime-map/N` entry (the
//!   UEFI memory descriptors with `EFI_MEMORY_RUNTIME`, hexadecimal). The e820 map folds runtime services code
//!   and data into `Reserved`; these lines tell them apart.
//!
//! [`account`] splits the guest RAM into what the OS may use and what it may not, by kind.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// The line prefix of one e820 entry.
const MEMMAP: &str = "vmfw-guest: memmap ";
/// The line prefix of one EFI runtime-map entry.
const EFI_RUNTIME: &str = "vmfw-guest: efi-runtime ";
/// `EfiRuntimeServicesCode` and `EfiRuntimeServicesData` (UEFI 2.10 section 7.2, `EFI_MEMORY_TYPE`).
const RUNTIME_TYPES: [u32; 2] = [5, 6];
/// UEFI pages are 4 KiB (UEFI 2.10 section 7.2, `EFI_MEMORY_DESCRIPTOR.NumberOfPages`).
const EFI_PAGE: u64 = 4096;

/// What an e820 entry gives the OS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `System RAM`: the OS's to use.
    Usable,
    /// `ACPI Tables` (reclaimable once parsed) or `ACPI Non-volatile Storage`.
    Acpi,
    /// Every other type: `Reserved`, `Unusable memory`, persistent or soft-reserved memory.
    Reserved,
}

impl Kind {
    /// The kind of a Linux e820 type name (Linux `arch/x86/kernel/e820.c`, `e820_type_to_string`).
    pub fn from_e820_name(name: &str) -> Kind {
        match name {
            "System RAM" => Kind::Usable,
            "ACPI Tables" | "ACPI Non-volatile Storage" => Kind::Acpi,
            _ => Kind::Reserved,
        }
    }
}

/// The memory map the guest reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestMap {
    /// e820 entries as half-open byte ranges, in the order printed.
    pub entries: Vec<(Range<u64>, Kind)>,
    /// UEFI runtime services code and data as half-open byte ranges (empty on a BIOS boot).
    pub runtime: Vec<Range<u64>>,
}

fn hex(field: Option<&str>, line: &str) -> Result<u64, String> {
    field
        .and_then(|f| f.strip_prefix("0x"))
        .and_then(|f| u64::from_str_radix(f, 16).ok())
        .ok_or_else(|| format!("malformed guest memory map line: {line:?}"))
}

/// Parses the `vmfw-guest: memmap` and `vmfw-guest: efi-runtime` lines of a console; other lines are ignored.
///
/// Errors: a line with one of those prefixes whose numbers are not `0x`-prefixed hexadecimal, an entry that
/// ends before it starts, or a region that runs past 2^64.
pub fn parse(console: &str) -> Result<GuestMap, String> {
    let mut map = GuestMap::default();
    for line in console.lines().map(str::trim_end) {
        if line == crate::assets::MEMMAP_END {
            continue;
        } else if let Some(rest) = line.strip_prefix(MEMMAP) {
            let mut fields = rest.splitn(3, ' ');
            let start = hex(fields.next(), line)?;
            let last = hex(fields.next(), line)?;
            let kind = Kind::from_e820_name(fields.next().unwrap_or("").trim());
            let end = last
                .checked_add(1)
                .filter(|&end| end > start)
                .ok_or_else(|| format!("guest memory map entry ends before it starts: {line:?}"))?;
            map.entries.push((start..end, kind));
        } else if let Some(rest) = line.strip_prefix(EFI_RUNTIME) {
            let mut fields = rest.split(' ');
            let kind = hex(fields.next(), line)?;
            let start = hex(fields.next(), line)?;
            let pages = hex(fields.next(), line)?;
            let end = pages
                .checked_mul(EFI_PAGE)
                .and_then(|len| start.checked_add(len))
                .ok_or_else(|| format!("EFI runtime region runs past 2^64: {line:?}"))?;
            if u32::try_from(kind).is_ok_and(|k| RUNTIME_TYPES.contains(&k)) {
                map.runtime.push(start..end);
            }
        }
    }
    Ok(map)
}

/// Where QEMU's q35 machine puts `memory` bytes of guest RAM: below 4 GiB up to 2.75 GiB, or only up to 2 GiB
/// when there are at least 2.75 GiB, the rest from 4 GiB (QEMU `hw/i386/pc_q35.c`, `pc_q35_init`).
pub fn q35_ram(memory: u64) -> Vec<Range<u64>> {
    const GIB: u64 = 1 << 30;
    let low_limit = if memory >= 0xb000_0000 {
        2 * GIB
    } else {
        0xb000_0000
    };
    let low = memory.min(low_limit);
    let mut ram = Vec::with_capacity(2);
    ram.push(0..low);
    if memory > low {
        ram.push(4 * GIB..4 * GIB + (memory - low));
    }
    ram
}

/// Guest RAM split by what the final memory map does with it, in bytes. The parts add up to `ram_bytes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    /// All guest RAM considered.
    pub ram_bytes: u64,
    /// `System RAM`: handed to the OS.
    pub usable_bytes: u64,
    /// Everything else: `ram_bytes - usable_bytes`.
    pub not_usable_bytes: u64,
    /// UEFI runtime services code and data.
    pub runtime_bytes: u64,
    /// ACPI tables and ACPI non-volatile storage.
    pub acpi_bytes: u64,
    /// Reserved (and unusable, persistent, soft-reserved) memory that is not runtime services memory.
    pub reserved_bytes: u64,
    /// RAM no entry mentions at all (typically the legacy VGA and option ROM window at 640 KiB–1 MiB).
    pub unlisted_bytes: u64,
}

/// Splits the guest RAM ranges `ram` (half-open, not overlapping) by `map`. Where ranges overlap, a byte counts
/// as the first that applies of: usable, runtime, ACPI, reserved, unlisted.
pub fn account(map: &GuestMap, ram: &[Range<u64>]) -> Accounting {
    let mut cuts: Vec<u64> = ram
        .iter()
        .chain(map.entries.iter().map(|(r, _)| r))
        .chain(map.runtime.iter())
        .flat_map(|r| [r.start, r.end])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let covers = |r: &Range<u64>, at: u64| r.start <= at && at < r.end;
    let mut acc = Accounting::default();
    for pair in cuts.windows(2) {
        let (at, len) = (pair[0], pair[1] - pair[0]);
        if !ram.iter().any(|r| covers(r, at)) {
            continue;
        }
        acc.ram_bytes += len;
        let kinds: Vec<Kind> = map
            .entries
            .iter()
            .filter(|(r, _)| covers(r, at))
            .map(|&(_, k)| k)
            .collect();
        let slot = if kinds.contains(&Kind::Usable) {
            &mut acc.usable_bytes
        } else if map.runtime.iter().any(|r| covers(r, at)) {
            &mut acc.runtime_bytes
        } else if kinds.contains(&Kind::Acpi) {
            &mut acc.acpi_bytes
        } else if kinds.contains(&Kind::Reserved) {
            &mut acc.reserved_bytes
        } else {
            &mut acc.unlisted_bytes
        };
        *slot += len;
    }
    acc.not_usable_bytes = acc.ram_bytes - acc.usable_bytes;
    acc
}

#[cfg(test)]
// `&[0..n]` here is a list of one RAM range, not the numbers 0 to n.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// Shaped like an OVMF boot's lines: out of order (sysfs lists 0, 1, 10, 11, ...), MMIO above RAM, a runtime
    /// region inside a larger reserved entry, and a boot-services region the kernel kept (type 4), which is not
    /// runtime memory.
    const OVMF_LIKE: &str = "\
vmfw-guest: initramfs reached
vmfw-guest: memmap 0x0 0x9ffff System RAM
vmfw-guest: memmap 0x100000 0x1f4ebfff System RAM
vmfw-guest: memmap 0xb0000000 0xbfffffff Reserved
vmfw-guest: memmap 0x1f76c000 0x1f77dfff ACPI Tables
vmfw-guest: memmap 0x1f4ec000 0x1f76bfff Reserved
vmfw-guest: memmap 0x1f77e000 0x1f7fdfff ACPI Non-volatile Storage
vmfw-guest: memmap 0x1f7fe000 0x1fffffff System RAM
vmfw-guest: efi-runtime 0xb 0xffc00000 0x400
vmfw-guest: efi-runtime 0x6 0x1f4ec000 0x100
vmfw-guest: efi-runtime 0x4 0x1e531000 0x13
vmfw-guest: memmap end
";

    #[test]
    fn an_ovmf_like_map_adds_up() {
        let map = parse(OVMF_LIKE).unwrap();
        assert_eq!(map.entries.len(), 7);
        assert_eq!(map.runtime, vec![0x1f4ec000..0x1f5ec000]);
        let acc = account(&map, &[0..512 * MIB]);
        assert_eq!(acc.ram_bytes, 512 * MIB);
        assert_eq!(acc.runtime_bytes, 0x100 * 4096);
        assert_eq!(acc.reserved_bytes, 0x1f76c000 - 0x1f5ec000);
        assert_eq!(acc.acpi_bytes, 0x1f7fe000 - 0x1f76c000);
        assert_eq!(acc.unlisted_bytes, 0x100000 - 0xa0000);
        assert_eq!(
            acc.not_usable_bytes,
            acc.runtime_bytes + acc.reserved_bytes + acc.acpi_bytes + acc.unlisted_bytes
        );
        assert_eq!(acc.usable_bytes + acc.not_usable_bytes, acc.ram_bytes);
    }

    #[test]
    fn entries_outside_ram_do_not_count() {
        let map =
            parse("vmfw-guest: memmap 0x0 0xfffff System RAM\nvmfw-guest: memmap 0xb0000000 0xbfffffff Reserved\n")
                .unwrap();
        let acc = account(&map, &[0..2 * MIB]);
        assert_eq!(acc.ram_bytes, 2 * MIB);
        assert_eq!(acc.usable_bytes, MIB);
        assert_eq!(acc.reserved_bytes, 0);
        assert_eq!(acc.unlisted_bytes, MIB);
    }

    #[test]
    fn ram_above_4_gib_is_a_second_range() {
        let map = parse(
            "vmfw-guest: memmap 0x0 0x7fffffff System RAM\n\
             vmfw-guest: memmap 0x100000000 0x17fffffff System RAM\n",
        )
        .unwrap();
        let acc = account(&map, &[0..2048 * MIB, 4096 * MIB..6144 * MIB]);
        assert_eq!(acc.usable_bytes, 4096 * MIB);
        assert_eq!(acc.not_usable_bytes, 0);
    }

    #[test]
    fn usable_wins_over_an_overlapping_runtime_region() {
        let map = parse(
            "vmfw-guest: memmap 0x0 0xfff System RAM\n\
             vmfw-guest: memmap 0x1000 0x1fff Reserved\n\
             vmfw-guest: efi-runtime 0x5 0x0 0x2\n",
        )
        .unwrap();
        let acc = account(&map, &[0..0x2000]);
        assert_eq!((acc.usable_bytes, acc.runtime_bytes), (0x1000, 0x1000));
    }

    #[test]
    fn a_bios_map_has_no_runtime_memory() {
        let map = parse(
            "vmfw-guest: memmap 0x0 0x9fbff System RAM\n\
             vmfw-guest: memmap 0x9fc00 0x9ffff Reserved\n\
             vmfw-guest: memmap 0xf0000 0xfffff Reserved\n\
             vmfw-guest: memmap 0x100000 0x1ffdffff System RAM\n\
             vmfw-guest: memmap 0x1ffe0000 0x1fffffff Reserved\n",
        )
        .unwrap();
        let acc = account(&map, &[0..512 * MIB]);
        assert_eq!(acc.runtime_bytes, 0);
        assert_eq!(acc.reserved_bytes, 0x400 + 0x10000 + 0x20000);
        assert_eq!(acc.unlisted_bytes, 0xf0000 - 0xa0000);
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            "vmfw-guest: memmap 0x0 System RAM",
            "vmfw-guest: memmap 10 0x20 System RAM",
            "vmfw-guest: memmap 0x20 0x10 System RAM",
            "vmfw-guest: efi-runtime 0x5 0x1000",
            "vmfw-guest: efi-runtime 0x5 0xfffffffffffff000 0x2",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn q35_ram_splits_at_the_pci_hole() {
        assert_eq!(q35_ram(512 * MIB), vec![0..512 * MIB]);
        assert_eq!(q35_ram(0xb000_0000 - 1), vec![0..0xb000_0000 - 1]);
        assert_eq!(
            q35_ram(4096 * MIB),
            vec![0..2048 * MIB, 4096 * MIB..6144 * MIB]
        );
    }

    #[test]
    fn unknown_e820_names_count_as_reserved() {
        assert_eq!(Kind::from_e820_name("Unusable memory"), Kind::Reserved);
        assert_eq!(Kind::from_e820_name("Persistent Memory"), Kind::Reserved);
        assert_eq!(
            Kind::from_e820_name("ACPI Non-volatile Storage"),
            Kind::Acpi
        );
    }
}
