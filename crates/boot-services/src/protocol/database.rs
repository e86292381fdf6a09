//! The protocol database: handles, protocol instances and their open lists (UEFI 2.10 section 7.3,
//! "InstallProtocolInterface()" and "UninstallProtocolInterface()"). See the parent module for invariants.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use r_efi::efi::{Event, Guid, Handle};

use super::{
    DevicePathReader, Interface, OpenProtocolInformationEntry, BY_CHILD_CONTROLLER, BY_DRIVER,
};
use super::{BY_HANDLE_PROTOCOL, DEVICE_PATH_GUID, GET_PROTOCOL, TEST_PROTOCOL};
use crate::handle::{handle_key, key_handle, HandleAllocator};
use crate::{Result, Status};

/// One record of an instance's open list. Handles and pointers are kept as integers so the database is `Send`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpenRecord {
    pub(crate) agent: usize,
    pub(crate) controller: usize,
    pub(crate) attributes: u32,
    pub(crate) open_count: u32,
}

/// One protocol installed on a handle.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) guid: Guid,
    pub(crate) interface: usize,
    pub(crate) opens: Vec<OpenRecord>,
}

/// A handle: its protocols in install order (never empty while the handle exists).
#[derive(Debug, Default)]
pub(crate) struct HandleEntry {
    pub(crate) protocols: Vec<Instance>,
}

impl HandleEntry {
    pub(crate) fn find(&self, guid: &Guid) -> Option<&Instance> {
        self.protocols.iter().find(|p| p.guid == *guid)
    }

    pub(crate) fn find_mut(&mut self, guid: &Guid) -> Option<&mut Instance> {
        self.protocols.iter_mut().find(|p| p.guid == *guid)
    }
}

/// A RegisterProtocolNotify() registration: the handles that received `guid` since, oldest first.
#[derive(Debug)]
pub(crate) struct Notify {
    pub(crate) guid: Guid,
    pub(crate) event: usize,
    pub(crate) fresh: VecDeque<usize>,
}

/// The protocol database (UEFI 2.10 section 7.3). All methods are the pure, lock-held part of the services; the
/// ones that call drivers live on [`super::Services`].
#[derive(Debug)]
pub struct ProtocolDatabase {
    pub(crate) handles: BTreeMap<usize, HandleEntry>,
    allocator: HandleAllocator,
    pub(crate) notifies: BTreeMap<usize, Notify>,
    pub(crate) next_registration: usize,
    pending_signals: Vec<usize>,
    core_agent: usize,
}

impl Default for ProtocolDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl ProtocolDatabase {
    /// An empty database.
    pub const fn new() -> Self {
        ProtocolDatabase {
            handles: BTreeMap::new(),
            allocator: HandleAllocator::new(),
            notifies: BTreeMap::new(),
            next_registration: 0,
            pending_signals: Vec::new(),
            core_agent: 0,
        }
    }

    /// Sets the agent recorded for HandleProtocol() opens (the firmware core's image handle; null by default).
    pub fn set_core_agent(&mut self, agent: Handle) {
        self.core_agent = handle_key(agent);
    }

    /// Whether `handle` is a live handle of this database (no dereference happens).
    pub fn is_valid_handle(&self, handle: Handle) -> bool {
        self.handles.contains_key(&handle_key(handle))
    }

    /// The key of a live handle. Errors: `INVALID_PARAMETER` for a null, stale or forged handle.
    pub(crate) fn validate(&self, handle: Handle) -> Result<usize> {
        let key = handle_key(handle);
        if self.handles.contains_key(&key) {
            Ok(key)
        } else {
            Err(Status::INVALID_PARAMETER)
        }
    }

    pub(crate) fn entry(&self, handle: Handle) -> Result<&HandleEntry> {
        self.handles
            .get(&handle_key(handle))
            .ok_or(Status::INVALID_PARAMETER)
    }

    pub(crate) fn entry_mut(&mut self, handle: Handle) -> Result<&mut HandleEntry> {
        self.handles
            .get_mut(&handle_key(handle))
            .ok_or(Status::INVALID_PARAMETER)
    }

