//! RegisterProtocolNotify() (UEFI 2.10 section 7.3).
//!
//! A registration records its GUID, its event and a FIFO of the handles that received the GUID (install or
//! reinstall) since registration. Installing queues the event in the database; [`super::Services`] signals it
//! through [`super::EventSignaller`] once the lock is released. LocateHandle(ByRegisterNotify) and
//! LocateProtocol(Registration) consume that FIFO one handle at a time.

use alloc::collections::VecDeque;

use r_efi::efi::{Event, Guid};

use super::database::Notify;
use super::{ProtocolDatabase, Registration};
use crate::{Result, Status};

impl ProtocolDatabase {
    /// RegisterProtocolNotify(): from now on, each install or reinstall of `guid` signals `event` and records the
    /// handle for the returned key. Handles that already carry `guid` are not reported.
    /// Errors: `INVALID_PARAMETER` for a null event; `OUT_OF_RESOURCES` when keys are exhausted.
    pub fn register_protocol_notify(&mut self, guid: Guid, event: Event) -> Result<Registration> {
        if event.is_null() {
            return Err(Status::INVALID_PARAMETER);
        }
        let n = self.next_registration;
        let key = n
            .checked_mul(16)
            .and_then(|k| k.checked_add(8))
            .ok_or(Status::OUT_OF_RESOURCES)?;
        self.next_registration = n + 1;
        self.notifies.insert(
            key,
            Notify {
                guid,
                event: event.addr(),
                fresh: VecDeque::new(),
            },
        );
        Ok(Registration(key))
    }

    /// Removes one registration (the firmware calls this when the registration's event is closed).
    /// Errors: `INVALID_PARAMETER` for an unknown key.
    pub fn unregister_protocol_notify(&mut self, registration: Registration) -> Result<()> {
        self.notifies
            .remove(&registration.0)
            .map(|_| ())
            .ok_or(Status::INVALID_PARAMETER)
    }

    /// Removes every registration using `event` (for CloseEvent(), UEFI 2.10 section 7.1); returns how many.
    pub fn unregister_protocol_notify_event(&mut self, event: Event) -> usize {
        let before = self.notifies.len();
        self.notifies.retain(|_, n| n.event != event.addr());
        before - self.notifies.len()
    }

    /// Pops the oldest fresh handle of `registration` that still exists and still carries the registration's
    /// GUID. `None` when the key is unknown or nothing new arrived.
    pub(crate) fn next_fresh(&mut self, registration: Registration) -> Option<usize> {
        let notify = self.notifies.get_mut(&registration.0)?;
        let guid = notify.guid;
        while let Some(key) = notify.fresh.pop_front() {
            if self
                .handles
                .get(&key)
                .is_some_and(|e| e.find(&guid).is_some())
            {
                return Some(key);
            }
        }
        None
    }
}
