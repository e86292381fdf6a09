//! The hypervisor back end: a host (the VMM) owns the variable store and answers variable requests; clock and
//! reset still go through the firmware's [`Clock`] and [`Reset`].
//!
//! [`VariableHost`] is the transport-neutral shape of that host (a paravirtual mailbox, an MMIO window, ...). The
//! host is expected to apply the same UEFI rules as [`crate::variables::VariableStore`]; the phase is passed with
//! every request so the host can enforce runtime visibility. Calls reach the host one at a time through a
//! [`TryLock`]; a concurrent call fails with [`DeviceFault::Busy`].

use r_efi::efi::{CapsuleHeader, Guid, ResetType, Status, Time, TimeCapabilities};

use super::platform::delegate_platform;
use super::{CapsuleCapabilities, Clock, PlatformServices, Reset, RuntimeBackend, WakeupTime};
use crate::error::{DeviceFault, Result, RuntimeError};
use crate::lock::TryLock;
use crate::variables::{Phase, StorageInfo, VariableInfo, VariableName};

const BUSY: RuntimeError = RuntimeError::DeviceError(DeviceFault::Busy);

/// A host that owns the variable store. Methods mean what the same-named [`RuntimeBackend`] methods mean; a
/// transport failure is [`DeviceFault::Host`].
pub trait VariableHost: Send {
    /// GetVariable on the host's store.
    fn get_variable(
        &mut self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        data: &mut [u8],
    ) -> Result<VariableInfo>;
    /// GetNextVariableName on the host's store.
    fn get_next_variable_name(
        &mut self,
        phase: Phase,
        name: &mut [u16],
        vendor: &mut Guid,
    ) -> Result<usize>;
    /// SetVariable on the host's store.
    fn set_variable(
        &mut self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        attributes: u32,
        data: &[u8],
    ) -> Result<()>;
    /// QueryVariableInfo on the host's store.
    fn query_variable_info(&mut self, phase: Phase, attributes: u32) -> Result<StorageInfo>;
}

/// Hypervisor back end over host `H`, clock `C` and reset `S`.
pub struct Hypervisor<H, C, S> {
    host: TryLock<H>,
    platform: PlatformServices<C, S>,
}

impl<H: VariableHost, C: Clock, S: Reset> Hypervisor<H, C, S> {
    /// A back end forwarding variables to `host`.
    pub const fn new(host: H, platform: PlatformServices<C, S>) -> Self {
        Hypervisor {
            host: TryLock::new(host),
            platform,
        }
    }
}

impl<H: VariableHost, C: Clock, S: Reset> RuntimeBackend for Hypervisor<H, C, S> {
    delegate_platform!(platform);

    fn get_variable(
        &self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        data: &mut [u8],
    ) -> Result<VariableInfo> {
        self.host
            .try_lock()
            .ok_or(BUSY)?
            .get_variable(phase, name, vendor, data)
    }

    fn get_next_variable_name(
        &self,
        phase: Phase,
        name: &mut [u16],
        vendor: &mut Guid,
    ) -> Result<usize> {
        self.host
            .try_lock()
            .ok_or(BUSY)?
            .get_next_variable_name(phase, name, vendor)
    }

    fn set_variable(
        &self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        attributes: u32,
        data: &[u8],
    ) -> Result<()> {
        self.host
            .try_lock()
            .ok_or(BUSY)?
            .set_variable(phase, name, vendor, attributes, data)
    }

    fn query_variable_info(&self, phase: Phase, attributes: u32) -> Result<StorageInfo> {
        self.host
            .try_lock()
            .ok_or(BUSY)?
            .query_variable_info(phase, attributes)
    }
}
