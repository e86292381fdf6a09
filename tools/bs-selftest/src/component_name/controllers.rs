//! GetControllerName (UEFI 2.10 §11.5) against the handle database: who manages what is read the way the
//! specification defines it, from OpenProtocolInformation (§7.3.11) of every protocol on every handle
//! (LocateHandleBuffer `AllHandles`, ProtocolsPerHandle):
//!
//! - an agent with an open `BY_DRIVER` whose `ControllerHandle` is the handle itself manages that handle, so its
//!   Component Name 2 must name the controller (`ChildHandle` NULL);
//! - an agent with an open `BY_CHILD_CONTROLLER` on a handle produced the child named in `ControllerHandle`, so it
//!   must name that child (`ControllerHandle` = the handle, `ChildHandle` = the child).
//!
//! vmfw must answer every such pair with a non-empty name, refuse an unknown language and a NULL `ControllerName`,
//! and every other driver must answer `UNSUPPORTED` for the pair. OVMF, the reference, must either name the pair
//! or answer `UNSUPPORTED` (edk2 drivers do not name every controller they hold).

use core::fmt::Write;
use core::ptr;

use uefi_raw::protocol::block::BlockIoProtocol;
use uefi_raw::table::boot::OpenProtocolInformationEntry;
use uefi_raw::{Guid, Handle, Status};

use super::{Drivers, Ucs2, EN, UNKNOWN};
use crate::boot_services;
use crate::fs::raw::HandleList;
use crate::memory::free_pool;
use crate::protocols::BY_DRIVER;
use crate::report::{Detail, Outcome, Report};

/// OpenProtocol `Attributes`: a bus driver's open of a parent protocol on behalf of a child.
const BY_CHILD_CONTROLLER: u32 = 0x08;
/// Most managing agents and children tracked per handle; more and the cross-check is skipped for that handle.
const MAX_HOLDERS: usize = 16;
const MAX_CHILDREN: usize = 64;
/// A handle value no firmware hands out (the protocols group checks it is refused).
const FORGED: usize = 0x1234;

/// Who manages one handle, from its open lists.
struct Managers {
    holders: [Handle; MAX_HOLDERS],
    holder_count: usize,
    /// `(agent, child)` of each `BY_CHILD_CONTROLLER` open.
    children: [(Handle, Handle); MAX_CHILDREN],
    child_count: usize,
    overflow: bool,
}

impl Managers {
    fn holders(&self) -> &[Handle] {
        &self.holders[..self.holder_count]
    }

    fn children(&self) -> &[(Handle, Handle)] {
        &self.children[..self.child_count]
    }

    fn add(&mut self, handle: Handle, entry: &OpenProtocolInformationEntry) {
        if entry.attributes & BY_DRIVER != 0 && entry.controller_handle == handle {
            if self.holders().contains(&entry.agent_handle) {
                return;
            }
            match self.holders.get_mut(self.holder_count) {
                Some(slot) => {
                    *slot = entry.agent_handle;
                    self.holder_count += 1;
                }
                None => self.overflow = true,
            }
        } else if entry.attributes & BY_CHILD_CONTROLLER != 0 {
            let pair = (entry.agent_handle, entry.controller_handle);
            if self.children().contains(&pair) {
                return;
            }
            match self.children.get_mut(self.child_count) {
                Some(slot) => {
                    *slot = pair;
                    self.child_count += 1;
                }
                None => self.overflow = true,
            }
        }
    }
}

