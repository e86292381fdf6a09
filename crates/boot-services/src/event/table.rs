//! The event table: records, handle validation, signalling and the pending queues (the `Events` state that the
//! engine keeps behind its TPL lock).

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_void;

use r_efi::efi::{self, Guid};

use super::id::{GENERATION_MASK, MAX_EVENTS};
use super::queue::NotifyQueues;
use super::{EventId, NotifyFn};
use crate::timer::{TimerArm, Watchdog};
use crate::tpl::Tpl;
use crate::{Result, Status};

/// One open event (the spec's `EFI_EVENT` object).
pub(crate) struct EventRecord {
    /// `EVT_*` type bits as created.
    pub(crate) kind: u32,
    /// Level the notification function runs at (meaningful for notify types only).
    pub(crate) notify_tpl: Tpl,
    /// Notification function; `Some` exactly for `EVT_NOTIFY_WAIT` / `EVT_NOTIFY_SIGNAL` events.
    pub(crate) notify: Option<NotifyFn>,
    /// Opaque `NotifyContext`, passed back verbatim and never dereferenced.
    pub(crate) context: *mut c_void,
    /// Event group, if any.
    pub(crate) group: Option<Guid>,
    /// The spec's signalled state.
    pub(crate) signalled: bool,
    /// Whether the notification is in a pending queue.
    pub(crate) queued: bool,
    /// Armed timer, if any (`EVT_TIMER` events only).
    pub(crate) timer: Option<TimerArm>,
    /// Owner name for attribution (quiesce registrations), if any.
    pub(crate) label: Option<String>,
}

impl EventRecord {
    pub(crate) fn is_notify_signal(&self) -> bool {
        self.kind & efi::EVT_NOTIFY_SIGNAL != 0
    }

    pub(crate) fn is_notify_wait(&self) -> bool {
        self.kind & efi::EVT_NOTIFY_WAIT != 0
    }
}

/// A notification popped from a queue, ready to be called with no state borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) id: EventId,
    pub(crate) tpl: Tpl,
    pub(crate) function: NotifyFn,
    pub(crate) context: *mut c_void,
}

struct Slot {
    generation: usize,
    record: Option<EventRecord>,
}

/// The engine state guarded by the TPL lock.
pub(crate) struct Events {
    slots: Vec<Slot>,
    /// Free slot indices; capacity kept `>= slots.len()` so closing never allocates.
    free: Vec<usize>,
    pub(crate) queues: NotifyQueues,
    /// System time of the last timer tick, 100 ns units.
    pub(crate) now: u64,
    pub(crate) watchdog: Option<Watchdog>,
}

impl Events {
    pub(crate) const fn new() -> Events {
        Events {
            slots: Vec::new(),
            free: Vec::new(),
            queues: NotifyQueues::new(),
            now: 0,
            watchdog: None,
        }
    }

