//! Verdicts per PCI function: did a firmware driver manage it, and did the firmware leave it able to do DMA into
//! memory the OS now owns.
//!
//! Rules, in order:
//! 1. **live** (a violation): the device-specific state says it still runs (virtio DRIVER_OK or an enabled
//!    queue, NVMe CC.EN/CSTS.RDY, xHCI R/S or not halted, e1000 RCTL.EN) — with Bus Master on it can write memory
//!    now; with Bus Master off it resumes the moment the OS sets Bus Master, which OS drivers commonly do before
//!    they reset the device; or canary pages changed at its rings or buffers.
//! 2. **warning**: Bus Master left on for an idle or unknown device (bridges excepted: their Bus Master bit only
//!    forwards their children's DMA), or a virtio device whose status was not reset to 0.
//! 3. **quiet** otherwise.
//!
//! "Driven by the firmware" is the firmware's own answer before ExitBootServices ([`crate::binding`]): some agent
//! held the function's PCI I/O `BY_DRIVER`. It does not change the verdict but its reason: a live device its
//! firmware driver left running is the broken promise itself; a live device no firmware driver held is live all
//! the same (the OS inherits the DMA whoever started it) and the reason says it was started outside the UEFI
//! driver model. The registers' traces (queue and ring addresses, a non-zero virtio status) are kept as evidence
//! of a touch outside the driver model.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::binding::Binding;
use crate::canary;
use crate::device::{self, State};
use crate::memmap::Range;
use crate::pci::Function;

/// The verdict on one function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Quiet,
    /// Suspicious but not proof of DMA into OS memory.
    Warning,
    /// Left able to do DMA, or caught doing it: a handoff violation.
    Live,
}

impl Verdict {
    /// The report's name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Quiet => "quiet",
            Verdict::Warning => "warning",
            Verdict::Live => "live",
        }
    }
}

/// Everything found about one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The function.
    pub function: Function,
    /// [`device::kind_name`].
    pub kind: String,
    /// Its state.
    pub state: State,
    /// Decoding was off and was enabled for a moment to read the state.
    pub decode_forced: bool,
    /// Why it can still do DMA.
    pub running: Vec<String>,
    /// What the registers show was configured (queue and ring addresses, a non-zero status).
    pub traces: Vec<String>,
    /// Changed canary ranges at its rings or buffers.
    pub canary_hits: Vec<Range>,
    /// Whether a firmware driver held its PCI I/O `BY_DRIVER` before ExitBootServices.
    pub binding: Binding,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one line.
    pub reason: String,
}

