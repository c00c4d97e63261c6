//! JSON into `serde_json::Value`, noting keys that appear twice in one object.
//!
//! `serde_json::from_str::<Value>` keeps the last of two equal keys without a word; in a
//! contract that silently drops a schema or a webhook, so the loader names each one.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::yaml::{Parsed, MAX_DEPTH};

/// Parses `text` as one JSON value.
pub fn parse(text: &str) -> Result<Parsed, serde_json::Error> {
    let mut state = State::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Node { state: &mut state }.deserialize(&mut de)?;
    de.end()?;
    Ok(Parsed {
        value,
        patched: None,
        duplicates: state.duplicates,
    })
}

#[derive(Default)]
struct State {
    path: Vec<String>,
    duplicates: Vec<String>,
}

struct Node<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.state.path.len() >= MAX_DEPTH {
            return Err(serde::de::Error::custom(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        let mut items = Vec::new();
        loop {
            self.state.path.push(items.len().to_string());
            let next = seq.next_element_seed(Node {
                state: &mut *self.state,
            });
            self.state.path.pop();
            match next? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        if self.state.path.len() >= MAX_DEPTH {
            return Err(serde::de::Error::custom(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            self.state.path.push(key);
            let value = access.next_value_seed(Node {
                state: &mut *self.state,
            });
            let key = self.state.path.pop().unwrap_or_default();
            let value = value?;
            if map.contains_key(&key) {
                let mut pointer: String = self
                    .state
                    .path
                    .iter()
                    .map(|s| format!("/{}", super::escape(s)))
                    .collect();
                pointer.push('/');
                pointer.push_str(&super::escape(&key));
                self.state.duplicates.push(pointer);
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// The line and column (1-based, columns in characters) of each node of the JSON `text`
/// whose pointer is in `wanted`: a member at its key (where a reader looks), an array
/// element or the root at its value. `text` has been parsed already (by [`parse`]),
/// so it is well-formed and its nesting is bounded.
///
/// Written by hand rather than taken from the YAML parser's event marks (which also
/// read JSON): one pass over the bytes that builds pointers only on a shared buffer and
/// stores only the wanted ones is about 20 times faster on a 600 kB contract, and
/// diagnostics of large JSON contracts (octokit's webhook schemas) were a quarter of
/// `check`'s time.
pub fn positions(
    text: &str,
    wanted: &std::collections::HashSet<&str>,
) -> std::collections::HashMap<String, (usize, usize)> {
    let mut scan = Scan {
        bytes: text.as_bytes(),
        at: 0,
        line: 1,
        col: 1,
        pointer: String::new(),
        wanted,
        out: std::collections::HashMap::new(),
    };
    if text.starts_with('\u{feff}') {
        scan.at = 3;
    }
    scan.space();
    scan.mark(scan.line, scan.col);
    scan.value(0);
    scan.out
}

struct Scan<'t, 'w> {
    bytes: &'t [u8],
    at: usize,
    line: usize,
    col: usize,
    pointer: String,
    wanted: &'w std::collections::HashSet<&'w str>,
    out: std::collections::HashMap<String, (usize, usize)>,
}

impl Scan<'_, '_> {
    fn peek(&self) -> u8 {
        self.bytes.get(self.at).copied().unwrap_or(0)
    }

    /// One byte on; a character's continuation bytes take no column.
    fn bump(&mut self) {
        if let Some(&b) = self.bytes.get(self.at) {
            self.at += 1;
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                self.col += 1;
            }
        }
    }

    fn space(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\r' | b'\n') {
            self.bump();
        }
    }

    fn mark(&mut self, line: usize, col: usize) {
        if self.wanted.contains(self.pointer.as_str()) {
            self.out.entry(self.pointer.clone()).or_insert((line, col));
        }
    }

    /// A string's raw text (between the quotes), the cursor after its closing quote.
    fn string(&mut self) -> &str {
        self.bump();
        let start = self.at;
        while self.at < self.bytes.len() {
            match self.peek() {
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => break,
                _ => self.bump(),
            }
        }
        let end = self.at;
        self.bump();
        std::str::from_utf8(&self.bytes[start..end]).unwrap_or_default()
    }

    fn value(&mut self, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match self.peek() {
            b'{' => {
                self.bump();
                loop {
                    self.space();
                    if self.peek() != b'"' {
                        self.bump();
                        return;
                    }
                    let (line, col) = (self.line, self.col);
                    let raw = self.string();
                    let key = if raw.contains('\\') {
                        serde_json::from_str::<String>(&format!("\"{raw}\"")).unwrap_or_default()
                    } else {
                        raw.to_string()
                    };
                    let len = self.pointer.len();
                    self.pointer.push('/');
                    self.pointer
                        .push_str(&key.replace('~', "~0").replace('/', "~1"));
                    self.mark(line, col);
                    self.space();
                    self.bump(); // ':'
                    self.space();
                    self.value(depth + 1);
                    self.pointer.truncate(len);
                    self.space();
                    if self.peek() == b',' {
                        self.bump();
                    }
                }
            }
            b'[' => {
                self.bump();
                let mut index = 0usize;
                loop {
                    self.space();
                    if matches!(self.peek(), b']' | 0) {
                        self.bump();
                        return;
                    }
                    let len = self.pointer.len();
                    self.pointer.push('/');
                    self.pointer.push_str(&index.to_string());
                    self.mark(self.line, self.col);
                    self.value(depth + 1);
                    self.pointer.truncate(len);
                    index += 1;
                    self.space();
                    if self.peek() == b',' {
                        self.bump();
                    }
                }
            }
            b'"' => {
                self.string();
            }
            _ => {
                while !matches!(
                    self.peek(),
                    b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n' | 0
                ) {
                    self.bump();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn positions_agree_with_the_yaml_readers_marks() {
        let text = "{\n  \"a\": {\"b~/\\\"c\": [1, {\"d\": \"é\"}, \"x\"]},\n  \"é\": [ [true] ],\n  \"z\": null\n}\n";
        let all = super::super::yaml::positions(text);
        let wanted: HashSet<&str> = all.keys().map(String::as_str).collect();
        let ours = super::positions(text, &wanted);
        for (pointer, pos) in &all {
            if pointer.contains('\u{0}') {
                continue;
            }
            assert_eq!(ours.get(pointer), Some(pos), "{pointer}");
        }
        assert!(ours.len() >= 9, "{ours:?}");
        // Only what is wanted is kept.
        let one: HashSet<&str> = ["/a/b~0~1\"c/1/d"].into();
        let ours = super::positions(text, &one);
        assert_eq!(ours.len(), 1);
        assert_eq!(ours["/a/b~0~1\"c/1/d"], (2, 24));
    }

    fn json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let key = || proptest::string::string_regex("[a-z~/\"\\\\é ]{0,6}").unwrap();
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i32>().prop_map(serde_json::Value::from),
            proptest::string::string_regex("[a-zé\"\\\\\n]{0,5}")
                .unwrap()
                .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn positions_of_any_json_agree_with_the_yaml_readers(value in json(), pretty in proptest::bool::ANY) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let all = super::super::yaml::positions(&text);
            let wanted: HashSet<&str> = all.keys().map(String::as_str).collect();
            let ours = super::positions(&text, &wanted);
            for (pointer, pos) in &all {
                if pointer.contains('\u{0}') {
                    continue;
                }
                proptest::prop_assert_eq!(ours.get(pointer), Some(pos), "{} in {}", pointer, text);
            }
        }
    }
}
