//! Protocol service rule tests (UEFI 2.10 section 7.3), one or more per rule: install/uninstall/reinstall,
//! notify and locate here, OpenProtocol()/CloseProtocol() in `open`.

mod open;

use alloc::vec;

use super::testkit::{guid, node, path, BusDriver, World};
use super::*;
use crate::driver_model::DRIVER_BINDING_GUID;
use crate::handle::key_handle;
use crate::Status;

pub(super) const A: Guid = guid(1);
pub(super) const B: Guid = guid(2);
pub(super) const CHILD: Guid = guid(3);

pub(super) fn null() -> Handle {
    core::ptr::null_mut()
}

/// A world with one controller carrying protocol `A` and two agent handles.
pub(super) fn setup() -> (World, Handle, Interface, Handle, Handle) {
    let w = World::default();
    let ia = w.iface();
    let h = w
        .services()
        .install_protocol_interface(None, A, ia)
        .unwrap();
    let agent1 = w
        .services()
        .install_protocol_interface(None, B, w.iface())
        .unwrap();
    let agent2 = w
        .services()
        .install_protocol_interface(None, B, w.iface())
        .unwrap();
    (w, h, ia, agent1, agent2)
}

pub(super) fn open(
    w: &World,
    h: Handle,
    agent: Handle,
    ctl: Handle,
    attr: u32,
) -> crate::Result<Interface> {
    w.services().open_protocol(h, A, agent, ctl, attr)
}

#[test]
fn install_creates_handle_and_rejects_duplicate_protocol() {
    let (w, h, ia, ..) = setup();
    assert_eq!(w.db.borrow().get_interface(h, &A), Ok(ia));
    assert_eq!(
        w.services()
            .install_protocol_interface(Some(h), A, w.iface()),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        w.services()
            .install_protocol_interface(Some(h), CHILD, w.iface()),
        Ok(h)
    );
}

#[test]
fn forged_handle_is_invalid_parameter() {
    let (w, h, ia, agent, _) = setup();
    let forged = key_handle(h.addr() + 8);
    let mut db = w.db.borrow_mut();
    assert_eq!(
        db.install_protocol_interface(Some(forged), CHILD, ia),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        db.install_protocol_interface(Some(null()), CHILD, ia),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        db.handle_protocol(forged, &A),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        db.protocols_per_handle(forged),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        db.open_protocol_information(forged, &A),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        db.close_protocol(h, &A, forged, null()),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        db.open_protocol_step(h, &A, forged, h, BY_DRIVER, true),
        Err(Status::INVALID_PARAMETER)
    );
    assert_eq!(
        db.open_protocol_step(h, &A, agent, forged, BY_DRIVER, true),
        Err(Status::INVALID_PARAMETER)
    );
    drop(db);
    // A stale handle (its last protocol uninstalled) is as invalid as a forged one, and never reused.
    w.services().uninstall_protocol_interface(h, A, ia).unwrap();
    assert!(!w.db.borrow().is_valid_handle(h));
    assert_eq!(
        w.services().uninstall_protocol_interface(h, A, ia),
        Err(Status::INVALID_PARAMETER)
    );
    let fresh = w
        .services()
        .install_protocol_interface(None, A, ia)
        .unwrap();
    assert_ne!(fresh, h);
}

#[test]
fn uninstall_with_wrong_interface_is_not_found() {
    let (w, h, ..) = setup();
    assert_eq!(
        w.services().uninstall_protocol_interface(h, A, w.iface()),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        w.services()
            .uninstall_protocol_interface(h, CHILD, w.iface()),
        Err(Status::NOT_FOUND)
    );
}

#[test]
fn uninstall_closes_get_protocol_opens_and_destroys_empty_handle() {
    let (w, h, ia, agent, _) = setup();
    open(&w, h, agent, null(), GET_PROTOCOL).unwrap();
    w.db.borrow_mut().handle_protocol(h, &A).unwrap();
    assert_eq!(w.services().uninstall_protocol_interface(h, A, ia), Ok(()));
    assert!(!w.db.borrow().is_valid_handle(h));
}

#[test]
fn uninstall_denied_while_child_controller_open_remains() {
    let (w, h, ia, agent, other) = setup();
    open(&w, h, agent, other, BY_CHILD_CONTROLLER).unwrap();
    assert_eq!(
        w.services().uninstall_protocol_interface(h, A, ia),
        Err(Status::ACCESS_DENIED)
    );
    assert_eq!(w.db.borrow().get_interface(h, &A), Ok(ia));
}

