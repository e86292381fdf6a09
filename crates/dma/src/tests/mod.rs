//! Host tests: rule-named unit tests over [`fake::FakeMemory`], the exit phase (with a counting global
//! allocator), and a random map/unmap property test.

mod alloc_count;
mod exit_tests;
mod fake;
mod map_tests;
mod prop_tests;

use crate::{Dma, Policy};
use fake::FakeMemory;

/// A host buffer below 4 GiB (outside the fake's low arena allocations, which avoid it).
const LOW_HOST: u64 = 0x2000_0000;
/// A host buffer above 4 GiB (outside the fake's high arena).
const HIGH_HOST: u64 = 0x2_0000_0000;
/// Size of each host buffer.
const HOST_LEN: usize = 0x10000;
/// Owner tags (controller handles).
const NIC: u64 = 0xA000;
const DISK: u64 = 0xB000;

fn pattern(i: usize) -> u8 {
    (i * 7 + 3) as u8
}

/// A layer over fake memory with one host buffer below and one above 4 GiB, filled with `pattern`.
fn dma_with_hosts(policy: Policy) -> Dma<FakeMemory> {
    let mut memory = FakeMemory::default();
    memory.add_host(LOW_HOST, HOST_LEN, pattern);
    memory.add_host(HIGH_HOST, HOST_LEN, pattern);
    Dma::new(memory, policy)
}
