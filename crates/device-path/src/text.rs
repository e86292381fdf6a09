//! Helpers shared by the node codecs: writing hex, and reading the arguments of `Keyword(arg,...)`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::{Error, Guid};

/// Appends `bytes` as upper-case hex, two digits per byte, no prefix.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
}

/// Parses a number: `0x`/`0X` followed by hex digits, or decimal digits. Surrounding spaces are ignored.
pub fn parse_u64(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

/// Parses an even number of hex digits (no prefix) into bytes; `""` is no bytes.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().as_bytes();
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let s = core::str::from_utf8(pair).ok()?;
            if !pair.iter().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// The arguments of one `Keyword(...)` node text, split at commas, with errors naming the keyword.
pub struct Args<'a> {
    /// The keyword, for errors.
    pub keyword: &'static str,
    items: Vec<&'a str>,
}

impl<'a> Args<'a> {
    /// Splits `inner` (the text between the parentheses) at commas; `""` is no arguments.
    pub fn new(keyword: &'static str, inner: &'a str) -> Args<'a> {
        let items = if inner.trim().is_empty() {
            Vec::new()
        } else {
            inner.split(',').map(str::trim).collect()
        };
        Args { keyword, items }
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Errors unless the count is within `min..=max`.
    pub fn expect(&self, min: usize, max: usize) -> Result<(), Error> {
        if (min..=max).contains(&self.items.len()) {
            Ok(())
        } else {
            Err(Error::ArgumentCount {
                keyword: self.keyword,
                found: self.items.len(),
            })
        }
    }

    /// The error for argument `index`.
    pub fn bad(&self, index: usize) -> Error {
        Error::BadArgument {
            keyword: self.keyword,
            index,
        }
    }

    /// Argument `index` as text (`""` when absent).
    pub fn str(&self, index: usize) -> &'a str {
        self.items.get(index).copied().unwrap_or("")
    }

    /// Argument `index` as a number that fits `T`.
    pub fn num<T: TryFrom<u64>>(&self, index: usize) -> Result<T, Error> {
        parse_u64(self.str(index))
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| self.bad(index))
    }

    /// Argument `index` as a number, or `default` when the argument is absent or empty.
    pub fn num_or<T: TryFrom<u64>>(&self, index: usize, default: T) -> Result<T, Error> {
        if self.str(index).is_empty() {
            Ok(default)
        } else {
            self.num(index)
        }
    }

    /// Argument `index` as a GUID.
    pub fn guid(&self, index: usize) -> Result<Guid, Error> {
        Guid::parse(self.str(index)).ok_or_else(|| self.bad(index))
    }

    /// Argument `index` as hex bytes (absent = none).
    pub fn hex(&self, index: usize) -> Result<Vec<u8>, Error> {
        parse_hex(self.str(index)).ok_or_else(|| self.bad(index))
    }

    /// Argument `index` looked up in `names` (name, value); a number is accepted too.
    pub fn named<T: Copy + TryFrom<u64>>(
        &self,
        index: usize,
        names: &[(&str, T)],
    ) -> Result<T, Error> {
        let text = self.str(index);
        match names.iter().find(|(name, _)| *name == text) {
            Some(&(_, value)) => Ok(value),
            None => self.num(index),
        }
    }
}

/// The name of `value` in `names`, if it has one.
pub fn name_of<T: PartialEq + Copy>(names: &[(&'static str, T)], value: T) -> Option<&'static str> {
    names.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
}

/// True when `text` is usable verbatim as a text argument that reads back unchanged: printable ASCII without
/// separators or parentheses and without surrounding spaces.
pub fn is_plain_arg(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b',' | b'(' | b')' | b'/'))
        && text.trim() == text
}
