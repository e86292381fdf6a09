//! `EFI_PCI_IO_PROTOCOL` (UEFI 2.10 section 14.4) for every PCI function bring-up found, each on its own handle
//! with a Device Path protocol `PciRoot(0x0)/Pci(bridge)/.../Pci(D,F)` (UEFI 2.10 section 10.3: ACPI node
//! `PNP0A03` UID 0, one PCI node per bridge on the way down, then the function, then the end node).
//!
//! Layout of the module:
//! - this file: the per-function state ([`Device`]), the three globals, installation and the exit final action;
//! - `access`: Mem/Io/Pci Read/Write (all widths), PollMem/PollIo and CopyMem, with BAR and range validation;
//! - `dma`: Map/Unmap/AllocateBuffer/FreeBuffer/Flush over the one `dma::Dma`, and its `DmaMemory` over the UEFI
//!   memory map;
//! - `attributes`: GetLocation, Attributes, GetBarAttributes, SetBarAttributes.
//!
//! Invariants:
//! - **Three globals, never borrowed across foreign code**: [`DEVICES`] (the functions, fixed after
//!   [`install`]), `CONFIG` (the machine's one configuration access, moved here from bring-up) and `DMA` (the
//!   one DMA layer). Each is a [`Global`]: borrowed with interrupts masked for one short operation. DMA calls
//!   additionally raise the TPL to at least `TPL_NOTIFY`, so a memory-map-change notification queued by a page
//!   allocation runs only after the DMA state was released.
//! - **`This` is checked**: an entry point only acts when `This` is one of the installed instances (compared by
//!   address with [`DEVICES`]); anything else is `EFI_INVALID_PARAMETER`, never a dereference of caller memory.
//! - **Owner tags**: every DMA mapping and common buffer is tagged with the controller handle's value, so the
//!   exit report names functions, and Unmap/FreeBuffer refuse another function's mappings.
//! - **Bus mastering** is only ever set by [`attributes`] on a driver's request (and then also on the bridges
//!   above the function, which must forward its upstream requests); installation never touches the Command
//!   register.
//! - **The final phase allocates nothing**: the registered final action captures nothing (a zero-sized box),
//!   borrows `DMA` and `DEVICES` and logs with `log`/`core::fmt` only; `Dma::release_all_at_exit` is
//!   allocation-free by construction (see `crates/dma`).

mod access;
mod attributes;
mod dma;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;

use pci::config::{status, Bdf, ConfigSpace, CAPABILITIES_POINTER, STATUS};
use pci::enumerate::PciFunction;
use pci::resources::{BarKind, FunctionResources, Resource};
use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::{device_path, pci_io};

use super::memory::allocate_zeroed;
use super::protocol::services;
use super::state::{events, Global};
use crate::platform::pci::Pci;

const LOG: &str = "efi::pci_io";
/// PCI Express capability ID (PCIe base spec 5.0 section 7.5.3): a function with it has 4 KiB of configuration
/// space behind ECAM.
const CAP_ID_PCI_EXPRESS: u8 = 0x10;
/// `EISA_PNP_ID(0x0A03)`: the compressed EISA ID of `PNP0A03` (PCI host bridge), as ACPI device path nodes hold it.
const PNP0A03: u32 = 0x0a03_41d0;

/// One assigned BAR, as the protocol's BAR-relative accesses see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// I/O space (ports) rather than memory space.
    pub io: bool,
    /// A 64-bit memory BAR (it occupies this index and the next).
    pub mem64: bool,
    /// Prefetchable memory.
    pub prefetchable: bool,
    /// Base address (bytes; a port number for I/O BARs).
    pub address: u64,
    /// Size in bytes.
    pub size: u64,
}

/// One PCI function with an installed PCI I/O protocol.
pub struct Device {
    /// The function.
    pub bdf: Bdf,
    /// The handle carrying the protocol (null until installed); its value is the DMA owner tag.
    pub handle: Handle,
    /// The protocol instance handed out (`This`).
    pub instance: *mut pci_io::Protocol,
    /// BARs by index 0..=5 (`None`: not implemented, the upper half of a 64-bit BAR, or not assigned).
    pub bars: [Option<Bar>; 6],
    /// Bridges from the root bus down to the function's bus, top first.
    pub bridges: Vec<Bdf>,
    /// Configuration space size in bytes: 4096 for PCIe functions behind ECAM, 256 otherwise.
    pub config_size: u32,
    /// `EFI_PCI_IO_ATTRIBUTE_*` bits `Attributes(Supported)` reports.
    pub supports: u64,
    /// Whether the driver enabled `EFI_PCI_IO_ATTRIBUTE_DUAL_ADDRESS_CYCLE` (64-bit DMA).
    pub dual_address_cycle: bool,
}

