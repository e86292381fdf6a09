//! Random sequences of Map/Unmap/AllocateBuffer/FreeBuffer/device writes, checking after every step that the
//! fake's allocated pages are exactly the live bounce buffers plus the live common buffers (no leak, no double
//! tracking), that bounce buffers never overlap, that 32-bit devices get reachable addresses, and the copy
//! semantics of bounces; each sequence ends either by unmapping everything (nothing may stay allocated) or with
//! the exit phase (no memory-map call, pending write bounces copied back).

use std::vec::Vec;

use proptest::prelude::*;

use super::fake::FakeMemory;
use super::{dma_with_hosts, HIGH_HOST, LOW_HOST};
use crate::{Dma, MapToken, Operation, Policy, FOUR_GIB, PAGE_SIZE};

#[derive(Clone, Debug)]
enum Step {
    Map {
        op: usize,
        high: bool,
        offset: usize,
        len: usize,
        owner: u64,
    },
    MapCommon {
        pick: usize,
        op64: bool,
        len: usize,
        owner: u64,
    },
    Unmap {
        pick: usize,
    },
    UnmapStale {
        raw: u64,
    },
    Allocate {
        pages: usize,
        below: bool,
        owner: u64,
    },
    Free {
        pick: usize,
    },
    DeviceWrite {
        pick: usize,
        byte: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0usize..4, any::<bool>(), 0usize..0x8000, 1usize..0x8000, 0u64..3)
            .prop_map(|(op, high, offset, len, owner)| Step::Map { op, high, offset, len, owner }),
        1 => (any::<usize>(), any::<bool>(), 1usize..0x3000, 0u64..3)
            .prop_map(|(pick, op64, len, owner)| Step::MapCommon { pick, op64, len, owner }),
        3 => any::<usize>().prop_map(|pick| Step::Unmap { pick }),
        1 => any::<u64>().prop_map(|raw| Step::UnmapStale { raw }),
        1 => (1usize..4, any::<bool>(), 0u64..3).prop_map(|(pages, below, owner)| Step::Allocate { pages, below, owner }),
        1 => any::<usize>().prop_map(|pick| Step::Free { pick }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(pick, byte)| Step::DeviceWrite { pick, byte }),
    ]
}

const READ_WRITE: [Operation; 4] = [
    Operation::BusMasterRead,
    Operation::BusMasterWrite,
    Operation::BusMasterRead64,
    Operation::BusMasterWrite64,
];

fn check_invariants(dma: &Dma<FakeMemory>) {
    let mut tracked: Vec<(u64, usize)> = dma
        .live_mappings()
        .filter_map(|m| m.bounce.map(|b| (b.address, b.pages)))
        .chain(dma.live_buffers().map(|b| (b.address, b.pages)))
        .collect();
    tracked.sort_unstable();
    assert_eq!(
        dma.memory().allocations(),
        tracked,
        "allocated pages differ from tracked bounces + buffers"
    );
    for pair in tracked.windows(2) {
        assert!(
            pair[0].0 + pair[0].1 as u64 * PAGE_SIZE <= pair[1].0,
            "overlapping DMA pages {pair:?}"
        );
    }
    for m in dma.live_mappings() {
        if !m.operation.is_64bit() {
            assert!(
                m.device_address + m.len as u64 <= FOUR_GIB,
                "unreachable device address {m:?}"
            );
        }
        if m.operation.is_common_buffer() || m.bounce.is_none() {
            assert_eq!(m.device_address, m.host_address);
        }
        if let Some(b) = m.bounce {
            assert_eq!(b.address, m.device_address);
            assert!(b.pages as u64 * PAGE_SIZE >= m.len as u64);
        }
    }
}

