//! Time, reset, monotonic count and capsule services shared by every back end, over two small traits the firmware
//! implements for the machine: [`Clock`] (the CMOS RTC on QEMU) and [`Reset`] (port 0xCF9 on QEMU's PIIX/Q35).
//!
//! Choices (UEFI 2.10 sections 8.3 and 8.5):
//! - GetWakeupTime/SetWakeupTime answer `EFI_UNSUPPORTED`: QEMU's RTC alarm cannot wake a powered-off guest, and the
//!   spec allows platforms without wakeup support to say so (the firmware must then leave them out of
//!   `EFI_RT_PROPERTIES_TABLE`).
//! - UpdateCapsule/QueryCapsuleCapabilities reject zero capsules with `EFI_INVALID_PARAMETER` and otherwise answer
//!   `EFI_UNSUPPORTED`: vmfw has no capsule update path.
//! - The high monotonic count starts from the value the firmware passes in (restored from persistent storage if it
//!   has any) and refuses to wrap (`EFI_DEVICE_ERROR` at `u32::MAX`).

use core::sync::atomic::{AtomicU32, Ordering};

use r_efi::efi::{CapsuleHeader, ResetType, Status, Time, TimeCapabilities};

use super::{CapsuleCapabilities, WakeupTime};
use crate::error::{DeviceFault, InvalidParameter, Result, RuntimeError};
use crate::lock::TryLock;
use crate::time;

/// The real-time clock, as the firmware reaches it (on QEMU: CMOS RTC at ports 0x70/0x71).
pub trait Clock: Send {
    /// Reads the current time and the clock's capabilities.
    ///
    /// Errors: [`RuntimeError::DeviceError`] with [`DeviceFault::Clock`] when the clock cannot be read.
    fn get_time(&mut self) -> Result<(Time, TimeCapabilities)>;
    /// Sets the clock to `time`, already validated against UEFI 2.10 section 8.3 ranges.
    ///
    /// Errors: [`RuntimeError::DeviceError`] with [`DeviceFault::Clock`] when the clock cannot be written.
    fn set_time(&mut self, time: &Time) -> Result<()>;
}

/// The machine reset, as the firmware reaches it (on QEMU: the reset control register, port 0xCF9, and ACPI
/// sleep for shutdown).
pub trait Reset: Sync {
    /// Performs `reset_type` (`EFI_RESET_COLD`, `_WARM`, `_SHUTDOWN`, `_PLATFORM_SPECIFIC`); returns only if it
    /// could not.
    fn reset(&self, reset_type: ResetType);
}

/// Clock, reset, monotonic-count and capsule services over a [`Clock`] `C` and a [`Reset`] `S`.
pub struct PlatformServices<C, S> {
    clock: TryLock<C>,
    reset: S,
    high_count: AtomicU32,
}

impl<C: Clock, S: Reset> PlatformServices<C, S> {
    /// Services over `clock` and `reset`; the high monotonic count starts at `high_count`.
    pub const fn new(clock: C, reset: S, high_count: u32) -> Self {
        PlatformServices {
            clock: TryLock::new(clock),
            reset,
            high_count: AtomicU32::new(high_count),
        }
    }

    /// GetTime: reads the clock and checks its answer.
    ///
    /// Errors: [`DeviceFault::Busy`] if the clock is in use, [`DeviceFault::Clock`] if it fails or returns an
    /// out-of-range time.
    pub fn get_time(&self) -> Result<(Time, TimeCapabilities)> {
        let mut clock = self
            .clock
            .try_lock()
            .ok_or(RuntimeError::DeviceError(DeviceFault::Busy))?;
        let (now, capabilities) = clock.get_time()?;
        time::validate(&now).map_err(|_| RuntimeError::DeviceError(DeviceFault::Clock))?;
        Ok((now, capabilities))
    }

