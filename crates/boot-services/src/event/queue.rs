//! Pending-notification queues, one FIFO per TPL.
//!
//! Invariant: each event is in at most one queue at most once (its record's `queued` flag mirrors membership),
//! and each level's queue has capacity for every live notify event of that level, reserved at `CreateEvent`
//! time, so queueing a notification (possibly from the timer interrupt) never allocates.

use alloc::collections::VecDeque;

use super::EventId;
use crate::tpl::Tpl;
use crate::{Result, Status};

/// Number of TPL values (0 ..= `TPL_HIGH_LEVEL`).
const LEVELS: usize = Tpl::HIGH_LEVEL.0 + 1;

/// FIFO queues of events whose notification function is pending, indexed by notify TPL.
pub(crate) struct NotifyQueues {
    levels: [VecDeque<EventId>; LEVELS],
    /// Live notify events per level (their queue capacity is reserved).
    live: [usize; LEVELS],
}

impl NotifyQueues {
    pub(crate) const fn new() -> NotifyQueues {
        NotifyQueues {
            levels: [const { VecDeque::new() }; LEVELS],
            live: [0; LEVELS],
        }
    }

    /// Reserves queue room for one more notify event at `tpl` (which must be `<= TPL_HIGH_LEVEL`).
    ///
    /// Errors: `OUT_OF_RESOURCES` when the allocation fails.
    pub(crate) fn reserve_for_new(&mut self, tpl: Tpl) -> Result<()> {
        let queue = &mut self.levels[tpl.0];
        let wanted = self.live[tpl.0] + 1;
        queue
            .try_reserve(wanted.saturating_sub(queue.len()))
            .map_err(|_| Status::OUT_OF_RESOURCES)?;
        self.live[tpl.0] = wanted;
        Ok(())
    }

    /// Forgets a closed notify event of level `tpl`: drops any pending entry and its reservation.
    pub(crate) fn forget(&mut self, tpl: Tpl, id: EventId) {
        self.levels[tpl.0].retain(|queued| *queued != id);
        self.unreserve(tpl);
    }

    /// Returns one reservation of level `tpl` (an event creation that failed after reserving).
    pub(crate) fn unreserve(&mut self, tpl: Tpl) {
        self.live[tpl.0] = self.live[tpl.0].saturating_sub(1);
    }

    /// Appends `id` at the tail of level `tpl` (within reserved capacity, so no allocation).
    pub(crate) fn push(&mut self, tpl: Tpl, id: EventId) {
        self.levels[tpl.0].push_back(id);
    }

    /// The highest level strictly above `floor` with a pending notification.
    pub(crate) fn highest_above(&self, floor: Tpl) -> Option<Tpl> {
        (floor.0.saturating_add(1)..LEVELS)
            .rev()
            .find(|&level| !self.levels[level].is_empty())
            .map(Tpl)
    }

    /// Removes and returns the oldest entry of level `tpl`.
    pub(crate) fn pop(&mut self, tpl: Tpl) -> Option<EventId> {
        self.levels.get_mut(tpl.0)?.pop_front()
    }

    /// Keeps only the entries for which `keep` is true; returns the removed ones through `dropped`.
    pub(crate) fn retain(
        &mut self,
        mut keep: impl FnMut(EventId) -> bool,
        mut dropped: impl FnMut(EventId),
    ) {
        for queue in self.levels.iter_mut() {
            queue.retain(|&id| {
                let kept = keep(id);
                if !kept {
                    dropped(id);
                }
                kept
            });
        }
    }
}
