//! PCI configuration access, enumeration and resource assignment for vmfw's bring-up on QEMU `q35` (PCIe, ECAM,
//! `pcie-root-port` bridges) and `pc` (i440fx, port I/O, PCI-PCI bridges).
//!
//! # Layers
//!
//! - [`config`]: [`config::Bdf`] addresses and the [`config::ConfigSpace`] trait, with two backends: configuration
//!   mechanism #1 over `hw::PortIo` ([`config::PortConfigAccess`], 256-byte spaces) and memory-mapped ECAM
//!   ([`config::EcamConfigAccess`], 4 KiB spaces). Register names are from the PCI Local Bus Specification 3.0 §6
//!   and the PCI-to-PCI Bridge Architecture Specification 1.2 §3.2.
//! - [`enumerate`]: a depth-first walk from bus 0 that numbers bridges' buses and returns a
//!   [`enumerate::PciFunction`] per function found (with its parent bridge).
//! - [`resources`]: sizes BARs, places them and bridge windows in caller-supplied windows, programs them and
//!   enables decoding, returning an [`resources::Inventory`].
//!
//! Typical use: `let functions = enumerate(&mut cfg, last_bus)?; let inventory = assign(&mut cfg, &functions,
//! &windows)?;`.
//!
//! # Enumeration
//!
//! Devices 0–31 of each bus are probed through function 0; functions 1–7 only when Header Type bit 7 says
//! multi-function. Type-1 functions get primary = their bus, secondary = next free number, subordinate = the last
//! usable bus while the subtree is scanned and the highest number used in it afterwards, so bus numbers are dense
//! in depth-first order. Exhausting bus numbers is an error (no wrap). Enumeration writes only bus-number registers.
//!
//! # Sizing
//!
//! With I/O and memory decode disabled in the Command register: save each BAR, write all ones, read back, restore.
//! The size is the lowest writable address bit (this also handles I/O BARs decoding only 16 bits). 64-bit BARs
//! are sized across both halves. Reserved memory types and a 64-bit BAR in the last slot are reported as
//! malformed. Expansion ROM BARs are not sized or assigned (vmfw runs no option ROMs); their enable bit is
//! cleared. Bridges are probed for the optional I/O and prefetchable windows and whether the latter is 64-bit.
//!
//! # Placement
//!
//! Requirements are computed bottom-up: a bridge turns its children's resources into windows — I/O (4 KiB
//! granularity), non-prefetchable memory (1 MiB, 32-bit; also takes prefetchable children when the bridge has no
//! prefetchable window) and prefetchable memory (1 MiB) — sized as the packed children rounded up to the
//! granularity and aligned to the largest of the granularity and the children's alignments. Placement is then
//! top-down: root items go into [`resources::Windows`], children at their parent window's base plus their packed
//! offset. Packing sorts by alignment then size, descending, and lays items out from the start of the range, so
//! naturally aligned power-of-two BARs leave no gaps. Everything memory goes into `mem32` first; only if that does
//! not fit are 64-bit prefetchable BARs on bus 0 and 64-bit prefetchable bridge windows holding only such BARs
//! moved to `mem64`, and memory placement redone.
//!
//! Invariants (checked by the tests on every topology): every BAR is naturally aligned; every resource lies inside
//! the window it is routed through (its parent bridge's window or a root window); siblings never overlap, nor do
//! any two BARs; non-prefetchable and 32-bit resources stay below 4 GiB; all address arithmetic is checked, so a
//! resource that does not fit is skipped and reported in [`resources::Inventory::unassigned`] (with everything
//! below it when it is a window) instead of wrapping. Empty windows are programmed closed (base > limit). A
//! function's I/O or memory decode is enabled only when all of its resources of that type were assigned, and
//! Bus Master is never set by this crate.
#![no_std]
#![warn(missing_docs)]
extern crate alloc;

pub mod config;
pub mod enumerate;
pub mod resources;

#[cfg(test)]
mod tests;
