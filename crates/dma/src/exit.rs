//! The ExitBootServices final phase: [`Dma::release_all_at_exit`] and its [`ExitReport`].
//!
//! Runs as the core's final action, after every driver's quiesce handler reset its device and after the memory
//! map was locked. Guarantee: no call to [`DmaMemory::allocate_pages`] or [`DmaMemory::free_pages`], and no heap
//! allocation or deallocation. The only `Vec` written is `exit_owners`, whose capacity `map()` and
//! `allocate_buffer()` kept at least one slot per tracked item (and each push is additionally guarded by a
//! capacity check, so a broken reservation truncates the owner list instead of reallocating); the tracking lists
//! are `clear()`ed, which keeps their capacity and drops only plain data.

use crate::dma::Dma;
use crate::memory::DmaMemory;

const LOG: &str = "dma::exit";

/// What [`Dma::release_all_at_exit`] released. Borrows the owner list from the [`Dma`] so that neither building
/// nor dropping the report touches the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitReport<'a> {
    /// Mappings forgotten (identity and bounced).
    pub mappings_released: usize,
    /// Of those, mappings that had bounce pages (left allocated as boot-services data).
    pub bounce_mappings_released: usize,
    /// Bus-master-write bounces whose data was copied back to the host buffer.
    pub copy_backs_completed: usize,
    /// Common buffers forgotten (left allocated as boot-services data).
    pub buffers_released: usize,
    /// Owner tags that still had mappings or common buffers, ascending, without duplicates. A driver whose
    /// quiesce handler left its mappings to this phase appears here; one that was stopped should not.
    pub owners: &'a [u64],
    /// True if the owner list is incomplete because the reserved capacity was short (a bug; never expected).
    pub owners_truncated: bool,
}

impl ExitReport<'_> {
    /// True when nothing was left to release.
    pub fn is_clean(&self) -> bool {
        self.mappings_released == 0 && self.buffers_released == 0
    }
}

impl<M: DmaMemory> Dma<M> {
    /// The ExitBootServices final phase (run once every device has been reset and the memory map is locked):
    /// complete the copy-back of every bounced bus-master write (the device is reset, so the data is final),
    /// then forget every mapping and common buffer without freeing their pages, and report what was released.
    /// Afterwards every mutating call fails with [`crate::DmaError::AfterExitBootServices`]; calling this again
    /// returns an empty report.
    ///
    /// Never calls [`DmaMemory::allocate_pages`] / [`DmaMemory::free_pages`] and never allocates (module docs).
    pub fn release_all_at_exit(&mut self) -> ExitReport<'_> {
        self.exit_owners.clear();
        let mut owners_truncated = false;
        let mut copy_backs_completed = 0;
        let mut bounce_mappings_released = 0;
        let owners_of_mappings = self.mappings.iter().map(|m| m.owner);
        let owners_of_buffers = self.buffers.iter().map(|b| b.owner);
        for owner in owners_of_mappings.chain(owners_of_buffers) {
            if self.exit_owners.len() < self.exit_owners.capacity() {
                self.exit_owners.push(owner);
            } else {
                owners_truncated = true;
            }
        }
        for mapping in &self.mappings {
            if let Some(bounce) = mapping.bounce {
                bounce_mappings_released += 1;
                if mapping.operation.is_write() {
                    self.memory
                        .copy(mapping.host_address, bounce.address, mapping.len);
                    copy_backs_completed += 1;
                }
            }
        }
        self.exit_owners.sort_unstable();
        self.exit_owners.dedup();

        let mappings_released = self.mappings.len();
        let buffers_released = self.buffers.len();
        self.mappings.clear();
        self.buffers.clear();
        self.exited = true;

        log::info!(
            target: LOG,
            "released {mappings_released} mappings ({bounce_mappings_released} bounced, {copy_backs_completed} \
             copied back) and {buffers_released} common buffers of {} owners",
            self.exit_owners.len()
        );
        for owner in &self.exit_owners {
            log::info!(target: LOG, "owner {owner:#x} left DMA mappings or buffers to the final phase");
        }
        if owners_truncated {
            log::error!(target: LOG, "owner list truncated: reserved capacity was short");
        }
        ExitReport {
            mappings_released,
            bounce_mappings_released,
            copy_backs_completed,
            buffers_released,
            owners: &self.exit_owners,
            owners_truncated,
        }
    }
}
