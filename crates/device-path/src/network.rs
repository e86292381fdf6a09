//! Network messaging nodes (UEFI 2.10 sections 10.3.4.11-13) and their text (section 10.6.1.4):
//! `MAC(Address,IfType)`, `IPv4(Remote,Protocol,Static|DHCP,Local,Gateway,Mask)` and
//! `IPv6(Remote,Protocol,Origin,Local,PrefixLength,Gateway)`; with `display_only`, `IPv4(Remote)` and
//! `IPv6(Remote)`.
//!
//! The text of an IP node has no place for the local and remote ports, so a node with a port set is written in
//! the generic `Msg()` form (losslessly). IPv6 addresses are written as eight groups without `::` compression and
//! read in either form.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::node::{kind, Fields, Node, NodeBuilder};
use crate::text::{name_of, push_hex, Args};
use crate::{Error, TextOptions};

/// Subtype: MAC address.
pub const MAC: u8 = 11;
/// Subtype: IPv4.
pub const IPV4: u8 = 12;
/// Subtype: IPv6.
pub const IPV6: u8 = 13;

const PROTOCOL: [(&str, u16); 2] = [("TCP", 6), ("UDP", 17)];
const IPV4_TYPE: [(&str, u8); 2] = [("DHCP", 0), ("Static", 1)];
const IPV6_ORIGIN: [(&str, u8); 3] = [
    ("Static", 0),
    ("StatelessAutoConfigure", 1),
    ("StatefulAutoConfigure", 2),
];

/// Bytes of the MAC address field that the text shows for interface type `if_type` (RFC 1700: 0 and 1 are
/// Ethernet, 6 bytes; others show the whole 32-byte field).
fn mac_len(if_type: u8) -> usize {
    if if_type <= 1 {
        6
    } else {
        32
    }
}

fn push_protocol(out: &mut String, protocol: u16) {
    match name_of(&PROTOCOL, protocol) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "0x{protocol:X}");
        }
    }
}

fn push_ipv4(out: &mut String, ip: [u8; 4]) {
    let _ = write!(out, "{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
}

fn push_ipv6(out: &mut String, ip: [u8; 16]) {
    for (i, group) in ip.chunks_exact(2).enumerate() {
        let group = u16::from_be_bytes([group[0], group[1]]);
        let _ = write!(out, "{}{group:X}", if i == 0 { "" } else { ":" });
    }
}

/// Writes the keyword form of a network node; false when it has none that carries every byte.
pub fn to_text(node: &Node, opts: TextOptions, out: &mut String) -> bool {
    let mut f = Fields::new(node.data);
    match node.sub_type {
        MAC if node.data.len() == 33 => {
            let if_type = node.data[32];
            let (shown, rest) = node.data[..32].split_at(mac_len(if_type));
            if rest.iter().any(|&b| b != 0) {
                return false;
            }
            out.push_str("MAC(");
            push_hex(out, shown);
            let _ = write!(out, ",0x{if_type:X})");
            true
        }
        IPV4 if node.data.len() == 23 => {
            let (Some(local), Some(remote), Some(ports), Some(protocol), Some(kind)) =
                (f.array(), f.array(), f.u32(), f.u16(), f.u8())
            else {
                return false;
            };
            let (Some(gateway), Some(mask)) = (f.array(), f.array()) else {
                return false;
            };
            let Some(kind) = name_of(&IPV4_TYPE, kind).filter(|_| ports == 0) else {
                return false;
            };
            out.push_str("IPv4(");
            push_ipv4(out, remote);
            if !opts.display_only {
                out.push(',');
                push_protocol(out, protocol);
                let _ = write!(out, ",{kind},");
                push_ipv4(out, local);
                out.push(',');
                push_ipv4(out, gateway);
                out.push(',');
                push_ipv4(out, mask);
            }
            out.push(')');
            true
        }
        IPV6 if node.data.len() == 56 => {
            let (Some(local), Some(remote), Some(ports), Some(protocol)) =
                (f.array(), f.array(), f.u32(), f.u16())
            else {
                return false;
            };
            let (Some(origin), Some(prefix), Some(gateway)) = (f.u8(), f.u8(), f.array()) else {
                return false;
            };
            let Some(origin) = name_of(&IPV6_ORIGIN, origin).filter(|_| ports == 0) else {
                return false;
            };
            out.push_str("IPv6(");
            push_ipv6(out, remote);
            if !opts.display_only {
                out.push(',');
                push_protocol(out, protocol);
                let _ = write!(out, ",{origin},");
                push_ipv6(out, local);
                let _ = write!(out, ",{prefix},");
                push_ipv6(out, gateway);
            }
            out.push(')');
            true
        }
        _ => false,
    }
}

/// Reads `a.b.c.d` (decimal octets); `""` is `0.0.0.0`.
fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    if text.is_empty() {
        return Some([0; 4]);
    }
    let mut ip = [0u8; 4];
    let mut parts = text.split('.');
    for octet in ip.iter_mut() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(ip)
}

