//! After ExitBootServices the app behaves like an OS taking over the machine:
//!
//! 1. [`enter`]: interrupts off; its own page tables (identity map, see [`crate::paging`]), GDT and IDT
//!    ([`crate::cpu`]); then it continues on its own stack in loader memory ([`os_main`]).
//! 2. [`os_main`]: table CRCs again, the TSC calibrated against the PIT, a configuration-space scan of every PCI
//!    function and the state of each device it knows; then all boot-services and conventional memory, minus the
//!    app's own ranges, is filled with the canary, "canary armed" is printed on COM1, and the app waits for the
//!    runner's "traffic sent" line (at most [`RUNNER_TIMEOUT_MS`]) and then [`SETTLE_MS`] more before it looks for
//!    changed pages. The verdicts, the JSON report between markers and the `isa-debug-exit` value follow.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use core::fmt::Write;

use handoff_audit_core::binding::Binding;
use handoff_audit_core::canary::{self, Changes};
use handoff_audit_core::device;
use handoff_audit_core::judge;
use handoff_audit_core::memmap::{self, Range, PAGE_SIZE};
use handoff_audit_core::pci::{self, PortConfig};
use handoff_audit_core::report::{CanaryResult, Report, ARMED_LINE, TRAFFIC_SENT};
use handoff_audit_core::serial::LineReader;
use handoff_audit_core::timer;

use crate::handoff::{self, Handoff};
use crate::paging::{self, PageTables, PhysMmio};
use crate::x86::{self, X86Ports};
use crate::{com1, cpu, finish};

/// Longest wait for the runner's "traffic sent" line.
pub const RUNNER_TIMEOUT_MS: u64 = 120_000;
/// Wait after the runner's line (or the time-out) before the scan, so frames in flight land.
pub const SETTLE_MS: u64 = 2_000;
/// Changed ranges listed in the report (more are counted).
const MAX_RANGES: usize = 64;

/// What survives the switch.
pub struct Context {
    /// The report so far.
    pub report: Report,
    /// What ExitBootServices left.
    pub handoff: Handoff,
    /// The app's page tables.
    pub tables: Option<PageTables>,
}

fn build_tables(h: &Handoff) -> Result<PageTables, paging::MapError> {
    let (pool, pages) = h.table_pool;
    let mut t = PageTables::new(pool, pages)?;
    for r in h.map.memory_ranges().iter().chain(&h.own) {
        t.map_range(*r, false)?;
    }
    for r in h.map.mmio_ranges() {
        t.map_range(r, true)?;
    }
    t.map_range(Range::at(0, 1 << 32), true)?;
    Ok(t)
}

/// Takes over the CPU: tables, GDT, IDT, stack. Never returns.
pub fn enter(ctx: Box<Context>) -> ! {
    x86::cli();
    let ctx = Box::leak(ctx);
    if x86::cr4() & x86::CR4_LA57 != 0 {
        ctx.report
            .error("5-level paging is on; the audit builds 4-level tables only");
        finish(&ctx.report);
    }
    match build_tables(&ctx.handoff) {
        Ok(t) => {
            // SAFETY: the tables map all memory of the final map and the app's own ranges (image, heap, pool,
            // stack), so code, data and stack stay reachable after the switch.
            unsafe { t.activate() };
            ctx.tables = Some(t);
        }
        Err(e) => {
            ctx.report.error(format!("page tables: {e:?}"));
            finish(&ctx.report);
        }
    }
    // SAFETY: interrupts are off and the image stays mapped.
    unsafe { cpu::load() };
    let (stack, pages) = ctx.handoff.stack;
    let _ = writeln!(
        com1(),
        "handoff-audit: own page tables, GDT, IDT and stack in loader memory"
    );
    // SAFETY: the stack is the app's own LoaderData allocation, mapped; nothing on the old stack is used again.
    unsafe { cpu::switch_stack(stack + pages * PAGE_SIZE, os_main, ctx) }
}

fn calibrate(report: &mut Report) -> Option<u64> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        match timer::calibrate(&mut X86Ports, &mut x86::rdtsc, 50) {
            Ok(hz) => runs.push(hz),
            Err(e) => {
                report.error(format!("TSC calibration against the PIT failed: {e:?}"));
                return None;
            }
        }
    }
    runs.sort_unstable();
    Some(runs[1])
}

fn pages(ranges: &[Range]) -> impl Iterator<Item = u64> + '_ {
    ranges
        .iter()
        .flat_map(|r| (r.start..r.end).step_by(PAGE_SIZE as usize))
}