/// The open lists of every protocol on `handle`, gathered into [`Managers`]. A protocol that disappears while
/// it is read is skipped.
fn managers(handle: Handle) -> Result<Managers, Detail> {
    let mut m = Managers {
        holders: [ptr::null_mut(); MAX_HOLDERS],
        holder_count: 0,
        children: [(ptr::null_mut(), ptr::null_mut()); MAX_CHILDREN],
        child_count: 0,
        overflow: false,
    };
    let (mut guids, mut count) = (ptr::null_mut::<*const Guid>(), 0usize);
    // SAFETY: valid out-pointers; the firmware validates the handle.
    let status = unsafe { (boot_services().protocols_per_handle)(handle, &mut guids, &mut count) };
    ensure!(
        status == Status::SUCCESS,
        "ProtocolsPerHandle({handle:p}) returned {status:?}"
    );
    if guids.is_null() {
        return Ok(m);
    }
    // SAFETY: the firmware returned `count` GUID pointers in a pool buffer we own until the FreePool below.
    for &guid in unsafe { core::slice::from_raw_parts(guids, count) } {
        let (mut entries, mut n) = (ptr::null_mut::<OpenProtocolInformationEntry>(), 0usize);
        // SAFETY: `guid` points at a GUID the firmware keeps while the protocol is installed; valid out-pointers.
        let status = unsafe {
            (boot_services().open_protocol_information)(handle, guid, &mut entries, &mut n)
        };
        if status != Status::SUCCESS || entries.is_null() {
            continue;
        }
        // SAFETY: `n` entries in a pool buffer we own, freed right after.
        for entry in unsafe { core::slice::from_raw_parts(entries, n) } {
            m.add(handle, entry);
        }
        let _ = free_pool(entries.cast());
    }
    let _ = free_pool(guids.cast());
    Ok(m)
}

/// `Ok(true)` when `got` is a valid name, `Ok(false)` for `UNSUPPORTED` off vmfw; prints the name under vmfw.
fn judge_name(
    got: Result<*const u16, Status>,
    what: (Handle, Handle, Handle),
    vmfw: bool,
    out: &mut dyn Write,
) -> Result<bool, Detail> {
    let (agent, controller, child) = what;
    match got {
        Ok(name) => {
            let name = Ucs2::new(name).map_err(|why| {
                Detail::new(format_args!(
                    "driver {agent:p}: GetControllerName({controller:p}, {child:p}) gave {why}"
                ))
            })?;
            if vmfw {
                let _ = writeln!(
                    out,
                    "selftest: component-name: driver {agent:p} names {controller:p}/{child:p} \"{name}\""
                );
            }
            Ok(true)
        }
        Err(Status::UNSUPPORTED) if !vmfw => Ok(false),
        Err(status) => fail!(
            "driver {agent:p}: GetControllerName({controller:p}, {child:p}) returned {status:?} for a pair it manages"
        ),
    }
}

/// vmfw only: the pair's language and out-pointer rules.
fn check_pair_errors(driver: &super::Driver, controller: Handle, child: Handle) -> Outcome {
    let mut name = ptr::null();
    let status = driver.controller_name_raw(controller, child, UNKNOWN.as_ptr(), &mut name);
    ensure!(
        status == Status::UNSUPPORTED,
        "driver {:p}: GetControllerName({controller:p}, {child:p}, \"zz\") returned {status:?}",
        driver.handle
    );
    let status = driver.controller_name_raw(controller, child, EN.as_ptr(), ptr::null_mut());
    ensure!(
        status == Status::INVALID_PARAMETER,
        "driver {:p}: GetControllerName({controller:p}, {child:p}, ControllerName NULL) returned {status:?}",
        driver.handle
    );
    Ok(())
}

/// vmfw only: every named driver other than `owner` answers `UNSUPPORTED` for `(controller, child)`.
fn check_others_refuse(
    drivers: &Drivers,
    owners: &[Handle],
    controller: Handle,
    child: Handle,
) -> Outcome {
    for other in drivers.named().filter(|d| !owners.contains(&d.handle)) {
        let got = other.controller_name(controller, child);
        ensure!(
            got == Err(Status::UNSUPPORTED),
            "driver {:p} does not manage {controller:p}/{child:p} but GetControllerName gave {:?}",
            other.handle,
            got.map(|_| "a name")
        );
    }
    Ok(())
}

/// Managed pairs asked about, and how many of them got a name.
#[derive(Default)]
struct Tally {
    asked: usize,
    named: usize,
}

impl Tally {
    fn count(&mut self, named: bool) {
        self.asked += 1;
        self.named += usize::from(named);
    }
}