/// Reads eight colon-separated hex groups, or fewer around one `::`; `""` is `::`.
fn parse_ipv6(text: &str) -> Option<[u8; 16]> {
    if text.is_empty() {
        return Some([0; 16]);
    }
    let groups = |part: &str| -> Option<Vec<u16>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        part.split(':')
            .map(|g| {
                let ok = (1..=4).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_hexdigit());
                ok.then(|| u16::from_str_radix(g, 16).ok()).flatten()
            })
            .collect()
    };
    let all = match text.split_once("::") {
        Some((head, tail)) => {
            let (head, tail) = (groups(head)?, groups(tail)?);
            if head.len() + tail.len() > 7 {
                return None;
            }
            let mut all = head;
            all.resize(8 - tail.len(), 0);
            all.extend(tail);
            all
        }
        None => groups(text)?,
    };
    if all.len() != 8 {
        return None;
    }
    let mut ip = [0u8; 16];
    for (slot, group) in ip.chunks_exact_mut(2).zip(all) {
        slot.copy_from_slice(&group.to_be_bytes());
    }
    Some(ip)
}

fn ipv4_arg(a: &Args, index: usize) -> Result<[u8; 4], Error> {
    parse_ipv4(a.str(index)).ok_or_else(|| a.bad(index))
}

fn ipv6_arg(a: &Args, index: usize) -> Result<[u8; 16], Error> {
    parse_ipv6(a.str(index)).ok_or_else(|| a.bad(index))
}

/// Builds the network node for `keyword(inner)`; `None` when the keyword is not a network one.
pub fn from_text(keyword: &str, inner: &str) -> Option<Result<Vec<u8>, Error>> {
    let node = |sub| NodeBuilder::new(kind::MESSAGING, sub);
    Some(match keyword {
        "MAC" => (|| {
            let a = Args::new("MAC", inner);
            a.expect(1, 2)?;
            let mut address = a.hex(0)?;
            if address.len() > 32 {
                return Err(a.bad(0));
            }
            address.resize(32, 0);
            node(MAC).raw(&address).u8(a.num_or(1, 0)?).finish()
        })(),
        "IPv4" => (|| {
            let a = Args::new("IPv4", inner);
            a.expect(1, 6)?;
            let remote = ipv4_arg(&a, 0)?;
            let protocol = if a.str(1).is_empty() {
                0
            } else {
                a.named(1, &PROTOCOL)?
            };
            let kind = if a.str(2).is_empty() {
                0
            } else {
                a.named(2, &IPV4_TYPE)?
            };
            node(IPV4)
                .raw(&ipv4_arg(&a, 3)?)
                .raw(&remote)
                .u32(0)
                .u16(protocol)
                .u8(kind)
                .raw(&ipv4_arg(&a, 4)?)
                .raw(&ipv4_arg(&a, 5)?)
                .finish()
        })(),
        "IPv6" => (|| {
            let a = Args::new("IPv6", inner);
            a.expect(1, 6)?;
            let remote = ipv6_arg(&a, 0)?;
            let protocol = if a.str(1).is_empty() {
                0
            } else {
                a.named(1, &PROTOCOL)?
            };
            let origin = if a.str(2).is_empty() {
                0
            } else {
                a.named(2, &IPV6_ORIGIN)?
            };
            node(IPV6)
                .raw(&ipv6_arg(&a, 3)?)
                .raw(&remote)
                .u32(0)
                .u16(protocol)
                .u8(origin)
                .u8(a.num_or(4, 0)?)
                .raw(&ipv6_arg(&a, 5)?)
                .finish()
        })(),
        _ => return None,
    })
}
