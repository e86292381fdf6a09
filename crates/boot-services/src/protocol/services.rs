//! The protocol services that may call drivers: install (for notifications), uninstall, reinstall, the
//! multiple-interface variants and `EXCLUSIVE` opens (UEFI 2.10 section 7.3). Each takes the lock only for
//! short lock-held steps on [`ProtocolDatabase`] and calls DisconnectController()/ConnectController() (driver
//! code) and the event signaller with the lock released; see the parent module's re-entrancy notes.

use alloc::vec::Vec;

use r_efi::efi::{Guid, Handle};

use super::{DatabaseLock, EventSignaller, Interface, OpenStep, ProtocolDatabase};
use crate::driver_model::DriverCalls;
use crate::{Result, Status};

/// The re-entrant service layer: a lock on the one database, the call-out trait for driver code and the event
/// signaller. It holds no state of its own, so the firmware builds one per boot-service call and drivers
/// calling back build their own: nothing is borrowed across a call-out except these shared references.
pub struct Services<'a, L, C, S> {
    pub(crate) lock: &'a L,
    pub(crate) calls: &'a C,
    pub(crate) signaller: S,
}

impl<'a, L: DatabaseLock, C: DriverCalls, S: EventSignaller> Services<'a, L, C, S> {
    /// A service layer over `lock`, calling drivers through `calls` and signalling events through `signaller`.
    pub fn new(lock: &'a L, calls: &'a C, signaller: S) -> Self {
        Services {
            lock,
            calls,
            signaller,
        }
    }

    /// Runs `f` under the lock (for the pure services: HandleProtocol, CloseProtocol, the locate services...).
    pub fn with_db<R>(&self, f: impl FnOnce(&mut ProtocolDatabase) -> R) -> R {
        self.lock.with(f)
    }

    /// Signals the events queued by installs, with the lock released.
    pub(crate) fn flush_signals(&mut self) {
        for event in self.lock.with(|db| db.take_pending_signals()) {
            self.signaller.signal(event);
        }
    }

    /// InstallProtocolInterface() then signalling of the notify events for `guid`. Returns the handle.
    /// Errors: as [`ProtocolDatabase::install_protocol_interface`].
    pub fn install_protocol_interface(
        &mut self,
        handle: Option<Handle>,
        guid: Guid,
        interface: Interface,
    ) -> Result<Handle> {
        let r = self
            .lock
            .with(|db| db.install_protocol_interface(handle, guid, interface));
        self.flush_signals();
        r
    }

    /// InstallMultipleProtocolInterfaces(): all pairs or none, then signalling. Device paths are read through
    /// the call-out trait. Errors: as [`ProtocolDatabase::install_multiple_protocol_interfaces`].
    pub fn install_multiple_protocol_interfaces(
        &mut self,
        handle: Option<Handle>,
        pairs: &[(Guid, Interface)],
    ) -> Result<Handle> {
        let calls = self.calls;
        let r = self
            .lock
            .with(|db| db.install_multiple_protocol_interfaces(handle, pairs, calls));
        self.flush_signals();
        r
    }

    /// UninstallProtocolInterface() (UEFI 2.10 section 7.3): DisconnectController(handle, agent, NULL) for every
    /// agent holding the interface `BY_DRIVER`, then closes the `BY_HANDLE_PROTOCOL`/`GET_PROTOCOL`/
    /// `TEST_PROTOCOL` opens; if anything is still open, reconnects the handle (recursively) and fails.
    /// Destroys the handle when its last protocol goes.
    /// Errors: `INVALID_PARAMETER` (bad handle), `NOT_FOUND` (`guid` not on the handle with `interface`),
    /// `ACCESS_DENIED` (still open after the disconnects).
    pub fn uninstall_protocol_interface(
        &mut self,
        handle: Handle,
        guid: Guid,
        interface: Interface,
    ) -> Result<()> {
        let r = self.uninstall_one(handle, &guid, interface);
        self.flush_signals();
        r
    }

    fn uninstall_one(&mut self, handle: Handle, guid: &Guid, interface: Interface) -> Result<()> {
        self.disconnect_users(handle, guid, interface)?;
        let r = self
            .lock
            .with(|db| db.finish_uninstall(handle, guid, interface));
        if r == Err(Status::ACCESS_DENIED) {
            log::debug!(target: "boot_services::protocol", "uninstall {:?}: still open, reconnecting", guid);
            let _ = self.connect_controller(handle, &[], core::ptr::null_mut(), true);
        }
        r
    }

