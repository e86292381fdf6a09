//! Which PCI functions a firmware driver managed before ExitBootServices, decided the UEFI driver-model way.
//!
//! Before the exit the app locates every handle with `EFI_PCI_IO_PROTOCOL` (LocateHandleBuffer `ByProtocol`,
//! UEFI 2.10 §7.3.15), asks each for its address (`EFI_PCI_IO_PROTOCOL.GetLocation()`, §14.4) and for who has its
//! PCI I/O open (`OpenProtocolInformation()`, §7.3.11). A function is **driven** when some agent holds the
//! protocol with `EFI_OPEN_PROTOCOL_BY_DRIVER` among its attributes (§7.3.9: that is how a driver's Start()
//! claims a controller; `BY_DRIVER | EXCLUSIVE` included). Opens by child controllers (a bus driver opening its
//! bridge for the children behind it), `GET_PROTOCOL`, `BY_HANDLE_PROTOCOL` and `TEST_PROTOCOL` do not count. The
//! driver's name comes, when it has one, from `EFI_COMPONENT_NAME2_PROTOCOL.GetDriverName()` (§11.5) on the agent
//! handle, in the first English language it supports (else its first language).
//!
//! Only segment 0 is judged: the audit reads configuration space through ports 0xCF8/0xCFC, which reach segment 0
//! alone. This module holds the rules over plain values; `tools/handoff-audit` makes the calls.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::pci::Bdf;

/// `EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL` (UEFI 2.10 §7.3.9).
pub const OPEN_PROTOCOL_BY_HANDLE_PROTOCOL: u32 = 0x01;
/// `EFI_OPEN_PROTOCOL_GET_PROTOCOL`.
pub const OPEN_PROTOCOL_GET_PROTOCOL: u32 = 0x02;
/// `EFI_OPEN_PROTOCOL_TEST_PROTOCOL`.
pub const OPEN_PROTOCOL_TEST_PROTOCOL: u32 = 0x04;
/// `EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER`.
pub const OPEN_PROTOCOL_BY_CHILD_CONTROLLER: u32 = 0x08;
/// `EFI_OPEN_PROTOCOL_BY_DRIVER`: the bit that makes a function "driven".
pub const OPEN_PROTOCOL_BY_DRIVER: u32 = 0x10;
/// `EFI_OPEN_PROTOCOL_EXCLUSIVE`.
pub const OPEN_PROTOCOL_EXCLUSIVE: u32 = 0x20;

/// The Component Name 2 driver name the app gives itself when the load option `leak-e1000` makes it play a
/// careless driver that holds the e1000 `BY_DRIVER` (`tools/handoff-audit/src/leak.rs`).
pub const LEAK_DRIVER_NAME: &str = "handoff-audit leak-e1000";

/// Longest driver name read, in UCS-2 code units (a longer name is cut).
pub const MAX_NAME_UNITS: usize = 128;

/// One `EFI_OPEN_PROTOCOL_INFORMATION_ENTRY`, handles as their addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenEntry {
    /// `AgentHandle`.
    pub agent: u64,
    /// `ControllerHandle`.
    pub controller: u64,
    /// `Attributes` (`EFI_OPEN_PROTOCOL_*` bits).
    pub attributes: u32,
    /// `OpenCount`.
    pub open_count: u32,
}

/// A driver that held a function's PCI I/O `BY_DRIVER`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Driver {
    /// The agent handle (the driver binding's handle), as an address.
    pub agent: u64,
    /// The attributes of its opens, OR-ed.
    pub attributes: u32,
    /// Its Component Name 2 driver name, when it has one.
    pub name: Option<String>,
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "\"{name}\""),
            None => write!(f, "agent {:#x} (no Component Name 2)", self.agent),
        }
    }
}

/// The drivers among `entries`: one per agent whose opens include `BY_DRIVER`, in the order first seen, names
/// not yet known.
pub fn drivers(entries: &[OpenEntry]) -> Vec<Driver> {
    let mut out: Vec<Driver> = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.attributes & OPEN_PROTOCOL_BY_DRIVER != 0)
    {
        match out.iter_mut().find(|d| d.agent == e.agent) {
            Some(d) => d.attributes |= e.attributes,
            None => out.push(Driver {
                agent: e.agent,
                attributes: e.attributes,
                name: None,
            }),
        }
    }
    out
}

