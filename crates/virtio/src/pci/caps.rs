//! Virtio PCI capabilities (virtio 1.2 §4.1.4).
//!
//! The modern interface's structures are found through vendor-specific capabilities (PCI capability id 0x09) of
//! layout `struct virtio_pci_cap`: `cap_vndr` 0x00, `cap_next` 0x01, `cap_len` 0x02, `cfg_type` 0x03, `bar` 0x04,
//! `id` 0x05, padding, `offset` (le32) 0x08, `length` (le32) 0x0c; the notification capability appends
//! `notify_off_multiplier` (le32) at 0x10.
//!
//! Rules applied: capabilities naming a reserved BAR (above 5) are ignored (§4.1.4.1); the first capability of each
//! type is used; PCI configuration access (type 5), shared memory (8), vendor (9) and unknown types are ignored;
//! the chosen structures must lie inside their BAR (size told by the caller) and be long enough for the fields this
//! crate uses. Common and notify structures are required, ISR and device configuration optional.
//!
//! The capability list itself (PCI 3.0 §6.7) is walked from the pointer at 0x34 when Status bit 4 is set; pointers
//! must be at least 0x40 and the walk stops after 48 links (a longer list would have to repeat an entry).

use crate::Error;

use super::PciAccess;

/// Capability id of vendor-specific capabilities, used by virtio.
pub const PCI_CAP_ID_VNDR: u8 = 0x09;
/// Capability id of MSI-X.
pub const PCI_CAP_ID_MSIX: u8 = 0x11;
/// `cfg_type` of the common configuration structure.
pub const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
/// `cfg_type` of the notification structure.
pub const VIRTIO_PCI_CAP_NOTIFY_CFG: u8 = 2;
/// `cfg_type` of the ISR status structure.
pub const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
/// `cfg_type` of the device-specific configuration structure.
pub const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;
/// `cfg_type` of the PCI configuration access capability (ignored).
pub const VIRTIO_PCI_CAP_PCI_CFG: u8 = 5;

/// Bytes of the common configuration structure this crate uses (through `queue_device`, §4.1.4.3).
pub const COMMON_CFG_MIN_LEN: u32 = 0x38;
/// Minimum `cap_len` of a `virtio_pci_cap`.
pub const VIRTIO_PCI_CAP_LEN: u8 = 16;
/// Minimum `cap_len` of a `virtio_pci_notify_cap`.
pub const VIRTIO_PCI_NOTIFY_CAP_LEN: u8 = 20;

const STATUS: u16 = 0x06;
const STATUS_CAPABILITIES_LIST: u16 = 1 << 4;
const CAPABILITIES_POINTER: u16 = 0x34;
const MAX_CAPABILITIES: usize = 48;

/// Where one virtio structure lives: `length` bytes at `offset` in BAR `bar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructureLocation {
    /// BAR index, 0–5.
    pub bar: u8,
    /// Byte offset within the BAR.
    pub offset: u32,
    /// Length in bytes.
    pub length: u32,
}

/// The structures of a modern virtio PCI function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioCapabilities {
    /// Common configuration (`cfg_type` 1), at least [`COMMON_CFG_MIN_LEN`] bytes.
    pub common: StructureLocation,
    /// Notification area (`cfg_type` 2).
    pub notify: StructureLocation,
    /// Multiplier applied to `queue_notify_off` (0: all queues share one address).
    pub notify_off_multiplier: u32,
    /// ISR status byte (`cfg_type` 3), if present.
    pub isr: Option<StructureLocation>,
    /// Device-specific configuration (`cfg_type` 4), if present.
    pub device: Option<StructureLocation>,
}

/// Calls `visit(pointer, id)` for each capability in the function's list, in list order.
///
/// Errors: [`Error::CapabilityListMalformed`] for a pointer below 0x40 or a list longer than 48 links.
pub fn for_each_capability<A, F>(access: &mut A, mut visit: F) -> Result<(), Error>
where
    A: PciAccess + ?Sized,
    F: FnMut(&mut A, u8, u8) -> Result<(), Error>,
{
    if access.config_read16(STATUS) & STATUS_CAPABILITIES_LIST == 0 {
        return Ok(());
    }
    let mut pointer = access.config_read8(CAPABILITIES_POINTER) & 0xfc;
    for _ in 0..MAX_CAPABILITIES {
        if pointer == 0 {
            return Ok(());
        }
        if pointer < 0x40 {
            return Err(Error::CapabilityListMalformed { pointer });
        }
        let id = access.config_read8(u16::from(pointer));
        let next = access.config_read8(u16::from(pointer) + 1) & 0xfc;
        visit(access, pointer, id)?;
        pointer = next;
    }
    Err(Error::CapabilityListMalformed { pointer })
}

