//! A small streaming JSON writer (RFC 8259) into a `String`: objects, arrays, strings with escaping, unsigned
//! numbers, booleans, and 64-bit values as `"0x..."` hex strings (JSON numbers are not safe above 2^53).
//!
//! Commas are placed by the writer: each container remembers whether it has a member yet. Misuse (a value where a
//! key is needed) is not detected; the report code is the only caller and its output is parsed by the tests.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// The writer.
#[derive(Default)]
pub struct Json {
    out: String,
    /// Per open container: whether it has a member already.
    has_member: Vec<bool>,
    /// A key was just written; the next value belongs to it.
    after_key: bool,
}

impl Json {
    /// An empty document.
    pub fn new() -> Json {
        Json::default()
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    fn separate(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(has) = self.has_member.last_mut() {
            if *has {
                self.out.push(',');
            }
            *has = true;
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    /// Starts an object (as a value).
    pub fn begin_object(&mut self) {
        self.separate();
        self.out.push('{');
        self.has_member.push(false);
    }

    /// Ends the innermost object.
    pub fn end_object(&mut self) {
        self.has_member.pop();
        self.out.push('}');
    }

    /// Starts an array (as a value).
    pub fn begin_array(&mut self) {
        self.separate();
        self.out.push('[');
        self.has_member.push(false);
    }

    /// Ends the innermost array.
    pub fn end_array(&mut self) {
        self.has_member.pop();
        self.out.push(']');
    }

    /// Writes a member name; the next value is its value.
    pub fn key(&mut self, k: &str) {
        self.separate();
        self.string(k);
        self.out.push(':');
        self.after_key = true;
    }

    /// A string value.
    pub fn str(&mut self, v: &str) {
        self.separate();
        self.string(v);
    }

    /// A number value.
    pub fn u64(&mut self, v: u64) {
        self.separate();
        let _ = write!(self.out, "{v}");
    }

    /// A boolean value.
    pub fn bool(&mut self, v: bool) {
        self.separate();
        self.out.push_str(if v { "true" } else { "false" });
    }

    /// `null`.
    pub fn null(&mut self) {
        self.separate();
        self.out.push_str("null");
    }

    /// A value as a `"0x..."` hex string.
    pub fn hex(&mut self, v: u64) {
        self.separate();
        let _ = write!(self.out, "\"{v:#x}\"");
    }

    /// `"k": "v"`.
    pub fn field_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    /// `"k": v`.
    pub fn field_u64(&mut self, k: &str, v: u64) {
        self.key(k);
        self.u64(v);
    }

    /// `"k": true|false`.
    pub fn field_bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.bool(v);
    }

    /// `"k": "0x..."`.
    pub fn field_hex(&mut self, k: &str, v: u64) {
        self.key(k);
        self.hex(v);
    }

    /// `"k": ["a", "b"]`.
    pub fn field_strs<S: AsRef<str>>(&mut self, k: &str, items: &[S]) {
        self.key(k);
        self.begin_array();
        for s in items {
            self.str(s.as_ref());
        }
        self.end_array();
    }

    /// `"k": {` (close with [`Json::end_object`]).
    pub fn object_field(&mut self, k: &str) {
        self.key(k);
        self.begin_object();
    }

    /// `"k": [` (close with [`Json::end_array`]).
    pub fn array_field(&mut self, k: &str) {
        self.key(k);
        self.begin_array();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_containers_get_commas_in_the_right_places() {
        let mut w = Json::new();
        w.begin_object();
        w.field_str("a", "x\"y\\z\n\u{1}é");
        w.array_field("list");
        w.u64(1);
        w.begin_object();
        w.field_bool("t", true);
        w.end_object();
        w.null();
        w.end_array();
        w.object_field("empty");
        w.end_object();
        w.field_hex("h", 0xfee0_0000);
        w.field_strs("s", &["p", "q"]);
        w.end_object();
        assert_eq!(
            w.finish(),
            r#"{"a":"x\"y\\z\n\u0001é","list":[1,{"t":true},null],"empty":{},"h":"0xfee00000","s":["p","q"]}"#
        );
    }
}
