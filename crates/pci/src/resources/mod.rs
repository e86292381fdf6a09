//! Resource assignment: size every BAR, give bridges windows, place everything in the caller's address windows,
//! program the hardware and report an [`Inventory`].
//!
//! The algorithm and its invariants are described in the crate documentation; the pieces are:
//! - `sizing`: BAR sizing and bridge-window capability probing (decode disabled meanwhile);
//! - `placement`: the pure placement algorithm over a tree of requirements;
//! - `program`: writing BARs, bridge windows and the Command register.

mod placement;
mod program;
mod sizing;

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::config::{Bdf, ConfigSpace};
use crate::enumerate::PciFunction;

/// The host bridge's address windows that BARs and bridge windows are placed in.
///
/// Typical QEMU values: `io` 0xC000..0x10000, `mem32` 0xC000_0000..0xFC00_0000 (below the IOAPIC/LAPIC/flash
/// area), `mem64` a range above the top of RAM. Each may be empty (`start == end`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Windows {
    /// I/O port range; must end at or below 0x1_0000 (bridges' I/O windows are programmed as 16-bit).
    pub io: Range<u64>,
    /// Memory range below 4 GiB (end ≤ 0x1_0000_0000).
    pub mem32: Range<u64>,
    /// Memory range for 64-bit prefetchable BARs and bridge windows; must not overlap `mem32`.
    pub mem64: Range<u64>,
}

/// The type of a BAR (PCI LB 3.0 §6.2.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// I/O space.
    Io,
    /// 32-bit memory space (including the legacy "below 1 MiB" type, treated as 32-bit).
    Mem32,
    /// 64-bit memory space; occupies this BAR and the next one.
    Mem64,
}

/// One sized (and possibly assigned) BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// BAR index (0–5; for a 64-bit BAR, the index of its lower half).
    pub index: u8,
    /// Its type.
    pub kind: BarKind,
    /// Prefetchable bit (memory BARs only).
    pub prefetchable: bool,
    /// Size in bytes (a power of two; the BAR is naturally aligned to it).
    pub size: u64,
    /// Assigned base address, or `None` if it could not be placed (see [`Inventory::unassigned`]).
    pub address: Option<u64>,
}

impl Bar {
    /// The assigned address range `address .. address + size`, if assigned.
    pub fn range(&self) -> Option<Range<u64>> {
        let start = self.address?;
        Some(start..start.checked_add(self.size)?)
    }
}

/// A PCI-PCI bridge's forwarding windows (Bridge spec 1.2 §3.2.5.6–§3.2.5.9). `None` windows are programmed closed
/// (base > limit), so nothing is forwarded for them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BridgeWindows {
    /// Whether the bridge implements the I/O window (I/O Base is writable).
    pub io_supported: bool,
    /// Whether the bridge implements the prefetchable window (Prefetchable Memory Base is writable).
    pub pref_supported: bool,
    /// Whether the prefetchable window decodes 64-bit addresses (Prefetchable Memory Base bits 3:0 = 1).
    pub pref_64bit: bool,
    /// I/O window (4 KiB granular).
    pub io: Option<Range<u64>>,
    /// Non-prefetchable memory window (1 MiB granular, below 4 GiB).
    pub mem: Option<Range<u64>>,
    /// Prefetchable memory window (1 MiB granular).
    pub pref: Option<Range<u64>>,
}

/// Resources of one type-0 or type-1 function after assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionResources {
    /// The function.
    pub bdf: Bdf,
    /// Its implemented BARs, by index.
    pub bars: Vec<Bar>,
    /// For bridges, their windows.
    pub bridge: Option<BridgeWindows>,
    /// The Command register value written at the end (BUS_MASTER is never set by this crate).
    pub command: u16,
}

/// A resource that was named by a function but not given an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// BAR with this index.
    Bar(u8),
    /// A bridge's I/O window.
    IoWindow,
    /// A bridge's non-prefetchable memory window.
    MemWindow,
    /// A bridge's prefetchable memory window.
    PrefWindow,
}

/// Why a resource has no address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnassignedReason {
    /// No room left in the window it belongs to (root window or parent bridge window).
    NoSpace,
    /// It needs I/O space but the upstream `bridge` has no I/O window.
    NoBridgeWindow {
        /// The bridge lacking the window.
        bridge: Bdf,
    },
    /// The upstream `bridge`'s window it lives in could not be placed.
    ParentWindowUnassigned {
        /// The bridge whose window failed.
        bridge: Bdf,
    },
    /// The BAR reads back a reserved memory type, or a 64-bit BAR sits in the last BAR slot.
    MalformedBar,
    /// The function's parent bridge is not in the function list, so it cannot be reached.
    Unreachable,
}

