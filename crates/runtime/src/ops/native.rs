//! The native back end: variables in a [`VariableStore`] over runtime memory, clock and reset through the
//! firmware's [`Clock`] and [`Reset`].
//!
//! The store sits behind a [`TryLock`]; a call arriving while another holds it fails with
//! [`DeviceFault::Busy`] and changes nothing. [`Native::store`] gives the firmware the store (for example to write
//! [`VariableStore::serialize_non_volatile`] to persistent storage after a change).

use r_efi::efi::{CapsuleHeader, Guid, ResetType, Status, Time, TimeCapabilities};

use super::platform::delegate_platform;
use super::{CapsuleCapabilities, Clock, PlatformServices, Reset, RuntimeBackend, WakeupTime};
use crate::error::{DeviceFault, Result, RuntimeError};
use crate::lock::{TryLock, TryLockGuard};
use crate::variables::{Phase, StorageInfo, VariableInfo, VariableName, VariableStore};

const BUSY: RuntimeError = RuntimeError::DeviceError(DeviceFault::Busy);

/// Native back end over region `R`, clock `C` and reset `S`.
pub struct Native<R, C, S> {
    store: TryLock<VariableStore<R>>,
    platform: PlatformServices<C, S>,
}

impl<R, C, S> Native<R, C, S>
where
    R: AsRef<[u8]> + AsMut<[u8]>,
    C: Clock,
    S: Reset,
{
    /// A back end over `store` and `platform`.
    pub const fn new(store: VariableStore<R>, platform: PlatformServices<C, S>) -> Self {
        Native {
            store: TryLock::new(store),
            platform,
        }
    }

    /// The store, locked; `None` while a call is using it.
    pub fn store(&self) -> Option<TryLockGuard<'_, VariableStore<R>>> {
        self.store.try_lock()
    }
}

impl<R, C, S> RuntimeBackend for Native<R, C, S>
where
    R: AsRef<[u8]> + AsMut<[u8]> + Send,
    C: Clock,
    S: Reset,
{
    delegate_platform!(platform);

    fn get_variable(
        &self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        data: &mut [u8],
    ) -> Result<VariableInfo> {
        self.store
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
        self.store
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
        self.store
            .try_lock()
            .ok_or(BUSY)?
            .set_variable(phase, name, vendor, attributes, data)
    }

    fn query_variable_info(&self, phase: Phase, attributes: u32) -> Result<StorageInfo> {
        self.store
            .try_lock()
            .ok_or(BUSY)?
            .query_variable_info(phase, attributes)
    }
}
