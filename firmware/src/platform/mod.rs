//! The QEMU x86_64 platform: chipset, memory, PCI, ACPI, SMBIOS, time; bound to the hardware here.

pub mod acpi;
pub mod chipset;
pub mod exit;
pub mod inventory;
pub mod memory;
pub mod pci;
pub mod smbios;
pub mod timer;