impl Device {
    /// The DMA owner tag: the controller handle's value.
    pub fn owner(&self) -> u64 {
        self.handle as usize as u64
    }
}

/// What an entry point needs of its device, copied out of [`DEVICES`] (so no borrow is held).
#[derive(Clone, Copy, Debug)]
pub struct DeviceView {
    /// Index in [`DEVICES`].
    pub index: usize,
    /// The function.
    pub bdf: Bdf,
    /// DMA owner tag.
    pub owner: u64,
    /// BARs by index.
    pub bars: [Option<Bar>; 6],
    /// Configuration space size in bytes.
    pub config_size: u32,
    /// Supported attributes.
    pub supports: u64,
    /// Dual address cycle enabled.
    pub dual_address_cycle: bool,
}

/// A `Send`-free list of devices made shareable: boot services run on one CPU (see [`Global`]).
pub struct Devices(pub Vec<Device>);

/// Every function with a PCI I/O protocol, in enumeration order.
pub static DEVICES: Global<Devices> = Global::new(Devices(Vec::new()));
/// The machine's configuration access (ECAM on q35, ports on pc), moved here from bring-up.
static CONFIG: Global<Option<Box<dyn ConfigSpace>>> = Global::new(None);
/// The 64-bit MMIO window (pass-through memory accesses may target it besides the first 4 GiB).
static MEM64_WINDOW: Global<(u64, u64)> = Global::new((0, 0));

/// Resolves `This` to its device, or `EFI_INVALID_PARAMETER` if it is not one of ours.
pub fn device(this: *mut pci_io::Protocol) -> Result<DeviceView, Status> {
    if this.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    DEVICES.with(|d| {
        let (index, dev) =
            d.0.iter()
                .enumerate()
                .find(|(_, dev)| dev.instance == this)
                .ok_or(Status::INVALID_PARAMETER)?;
        Ok(DeviceView {
            index,
            bdf: dev.bdf,
            owner: dev.owner(),
            bars: dev.bars,
            config_size: dev.config_size,
            supports: dev.supports,
            dual_address_cycle: dev.dual_address_cycle,
        })
    })
}

