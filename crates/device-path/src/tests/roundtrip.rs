//! Lossless round trips: any node or path, written without `display_only`, reads back to the same bytes.

use alloc::vec::Vec;

use proptest::prelude::*;

use super::{PLAIN, SHORT};
use crate::node::NodeBuilder;
use crate::{node_to_text, path_to_text, text_to_node, text_to_path, vendor, Guid, Node};

/// (type, subtype, data length) of every node with a keyword form, so random data hits those forms.
const SHAPES: &[(u8, u8, usize)] = &[
    (1, 1, 2),
    (1, 2, 1),
    (1, 3, 20),
    (1, 5, 4),
    (1, 6, 9),
    (2, 1, 8),
    (2, 3, 4),
    (2, 3, 12),
    (3, 1, 4),
    (3, 2, 4),
    (3, 3, 20),
    (3, 5, 2),
    (3, 11, 33),
    (3, 12, 23),
    (3, 13, 56),
    (3, 14, 15),
    (3, 15, 7),
    (3, 17, 1),
    (3, 18, 6),
    (3, 20, 2),
    (3, 23, 12),
    (3, 26, 1),
    (3, 29, 1),
    (4, 1, 38),
    (4, 2, 20),
    (4, 5, 16),
    (4, 6, 16),
    (4, 7, 16),
    (4, 8, 20),
    (4, 9, 34),
];

fn node(kind: u8, sub: u8, data: &[u8]) -> Vec<u8> {
    NodeBuilder::new(kind, sub).raw(data).finish().unwrap()
}

/// Nodes with random bytes in a known shape.
fn shaped() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(SHAPES).prop_flat_map(|(kind, sub, len)| {
        proptest::collection::vec(any::<u8>(), len).prop_map(move |d| node(kind, sub, &d))
    })
}

/// Nodes of any type and subtype (end-of-instance aside, whose text is the `,` separator).
fn random() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..48),
    )
        .prop_filter("end of instance", |(k, s, _)| !(*k == 0x7f && *s == 1))
        .prop_map(|(k, s, d)| node(k, s, &d))
}

/// Nodes whose fields are valid, so the keyword forms (not the generic fallback) are exercised.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    let name = "[a-zA-Z0-9 ._()\\\\/,-]{0,12}";
    let guid = prop_oneof![
        Just(vendor::PC_ANSI),
        Just(vendor::VT_UTF8),
        Just(vendor::UART_FLOW_CONTROL),
        Just(vendor::DEBUG_PORT),
        any::<[u8; 16]>().prop_map(Guid),
    ];
    prop_oneof![
        // File paths, including names that need the generic form.
        name.prop_map(|n: alloc::string::String| crate::media::file_path(&n).unwrap()),
        // Vendor nodes of all three types, data-less or with a flow-control map.
        (
            prop::sample::select(&[(1u8, 4u8), (3, 10), (4, 3)][..]),
            guid,
            0u32..4,
            any::<bool>()
        )
            .prop_map(|((k, s), g, map, with)| {
                let b = NodeBuilder::new(k, s).raw(&g.0);
                if with { b.u32(map) } else { b }.finish().unwrap()
            }),
        // HD with a valid format/signature pairing.
        (
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            any::<[u8; 16]>(),
            0usize..3
        )
            .prop_map(|(p, start, size, mut sig, which)| {
                let (format, sig_type) = [(1u8, 1u8), (2, 2), (0, 0)][which];
                if which != 1 {
                    sig[4..].fill(0);
                }
                if which == 2 {
                    sig = [0; 16];
                }
                NodeBuilder::new(4, 1)
                    .u32(p)
                    .u64(start)
                    .u64(size)
                    .raw(&sig)
                    .u8(format)
                    .u8(sig_type)
                    .finish()
                    .unwrap()
            }),
        // UART with settings in range.
        (any::<u64>(), any::<u8>(), 0u8..6, 0u8..4).prop_map(|(baud, bits, parity, stop)| {
            NodeBuilder::new(3, 14)
                .u32(0)
                .u64(baud)
                .u8(bits)
                .u8(parity)
                .u8(stop)
                .finish()
                .unwrap()
        }),
        // IPv4/IPv6 without ports.
        (any::<[u8; 8]>(), any::<u16>(), 0u8..2, any::<[u8; 8]>()).prop_map(
            |(ips, proto, kind, gw)| {
                NodeBuilder::new(3, 12)
                    .raw(&ips)
                    .u32(0)
                    .u16(proto)
                    .u8(kind)
                    .raw(&gw)
                    .finish()
                    .unwrap()
            }
        ),
        (
            any::<[u8; 32]>(),
            any::<u16>(),
            0u8..3,
            any::<u8>(),
            any::<[u8; 16]>()
        )
            .prop_map(|(ips, proto, origin, prefix, gw)| {
                NodeBuilder::new(3, 13)
                    .raw(&ips)
                    .u32(0)
                    .u16(proto)
                    .u8(origin)
                    .u8(prefix)
                    .raw(&gw)
                    .finish()
                    .unwrap()
            }),
        // MAC with an Ethernet or a long address.
        (any::<[u8; 32]>(), 0u8..4).prop_map(|(mut mac, if_type)| {
            if if_type <= 1 {
                mac[6..].fill(0);
            }
            NodeBuilder::new(3, 11)
                .raw(&mac)
                .u8(if_type)
                .finish()
                .unwrap()
        }),
        // Expanded ACPI with strings, and URIs.
        (
            any::<[u32; 3]>(),
            "[A-Z0-9_]{0,6}",
            "[A-Z0-9_]{0,6}",
            "[A-Z0-9_]{0,6}",
            any::<bool>()
        )
            .prop_map(|(ids, h, u, c, zero_uid)| {
                let uid = if zero_uid { 0 } else { ids[1] };
                NodeBuilder::new(2, 2)
                    .u32(ids[0])
                    .u32(uid)
                    .u32(ids[2])
                    .raw(h.as_bytes())
                    .u8(0)
                    .raw(u.as_bytes())
                    .u8(0)
                    .raw(c.as_bytes())
                    .u8(0)
                    .finish()
                    .unwrap()
            }),
        "[a-z0-9:/.?=&%-]{0,30}".prop_map(|u: alloc::string::String| node(3, 24, u.as_bytes())),
    ]
}

fn any_node() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![shaped(), random(), structured()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn node_text_reads_back(bytes in any_node()) {
        let node = Node::parse(&bytes).unwrap();
        for opts in [PLAIN, SHORT] {
            let text = node_to_text(&node, opts);
            let back = text_to_node(&text);
            prop_assert_eq!(back.as_ref(), Ok(&bytes), "text {:?}", text);
        }
    }

    #[test]
    fn path_text_reads_back(
        instances in proptest::collection::vec(
            proptest::collection::vec(any_node().prop_filter("no end nodes", |n| n[0] != 0x7f), 0..5),
            1..4,
        )
    ) {
        let mut path = Vec::new();
        for (i, nodes) in instances.iter().enumerate() {
            if i > 0 {
                path.extend_from_slice(&crate::node::END_OF_INSTANCE);
            }
            for n in nodes {
                path.extend_from_slice(n);
            }
        }
        path.extend_from_slice(&crate::node::END_PATH);
        for opts in [PLAIN, SHORT] {
            let text = path_to_text(&path, opts).unwrap();
            let back = text_to_path(&text);
            prop_assert_eq!(back.as_ref(), Ok(&path), "text {:?}", text);
        }
    }
}
