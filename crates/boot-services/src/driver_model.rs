//! The UEFI driver model's ConnectController() and DisconnectController() (UEFI 2.10 section 7.3; UEFI Driver
//! Writer's Guide, chapters "UEFI Driver Model" and "Driver Binding Protocol").
//!
//! A driver is a handle carrying `EFI_DRIVER_BINDING_PROTOCOL`; its Supported/Start/Stop functions are driver
//! code that calls back into the boot services (OpenProtocol BY_DRIVER, installing child handles, ...). The
//! engine reaches that code only through [`DriverCalls`], always with the database lock released (see
//! [`crate::protocol`] for the locking story). Each step re-reads the database: a driver may have uninstalled
//! bindings, destroyed the controller or created children in between.
//!
//! Relationships are read from open lists, never stored separately:
//! - driver D *manages* controller C  ⇔ D opened some protocol of C `BY_DRIVER`;
//! - X is a *child* of C created by D ⇔ D opened some protocol of C `BY_CHILD_CONTROLLER` with controller X.
//!
//! ConnectController() driver order (UEFI 2.10 section 7.3, "ConnectController()", steps 1-5): the caller's
//! context list, the Platform Driver Override Protocol's list, (the Driver Family Override Protocol is not
//! consulted), the controller's Bus Specific Driver Override Protocol's list, then every remaining Driver
//! Binding by `Version`, highest first (ties: oldest handle first). A list entry selects the bindings installed
//! on that handle and the bindings whose `ImageHandle` is that handle. Every candidate's Supported() runs; the
//! first that succeeds gets Start(), is not tried again in this call, and the scan restarts from the top (a
//! started driver may make others supported). It ends when a full scan finds nothing supported.

mod connect;
mod disconnect;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

use r_efi::efi::Handle;

use crate::protocol::{DevicePathPtr, DevicePathReader, Interface};
use crate::Status;

/// `EFI_DRIVER_BINDING_PROTOCOL_GUID`.
pub const DRIVER_BINDING_GUID: r_efi::efi::Guid = r_efi::protocols::driver_binding::PROTOCOL_GUID;
/// `EFI_PLATFORM_DRIVER_OVERRIDE_PROTOCOL_GUID`.
pub const PLATFORM_DRIVER_OVERRIDE_GUID: r_efi::efi::Guid =
    r_efi::protocols::platform_driver_override::PROTOCOL_GUID;
/// `EFI_BUS_SPECIFIC_DRIVER_OVERRIDE_PROTOCOL_GUID`.
pub const BUS_SPECIFIC_DRIVER_OVERRIDE_GUID: r_efi::efi::Guid =
    r_efi::protocols::bus_specific_driver_override::PROTOCOL_GUID;

/// Every call from the engine into code behind an interface pointer. The firmware implements it by casting
/// the pointer to the r-efi protocol structure and calling its function pointers (its only `unsafe`); host
/// tests map pointer values to Rust test drivers. Never called with the database lock held, except
/// [`DevicePathReader::device_path_bytes`] which only reads memory.
pub trait DriverCalls: DevicePathReader {
    /// `Version` field of the Driver Binding Protocol at `binding`.
    fn driver_version(&self, binding: Interface) -> u32;
    /// `ImageHandle` field of the Driver Binding Protocol at `binding`.
    fn driver_image_handle(&self, binding: Interface) -> Handle;
    /// `Supported(This=binding, ControllerHandle, RemainingDevicePath)` of the driver whose binding is installed
    /// on `driver`.
    fn supported(
        &self,
        driver: Handle,
        binding: Interface,
        controller: Handle,
        remaining: DevicePathPtr,
    ) -> Status;
    /// `Start(This=binding, ControllerHandle, RemainingDevicePath)`.
    fn start(
        &self,
        driver: Handle,
        binding: Interface,
        controller: Handle,
        remaining: DevicePathPtr,
    ) -> Status;
    /// `Stop(This=binding, ControllerHandle, NumberOfChildren, ChildHandleBuffer)`; `children` empty stops the
    /// driver on the controller itself.
    fn stop(
        &self,
        driver: Handle,
        binding: Interface,
        controller: Handle,
        children: &[Handle],
    ) -> Status;
    /// The driver image handles the Platform Driver Override Protocol at `interface` returns for `controller`
    /// (GetDriver() called until it reports `NOT_FOUND`), in order.
    fn platform_override_drivers(&self, interface: Interface, controller: Handle) -> Vec<Handle>;
    /// The driver image handles the Bus Specific Driver Override Protocol at `interface` returns, in order.
    fn bus_override_drivers(&self, interface: Interface) -> Vec<Handle>;
}
