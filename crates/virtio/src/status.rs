//! Device status (virtio 1.2 §2.1) and the driver initialisation sequence (§3.1.1).
//!
//! [`initialize`] performs, in order: reset (write 0, wait for 0), `ACKNOWLEDGE`, `DRIVER`, read the device
//! features, [`crate::features::negotiate`], write the driver features, `FEATURES_OK` and read it back (modern
//! only; the legacy interface has no such step, §3.1.2), the caller's queue setup, `DRIVER_OK`. Status is written
//! cumulatively (each write keeps the bits already set). On any failure after the reset it writes the bits set so
//! far plus `FAILED` and returns the error that caused it.
//!
//! [`reset`] is also the whole of a driver's ExitBootServices quiesce: it touches only `device_status`, allocates
//! nothing and, once it returns `Ok`, the device has stopped using every queue and buffer (§2.1.2, §4.1.4.3.2).

use crate::features::negotiate;
use crate::transport::{Transport, TransportKind};
use crate::Error;

bitflags::bitflags! {
    /// The `device_status` field (§2.1). The empty set written to it means reset.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct DeviceStatus: u8 {
        /// The guest has noticed the device.
        const ACKNOWLEDGE = 1;
        /// The guest knows how to drive the device.
        const DRIVER = 2;
        /// The driver is set up and ready to drive the device.
        const DRIVER_OK = 4;
        /// The driver has acknowledged the features it understands; feature negotiation is complete.
        const FEATURES_OK = 8;
        /// The device hit an error it cannot recover from without a reset.
        const DEVICE_NEEDS_RESET = 0x40;
        /// The guest has given up on the device.
        const FAILED = 0x80;
    }
}

/// Status reads [`reset`] performs before reporting [`Error::ResetTimeout`].
pub const RESET_POLL_LIMIT: u32 = 1_000_000;

/// Resets the device: writes 0 to `device_status`, then reads it until it is 0, at most [`RESET_POLL_LIMIT`]
/// times. This is the quiesce for ExitBootServices: no allocation, no other register touched.
///
/// Errors: [`Error::ResetTimeout`] if the device never reads back 0.
pub fn reset<T: Transport + ?Sized>(transport: &mut T) -> Result<(), Error> {
    reset_with_limit(transport, RESET_POLL_LIMIT)
}

/// [`reset`] with an explicit bound on the number of status reads (at least one read is always made).
///
/// Errors: [`Error::ResetTimeout`].
pub fn reset_with_limit<T: Transport + ?Sized>(
    transport: &mut T,
    max_polls: u32,
) -> Result<(), Error> {
    transport.set_status(DeviceStatus::empty());
    wait_for_reset(|| transport.status().bits(), max_polls)
}

/// The waiting half of a reset: calls `read_status` until it returns 0, at most `max_polls` times (at least once).
/// Shared by [`reset_with_limit`] and [`crate::pci::StatusRegister::reset`].
///
/// Errors: [`Error::ResetTimeout`].
pub(crate) fn wait_for_reset(
    mut read_status: impl FnMut() -> u8,
    max_polls: u32,
) -> Result<(), Error> {
    let mut last = 0;
    for poll in 1..=max_polls.max(1) {
        last = read_status();
        if last == 0 {
            log::trace!("device reset after {poll} status reads");
            return Ok(());
        }
        core::hint::spin_loop();
    }
    Err(Error::ResetTimeout {
        status: last,
        polls: max_polls.max(1),
    })
}

/// Runs the §3.1.1 initialisation sequence (steps in the module notes) and returns the negotiated features.
///
/// `driver_supported` is the device-specific feature set the driver implements; `setup_queues` is called with the
/// transport and the negotiated features after `FEATURES_OK` and must discover and activate the driver's queues
/// (see [`crate::queue::activate`]); its error aborts initialisation.
///
/// Errors: [`Error::ResetTimeout`], [`Error::Version1NotOffered`], [`Error::FeaturesNotAccepted`],
/// [`Error::DeviceNeedsReset`] (read back after `DRIVER_OK`), or the error of `setup_queues`. In each case the
/// device has been left with `FAILED` set.
pub fn initialize<T, F>(
    transport: &mut T,
    driver_supported: u64,
    setup_queues: F,
) -> Result<u64, Error>
where
    T: Transport + ?Sized,
    F: FnOnce(&mut T, u64) -> Result<(), Error>,
{
    let mut current = DeviceStatus::empty();
    let result = run_sequence(transport, driver_supported, setup_queues, &mut current);
    if let Err(error) = result {
        log::warn!("virtio initialisation failed: {error:?}");
        transport.set_status(current | DeviceStatus::FAILED);
    }
    result
}

fn run_sequence<T, F>(
    transport: &mut T,
    driver_supported: u64,
    setup_queues: F,
    current: &mut DeviceStatus,
) -> Result<u64, Error>
where
    T: Transport + ?Sized,
    F: FnOnce(&mut T, u64) -> Result<(), Error>,
{
    reset(transport)?;
    advance(transport, current, DeviceStatus::ACKNOWLEDGE);
    advance(transport, current, DeviceStatus::DRIVER);

    let kind = transport.kind();
    let device_features = transport.read_device_features();
    let features = negotiate(kind, device_features, driver_supported)?;
    transport.write_driver_features(features);
    log::debug!("features: device {device_features:#x}, accepted {features:#x}");

    if kind == TransportKind::Modern {
        advance(transport, current, DeviceStatus::FEATURES_OK);
        let status = transport.status();
        if !status.contains(DeviceStatus::FEATURES_OK) {
            current.remove(DeviceStatus::FEATURES_OK);
            return Err(Error::FeaturesNotAccepted {
                driver_features: features,
                status: status.bits(),
            });
        }
    }

    setup_queues(transport, features)?;
    advance(transport, current, DeviceStatus::DRIVER_OK);
    let status = transport.status();
    if status.contains(DeviceStatus::DEVICE_NEEDS_RESET) {
        return Err(Error::DeviceNeedsReset {
            status: status.bits(),
        });
    }
    Ok(features)
}

fn advance<T: Transport + ?Sized>(
    transport: &mut T,
    current: &mut DeviceStatus,
    bit: DeviceStatus,
) {
    *current |= bit;
    transport.set_status(*current);
}