/// Why a `GetLocation()` answer cannot be judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocationError {
    /// A segment other than 0: out of reach of configuration mechanism #1.
    OtherSegment(usize),
    /// Bus > 255, device > 31 or function > 7: not a PCI address.
    OutOfRange {
        /// Bus.
        bus: usize,
        /// Device.
        device: usize,
        /// Function.
        function: usize,
    },
}

impl fmt::Display for LocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocationError::OtherSegment(s) => write!(f, "segment {s} (only segment 0 is scanned)"),
            LocationError::OutOfRange {
                bus,
                device,
                function,
            } => write!(
                f,
                "bus {bus} device {device} function {function} is not a PCI address"
            ),
        }
    }
}

/// The address `GetLocation()` returned (`SegmentNumber`, `BusNumber`, `DeviceNumber`, `FunctionNumber`).
pub fn location(
    segment: usize,
    bus: usize,
    device: usize,
    function: usize,
) -> Result<Bdf, LocationError> {
    if segment != 0 {
        return Err(LocationError::OtherSegment(segment));
    }
    if bus > 255 || device > 31 || function > 7 {
        return Err(LocationError::OutOfRange {
            bus,
            device,
            function,
        });
    }
    Ok(Bdf {
        bus: bus as u8,
        device: device as u8,
        function: function as u8,
    })
}

/// The language to ask GetDriverName() for, from `SupportedLanguages` (RFC 4646 tags separated by `;`): the
/// first `en` or `en-*` tag, else the first tag; `None` when the list is empty.
pub fn pick_language(supported: &str) -> Option<&str> {
    let mut tags = supported
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let first = tags.clone().next()?;
    Some(
        tags.find(|t| {
            let lower = t.as_bytes();
            lower.len() >= 2
                && lower[..2].eq_ignore_ascii_case(b"en")
                && (lower.len() == 2 || lower[2] == b'-')
        })
        .unwrap_or(first),
    )
}

/// A UCS-2 string up to its NUL (or the end of `units`); unpaired surrogates become U+FFFD.
pub fn ucs2_string(units: impl IntoIterator<Item = u16>) -> String {
    char::decode_utf16(units.into_iter().take_while(|&u| u != 0))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// What the firmware's handle database said about one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// At least one driver held its PCI I/O `BY_DRIVER`.
    Driven(Vec<Driver>),
    /// It had a PCI I/O handle that no driver held.
    NotDriven,
    /// No PCI I/O handle had its address: no UEFI driver could manage it.
    NoPciIo,
    /// The firmware could not be asked (why).
    Unknown(String),
}

impl Binding {
    /// The report's name: "driven", "not_driven", "no_pci_io" or "unknown".
    pub fn name(&self) -> &'static str {
        match self {
            Binding::Driven(_) => "driven",
            Binding::NotDriven => "not_driven",
            Binding::NoPciIo => "no_pci_io",
            Binding::Unknown(_) => "unknown",
        }
    }

    /// Whether a firmware driver held it; `None` when unknown.
    pub fn driven(&self) -> Option<bool> {
        match self {
            Binding::Driven(_) => Some(true),
            Binding::NotDriven | Binding::NoPciIo => Some(false),
            Binding::Unknown(_) => None,
        }
    }

    /// The drivers (empty unless driven).
    pub fn drivers(&self) -> &[Driver] {
        match self {
            Binding::Driven(d) => d,
            _ => &[],
        }
    }

    /// One clause for verdict reasons: "driven by "X"", "no firmware driver held it", ...
    pub fn clause(&self) -> String {
        match self {
            Binding::Driven(d) => {
                let names: Vec<String> = d.iter().map(|d| format!("{d}")).collect();
                format!("driven by {}", names.join(", "))
            }
            Binding::NotDriven => String::from("no firmware driver held its PCI I/O"),
            Binding::NoPciIo => String::from("the firmware gave it no PCI I/O handle"),
            Binding::Unknown(why) => format!("whether a firmware driver held it is unknown: {why}"),
        }
    }
}