/// Finds the first capability with id `id`; returns its configuration-space offset.
///
/// Errors: [`Error::CapabilityListMalformed`].
pub fn find_capability<A: PciAccess + ?Sized>(access: &mut A, id: u8) -> Result<Option<u8>, Error> {
    let mut found = None;
    for_each_capability(access, |_, pointer, cap_id| {
        if cap_id == id && found.is_none() {
            found = Some(pointer);
        }
        Ok(())
    })?;
    Ok(found)
}

/// Locates the modern interface's structures (rules in the module notes). `bar_sizes[i]` is BAR i's size in bytes
/// (0 when not implemented, including the upper half of a 64-bit BAR).
///
/// Errors: [`Error::CapabilityListMalformed`], [`Error::CapabilityTooShort`] (a `cap_len` below 16, 20 for
/// notify, or a structure shorter than the fields used), [`Error::CapabilityOutsideBar`],
/// [`Error::CapabilityMissing`] (no common or no notify structure).
pub fn parse_capabilities<A: PciAccess + ?Sized>(
    access: &mut A,
    bar_sizes: &[u64; 6],
) -> Result<VirtioCapabilities, Error> {
    let mut common = None;
    let mut notify = None;
    let mut isr = None;
    let mut device = None;
    for_each_capability(access, |access, pointer, id| {
        if id != PCI_CAP_ID_VNDR {
            return Ok(());
        }
        let base = u16::from(pointer);
        let cap_len = access.config_read8(base + 2);
        let cfg_type = access.config_read8(base + 3);
        let bar = access.config_read8(base + 4);
        let slot = match cfg_type {
            VIRTIO_PCI_CAP_COMMON_CFG if common.is_none() => 0,
            VIRTIO_PCI_CAP_NOTIFY_CFG if notify.is_none() => 1,
            VIRTIO_PCI_CAP_ISR_CFG if isr.is_none() => 2,
            VIRTIO_PCI_CAP_DEVICE_CFG if device.is_none() => 3,
            _ => return Ok(()),
        };
        if bar > 5 {
            log::debug!(
                "ignoring virtio capability type {cfg_type} at {pointer:#x}: reserved BAR {bar}"
            );
            return Ok(());
        }
        let min_cap_len = if slot == 1 {
            VIRTIO_PCI_NOTIFY_CAP_LEN
        } else {
            VIRTIO_PCI_CAP_LEN
        };
        if cap_len < min_cap_len {
            return Err(Error::CapabilityTooShort {
                cfg_type,
                length: u32::from(cap_len),
                required: u32::from(min_cap_len),
            });
        }
        let location = StructureLocation {
            bar,
            offset: access.config_read32(base + 8),
            length: access.config_read32(base + 12),
        };
        check_location(cfg_type, location, bar_sizes)?;
        match slot {
            0 => common = Some(location),
            1 => notify = Some((location, access.config_read32(base + 16))),
            2 => isr = Some(location),
            _ => device = Some(location),
        }
        Ok(())
    })?;
    let common = common.ok_or(Error::CapabilityMissing {
        cfg_type: VIRTIO_PCI_CAP_COMMON_CFG,
    })?;
    let (notify, notify_off_multiplier) = notify.ok_or(Error::CapabilityMissing {
        cfg_type: VIRTIO_PCI_CAP_NOTIFY_CFG,
    })?;
    Ok(VirtioCapabilities {
        common,
        notify,
        notify_off_multiplier,
        isr,
        device,
    })
}

fn check_location(
    cfg_type: u8,
    location: StructureLocation,
    bar_sizes: &[u64; 6],
) -> Result<(), Error> {
    let required = match cfg_type {
        VIRTIO_PCI_CAP_COMMON_CFG => COMMON_CFG_MIN_LEN,
        VIRTIO_PCI_CAP_NOTIFY_CFG => 2,
        VIRTIO_PCI_CAP_ISR_CFG => 1,
        _ => 0,
    };
    if location.length < required {
        return Err(Error::CapabilityTooShort {
            cfg_type,
            length: location.length,
            required,
        });
    }
    let bar_size = bar_sizes[usize::from(location.bar)];
    let end = u64::from(location.offset) + u64::from(location.length);
    if end > bar_size {
        return Err(Error::CapabilityOutsideBar {
            cfg_type,
            bar: location.bar,
            offset: location.offset,
            length: location.length,
            bar_size,
        });
    }
    Ok(())
}
