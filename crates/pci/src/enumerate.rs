//! Bus enumeration: find every function reachable from bus 0 and number the buses behind bridges.
//!
//! Design notes:
//! - Depth-first from bus 0. On each bus, devices 0–31 are probed through function 0 (Vendor ID `0xFFFF` or
//!   `0x0000` means absent); functions 1–7 are probed only when function 0's Header Type has bit 7
//!   (multi-function) set (PCI LB 3.0 §6.2.1).
//! - Every type-1 function (PCI-PCI bridge, PCIe root port or switch port) gets bus numbers as in the Bridge spec
//!   1.2 §3.2.5.3: primary = the bus it sits on, secondary = the next unused number, subordinate = `last_bus`
//!   (0xFF by default) while the buses behind it are scanned so that configuration cycles for all of them are
//!   forwarded, then the highest number actually used below it. Numbers are therefore dense and strictly
//!   increasing in depth-first order, and each bridge's `secondary..=subordinate` covers exactly its subtree.
//! - When no bus number is left (the next would exceed `last_bus`), enumeration stops with
//!   [`EnumerateError::BusNumbersExhausted`]; numbers never wrap. The bridge in question keeps secondary and
//!   subordinate 0, which forwards nothing.
//! - Only bus-number registers are written; the Command register is never touched (so bus mastering stays off).
//! - CardBus bridges (header type 2) are listed but not descended into.

use alloc::vec::Vec;
use core::fmt;

use crate::config::{
    header_type, Bdf, ConfigSpace, CLASS_CODE, DEVICE_ID, HEADER_TYPE, PRIMARY_BUS, PROG_IF,
    REVISION_ID, SECONDARY_BUS, SUBCLASS, SUBORDINATE_BUS, VENDOR_ID,
};

/// The layout of a function's configuration header (Header Type bits 6:0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderType {
    /// Type 0: an endpoint / general device with six BARs.
    Endpoint,
    /// Type 1: a PCI-to-PCI bridge (including PCIe root ports and switch ports) with two BARs and windows.
    PciBridge,
    /// Type 2: a CardBus bridge (not descended into, no resources assigned).
    CardBusBridge,
    /// Any other (reserved) layout value.
    Unknown(u8),
}

impl HeaderType {
    /// Decodes the Header Type register (the multi-function bit is ignored).
    pub fn from_register(value: u8) -> Self {
        match value & header_type::LAYOUT_MASK {
            header_type::ENDPOINT => Self::Endpoint,
            header_type::PCI_BRIDGE => Self::PciBridge,
            header_type::CARDBUS_BRIDGE => Self::CardBusBridge,
            other => Self::Unknown(other),
        }
    }
}

/// Bus numbers programmed into a type-1 function (Bridge spec 1.2 §3.2.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusNumbers {
    /// The bus the bridge sits on.
    pub primary: u8,
    /// The bus directly behind the bridge.
    pub secondary: u8,
    /// The highest bus number behind the bridge.
    pub subordinate: u8,
}

/// One function found by [`enumerate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciFunction {
    /// Its address.
    pub bdf: Bdf,
    /// Vendor ID (offset 0x00).
    pub vendor_id: u16,
    /// Device ID (offset 0x02).
    pub device_id: u16,
    /// Revision ID (offset 0x08).
    pub revision_id: u8,
    /// Base class code (offset 0x0B), e.g. 0x06 for bridges.
    pub class: u8,
    /// Sub-class code (offset 0x0A), e.g. 0x04 for PCI-PCI bridges.
    pub subclass: u8,
    /// Programming interface (offset 0x09).
    pub prog_if: u8,
    /// Header layout.
    pub header_type: HeaderType,
    /// Whether the *device* is multi-function (Header Type bit 7 of this function).
    pub multi_function: bool,
    /// The bridge whose secondary side this function is on, or `None` on bus 0.
    pub parent: Option<Bdf>,
    /// For type-1 functions: the bus numbers assigned during enumeration.
    pub bridge_buses: Option<BusNumbers>,
}

/// Why enumeration stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumerateError {
    /// `bridge` needs a secondary bus number but `last_bus` has already been used.
    BusNumbersExhausted {
        /// The bridge that could not be numbered.
        bridge: Bdf,
        /// The highest usable bus number that was given to [`enumerate`].
        last_bus: u8,
    },
}

impl fmt::Display for EnumerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BusNumbersExhausted { bridge, last_bus } => {
                write!(
                    f,
                    "no bus number left for bridge {bridge} (last usable bus {last_bus:#04x})"
                )
            }
        }
    }
}

