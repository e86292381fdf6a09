//! The placement algorithm (pure: no configuration-space access).
//!
//! 1. Build a requirement tree bottom-up. Every BAR is an item (size = alignment = its power-of-two size). Each
//!    bridge turns its children's items into up to three window items: I/O (granularity 4 KiB), memory
//!    (1 MiB; also holds prefetchable children when the bridge has no prefetchable window) and prefetchable
//!    (1 MiB). A window's children are packed at relative offsets from 0; its size is the packed extent rounded up
//!    to the granularity and its alignment the largest of the granularity and its children's alignments.
//! 2. Pack the root items (bus-0 BARs and bus-0 bridges' windows) into the caller's windows, top-down: children get
//!    `parent address + relative offset`. Packing sorts by alignment, then size, both descending, and lays items
//!    out from the window start; power-of-two BARs packed this way leave no gaps.
//! 3. 64-bit policy: first everything in memory goes to `mem32`. Only if something does not fit there, the
//!    "high-capable" prefetchable root items (64-bit prefetchable BARs, and 64-bit prefetchable bridge windows whose
//!    children are all high-capable) move to `mem64` and the memory placement is redone.
//!
//! Invariants: every address is computed with checked arithmetic and compared against the end of its window, so
//! nothing wraps or overlaps; an item that does not fit is skipped (smaller ones may still fit) and reported,
//! together with everything below it if it is a window.

use alloc::vec::Vec;
use core::ops::Range;

use super::{BarKind, Node, Resource, Unassigned, UnassignedReason, Windows};
use crate::config::Bdf;

/// Bridge I/O window granularity (Bridge spec 1.2 §3.2.5.6).
pub(super) const IO_GRANULARITY: u64 = 0x1000;
/// Bridge memory window granularity (Bridge spec 1.2 §3.2.5.8, §3.2.5.9).
pub(super) const MEM_GRANULARITY: u64 = 0x10_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Space {
    Io,
    Mem,
    Pref,
}

#[derive(Clone, Copy, Debug)]
enum Owner {
    /// `nodes[node].res.bars[slot]`.
    Bar { node: usize, slot: usize },
    /// A window of the bridge `nodes[node]`.
    Window { node: usize, space: Space },
}

#[derive(Debug)]
struct Item {
    owner: Owner,
    space: Space,
    size: u64,
    /// A power of two.
    align: u64,
    /// May be placed at or above 4 GiB.
    high_capable: bool,
    /// Offset from the container start, once packed.
    offset: Option<u64>,
    children: Vec<Item>,
}

#[derive(Default)]
struct Lists {
    io: Vec<Item>,
    mem: Vec<Item>,
    pref: Vec<Item>,
}

/// Places every resource of `nodes` in `windows`, writing addresses into the nodes' BARs and bridge windows.
pub(super) fn place(nodes: &mut [Node], windows: &Windows, unassigned: &mut Vec<Unassigned>) {
    let mut visited = alloc::vec![false; nodes.len()];
    let Lists { mut io, mem, pref } = build(nodes, None, &mut visited, unassigned);
    for (node, _) in nodes.iter().zip(&visited).filter(|(_, seen)| !**seen) {
        for found in &node.res.bars {
            unassigned.push(Unassigned {
                bdf: node.res.bdf,
                resource: Resource::Bar(found.index),
                size: found.size,
                reason: UnassignedReason::Unreachable,
            });
        }
    }

    pack(&mut io, |_| true, &windows.io);
    resolve(&io, windows.io.start, nodes, unassigned);

    let mut memory: Vec<Item> = mem.into_iter().chain(pref).collect();
    pack(&mut memory, |_| true, &windows.mem32);
    let goes_high = |item: &Item| item.space == Space::Pref && item.high_capable;
    let all_fit = memory.iter().all(|item| item.offset.is_some());
    if !all_fit && !windows.mem64.is_empty() && memory.iter().any(goes_high) {
        log::info!("32-bit memory window too small, moving 64-bit prefetchable resources to the 64-bit window");
        pack(&mut memory, |item| !goes_high(item), &windows.mem32);
        pack(&mut memory, goes_high, &windows.mem64);
        let (high, low): (Vec<Item>, Vec<Item>) = memory.into_iter().partition(goes_high);
        resolve(&low, windows.mem32.start, nodes, unassigned);
        resolve(&high, windows.mem64.start, nodes, unassigned);
    } else {
        resolve(&memory, windows.mem32.start, nodes, unassigned);
    }
}

/// Builds the items of the functions whose parent is `level` (`None` = bus 0), recursing through bridges.
fn build(
    nodes: &[Node],
    level: Option<Bdf>,
    visited: &mut [bool],
    unassigned: &mut Vec<Unassigned>,
) -> Lists {
    let mut lists = Lists::default();
    for (index, node) in nodes.iter().enumerate() {
        if node.parent != level || visited[index] {
            continue;
        }
        visited[index] = true;
        for (slot, found) in node.res.bars.iter().enumerate() {
            let space = match (found.kind, found.prefetchable) {
                (BarKind::Io, _) => Space::Io,
                (_, false) => Space::Mem,
                (_, true) => Space::Pref,
            };
            let item = Item {
                owner: Owner::Bar { node: index, slot },
                space,
                size: found.size,
                align: found.size,
                high_capable: found.kind == BarKind::Mem64 && found.prefetchable,
                offset: None,
                children: Vec::new(),
            };
            lists.for_space(space).push(item);
        }
        let Some(caps) = &node.res.bridge else {
            continue;
        };
        let bridge = node.res.bdf;
        let Lists { io, mut mem, pref } = build(nodes, Some(bridge), visited, unassigned);
        if caps.io_supported {
            lists.io.extend(window(
                nodes,
                index,
                Space::Io,
                io,
                IO_GRANULARITY,
                false,
                unassigned,
            ));
        } else {
            for item in &io {
                report(
                    item,
                    nodes,
                    UnassignedReason::NoBridgeWindow { bridge },
                    unassigned,
                );
            }
        }
        if caps.pref_supported {
            let window = window(
                nodes,
                index,
                Space::Pref,
                pref,
                MEM_GRANULARITY,
                caps.pref_64bit,
                unassigned,
            );
            lists.pref.extend(window);
        } else {
            mem.extend(pref);
        }
        lists.mem.extend(window(
            nodes,
            index,
            Space::Mem,
            mem,
            MEM_GRANULARITY,
            false,
            unassigned,
        ));
    }
    lists
}