/// The answers of every PCI I/O handle, collected before ExitBootServices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bindings {
    /// `Err(why)` when the handles could not be located at all.
    pub located: Result<(), String>,
    /// Number of PCI I/O handles.
    pub handles: usize,
    /// Per segment-0 address: its drivers, or why OpenProtocolInformation failed.
    pub functions: Vec<(Bdf, Result<Vec<Driver>, String>)>,
    /// Handles that did not answer GetLocation, or whose answer is not a PCI address.
    pub problems: Vec<String>,
    /// Handles on segments other than 0 (not judged).
    pub other_segments: usize,
}

impl Default for Bindings {
    fn default() -> Bindings {
        Bindings {
            located: Ok(()),
            handles: 0,
            functions: Vec::new(),
            problems: Vec::new(),
            other_segments: 0,
        }
    }
}

impl Bindings {
    /// No PCI I/O handle could be located (`why`): every function's binding is unknown.
    pub fn unavailable(why: impl Into<String>) -> Bindings {
        Bindings {
            located: Err(why.into()),
            ..Bindings::default()
        }
    }

    /// Records one handle: its GetLocation answer (`Err(text)` when the call failed) and its drivers (`Err`
    /// when OpenProtocolInformation failed). Two handles at one address merge their drivers.
    pub fn add(
        &mut self,
        location: Result<Result<Bdf, LocationError>, String>,
        drivers: Result<Vec<Driver>, String>,
    ) {
        self.handles += 1;
        let bdf = match location {
            Err(why) => {
                self.problems.push(format!("GetLocation: {why}"));
                return;
            }
            Ok(Err(LocationError::OtherSegment(_))) => {
                self.other_segments += 1;
                return;
            }
            Ok(Err(e)) => {
                self.problems.push(format!("GetLocation: {e}"));
                return;
            }
            Ok(Ok(bdf)) => bdf,
        };
        match self.functions.iter_mut().find(|(b, _)| *b == bdf) {
            None => self.functions.push((bdf, drivers)),
            Some((_, known)) => {
                self.problems
                    .push(format!("two PCI I/O handles report {bdf}"));
                match (known, drivers) {
                    (Ok(known), Ok(more)) => known.extend(more),
                    (known @ Ok(_), Err(why)) => *known = Err(why),
                    (Err(_), _) => {}
                }
            }
        }
    }

    /// The binding of the function at `bdf`.
    pub fn for_function(&self, bdf: Bdf) -> Binding {
        if let Err(why) = &self.located {
            return Binding::Unknown(why.clone());
        }
        match self.functions.iter().find(|(b, _)| *b == bdf) {
            Some((_, Ok(d))) if d.is_empty() => Binding::NotDriven,
            Some((_, Ok(d))) => Binding::Driven(d.clone()),
            Some((_, Err(why))) => Binding::Unknown(format!("OpenProtocolInformation: {why}")),
            None if self.problems.iter().any(|p| p.starts_with("GetLocation")) => {
                Binding::Unknown(String::from("a PCI I/O handle did not tell its location"))
            }
            None => Binding::NoPciIo,
        }
    }