    /// Disconnects every `BY_DRIVER` holder of `(guid, interface)` on `handle`; individual failures are left for
    /// the caller's "still open?" check. Errors: `INVALID_PARAMETER`/`NOT_FOUND` from the lookup.
    fn disconnect_users(
        &mut self,
        handle: Handle,
        guid: &Guid,
        interface: Interface,
    ) -> Result<()> {
        let agents = self
            .lock
            .with(|db| db.by_driver_agents(handle, guid, interface))?;
        for agent in agents {
            if let Err(e) = self.disconnect_controller(handle, Some(agent), None) {
                log::debug!(target: "boot_services::protocol", "disconnect of {:p} failed: {:?}", agent, e);
            }
        }
        Ok(())
    }

    /// UninstallMultipleProtocolInterfaces(): uninstalls every pair or, when one fails, reinstalls the ones
    /// already removed. Errors: `INVALID_PARAMETER` when `handle` is bad, a pair is not installed, or an
    /// uninstall failed (after the rollback).
    pub fn uninstall_multiple_protocol_interfaces(
        &mut self,
        handle: Handle,
        pairs: &[(Guid, Interface)],
    ) -> Result<()> {
        let all_present = self.lock.with(|db| {
            pairs
                .iter()
                .all(|(g, i)| db.instance(handle, g, *i).is_ok())
        });
        if !all_present {
            return Err(Status::INVALID_PARAMETER);
        }
        let mut removed: Vec<(Guid, Interface)> = Vec::new();
        for (guid, interface) in pairs {
            if let Err(e) = self.uninstall_one(handle, guid, *interface) {
                log::debug!(target: "boot_services::protocol", "uninstall_multiple failed on {:?}: {:?}", guid, e);
                for (g, i) in &removed {
                    let r = self
                        .lock
                        .with(|db| db.install_protocol_interface(Some(handle), *g, *i));
                    if r.is_err() {
                        log::warn!(target: "boot_services::protocol", "rollback of {:?} failed: {:?}", g, r);
                    }
                }
                self.flush_signals();
                return Err(Status::INVALID_PARAMETER);
            }
            removed.push((*guid, *interface));
        }
        self.flush_signals();
        Ok(())
    }

    /// ReinstallProtocolInterface() (UEFI 2.10 section 7.3): disconnects the drivers using `old`, swaps in `new`
    /// (signalling notifications), then ConnectController(handle, recursive). If a driver keeps `old` open, the
    /// handle is reconnected and the call fails.
    /// Errors: `INVALID_PARAMETER` (bad handle), `NOT_FOUND` (`old` not installed for `guid`), `ACCESS_DENIED`.
    pub fn reinstall_protocol_interface(
        &mut self,
        handle: Handle,
        guid: Guid,
        old: Interface,
        new: Interface,
    ) -> Result<()> {
        self.disconnect_users(handle, &guid, old)?;
        let r = self
            .lock
            .with(|db| db.swap_interface(handle, &guid, old, new));
        if r.is_ok() || r == Err(Status::ACCESS_DENIED) {
            self.flush_signals();
            let _ = self.connect_controller(handle, &[], core::ptr::null_mut(), true);
        }
        self.flush_signals();
        r
    }

    /// OpenProtocol() (UEFI 2.10 section 7.3) with every attribute. `EXCLUSIVE` and `BY_DRIVER|EXCLUSIVE`
    /// requests blocked by `BY_DRIVER` holders disconnect them (lock released) and retry once.
    /// Errors: as [`ProtocolDatabase::open_protocol_step`]; `ACCESS_DENIED` when a holder could not be removed.
    pub fn open_protocol(
        &mut self,
        handle: Handle,
        guid: Guid,
        agent: Handle,
        controller: Handle,
        attributes: u32,
    ) -> Result<Interface> {
        let step = self
            .lock
            .with(|db| db.open_protocol_step(handle, &guid, agent, controller, attributes, true))?;
        let holders = match step {
            OpenStep::Opened(i) => return Ok(i),
            OpenStep::Disconnect(holders) => holders,
        };
        let mut failed = false;
        for holder in holders {
            failed |= self
                .disconnect_controller(handle, Some(holder), None)
                .is_err();
        }
        if failed {
            return Err(Status::ACCESS_DENIED);
        }
        match self
            .lock
            .with(|db| db.open_protocol_step(handle, &guid, agent, controller, attributes, false))?
        {
            OpenStep::Opened(i) => Ok(i),
            OpenStep::Disconnect(_) => Err(Status::ACCESS_DENIED),
        }
    }

    /// CloseProtocol() under the lock. Errors: as [`ProtocolDatabase::close_protocol`].
    pub fn close_protocol(
        &mut self,
        handle: Handle,
        guid: Guid,
        agent: Handle,
        controller: Handle,
    ) -> Result<()> {
        self.lock
            .with(|db| db.close_protocol(handle, &guid, agent, controller))
    }
}