    /// The interface of `guid` on `handle` without recording an open (used for `TEST_PROTOCOL`, for the
    /// interface that accompanies `ALREADY_STARTED`, and by the driver model).
    /// Errors: `INVALID_PARAMETER` (bad handle), `UNSUPPORTED` (protocol not on the handle).
    pub fn get_interface(&self, handle: Handle, guid: &Guid) -> Result<Interface> {
        let inst = self.entry(handle)?.find(guid).ok_or(Status::UNSUPPORTED)?;
        Ok(key_handle(inst.interface))
    }

    /// InstallProtocolInterface() (UEFI 2.10 section 7.3): adds `guid` → `interface` to `handle`, or to a new
    /// handle when `handle` is `None`, and queues the notify events registered for `guid`.
    /// Returns the handle. Errors: `INVALID_PARAMETER` when `handle` is not a live handle or already carries
    /// `guid`; `OUT_OF_RESOURCES` when handle values are exhausted.
    pub fn install_protocol_interface(
        &mut self,
        handle: Option<Handle>,
        guid: Guid,
        interface: Interface,
    ) -> Result<Handle> {
        let key = self.install_target(handle, core::slice::from_ref(&guid))?;
        self.install_unchecked(key, guid, interface);
        Ok(key_handle(key))
    }

    /// InstallMultipleProtocolInterfaces() (UEFI 2.10 section 7.3): installs every `(guid, interface)` pair on
    /// `handle` (a new handle when `None`) or none of them.
    /// Errors: `INVALID_PARAMETER` (bad handle, a GUID already on the handle, or a GUID twice in `pairs`);
    /// `ALREADY_STARTED` when a Device Path Protocol is installed and another handle already has a byte-identical
    /// device path (read through `reader`; the new path is compared through its first end node).
    pub fn install_multiple_protocol_interfaces(
        &mut self,
        handle: Option<Handle>,
        pairs: &[(Guid, Interface)],
        reader: &dyn DevicePathReader,
    ) -> Result<Handle> {
        let guids: Vec<Guid> = pairs.iter().map(|p| p.0).collect();
        for (i, g) in guids.iter().enumerate() {
            if guids[..i].contains(g) {
                return Err(Status::INVALID_PARAMETER);
            }
        }
        if let Some((_, dp)) = pairs.iter().find(|p| p.0 == DEVICE_PATH_GUID) {
            if let Some(bytes) = reader.device_path_bytes(*dp) {
                if self.handle_with_device_path(&bytes, reader).is_some() {
                    log::debug!(target: "boot_services::protocol", "install_multiple: duplicate device path");
                    return Err(Status::ALREADY_STARTED);
                }
            }
        }
        let key = self.install_target(handle, &guids)?;
        for (guid, interface) in pairs {
            self.install_unchecked(key, *guid, *interface);
        }
        Ok(key_handle(key))
    }

    /// The existing handle whose device path equals `path` (compared through the first end node), if any.
    fn handle_with_device_path(&self, path: &[u8], reader: &dyn DevicePathReader) -> Option<usize> {
        let wanted = super::device_path::first_instance(path).ok()?;
        self.handles.iter().find_map(|(key, entry)| {
            let inst = entry.find(&DEVICE_PATH_GUID)?;
            let bytes = reader.device_path_bytes(key_handle(inst.interface))?;
            let have = super::device_path::first_instance(&bytes).ok()?;
            (have == wanted).then_some(*key)
        })
    }

    /// Validates the install target and returns its key, allocating a fresh handle key for `None` (the handle
    /// only enters the map when its first protocol is installed, so a failure leaves nothing behind).
    fn install_target(&mut self, handle: Option<Handle>, guids: &[Guid]) -> Result<usize> {
        match handle {
            Some(h) => {
                let entry = self.entry(h)?;
                if guids.iter().any(|g| entry.find(g).is_some()) {
                    return Err(Status::INVALID_PARAMETER);
                }
                Ok(handle_key(h))
            }
            None => self.allocator.allocate().ok_or(Status::OUT_OF_RESOURCES),
        }
    }

