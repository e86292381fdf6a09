//! Property tests: random sequences of allocate/free calls checked against an independent model.
//!
//! After every call: the map is sorted, disjoint, merged and conserves its pages; the key (and
//! `take_changed()`) changes exactly when the descriptor list changed; failed calls change nothing; successful
//! page allocations match an oracle of the top-down policy; pool blocks are 8-aligned, disjoint, and inside pages
//! of their type. At the end, freeing everything restores the initial map.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use proptest::prelude::*;
use r_efi::efi;

use super::*;
use crate::memory::AllocateType;
use crate::Status;

const TYPES: [u32; 6] = [
    efi::LOADER_DATA,
    efi::BOOT_SERVICES_DATA,
    efi::RUNTIME_SERVICES_CODE,
    efi::ACPI_MEMORY_NVS,
    0x7000_0001,
    0x8000_0000,
];

#[derive(Clone, Debug)]
enum Op {
    AllocPages {
        kind: u8,
        type_idx: usize,
        pages: u64,
        page: u64,
    },
    FreeLive {
        pick: usize,
        skip: u64,
        pages: u64,
    },
    FreeAny {
        page: u64,
        pages: u64,
        misalign: bool,
    },
    AllocPool {
        type_idx: usize,
        size: usize,
    },
    FreePoolLive {
        pick: usize,
    },
    FreePoolAny {
        addr: u64,
    },
}

/// Page indexes around the test platform's RAM: low RAM + hole, main RAM, high RAM (and a bit past each).
fn page_index() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..0xC0, 0x100u64..0x210, 0x10_0000u64..0x10_0050]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3, 0..TYPES.len(), 1u64..40, page_index())
            .prop_map(|(kind, type_idx, pages, page)| Op::AllocPages { kind, type_idx, pages, page }),
        2 => (any::<usize>(), 0u64..8, 1u64..20).prop_map(|(pick, skip, pages)| Op::FreeLive { pick, skip, pages }),
        1 => (page_index(), 0u64..20, proptest::bool::weighted(0.1))
            .prop_map(|(page, pages, misalign)| Op::FreeAny { page, pages, misalign }),
        3 => (0..TYPES.len(), 0usize..9000).prop_map(|(type_idx, size)| Op::AllocPool { type_idx, size }),
        2 => any::<usize>().prop_map(|pick| Op::FreePoolLive { pick }),
        1 => (0u64..0x30_0000).prop_map(|addr| Op::FreePoolAny { addr }),
    ]
}

/// What the test believes is allocated.
#[derive(Default)]
struct Model {
    /// Pages from `AllocatePages()`: page address -> type.
    pages: BTreeMap<u64, u32>,
    /// Pool blocks: address -> (type, capacity).
    pool: BTreeMap<u64, (u32, u64)>,
}

fn round_up(pages: u64, granularity: u64) -> u64 {
    pages.div_ceil(granularity) * granularity
}

/// Highest `align`-aligned base of `len` bytes inside one free range of `list`, within `[max(lo, 4 KiB), hi)`.
fn best_fit(list: &[MemoryRange], len: u64, align: u64, lo: u64, hi: u64) -> Option<u64> {
    list.iter()
        .filter(|r| r.memory_type == efi::CONVENTIONAL_MEMORY)
        .filter_map(|r| {
            let start = r.base.max(lo).max(PAGE_SIZE);
            let end = r.end().min(hi);
            let c = end.checked_sub(len)? / align * align;
            (c >= start).then_some(c)
        })
        .max()
}

