//! A `Vec`-backed [`DmaMemory`]: "physical addresses" are arbitrary `u64`s; each region (a host buffer the test
//! registers at a chosen address, or an allocation) owns a `Vec<u8>`. Allocation is first-fit in an arena
//! (below 4 GiB: `LOW_ARENA`; anywhere: `HIGH_ARENA`) around existing regions. `copy` never allocates. Once
//! `frozen`, allocate/free calls are recorded as violations and fail.

use std::vec;
use std::vec::Vec;

use crate::{DmaMemory, Status, FOUR_GIB, PAGE_SIZE};

pub const LOW_ARENA: (u64, u64) = (0x1000_0000, FOUR_GIB);
pub const HIGH_ARENA: (u64, u64) = (0x10_0000_0000, 0x20_0000_0000);

struct Region {
    base: u64,
    data: Vec<u8>,
    allocated: bool,
}

impl Region {
    fn end(&self) -> u64 {
        self.base + self.data.len() as u64
    }
}

#[derive(Default)]
pub struct FakeMemory {
    regions: Vec<Region>,
    pub allocate_calls: usize,
    pub free_calls: usize,
    pub copy_calls: usize,
    pub frozen: bool,
    pub violations: usize,
    pub fail_allocations: bool,
    /// Return this (misplaced) address from the next allocation, for the 4 GiB-promise check.
    pub misplace_next: Option<u64>,
}

impl FakeMemory {
    /// Register a host buffer of `len` bytes at `base`, filled with `fill(i)`.
    pub fn add_host(&mut self, base: u64, len: usize, fill: impl Fn(usize) -> u8) {
        let end = base + len as u64;
        assert!(
            self.regions
                .iter()
                .all(|r| end <= r.base || base >= r.end()),
            "host region overlaps"
        );
        self.regions.push(Region {
            base,
            data: (0..len).map(fill).collect(),
            allocated: false,
        });
    }

    fn locate(&self, addr: u64, len: usize) -> (usize, usize) {
        let index = self
            .regions
            .iter()
            .position(|r| r.base <= addr && addr + len as u64 <= r.end())
            .unwrap_or_else(|| panic!("access {addr:#x}+{len:#x} outside every region"));
        (index, (addr - self.regions[index].base) as usize)
    }

    pub fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        let (i, off) = self.locate(addr, len);
        self.regions[i].data[off..off + len].to_vec()
    }

    pub fn write(&mut self, addr: u64, bytes: &[u8]) {
        let (i, off) = self.locate(addr, bytes.len());
        self.regions[i].data[off..off + bytes.len()].copy_from_slice(bytes);
    }

    /// Live allocations as (base, pages), ascending.
    pub fn allocations(&self) -> Vec<(u64, usize)> {
        let mut v: Vec<_> = self
            .regions
            .iter()
            .filter(|r| r.allocated)
            .map(|r| (r.base, (r.data.len() as u64 / PAGE_SIZE) as usize))
            .collect();
        v.sort_unstable();
        v
    }
}

impl DmaMemory for FakeMemory {
    fn allocate_pages(&mut self, pages: usize, below_4g: bool) -> Result<u64, Status> {
        self.allocate_calls += 1;
        if self.frozen {
            self.violations += 1;
            return Err(Status::ACCESS_DENIED);
        }
        if self.fail_allocations {
            return Err(Status::OUT_OF_RESOURCES);
        }
        let size = pages as u64 * PAGE_SIZE;
        let base = if let Some(base) = self.misplace_next.take() {
            base
        } else {
            let (mut candidate, limit) = if below_4g { LOW_ARENA } else { HIGH_ARENA };
            let mut spans: Vec<(u64, u64)> =
                self.regions.iter().map(|r| (r.base, r.end())).collect();
            spans.sort_unstable();
            for (start, end) in spans {
                if end <= candidate {
                    continue;
                }
                if candidate + size <= start {
                    break;
                }
                candidate = end.div_ceil(PAGE_SIZE) * PAGE_SIZE;
            }
            if candidate + size > limit {
                return Err(Status::OUT_OF_RESOURCES);
            }
            candidate
        };
        // Fill with a marker so tests notice bytes that were never copied.
        self.regions.push(Region {
            base,
            data: vec![0xEE; size as usize],
            allocated: true,
        });
        Ok(base)
    }

    fn free_pages(&mut self, addr: u64, pages: usize) -> Result<(), Status> {
        self.free_calls += 1;
        if self.frozen {
            self.violations += 1;
            return Err(Status::ACCESS_DENIED);
        }
        let index = self
            .regions
            .iter()
            .position(|r| {
                r.allocated && r.base == addr && r.data.len() as u64 == pages as u64 * PAGE_SIZE
            })
            .ok_or(Status::NOT_FOUND)?;
        self.regions.remove(index);
        Ok(())
    }

    fn copy(&mut self, dst: u64, src: u64, len: usize) {
        self.copy_calls += 1;
        let (si, so) = self.locate(src, len);
        let (di, doff) = self.locate(dst, len);
        if si == di {
            self.regions[si].data.copy_within(so..so + len, doff);
        } else if si < di {
            let (a, b) = self.regions.split_at_mut(di);
            b[0].data[doff..doff + len].copy_from_slice(&a[si].data[so..so + len]);
        } else {
            let (a, b) = self.regions.split_at_mut(si);
            a[di].data[doff..doff + len].copy_from_slice(&b[0].data[so..so + len]);
        }
    }
}