    /// Every way the firmware failed to answer: LocateHandleBuffer, GetLocation, OpenProtocolInformation, two
    /// handles at one address. Empty when every handle answered.
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self.located.clone().err().into_iter().collect();
        out.extend(self.problems.iter().cloned());
        out.extend(self.functions.iter().filter_map(|(bdf, d)| {
            d.as_ref()
                .err()
                .map(|why| format!("OpenProtocolInformation on {bdf}: {why}"))
        }));
        out
    }

    /// One line for the report: handles, how many functions are driven, handles on other segments.
    pub fn summary(&self) -> String {
        let driven = self
            .functions
            .iter()
            .filter(|(_, d)| d.as_ref().is_ok_and(|d| !d.is_empty()))
            .count();
        let mut s = format!("{} PCI I/O handles, {driven} held BY_DRIVER", self.handles);
        if self.other_segments > 0 {
            s.push_str(&format!(
                ", {} on other segments not judged",
                self.other_segments
            ));
        }
        s
    }

    /// The addresses of PCI I/O handles that are not among `found` (the functions the scan saw).
    pub fn unmatched(&self, found: &[Bdf]) -> Vec<Bdf> {
        self.functions
            .iter()
            .map(|(b, _)| *b)
            .filter(|b| !found.contains(b))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn entry(agent: u64, attributes: u32) -> OpenEntry {
        OpenEntry {
            agent,
            controller: 0x500,
            attributes,
            open_count: 1,
        }
    }

    fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
        Bdf {
            bus,
            device,
            function,
        }
    }

    #[test]
    fn only_by_driver_opens_make_a_driver() {
        let entries = [
            entry(0x100, OPEN_PROTOCOL_GET_PROTOCOL),
            entry(0x200, OPEN_PROTOCOL_BY_CHILD_CONTROLLER),
            entry(0x300, OPEN_PROTOCOL_BY_DRIVER | OPEN_PROTOCOL_EXCLUSIVE),
            entry(
                0x400,
                OPEN_PROTOCOL_TEST_PROTOCOL | OPEN_PROTOCOL_BY_HANDLE_PROTOCOL,
            ),
            entry(0x300, OPEN_PROTOCOL_GET_PROTOCOL),
            entry(0x600, OPEN_PROTOCOL_BY_DRIVER),
            entry(0x300, OPEN_PROTOCOL_BY_DRIVER),
        ];
        let got = drivers(&entries);
        assert_eq!(
            got,
            vec![
                Driver {
                    agent: 0x300,
                    attributes: 0x30,
                    name: None
                },
                Driver {
                    agent: 0x600,
                    attributes: 0x10,
                    name: None
                },
            ]
        );
        assert!(drivers(&entries[..2]).is_empty());
    }

    #[test]
    fn locations_must_be_segment_zero_pci_addresses() {
        assert_eq!(location(0, 1, 31, 7), Ok(bdf(1, 31, 7)));
        assert_eq!(location(1, 0, 2, 0), Err(LocationError::OtherSegment(1)));
        assert!(matches!(
            location(0, 256, 0, 0),
            Err(LocationError::OutOfRange { bus: 256, .. })
        ));
        assert!(location(0, 0, 32, 0).is_err());
        assert!(location(0, 0, 0, 8).is_err());
    }

    #[test]
    fn english_is_preferred_else_the_first_language() {
        assert_eq!(pick_language("fr-FR;en-US;en"), Some("en-US"));
        assert_eq!(pick_language("en"), Some("en"));
        assert_eq!(pick_language(" de ; fr"), Some("de"));
        assert_eq!(pick_language("eng;fr"), Some("eng"), "eng is not en");
        assert_eq!(pick_language(";;"), None);
        assert_eq!(pick_language(""), None);
    }

    #[test]
    fn ucs2_names_stop_at_nul_and_replace_lone_surrogates() {
        let units: Vec<u16> = "Virtio PCI".encode_utf16().chain([0, 0x41]).collect();
        assert_eq!(ucs2_string(units), "Virtio PCI");
        assert_eq!(ucs2_string([0x41, 0xd800, 0x42]), "A\u{fffd}B");
        assert_eq!(ucs2_string([]), "");
    }

    #[test]
    fn functions_are_driven_not_driven_or_without_pci_io() {
        let mut b = Bindings::default();
        let blk = Driver {
            agent: 0x300,
            attributes: 0x10,
            name: Some("virtio-blk".into()),
        };
        b.add(Ok(location(0, 0, 2, 0)), Ok(vec![blk.clone()]));
        b.add(Ok(location(0, 0, 3, 0)), Ok(vec![]));
        b.add(Ok(location(0, 0, 4, 0)), Err("OUT_OF_RESOURCES".into()));
        b.add(Ok(location(2, 0, 0, 0)), Ok(vec![]));
        assert_eq!(b.handles, 4);
        assert_eq!(b.other_segments, 1);
        assert!(b.problems.is_empty());
        assert_eq!(b.for_function(bdf(0, 2, 0)), Binding::Driven(vec![blk]));
        assert_eq!(b.for_function(bdf(0, 3, 0)), Binding::NotDriven);
        assert!(
            matches!(b.for_function(bdf(0, 4, 0)), Binding::Unknown(w) if w.contains("OUT_OF_RESOURCES"))
        );
        assert_eq!(b.for_function(bdf(0, 5, 0)), Binding::NoPciIo);
        assert_eq!(
            b.unmatched(&[bdf(0, 2, 0), bdf(0, 4, 0)]),
            vec![bdf(0, 3, 0)]
        );
    }

    #[test]
    fn failures_and_summary() {
        let mut b = Bindings::default();
        let d = Driver {
            agent: 1,
            attributes: 0x10,
            name: None,
        };
        b.add(Ok(location(0, 0, 2, 0)), Ok(vec![d]));
        b.add(Ok(location(0, 0, 3, 0)), Ok(vec![]));
        b.add(Ok(location(3, 0, 3, 0)), Ok(vec![]));
        assert!(b.failures().is_empty());
        assert_eq!(
            b.summary(),
            "3 PCI I/O handles, 1 held BY_DRIVER, 1 on other segments not judged"
        );
        b.add(Ok(location(0, 0, 4, 0)), Err("INVALID_PARAMETER".into()));
        b.add(Err("UNSUPPORTED".into()), Ok(vec![]));
        assert_eq!(
            b.failures(),
            vec![
                String::from("GetLocation: UNSUPPORTED"),
                String::from("OpenProtocolInformation on 00:04.0: INVALID_PARAMETER"),
            ]
        );
        let none = Bindings::unavailable("LocateHandleBuffer: DEVICE_ERROR");
        assert_eq!(
            none.failures(),
            vec![String::from("LocateHandleBuffer: DEVICE_ERROR")]
        );
    }

    #[test]
    fn a_handle_without_location_makes_the_unmatched_unknown() {
        let mut b = Bindings::default();
        b.add(Ok(location(0, 0, 3, 0)), Ok(vec![]));
        b.add(Err("DEVICE_ERROR".into()), Ok(vec![]));
        b.add(Ok(location(0, 0, 40, 0)), Ok(vec![]));
        assert_eq!(b.problems.len(), 2, "{:?}", b.problems);
        assert_eq!(b.for_function(bdf(0, 3, 0)), Binding::NotDriven);
        assert!(matches!(b.for_function(bdf(0, 5, 0)), Binding::Unknown(_)));
    }

    #[test]
    fn duplicate_addresses_merge_and_are_a_problem() {
        let mut b = Bindings::default();
        let d = |agent| Driver {
            agent,
            attributes: 0x10,
            name: None,
        };
        b.add(Ok(location(0, 0, 3, 0)), Ok(vec![]));
        b.add(Ok(location(0, 0, 3, 0)), Ok(vec![d(7)]));
        assert_eq!(b.for_function(bdf(0, 3, 0)), Binding::Driven(vec![d(7)]));
        assert_eq!(
            b.problems,
            vec![String::from("two PCI I/O handles report 00:03.0")]
        );
    }

    #[test]
    fn unavailable_means_unknown_everywhere() {
        let b = Bindings::unavailable("LocateHandleBuffer: OUT_OF_RESOURCES");
        let got = b.for_function(bdf(0, 2, 0));
        assert_eq!(got.driven(), None);
        assert_eq!(got.name(), "unknown");
        assert!(got.clause().contains("OUT_OF_RESOURCES"));
    }

    #[test]
    fn clauses_name_the_drivers() {
        let named = Driver {
            agent: 0x10,
            attributes: 0x10,
            name: Some("Virtio PCI Driver".into()),
        };
        let anonymous = Driver {
            agent: 0xbeef,
            attributes: 0x30,
            name: None,
        };
        let b = Binding::Driven(vec![named, anonymous]);
        assert_eq!(
            b.clause(),
            "driven by \"Virtio PCI Driver\", agent 0xbeef (no Component Name 2)"
        );
        assert_eq!(b.driven(), Some(true));
        assert_eq!(Binding::NoPciIo.driven(), Some(false));
        assert_eq!(Binding::NotDriven.drivers(), &[]);
    }
}
