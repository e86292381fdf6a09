//! DisconnectController() (UEFI 2.10 section 7.3; Driver Writer's Guide, "Stop()"): for each driver managing
//! the controller, first Stop() with the list of its children to destroy, then, once none remain, Stop() with
//! no children to release the controller itself.

use alloc::vec::Vec;

use r_efi::efi::Handle;

use super::{DriverCalls, DRIVER_BINDING_GUID};
use crate::protocol::{DatabaseLock, EventSignaller, Services};
use crate::{Result, Status};

impl<L: DatabaseLock, C: DriverCalls, S: EventSignaller> Services<'_, L, C, S> {
    /// DisconnectController() (UEFI 2.10 section 7.3).
    ///
    /// Stops `driver` (or every driver managing `controller` when `None`, in the order they opened it). With
    /// `child`, only that child is stopped, and the driver is released from `controller` only if it was its last
    /// child. Succeeds when nothing manages `controller` or `driver` does not manage it.
    /// Errors: `INVALID_PARAMETER` when `controller`, `driver` or `child` is not a live handle; the first error
    /// a driver's Stop() returned; `DEVICE_ERROR` when Stop() succeeded for the children but some remain.
    pub fn disconnect_controller(
        &mut self,
        controller: Handle,
        driver: Option<Handle>,
        child: Option<Handle>,
    ) -> Result<()> {
        let r = self.disconnect_inner(controller, driver, child);
        self.flush_signals();
        r
    }

    fn disconnect_inner(
        &mut self,
        controller: Handle,
        driver: Option<Handle>,
        child: Option<Handle>,
    ) -> Result<()> {
        let agents = self.lock.with(|db| {
            db.validate(controller)?;
            if let Some(d) = driver {
                db.validate(d)?;
            }
            if let Some(c) = child {
                db.validate(c)?;
            }
            let managing = db.managing_drivers(controller)?;
            Ok::<Vec<Handle>, Status>(
                managing
                    .into_iter()
                    .filter(|a| driver.is_none_or(|d| d == *a))
                    .collect(),
            )
        })?;
        let mut first_error: Option<Status> = None;
        for agent in agents {
            if let Err(e) = self.stop_one(controller, agent, child) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stops one driver's children (all, or just `child`) and then, if no child remains, the driver itself.
    fn stop_one(&mut self, controller: Handle, agent: Handle, child: Option<Handle>) -> Result<()> {
        let (binding, children) = self.lock.with(|db| {
            let binding = db.get_interface(agent, &DRIVER_BINDING_GUID).ok();
            (binding, db.children(controller, Some(agent)))
        });
        let Some(binding) = binding else {
            log::warn!(target: "boot_services::driver_model", "agent {:p} has no driver binding; skipped", agent);
            return Ok(());
        };
        let to_stop: Vec<Handle> = match child {
            Some(c) => children.iter().copied().filter(|h| *h == c).collect(),
            None => children.clone(),
        };
        if child.is_some() && to_stop.is_empty() {
            return Ok(()); // the named child is not this driver's
        }
        if !to_stop.is_empty() {
            let status = self.calls.stop(agent, binding, controller, &to_stop);
            log::debug!(target: "boot_services::driver_model", "stop {:p} children of {:p}: {:?}", agent, controller, status);
            if status != Status::SUCCESS {
                return Err(status);
            }
        }
        let remaining = self.lock.with(|db| db.children(controller, Some(agent)));
        if !remaining.is_empty() {
            // A named child that was not the last one: the driver keeps the controller.
            return if child.is_some() && !remaining.iter().any(|h| to_stop.contains(h)) {
                Ok(())
            } else {
                Err(Status::DEVICE_ERROR)
            };
        }
        let still_managing = self
            .lock
            .with(|db| db.managing_drivers(controller).map(|m| m.contains(&agent)));
        if still_managing != Ok(true) {
            return Ok(()); // stopping the children released the controller too, or it vanished
        }
        let status = self.calls.stop(agent, binding, controller, &[]);
        log::debug!(target: "boot_services::driver_model", "stop {:p} on {:p}: {:?}", agent, controller, status);
        if status != Status::SUCCESS {
            return Err(status);
        }
        Ok(())
    }
}