    /// Installs without checks (the caller validated) and queues notifications.
    pub(crate) fn install_unchecked(&mut self, key: usize, guid: Guid, interface: Interface) {
        log::trace!(target: "boot_services::protocol", "install {:?} on {:#x}", guid, key);
        let entry = self.handles.entry(key).or_default();
        entry.protocols.push(Instance {
            guid,
            interface: interface.addr(),
            opens: Vec::new(),
        });
        self.notify_installed(key, &guid);
    }

    /// Queues every registration for `guid`: records `key` as fresh and queues its event.
    pub(crate) fn notify_installed(&mut self, key: usize, guid: &Guid) {
        for n in self.notifies.values_mut().filter(|n| n.guid == *guid) {
            n.fresh.push_back(key);
            self.pending_signals.push(n.event);
        }
    }

    /// Drains the events queued by installs; [`super::Services`] signals them after releasing the lock.
    pub fn take_pending_signals(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.pending_signals)
            .into_iter()
            .map(key_handle)
            .collect()
    }

    /// Locates `(guid, interface)` on `handle`. Errors: `INVALID_PARAMETER` (bad handle), `NOT_FOUND` (protocol
    /// absent or installed with another interface).
    pub(crate) fn instance(
        &self,
        handle: Handle,
        guid: &Guid,
        interface: Interface,
    ) -> Result<&Instance> {
        let inst = self.entry(handle)?.find(guid).ok_or(Status::NOT_FOUND)?;
        if inst.interface != interface.addr() {
            return Err(Status::NOT_FOUND);
        }
        Ok(inst)
    }

    /// The agents holding `(guid, interface)` on `handle` `BY_DRIVER`, deduplicated, in open order.
    pub(crate) fn by_driver_agents(
        &self,
        handle: Handle,
        guid: &Guid,
        interface: Interface,
    ) -> Result<Vec<Handle>> {
        let inst = self.instance(handle, guid, interface)?;
        let mut agents: Vec<Handle> = Vec::new();
        for o in inst.opens.iter().filter(|o| o.attributes & BY_DRIVER != 0) {
            if !agents.iter().any(|a| a.addr() == o.agent) {
                agents.push(key_handle(o.agent));
            }
        }
        Ok(agents)
    }

    /// Second half of the uninstall algorithm (UEFI 2.10 section 7.3, "UninstallProtocolInterface()"): drops the
    /// `BY_HANDLE_PROTOCOL`/`GET_PROTOCOL`/`TEST_PROTOCOL` opens; if nothing else remains open, removes the
    /// instance (and the handle when it was the last protocol). Errors: `ACCESS_DENIED` when opens remain (the
    /// instance stays installed), `INVALID_PARAMETER`/`NOT_FOUND` when it disappeared meanwhile.
    pub(crate) fn finish_uninstall(
        &mut self,
        handle: Handle,
        guid: &Guid,
        interface: Interface,
    ) -> Result<()> {
        self.instance(handle, guid, interface)?;
        let entry = self.entry_mut(handle)?;
        let inst = entry.find_mut(guid).ok_or(Status::NOT_FOUND)?;
        inst.opens
            .retain(|o| o.attributes & (BY_HANDLE_PROTOCOL | GET_PROTOCOL | TEST_PROTOCOL) == 0);
        if !inst.opens.is_empty() {
            return Err(Status::ACCESS_DENIED);
        }
        entry.protocols.retain(|p| p.guid != *guid);
        if entry.protocols.is_empty() {
            self.handles.remove(&handle_key(handle));
            log::trace!(target: "boot_services::protocol", "handle {:p} destroyed", handle);
        }
        Ok(())
    }

    /// Swaps the interface of `guid` on `handle` (opens are dropped: they referred to the old interface) and
    /// queues notifications, as ReinstallProtocolInterface() does after its disconnect phase.
    /// Errors: `ACCESS_DENIED` while opens other than `BY_HANDLE_PROTOCOL`/`GET_PROTOCOL`/`TEST_PROTOCOL` remain.
    pub(crate) fn swap_interface(
        &mut self,
        handle: Handle,
        guid: &Guid,
        old: Interface,
        new: Interface,
    ) -> Result<()> {
        self.instance(handle, guid, old)?;
        let key = handle_key(handle);
        let inst = self
            .entry_mut(handle)?
            .find_mut(guid)
            .ok_or(Status::NOT_FOUND)?;
        inst.opens
            .retain(|o| o.attributes & (BY_HANDLE_PROTOCOL | GET_PROTOCOL | TEST_PROTOCOL) == 0);
        if !inst.opens.is_empty() {
            return Err(Status::ACCESS_DENIED);
        }
        inst.interface = new.addr();
        self.notify_installed(key, guid);
        Ok(())
    }

    /// Distinct agents holding any protocol of `controller` `BY_DRIVER` (the drivers managing it).
    pub(crate) fn managing_drivers(&self, controller: Handle) -> Result<Vec<Handle>> {
        let entry = self.entry(controller)?;
        let mut agents: Vec<Handle> = Vec::new();
        for o in entry.protocols.iter().flat_map(|p| p.opens.iter()) {
            if o.attributes & BY_DRIVER != 0 && !agents.iter().any(|a| a.addr() == o.agent) {
                agents.push(key_handle(o.agent));
            }
        }
        Ok(agents)
    }

    /// Distinct child handles recorded by `BY_CHILD_CONTROLLER` opens on `controller`'s protocols, restricted to
    /// `agent` when given. Children that no longer exist are skipped.
    pub(crate) fn children(&self, controller: Handle, agent: Option<Handle>) -> Vec<Handle> {
        let mut out: Vec<Handle> = Vec::new();
        let Ok(entry) = self.entry(controller) else {
            return out;
        };
        for o in entry.protocols.iter().flat_map(|p| p.opens.iter()) {
            let agent_ok = agent.is_none_or(|a| a.addr() == o.agent);
            if o.attributes & BY_CHILD_CONTROLLER != 0
                && agent_ok
                && self.handles.contains_key(&o.controller)
                && !out.iter().any(|c| c.addr() == o.controller)
            {
                out.push(key_handle(o.controller));
            }
        }
        out
    }

    /// Every `(handle, interface)` carrying `guid`, in handle order.
    pub(crate) fn instances_of(&self, guid: &Guid) -> Vec<(Handle, Interface)> {
        self.handles
            .iter()
            .filter_map(|(k, e)| {
                e.find(guid)
                    .map(|i| (key_handle(*k), key_handle(i.interface)))
            })
            .collect()
    }

    /// OpenProtocolInformation() (UEFI 2.10 section 7.3): the open list of `guid` on `handle`.
    /// Errors: `INVALID_PARAMETER` (bad handle), `NOT_FOUND` (protocol not on the handle).
    pub fn open_protocol_information(
        &self,
        handle: Handle,
        guid: &Guid,
    ) -> Result<Vec<OpenProtocolInformationEntry>> {
        let inst = self.entry(handle)?.find(guid).ok_or(Status::NOT_FOUND)?;
        Ok(inst
            .opens
            .iter()
            .map(|o| OpenProtocolInformationEntry {
                agent_handle: key_handle(o.agent),
                controller_handle: key_handle(o.controller),
                attributes: o.attributes,
                open_count: o.open_count,
            })
            .collect())
    }

    /// ProtocolsPerHandle() (UEFI 2.10 section 7.3): the GUIDs on `handle` in install order.
    /// Errors: `INVALID_PARAMETER` (bad handle).
    pub fn protocols_per_handle(&self, handle: Handle) -> Result<Vec<Guid>> {
        Ok(self
            .entry(handle)?
            .protocols
            .iter()
            .map(|p| p.guid)
            .collect())
    }

    pub(crate) fn core_agent(&self) -> usize {
        self.core_agent
    }
}
