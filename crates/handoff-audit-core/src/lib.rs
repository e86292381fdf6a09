//! The logic of `tools/handoff-audit`, kept apart from the UEFI application so every rule runs in host unit tests.
//!
//! The application (booted as `\EFI\BOOT\BOOTX64.EFI` by the firmware under test) is a thin shell that calls into
//! these modules with real hardware bindings; here the same code runs against fakes:
//!
//! - [`crc`]: EFI_TABLE_HEADER.CRC32 of the system, boot-services and runtime-services tables (UEFI 2.10 §4.2);
//! - [`memmap`]: the GetMemoryMap rules (UEFI 2.10 §7.2.3): descriptor size and version, alignment, overlaps,
//!   known types, `EFI_MEMORY_RUNTIME` on runtime types; and the memory an OS may treat as free after
//!   ExitBootServices;
//! - [`pci`]: configuration mechanism #1 (ports 0xCF8/0xCFC) and a read-only scan of buses 0..=255;
//! - [`device`]: the DMA-relevant state of virtio (modern and legacy), NVMe, xHCI and e1000 functions;
//! - [`binding`]: which functions a firmware driver held `BY_DRIVER` before ExitBootServices (the UEFI driver
//!   model's answer to "driven by the firmware");
//! - [`judge`]: whether a function was left live, and the reason in terms of who drove it;
//! - [`canary`]: the DMA canary pattern and the coalescing of overwritten pages into ranges;
//! - [`timer`]: TSC calibration against PIT channel 2;
//! - [`serial`]: a 16550 UART writer and line reader (COM1);
//! - [`json`] and [`report`]: the one JSON report and the `isa-debug-exit` verdict.
//!
//! Hardware is reached only through [`hw::PortIo`] and [`device::Mmio`].
#![no_std]
#![deny(missing_docs)]
extern crate alloc;

pub mod binding;
pub mod canary;
pub mod crc;
pub mod device;
pub mod json;
pub mod judge;
pub mod memmap;
pub mod pci;
pub mod report;
pub mod serial;
pub mod timer;

#[cfg(test)]
extern crate std;
