//! Time for bounded waits.
//!
//! Drivers poll their used rings (vmfw runs with `VIRTQ_AVAIL_F_NO_INTERRUPT`), and a device that never answers
//! must cost a bounded time, not a hang. [`Clock`] is the one time source the waits use: the firmware binds it to
//! its calibrated TSC, tests to a counter that advances on every read, so a time-out test takes no real time.

/// A monotonic microsecond clock.
pub trait Clock {
    /// Microseconds since an arbitrary fixed origin; never decreases.
    fn now_us(&mut self) -> u64;
}
