//! Driver model rule tests: ConnectController()/DisconnectController() (UEFI 2.10 section 7.3) with Rust test
//! drivers that call back into the services from Supported/Start/Stop.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use r_efi::efi::{Guid, Handle};

use super::{BUS_SPECIFIC_DRIVER_OVERRIDE_GUID, PLATFORM_DRIVER_OVERRIDE_GUID};
use crate::handle::key_handle;
use crate::protocol::testkit::{guid, node, path, BusDriver, TestDriver, World};
use crate::protocol::BY_DRIVER;
use crate::Status;

const A: Guid = guid(1);
const B: Guid = guid(2);
const CHILD: Guid = guid(3);
const GRANDCHILD: Guid = guid(4);

fn none() -> crate::protocol::DevicePathPtr {
    core::ptr::null_mut()
}

/// Logs every Supported() call; accepts only when `accept` (then Start() opens `A` BY_DRIVER).
struct Probe {
    name: &'static str,
    version: u32,
    accept: bool,
}

impl Probe {
    fn new(name: &'static str, version: u32, accept: bool) -> Rc<Self> {
        Rc::new(Probe {
            name,
            version,
            accept,
        })
    }
}

impl TestDriver for Probe {
    fn version(&self) -> u32 {
        self.version
    }
    fn supported(&self, w: &World, _me: Handle, _c: Handle) -> Status {
        w.note(alloc::format!("supported {}", self.name));
        if self.accept {
            Status::SUCCESS
        } else {
            Status::UNSUPPORTED
        }
    }
    fn start(&self, w: &World, me: Handle, c: Handle) -> Status {
        w.note(alloc::format!("start {}", self.name));
        match w.services().open_protocol(c, A, me, c, BY_DRIVER) {
            Ok(_) => Status::SUCCESS,
            Err(e) => e,
        }
    }
    fn stop(&self, w: &World, me: Handle, c: Handle, _children: &[Handle]) -> Status {
        w.note(alloc::format!("stop {}", self.name));
        w.services()
            .close_protocol(c, A, me, c)
            .map_or_else(|e| e, |_| Status::SUCCESS)
    }
}

/// Consumes `B` on the controller; supported only once a lower layer installed `B` there.
struct Upper;

impl TestDriver for Upper {
    fn version(&self) -> u32 {
        100
    }
    fn supported(&self, w: &World, _me: Handle, c: Handle) -> Status {
        w.note("supported upper".into());
        w.db.borrow()
            .get_interface(c, &B)
            .map_or_else(|e| e, |_| Status::SUCCESS)
    }
    fn start(&self, w: &World, me: Handle, c: Handle) -> Status {
        w.note("start upper".into());
        w.services()
            .open_protocol(c, B, me, c, BY_DRIVER)
            .map_or_else(|e| e, |_| Status::SUCCESS)
    }
    fn stop(&self, _w: &World, _me: Handle, _c: Handle, _children: &[Handle]) -> Status {
        Status::SUCCESS
    }
}

/// Consumes `A` and installs `B` on the controller itself.
struct Lower;

impl TestDriver for Lower {
    fn version(&self) -> u32 {
        1
    }
    fn supported(&self, w: &World, _me: Handle, c: Handle) -> Status {
        w.db.borrow()
            .get_interface(c, &A)
            .map_or_else(|e| e, |_| Status::SUCCESS)
    }
    fn start(&self, w: &World, me: Handle, c: Handle) -> Status {
        w.note("start lower".into());
        let mut s = w.services();
        s.open_protocol(c, A, me, c, BY_DRIVER).unwrap();
        s.install_protocol_interface(Some(c), B, w.iface())
            .map_or_else(|e| e, |_| Status::SUCCESS)
    }
    fn stop(&self, _w: &World, _me: Handle, _c: Handle, _children: &[Handle]) -> Status {
        Status::SUCCESS
    }
}

fn device(w: &World) -> Handle {
    w.add_device(&path(&[node(1, 1, &[0])]), &[A])
}

fn log(w: &World) -> Vec<String> {
    w.log.borrow().clone()
}

