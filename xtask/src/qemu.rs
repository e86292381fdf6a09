//! Running QEMU: the command line for a firmware and machine, and a runner that captures the serial console
//! until a marker appears, the guest exits, or a generous time-out says it hung.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What [`Qemu::run_with_input`] asks for serial input: given the console output so far, the bytes to type now.
pub type SerialInput<'a> = &'a mut dyn FnMut(&str) -> Option<Vec<u8>>;

/// QEMU machine types vmfw supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Machine {
    /// Q35 + ICH9, PCI Express (ECAM).
    Q35,
    /// i440FX + PIIX3/4, conventional PCI.
    Pc,
}

impl Machine {
    /// The `-machine` argument.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Q35 => "q35",
            Machine::Pc => "pc",
        }
    }
}

/// How the firmware is given to QEMU.
#[derive(Clone, Debug)]
pub enum Firmware {
    /// `-bios FILE`.
    Bios(PathBuf),
    /// Read-only pflash unit 0 (and optionally a writable variable store as unit 1).
    Pflash {
        code: PathBuf,
        vars: Option<PathBuf>,
    },
}

/// OVMF from Debian's `ovmf` package: the reference firmware vmfw is compared with.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// OVMF's pristine variable store, copied fresh for every run.
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

impl Firmware {
    /// OVMF with a fresh copy of its variable store at `dir/<name>-ovmf-vars.fd`.
    pub fn ovmf(dir: &std::path::Path, name: &str) -> Result<Firmware, String> {
        let vars = dir.join(format!("{name}-ovmf-vars.fd"));
        std::fs::copy(OVMF_VARS, &vars)
            .map_err(|e| format!("{OVMF_VARS} -> {}: {e}", vars.display()))?;
        Ok(Firmware::Pflash {
            code: PathBuf::from(OVMF_CODE),
            vars: Some(vars),
        })
    }
}

/// A QEMU invocation under construction.
pub struct Qemu {
    args: Vec<String>,
}

impl Qemu {
    /// TCG (KVM is never required), no display, serial on stdio, `isa-debug-exit` at 0xf4, no reboot on reset.
    pub fn new(machine: Machine, memory_mib: u64, firmware: &Firmware) -> Qemu {
        let mut args: Vec<String> = ["-machine", machine.name(), "-accel", "tcg", "-m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(memory_mib.to_string());
        args.extend(
            [
                "-display",
                "none",
                "-serial",
                "stdio",
                "-no-reboot",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04",
            ]
            .map(String::from),
        );
        match firmware {
            Firmware::Bios(path) => args.extend(["-bios".into(), path.display().to_string()]),
            Firmware::Pflash { code, vars } => {
                args.extend([
                    "-drive".into(),
                    format!(
                        "if=pflash,format=raw,unit=0,readonly=on,file={}",
                        code.display()
                    ),
                ]);
                if let Some(vars) = vars {
                    args.extend([
                        "-drive".into(),
                        format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
                    ]);
                }
            }
        }
        Qemu { args }
    }

    /// Appends raw QEMU arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, extra: I) -> Qemu {
        self.args.extend(extra.into_iter().map(Into::into));
        self
    }

    /// The command line, for logs and error messages.
    pub fn command_line(&self) -> String {
        format!("qemu-system-x86_64 {}", self.args.join(" "))
    }

    /// The `qemu-system-x86_64` command with these arguments, for runners that need their own stdio.
    pub fn command(&self) -> Command {
        let mut command = Command::new("qemu-system-x86_64");
        command.args(&self.args);
        command
    }

    /// Runs with the console on this terminal until the guest exits; returns QEMU's exit status.
    pub fn run_interactive(&self) -> Result<i32, String> {
        eprintln!("$ {}", self.command_line());
        let status = self
            .command()
            .status()
            .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
        Ok(status.code().unwrap_or(-1))
    }