/// Expected result of `free_pages(addr, pages)`: `Some(Ok(rounded pages))`, `Some(Err(status))`, or `None` when
/// the address is outside the model (some error, which one depends on what the firmware put there).
fn expect_free(m: &MemoryMap, model: &Model, addr: u64, pages: u64) -> Option<Result<u64, Status>> {
    if !addr.is_multiple_of(PAGE_SIZE) || pages == 0 {
        return Some(Err(Status::INVALID_PARAMETER));
    }
    let t = *model.pages.get(&addr)?;
    let g = m.granularity_pages(t);
    if !addr.is_multiple_of(g * PAGE_SIZE) {
        return Some(Err(Status::INVALID_PARAMETER));
    }
    let n = round_up(pages, g);
    if !(0..n).all(|i| model.pages.contains_key(&(addr + i * PAGE_SIZE))) {
        return Some(Err(Status::NOT_FOUND));
    }
    // Every runtime-granular page freed must have its whole granule freed with it.
    let granule = m.runtime_granularity().pages() * PAGE_SIZE;
    let end = addr + n * PAGE_SIZE;
    let whole = (0..n).map(|i| addr + i * PAGE_SIZE).all(|p| {
        let t = model.pages[&p];
        let g0 = p / granule * granule;
        m.granularity_pages(t) == 1 || (g0 >= addr && g0 + granule <= end)
    });
    Some(if whole {
        Ok(n)
    } else {
        Err(Status::INVALID_PARAMETER)
    })
}

fn step(m: &mut MemoryMap, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let before = ranges(m);
    match *op {
        Op::AllocPages {
            kind,
            type_idx,
            pages,
            page,
        } => {
            let t = TYPES[type_idx];
            let g = m.granularity_pages(t);
            let n = round_up(pages, g);
            let len = n * PAGE_SIZE;
            let align = g * PAGE_SIZE;
            let (alloc, expected) = match kind {
                0 => (
                    AllocateType::AnyPages,
                    best_fit(&before, len, align, 0, 1 << 32)
                        .or_else(|| best_fit(&before, len, align, 1 << 32, u64::MAX)),
                ),
                1 => {
                    let max = page * PAGE_SIZE + PAGE_SIZE - 1;
                    (
                        AllocateType::MaxAddress(max),
                        best_fit(&before, len, align, 0, max + 1),
                    )
                }
                _ => {
                    let a = page * PAGE_SIZE;
                    (
                        AllocateType::Address(a),
                        (a.is_multiple_of(align) && all_free(&before, a, n)).then_some(a),
                    )
                }
            };
            let result = m.allocate_pages(alloc, t, pages);
            match (alloc, expected) {
                (_, Some(b)) => prop_assert_eq!(result, Ok(b)),
                (AllocateType::Address(a), None) if a % align != 0 => {
                    prop_assert_eq!(result, Err(Status::INVALID_PARAMETER))
                }
                (AllocateType::Address(_), None) => prop_assert_eq!(result, Err(Status::NOT_FOUND)),
                (_, None) => prop_assert_eq!(result, Err(Status::OUT_OF_RESOURCES)),
            }
            if let Ok(b) = result {
                for i in 0..n {
                    model.pages.insert(b + i * PAGE_SIZE, t);
                }
            }
        }
        Op::FreeLive { pick, skip, pages } => {
            if model.pages.is_empty() {
                return Ok(());
            }
            let first = *model
                .pages
                .keys()
                .nth(pick % model.pages.len())
                .unwrap_or(&0);
            free_and_check(m, model, first + skip * PAGE_SIZE, pages)?;
        }
        Op::FreeAny {
            page,
            pages,
            misalign,
        } => {
            free_and_check(
                m,
                model,
                page * PAGE_SIZE + if misalign { 8 } else { 0 },
                pages,
            )?;
        }
        Op::AllocPool { type_idx, size } => {
            let t = TYPES[type_idx];
            match m.allocate_pool(t, size) {
                Ok(a) => {
                    prop_assert_eq!(a % 8, 0);
                    let cap = m.pool_allocation(a).map(|p| p.capacity).unwrap_or(0);
                    prop_assert!(cap >= size as u64 && cap > 0);
                    for (&b, &(_, bcap)) in &model.pool {
                        prop_assert!(
                            a + cap <= b || b + bcap <= a,
                            "pool overlap {:#x} {:#x}",
                            a,
                            b
                        );
                    }
                    model.pool.insert(a, (t, cap));
                }
                Err(e) => prop_assert_eq!(e, Status::OUT_OF_RESOURCES),
            }
        }
        Op::FreePoolLive { pick } => {
            if let Some(&a) = model.pool.keys().nth(pick % model.pool.len().max(1)) {
                prop_assert_eq!(m.free_pool(a), Ok(()));
                model.pool.remove(&a);
            }
        }
        Op::FreePoolAny { addr } => {
            let expected = if model.pool.remove(&addr).is_some() {
                Ok(())
            } else {
                Err(Status::INVALID_PARAMETER)
            };
            prop_assert_eq!(m.free_pool(addr), expected);
        }
    }
    Ok(())
}

