//! The narrow platform interface the event engine needs (interrupt flag, idle, timer, watchdog reset).

/// Machine hooks of the event engine. The firmware binds them to `cli`/`sti`/`hlt`, its periodic timer and
/// `ResetSystem`; host tests use an in-process fake.
///
/// Methods take `&self` because they are called from inside boot services that may be re-entered; real
/// implementations are stateless, fakes keep their state in `Cell`s.
pub trait Platform {
    /// Mask maskable interrupts (entering `TPL_HIGH_LEVEL`).
    fn disable_interrupts(&self);
    /// Unmask maskable interrupts (leaving `TPL_HIGH_LEVEL`).
    fn enable_interrupts(&self);
    /// Wait for the next interrupt (`hlt`). Called by `WaitForEvent` at `TPL_APPLICATION`, interrupts enabled,
    /// with no engine state borrowed, so the timer interrupt may call `timer_tick`.
    fn idle(&self);
    /// Stop the periodic timer interrupt (ExitBootServices phase 2).
    fn stop_timer(&self);
    /// Restart the periodic timer interrupt (ExitBootServices failed with a stale map key).
    fn start_timer(&self);
    /// The watchdog expired: log `code` and `data` (`WatchdogData` of `SetWatchdogTimer()`) and reset the
    /// platform (UEFI 2.10 section 7.5, `SetWatchdogTimer()`). On hardware this does not return.
    fn watchdog_reset(&self, code: u64, data: &[u8]);
}