impl Lists {
    fn for_space(&mut self, space: Space) -> &mut Vec<Item> {
        match space {
            Space::Io => &mut self.io,
            Space::Mem => &mut self.mem,
            Space::Pref => &mut self.pref,
        }
    }
}

/// Makes the window item of the bridge `nodes[node]` holding `children`, or `None` if there is nothing to hold.
fn window(
    nodes: &[Node],
    node: usize,
    space: Space,
    mut children: Vec<Item>,
    granularity: u64,
    decodes_64bit: bool,
    unassigned: &mut Vec<Unassigned>,
) -> Option<Item> {
    if children.is_empty() {
        return None;
    }
    // Relative layout inside the window; the limit is granularity-aligned so rounding up cannot overflow.
    let limit = !(granularity - 1);
    let extent = pack(&mut children, |_| true, &(0..limit));
    let (placed, failed): (Vec<Item>, Vec<Item>) =
        children.into_iter().partition(|item| item.offset.is_some());
    for item in &failed {
        report(item, nodes, UnassignedReason::NoSpace, unassigned);
    }
    if placed.is_empty() {
        return None;
    }
    let size = extent.checked_next_multiple_of(granularity)?;
    let align = placed
        .iter()
        .map(|item| item.align)
        .fold(granularity, u64::max);
    let high_capable = decodes_64bit && placed.iter().all(|item| item.high_capable);
    log::trace!(
        "{} {space:?} window needs {size:#x} bytes aligned {align:#x}",
        nodes[node].res.bdf
    );
    Some(Item {
        owner: Owner::Window { node, space },
        space,
        size,
        align,
        high_capable,
        offset: None,
        children: placed,
    })
}

/// Packs the items selected by `select` into `range` (largest alignment, then size, first), setting their
/// `offset` (relative to `range.start`) or leaving it `None` when they do not fit. Unselected items are untouched.
/// Returns the packed extent relative to `range.start`.
fn pack(items: &mut [Item], select: impl Fn(&Item) -> bool, range: &Range<u64>) -> u64 {
    let mut order: Vec<usize> = (0..items.len())
        .filter(|&index| select(&items[index]))
        .collect();
    order.sort_by(|&a, &b| {
        items[b]
            .align
            .cmp(&items[a].align)
            .then(items[b].size.cmp(&items[a].size))
    });
    let mut cursor = range.start;
    for index in order {
        let item = &mut items[index];
        let fitted = cursor
            .checked_next_multiple_of(item.align)
            .and_then(|base| Some((base, base.checked_add(item.size)?)))
            .filter(|&(_, end)| end <= range.end);
        item.offset = fitted.map(|(base, _)| base - range.start);
        if let Some((_, end)) = fitted {
            cursor = end;
        }
    }
    cursor - range.start
}

/// Writes absolute addresses for `items` packed in a container starting at `base`; reports unplaced items.
fn resolve(items: &[Item], base: u64, nodes: &mut [Node], unassigned: &mut Vec<Unassigned>) {
    for item in items {
        let placed = item.offset.and_then(|offset| {
            let start = base.checked_add(offset)?;
            Some(start..start.checked_add(item.size)?)
        });
        let Some(range) = placed else {
            report(item, nodes, UnassignedReason::NoSpace, unassigned);
            continue;
        };
        match item.owner {
            Owner::Bar { node, slot } => nodes[node].res.bars[slot].address = Some(range.start),
            Owner::Window { node, space } => {
                let start = range.start;
                if let Some(windows) = &mut nodes[node].res.bridge {
                    match space {
                        Space::Io => windows.io = Some(range),
                        Space::Mem => windows.mem = Some(range),
                        Space::Pref => windows.pref = Some(range),
                    }
                }
                resolve(&item.children, start, nodes, unassigned);
            }
        }
    }
}

/// Reports `item` as unassigned for `reason`, and everything inside it (if a window) as
/// [`UnassignedReason::ParentWindowUnassigned`].
fn report(item: &Item, nodes: &[Node], reason: UnassignedReason, unassigned: &mut Vec<Unassigned>) {
    let (node, resource) = match item.owner {
        Owner::Bar { node, slot } => (node, Resource::Bar(nodes[node].res.bars[slot].index)),
        Owner::Window {
            node,
            space: Space::Io,
        } => (node, Resource::IoWindow),
        Owner::Window {
            node,
            space: Space::Mem,
        } => (node, Resource::MemWindow),
        Owner::Window {
            node,
            space: Space::Pref,
        } => (node, Resource::PrefWindow),
    };
    let bdf = nodes[node].res.bdf;
    unassigned.push(Unassigned {
        bdf,
        resource,
        size: item.size,
        reason,
    });
    for child in &item.children {
        report(
            child,
            nodes,
            UnassignedReason::ParentWindowUnassigned { bridge: bdf },
            unassigned,
        );
    }
}
