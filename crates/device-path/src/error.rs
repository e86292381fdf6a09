//! The one error type of the crate.

use alloc::string::String;
use core::fmt;

/// Why a device path (binary or text) was refused. Offsets count bytes from the start of the binary path;
/// positions count bytes from the start of the (UTF-8) text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Fewer than 4 bytes (a node header) remain at `offset`.
    Truncated {
        /// Byte offset of the incomplete header.
        offset: usize,
    },
    /// The node at `offset` has a Length below 4 or past the end of the buffer.
    BadLength {
        /// Byte offset of the node.
        offset: usize,
        /// Its Length field.
        length: u16,
    },
    /// The path is longer than [`crate::MAX_PATH_BYTES`] or a node's data does not fit its 16-bit Length.
    TooLong,
    /// The text is empty where a node was expected (a node text of `""`, or `a//b`, or a trailing `/`).
    EmptyNode {
        /// Character position of the empty node.
        position: usize,
    },
    /// Parentheses do not balance, or something follows the closing parenthesis of a node.
    Syntax {
        /// Character position of the problem.
        position: usize,
    },
    /// `Keyword(...)` with a keyword the specification does not define.
    UnknownKeyword(String),
    /// A keyword got the wrong number of arguments.
    ArgumentCount {
        /// The keyword.
        keyword: &'static str,
        /// How many it got.
        found: usize,
    },
    /// An argument is not valid for its keyword (not a number, out of range, an unknown name, bad hex or GUID).
    BadArgument {
        /// The keyword.
        keyword: &'static str,
        /// Index of the argument, from 0.
        index: usize,
    },
    /// An end node given as a node text inside a path (instances are separated with `,` instead).
    EndNodeInText,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { offset } => write!(f, "node header truncated at byte {offset}"),
            Error::BadLength { offset, length } => {
                write!(f, "node at byte {offset} has a bad length {length}")
            }
            Error::TooLong => write!(f, "device path too long"),
            Error::EmptyNode { position } => write!(f, "empty node text at character {position}"),
            Error::Syntax { position } => write!(f, "syntax error at character {position}"),
            Error::UnknownKeyword(k) => write!(f, "unknown device node keyword {k:?}"),
            Error::ArgumentCount { keyword, found } => {
                write!(f, "{keyword}(): wrong number of arguments ({found})")
            }
            Error::BadArgument { keyword, index } => {
                write!(f, "{keyword}(): argument {} is not valid", index + 1)
            }
            Error::EndNodeInText => write!(f, "end node inside a path text"),
        }
    }
}
