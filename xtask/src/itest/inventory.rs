//! Parsing the firmware's inventory screen (printed at the end of bring-up, between
//! `==== vmfw inventory ====` and `==== end of inventory ====`).

/// Start and end markers of the inventory.
pub const START: &str = "==== vmfw inventory ====";
/// See [`START`].
pub const END: &str = "==== end of inventory ====";

/// One BAR as printed: `bar{index}={kind}:{address:#x}+{size:#x}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub index: u8,
    /// `io`, `mem32`, `mem64` (with a `p` suffix when prefetchable).
    pub kind: String,
    pub address: u64,
    pub size: u64,
}

/// One PCI function line: `pci: bb:dd.f vvvv:dddd class cccccc [bars...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciFunction {
    pub bdf: String,
    pub vendor: u16,
    pub device: u16,
    pub class: u32,
    pub bars: Vec<Bar>,
}

/// The parsed inventory.
#[derive(Debug, Default)]
pub struct Inventory {
    pub machine: String,
    /// `memory: total N MiB RAM ...`.
    pub ram_mib: u64,
    pub pci: Vec<PciFunction>,
    /// The RSDP's first 36 bytes (20 for revision 0), as printed in hex.
    pub rsdp: Vec<u8>,
    pub rsdp_address: u64,
    pub smbios_version: String,
    pub ms_since_reset: u64,
}

fn hex(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("bad hex {s:?}: {e}"))
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == key {
            return words.next();
        }
    }
    None
}

/// Extracts and parses the inventory from console output.
pub fn parse(output: &str) -> Result<Inventory, String> {
    let start = output
        .find(START)
        .ok_or("no inventory start marker in the console output")?;
    let body = &output[start..];
    let end = body.find(END).ok_or("inventory not terminated")?;
    let mut inv = Inventory::default();
    for line in body[..end].lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("machine: ") {
            inv.machine = rest
                .split([',', ' '])
                .next()
                .unwrap_or_default()
                .to_string();
        } else if let Some(rest) = line.strip_prefix("memory: total ") {
            inv.ram_mib = rest
                .split_whitespace()
                .next()
                .ok_or("memory line")?
                .parse()
                .map_err(|e| format!("{e}"))?;
        } else if let Some(rest) = line.strip_prefix("pci: ") {
            inv.pci.push(parse_pci(rest)?);
        } else if let Some(rest) = line.strip_prefix("acpi: ") {
            if let Some(a) = field(rest, "rsdp") {
                inv.rsdp_address = hex(a)?;
            }
            if let Some(bytes) = field(rest, "bytes") {
                inv.rsdp = (0..bytes.len() / 2)
                    .map(|i| u8::from_str_radix(&bytes[2 * i..2 * i + 2], 16))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("rsdp bytes: {e}"))?;
            }
        } else if let Some(rest) = line.strip_prefix("smbios: ") {
            inv.smbios_version = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        } else if let Some(rest) = line.strip_prefix("time: ") {
            inv.ms_since_reset = rest
                .split_whitespace()
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
        }
    }
    Ok(inv)
}

fn parse_pci(rest: &str) -> Result<PciFunction, String> {
    let mut words = rest.split_whitespace();
    let bdf = words.next().ok_or("pci line without bdf")?.to_string();
    let ids = words.next().ok_or("pci line without ids")?;
    let (vendor, device) = ids.split_once(':').ok_or("pci ids")?;
    let mut f = PciFunction {
        bdf,
        vendor: hex(vendor)? as u16,
        device: hex(device)? as u16,
        class: 0,
        bars: Vec::new(),
    };
    while let Some(w) = words.next() {
        if w == "class" {
            f.class = hex(words.next().ok_or("class value")?)? as u32;
        } else if let Some(bar) = w.strip_prefix("bar") {
            let (index, rest) = bar.split_once('=').ok_or("bar syntax")?;
            let (kind, range) = rest.split_once(':').ok_or("bar kind")?;
            let (address, size) = range.split_once('+').ok_or("bar range")?;
            f.bars.push(Bar {
                index: index.parse().map_err(|_| "bar index")?,
                kind: kind.into(),
                address: hex(address)?,
                size: hex(size)?,
            });
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pci_line_with_bars() {
        let out = format!("junk\n{START}\nmachine: q35, PM base 0x600\nmemory: total 512 MiB RAM\npci: 00:02.0 1af4:1000 class 020000 bar0=io:0xc000+0x20 bar4=mem64p:0x800000000+0x4000\n{END}\n");
        let inv = parse(&out).unwrap();
        assert_eq!(inv.machine, "q35");
        assert_eq!(inv.ram_mib, 512);
        assert_eq!(inv.pci[0].vendor, 0x1af4);
        assert_eq!(
            inv.pci[0].bars[1],
            Bar {
                index: 4,
                kind: "mem64p".into(),
                address: 0x8_0000_0000,
                size: 0x4000
            }
        );
    }

    #[test]
    fn missing_marker_is_an_error() {
        assert!(parse("nothing here").is_err());
    }
}
