//! Malformed binary paths and texts give errors, never panics.

use proptest::prelude::*;

use super::PLAIN;
use crate::{path_size, path_to_text, text_to_node, text_to_path, Error};

#[test]
fn binary_errors() {
    assert_eq!(path_size(&[]), Err(Error::Truncated { offset: 0 }));
    assert_eq!(
        path_size(&[0x7f, 0xff, 4]),
        Err(Error::Truncated { offset: 0 })
    );
    for length in [0u16, 1, 3] {
        let [lo, hi] = length.to_le_bytes();
        assert_eq!(
            path_size(&[1, 1, lo, hi, 0x7f, 0xff, 4, 0]),
            Err(Error::BadLength { offset: 0, length })
        );
    }
    // Length past the buffer.
    assert_eq!(
        path_size(&[1, 1, 6, 0, 0, 0, 0x7f, 0xff, 9, 0]),
        Err(Error::BadLength {
            offset: 6,
            length: 9
        })
    );
    // No end node.
    assert_eq!(
        path_size(&[1, 1, 6, 0, 0, 0]),
        Err(Error::Truncated { offset: 6 })
    );
    assert!(path_to_text(&[1, 1, 6, 0, 0, 0], PLAIN).is_err());
    // A path over the limit.
    let mut long = alloc::vec::Vec::new();
    while long.len() <= crate::MAX_PATH_BYTES {
        long.extend_from_slice(&[1, 5, 8, 0, 0, 0, 0, 0]);
    }
    long.extend_from_slice(&[0x7f, 0xff, 4, 0]);
    assert_eq!(path_size(&long), Err(Error::TooLong));
}

#[test]
fn text_errors() {
    let count = |keyword, found| Error::ArgumentCount { keyword, found };
    let bad = |keyword, index| Error::BadArgument { keyword, index };
    assert_eq!(text_to_path("Pci(1,2,3)"), Err(count("Pci", 3)));
    assert_eq!(text_to_path("Pci(0x1G,2)"), Err(bad("Pci", 0)));
    assert_eq!(text_to_path("Pci(256,2)"), Err(bad("Pci", 0)));
    assert_eq!(text_to_path("Pci(-1,2)"), Err(bad("Pci", 0)));
    assert_eq!(text_to_path("Pci(1"), Err(Error::Syntax { position: 5 }));
    assert_eq!(
        text_to_path("Pci(1,2))"),
        Err(Error::Syntax { position: 8 })
    );
    assert_eq!(
        text_to_path("Pci(1,2)x"),
        Err(Error::Syntax { position: 9 })
    );
    assert_eq!(
        text_to_path("Foo(1)"),
        Err(Error::UnknownKeyword("Foo".into()))
    );
    assert_eq!(
        text_to_path("PciRoot(0)//Pci(1,0)"),
        Err(Error::EmptyNode { position: 11 })
    );
    assert_eq!(
        text_to_path("PciRoot(0)/"),
        Err(Error::EmptyNode { position: 11 })
    );
    assert_eq!(text_to_path("Path(127,255)"), Err(Error::EndNodeInText));
    assert_eq!(text_to_path("HD(1,MBR,xyz,0,0)"), Err(bad("HD", 2)));
    assert_eq!(text_to_path("HD(1,GPT,1234,0,0)"), Err(bad("HD", 2)));
    assert_eq!(text_to_path("VenHw(1234)"), Err(bad("VenHw", 0)));
    assert_eq!(
        text_to_path("VenHw(8C8F8E26-9D6C-4A6B-9D5C-3F5A2E1B0C0D,ABC)"),
        Err(bad("VenHw", 1))
    );
    assert_eq!(text_to_path("IPv4(1.2.3)"), Err(bad("IPv4", 0)));
    assert_eq!(text_to_path("IPv4(1.2.3.256)"), Err(bad("IPv4", 0)));
    assert_eq!(text_to_path("IPv6(1::2::3)"), Err(bad("IPv6", 0)));
    assert_eq!(text_to_path("Uart(115200,8,X,1)"), Err(bad("Uart", 2)));
    assert_eq!(text_to_path("NVMe(1,00-11)"), Err(bad("NVMe", 1)));
    assert_eq!(text_to_path("Msg(1,0)"), Err(bad("Msg", 1)));
    assert_eq!(text_to_node(""), Err(Error::EmptyNode { position: 0 }));
    assert!(text_to_node("Pci(0,0)/Pci(1,0)").is_err());
}

/// Texts made of the characters device path text is made of, to reach deep into the parsers.
fn texty() -> impl Strategy<Value = alloc::string::String> {
    let tokens = prop_oneof![
        Just("Pci("),
        Just("PciRoot("),
        Just("HD("),
        Just("IPv6("),
        Just("IPv4("),
        Just("AcpiEx("),
        Just("NVMe("),
        Just("Uart("),
        Just("VenMsg("),
        Just("Path("),
        Just(")"),
        Just(","),
        Just("/"),
        Just("0x"),
        Just("1"),
        Just("F"),
        Just("::"),
        Just("."),
        Just("-"),
        Just("GPT"),
        Just("\\"),
        Just("8C8F8E26-9D6C-4A6B-9D5C-3F5A2E1B0C0D"),
    ];
    proptest::collection::vec(tokens, 0..24).prop_map(|t| t.concat())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = path_to_text(&bytes, PLAIN);
        let _ = path_to_text(&bytes, super::DISPLAY);
        let _ = crate::utilities::next_instance(&bytes);
        let _ = crate::utilities::is_multi_instance(&bytes);
        let _ = crate::utilities::append_path(Some(&bytes), Some(&bytes));
        let _ = crate::utilities::append_node(Some(&bytes), Some(&bytes));
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,80}") {
        let _ = text_to_path(&text);
        let _ = text_to_node(&text);
    }

    #[test]
    fn texty_text_never_panics_and_reads_back(text in texty()) {
        if let Ok(bytes) = text_to_path(&text) {
            // Whatever was accepted is a valid path whose lossless text reads back to the same bytes.
            let written = path_to_text(&bytes, PLAIN).unwrap();
            prop_assert_eq!(text_to_path(&written).unwrap(), bytes);
        }
    }
}