    /// SetTime: validates `time` then writes the clock.
    ///
    /// Errors: [`InvalidParameter::Time`] naming the bad field; [`DeviceFault::Busy`]; the clock's error.
    pub fn set_time(&self, new: &Time) -> Result<()> {
        time::validate(new).map_err(InvalidParameter::Time)?;
        let mut clock = self
            .clock
            .try_lock()
            .ok_or(RuntimeError::DeviceError(DeviceFault::Busy))?;
        clock.set_time(new)
    }

    /// GetWakeupTime: always [`RuntimeError::Unsupported`] (see the module doc).
    pub fn get_wakeup_time(&self) -> Result<WakeupTime> {
        Err(RuntimeError::Unsupported)
    }

    /// SetWakeupTime: [`InvalidParameter::NullPointer`] when enabling without a time, else
    /// [`RuntimeError::Unsupported`].
    pub fn set_wakeup_time(&self, enable: bool, time: Option<&Time>) -> Result<()> {
        if enable && time.is_none() {
            return Err(InvalidParameter::NullPointer.into());
        }
        Err(RuntimeError::Unsupported)
    }

    /// ResetSystem through the [`Reset`]; returns only if the reset did not happen.
    pub fn reset_system(&self, reset_type: ResetType, status: Status, data: &[u8]) {
        log::info!(target: "runtime::ops", "ResetSystem type {reset_type} status {status:?} ({} data bytes)", data.len());
        self.reset.reset(reset_type);
    }

    /// GetNextHighMonotonicCount: increments and returns the high 32 bits.
    ///
    /// Errors: [`DeviceFault::MonotonicCountExhausted`] at `u32::MAX` (the count never wraps).
    pub fn get_next_high_monotonic_count(&self) -> Result<u32> {
        self.high_count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_add(1))
            .map(|previous| previous + 1)
            .map_err(|_| RuntimeError::DeviceError(DeviceFault::MonotonicCountExhausted))
    }

    /// UpdateCapsule: [`InvalidParameter::NoCapsules`] for none, else [`RuntimeError::Unsupported`].
    pub fn update_capsule(
        &self,
        capsules: &[&CapsuleHeader],
        _scatter_gather_list: u64,
    ) -> Result<()> {
        if capsules.is_empty() {
            return Err(InvalidParameter::NoCapsules.into());
        }
        Err(RuntimeError::Unsupported)
    }

    /// QueryCapsuleCapabilities: [`InvalidParameter::NoCapsules`] for none, else [`RuntimeError::Unsupported`].
    pub fn query_capsule_capabilities(
        &self,
        capsules: &[&CapsuleHeader],
    ) -> Result<CapsuleCapabilities> {
        if capsules.is_empty() {
            return Err(InvalidParameter::NoCapsules.into());
        }
        Err(RuntimeError::Unsupported)
    }
}

/// Implements the non-variable [`super::RuntimeBackend`] methods by delegating to the `PlatformServices` in field
/// `$field` of the implementing back end.
macro_rules! delegate_platform {
    ($field:ident) => {
        fn get_time(&self) -> Result<(Time, TimeCapabilities)> {
            self.$field.get_time()
        }
        fn set_time(&self, time: &Time) -> Result<()> {
            self.$field.set_time(time)
        }
        fn get_wakeup_time(&self) -> Result<WakeupTime> {
            self.$field.get_wakeup_time()
        }
        fn set_wakeup_time(&self, enable: bool, time: Option<&Time>) -> Result<()> {
            self.$field.set_wakeup_time(enable, time)
        }
        fn reset_system(&self, reset_type: ResetType, status: Status, data: &[u8]) {
            self.$field.reset_system(reset_type, status, data)
        }
        fn get_next_high_monotonic_count(&self) -> Result<u32> {
            self.$field.get_next_high_monotonic_count()
        }
        fn update_capsule(
            &self,
            capsules: &[&CapsuleHeader],
            scatter_gather_list: u64,
        ) -> Result<()> {
            self.$field.update_capsule(capsules, scatter_gather_list)
        }
        fn query_capsule_capabilities(
            &self,
            capsules: &[&CapsuleHeader],
        ) -> Result<CapsuleCapabilities> {
            self.$field.query_capsule_capabilities(capsules)
        }
    };
}
pub(super) use delegate_platform;