/// Runs `f` on the configuration access; `NOT_READY` before [`install`].
pub fn with_config<R>(f: impl FnOnce(&mut (dyn ConfigSpace + 'static)) -> R) -> Result<R, Status> {
    CONFIG.with(|c| match c.as_mut() {
        Some(cfg) => Ok(f(cfg.as_mut())),
        None => Err(Status::NOT_READY),
    })
}

/// The 64-bit MMIO window `(start, end)`.
pub fn mem64_window() -> (u64, u64) {
    MEM64_WINDOW.with(|w| *w)
}

/// The bridges above `function`, top first (bounded against a malformed parent chain).
fn bridges_above(function: &PciFunction, all: &[PciFunction]) -> Vec<Bdf> {
    let mut chain = Vec::new();
    let mut parent = function.parent;
    while let Some(bdf) = parent {
        if chain.len() >= 256 || chain.contains(&bdf) {
            log::error!(target: LOG, "{}: parent chain loops at {bdf}", function.bdf);
            break;
        }
        chain.push(bdf);
        parent = all.iter().find(|f| f.bdf == bdf).and_then(|f| f.parent);
    }
    chain.reverse();
    chain
}

/// The device path bytes `PciRoot(0x0)/Pci(..)/.../Pci(D,F)` + end node.
fn device_path_bytes(bridges: &[Bdf], bdf: Bdf) -> Vec<u8> {
    let mut path = Vec::with_capacity(12 + 6 * (bridges.len() + 1) + 4);
    // ACPI device path, subtype ACPI (UEFI 2.10 section 10.3.3): HID, UID.
    path.extend_from_slice(&[device_path::TYPE_ACPI, 0x01, 12, 0]);
    path.extend_from_slice(&PNP0A03.to_le_bytes());
    path.extend_from_slice(&0u32.to_le_bytes());
    // Hardware device path, subtype PCI (UEFI 2.10 section 10.3.2.1): Function, then Device.
    for node in bridges.iter().chain(core::iter::once(&bdf)) {
        path.extend_from_slice(&[
            device_path::TYPE_HARDWARE,
            0x01,
            6,
            0,
            node.function,
            node.device,
        ]);
    }
    path.extend_from_slice(&[
        device_path::TYPE_END,
        device_path::End::SUBTYPE_ENTIRE,
        4,
        0,
    ]);
    path
}

/// BARs of `resources` by index; an unassigned BAR is left out (it does not decode).
fn bars_of(resources: Option<&FunctionResources>) -> [Option<Bar>; 6] {
    let mut bars = [None; 6];
    for bar in resources.iter().flat_map(|r| r.bars.iter()) {
        let (Some(address), Some(slot)) = (bar.address, bars.get_mut(bar.index as usize)) else {
            continue;
        };
        *slot = Some(Bar {
            io: bar.kind == BarKind::Io,
            mem64: bar.kind == BarKind::Mem64,
            prefetchable: bar.prefetchable,
            address,
            size: bar.size,
        });
    }
    bars
}

/// Supported attributes: decode of a space only when every resource of that space was assigned (bring-up left
/// the decode off otherwise, and enabling it would decode stale addresses), bus mastering and dual address cycle
/// always.
fn supports_of(bdf: Bdf, resources: Option<&FunctionResources>, pci: &Pci) -> u64 {
    let mut supports = pci_io::ATTRIBUTE_BUS_MASTER | pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE;
    let (mut io_ok, mut mem_ok) = (true, true);
    for missing in pci.resources.unassigned.iter().filter(|u| u.bdf == bdf) {
        match missing.resource {
            Resource::IoWindow => io_ok = false,
            Resource::MemWindow | Resource::PrefWindow => mem_ok = false,
            Resource::Bar(index) => {
                let kind = resources
                    .and_then(|r| r.bars.iter().find(|b| b.index == index))
                    .map(|b| b.kind);
                match kind {
                    Some(BarKind::Io) => io_ok = false,
                    _ => mem_ok = false,
                }
            }
        }
    }
    if io_ok {
        supports |= pci_io::ATTRIBUTE_IO;
    }
    if mem_ok {
        supports |= pci_io::ATTRIBUTE_MEMORY;
    }
    supports
}

/// 4096 when the function is PCI Express and configuration goes through ECAM, else 256.
fn config_size_of(cfg: &mut dyn ConfigSpace, bdf: Bdf, ecam: bool) -> u32 {
    if !ecam || cfg.read16(bdf, STATUS) & status::CAPABILITIES_LIST == 0 {
        return 256;
    }
    let mut pointer = cfg.read8(bdf, CAPABILITIES_POINTER) & 0xfc;
    // At most 48 capabilities fit in the 192 bytes after the header: the bound stops a looping list.
    for _ in 0..48 {
        if pointer < 0x40 {
            break;
        }
        if cfg.read8(bdf, u16::from(pointer)) == CAP_ID_PCI_EXPRESS {
            return 4096;
        }
        pointer = cfg.read8(bdf, u16::from(pointer) + 1) & 0xfc;
    }
    256
}

/// The protocol instance every function gets (its own copy, so `This` identifies the function).
fn new_protocol() -> pci_io::Protocol {
    pci_io::Protocol {
        poll_mem: access::poll_mem,
        poll_io: access::poll_io,
        mem: pci_io::Access {
            read: access::mem_read,
            write: access::mem_write,
        },
        io: pci_io::Access {
            read: access::io_read,
            write: access::io_write,
        },
        pci: pci_io::ConfigAccess {
            read: access::pci_read,
            write: access::pci_write,
        },
        copy_mem: access::copy_mem,
        map: dma::map,
        unmap: dma::unmap,
        allocate_buffer: dma::allocate_buffer,
        free_buffer: dma::free_buffer,
        flush: dma::flush,
        get_location: attributes::get_location,
        attributes: attributes::attributes,
        get_bar_attributes: attributes::get_bar_attributes,
        set_bar_attributes: attributes::set_bar_attributes,
        rom_size: 0,
        rom_image: core::ptr::null_mut(),
    }
}

/// Installs a PCI I/O protocol and its device path on a new handle for every function of `pci`, takes over the
/// machine's configuration access `config` (`ecam`: it is ECAM, so PCIe functions have 4 KiB spaces), creates the
/// DMA layer and registers its release as an ExitBootServices final action. Returns the number of handles.
///
/// Call once, after boot services started. A function whose installation fails is logged and skipped.
///
/// Errors: `ALREADY_STARTED` on a second call; `OUT_OF_RESOURCES` if the final action cannot be registered
/// (nothing is installed then).
pub fn install(mut config: Box<dyn ConfigSpace>, ecam: bool, pci: &Pci) -> Result<usize, Status> {
    if DEVICES.with(|d| !d.0.is_empty()) || CONFIG.with(|c| c.is_some()) {
        return Err(Status::ALREADY_STARTED);
    }
    dma::init()?;
    register_final_action()?;
    MEM64_WINDOW.with(|w| *w = (pci.windows.mem64.start, pci.windows.mem64.end));
    let mut installed = 0;
    for function in &pci.functions {
        let bdf = function.bdf;
        let resources = pci.resources.functions.iter().find(|r| r.bdf == bdf);
        let bridges = bridges_above(function, &pci.functions);
        let path = device_path_bytes(&bridges, bdf);
        let instance = match allocate_zeroed(
            efi::BOOT_SERVICES_DATA,
            core::mem::size_of::<pci_io::Protocol>(),
        ) {
            Ok(p) => p as *mut pci_io::Protocol,
            Err(e) => {
                log::error!(target: LOG, "{bdf}: no pool for the protocol: {e:?}");
                continue;
            }
        };
        // SAFETY: `instance` was just allocated (pool memory is 8-byte aligned) for one `pci_io::Protocol`.
        unsafe { instance.write(new_protocol()) };
        let dp = match allocate_zeroed(efi::BOOT_SERVICES_DATA, path.len()) {
            Ok(p) => p,
            Err(e) => {
                log::error!(target: LOG, "{bdf}: no pool for the device path: {e:?}");
                let _ = super::memory::free_pool(instance as *mut c_void);
                continue;
            }
        };
        // SAFETY: `dp` was just allocated with `path.len()` bytes.
        unsafe { core::ptr::copy_nonoverlapping(path.as_ptr(), dp, path.len()) };
        DEVICES.with(|d| {
            d.0.push(Device {
                bdf,
                handle: core::ptr::null_mut(),
                instance,
                bars: bars_of(resources),
                bridges,
                config_size: 256,
                supports: supports_of(bdf, resources, pci),
                dual_address_cycle: false,
            })
        });
        let config_size = config_size_of(config.as_mut(), bdf, ecam);
        let pairs = [
            (device_path::PROTOCOL_GUID, dp as *mut c_void),
            (pci_io::PROTOCOL_GUID, instance as *mut c_void),
        ];
        match services().install_multiple_protocol_interfaces(None, &pairs) {
            Ok(handle) => {
                DEVICES.with(|d| {
                    if let Some(dev) = d.0.iter_mut().find(|dev| dev.instance == instance) {
                        dev.handle = handle;
                        dev.config_size = config_size;
                    }
                });
                log::debug!(target: LOG, "{bdf}: PCI I/O on handle {handle:p}");
                installed += 1;
            }
            Err(e) => {
                log::error!(target: LOG, "{bdf}: installing PCI I/O failed: {e:?}");
                DEVICES.with(|d| d.0.retain(|dev| dev.instance != instance));
                let _ = super::memory::free_pool(instance as *mut c_void);
                let _ = super::memory::free_pool(dp as *mut c_void);
            }
        }
    }
    CONFIG.with(|c| *c = Some(config));
    log::info!(target: LOG, "PCI I/O installed on {installed} of {} functions", pci.functions.len());
    Ok(installed)
}

/// The function whose handle value is `owner`, for the exit report (no allocation).
fn owner_bdf(owner: u64) -> Option<Bdf> {
    DEVICES.with(|d| {
        d.0.iter()
            .find(|dev| dev.owner() == owner)
            .map(|dev| dev.bdf)
    })
}

/// Registers the DMA release as a final action of ExitBootServices (phase 6, after every device reset).
fn register_final_action() -> Result<(), Status> {
    events().register_final_action("PCI I/O DMA release", Box::new(dma::release_at_exit))?;
    Ok(())
}
