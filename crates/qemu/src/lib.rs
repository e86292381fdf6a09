//! QEMU platform interfaces the vmfw firmware uses at bring-up (QEMU 7.2, x86_64 `q35` and `pc` machines).
//!
//! Modules and their sources:
//! - [`fw_cfg`]: the firmware configuration device over I/O ports 0x510/0x511 and the DMA interface at
//!   0x514/0x518 — signature and feature probe, the file directory, reads (DMA when available, port I/O otherwise)
//!   and DMA writes. Source: QEMU `docs/specs/fw_cfg.txt`.
//! - [`e820`]: the guest memory map from fw_cfg `etc/e820`, normalised into sorted, non-overlapping
//!   [`e820::MemoryRanges`] (most restrictive type wins), with carving of the firmware's own regions, and a
//!   CMOS-register fallback. Source: QEMU's `struct e820_entry`, ACPI address range types, PC/AT CMOS layout.
//! - [`table_loader`]: executor of QEMU's ACPI linker/loader script `etc/table-loader` (ALLOCATE, ADD_POINTER,
//!   ADD_CHECKSUM, WRITE_POINTER) over a firmware-provided [`table_loader::TableMemory`], and RSDP validation.
//!   Source: the command format of QEMU `hw/acpi/bios-linker-loader.c`; ACPI 6.5 section 5.2.5.3.
//! - [`smbios`]: QEMU's `etc/smbios/smbios-anchor` and `etc/smbios/smbios-tables` — entry point decoding and
//!   construction (2.1 and 3.0) and structure-table walking and inventory. Source: DMTF DSP0134 (SMBIOS 3.x)
//!   sections 5.2 and 6.1.
//! - [`bootorder`]: the `bootorder` file (`bootindex=` devices as OpenFirmware paths, highest priority first),
//!   classified into PCI function chains and option ROMs. Source: QEMU `softmmu/bootdevice.c`, `hw/pci/pci.c`.
//!
//! Hardware is reached only through [`hw::PortIo`]; DMA and ACPI memory are plain pointers because the firmware
//! identity-maps memory (a pointer's address is its physical address). Every parser works on untrusted bytes and
//! returns a typed error instead of panicking. Host tests use an in-process fw_cfg fake (`fw_cfg::fake`, test-only).
#![no_std]
#![deny(missing_docs)]
extern crate alloc;

pub mod bootorder;
pub mod e820;
pub mod fw_cfg;
pub mod smbios;
pub mod table_loader;
