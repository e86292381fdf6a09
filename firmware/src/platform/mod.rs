//! The QEMU x86_64 platform: chipset, memory, PCI, ACPI, SMBIOS, time; bound to the hardware here.

pub mod exit;
pub mod timer;
