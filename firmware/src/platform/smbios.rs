//! SMBIOS: QEMU's structure table (`etc/smbios/smbios-tables`) copied into the table arena and published behind
//! an SMBIOS 3.0 entry point (`_SM3_`, SMBIOS 3.x section 5.2.2), which can address the table anywhere in 64 bits.
//! The version comes from QEMU's own anchor (`etc/smbios/smbios-anchor`), raised to at least 3.0 since the
//! entry point is a 3.0 one.

use qemu::fw_cfg::FwCfg;
use qemu::smbios::{self, Smbios3EntryPoint, SmbiosInventory};

use super::memory::TableArena;
use crate::arch::io::X86PortIo;

/// The published SMBIOS tables.
pub struct Smbios {
    /// Physical address of the 24-byte `_SM3_` entry point (for the EFI configuration table).
    pub entry_point: u64,
    /// Physical address and length of the structure table.
    pub table: (u64, usize),
    /// Version in the entry point.
    pub version: (u8, u8, u8),
    /// Number of structures.
    pub structures: usize,
    /// Strings from types 0 and 1.
    pub inventory: SmbiosInventory,
}

/// Copies QEMU's tables into `arena` and writes the entry point. `None` (logged) when QEMU offers none or they are
/// malformed.
pub fn install(fw_cfg: &mut FwCfg<X86PortIo>, arena: &mut TableArena) -> Option<Smbios> {
    let table = fw_cfg.read_file(smbios::TABLES_FILE).ok()?;
    let summary = match smbios::walk_table(&table) {
        Ok(summary) => summary,
        Err(e) => {
            log::error!(target: "smbios", "{} is malformed: {e}", smbios::TABLES_FILE);
            return None;
        }
    };
    let (major, minor, docrev) = fw_cfg
        .read_file(smbios::ANCHOR_FILE)
        .ok()
        .and_then(|anchor| smbios::parse_anchor(&anchor).ok())
        .map(|anchor| anchor.version())
        .filter(|&(major, _, _)| major >= 3)
        .unwrap_or((3, 0, 0));
    let table_address = arena.allocate(table.len(), 16)?;
    let entry_point = arena.allocate(smbios::SMBIOS3_ENTRY_POINT_SIZE, 16)?;
    let bytes =
        Smbios3EntryPoint::new(table_address, table.len() as u32, major, minor, docrev).to_bytes();
    // SAFETY: both ranges were just allocated from the arena (identity-mapped RAM, exclusively ours) with these
    // exact lengths.
    unsafe {
        core::ptr::copy_nonoverlapping(table.as_ptr(), table_address as *mut u8, table.len());
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), entry_point as *mut u8, bytes.len());
    }
    let inventory = smbios::inventory(&table).unwrap_or_default();
    log::info!(target: "smbios", "SMBIOS {major}.{minor}.{docrev}: {} structures, {} bytes at {table_address:#x}", summary.structure_count, table.len());
    Some(Smbios {
        entry_point,
        table: (table_address, table.len()),
        version: (major, minor, docrev),
        structures: summary.structure_count,
        inventory,
    })
}