/// One unassigned resource, also logged at warn level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unassigned {
    /// The function owning the resource.
    pub bdf: Bdf,
    /// Which resource.
    pub resource: Resource,
    /// Its size in bytes (0 when unknown, e.g. a malformed BAR).
    pub size: u64,
    /// Why it is unassigned.
    pub reason: UnassignedReason,
}

/// The result of [`assign`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Inventory {
    /// Every type-0 and type-1 function, in the order of the input list.
    pub functions: Vec<FunctionResources>,
    /// Everything that could not be placed. A function with an unassigned memory (I/O) resource has memory (I/O)
    /// decoding left disabled, so the unassigned BAR never decodes at a stale address.
    pub unassigned: Vec<Unassigned>,
}

/// Which of the [`Windows`] a [`ResourceError::InvalidWindow`] refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowName {
    /// [`Windows::io`].
    Io,
    /// [`Windows::mem32`].
    Mem32,
    /// [`Windows::mem64`].
    Mem64,
}

/// Why [`assign`] rejected its input (nothing has been written to configuration space then).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceError {
    /// A window has `start > end`, or exceeds its address space (io: 0x1_0000, mem32: 0x1_0000_0000).
    InvalidWindow {
        /// Which window.
        window: WindowName,
        /// The offending range.
        range: Range<u64>,
    },
    /// `mem32` and `mem64` overlap.
    OverlappingWindows,
    /// The function list names `bdf` twice.
    DuplicateFunction(Bdf),
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidWindow { window, range } => {
                write!(
                    f,
                    "invalid {window:?} window {:#x}..{:#x}",
                    range.start, range.end
                )
            }
            Self::OverlappingWindows => f.write_str("mem32 and mem64 windows overlap"),
            Self::DuplicateFunction(bdf) => write!(f, "function {bdf} listed twice"),
        }
    }
}

/// Per-function working state shared by the submodules.
#[derive(Debug)]
struct Node {
    res: FunctionResources,
    parent: Option<Bdf>,
    /// A memory BAR is malformed: memory decoding must stay off.
    malformed_mem: bool,
}

/// Sizes, places and programs the resources of `functions` (as returned by [`crate::enumerate::enumerate`]) in
/// `windows`, and enables I/O / memory decoding where every resource of that type got an address.
///
/// Errors (checked before any access): [`ResourceError::InvalidWindow`], [`ResourceError::OverlappingWindows`],
/// [`ResourceError::DuplicateFunction`]. Resources that do not fit are not errors: they are listed in
/// [`Inventory::unassigned`].
pub fn assign<C: ConfigSpace + ?Sized>(
    cfg: &mut C,
    functions: &[PciFunction],
    windows: &Windows,
) -> Result<Inventory, ResourceError> {
    validate(functions, windows)?;
    let mut unassigned = Vec::new();
    let mut nodes: Vec<Node> = functions
        .iter()
        .filter_map(|function| sizing::size_function(cfg, function, &mut unassigned))
        .collect();
    placement::place(&mut nodes, windows, &mut unassigned);
    for node in &mut nodes {
        program::program(cfg, node);
    }
    for item in &unassigned {
        log::warn!(
            "{} {:?} ({:#x} bytes) unassigned: {:?}",
            item.bdf,
            item.resource,
            item.size,
            item.reason
        );
    }
    Ok(Inventory {
        functions: nodes.into_iter().map(|node| node.res).collect(),
        unassigned,
    })
}

fn validate(functions: &[PciFunction], windows: &Windows) -> Result<(), ResourceError> {
    let check = |window: WindowName, range: &Range<u64>, limit: u64| {
        if range.start > range.end || range.end > limit {
            Err(ResourceError::InvalidWindow {
                window,
                range: range.clone(),
            })
        } else {
            Ok(())
        }
    };
    check(WindowName::Io, &windows.io, 0x1_0000)?;
    check(WindowName::Mem32, &windows.mem32, 0x1_0000_0000)?;
    check(WindowName::Mem64, &windows.mem64, u64::MAX)?;
    let (low, high) = (&windows.mem32, &windows.mem64);
    if !low.is_empty() && !high.is_empty() && low.start < high.end && high.start < low.end {
        return Err(ResourceError::OverlappingWindows);
    }
    let mut seen: Vec<Bdf> = functions.iter().map(|function| function.bdf).collect();
    seen.sort_unstable();
    if let Some(pair) = seen.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(ResourceError::DuplicateFunction(pair[0]));
    }
    Ok(())
}
