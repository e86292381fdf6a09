//! PCI I/O location and attributes (UEFI 2.10 section 14.4): `GetLocation`, `Attributes`, `GetBarAttributes`,
//! `SetBarAttributes`.
//!
//! - **Attributes** map to the Command register: `EFI_PCI_IO_ATTRIBUTE_IO` = I/O Space, `_MEMORY` = Memory
//!   Space, `_BUS_MASTER` = Bus Master (PCI LB 3.0 section 6.2.2). `Get` reads the register live, plus
//!   `_DUAL_ADDRESS_CYCLE`, which is a flag of the function's DMA (see `dma`). `Supported` is computed at
//!   installation (decode only where every resource of the space was assigned; bus master and dual address
//!   cycle always). `Set`/`Enable`/`Disable` of an unsupported bit is `EFI_UNSUPPORTED` and changes nothing.
//!   Enabling decode or bus mastering also enables it on every bridge above the function (a bridge forwards
//!   upstream requests only with Bus Master set); disabling never touches the bridges, which other functions
//!   may need. Bus mastering is set here only, on a driver's request.
//! - **BAR attributes**: vmfw supports no per-BAR attribute (write-combining, caching or disabling a range of a
//!   BAR need MTRR/PAT programming the firmware does not do), so `GetBarAttributes` reports `Supports = 0` and
//!   `SetBarAttributes` is `EFI_SUCCESS` for the empty set and `EFI_UNSUPPORTED` for any other (the status the
//!   spec gives for attributes the controller does not support). The resource list is one ACPI QWORD Address
//!   Space Descriptor (ACPI 6.5 section 6.4.3.5.1) plus an End Tag, in pool memory the caller frees.

use core::ffi::c_void;

use pci::config::{command, COMMAND};
use r_efi::efi::{self, Status};
use r_efi::protocols::pci_io;

use super::{device, with_config, DeviceView, DEVICES, LOG};
use crate::efi::memory::allocate_zeroed;

/// The attributes that are Command register bits, with their bit.
const COMMAND_BITS: [(u64, u16); 3] = [
    (pci_io::ATTRIBUTE_IO, command::IO_SPACE),
    (pci_io::ATTRIBUTE_MEMORY, command::MEMORY_SPACE),
    (pci_io::ATTRIBUTE_BUS_MASTER, command::BUS_MASTER),
];
/// QWORD Address Space Descriptor: item tag and length (ACPI 6.5 section 6.4.3.5.1).
const QWORD_DESCRIPTOR: u8 = 0x8a;
const QWORD_LENGTH: u16 = 0x2b;
/// End Tag (ACPI 6.5 section 6.4.2.9), checksum 0.
const END_TAG: [u8; 2] = [0x79, 0x00];
const RESOURCE_TYPE_MEMORY: u8 = 0;
const RESOURCE_TYPE_IO: u8 = 1;
/// Memory type-specific flags bits 2:1 = 3: cacheable and prefetchable.
const MEMORY_PREFETCHABLE: u8 = 0x06;

pub extern "efiapi" fn get_location(
    this: *mut pci_io::Protocol,
    segment: *mut usize,
    bus: *mut usize,
    device_number: *mut usize,
    function: *mut usize,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        if segment.is_null() || bus.is_null() || device_number.is_null() || function.is_null() {
            return Err(Status::INVALID_PARAMETER);
        }
        // SAFETY: four non-null OUT UINTNs (GetLocation contract).
        unsafe {
            segment.write_unaligned(0);
            bus.write_unaligned(dev.bdf.bus as usize);
            device_number.write_unaligned(dev.bdf.device as usize);
            function.write_unaligned(dev.bdf.function as usize);
        }
        Ok(())
    };
    crate::efi::status(run())
}

/// The current attributes: Command register bits plus dual address cycle.
fn current(dev: &DeviceView) -> Result<u64, Status> {
    let cmd = with_config(|cfg| cfg.read16(dev.bdf, COMMAND))?;
    let mut attributes = COMMAND_BITS
        .iter()
        .filter(|(_, bit)| cmd & bit != 0)
        .fold(0, |acc, (attribute, _)| acc | attribute);
    if dev.dual_address_cycle {
        attributes |= pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE;
    }
    Ok(attributes)
}

/// Command register bits for `attributes`.
fn command_bits(attributes: u64) -> u16 {
    COMMAND_BITS
        .iter()
        .filter(|(attribute, _)| attributes & attribute != 0)
        .fold(0, |acc, (_, bit)| acc | bit)
}

/// Makes `new` the function's attributes; bits in `enabled` are also enabled on the bridges above it.
fn apply(dev: &DeviceView, new: u64, enabled: u64) -> Result<(), Status> {
    let all = command_bits(u64::MAX);
    let want = command_bits(new);
    let up = command_bits(enabled);
    DEVICES.with(|d| {
        let device = d.0.get_mut(dev.index).ok_or(Status::INVALID_PARAMETER)?;
        device.dual_address_cycle = new & pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE != 0;
        with_config(|cfg| {
            if up != 0 {
                for &bridge in &device.bridges {
                    let cmd = cfg.read16(bridge, COMMAND);
                    if cmd & up != up {
                        cfg.write16(bridge, COMMAND, cmd | up);
                        log::debug!(target: LOG, "{}: bridge {bridge} command {cmd:#06x} -> {:#06x}", dev.bdf, cmd | up);
                    }
                }
            }
            let cmd = cfg.read16(dev.bdf, COMMAND);
            let next = (cmd & !all) | want;
            if next != cmd {
                cfg.write16(dev.bdf, COMMAND, next);
            }
            if next & command::BUS_MASTER != 0 && cmd & command::BUS_MASTER == 0 {
                log::info!(target: LOG, "{}: bus mastering enabled at a driver's request", dev.bdf);
            }
        })
    })
}

