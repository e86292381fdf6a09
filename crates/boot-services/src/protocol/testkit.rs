//! Host test world: a `RefCell` database (a nested borrow panics, proving no call-out happens under the lock),
//! fake interface pointers, device paths kept in a map, and Rust test drivers that call back into the services.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use r_efi::efi::{Event, Guid, Handle};

use super::{
    DatabaseLock, DevicePathPtr, DevicePathReader, EventSignaller, Interface, ProtocolDatabase,
    Services,
};
use super::{BY_CHILD_CONTROLLER, BY_DRIVER, DEVICE_PATH_GUID};
use crate::driver_model::{DriverCalls, DRIVER_BINDING_GUID};
use crate::handle::key_handle;
use crate::Status;

pub(crate) const fn guid(n: u8) -> Guid {
    Guid::from_fields(0x7e57_0000 + n as u32, 0, 0, 0, 0, &[0, 0, 0, 0, 0, n])
}

/// A device path node `{type, subtype, len}` with `data`.
pub(crate) fn node(t: u8, s: u8, data: &[u8]) -> Vec<u8> {
    let mut v = alloc::vec![t, s];
    v.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// `nodes` followed by an end-entire node.
pub(crate) fn path(nodes: &[Vec<u8>]) -> Vec<u8> {
    let mut v: Vec<u8> = nodes.concat();
    v.extend(node(0x7F, 0xFF, &[]));
    v
}

/// A Rust driver whose Driver Binding the world dispatches to.
pub(crate) trait TestDriver {
    fn version(&self) -> u32;
    fn supported(&self, w: &World, me: Handle, controller: Handle) -> Status;
    fn start(&self, w: &World, me: Handle, controller: Handle) -> Status;
    fn stop(&self, w: &World, me: Handle, controller: Handle, children: &[Handle]) -> Status;
}

pub(crate) struct Signaller<'a>(&'a RefCell<Vec<Event>>);

impl EventSignaller for Signaller<'_> {
    fn signal(&mut self, event: Event) {
        self.0.borrow_mut().push(event);
    }
}

#[derive(Default)]
pub(crate) struct World {
    pub(crate) db: RefCell<ProtocolDatabase>,
    drivers: RefCell<BTreeMap<usize, Rc<dyn TestDriver>>>,
    device_paths: RefCell<BTreeMap<usize, Vec<u8>>>,
    pub(crate) signals: RefCell<Vec<Event>>,
    pub(crate) log: RefCell<Vec<String>>,
    pub(crate) platform_override: RefCell<Vec<Handle>>,
    pub(crate) bus_override: RefCell<Vec<Handle>>,
    next_iface: Cell<usize>,
}

impl DatabaseLock for World {
    fn with<R>(&self, f: impl FnOnce(&mut ProtocolDatabase) -> R) -> R {
        // `borrow_mut` panics if the engine re-enters the lock, e.g. from a driver running under it.
        f(&mut self.db.borrow_mut())
    }
}

impl DevicePathReader for World {
    fn device_path_bytes(&self, interface: Interface) -> Option<Vec<u8>> {
        self.device_paths.borrow().get(&interface.addr()).cloned()
    }
}

impl World {
    pub(crate) fn services(&self) -> Services<'_, World, World, Signaller<'_>> {
        Services::new(self, self, Signaller(&self.signals))
    }

    /// A fresh fake interface pointer (never dereferenced).
    pub(crate) fn iface(&self) -> Interface {
        let n = self.next_iface.get() + 1;
        self.next_iface.set(n);
        key_handle(0x10_0000 + n * 8)
    }

    /// A device path interface with `bytes`.
    pub(crate) fn dp_iface(&self, bytes: &[u8]) -> Interface {
        let i = self.iface();
        self.device_paths
            .borrow_mut()
            .insert(i.addr(), bytes.to_vec());
        i
    }

    pub(crate) fn device_path_of(&self, handle: Handle) -> Option<Vec<u8>> {
        let i = self
            .db
            .borrow()
            .get_interface(handle, &DEVICE_PATH_GUID)
            .ok()?;
        self.device_path_bytes(i)
    }

    /// Installs a driver binding for `driver` on a new handle.
    pub(crate) fn add_driver(&self, driver: Rc<dyn TestDriver>) -> Handle {
        let i = self.iface();
        self.drivers.borrow_mut().insert(i.addr(), driver);
        self.services()
            .install_protocol_interface(None, DRIVER_BINDING_GUID, i)
            .unwrap()
    }

    /// A new controller handle with a device path and `protocols`.
    pub(crate) fn add_device(&self, dp: &[u8], protocols: &[Guid]) -> Handle {
        let mut pairs = alloc::vec![(DEVICE_PATH_GUID, self.dp_iface(dp))];
        pairs.extend(protocols.iter().map(|g| (*g, self.iface())));
        self.services()
            .install_multiple_protocol_interfaces(None, &pairs)
            .unwrap()
    }

    pub(crate) fn note(&self, s: String) {
        self.log.borrow_mut().push(s);
    }