/// Judges a function from its state (read before the canary was armed), its binding (asked before
/// ExitBootServices) and the changed canary ranges (empty when the canary did not run).
pub fn judge(
    function: Function,
    state: State,
    decode_forced: bool,
    binding: Binding,
    changed: &[Range],
) -> Finding {
    let running = state.running();
    let traces = state.traces();
    let mut canary_hits: Vec<Range> = state
        .rings()
        .iter()
        .flat_map(|r| canary::touching(changed, &r.range))
        .collect();
    canary_hits.sort();
    canary_hits.dedup();
    let bus_master = function.bus_master();
    let is_bridge = function.class[0] == 0x06;
    let virtio_not_reset = match &state {
        State::Virtio(v) => [&v.modern, &v.legacy]
            .iter()
            .any(|view| view.as_ref().is_some_and(|view| view.device_status != 0)),
        _ => false,
    };
    let (verdict, reason) = if !canary_hits.is_empty() {
        (
            Verdict::Live,
            format!(
                "wrote {} canary page(s) at its rings/buffers after ExitBootServices",
                canary_hits.iter().map(|r| r.len() / 4096).sum::<u64>()
            ),
        )
    } else if !running.is_empty() && bus_master {
        (
            Verdict::Live,
            format!("still running with bus master on: {}", running.join("; ")),
        )
    } else if !running.is_empty() {
        (
            Verdict::Live,
            format!(
                "still running, bus master off (DMA resumes when the OS sets bus master): {}",
                running.join("; ")
            ),
        )
    } else if virtio_not_reset {
        (
            Verdict::Warning,
            format!("virtio device not reset: {}", traces.join("; ")),
        )
    } else if bus_master && !is_bridge {
        let why = match state {
            State::Unknown => "no state reader for this device",
            State::Unreadable(why) => why,
            _ => "device idle",
        };
        (Verdict::Warning, format!("bus master left on ({why})"))
    } else {
        (Verdict::Quiet, String::from("stopped"))
    };
    let origin = match (&binding, verdict) {
        (Binding::NotDriven | Binding::NoPciIo, Verdict::Live) => {
            format!(
                "{}: started outside the UEFI driver model",
                binding.clause()
            )
        }
        _ => binding.clause(),
    };
    let reason = format!("{reason} ({origin})");
    Finding {
        kind: device::kind_name(&function),
        function,
        state,
        decode_forced,
        running,
        traces,
        canary_hits,
        binding,
        verdict,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::{Driver, OPEN_PROTOCOL_BY_DRIVER};
    use crate::device::e1000::E1000State;
    use crate::device::nvme::NvmeState;
    use crate::device::virtio::{View, VirtioState};
    use crate::device::Ring;
    use crate::pci::{Bar, Bdf, COMMAND_BUS_MASTER, COMMAND_MEMORY};
    use alloc::vec;

    fn function(class: [u8; 3], command: u16) -> Function {
        Function {
            bdf: Bdf {
                bus: 0,
                device: 2,
                function: 0,
            },
            vendor: 0x1b36,
            device: 0x10,
            class,
            header_type: 0,
            subsystem: 0,
            command,
            bars: [Bar::None; 6],
            capabilities: vec![],
        }
    }

    fn nvme(cc: u32, asq: u64) -> State {
        State::Nvme(NvmeState {
            cc,
            csts: cc,
            aqa: 0,
            asq,
            acq: 0,
        })
    }

    const NVME: [u8; 3] = [1, 8, 2];

    fn driven_by(name: &str) -> Binding {
        Binding::Driven(vec![Driver {
            agent: 0x7000,
            attributes: OPEN_PROTOCOL_BY_DRIVER,
            name: Some(name.into()),
        }])
    }

    #[test]
    fn running_with_bus_master_is_live_and_names_its_driver() {
        let f = judge(
            function(NVME, COMMAND_BUS_MASTER | COMMAND_MEMORY),
            nvme(1, 0x8000),
            false,
            driven_by("NVM Express Driver"),
            &[],
        );
        assert_eq!(f.verdict, Verdict::Live);
        assert_eq!(f.binding.driven(), Some(true));
        assert!(f.reason.contains("CC.EN=1"), "{}", f.reason);
        assert!(
            f.reason.ends_with("(driven by \"NVM Express Driver\")"),
            "{}",
            f.reason
        );
    }

    #[test]
    fn running_without_bus_master_is_still_live() {
        let f = judge(
            function(NVME, COMMAND_MEMORY),
            nvme(1, 0x8000),
            false,
            driven_by("x"),
            &[],
        );
        assert_eq!(f.verdict, Verdict::Live);
        assert!(f.reason.contains("bus master off"));
    }

    #[test]
    fn live_without_a_firmware_driver_is_still_live_and_says_so() {
        for binding in [Binding::NotDriven, Binding::NoPciIo] {
            let f = judge(
                function(NVME, COMMAND_BUS_MASTER | COMMAND_MEMORY),
                nvme(1, 0x8000),
                false,
                binding.clone(),
                &[],
            );
            assert_eq!(f.verdict, Verdict::Live, "{binding:?}");
            assert_eq!(f.binding.driven(), Some(false));
            assert!(
                f.reason.contains("started outside the UEFI driver model"),
                "{}",
                f.reason
            );
        }
    }

    #[test]
    fn the_binding_never_changes_the_verdict() {
        let bindings = [
            driven_by("d"),
            Binding::NotDriven,
            Binding::NoPciIo,
            Binding::Unknown("LocateHandleBuffer: NOT_READY".into()),
        ];
        for (state, command, want) in [
            (nvme(1, 0x8000), COMMAND_MEMORY, Verdict::Live),
            (nvme(0, 0x8000), COMMAND_BUS_MASTER, Verdict::Warning),
            (nvme(0, 0), 0, Verdict::Quiet),
        ] {
            for b in &bindings {
                let f = judge(
                    function(NVME, command),
                    state.clone(),
                    false,
                    b.clone(),
                    &[],
                );
                assert_eq!(f.verdict, want, "{b:?}: {}", f.reason);
                assert_eq!(&f.binding, b);
            }
        }
    }

    #[test]
    fn a_stopped_driven_device_is_quiet_and_keeps_its_traces() {
        let f = judge(
            function(NVME, COMMAND_MEMORY),
            nvme(0, 0x8000),
            false,
            driven_by("NVMe"),
            &[],
        );
        assert_eq!(f.verdict, Verdict::Quiet);
        assert_eq!(f.reason, "stopped (driven by \"NVMe\")");
        assert!(!f.traces.is_empty());
        let f = judge(
            function(NVME, 0),
            nvme(0, 0),
            false,
            Binding::NotDriven,
            &[],
        );
        assert_eq!(f.verdict, Verdict::Quiet);
        assert_eq!(f.reason, "stopped (no firmware driver held its PCI I/O)");
        assert!(f.traces.is_empty());
    }

    #[test]
    fn bus_master_alone_warns_except_on_bridges() {
        let f = judge(
            function([1, 6, 1], COMMAND_BUS_MASTER),
            State::Unknown,
            false,
            driven_by("AHCI"),
            &[],
        );
        assert_eq!(f.verdict, Verdict::Warning);
        assert!(f.reason.contains("no state reader"));
        let f = judge(
            function([6, 4, 0], COMMAND_BUS_MASTER),
            State::Unknown,
            false,
            Binding::NotDriven,
            &[],
        );
        assert_eq!(f.verdict, Verdict::Quiet);
    }

    #[test]
    fn virtio_status_left_set_warns() {
        let state = State::Virtio(VirtioState {
            modern: Some(View {
                device_status: 3,
                num_queues: 1,
                queues: vec![],
            }),
            legacy: None,
            rings: vec![],
        });
        let f = judge(
            function([2, 0, 0], 0),
            state,
            false,
            Binding::NotDriven,
            &[],
        );
        assert_eq!(f.verdict, Verdict::Warning);
        assert!(!f.traces.is_empty());
    }

    #[test]
    fn canary_hits_at_its_rings_make_it_live_even_when_stopped_now() {
        let state = State::E1000(E1000State {
            rctl: 0,
            tctl: 0,
            rdba: 0x9000,
            rdlen: 256,
            rdh: 0,
            rdt: 0,
            tdba: 0,
            rings: vec![Ring {
                what: "receive descriptor ring".into(),
                range: Range::at(0x9000, 256),
            }],
        });
        let changed = [Range::at(0x4000, 0x1000), Range::at(0x9000, 0x2000)];
        let f = judge(
            function([2, 0, 0], 0),
            state,
            false,
            driven_by("e1000"),
            &changed,
        );
        assert_eq!(f.verdict, Verdict::Live);
        assert_eq!(f.canary_hits, vec![Range::at(0x9000, 0x2000)]);
        assert!(f.reason.contains("wrote 2 canary page(s)"), "{}", f.reason);
    }
}
