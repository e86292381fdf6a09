//! The native back end: variables in a [`VariableStore`] over runtime memory, clock and reset through the
//! firmware's [`Clock`] and [`Reset`].
//!
//! The store sits behind a [`TryLock`]; a call arriving while another holds it fails with
//! [`DeviceFault::Busy`] and changes nothing. A firmware whose back end is a `static` builds it with
//! [`Native::without_store`] (a `const fn`) and attaches the store once its region is allocated
//! ([`Native::attach_store`]); until then variable calls fail with [`DeviceFault::NoStore`]. [`Native::with_store`]
//! gives the firmware the store (to publish its own variables, to convert the region pointer at
//! SetVirtualAddressMap, or to write [`VariableStore::serialize_non_volatile`] to persistent storage).

use r_efi::efi::{CapsuleHeader, Guid, ResetType, Status, Time, TimeCapabilities};

use super::platform::delegate_platform;
use super::{CapsuleCapabilities, Clock, PlatformServices, Reset, RuntimeBackend, WakeupTime};
use crate::error::{DeviceFault, Result, RuntimeError};
use crate::lock::{TryLock, TryLockGuard};
use crate::variables::{Phase, StorageInfo, VariableInfo, VariableName, VariableStore};

const BUSY: RuntimeError = RuntimeError::DeviceError(DeviceFault::Busy);
const NO_STORE: RuntimeError = RuntimeError::DeviceError(DeviceFault::NoStore);

/// Native back end over region `R`, clock `C` and reset `S`.
pub struct Native<R, C, S> {
    store: TryLock<Option<VariableStore<R>>>,
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
            store: TryLock::new(Some(store)),
            platform,
        }
    }

    /// A back end over `platform` whose variable store is attached later ([`Self::attach_store`]).
    pub const fn without_store(platform: PlatformServices<C, S>) -> Self {
        Native {
            store: TryLock::new(None),
            platform,
        }
    }

    /// Makes `store` the variable store (replacing any store attached before).
    ///
    /// Errors: [`DeviceFault::Busy`] while a call holds the store; nothing changes then.
    pub fn attach_store(&self, store: VariableStore<R>) -> Result<()> {
        *self.store.try_lock().ok_or(BUSY)? = Some(store);
        Ok(())
    }

    /// Runs `f` on the store.
    ///
    /// Errors: [`DeviceFault::Busy`] while a call holds the store, [`DeviceFault::NoStore`] before one is attached,
    /// and whatever `f` returns.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut VariableStore<R>) -> Result<T>) -> Result<T> {
        f(self.locked()?.as_mut().ok_or(NO_STORE)?)
    }

    fn locked(&self) -> Result<TryLockGuard<'_, Option<VariableStore<R>>>> {
        self.store.try_lock().ok_or(BUSY)
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
        self.with_store(|store| store.get_variable(phase, name, vendor, data))
    }

    fn get_next_variable_name(
        &self,
        phase: Phase,
        name: &mut [u16],
        vendor: &mut Guid,
    ) -> Result<usize> {
        self.with_store(|store| store.get_next_variable_name(phase, name, vendor))
    }

    fn set_variable(
        &self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        attributes: u32,
        data: &[u8],
    ) -> Result<()> {
        self.with_store(|store| store.set_variable(phase, name, vendor, attributes, data))
    }

    fn query_variable_info(&self, phase: Phase, attributes: u32) -> Result<StorageInfo> {
        self.with_store(|store| store.query_variable_info(phase, attributes))
    }
}