/// Enumerates every function reachable from bus 0, numbering buses behind bridges, highest usable bus `last_bus`
/// (255 for port I/O; [`crate::config::EcamConfigAccess::last_bus`] for ECAM).
///
/// Returns the functions in depth-first order (a bridge precedes the functions behind it).
/// Errors: [`EnumerateError::BusNumbersExhausted`] when a bridge cannot get a secondary bus number.
pub fn enumerate<C: ConfigSpace + ?Sized>(
    cfg: &mut C,
    last_bus: u8,
) -> Result<Vec<PciFunction>, EnumerateError> {
    let mut walk = Walk {
        cfg,
        last_bus,
        max_bus: 0,
        found: Vec::new(),
    };
    walk.scan_bus(0, None)?;
    log::info!(
        "found {} PCI functions on buses 00..={:02x}",
        walk.found.len(),
        walk.max_bus
    );
    Ok(walk.found)
}

struct Walk<'a, C: ConfigSpace + ?Sized> {
    cfg: &'a mut C,
    last_bus: u8,
    /// Highest bus number assigned so far.
    max_bus: u8,
    found: Vec<PciFunction>,
}

impl<C: ConfigSpace + ?Sized> Walk<'_, C> {
    fn scan_bus(&mut self, bus: u8, parent: Option<Bdf>) -> Result<(), EnumerateError> {
        for device in 0..Bdf::DEVICES_PER_BUS {
            let Some(function0) = self.probe(
                Bdf {
                    bus,
                    device,
                    function: 0,
                },
                parent,
            ) else {
                continue;
            };
            let functions = if function0.multi_function {
                Bdf::FUNCTIONS_PER_DEVICE
            } else {
                1
            };
            self.visit(function0)?;
            for function in 1..functions {
                if let Some(found) = self.probe(
                    Bdf {
                        bus,
                        device,
                        function,
                    },
                    parent,
                ) {
                    self.visit(found)?;
                }
            }
        }
        Ok(())
    }

    /// Reads a function's identification registers, or `None` if nothing responds.
    fn probe(&mut self, bdf: Bdf, parent: Option<Bdf>) -> Option<PciFunction> {
        let vendor_id = self.cfg.read16(bdf, VENDOR_ID);
        if vendor_id == 0xFFFF || vendor_id == 0x0000 {
            return None;
        }
        let header = self.cfg.read8(bdf, HEADER_TYPE);
        Some(PciFunction {
            bdf,
            vendor_id,
            device_id: self.cfg.read16(bdf, DEVICE_ID),
            revision_id: self.cfg.read8(bdf, REVISION_ID),
            class: self.cfg.read8(bdf, CLASS_CODE),
            subclass: self.cfg.read8(bdf, SUBCLASS),
            prog_if: self.cfg.read8(bdf, PROG_IF),
            header_type: HeaderType::from_register(header),
            multi_function: header & header_type::MULTI_FUNCTION != 0,
            parent,
            bridge_buses: None,
        })
    }

    /// Records `function`; for a PCI-PCI bridge, numbers its buses and scans behind it.
    fn visit(&mut self, function: PciFunction) -> Result<(), EnumerateError> {
        let bdf = function.bdf;
        log::debug!(
            "{bdf} {:04x}:{:04x} class {:02x}{:02x}{:02x} {:?}",
            function.vendor_id,
            function.device_id,
            function.class,
            function.subclass,
            function.prog_if,
            function.header_type
        );
        let header_type = function.header_type;
        self.found.push(function);
        match header_type {
            HeaderType::PciBridge => self.number_bridge(bdf),
            HeaderType::CardBusBridge => {
                log::warn!("{bdf}: CardBus bridge not supported, not scanning behind it");
                Ok(())
            }
            HeaderType::Endpoint | HeaderType::Unknown(_) => Ok(()),
        }
    }

    fn number_bridge(&mut self, bridge: Bdf) -> Result<(), EnumerateError> {
        let index = self.found.len() - 1;
        if self.max_bus >= self.last_bus {
            log::error!(
                "{bridge}: no bus number left (last usable bus {:#04x})",
                self.last_bus
            );
            self.write_buses(
                bridge,
                BusNumbers {
                    primary: bridge.bus,
                    secondary: 0,
                    subordinate: 0,
                },
            );
            return Err(EnumerateError::BusNumbersExhausted {
                bridge,
                last_bus: self.last_bus,
            });
        }
        let secondary = self.max_bus + 1;
        self.max_bus = secondary;
        // Forward everything above `secondary` while scanning, so deeper bridges' buses are reachable.
        self.write_buses(
            bridge,
            BusNumbers {
                primary: bridge.bus,
                secondary,
                subordinate: self.last_bus,
            },
        );
        let scanned = self.scan_bus(secondary, Some(bridge));
        let buses = BusNumbers {
            primary: bridge.bus,
            secondary,
            subordinate: self.max_bus,
        };
        self.write_buses(bridge, buses);
        self.found[index].bridge_buses = Some(buses);
        log::debug!("{bridge}: buses {secondary:02x}..={:02x}", self.max_bus);
        scanned
    }

    fn write_buses(&mut self, bridge: Bdf, buses: BusNumbers) {
        self.cfg.write8(bridge, PRIMARY_BUS, buses.primary);
        self.cfg.write8(bridge, SECONDARY_BUS, buses.secondary);
        self.cfg.write8(bridge, SUBORDINATE_BUS, buses.subordinate);
    }
}
