//! The flash image: lays the firmware ELF out as the bytes QEMU maps just below 4 GiB.
//!
//! Sections linked at their flash address (the reset code, `.rom` and `.reset`) are placed at that address. The
//! sections linked into RAM (`.text`, `.rodata`, `.data`, `.got`) are placed at
//! `rom_image_lma + (address - image_start)`, where the reset code copies them from (see `firmware/layout.ld`).
//! Right below them goes the image relocation table (`runtime::relocation`): the image offsets of every 64-bit
//! pointer slot the linker filled with an address inside the runtime image (`image_start..runtime_image_end`),
//! found from the relocations the link keeps (`--emit-relocs`) and from the GOT. SetVirtualAddressMap uses it to
//! move the image to the OS's virtual address. The image is rounded up to 64 KiB.

use object::elf;
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, SectionKind};

/// Flash ends at 4 GiB, where QEMU maps `-bios` images and pflash unit 0.
pub const FLASH_END: u64 = 1 << 32;
/// Largest image the layout allows.
pub const MAX_SIZE: u64 = 2 << 20;
const GRANULE: u64 = 64 << 10;

/// Builds the flash image from the linked firmware ELF.
pub fn flash_image(elf: &[u8]) -> Result<Vec<u8>, String> {
    let file = object::File::parse(elf).map_err(|e| format!("firmware ELF: {e}"))?;
    let symbol = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
            .ok_or_else(|| format!("firmware ELF has no symbol `{name}`"))
    };
    let rom_image_lma = symbol("rom_image_lma")?;
    let image_start = symbol("image_start")?;
    let runtime_end = symbol("runtime_image_end")?;
    let table = runtime::relocation::encode(&relocation_offsets(&file, image_start..runtime_end)?);
    let table_start = rom_image_lma - table.len() as u64;
    let base = FLASH_END - (FLASH_END - table_start).div_ceil(GRANULE) * GRANULE;
    if FLASH_END - base > MAX_SIZE {
        return Err(format!(
            "firmware needs {} KiB of flash; at most {} KiB fit",
            (FLASH_END - base) >> 10,
            MAX_SIZE >> 10
        ));
    }
    let mut image = vec![0xffu8; (FLASH_END - base) as usize];
    for section in file.sections() {
        if section.size() == 0
            || !matches!(
                section.kind(),
                SectionKind::Text
                    | SectionKind::Data
                    | SectionKind::ReadOnlyData
                    | SectionKind::ReadOnlyString
            )
        {
            continue;
        }
        let address = section.address();
        let flash_address = if address >= base {
            address
        } else {
            rom_image_lma + (address - image_start)
        };
        let data = section
            .data()
            .map_err(|e| format!("section {:?}: {e}", section.name()))?;
        let offset = flash_address
            .checked_sub(base)
            .ok_or_else(|| format!("section {:?} below flash", section.name()))?
            as usize;
        image
            .get_mut(offset..offset + data.len())
            .ok_or_else(|| format!("section {:?} runs past 4 GiB", section.name()))?
            .copy_from_slice(data);
    }
    let at = (table_start - base) as usize;
    image[at..at + table.len()].copy_from_slice(&table);
    Ok(image)
}

/// Image offsets (from `runtime.start`) of the 64-bit slots in the RAM image whose link-time value lies in
/// `runtime`: targets of `R_X86_64_64` relocations and GOT entries, sorted and unique.
///
/// Errors: a narrower absolute relocation (`R_X86_64_32`, `_32S`, `_16`, `_8`) inside the RAM image, which could
/// not follow the image to a 64-bit virtual address (the firmware must be compiled position independent); a
/// relocation outside its section's data.
fn relocation_offsets(
    file: &object::File,
    runtime: std::ops::Range<u64>,
) -> Result<Vec<u32>, String> {
    let mut offsets = Vec::new();
    for section in file.sections() {
        let address = section.address();
        if !runtime.contains(&address) || section.size() == 0 {
            continue;
        }
        let data = section.data().unwrap_or(&[]);
        let value_at = |at: u64| -> Result<u64, String> {
            let i = (at - address) as usize;
            data.get(i..i + 8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .ok_or_else(|| format!("relocation at {at:#x} outside {:?}", section.name()))
        };
        let mut slot = |at: u64| -> Result<(), String> {
            if runtime.contains(&value_at(at)?) {
                offsets.push((at - runtime.start) as u32);
            }
            Ok(())
        };
        if section.name() == Ok(".got") {
            for at in (address..address + section.size()).step_by(8) {
                slot(at)?;
            }
            continue;
        }
        for (at, relocation) in section.relocations() {
            let RelocationFlags::Elf { r_type } = relocation.flags() else {
                continue;
            };
            match r_type {
                elf::R_X86_64_64 => slot(at)?,
                elf::R_X86_64_32 | elf::R_X86_64_32S | elf::R_X86_64_16 | elf::R_X86_64_8 => {
                    return Err(format!(
                        "absolute relocation type {r_type} at {at:#x} in {:?}: the runtime image must be position independent",
                        section.name()
                    ))
                }
                _ => {}
            }
        }
    }
    offsets.sort_unstable();
    offsets.dedup();
    Ok(offsets)
}