#[test]
fn uninstall_disconnects_driver_then_succeeds() {
    let w = World::default();
    w.add_driver(BusDriver::new("bus", 1, A, CHILD, 0));
    let ctl = w.add_device(&path(&[node(1, 1, &[0])]), &[A]);
    w.services()
        .connect_controller(ctl, &[], core::ptr::null_mut(), false)
        .unwrap();
    let ia = w.db.borrow().get_interface(ctl, &A).unwrap();
    assert_eq!(
        w.services().uninstall_protocol_interface(ctl, A, ia),
        Ok(())
    );
    assert!(w.log.borrow().iter().any(|l| l.starts_with("stop bus")));
    assert_eq!(
        w.db.borrow().get_interface(ctl, &A),
        Err(Status::UNSUPPORTED)
    );
}

#[test]
fn uninstall_fails_while_driver_holds_it_after_trying_to_disconnect() {
    let w = World::default();
    let drv = BusDriver::new("bus", 1, A, CHILD, 0);
    drv.refuse_stop.set(true);
    let d = w.add_driver(drv);
    let ctl = w.add_device(&path(&[node(1, 1, &[0])]), &[A]);
    w.services()
        .connect_controller(ctl, &[], core::ptr::null_mut(), false)
        .unwrap();
    let ia = w.db.borrow().get_interface(ctl, &A).unwrap();
    assert_eq!(
        w.services().uninstall_protocol_interface(ctl, A, ia),
        Err(Status::ACCESS_DENIED)
    );
    assert!(
        w.log.borrow().iter().any(|l| l.starts_with("stop bus")),
        "a disconnect was attempted"
    );
    let info = w.db.borrow().open_protocol_information(ctl, &A).unwrap();
    assert!(info
        .iter()
        .any(|e| e.agent_handle == d && e.attributes == BY_DRIVER));
}

#[test]
fn install_multiple_is_all_or_nothing() {
    let (w, h, ..) = setup();
    let before =
        w.db.borrow_mut()
            .locate_handle(LocateSearch::AllHandles)
            .unwrap();
    // A GUID already on the handle: nothing from the list is installed.
    let r = w
        .services()
        .install_multiple_protocol_interfaces(Some(h), &[(CHILD, w.iface()), (A, w.iface())]);
    assert_eq!(r, Err(Status::INVALID_PARAMETER));
    assert_eq!(w.db.borrow().protocols_per_handle(h), Ok(vec![A]));
    // The same GUID twice for a new handle: no handle is created.
    let r = w
        .services()
        .install_multiple_protocol_interfaces(None, &[(CHILD, w.iface()), (CHILD, w.iface())]);
    assert_eq!(r, Err(Status::INVALID_PARAMETER));
    assert_eq!(
        w.db.borrow_mut()
            .locate_handle(LocateSearch::AllHandles)
            .unwrap(),
        before
    );
    let ok = w
        .services()
        .install_multiple_protocol_interfaces(Some(h), &[(CHILD, w.iface()), (B, w.iface())]);
    assert_eq!(ok, Ok(h));
    assert_eq!(w.db.borrow().protocols_per_handle(h), Ok(vec![A, CHILD, B]));
}

#[test]
fn install_multiple_rejects_duplicate_device_path() {
    let w = World::default();
    let dp = path(&[node(2, 1, &[1, 2, 3, 4]), node(1, 1, &[7])]);
    w.add_device(&dp, &[A]);
    let r = w.services().install_multiple_protocol_interfaces(
        None,
        &[(A, w.iface()), (DEVICE_PATH_GUID, w.dp_iface(&dp))],
    );
    assert_eq!(r, Err(Status::ALREADY_STARTED));
    let prefix = path(&[node(2, 1, &[1, 2, 3, 4])]);
    assert!(w
        .services()
        .install_multiple_protocol_interfaces(None, &[(DEVICE_PATH_GUID, w.dp_iface(&prefix))])
        .is_ok());
}

#[test]
fn uninstall_multiple_rolls_back_on_failure() {
    let (w, h, ia, agent, other) = setup();
    let ic = w.iface();
    w.services()
        .install_protocol_interface(Some(h), CHILD, ic)
        .unwrap();
    // `A` stays open BY_CHILD_CONTROLLER, so its uninstall fails after CHILD was removed.
    open(&w, h, agent, other, BY_CHILD_CONTROLLER).unwrap();
    let r = w
        .services()
        .uninstall_multiple_protocol_interfaces(h, &[(CHILD, ic), (A, ia)]);
    assert_eq!(r, Err(Status::INVALID_PARAMETER));
    assert_eq!(w.db.borrow().get_interface(h, &CHILD), Ok(ic));
    assert_eq!(w.db.borrow().get_interface(h, &A), Ok(ia));
    // A pair that is not installed: nothing is touched.
    let r = w
        .services()
        .uninstall_multiple_protocol_interfaces(h, &[(CHILD, ic), (B, ia)]);
    assert_eq!(r, Err(Status::INVALID_PARAMETER));
    assert_eq!(w.db.borrow().get_interface(h, &CHILD), Ok(ic));
}