fn fill(free: &[Range]) {
    for base in pages(free) {
        let page = base as *mut u64;
        // SAFETY: `base` is a free page (boot-services or conventional memory after ExitBootServices, not the
        // app's own), identity-mapped; the OS, i.e. this app, owns it now.
        canary::fill(base, |i, w| unsafe { page.add(i).write_volatile(w) });
    }
}

fn scan(free: &[Range]) -> Changes {
    let mut changes = Changes::new(MAX_RANGES);
    for base in pages(free) {
        let page = base as *const u64;
        // SAFETY: as in `fill`; volatile because a device may have written the page.
        if !canary::intact(base, |i| unsafe { page.add(i).read_volatile() }) {
            changes.record(base);
        }
    }
    changes
}

/// Waits for the runner's line; returns whether it came.
fn wait_for_runner(deadline: u64) -> bool {
    let mut uart = com1();
    let mut lines = LineReader::default();
    while x86::rdtsc() < deadline {
        while let Some(byte) = uart.try_read() {
            if lines.push(byte, TRAFFIC_SENT) {
                return true;
            }
        }
    }
    false
}

fn spin_until(deadline: u64) {
    while x86::rdtsc() < deadline {
        core::hint::spin_loop();
    }
}

/// The OS side, on the app's own stack.
pub extern "sysv64" fn os_main(ctx: *mut Context) -> ! {
    // SAFETY: `enter` passes its leaked context, used by nothing else.
    let ctx = unsafe { &mut *ctx };
    let report = &mut ctx.report;
    handoff::table_checks(report, "after ExitBootServices", false);
    let Some(tsc_hz) = calibrate(report) else {
        finish(report);
    };
    report.tsc_hz = Some(tsc_hz);

    let mut cfg = PortConfig(X86Ports);
    let functions = pci::scan(&mut cfg);
    let tables = ctx.tables.as_mut().expect("set by enter");
    let mut mmio = PhysMmio {
        tables,
        failed: None,
    };
    let states: Vec<_> = functions
        .into_iter()
        .map(|f| {
            let (state, forced) = device::read_state(&f, &mut cfg, &mut mmio, &mut X86Ports);
            (f, state, forced)
        })
        .collect();
    if let Some(e) = mmio.failed {
        report.error(format!("mapping a device register failed: {e:?}"));
    }
    let _ = writeln!(com1(), "handoff-audit: {} PCI functions read", states.len());

    let free = memmap::subtract(&ctx.handoff.map.free_ranges(), &ctx.handoff.own);
    let free_bytes: u64 = free.iter().map(Range::len).sum();
    let _ = writeln!(
        com1(),
        "handoff-audit: filling {} MiB of free memory with the canary",
        free_bytes >> 20
    );
    let started = x86::rdtsc();
    fill(&free);
    let _ = writeln!(com1(), "{ARMED_LINE}");
    let runner_confirmed = wait_for_runner(x86::rdtsc() + timer::ticks(tsc_hz, RUNNER_TIMEOUT_MS));
    spin_until(x86::rdtsc() + timer::ticks(tsc_hz, SETTLE_MS));
    let changes = scan(&free);
    let wait_ms = (x86::rdtsc() - started) * 1000 / tsc_hz;
    let _ = writeln!(
        com1(),
        "handoff-audit: canary scanned: {} changed page(s)",
        changes.pages
    );
    if !runner_confirmed {
        report.error(format!(
            "the runner did not confirm its traffic within {RUNNER_TIMEOUT_MS} ms"
        ));
    }
    let found: Vec<pci::Bdf> = states.iter().map(|(f, _, _)| f.bdf).collect();
    let binding_of = |bdf| match &report.bindings {
        Some(b) => b.for_function(bdf),
        None => Binding::Unknown("the PCI I/O handles were not asked".into()),
    };
    let devices = states
        .into_iter()
        .map(|(f, state, forced)| {
            let binding = binding_of(f.bdf);
            judge::judge(f, state, forced, binding, &changes.ranges)
        })
        .collect();
    report.devices = devices;
    if let Some(b) = &report.bindings {
        for bdf in b.unmatched(&found) {
            report.notes.push(format!(
                "a PCI I/O handle reports {bdf}, which the configuration-space scan did not find"
            ));
        }
    }
    report.canary = Some(CanaryResult {
        free_bytes,
        runner_confirmed,
        wait_ms,
        changes,
    });
    finish(report)
}
