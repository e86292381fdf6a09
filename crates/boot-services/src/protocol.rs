//! Protocol handler services (UEFI 2.10 section 7.3) as a host-testable engine.
//!
//! # Data structures
//! [`ProtocolDatabase`] is one plain structure:
//! - `handles: BTreeMap<usize, HandleEntry>` keyed by the handle's integer value (see [`crate::handle`]); each
//!   entry holds its protocol instances in install order, each instance holds its GUID, its interface pointer
//!   (stored as an integer, never dereferenced) and its *open list* (agent, controller, attributes, open count);
//! - `notifies: BTreeMap<usize, Notify>` keyed by registration key, each with the GUID, the event and the queue
//!   of handles that received the protocol since registration (UEFI 2.10 section 7.3,
//!   "RegisterProtocolNotify()");
//! - a queue of events to signal, drained by [`Services`] after the lock is released.
//!
//! Invariants: a handle exists iff it has at least one protocol (the last uninstall destroys it); a GUID appears
//! at most once per handle; open records exist only on installed instances; `TEST_PROTOCOL` opens are never
//! recorded (they return no interface); handle values and registration keys are never reused.
//!
//! # OpenProtocol() conflict rules (UEFI 2.10 section 7.3, "OpenProtocol()", attribute table)
//! | requested \ existing on the instance | none | `BY_DRIVER` (A) | `BY_DRIVER`(other) | `EXCLUSIVE` (any) |
//! |---|---|---|---|---|
//! | `BY_HANDLE_PROTOCOL`, `GET_PROTOCOL`, `BY_CHILD_CONTROLLER` | ok | ok | ok | ok |
//! | `TEST_PROTOCOL` | ok, not recorded | ok | ok | ok |
//! | `BY_DRIVER` by agent A | ok | `ALREADY_STARTED` | `ACCESS_DENIED` | `ACCESS_DENIED` |
//! | `BY_DRIVER\|EXCLUSIVE` by A | ok | `ALREADY_STARTED` if same attributes | disconnect holders, then ok | `ACCESS_DENIED` |
//! | `EXCLUSIVE` by A | ok | disconnect holders, then ok | disconnect holders, then ok | `ACCESS_DENIED` |
//!
//! `ALREADY_STARTED` means an existing record with the same agent and identical attributes (checked first, as the
//! spec lists it); the interface is still available through [`ProtocolDatabase::get_interface`]. Non-driver opens
//! with the same agent, controller and attributes bump the open count instead of adding a record. If a
//! `BY_DRIVER` holder is still on the list after DisconnectController(), `EXCLUSIVE` opens fail with
//! `ACCESS_DENIED`.
//!
//! # Re-entrancy and locking
//! Driver code (Supported/Start/Stop of a Driver Binding, the override protocols) calls back into these services.
//! The firmware therefore holds the database in **one** global locked cell, where taking the lock means raising
//! the TPL to `TPL_NOTIFY` (the level at which boot services run, UEFI 2.10 section 7.1 table "TPL Restrictions")
//! and the cell is exposed to the engine through [`DatabaseLock`]. The rule that makes re-entrancy safe:
//! **no driver code, and no event signalling, runs while the lock is held.** Every operation that may call a
//! driver ([`Services`]: uninstall, reinstall, `EXCLUSIVE` opens, ConnectController, DisconnectController) is a
//! loop of "take the lock, compute the next step from the current state, release the lock, call out, repeat",
//! re-validating handles and interfaces after each call-out because the driver may have changed anything. Host
//! tests implement the lock with a `RefCell`, which panics on a nested borrow, and drive test drivers that call
//! back into the services from Start/Stop: they would fail if any call-out happened under the lock.
//!
//! Pure operations (handle validation, `handle_protocol`, non-exclusive `open_protocol`, `close_protocol`,
//! locate services, notify registration) are methods of [`ProtocolDatabase`] called under the lock.

mod database;
pub mod device_path;
mod locate;
mod notify;
mod open;
mod services;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

pub use database::ProtocolDatabase;
pub use locate::LocateSearch;
pub use open::OpenStep;
pub use services::Services;

use r_efi::efi::{Event, Guid, Handle};

/// A protocol interface: a raw pointer owned by the installer. The engine stores and returns it, never reads it.
pub type Interface = *mut core::ffi::c_void;

