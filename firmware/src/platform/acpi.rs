//! ACPI tables: QEMU builds them, the firmware places them by running `etc/table-loader`.
//!
//! Must run after PCI resources and the PM base are programmed: QEMU generates the tables from the hardware
//! state on the first read of the table blobs (PCI `_CRS` windows, the PM block in the FADT).

use core::ptr::NonNull;

use qemu::fw_cfg::FwCfg;
use qemu::table_loader::{self, AllocError, RsdpInfo, TableMemory, Zone};

use super::memory::TableArena;
use crate::arch::io::X86PortIo;

/// The placed tables.
#[derive(Clone, Copy, Debug)]
pub struct Acpi {
    /// Physical address of the RSDP (for the EFI configuration table).
    pub rsdp: u64,
    /// The decoded RSDP.
    pub info: RsdpInfo,
}

// SAFETY: `TableArena::allocate` returns zeroed, identity-mapped, exclusively owned arena memory that is never
// freed, so every pointer stays valid for the firmware's lifetime and its address is the physical address.
unsafe impl TableMemory for TableArena {
    fn allocate(
        &mut self,
        size: usize,
        align: usize,
        _zone: Zone,
    ) -> Result<NonNull<u8>, AllocError> {
        // Zones matter to legacy BIOS only: UEFI publishes the RSDP through the configuration table, so the
        // FSEG zone is allocated from the same arena as everything else.
        let address = TableArena::allocate(self, size, align).ok_or(AllocError)?;
        NonNull::new(address as *mut u8).ok_or(AllocError)
    }
}

/// The RSDP's bytes (36 for ACPI 2.0+, 20 before).
pub fn rsdp_bytes(acpi: &Acpi) -> &'static [u8] {
    let len = if acpi.info.revision >= 2 { 36 } else { 20 };
    // SAFETY: the RSDP lies in the table arena (identity-mapped, never freed) and was validated to be this long.
    unsafe { core::slice::from_raw_parts(acpi.rsdp as *const u8, len) }
}

/// Runs QEMU's table-loader into `arena` and validates the RSDP it produced.
pub fn install(fw_cfg: &mut FwCfg<X86PortIo>, arena: &mut TableArena) -> Option<Acpi> {
    let loaded = match table_loader::load_tables(fw_cfg, arena) {
        Ok(loaded) => loaded,
        Err(e) => {
            log::error!(target: "acpi", "table-loader failed: {e:?}; the OS gets no ACPI tables");
            return None;
        }
    };
    let rsdp = loaded.rsdp.or_else(|| {
        log::error!(target: "acpi", "table-loader did not allocate {}", table_loader::RSDP_FILE);
        None
    })?;
    let len = loaded
        .files
        .iter()
        .find(|f| f.address == rsdp)
        .map(|f| f.len)
        .unwrap_or(0);
    // SAFETY: the loader allocated `len` bytes at `rsdp` in the arena (identity-mapped, never freed).
    let bytes = unsafe { core::slice::from_raw_parts(rsdp as *const u8, len) };
    match table_loader::validate_rsdp(bytes) {
        Ok(info) => {
            log::info!(target: "acpi", "RSDP at {rsdp:#x}, revision {}, OEM {:?}, {} blobs", info.revision, info.oem_id_str().unwrap_or("?"), loaded.files.len());
            Some(Acpi { rsdp, info })
        }
        Err(e) => {
            log::error!(target: "acpi", "RSDP at {rsdp:#x} is invalid: {e:?}");
            None
        }
    }
}