pub extern "efiapi" fn attributes(
    this: *mut pci_io::Protocol,
    operation: pci_io::AttributeOperation,
    attributes: u64,
    result: *mut u64,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        let out = |value: u64| {
            // SAFETY: a non-null `result` is an OUT UINT64 (Attributes contract).
            unsafe { crate::efi::write_out(result, value) }
        };
        match operation {
            pci_io::ATTRIBUTE_OPERATION_GET => out(current(&dev)?),
            pci_io::ATTRIBUTE_OPERATION_SUPPORTED => out(dev.supports),
            pci_io::ATTRIBUTE_OPERATION_SET
            | pci_io::ATTRIBUTE_OPERATION_ENABLE
            | pci_io::ATTRIBUTE_OPERATION_DISABLE => {
                if attributes & !dev.supports != 0 {
                    log::debug!(target: LOG, "{}: attributes {attributes:#x} not supported ({:#x})", dev.bdf, dev.supports);
                    return Err(Status::UNSUPPORTED);
                }
                let now = current(&dev)?;
                let new = match operation {
                    pci_io::ATTRIBUTE_OPERATION_SET => attributes,
                    pci_io::ATTRIBUTE_OPERATION_ENABLE => now | attributes,
                    _ => now & !attributes,
                };
                apply(&dev, new, new & !now)
            }
            _ => Err(Status::INVALID_PARAMETER),
        }
    };
    crate::efi::status(run())
}

/// The QWORD Address Space Descriptor of `bar` followed by an End Tag.
fn bar_descriptor(bar: &super::Bar) -> [u8; 48] {
    let mut d = [0u8; 48];
    d[0] = QWORD_DESCRIPTOR;
    d[1..3].copy_from_slice(&QWORD_LENGTH.to_le_bytes());
    let (resource_type, specific, granularity) = if bar.io {
        (RESOURCE_TYPE_IO, 0, 0u64)
    } else {
        let flags = if bar.prefetchable {
            MEMORY_PREFETCHABLE
        } else {
            0
        };
        (RESOURCE_TYPE_MEMORY, flags, if bar.mem64 { 64 } else { 32 })
    };
    d[3] = resource_type;
    d[5] = specific;
    d[6..14].copy_from_slice(&granularity.to_le_bytes());
    d[14..22].copy_from_slice(&bar.address.to_le_bytes());
    d[22..30].copy_from_slice(&(bar.address + bar.size - 1).to_le_bytes());
    // 30..38: translation offset 0 (host and PCI addresses are equal).
    d[38..46].copy_from_slice(&bar.size.to_le_bytes());
    d[46..48].copy_from_slice(&END_TAG);
    d
}

pub extern "efiapi" fn get_bar_attributes(
    this: *mut pci_io::Protocol,
    bar_index: u8,
    supports: *mut u64,
    resources: *mut *mut c_void,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        if supports.is_null() && resources.is_null() {
            return Err(Status::INVALID_PARAMETER);
        }
        let bar = dev
            .bars
            .get(bar_index as usize)
            .copied()
            .flatten()
            .ok_or(Status::UNSUPPORTED)?;
        if !resources.is_null() {
            let descriptor = bar_descriptor(&bar);
            let block = allocate_zeroed(efi::BOOT_SERVICES_DATA, descriptor.len())?;
            // SAFETY: `block` was just allocated with `descriptor.len()` bytes; `resources` is a non-null OUT
            // VOID** (GetBarAttributes contract).
            unsafe {
                core::ptr::copy_nonoverlapping(descriptor.as_ptr(), block, descriptor.len());
                resources.write_unaligned(block as *mut c_void);
            }
        }
        if !supports.is_null() {
            // SAFETY: a non-null OUT UINT64.
            unsafe { supports.write_unaligned(0) };
        }
        Ok(())
    };
    crate::efi::status(run())
}

pub extern "efiapi" fn set_bar_attributes(
    this: *mut pci_io::Protocol,
    attributes: u64,
    bar_index: u8,
    offset: *mut u64,
    length: *mut u64,
) -> Status {
    let run = || -> Result<(), Status> {
        let dev = device(this)?;
        if offset.is_null() || length.is_null() {
            return Err(Status::INVALID_PARAMETER);
        }
        let bar = dev
            .bars
            .get(bar_index as usize)
            .copied()
            .flatten()
            .ok_or(Status::UNSUPPORTED)?;
        // SAFETY: non-null IN/OUT UINT64s (SetBarAttributes contract).
        let (start, len) = unsafe { (offset.read_unaligned(), length.read_unaligned()) };
        if start.checked_add(len).is_none_or(|end| end > bar.size) {
            return Err(Status::UNSUPPORTED);
        }
        if attributes != 0 {
            return Err(Status::UNSUPPORTED);
        }
        // The empty set is "set" on the whole requested range: Offset and Length stay as given.
        Ok(())
    };
    crate::efi::status(run())
}