    /// Runs headless, collecting the serial console, until `stop_when` returns true for the output so far, the
    /// guest exits, or `timeout` passes (then the run is marked timed out and QEMU is killed). Times are measured
    /// from just before QEMU is started.
    pub fn run_captured(
        &self,
        timeout: Duration,
        echo: bool,
        stop_when: impl Fn(&str) -> bool,
    ) -> Result<Run, String> {
        self.run_with_input(timeout, echo, stop_when, None)
    }

    /// [`Qemu::run_captured`] with the guest's serial input on a pipe: after every console line, and every 200 ms
    /// without one, `input` sees the output so far; bytes it returns are written to the serial line at once.
    pub fn run_with_input(
        &self,
        timeout: Duration,
        echo: bool,
        stop_when: impl Fn(&str) -> bool,
        mut input: Option<SerialInput<'_>>,
    ) -> Result<Run, String> {
        let started = Instant::now();
        let mut child = self
            .command()
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            while let Ok(n) = reader.read_until(b'\n', &mut line) {
                if n == 0
                    || tx
                        .send((
                            Instant::now(),
                            String::from_utf8_lossy(&line).replace('\r', ""),
                        ))
                        .is_err()
                {
                    break;
                }
                line.clear();
            }
        });
        let mut output = String::new();
        let mut lines = Vec::new();
        let mut stopped_by_marker = false;
        let mut timed_out = false;
        let mut serial_in = child.stdin.take();
        loop {
            let mut closed = false;
            if let (Some(input), Some(pipe)) = (input.as_mut(), serial_in.as_mut()) {
                if let Some(bytes) = input(&output) {
                    // A guest that is gone cannot read; how the run ended says the rest.
                    closed = pipe.write_all(&bytes).and_then(|()| pipe.flush()).is_err();
                }
            }
            if closed {
                serial_in = None;
            }
            let left = timeout.saturating_sub(started.elapsed());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok((arrived, line)) => {
                    if echo {
                        eprint!("{line}");
                    }
                    output.push_str(&line);
                    lines.push((arrived.duration_since(started), line));
                    if stop_when(&output) {
                        stopped_by_marker = true;
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) if left.is_zero() => {
                    timed_out = true;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        let elapsed = started.elapsed();
        let exit_code = finish(&mut child, stopped_by_marker || timed_out);
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        Ok(Run {
            output,
            lines,
            exit_code,
            timed_out,
            elapsed,
            stderr,
        })
    }
}

fn finish(child: &mut Child, kill: bool) -> Option<i32> {
    if kill {
        let _ = child.kill();
        let _ = child.wait();
        None
    } else {
        child.wait().ok().and_then(|s| s.code())
    }
}

/// The outcome of a captured run.
pub struct Run {
    /// Everything the serial console printed (CR removed).
    pub output: String,
    /// The same output line by line (each with its newline, if it had one) with the time it arrived, measured
    /// from just before QEMU was started.
    pub lines: Vec<(Duration, String)>,
    /// QEMU's exit status; `None` when the runner stopped it.
    pub exit_code: Option<i32>,
    /// The run hit its time-out.
    pub timed_out: bool,
    /// Wall time from start to stop.
    pub elapsed: Duration,
    /// QEMU's own error output.
    pub stderr: String,
}

impl Run {
    /// A short description for failures: how it ended and the last lines of the console.
    pub fn describe(&self) -> String {
        let tail: Vec<&str> = self.output.lines().rev().take(25).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{} after {:.1} s; qemu stderr: {}\n--- last console lines ---\n{}",
            match (self.timed_out, self.exit_code) {
                (true, _) => "timed out".to_string(),
                (false, Some(code)) => format!("qemu exited with {code}"),
                (false, None) => "stopped at marker".to_string(),
            },
            self.elapsed.as_secs_f64(),
            self.stderr.trim(),
            tail.join("\n")
        )
    }
}

/// `isa-debug-exit` turns the byte `v` written to port 0xf4 into QEMU exit status `(v << 1) | 1`.
pub fn debug_exit_status(value: u8) -> i32 {
    (i32::from(value) << 1) | 1
}
