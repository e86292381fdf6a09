//! OpenProtocol(), CloseProtocol() and HandleProtocol() on the database (UEFI 2.10 section 7.3). The conflict
//! table is in the parent module's docs; the disconnect half of `EXCLUSIVE` opens is in [`super::Services`].

use alloc::vec::Vec;

use r_efi::efi::{Guid, Handle};

use super::database::OpenRecord;
use super::{
    Interface, ProtocolDatabase, BY_CHILD_CONTROLLER, BY_DRIVER, BY_HANDLE_PROTOCOL, EXCLUSIVE,
};
use super::{GET_PROTOCOL, TEST_PROTOCOL};
use crate::handle::{handle_key, key_handle};
use crate::{Result, Status};

/// Outcome of one lock-held OpenProtocol() step.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenStep {
    /// The open was recorded (or, for `TEST_PROTOCOL`, checked) and this is the interface.
    Opened(Interface),
    /// `EXCLUSIVE` was requested while these agents hold the protocol `BY_DRIVER`: the caller must
    /// DisconnectController(handle, agent, NULL) for each, outside the lock, then retry without disconnecting.
    Disconnect(Vec<Handle>),
}

impl ProtocolDatabase {
    /// HandleProtocol() (UEFI 2.10 section 7.3): OpenProtocol() with `BY_HANDLE_PROTOCOL` on behalf of the core
    /// agent (see [`ProtocolDatabase::set_core_agent`]) and no controller.
    /// Errors: `INVALID_PARAMETER` (bad handle), `UNSUPPORTED` (protocol not on the handle).
    pub fn handle_protocol(&mut self, handle: Handle, guid: &Guid) -> Result<Interface> {
        let agent = key_handle(self.core_agent());
        match self.open_protocol_step(
            handle,
            guid,
            agent,
            core::ptr::null_mut(),
            BY_HANDLE_PROTOCOL,
            false,
        )? {
            OpenStep::Opened(i) => Ok(i),
            OpenStep::Disconnect(_) => Err(Status::ACCESS_DENIED),
        }
    }

    /// The lock-held part of OpenProtocol() (UEFI 2.10 section 7.3). Validates per attribute: the agent must be
    /// live for `BY_CHILD_CONTROLLER`, `BY_DRIVER`, `BY_DRIVER|EXCLUSIVE`, `EXCLUSIVE`; the controller must be live
    /// for the first three and differ from `handle` for `BY_CHILD_CONTROLLER`; other attribute values are invalid.
    /// With `may_disconnect`, `EXCLUSIVE` requests blocked by `BY_DRIVER` holders return
    /// [`OpenStep::Disconnect`]; without it they fail with `ACCESS_DENIED`.
    /// Errors: `INVALID_PARAMETER`, `UNSUPPORTED` (protocol not on the handle), `ALREADY_STARTED`,
    /// `ACCESS_DENIED` per the conflict table.
    pub fn open_protocol_step(
        &mut self,
        handle: Handle,
        guid: &Guid,
        agent: Handle,
        controller: Handle,
        attributes: u32,
        may_disconnect: bool,
    ) -> Result<OpenStep> {
        self.validate(handle)?;
        match attributes {
            BY_HANDLE_PROTOCOL | GET_PROTOCOL | TEST_PROTOCOL => {}
            BY_CHILD_CONTROLLER => {
                self.validate(agent)?;
                self.validate(controller)?;
                if handle == controller {
                    return Err(Status::INVALID_PARAMETER);
                }
            }
            a if a == BY_DRIVER || a == BY_DRIVER | EXCLUSIVE => {
                self.validate(agent)?;
                self.validate(controller)?;
            }
            EXCLUSIVE => {
                self.validate(agent)?;
            }
            _ => return Err(Status::INVALID_PARAMETER),
        }
        let entry = self.entry_mut(handle)?;
        let inst = entry.find_mut(guid).ok_or(Status::UNSUPPORTED)?;
        let interface = key_handle(inst.interface);
        let agent_key = handle_key(agent);
        let controller_key = handle_key(controller);

        if attributes & (BY_DRIVER | EXCLUSIVE) != 0 {
            if attributes & BY_DRIVER != 0
                && inst
                    .opens
                    .iter()
                    .any(|o| o.attributes == attributes && o.agent == agent_key)
            {
                return Err(Status::ALREADY_STARTED);
            }
            if inst.opens.iter().any(|o| o.attributes & EXCLUSIVE != 0) {
                return Err(Status::ACCESS_DENIED);
            }
            let holders: Vec<Handle> = inst
                .opens
                .iter()
                .filter(|o| o.attributes & BY_DRIVER != 0)
                .map(|o| key_handle(o.agent))
                .collect();
            if !holders.is_empty() {
                if attributes == BY_DRIVER || !may_disconnect {
                    return Err(Status::ACCESS_DENIED);
                }
                return Ok(OpenStep::Disconnect(holders));
            }
        }
        if attributes == TEST_PROTOCOL {
            return Ok(OpenStep::Opened(interface));
        }
        let sharable = attributes & (BY_DRIVER | EXCLUSIVE) == 0;
        let existing = inst.opens.iter_mut().find(|o| {
            sharable
                && o.agent == agent_key
                && o.controller == controller_key
                && o.attributes == attributes
        });
        match existing {
            Some(o) => o.open_count = o.open_count.saturating_add(1),
            None => inst.opens.push(OpenRecord {
                agent: agent_key,
                controller: controller_key,
                attributes,
                open_count: 1,
            }),
        }
        log::trace!(target: "boot_services::protocol", "open {:?} on {:p} by {:p} attr {:#x}", guid, handle, agent, attributes);
        Ok(OpenStep::Opened(interface))
    }

    /// CloseProtocol() (UEFI 2.10 section 7.3): removes every open record of `guid` on `handle` made by `agent`
    /// for `controller`. Errors: `INVALID_PARAMETER` when `handle` or `agent` is not live or `controller` is
    /// non-null and not live; `NOT_FOUND` when the protocol is not on the handle or no such open exists.
    pub fn close_protocol(
        &mut self,
        handle: Handle,
        guid: &Guid,
        agent: Handle,
        controller: Handle,
    ) -> Result<()> {
        self.validate(handle)?;
        self.validate(agent)?;
        if !controller.is_null() {
            self.validate(controller)?;
        }
        let inst = self
            .entry_mut(handle)?
            .find_mut(guid)
            .ok_or(Status::NOT_FOUND)?;
        let before = inst.opens.len();
        inst.opens
            .retain(|o| !(o.agent == handle_key(agent) && o.controller == handle_key(controller)));
        if inst.opens.len() == before {
            return Err(Status::NOT_FOUND);
        }
        Ok(())
    }
}
