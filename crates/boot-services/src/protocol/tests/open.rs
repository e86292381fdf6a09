//! OpenProtocol()/CloseProtocol()/HandleProtocol() rule tests (UEFI 2.10 section 7.3, attribute table).

use alloc::vec;
use alloc::vec::Vec;

use super::{null, open, setup, A, B, CHILD};
use crate::handle::key_handle;
use crate::protocol::testkit::{node, path, BusDriver, World};
use crate::protocol::*;
use crate::Status;

#[test]
fn handle_protocol_records_by_handle_protocol_open() {
    let (w, h, ia, ..) = setup();
    assert_eq!(w.db.borrow_mut().handle_protocol(h, &A), Ok(ia));
    assert_eq!(
        w.db.borrow_mut().handle_protocol(h, &CHILD),
        Err(Status::UNSUPPORTED)
    );
    let info = w.db.borrow().open_protocol_information(h, &A).unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(
        (info[0].attributes, info[0].open_count),
        (BY_HANDLE_PROTOCOL, 1)
    );
}

#[test]
fn open_protocol_get_protocol_counts_repeated_opens() {
    let (w, h, ia, agent, _) = setup();
    assert_eq!(open(&w, h, agent, null(), GET_PROTOCOL), Ok(ia));
    assert_eq!(open(&w, h, agent, null(), GET_PROTOCOL), Ok(ia));
    let info = w.db.borrow().open_protocol_information(h, &A).unwrap();
    let expected = OpenProtocolInformationEntry {
        agent_handle: agent,
        controller_handle: null(),
        attributes: GET_PROTOCOL,
        open_count: 2,
    };
    assert_eq!(info, vec![expected]);
}

#[test]
fn open_protocol_test_protocol_is_not_recorded() {
    let (w, h, ia, agent, _) = setup();
    assert_eq!(open(&w, h, agent, null(), TEST_PROTOCOL), Ok(ia));
    assert!(w
        .db
        .borrow()
        .open_protocol_information(h, &A)
        .unwrap()
        .is_empty());
}

#[test]
fn open_protocol_missing_protocol_is_unsupported() {
    let (w, h, _, agent, _) = setup();
    assert_eq!(
        w.services()
            .open_protocol(h, CHILD, agent, null(), GET_PROTOCOL),
        Err(Status::UNSUPPORTED)
    );
}