    fn driver(&self, binding: Interface) -> Rc<dyn TestDriver> {
        self.drivers
            .borrow()
            .get(&binding.addr())
            .cloned()
            .expect("binding registered")
    }
}

impl DriverCalls for World {
    fn driver_version(&self, binding: Interface) -> u32 {
        self.driver(binding).version()
    }
    fn driver_image_handle(&self, _binding: Interface) -> Handle {
        core::ptr::null_mut()
    }
    fn supported(
        &self,
        driver: Handle,
        binding: Interface,
        controller: Handle,
        _r: DevicePathPtr,
    ) -> Status {
        self.driver(binding).supported(self, driver, controller)
    }
    fn start(
        &self,
        driver: Handle,
        binding: Interface,
        controller: Handle,
        _r: DevicePathPtr,
    ) -> Status {
        self.driver(binding).start(self, driver, controller)
    }
    fn stop(
        &self,
        driver: Handle,
        binding: Interface,
        controller: Handle,
        children: &[Handle],
    ) -> Status {
        self.driver(binding)
            .stop(self, driver, controller, children)
    }
    fn platform_override_drivers(&self, _i: Interface, _c: Handle) -> Vec<Handle> {
        self.platform_override.borrow().clone()
    }
    fn bus_override_drivers(&self, _i: Interface) -> Vec<Handle> {
        self.bus_override.borrow().clone()
    }
}

/// A well-behaved UEFI driver: consumes `consumes` BY_DRIVER; as a bus driver it creates `children` child
/// handles carrying `produces` and a device path extending the parent's, opened BY_CHILD_CONTROLLER.
pub(crate) struct BusDriver {
    pub(crate) name: &'static str,
    pub(crate) version: u32,
    pub(crate) consumes: Guid,
    pub(crate) produces: Guid,
    pub(crate) children: usize,
    pub(crate) refuse_stop: Cell<bool>,
    /// Per child handle: its (guid, interface) pairs, for uninstalling in Stop().
    made: RefCell<BTreeMap<usize, Vec<(Guid, Interface)>>>,
}

impl BusDriver {
    pub(crate) fn new(
        name: &'static str,
        version: u32,
        consumes: Guid,
        produces: Guid,
        children: usize,
    ) -> Rc<Self> {
        Rc::new(BusDriver {
            name,
            version,
            consumes,
            produces,
            children,
            refuse_stop: Cell::new(false),
            made: RefCell::new(BTreeMap::new()),
        })
    }
}

impl TestDriver for BusDriver {
    fn version(&self) -> u32 {
        self.version
    }

    fn supported(&self, w: &World, me: Handle, controller: Handle) -> Status {
        let mut s = w.services();
        match s.open_protocol(controller, self.consumes, me, controller, BY_DRIVER) {
            Ok(_) => {
                s.close_protocol(controller, self.consumes, me, controller)
                    .unwrap();
                Status::SUCCESS
            }
            Err(e) => e,
        }
    }

    fn start(&self, w: &World, me: Handle, controller: Handle) -> Status {
        let mut s = w.services();
        if let Err(e) = s.open_protocol(controller, self.consumes, me, controller, BY_DRIVER) {
            return e;
        }
        w.note(alloc::format!("start {} {:p}", self.name, controller));
        let parent = w.device_path_of(controller).unwrap_or_else(|| path(&[]));
        let parent_nodes = super::device_path::first_instance(&parent)
            .unwrap()
            .to_vec();
        for i in 0..self.children {
            let dp = path(&[
                parent_nodes.clone(),
                node(1, 1, &[i as u8, self.version as u8]),
            ]);
            let pairs = alloc::vec![
                (DEVICE_PATH_GUID, w.dp_iface(&dp)),
                (self.produces, w.iface())
            ];
            let child = s
                .install_multiple_protocol_interfaces(None, &pairs)
                .unwrap();
            s.open_protocol(controller, self.consumes, me, child, BY_CHILD_CONTROLLER)
                .unwrap();
            self.made.borrow_mut().insert(child.addr(), pairs);
        }
        Status::SUCCESS
    }

    fn stop(&self, w: &World, me: Handle, controller: Handle, children: &[Handle]) -> Status {
        w.note(alloc::format!(
            "stop {} {:p} children={}",
            self.name,
            controller,
            children.len()
        ));
        if self.refuse_stop.get() {
            return Status::DEVICE_ERROR;
        }
        let mut s = w.services();
        if children.is_empty() {
            return match s.close_protocol(controller, self.consumes, me, controller) {
                Ok(()) => Status::SUCCESS,
                Err(e) => e,
            };
        }
        for child in children {
            s.close_protocol(controller, self.consumes, me, *child)
                .unwrap();
            let pairs = self.made.borrow_mut().remove(&child.addr()).unwrap();
            if let Err(e) = s.uninstall_multiple_protocol_interfaces(*child, &pairs) {
                return e;
            }
        }
        Status::SUCCESS
    }
}
