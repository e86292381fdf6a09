//! ConnectController() (UEFI 2.10 section 7.3). The ordering rules are in the parent module's docs.

use alloc::vec::Vec;

use r_efi::efi::Handle;

use super::{
    DriverCalls, BUS_SPECIFIC_DRIVER_OVERRIDE_GUID, DRIVER_BINDING_GUID,
    PLATFORM_DRIVER_OVERRIDE_GUID,
};
use crate::protocol::{DatabaseLock, DevicePathPtr, EventSignaller, Interface, Services};
use crate::{Result, Status};

/// One Driver Binding instance considered by ConnectController().
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The handle the binding is installed on (`DriverBindingHandle`).
    pub(crate) handle: Handle,
    /// The binding interface.
    pub(crate) binding: Interface,
    /// Its `Version`.
    pub(crate) version: u32,
    /// Its `ImageHandle`.
    pub(crate) image: Handle,
}

/// The connect order: each priority list in turn (an entry selects the bindings on that handle or with that
/// image handle, in database order), then the rest by version, highest first, ties in database order.
pub(crate) fn candidate_order(
    bindings: &[Candidate],
    priority_lists: &[&[Handle]],
) -> Vec<Candidate> {
    let mut order: Vec<Candidate> = Vec::new();
    for list in priority_lists {
        for h in list.iter() {
            for c in bindings.iter().filter(|c| c.handle == *h || c.image == *h) {
                if !order.contains(c) {
                    order.push(*c);
                }
            }
        }
    }
    let mut rest: Vec<Candidate> = bindings
        .iter()
        .filter(|c| !order.contains(c))
        .copied()
        .collect();
    rest.sort_by_key(|c| core::cmp::Reverse(c.version)); // stable: ties keep database order
    order.extend(rest);
    order
}

impl<L: DatabaseLock, C: DriverCalls, S: EventSignaller> Services<'_, L, C, S> {
    /// ConnectController() (UEFI 2.10 section 7.3): connects drivers to `controller` in the spec's priority order
    /// (`driver_images` is the caller's context override list), then, when `recursive`, connects every child
    /// (handles that opened `controller`'s protocols `BY_CHILD_CONTROLLER`) the same way with no remaining
    /// device path. `remaining` is forwarded untouched to Supported()/Start().
    /// Errors: `INVALID_PARAMETER` (bad controller handle), `NOT_FOUND` (no driver was started on `controller`;
    /// children's results are not reported).
    pub fn connect_controller(
        &mut self,
        controller: Handle,
        driver_images: &[Handle],
        remaining: DevicePathPtr,
        recursive: bool,
    ) -> Result<()> {
        let mut visited: Vec<Handle> = Vec::new();
        let r = self.connect_tree(
            controller,
            driver_images,
            remaining,
            recursive,
            &mut visited,
        );
        self.flush_signals();
        r
    }

    fn connect_tree(
        &mut self,
        controller: Handle,
        driver_images: &[Handle],
        remaining: DevicePathPtr,
        recursive: bool,
        visited: &mut Vec<Handle>,
    ) -> Result<()> {
        visited.push(controller);
        let result = self.connect_single(controller, driver_images, remaining);
        if recursive {
            let children = self.lock.with(|db| db.children(controller, None));
            for child in children {
                if !visited.contains(&child) {
                    let _ = self.connect_tree(child, &[], core::ptr::null_mut(), true, visited);
                }
            }
        }
        result
    }

    fn connect_single(
        &mut self,
        controller: Handle,
        driver_images: &[Handle],
        remaining: DevicePathPtr,
    ) -> Result<()> {
        let (instances, platform, bus) = self.lock.with(|db| {
            db.validate(controller)?;
            let platform = db
                .instances_of(&PLATFORM_DRIVER_OVERRIDE_GUID)
                .first()
                .map(|(_, i)| *i);
            let bus = db
                .get_interface(controller, &BUS_SPECIFIC_DRIVER_OVERRIDE_GUID)
                .ok();
            Ok::<_, Status>((db.instances_of(&DRIVER_BINDING_GUID), platform, bus))
        })?;
        // Lock released: the override protocols and binding fields are read through the call-out trait.
        let bindings: Vec<Candidate> = instances
            .iter()
            .map(|(handle, binding)| Candidate {
                handle: *handle,
                binding: *binding,
                version: self.calls.driver_version(*binding),
                image: self.calls.driver_image_handle(*binding),
            })
            .collect();
        let platform_list = platform
            .map(|i| self.calls.platform_override_drivers(i, controller))
            .unwrap_or_default();
        let bus_list = bus
            .map(|i| self.calls.bus_override_drivers(i))
            .unwrap_or_default();
        let order = candidate_order(&bindings, &[driver_images, &platform_list, &bus_list]);

        let mut tried = alloc::vec![false; order.len()];
        let mut started = false;
        loop {
            let mut progressed = false;
            for (i, cand) in order.iter().enumerate() {
                if tried[i] {
                    continue;
                }
                let (controller_live, binding_live) = self.lock.with(|db| {
                    let b = db.get_interface(cand.handle, &DRIVER_BINDING_GUID).ok()
                        == Some(cand.binding);
                    (db.is_valid_handle(controller), b)
                });
                if !controller_live {
                    return if started {
                        Ok(())
                    } else {
                        Err(Status::NOT_FOUND)
                    };
                }
                if !binding_live {
                    tried[i] = true;
                    continue;
                }
                if self
                    .calls
                    .supported(cand.handle, cand.binding, controller, remaining)
                    != Status::SUCCESS
                {
                    continue;
                }
                tried[i] = true;
                progressed = true;
                let status = self
                    .calls
                    .start(cand.handle, cand.binding, controller, remaining);
                log::debug!(target: "boot_services::driver_model", "start {:p} on {:p}: {:?}", cand.handle, controller, status);
                started |= status == Status::SUCCESS;
                break;
            }
            if !progressed {
                break;
            }
        }
        if started {
            Ok(())
        } else {
            Err(Status::NOT_FOUND)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::key_handle;

    fn cand(h: usize, version: u32, image: usize) -> Candidate {
        Candidate {
            handle: key_handle(h),
            binding: key_handle(h + 1),
            version,
            image: key_handle(image),
        }
    }

    #[test]
    fn candidate_order_puts_lists_first_then_version_descending() {
        let a = cand(16, 1, 16);
        let b = cand(32, 9, 32);
        let c = cand(48, 5, 16); // second binding of image 16
        let d = cand(64, 9, 64);
        let all = [a, b, c, d];
        assert_eq!(candidate_order(&all, &[]), alloc::vec![b, d, c, a]);
        let ctx = [key_handle(64)];
        let bus = [key_handle(16)];
        assert_eq!(
            candidate_order(&all, &[&ctx, &[], &bus]),
            alloc::vec![d, a, c, b]
        );
    }
}
