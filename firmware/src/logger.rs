//! `log` records on the console, as `[   12.345] LEVEL target: message` (milliseconds since reset).
//!
//! The default level comes from the build (`cargo xtask build --log debug` sets `VMFW_LOG`).

use log::{LevelFilter, Log, Metadata, Record};

struct Logger;

static LOGGER: Logger = Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let us = crate::platform::timer::micros_since_reset();
            crate::println!(
                "[{:5}.{:03}] {:5} {}: {}",
                us / 1_000_000,
                (us / 1000) % 1000,
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// The level compiled in by `cargo xtask build --log LEVEL` (default `info`).
pub fn build_level() -> LevelFilter {
    match option_env!("VMFW_LOG") {
        Some("off") => LevelFilter::Off,
        Some("error") => LevelFilter::Error,
        Some("warn") => LevelFilter::Warn,
        Some("debug") => LevelFilter::Debug,
        Some("trace") => LevelFilter::Trace,
        _ => LevelFilter::Info,
    }
}

/// Installs the console logger at the build's level.
pub fn init() {
    // set_logger fails only if called twice; the firmware calls it once at bring-up.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(build_level());
}
