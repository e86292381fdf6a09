//! Text to binary (UEFI 2.10 section 10.6.2, `ConvertTextToDeviceNode` / `ConvertTextToDevicePath`).
//!
//! Path text is split at `/` (nodes) and `,` (instances) outside parentheses. A node text that begins with
//! `Keyword(` must end with the matching `)` and name a keyword of the specification; any other node text is a
//! file-path node holding that text.

use alloc::vec::Vec;

use crate::node::{kind, NodeBuilder, END_ENTIRE, END_INSTANCE, END_OF_INSTANCE, END_PATH};
use crate::text::Args;
use crate::{acpi, hardware, media, messaging, Error, MAX_PATH_BYTES};

/// One node text and where it starts (byte offset in the whole text).
struct Piece<'a> {
    text: &'a str,
    position: usize,
}

/// Splits path text into instances of node texts.
fn split(text: &str) -> Result<Vec<Vec<Piece<'_>>>, Error> {
    let mut instances = Vec::new();
    let mut nodes = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or(Error::Syntax { position: i })?,
            '/' | ',' if depth == 0 => {
                nodes.push(Piece {
                    text: &text[start..i],
                    position: start,
                });
                if c == ',' {
                    instances.push(core::mem::take(&mut nodes));
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(Error::Syntax {
            position: text.len(),
        });
    }
    nodes.push(Piece {
        text: &text[start..],
        position: start,
    });
    instances.push(nodes);
    Ok(instances)
}

/// The bytes of one node text (no end node appended).
fn parse_node(piece: &Piece) -> Result<Vec<u8>, Error> {
    let text = piece.text;
    if text.is_empty() {
        return Err(Error::EmptyNode {
            position: piece.position,
        });
    }
    if !media::looks_like_keyword(text) {
        return media::file_path(text);
    }
    let open = text.find('(').unwrap_or(text.len());
    let keyword = &text[..open];
    let inner = text
        .get(open + 1..)
        .and_then(|rest| rest.strip_suffix(')'))
        .filter(|inner| balanced(inner))
        .ok_or(Error::Syntax {
            position: piece.position + text.len(),
        })?;
    hardware::from_text(keyword, inner)
        .or_else(|| acpi::from_text(keyword, inner))
        .or_else(|| messaging::from_text(keyword, inner))
        .or_else(|| media::from_text(keyword, inner))
        .or_else(|| generic(keyword, inner))
        .unwrap_or_else(|| Err(Error::UnknownKeyword(keyword.into())))
}

/// True when parentheses in `text` never close more than they opened and all close.
fn balanced(text: &str) -> bool {
    let mut depth = 0i64;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return false,
            ')' => depth -= 1,
            _ => {}
        }
    }
    depth == 0
}

/// `Path(Type,Sub[,Hex])` and the per-type generic forms.
fn generic(keyword: &str, inner: &str) -> Option<Result<Vec<u8>, Error>> {
    let (name, fixed_kind): (&'static str, Option<u8>) = match keyword {
        "Path" => ("Path", None),
        "HardwarePath" => ("HardwarePath", Some(kind::HARDWARE)),
        "AcpiPath" => ("AcpiPath", Some(kind::ACPI)),
        "Msg" => ("Msg", Some(kind::MESSAGING)),
        "MediaPath" => ("MediaPath", Some(kind::MEDIA)),
        "BbsPath" => ("BbsPath", Some(kind::BBS)),
        _ => return None,
    };
    let a = Args::new(name, inner);
    Some((|| {
        let (node_kind, first) = match fixed_kind {
            Some(k) => (k, 0),
            None => {
                a.expect(2, 3)?;
                (a.num(0)?, 1)
            }
        };
        a.expect(first + 1, first + 2)?;
        NodeBuilder::new(node_kind, a.num(first)?)
            .raw(&a.hex(first + 1)?)
            .finish()
    })())
}

/// `ConvertTextToDeviceNode`: the bytes of the one node `text` describes (no end node appended). An end node
/// can be written as `Path(127,1)` or `Path(127,255)`.
///
/// Errors: empty text; more than one node; unbalanced parentheses; an unknown keyword; a wrong argument.
pub fn text_to_node(text: &str) -> Result<Vec<u8>, Error> {
    let instances = split(text)?;
    match instances.as_slice() {
        [nodes] if nodes.len() == 1 => parse_node(&nodes[0]),
        _ => Err(Error::Syntax {
            position: text.find(['/', ',']).unwrap_or(0),
        }),
    }
}

/// `ConvertTextToDevicePath`: the bytes of the path `text` describes, end node included; `""` is the empty path
/// (an end node alone) and an empty instance (`,` at either end or `,,`) is an instance without nodes.
///
/// Errors: as [`text_to_node`] for each node; an empty node between `/`; an end node written as a node
/// ([`Error::EndNodeInText`]); a path above [`MAX_PATH_BYTES`].
pub fn text_to_path(text: &str) -> Result<Vec<u8>, Error> {
    let instances = split(text)?;
    let mut path = Vec::new();
    let count = instances.len();
    for (i, nodes) in instances.into_iter().enumerate() {
        let empty_instance = nodes.len() == 1 && nodes[0].text.is_empty();
        if !empty_instance {
            for piece in &nodes {
                let node = parse_node(piece)?;
                if node[0] == kind::END && (node[1] == END_INSTANCE || node[1] == END_ENTIRE) {
                    return Err(Error::EndNodeInText);
                }
                path.extend_from_slice(&node);
                if path.len() > MAX_PATH_BYTES {
                    return Err(Error::TooLong);
                }
            }
        }
        if i + 1 < count {
            path.extend_from_slice(&END_OF_INSTANCE);
        }
    }
    path.extend_from_slice(&END_PATH);
    if path.len() > MAX_PATH_BYTES {
        return Err(Error::TooLong);
    }
    Ok(path)
}
