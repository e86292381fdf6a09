//! Check results: a fixed-size failure detail, the per-check line and the closing summary.
//!
//! Design: the app has no heap of its own (it must keep working across ExitBootServices), so a failure detail is
//! formatted into a fixed 120-byte buffer and silently truncated (on a UTF-8 boundary) when longer. Every check is
//! one `selftest: <name> ... ok|FAILED (<detail>)` line; the run ends with `selftest: N passed, M failed`, the
//! plain closing line the integration runner looks for. Lines go to any [`core::fmt::Write`] sink: ConOut while
//! boot services run, COM1 afterwards.

use core::fmt::{self, Write};

/// Why a check failed: a short human-readable sentence, at most [`Detail::CAPACITY`] bytes of UTF-8.
pub struct Detail {
    buf: [u8; Detail::CAPACITY],
    len: usize,
}

impl Detail {
    /// Longest detail kept, in bytes; the rest is dropped.
    pub const CAPACITY: usize = 120;

    /// Formats `args` into a new detail, truncating at [`Detail::CAPACITY`] bytes.
    pub fn new(args: fmt::Arguments<'_>) -> Detail {
        let mut detail = Detail {
            buf: [0; Detail::CAPACITY],
            len: 0,
        };
        // Writing never fails: overflow is truncated, not reported.
        let _ = detail.write_fmt(args);
        detail
    }

    /// The text kept so far.
    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 sequences are ever copied in (see `write_str`).
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("<invalid detail>")
    }
}

impl Write for Detail {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = Detail::CAPACITY - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check.
pub type Outcome = Result<(), Detail>;

/// Returns `Err(Detail)` from the enclosing function when `cond` is false; the detail is formatted like `format!`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err($crate::report::Detail::new(format_args!($($arg)*)));
        }
    };
}

/// Builds an `Err(Detail)` formatted like `format!`.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        Err($crate::report::Detail::new(format_args!($($arg)*)))
    };
}

/// Counts passed and failed checks and prints one line per check.
#[derive(Default)]
pub struct Report {
    /// Checks that passed so far.
    pub passed: u32,
    /// Checks that failed so far.
    pub failed: u32,
}

impl Report {
    /// Records `outcome` of the check `name` and prints its line to `out` (a console error is ignored: the count
    /// still decides the exit status).
    pub fn record(&mut self, out: &mut dyn Write, name: &str, outcome: Outcome) {
        let _ = match outcome {
            Ok(()) => {
                self.passed += 1;
                writeln!(out, "selftest: {name} ... ok")
            }
            Err(detail) => {
                self.failed += 1;
                writeln!(out, "selftest: {name} ... FAILED ({})", detail.as_str())
            }
        };
    }

    /// Prints the closing `selftest: N passed, M failed` line.
    pub fn summary(&self, out: &mut dyn Write) {
        let _ = writeln!(
            out,
            "selftest: {} passed, {} failed",
            self.passed, self.failed
        );
    }

    /// True when no check failed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sink(std::string::String);

    impl Write for Sink {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.push_str(s);
            Ok(())
        }
    }

    fn check_value(v: u32) -> Outcome {
        ensure!(v == 7, "expected 7, got {v:#x}");
        Ok(())
    }

    #[test]
    fn lines_and_summary() {
        let mut out = Sink(std::string::String::new());
        let mut report = Report::default();
        report.record(&mut out, "seven", check_value(7));
        report.record(&mut out, "eight", check_value(8));
        report.summary(&mut out);
        assert_eq!(
            out.0,
            "selftest: seven ... ok\nselftest: eight ... FAILED (expected 7, got 0x8)\nselftest: 1 passed, 1 failed\n"
        );
        assert!(!report.all_passed());
    }

    #[test]
    fn detail_truncates_on_char_boundary() {
        let long = "é".repeat(100); // 200 bytes of two-byte characters
        let detail = Detail::new(format_args!("x{long}"));
        // "x" + 59 whole "é" = 119 bytes; the 60th would straddle the 120-byte limit.
        assert_eq!(detail.as_str().len(), 119);
        assert!(detail.as_str().starts_with("xé"));
    }

    #[test]
    fn fail_macro_formats() {
        let outcome: Outcome = fail!("status {}", 5);
        assert_eq!(outcome.unwrap_err().as_str(), "status 5");
    }
}