/// A raw pointer to a device path, forwarded untouched to drivers (`RemainingDevicePath`); may be null.
pub type DevicePathPtr = *mut r_efi::protocols::device_path::Protocol;

/// `EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL` (UEFI 2.10 section 7.3, "OpenProtocol()").
pub const BY_HANDLE_PROTOCOL: u32 = r_efi::efi::OPEN_PROTOCOL_BY_HANDLE_PROTOCOL;
/// `EFI_OPEN_PROTOCOL_GET_PROTOCOL`.
pub const GET_PROTOCOL: u32 = r_efi::efi::OPEN_PROTOCOL_GET_PROTOCOL;
/// `EFI_OPEN_PROTOCOL_TEST_PROTOCOL`.
pub const TEST_PROTOCOL: u32 = r_efi::efi::OPEN_PROTOCOL_TEST_PROTOCOL;
/// `EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER`.
pub const BY_CHILD_CONTROLLER: u32 = r_efi::efi::OPEN_PROTOCOL_BY_CHILD_CONTROLLER;
/// `EFI_OPEN_PROTOCOL_BY_DRIVER`.
pub const BY_DRIVER: u32 = r_efi::efi::OPEN_PROTOCOL_BY_DRIVER;
/// `EFI_OPEN_PROTOCOL_EXCLUSIVE`.
pub const EXCLUSIVE: u32 = r_efi::efi::OPEN_PROTOCOL_EXCLUSIVE;

/// An opaque registration key returned by RegisterProtocolNotify() (UEFI 2.10 section 7.3).
///
/// Values are odd multiples of 8 from a never-reused counter, so they never equal a handle value. Convert with
/// [`Registration::as_ptr`] / [`Registration::from_ptr`] at the ABI edge; an unknown key is reported as
/// `EFI_NOT_FOUND` by the locate services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Registration(pub(crate) usize);

impl Registration {
    /// The key as the `VOID *` handed to C callers (no provenance; never dereferenced).
    pub fn as_ptr(self) -> *mut core::ffi::c_void {
        core::ptr::without_provenance_mut(self.0)
    }

    /// The key a C caller passed back.
    pub fn from_ptr(ptr: *mut core::ffi::c_void) -> Self {
        Registration(ptr.addr())
    }
}

/// One entry of OpenProtocolInformation() (`EFI_OPEN_PROTOCOL_INFORMATION_ENTRY`, UEFI 2.10 section 7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenProtocolInformationEntry {
    /// The agent (image or driver binding handle) that opened the protocol; as given, possibly null.
    pub agent_handle: Handle,
    /// The controller handle given at open time; null when none was required.
    pub controller_handle: Handle,
    /// The `EFI_OPEN_PROTOCOL_*` attributes of the open.
    pub attributes: u32,
    /// How many times this exact (agent, controller, attributes) open was made without a close.
    pub open_count: u32,
}

/// Signals events on behalf of the protocol engine. Implemented by the events engine (UEFI 2.10 section 7.1,
/// "SignalEvent()"); called only while the protocol database lock is released.
pub trait EventSignaller {
    /// Signals `event` (the event given to RegisterProtocolNotify()).
    fn signal(&mut self, event: Event);
}

/// Reads the bytes of a Device Path Protocol instance (UEFI 2.10 chapter 10).
///
/// The engine keeps interfaces as opaque pointers; the firmware implements this by walking the nodes at
/// `interface` up to and including the first end node (with [`device_path::instance_len`] on a bounded read).
/// Host tests implement it with a map. It is called under the database lock and must not call back into it.
pub trait DevicePathReader {
    /// The device path bytes of the Device Path Protocol `interface`, through its first end node, or `None`
    /// when the pointer is null or the path is unreadable (such handles never match a device path search).
    fn device_path_bytes(&self, interface: Interface) -> Option<alloc::vec::Vec<u8>>;
}

/// Access to the one global protocol database (see the module docs: taking the lock is raising to TPL_NOTIFY).
///
/// `with` must not be called from inside `f`; the engine never does, and never calls drivers from `f`.
pub trait DatabaseLock {
    /// Runs `f` with exclusive access to the database and returns its result.
    fn with<R>(&self, f: impl FnOnce(&mut ProtocolDatabase) -> R) -> R;
}

/// The GUID of the Device Path Protocol, which install-multiple and LocateDevicePath() use.
pub const DEVICE_PATH_GUID: Guid = r_efi::protocols::device_path::PROTOCOL_GUID;