fn run(steps: &[Step], force_bounce: bool, end_with_exit: bool) {
    let mut dma = dma_with_hosts(Policy { force_bounce });
    let mut stale: Vec<MapToken> = Vec::new();
    for step in steps {
        match *step {
            Step::Map {
                op,
                high,
                offset,
                len,
                owner,
            } => {
                let operation = READ_WRITE[op];
                let host = if high { HIGH_HOST } else { LOW_HOST } + offset as u64;
                let m = dma.map(owner, operation, host, len).unwrap();
                assert_eq!(m.len, len);
                let bounced = m.device_address != host;
                assert_eq!(bounced, force_bounce || (high && !operation.is_64bit()));
                if bounced {
                    assert_eq!(
                        dma.memory().read(m.device_address, len),
                        dma.memory().read(host, len)
                    );
                }
            }
            Step::MapCommon {
                pick,
                op64,
                len,
                owner,
            } => {
                let buffers: Vec<_> = dma.live_buffers().copied().collect();
                if buffers.is_empty() {
                    continue;
                }
                let b = buffers[pick % buffers.len()];
                let len = len.min(b.pages * PAGE_SIZE as usize);
                let op = if op64 {
                    Operation::BusMasterCommonBuffer64
                } else {
                    Operation::BusMasterCommonBuffer
                };
                match dma.map(owner, op, b.address, len) {
                    Ok(m) => assert_eq!(m.device_address, b.address),
                    Err(e) => assert!(!op64 && b.address >= FOUR_GIB, "unexpected {e}"),
                }
            }
            Step::Unmap { pick } => {
                let live: Vec<_> = dma.live_mappings().copied().collect();
                if live.is_empty() {
                    continue;
                }
                let m = live[pick % live.len()];
                let bounce_data = m.bounce.map(|b| dma.memory().read(b.address, m.len));
                let host_before = dma.memory().read(m.host_address, m.len);
                dma.unmap(m.token).unwrap();
                let host_after = dma.memory().read(m.host_address, m.len);
                match bounce_data {
                    Some(data) if m.operation.is_write() => assert_eq!(host_after, data),
                    _ => assert_eq!(host_after, host_before),
                }
                stale.push(m.token);
            }
            Step::UnmapStale { raw } => {
                let token = stale
                    .get(raw as usize % (stale.len() + 1))
                    .copied()
                    .unwrap_or(MapToken::from_raw(raw));
                if dma.live_mappings().all(|m| m.token != token) {
                    assert!(dma.unmap(token).is_err());
                }
            }
            Step::Allocate {
                pages,
                below,
                owner,
            } => {
                let address = dma.allocate_buffer(owner, pages, below).unwrap();
                assert_eq!(below, address < FOUR_GIB);
            }
            Step::Free { pick } => {
                let buffers: Vec<_> = dma.live_buffers().copied().collect();
                if buffers.is_empty() {
                    continue;
                }
                let b = buffers[pick % buffers.len()];
                let mapped = dma.live_mappings().any(|m| {
                    m.operation.is_common_buffer()
                        && m.host_address >= b.address
                        && m.host_address < b.end()
                });
                assert_eq!(dma.free_buffer(b.address, b.pages).is_err(), mapped);
            }
            Step::DeviceWrite { pick, byte } => {
                let live: Vec<_> = dma.live_mappings().copied().collect();
                if live.is_empty() {
                    continue;
                }
                let m = live[pick % live.len()];
                dma.memory_mut()
                    .write(m.device_address, &std::vec![byte; m.len]);
            }
        }
        check_invariants(&dma);
    }

    if end_with_exit {
        let pending: Vec<_> = dma
            .live_mappings()
            .filter(|m| m.operation.is_write())
            .filter_map(|m| {
                m.bounce
                    .map(|b| (m.host_address, dma.memory().read(b.address, m.len)))
            })
            .collect();
        let allocations = dma.memory().allocations();
        dma.memory_mut().frozen = true;
        let report = dma.release_all_at_exit();
        assert!(!report.owners_truncated);
        assert_eq!(report.copy_backs_completed, pending.len());
        assert_eq!(dma.memory().violations, 0);
        assert_eq!(dma.memory().allocations(), allocations);
        // The last copy-back to a host byte wins, in mapping order; check the final one of each.
        if let Some((host, data)) = pending.last() {
            assert_eq!(&dma.memory().read(*host, data.len()), data);
        }
    } else {
        let tokens: Vec<_> = dma.live_mappings().map(|m| m.token).collect();
        for token in tokens {
            dma.unmap(token).unwrap();
        }
        let buffers: Vec<_> = dma.live_buffers().copied().collect();
        for b in buffers {
            dma.free_buffer(b.address, b.pages).unwrap();
        }
        assert!(dma.memory().allocations().is_empty(), "leaked pages");
        for owner in 0..3 {
            dma.check_released(owner).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_map_unmap_sequences_leak_nothing_and_never_overlap(
        steps in proptest::collection::vec(step(), 1..40),
        force_bounce in any::<bool>(),
        end_with_exit in any::<bool>(),
    ) {
        run(&steps, force_bounce, end_with_exit);
    }
}
