//! The flash image: lays the firmware ELF out as the bytes QEMU maps just below 4 GiB.
//!
//! Sections linked at their flash address (the reset code, `.rom` and `.reset`) are placed at that address. The
//! sections linked into RAM (`.text`, `.rodata`, `.data`) are placed at `rom_image_lma + (address - image_start)`,
//! where the reset code copies them from (see `firmware/layout.ld`). The image is rounded up to 64 KiB.

use object::{Object, ObjectSection, ObjectSymbol, SectionKind};

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
    let base = FLASH_END - (FLASH_END - rom_image_lma).div_ceil(GRANULE) * GRANULE;
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
    Ok(image)
}
