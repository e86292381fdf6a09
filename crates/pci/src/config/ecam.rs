//! Enhanced Configuration Access Mechanism (PCIe Base Spec §7.2.2, "PCI Express Enhanced Configuration Access
//! Mechanism"): each function's 4 KiB configuration space is memory-mapped at
//! `base + (bus << 20 | device << 15 | function << 12 | offset)`.
//!
//! On QEMU q35 the window base and bus count come from the ACPI MCFG table (or the MCH's PCIEXBAR register). The
//! window covers buses `0 .. bus_count`; accesses beyond it, at offsets ≥ 4096, or to an invalid [`Bdf`] act like
//! a master abort (reads all ones, writes dropped). All accesses are volatile and of the requested width.

use super::{Bdf, ConfigSpace};

/// Bytes of configuration space per function.
const FUNCTION_SPACE: u64 = 4096;
/// Bytes of ECAM window per bus (32 devices × 8 functions × 4 KiB).
const BUS_SPACE: u64 = 1 << 20;

/// Why an ECAM window was rejected by [`EcamConfigAccess::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcamError {
    /// `base` was 0 (a null pointer cannot be dereferenced in Rust, and no platform puts ECAM there).
    NullBase,
    /// `bus_count` was 0 or greater than 256.
    InvalidBusCount(u16),
    /// `base` was not 4 KiB aligned.
    MisalignedBase(u64),
    /// `base + bus_count MiB` overflows the address space (or `usize` on this target).
    WindowOverflow {
        /// The window base.
        base: u64,
        /// The requested number of buses.
        bus_count: u16,
    },
}

/// Memory-mapped configuration access through an ECAM window.
#[derive(Debug)]
pub struct EcamConfigAccess {
    base: u64,
    bus_count: u16,
}

impl EcamConfigAccess {
    /// Describes an ECAM window at physical address `base` (identity-mapped) covering buses `0 .. bus_count`.
    ///
    /// Errors: [`EcamError::NullBase`] if `base` is 0; [`EcamError::InvalidBusCount`] unless `1 <= bus_count <= 256`; [`EcamError::MisalignedBase`] unless
    /// `base` is 4 KiB aligned; [`EcamError::WindowOverflow`] if the `bus_count` MiB window does not fit.
    ///
    /// # Safety
    ///
    /// `base .. base + bus_count * 1 MiB` must be an ECAM window of the platform's host bridge (or memory that
    /// behaves like one), identity-mapped, accessible with volatile 8/16/32-bit loads and stores, and not used
    /// through any other Rust reference for as long as the returned value (or anything derived from it) lives.
    pub unsafe fn new(base: u64, bus_count: u16) -> Result<Self, EcamError> {
        if bus_count == 0 || bus_count > 256 {
            return Err(EcamError::InvalidBusCount(bus_count));
        }
        if base == 0 {
            return Err(EcamError::NullBase);
        }
        if !base.is_multiple_of(FUNCTION_SPACE) {
            return Err(EcamError::MisalignedBase(base));
        }
        let fits = base
            .checked_add(u64::from(bus_count) * BUS_SPACE - 1)
            .is_some_and(|last| usize::try_from(last).is_ok());
        if !fits {
            return Err(EcamError::WindowOverflow { base, bus_count });
        }
        Ok(Self { base, bus_count })
    }

    /// The window's base physical address.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The number of buses the window covers.
    pub fn bus_count(&self) -> u16 {
        self.bus_count
    }

    /// The highest bus number reachable through the window (`bus_count - 1`), for
    /// [`crate::enumerate::enumerate`]'s `last_bus`.
    pub fn last_bus(&self) -> u8 {
        u8::try_from(self.bus_count - 1).unwrap_or(u8::MAX)
    }

    /// Address of `offset` of `bdf`, or `None` when outside the window or the 4 KiB function space.
    fn address(&self, bdf: Bdf, offset: u16) -> Option<usize> {
        if !bdf.is_valid()
            || u16::from(bdf.bus) >= self.bus_count
            || u64::from(offset) >= FUNCTION_SPACE
        {
            return None;
        }
        let delta =
            u64::from(bdf.bus) << 20 | u64::from(bdf.device) << 15 | u64::from(bdf.function) << 12;
        // Cannot overflow or exceed usize: `new` checked that the whole window fits.
        usize::try_from(self.base + delta + u64::from(offset)).ok()
    }
}

impl ConfigSpace for EcamConfigAccess {
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        match self.address(bdf, offset & !3) {
            // SAFETY: the address is 4-aligned and inside the ECAM window that `new`'s contract makes valid for
            // volatile accesses.
            Some(addr) => unsafe { core::ptr::read_volatile(addr as *const u32) },
            None => u32::MAX,
        }
    }

    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        if let Some(addr) = self.address(bdf, offset & !3) {
            // SAFETY: as in `read32`.
            unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
        }
    }

    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        match self.address(bdf, offset) {
            // SAFETY: as in `read32`; byte accesses need no alignment.
            Some(addr) => unsafe { core::ptr::read_volatile(addr as *const u8) },
            None => u8::MAX,
        }
    }

    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        match self.address(bdf, offset & !1) {
            // SAFETY: as in `read32`; the address is 2-aligned.
            Some(addr) => unsafe { core::ptr::read_volatile(addr as *const u16) },
            None => u16::MAX,
        }
    }

    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        if let Some(addr) = self.address(bdf, offset) {
            // SAFETY: as in `read8`.
            unsafe { core::ptr::write_volatile(addr as *mut u8, value) }
        }
    }

    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        if let Some(addr) = self.address(bdf, offset & !1) {
            // SAFETY: as in `read16`.
            unsafe { core::ptr::write_volatile(addr as *mut u16, value) }
        }
    }
}