#[test]
fn reinstall_protocol_reconnects_drivers() {
    let w = World::default();
    w.add_driver(BusDriver::new("bus", 1, A, CHILD, 1));
    let ctl = w.add_device(&path(&[node(1, 1, &[0])]), &[A]);
    w.services()
        .connect_controller(ctl, &[], core::ptr::null_mut(), false)
        .unwrap();
    let old = w.db.borrow().get_interface(ctl, &A).unwrap();
    let new = w.iface();
    assert_eq!(
        w.services().reinstall_protocol_interface(ctl, A, old, new),
        Ok(())
    );
    assert_eq!(w.db.borrow().get_interface(ctl, &A), Ok(new));
    let log = w.log.borrow().clone();
    let stops = log.iter().filter(|l| l.starts_with("stop bus")).count();
    let starts = log.iter().filter(|l| l.starts_with("start bus")).count();
    assert_eq!(
        (stops, starts),
        (2, 2),
        "children then controller stopped, then restarted: {log:?}"
    );
    assert_eq!(w.db.borrow().children(ctl, None).len(), 1);
}

#[test]
fn reinstall_with_unknown_old_interface_is_not_found() {
    let (w, h, ..) = setup();
    assert_eq!(
        w.services()
            .reinstall_protocol_interface(h, A, w.iface(), w.iface()),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        w.services()
            .reinstall_protocol_interface(key_handle(8), A, null(), null()),
        Err(Status::INVALID_PARAMETER)
    );
}

#[test]
fn reinstall_denied_while_driver_refuses_to_stop() {
    let w = World::default();
    let drv = BusDriver::new("bus", 1, A, CHILD, 0);
    drv.refuse_stop.set(true);
    w.add_driver(drv);
    let ctl = w.add_device(&path(&[node(1, 1, &[0])]), &[A]);
    w.services()
        .connect_controller(ctl, &[], core::ptr::null_mut(), false)
        .unwrap();
    let old = w.db.borrow().get_interface(ctl, &A).unwrap();
    assert_eq!(
        w.services()
            .reinstall_protocol_interface(ctl, A, old, w.iface()),
        Err(Status::ACCESS_DENIED)
    );
    assert_eq!(w.db.borrow().get_interface(ctl, &A), Ok(old));
}

#[test]
fn register_protocol_notify_signals_on_install() {
    let (w, h, ia, ..) = setup();
    let event = key_handle(0xe0);
    let reg =
        w.db.borrow_mut()
            .register_protocol_notify(A, event)
            .unwrap();
    assert_eq!(
        w.db.borrow_mut().register_protocol_notify(A, null()),
        Err(Status::INVALID_PARAMETER)
    );
    // The handle that already had A is not new.
    assert_eq!(
        w.db.borrow_mut()
            .locate_handle(LocateSearch::ByRegisterNotify(reg)),
        Err(Status::NOT_FOUND)
    );
    let h2 = w
        .services()
        .install_protocol_interface(None, A, w.iface())
        .unwrap();
    w.services()
        .install_protocol_interface(None, B, w.iface())
        .unwrap();
    let h3 = w
        .services()
        .install_protocol_interface(None, A, w.iface())
        .unwrap();
    assert_eq!(*w.signals.borrow(), vec![event, event]);
    // One new handle per call, oldest first.
    let mut db = w.db.borrow_mut();
    assert_eq!(
        db.locate_handle(LocateSearch::ByRegisterNotify(reg)),
        Ok(vec![h2])
    );
    assert_eq!(
        db.locate_handle(LocateSearch::ByRegisterNotify(reg)),
        Ok(vec![h3])
    );
    assert_eq!(
        db.locate_handle(LocateSearch::ByRegisterNotify(reg)),
        Err(Status::NOT_FOUND)
    );
    drop(db);
    // Reinstall counts as a new arrival.
    w.services()
        .reinstall_protocol_interface(h, A, ia, w.iface())
        .unwrap();
    assert_eq!(w.signals.borrow().len(), 3);
    assert_eq!(
        w.db.borrow_mut()
            .locate_handle(LocateSearch::ByRegisterNotify(reg)),
        Ok(vec![h])
    );
}