fn free_and_check(
    m: &mut MemoryMap,
    model: &mut Model,
    addr: u64,
    pages: u64,
) -> Result<(), TestCaseError> {
    let expected = expect_free(m, model, addr, pages);
    let result = m.free_pages(addr, pages);
    match expected {
        Some(Ok(n)) => {
            prop_assert_eq!(result, Ok(()));
            for i in 0..n {
                model.pages.remove(&(addr + i * PAGE_SIZE));
            }
        }
        Some(Err(e)) => prop_assert_eq!(result, Err(e)),
        None => prop_assert!(
            result.is_err(),
            "freed {:#x}+{} outside the model",
            addr,
            pages
        ),
    }
    Ok(())
}

/// The model agrees with the map: page and pool owners have their types, pool blocks avoid page allocations.
fn check_model(m: &MemoryMap, model: &Model) -> Result<(), TestCaseError> {
    for (&p, &t) in &model.pages {
        prop_assert_eq!(m.memory_type_at(p), Some(t));
    }
    for (&a, &(t, cap)) in &model.pool {
        prop_assert_eq!(m.memory_type_at(a), Some(t));
        prop_assert_eq!(m.memory_type_at(a + cap - 1), Some(t));
        prop_assert!(!model.pages.contains_key(&(a / PAGE_SIZE * PAGE_SIZE)));
    }
    prop_assert_eq!(m.pool_allocations().count(), model.pool.len());
    Ok(())
}

fn run(granularity: RuntimeGranularity, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m = platform(granularity, 2 * MIB, 64);
    let initial = ranges(&m);
    let total = m.total_pages();
    let mut model = Model::default();
    m.take_changed();
    for op in ops {
        let before = ranges(&m);
        let key = m.map_key();
        step(&mut m, &mut model, op)?;
        let after = ranges(&m);
        assert_invariants(&m, total);
        let list_changed = after != before;
        prop_assert_eq!(
            m.map_key() != key,
            list_changed,
            "key rule broken by {:?}",
            op
        );
        prop_assert_eq!(
            m.take_changed(),
            list_changed,
            "change flag broken by {:?}",
            op
        );
        check_model(&m, &model)?;
    }
    // Free everything: the map must come back exactly.
    for a in model.pool.keys().copied().collect::<Vec<_>>() {
        prop_assert_eq!(m.free_pool(a), Ok(()));
    }
    let mut runs: Vec<(u64, u64, u32)> = Vec::new();
    for (&p, &t) in &model.pages {
        match runs.last_mut() {
            Some((start, n, rt)) if *rt == t && *start + *n * PAGE_SIZE == p => *n += 1,
            _ => runs.push((p, 1, t)),
        }
    }
    for (start, n, t) in runs {
        prop_assert_eq!(
            m.free_pages(start, n),
            Ok(()),
            "run {:#x}+{} type {:#x} in {:#x?}",
            start,
            n,
            t,
            ranges(&m)
        );
    }
    prop_assert_eq!(ranges(&m), initial);
    Ok(())
}

proptest! {
    #[test]
    fn random_sequences_keep_map_invariants_and_key_rule_x64(ops in proptest::collection::vec(op(), 1..60)) {
        run(RuntimeGranularity::X64, &ops)?;
    }

    #[test]
    fn random_sequences_keep_map_invariants_and_key_rule_aarch64(ops in proptest::collection::vec(op(), 1..60)) {
        run(RuntimeGranularity::AArch64, &ops)?;
    }
}