/// Names every managed controller and child of `handle`, counting the pairs in `tally`.
fn check_handle(
    drivers: &Drivers,
    handle: Handle,
    vmfw: bool,
    tally: &mut Tally,
    out: &mut dyn Write,
) -> Outcome {
    let m = managers(handle)?;
    let null = ptr::null_mut();
    for &agent in m.holders() {
        let Some(driver) = drivers.find(agent) else {
            ensure!(
                !vmfw,
                "agent {agent:p} holds {handle:p} BY_DRIVER but has no Component Name 2"
            );
            continue;
        };
        let got = driver.controller_name(handle, null);
        tally.count(judge_name(got, (agent, handle, null), vmfw, out)?);
        if vmfw {
            check_pair_errors(&driver, handle, null)?;
        }
    }
    for &(agent, child) in m.children() {
        let Some(driver) = drivers.find(agent) else {
            ensure!(
                !vmfw,
                "agent {agent:p} opened {handle:p} for child {child:p} but has no Component Name 2"
            );
            continue;
        };
        let got = driver.controller_name(handle, child);
        tally.count(judge_name(got, (agent, handle, child), vmfw, out)?);
        if vmfw {
            check_pair_errors(&driver, handle, child)?;
            check_others_refuse(drivers, &[agent], handle, child)?;
        }
    }
    if vmfw && !m.overflow {
        check_others_refuse(drivers, m.holders(), handle, null)?;
    }
    Ok(())
}

/// Every managed pair of every handle is named (off vmfw: named or `UNSUPPORTED`, and at least one named when
/// any is asked); under vmfw at least one pair is found when a Block I/O exists.
fn check_managed(drivers: &Drivers, vmfw: bool, out: &mut dyn Write) -> Result<Tally, Detail> {
    let mut tally = Tally::default();
    for handle in HandleList::all()?.iter() {
        check_handle(drivers, handle, vmfw, &mut tally, out)?;
    }
    if vmfw && tally.asked == 0 {
        let disks = HandleList::by_protocol(&BlockIoProtocol::GUID)?
            .iter()
            .count();
        ensure!(
            disks == 0,
            "{disks} Block I/O handle(s) exist but no driver holds a controller BY_DRIVER"
        );
    }
    ensure!(
        tally.asked == 0 || tally.named > 0,
        "none of the {} managed pairs has a name",
        tally.asked
    );
    Ok(tally)
}

/// GetControllerName of the app's image handle (no driver manages it) is `UNSUPPORTED` for every driver; under
/// vmfw NULL arguments and a forged `ChildHandle` are `INVALID_PARAMETER`.
pub fn check_refusals(drivers: &Drivers, image: Handle, vmfw: bool) -> Outcome {
    let forged = FORGED as Handle;
    let null = ptr::null_mut();
    for d in drivers.named() {
        let h = d.handle;
        let got = d.controller_name(image, null);
        ensure!(
            got == Err(Status::UNSUPPORTED),
            "driver {h:p}: GetControllerName(the app's image handle) gave {:?}, expected UNSUPPORTED",
            got.map(|_| "a name")
        );
        if !vmfw {
            continue;
        }
        let mut name = ptr::null();
        let name_out: *mut *const u16 = &mut name;
        let cases: [(&str, Handle, Handle, *const u8, *mut *const u16); 4] = [
            ("ControllerHandle NULL", null, null, EN.as_ptr(), name_out),
            ("Language NULL", image, null, ptr::null(), name_out),
            (
                "ControllerName NULL",
                image,
                null,
                EN.as_ptr(),
                ptr::null_mut(),
            ),
            ("ChildHandle forged", image, forged, EN.as_ptr(), name_out),
        ];
        for (what, controller, child, language, out) in cases {
            let status = d.controller_name_raw(controller, child, language, out);
            ensure!(
                status == Status::INVALID_PARAMETER,
                "driver {h:p}: GetControllerName({what}) returned {status:?}, expected INVALID_PARAMETER"
            );
        }
    }
    Ok(())
}

/// Runs the managed-controller check (skipped, with a line, when no driver manages anything).
pub fn run(report: &mut Report, out: &mut dyn Write, drivers: &Drivers, vmfw: bool) {
    const NAME: &str =
        "component-name: every managed controller and child is named (vmfw: others say UNSUPPORTED)";
    match check_managed(drivers, vmfw, out) {
        Ok(Tally { asked: 0, .. }) => {
            let _ = writeln!(
                out,
                "selftest: component-name: no driver manages a controller here; controller names skipped"
            );
        }
        Ok(Tally { asked, named }) => {
            let _ = writeln!(
                out,
                "selftest: component-name: {named} of {asked} managed controllers and children named"
            );
            report.record(out, NAME, Ok(()));
        }
        Err(detail) => report.record(out, NAME, Err(detail)),
    }
}