#[test]
fn open_protocol_validates_agent_and_controller_per_attribute() {
    let (w, h, ia, agent, other) = setup();
    let forged = key_handle(0xdead0);
    // BY_HANDLE_PROTOCOL / GET_PROTOCOL / TEST_PROTOCOL do not validate agent or controller.
    assert_eq!(open(&w, h, forged, forged, GET_PROTOCOL), Ok(ia));
    // BY_CHILD_CONTROLLER: valid agent and controller, controller distinct from the handle.
    assert_eq!(
        open(&w, h, agent, h, BY_CHILD_CONTROLLER),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        open(&w, h, agent, forged, BY_CHILD_CONTROLLER),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(open(&w, h, agent, other, BY_CHILD_CONTROLLER), Ok(ia));
    // BY_DRIVER and BY_DRIVER|EXCLUSIVE need a valid controller; EXCLUSIVE only a valid agent.
    assert_eq!(
        open(&w, h, agent, null(), BY_DRIVER),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        open(&w, h, agent, null(), BY_DRIVER | EXCLUSIVE),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        open(&w, h, forged, null(), EXCLUSIVE),
        Err(Status::INVALID_PARAMETER)
    );
    // Attribute values outside the spec's list.
    assert_eq!(open(&w, h, agent, h, 0), Err(Status::INVALID_PARAMETER));
    assert_eq!(
        open(&w, h, agent, h, BY_DRIVER | GET_PROTOCOL),
        Err(Status::INVALID_PARAMETER)
    );
}

#[test]
fn open_protocol_by_driver_twice_is_already_started() {
    let (w, h, ia, agent, _) = setup();
    assert_eq!(open(&w, h, agent, h, BY_DRIVER), Ok(ia));
    assert_eq!(
        open(&w, h, agent, h, BY_DRIVER),
        Err(Status::ALREADY_STARTED)
    );
    assert_eq!(
        w.db.borrow()
            .open_protocol_information(h, &A)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn open_protocol_by_driver_held_by_other_agent_is_access_denied() {
    let (w, h, _, agent, other) = setup();
    open(&w, h, agent, h, BY_DRIVER).unwrap();
    assert_eq!(open(&w, h, other, h, BY_DRIVER), Err(Status::ACCESS_DENIED));
}

#[test]
fn open_protocol_by_driver_exclusive_same_agent_is_already_started() {
    let (w, h, _, agent, other) = setup();
    open(&w, h, agent, h, BY_DRIVER | EXCLUSIVE).unwrap();
    assert_eq!(
        open(&w, h, agent, h, BY_DRIVER | EXCLUSIVE),
        Err(Status::ALREADY_STARTED)
    );
    assert_eq!(
        open(&w, h, other, h, BY_DRIVER | EXCLUSIVE),
        Err(Status::ACCESS_DENIED)
    );
}

#[test]
fn open_protocol_exclusive_open_blocks_driver_and_exclusive_opens_only() {
    let (w, h, ia, agent, other) = setup();
    open(&w, h, agent, null(), EXCLUSIVE).unwrap();
    assert_eq!(open(&w, h, other, h, BY_DRIVER), Err(Status::ACCESS_DENIED));
    assert_eq!(
        open(&w, h, other, h, BY_DRIVER | EXCLUSIVE),
        Err(Status::ACCESS_DENIED)
    );
    assert_eq!(
        open(&w, h, agent, null(), EXCLUSIVE),
        Err(Status::ACCESS_DENIED)
    );
    assert_eq!(open(&w, h, other, null(), GET_PROTOCOL), Ok(ia));
    assert_eq!(open(&w, h, other, agent, BY_CHILD_CONTROLLER), Ok(ia));
}

#[test]
fn open_protocol_by_driver_exclusive_disconnects_other_drivers() {
    let w = World::default();
    let drv = BusDriver::new("bus", 1, A, CHILD, 0);
    let d = w.add_driver(drv);
    let ctl = w.add_device(&path(&[node(1, 1, &[0])]), &[A]);
    w.services()
        .connect_controller(ctl, &[], core::ptr::null_mut(), false)
        .unwrap();
    let app = w
        .services()
        .install_protocol_interface(None, B, w.iface())
        .unwrap();
    let ia = w.db.borrow().get_interface(ctl, &A).unwrap();
    assert_eq!(
        w.services()
            .open_protocol(ctl, A, app, ctl, BY_DRIVER | EXCLUSIVE),
        Ok(ia)
    );
    assert!(w.log.borrow().iter().any(|l| l.starts_with("stop bus")));
    let info = w.db.borrow().open_protocol_information(ctl, &A).unwrap();
    assert!(info.iter().all(|e| e.agent_handle != d));
    assert!(info
        .iter()
        .any(|e| e.agent_handle == app && e.attributes == BY_DRIVER | EXCLUSIVE));
}

#[test]
fn open_protocol_exclusive_fails_when_driver_refuses_to_stop() {
    let w = World::default();
    let drv = BusDriver::new("bus", 1, A, CHILD, 0);
    drv.refuse_stop.set(true);
    w.add_driver(drv);
    let ctl = w.add_device(&path(&[node(1, 1, &[0])]), &[A]);
    w.services()
        .connect_controller(ctl, &[], core::ptr::null_mut(), false)
        .unwrap();
    let app = w
        .services()
        .install_protocol_interface(None, B, w.iface())
        .unwrap();
    assert_eq!(
        w.services().open_protocol(ctl, A, app, null(), EXCLUSIVE),
        Err(Status::ACCESS_DENIED)
    );
}

#[test]
fn close_protocol_removes_open_and_reports_not_found() {
    let (w, h, _, agent, other) = setup();
    open(&w, h, agent, h, BY_DRIVER).unwrap();
    open(&w, h, agent, other, BY_CHILD_CONTROLLER).unwrap();
    assert_eq!(w.services().close_protocol(h, A, agent, h), Ok(()));
    assert_eq!(
        w.db.borrow()
            .open_protocol_information(h, &A)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.services().close_protocol(h, A, agent, h),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        w.services().close_protocol(h, CHILD, agent, h),
        Err(Status::NOT_FOUND)
    );
}

#[test]
fn open_protocol_information_reports_agent_controller_attributes_count() {
    let (w, h, _, agent, other) = setup();
    open(&w, h, agent, h, BY_DRIVER).unwrap();
    open(&w, h, agent, other, BY_CHILD_CONTROLLER).unwrap();
    open(&w, h, agent, other, BY_CHILD_CONTROLLER).unwrap();
    let info: Vec<_> =
        w.db.borrow()
            .open_protocol_information(h, &A)
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e.agent_handle,
                    e.controller_handle,
                    e.attributes,
                    e.open_count,
                )
            })
            .collect();
    assert_eq!(
        info,
        vec![
            (agent, h, BY_DRIVER, 1),
            (agent, other, BY_CHILD_CONTROLLER, 2)
        ]
    );
    assert_eq!(
        w.db.borrow().open_protocol_information(h, &CHILD),
        Err(Status::NOT_FOUND)
    );
}
