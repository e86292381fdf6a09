//! Console integration tests: keys typed on the guest's serial line reach a UEFI application as EFI keys.
//!
//! The boot-services self-test runs with `-append console-keys`: it prints `selftest: console: waiting for
//! keys` and waits. This test then types on QEMU's stdin, which is COM1 (`-serial stdio`): the bytes of a
//! VT100/xterm terminal for Up, `x`, Ctrl+Right, Enter, F1, Backspace (DEL) and `ä` in one write, and after a
//! pause a lone ESC, which the firmware must report as the Escape key once its escape timeout passed. The app
//! compares the keys it reads with ReadKeyStroke/ReadKeyStrokeEx (and a key notification for `x`); the test
//! passes when that check and the whole self-test pass.

use std::time::{Duration, Instant};

use super::{Ctx, TestFn};
use crate::qemu::{Firmware, Machine, Qemu};
use crate::uefi_app::{build_app, verdict, SELFTEST_PACKAGE};

pub const TESTS: &[(&str, TestFn)] = &[
    ("console_serial_keys_reach_the_app_q35", |c| {
        serial_keys(c, Machine::Q35)
    }),
    ("console_serial_keys_reach_the_app_pc", |c| {
        serial_keys(c, Machine::Pc)
    }),
];

/// The line after which the app reads keys.
const MARKER: &str = "selftest: console: waiting for keys";
/// The app's verdict on the typed keys.
const CHECK_LINE: &str = "selftest: console: keys typed on the serial line ... ok";
/// Up, `x`, Ctrl+Right, Enter, F1, Backspace, `ä`: as a terminal sends them.
const KEYS: &[u8] = b"\x1b[Ax\x1b[1;5C\r\x1bOP\x7f\xc3\xa4";
/// The Escape key: ESC with nothing after it.
const LONE_ESC: &[u8] = b"\x1b";
/// Wait between the two writes: longer than the firmware's 100 ms escape timeout.
const PAUSE: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(120);

fn serial_keys(ctx: &Ctx, machine: Machine) -> Result<(), String> {
    let app = build_app(SELFTEST_PACKAGE)?;
    let qemu = Qemu::new(machine, 512, &Firmware::Bios(ctx.image.clone())).args([
        "-kernel".to_string(),
        app.display().to_string(),
        "-append".to_string(),
        "console-keys".to_string(),
        "-net".to_string(),
        "none".to_string(),
    ]);
    let mut typed_at: Option<Instant> = None;
    let mut escaped = false;
    let mut typist = |output: &str| -> Option<Vec<u8>> {
        match typed_at {
            None if output.contains(MARKER) => {
                typed_at = Some(Instant::now());
                Some(KEYS.to_vec())
            }
            Some(at) if !escaped && at.elapsed() >= PAUSE => {
                escaped = true;
                Some(LONE_ESC.to_vec())
            }
            _ => None,
        }
    };
    let run = qemu.run_with_input(TIMEOUT, false, |_| false, Some(&mut typist))?;
    let fail = |why: String| {
        Err(format!(
            "{why}\n{}\n{}",
            qemu.command_line(),
            run.describe()
        ))
    };
    if typed_at.is_none() {
        return fail(format!(
            "the app never printed {MARKER:?} (load options not passed?)"
        ));
    }
    if !run.output.lines().any(|l| l.contains(CHECK_LINE)) {
        return fail(format!("no {CHECK_LINE:?} line"));
    }
    verdict(&run.output, run.exit_code).or_else(fail)
}