#[test]
fn locate_protocol_with_registration_returns_only_new_interfaces() {
    let (w, _h, ia, ..) = setup();
    assert_eq!(w.db.borrow_mut().locate_protocol(&A, None), Ok(ia));
    let reg =
        w.db.borrow_mut()
            .register_protocol_notify(A, key_handle(0xe0))
            .unwrap();
    assert_eq!(
        w.db.borrow_mut().locate_protocol(&A, Some(reg)),
        Err(Status::NOT_FOUND)
    );
    let i2 = w.iface();
    w.services()
        .install_protocol_interface(None, A, i2)
        .unwrap();
    assert_eq!(w.db.borrow_mut().locate_protocol(&A, Some(reg)), Ok(i2));
    assert_eq!(
        w.db.borrow_mut().locate_protocol(&A, Some(reg)),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        w.db.borrow_mut().locate_protocol(&CHILD, None),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        w.db.borrow_mut()
            .locate_protocol(&A, Some(Registration::from_ptr(key_handle(24)))),
        Err(Status::NOT_FOUND)
    );
}

#[test]
fn unregister_protocol_notify_event_stops_signals() {
    let (w, ..) = setup();
    let event = key_handle(0xe0);
    let reg =
        w.db.borrow_mut()
            .register_protocol_notify(A, event)
            .unwrap();
    w.db.borrow_mut()
        .register_protocol_notify(B, event)
        .unwrap();
    assert_eq!(w.db.borrow_mut().unregister_protocol_notify_event(event), 2);
    assert_eq!(
        w.db.borrow_mut().unregister_protocol_notify(reg),
        Err(Status::INVALID_PARAMETER)
    );
    w.services()
        .install_protocol_interface(None, A, w.iface())
        .unwrap();
    assert!(w.signals.borrow().is_empty());
}

#[test]
fn locate_handle_by_protocol_and_all_handles() {
    let (w, h, _, a1, a2) = setup();
    let mut db = w.db.borrow_mut();
    assert_eq!(
        db.locate_handle(LocateSearch::AllHandles),
        Ok(vec![h, a1, a2])
    );
    assert_eq!(
        db.locate_handle(LocateSearch::ByProtocol(B)),
        Ok(vec![a1, a2])
    );
    assert_eq!(
        db.locate_handle_buffer(LocateSearch::ByProtocol(A)),
        Ok(vec![h])
    );
    assert_eq!(
        db.locate_handle(LocateSearch::ByProtocol(CHILD)),
        Err(Status::NOT_FOUND)
    );
}

#[test]
fn locate_device_path_finds_longest_prefix() {
    let w = World::default();
    let root = node(2, 1, &[0xA0, 0x03, 0, 0]);
    let pci = node(1, 1, &[0, 2]);
    let disk = node(3, 2, &[1, 0, 0, 0]);
    let h_root = w.add_device(&path(core::slice::from_ref(&root)), &[A]);
    let h_pci = w.add_device(&path(&[root.clone(), pci.clone()]), &[A]);
    let _other = w.add_device(&path(&[root.clone(), node(1, 1, &[0, 3])]), &[A]);
    let _no_a = w.add_device(&path(&[root.clone(), pci.clone(), disk.clone()]), &[B]);
    let query = path(&[root.clone(), pci.clone(), disk.clone()]);
    let db = w.db.borrow();
    assert_eq!(
        db.locate_device_path(&A, &query, &w),
        Ok((h_pci, root.len() + pci.len()))
    );
    let q_root = path(&[root.clone(), node(1, 1, &[0, 9])]);
    assert_eq!(
        db.locate_device_path(&A, &q_root, &w),
        Ok((h_root, root.len()))
    );
    assert_eq!(
        db.locate_device_path(&A, &path(core::slice::from_ref(&pci)), &w),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        db.locate_device_path(&A, &[1, 1, 2, 0], &w),
        Err(Status::INVALID_PARAMETER)
    );
}

#[test]
fn protocols_per_handle_lists_in_install_order() {
    let (w, h, ..) = setup();
    w.services()
        .install_protocol_interface(Some(h), CHILD, w.iface())
        .unwrap();
    w.services()
        .install_protocol_interface(Some(h), DRIVER_BINDING_GUID, w.iface())
        .unwrap();
    assert_eq!(
        w.db.borrow().protocols_per_handle(h),
        Ok(vec![A, CHILD, DRIVER_BINDING_GUID])
    );
}
