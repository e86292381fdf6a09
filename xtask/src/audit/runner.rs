//! Running an audit in QEMU: the serial console is captured line by line; when the app prints "canary armed",
//! the runner sends Ethernet frames to every NIC over its UDP link and then types "traffic sent" on the serial
//! console (QEMU's stdin), which the app waits for before it scans the canary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use handoff_audit_core::report::{ARMED_LINE, TRAFFIC_SENT};

use super::devices::{frames, Link};
use crate::qemu::Qemu;

/// The outcome of one QEMU run.
pub struct AuditRun {
    /// The serial console (CR removed).
    pub output: String,
    /// QEMU's exit status (`None` when killed at the time-out).
    pub exit_code: Option<i32>,
    /// Whether the time-out ended the run.
    pub timed_out: bool,
    /// What was sent to the NICs ("virtio-net 16 frames, e1000 16 frames"; empty when never armed).
    pub traffic: String,
    /// Wall time.
    pub elapsed: Duration,
    /// QEMU's own error output.
    pub stderr: String,
}

impl AuditRun {
    /// How the run ended and the last console lines, for error messages.
    pub fn describe(&self) -> String {
        let tail: Vec<&str> = self.output.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{} after {:.1} s; qemu stderr: {}\n--- last console lines ---\n{}",
            match (self.timed_out, self.exit_code) {
                (true, _) => "timed out".to_string(),
                (false, Some(code)) => format!("qemu exited with {code}"),
                (false, None) => "qemu was stopped".to_string(),
            },
            self.elapsed.as_secs_f64(),
            self.stderr.trim(),
            tail.join("\n")
        )
    }
}

/// Sends every NIC its frames; says how many each got.
fn send_traffic(links: &[Link]) -> String {
    let mut summary = Vec::new();
    for link in links {
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, link.qemu_port);
        let mut sent = 0;
        for frame in frames(link.mac) {
            if link.socket.send_to(&frame, to).is_ok() {
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        summary.push(format!("{} {sent} frames", link.name));
    }
    summary.join(", ")
}

/// Runs `qemu` (which must use `-serial stdio`) until it exits or `timeout` passes, feeding the NICs once the
/// canary is armed. `echo` copies the console to stderr as it comes.
pub fn run(qemu: &Qemu, links: &[Link], timeout: Duration, echo: bool) -> Result<AuditRun, String> {
    let mut child = qemu
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let started = Instant::now();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut line) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&line).replace('\r', ""))
                    .is_err()
            {
                break;
            }
            line.clear();
        }
    });
    let mut output = String::new();
    let mut traffic = String::new();
    let mut armed = false;
    let mut timed_out = false;
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                // The report itself is printed as a table afterwards.
                if echo && !line.starts_with("{\"tool\"") {
                    eprint!("{line}");
                }
                let is_armed = line.trim_end() == ARMED_LINE;
                output.push_str(&line);
                if is_armed && !armed {
                    armed = true;
                    traffic = send_traffic(links);
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = stdin.write_all(format!("{TRAFFIC_SENT}\r\n").as_bytes());
                    let _ = stdin.flush();
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
    drop(stdin);
    let exit_code = if timed_out {
        let _ = child.kill();
        let _ = child.wait();
        None
    } else {
        child.wait().ok().and_then(|s| s.code())
    };
    Ok(AuditRun {
        output,
        exit_code,
        timed_out,
        traffic,
        elapsed: started.elapsed(),
        stderr: stderr_thread.join().unwrap_or_default(),
    })
}