#[test]
fn connect_controller_tries_drivers_by_version() {
    let w = World::default();
    w.add_driver(Probe::new("v1", 1, false));
    w.add_driver(Probe::new("v5", 5, false));
    w.add_driver(Probe::new("v3", 3, false));
    let ctl = device(&w);
    assert_eq!(
        w.services().connect_controller(ctl, &[], none(), false),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(log(&w), ["supported v5", "supported v3", "supported v1"]);
}

#[test]
fn connect_controller_starts_highest_version_supported_driver() {
    let w = World::default();
    w.add_driver(BusDriver::new("old", 1, A, CHILD, 0));
    let new = w.add_driver(BusDriver::new("new", 7, A, CHILD, 0));
    let ctl = device(&w);
    assert_eq!(
        w.services().connect_controller(ctl, &[], none(), false),
        Ok(())
    );
    assert_eq!(w.db.borrow().managing_drivers(ctl), Ok(vec![new]));
    assert_eq!(
        log(&w).len(),
        1,
        "only one driver can hold A BY_DRIVER: {:?}",
        log(&w)
    );
}

#[test]
fn connect_controller_context_list_goes_first() {
    let w = World::default();
    w.add_driver(Probe::new("v9", 9, false));
    let low = w.add_driver(Probe::new("v1", 1, true));
    let ctl = device(&w);
    assert_eq!(
        w.services().connect_controller(ctl, &[low], none(), false),
        Ok(())
    );
    assert_eq!(log(&w)[..2], ["supported v1", "start v1"]);
}

#[test]
fn connect_controller_platform_then_bus_override_before_version_order() {
    let w = World::default();
    let v9 = w.add_driver(Probe::new("v9", 9, false));
    let bus = w.add_driver(Probe::new("bus", 2, false));
    let plat = w.add_driver(Probe::new("plat", 1, false));
    let ctl = device(&w);
    w.services()
        .install_protocol_interface(None, PLATFORM_DRIVER_OVERRIDE_GUID, w.iface())
        .unwrap();
    w.services()
        .install_protocol_interface(Some(ctl), BUS_SPECIFIC_DRIVER_OVERRIDE_GUID, w.iface())
        .unwrap();
    *w.platform_override.borrow_mut() = vec![plat];
    *w.bus_override.borrow_mut() = vec![bus, key_handle(0x5000)]; // unknown handles are ignored
    assert_eq!(
        w.services().connect_controller(ctl, &[], none(), false),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(log(&w), ["supported plat", "supported bus", "supported v9"]);
    let _ = v9;
}

#[test]
fn connect_controller_rescans_after_a_start() {
    let w = World::default();
    w.add_driver(Rc::new(Upper));
    w.add_driver(Rc::new(Lower));
    let ctl = device(&w);
    assert_eq!(
        w.services().connect_controller(ctl, &[], none(), false),
        Ok(())
    );
    assert_eq!(
        log(&w),
        [
            "supported upper",
            "start lower",
            "supported upper",
            "start upper"
        ]
    );
}

#[test]
fn connect_controller_rejects_invalid_handle() {
    let w = World::default();
    w.add_driver(Probe::new("p", 1, true));
    assert_eq!(
        w.services()
            .connect_controller(key_handle(0x9990), &[], none(), true),
        Err(Status::INVALID_PARAMETER)
    );
    assert!(log(&w).is_empty());
}

#[test]
fn connect_controller_without_drivers_is_not_found() {
    let w = World::default();
    let ctl = device(&w);
    assert_eq!(
        w.services().connect_controller(ctl, &[], none(), true),
        Err(Status::NOT_FOUND)
    );
}

#[test]
fn connect_controller_recursive_connects_children() {
    let w = World::default();
    w.add_driver(BusDriver::new("bus", 2, A, CHILD, 2));
    w.add_driver(BusDriver::new("leaf", 1, CHILD, GRANDCHILD, 1));
    let ctl = device(&w);
    assert_eq!(
        w.services().connect_controller(ctl, &[], none(), true),
        Ok(())
    );
    let children = w.db.borrow().children(ctl, None);
    assert_eq!(children.len(), 2);
    for c in &children {
        assert_eq!(
            w.db.borrow().children(*c, None).len(),
            1,
            "each child got the leaf driver"
        );
    }
    let mut db = w.db.borrow_mut();
    let grandchildren = db
        .locate_handle(crate::protocol::LocateSearch::ByProtocol(GRANDCHILD))
        .unwrap();
    assert_eq!(grandchildren.len(), 2);
}

#[test]
fn connect_controller_non_recursive_leaves_children_unconnected() {
    let w = World::default();
    w.add_driver(BusDriver::new("bus", 2, A, CHILD, 2));
    w.add_driver(BusDriver::new("leaf", 1, CHILD, GRANDCHILD, 1));
    let ctl = device(&w);
    assert_eq!(
        w.services().connect_controller(ctl, &[], none(), false),
        Ok(())
    );
    let mut db = w.db.borrow_mut();
    assert_eq!(
        db.locate_handle(crate::protocol::LocateSearch::ByProtocol(GRANDCHILD)),
        Err(Status::NOT_FOUND)
    );
}

#[test]
fn disconnect_controller_stops_children_first() {
    let w = World::default();
    w.add_driver(BusDriver::new("bus", 2, A, CHILD, 2));
    let ctl = device(&w);
    w.services()
        .connect_controller(ctl, &[], none(), false)
        .unwrap();
    let kids = w.db.borrow().children(ctl, None);
    w.log.borrow_mut().clear();
    assert_eq!(w.services().disconnect_controller(ctl, None, None), Ok(()));
    let expected = [
        alloc::format!("stop bus {:p} children=2", ctl),
        alloc::format!("stop bus {:p} children=0", ctl),
    ];
    assert_eq!(log(&w), expected);
    for k in kids {
        assert!(
            !w.db.borrow().is_valid_handle(k),
            "child handles destroyed by Stop()"
        );
    }
    assert_eq!(w.db.borrow().managing_drivers(ctl), Ok(vec![]));
}

#[test]
fn disconnect_controller_single_child_keeps_driver_until_last_child() {
    let w = World::default();
    let d = w.add_driver(BusDriver::new("bus", 2, A, CHILD, 2));
    let ctl = device(&w);
    w.services()
        .connect_controller(ctl, &[], none(), false)
        .unwrap();
    let kids = w.db.borrow().children(ctl, None);
    assert_eq!(
        w.services()
            .disconnect_controller(ctl, Some(d), Some(kids[0])),
        Ok(())
    );
    assert_eq!(w.db.borrow().managing_drivers(ctl), Ok(vec![d]));
    assert_eq!(w.db.borrow().children(ctl, None), vec![kids[1]]);
    assert_eq!(
        w.services()
            .disconnect_controller(ctl, Some(d), Some(kids[1])),
        Ok(())
    );
    assert_eq!(w.db.borrow().managing_drivers(ctl), Ok(vec![]));
}

#[test]
fn disconnect_controller_failing_stop_returns_its_error() {
    let w = World::default();
    let drv = BusDriver::new("bus", 2, A, CHILD, 0);
    drv.refuse_stop.set(true);
    w.add_driver(drv);
    let ctl = device(&w);
    w.services()
        .connect_controller(ctl, &[], none(), false)
        .unwrap();
    assert_eq!(
        w.services().disconnect_controller(ctl, None, None),
        Err(Status::DEVICE_ERROR)
    );
    assert_eq!(w.db.borrow().managing_drivers(ctl).map(|m| m.len()), Ok(1));
}

#[test]
fn disconnect_controller_validates_handles_and_succeeds_when_unmanaged() {
    let w = World::default();
    let d = w.add_driver(BusDriver::new("bus", 2, A, CHILD, 0));
    let ctl = device(&w);
    let forged = key_handle(0x7770);
    assert_eq!(w.services().disconnect_controller(ctl, None, None), Ok(()));
    assert_eq!(
        w.services().disconnect_controller(forged, None, None),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        w.services().disconnect_controller(ctl, Some(forged), None),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        w.services()
            .disconnect_controller(ctl, Some(d), Some(forged)),
        Err(Status::INVALID_PARAMETER)
    );
    // Another driver named: the managing one is untouched.
    w.services()
        .connect_controller(ctl, &[], none(), false)
        .unwrap();
    let other = w.add_driver(Probe::new("p", 1, false));
    assert_eq!(
        w.services().disconnect_controller(ctl, Some(other), None),
        Ok(())
    );
    assert_eq!(w.db.borrow().managing_drivers(ctl), Ok(vec![d]));
}