    /// Stores a new record and returns its handle.
    ///
    /// Errors: `OUT_OF_RESOURCES` when the table is full or an allocation fails.
    pub(crate) fn insert(&mut self, record: EventRecord) -> Result<EventId> {
        if record.notify.is_some() {
            self.queues.reserve_for_new(record.notify_tpl)?;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let grown = self.slots.len() + 1;
                if grown > MAX_EVENTS
                    || self.slots.try_reserve(1).is_err()
                    || self
                        .free
                        .try_reserve(grown.saturating_sub(self.free.len()))
                        .is_err()
                {
                    if record.notify.is_some() {
                        self.queues.unreserve(record.notify_tpl);
                    }
                    return Err(Status::OUT_OF_RESOURCES);
                }
                self.slots.push(Slot {
                    generation: 1,
                    record: None,
                });
                self.slots.len() - 1
            }
        };
        let entry = &mut self.slots[slot];
        entry.record = Some(record);
        Ok(EventId::new(slot, entry.generation))
    }

    fn slot_of(&self, id: EventId) -> Result<usize> {
        let slot = id.slot().ok_or(Status::INVALID_PARAMETER)?;
        match self.slots.get(slot) {
            Some(entry) if entry.record.is_some() && entry.generation == id.generation() => {
                Ok(slot)
            }
            _ => Err(Status::INVALID_PARAMETER),
        }
    }

    /// The record of a live event. Errors: `INVALID_PARAMETER` for a NULL, stale or forged handle.
    pub(crate) fn get(&self, id: EventId) -> Result<&EventRecord> {
        let slot = self.slot_of(id)?;
        self.slots[slot]
            .record
            .as_ref()
            .ok_or(Status::INVALID_PARAMETER)
    }

    /// Mutable access to a live event's record. Errors as [`Events::get`].
    pub(crate) fn get_mut(&mut self, id: EventId) -> Result<&mut EventRecord> {
        let slot = self.slot_of(id)?;
        self.slots[slot]
            .record
            .as_mut()
            .ok_or(Status::INVALID_PARAMETER)
    }

    /// Closes an event: drops its pending notification and queue reservation, disarms its timer and group
    /// membership (both live in the record), and retires the handle by bumping the slot generation.
    pub(crate) fn remove(&mut self, id: EventId) -> Result<EventRecord> {
        let slot = self.slot_of(id)?;
        let entry = &mut self.slots[slot];
        let record = entry.record.take().ok_or(Status::INVALID_PARAMETER)?;
        entry.generation = entry.generation.wrapping_add(1) & GENERATION_MASK;
        if record.notify.is_some() {
            self.queues.forget(record.notify_tpl, id);
        }
        self.free.push(slot);
        Ok(record)
    }

    /// Handles of all live events, in table order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = EventId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.record.is_some())
            .map(|(slot, entry)| EventId::new(slot, entry.generation))
    }

    /// Queues the event's notification unless it is already queued.
    pub(crate) fn queue_notify(&mut self, id: EventId) -> Result<()> {
        let record = self.get_mut(id)?;
        if record.notify.is_some() && !record.queued {
            record.queued = true;
            let tpl = record.notify_tpl;
            self.queues.push(tpl, id);
        }
        Ok(())
    }

    /// Signals one event: sets the signalled state and, for `EVT_NOTIFY_SIGNAL`, queues its notification.
    /// An event already signalled is left as it is (so a notification is queued at most once).
    fn signal_one(&mut self, id: EventId) -> Result<()> {
        let record = self.get_mut(id)?;
        if record.signalled {
            return Ok(());
        }
        record.signalled = true;
        if record.is_notify_signal() {
            self.queue_notify(id)?;
        }
        Ok(())
    }

    /// `SignalEvent()` semantics: an event in a group signals every member of the group (table order),
    /// otherwise just itself. Errors: `INVALID_PARAMETER` for a bad handle.
    pub(crate) fn signal(&mut self, id: EventId) -> Result<()> {
        match self.get(id)?.group {
            Some(group) => {
                self.signal_group(&group);
                Ok(())
            }
            None => self.signal_one(id),
        }
    }

    /// Signals every member of `group` (table order). Does not allocate.
    pub(crate) fn signal_group(&mut self, group: &Guid) {
        for slot in 0..self.slots.len() {
            let entry = &self.slots[slot];
            if entry
                .record
                .as_ref()
                .is_some_and(|r| r.group.as_ref() == Some(group))
            {
                let id = EventId::new(slot, entry.generation);
                // The id was just read from a live slot, so this cannot fail.
                let _ = self.signal_one(id);
            }
        }
    }

    /// Whether some notification is pending strictly above `floor`.
    pub(crate) fn pending_above(&self, floor: Tpl) -> bool {
        self.queues.highest_above(floor).is_some()
    }

    /// Pops the next notification to run above `floor`: highest level first, FIFO within a level. Clears the
    /// queued flag and, for `EVT_NOTIFY_SIGNAL`, the signalled state (the event returns to not-signalled before
    /// its function runs, so a signal during the call queues it again).
    pub(crate) fn pop_notification_above(&mut self, floor: Tpl) -> Option<Pending> {
        loop {
            let tpl = self.queues.highest_above(floor)?;
            let id = self.queues.pop(tpl)?;
            let Ok(record) = self.get_mut(id) else {
                log::error!(target: "boot_services::event", "queued notification for dead event {:#x}", id.raw());
                continue;
            };
            record.queued = false;
            if record.is_notify_signal() {
                record.signalled = false;
            }
            if let Some(function) = record.notify {
                return Some(Pending {
                    id,
                    tpl,
                    function,
                    context: record.context,
                });
            }
        }
    }

    /// Drops every pending notification whose event is not a member of `group`, clearing its queued flag.
    pub(crate) fn discard_pending_except(&mut self, group: &Guid) {
        let mut dropped_ids: Vec<EventId> = Vec::new();
        let slots = &self.slots;
        let member = |id: EventId| {
            id.slot()
                .and_then(|slot| slots.get(slot))
                .and_then(|entry| entry.record.as_ref())
                .is_some_and(|record| record.group.as_ref() == Some(group))
        };
        self.queues.retain(member, |id| dropped_ids.push(id));
        for id in dropped_ids {
            log::warn!(target: "boot_services::event", "ExitBootServices: discarding pending notification of event {:#x}", id.raw());
            if let Ok(record) = self.get_mut(id) {
                record.queued = false;
            }
        }
    }
}
