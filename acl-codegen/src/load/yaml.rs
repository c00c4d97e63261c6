//! YAML (and JSON read as YAML) into `serde_json::Value`, and the position of every node.
//!
//! yaml-rust2's event parser is used directly instead of a serde bridge: contracts key
//! responses by plain numbers (`200:`), which must become the string `"200"`, nesting
//! depth must be bounded (a deeply nested `Value` overflows the stack when dropped),
//! and the same events give the line and column of every JSON pointer for diagnostics.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Nesting deeper than this is refused: no real contract comes close, and recursive
/// consumers (serde_json's `Drop`, schema lowering) need a bound.
pub const MAX_DEPTH: usize = 128;

/// A YAML text that could not be read.
#[derive(Debug, Clone)]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Aliases may expand to at most this many nodes in all: a 600-byte "billion laughs"
/// (anchors of anchors) otherwise expands to gigabytes. Real contracts that use anchors
/// reuse a few small fragments.
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// An open container: its content, the pending key of a map, its anchor, and the
/// number of nodes in it so far (for the alias budget).
enum Frame {
    Seq(Vec<Value>, usize, usize),
    Map(Map<String, Value>, Option<String>, usize, usize),
}

struct Builder {
    stack: Vec<Frame>,
    /// Anchored values with their node counts.
    anchors: HashMap<usize, (Value, usize)>,
    root: Option<Value>,
    error: Option<YamlError>,
    documents: usize,
    /// Nodes produced by aliases so far.
    alias_nodes: usize,
    /// JSON pointers of mapping keys that appear twice in their mapping.
    duplicates: Vec<String>,
}

/// A YAML (or JSON) text read into a value.
#[derive(Debug)]
pub struct Parsed {
    /// The value.
    pub value: Value,
    /// The text actually parsed, when under-indented quoted scalars had to be patched.
    pub patched: Option<String>,
    /// JSON pointers of keys that appear more than once in their mapping (the last one
    /// is kept; a contract with duplicate keys is ambiguous and reported as an error).
    pub duplicates: Vec<String>,
}

fn scalar(text: String, style: TScalarStyle, tag: Option<&yaml_rust2::parser::Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.suffix == "str" {
            return Value::String(text);
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        let body = text.strip_prefix('+').unwrap_or(&text);
        if let Some(hex) = body.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Value::from(i);
            }
        } else if let Some(oct) = body.strip_prefix("0o") {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Value::from(i);
            }
        } else if let Ok(i) = body.parse::<i64>() {
            return Value::from(i);
        } else if let Ok(u) = body.parse::<u64>() {
            return Value::from(u);
        } else if body
            .chars()
            .all(|c| c.is_ascii_digit() || "-+.eE".contains(c))
        {
            if let Ok(f) = body.parse::<f64>() {
                if let Some(n) = Number::from_f64(f) {
                    return Value::Number(n);
                }
            }
        }
    }
    Value::String(text)
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line: mark.line(),
                column: mark.col() + 1,
                message: message.into(),
            });
        }
    }

    /// The JSON pointer of the value the innermost open container is about to receive
    /// under `key` (for a map) .
    fn pointer_to(&self, key: &str) -> String {
        let mut out = String::new();
        let depth = self.stack.len();
        for (i, frame) in self.stack.iter().enumerate() {
            out.push('/');
            match frame {
                _ if i + 1 == depth => out.push_str(&crate::load::escape(key)),
                Frame::Seq(items, ..) => out.push_str(&items.len().to_string()),
                Frame::Map(_, k, ..) => {
                    out.push_str(&crate::load::escape(k.as_deref().unwrap_or("")))
                }
            }
        }
        out
    }

    fn add(&mut self, value: Value, anchor: usize, nodes: usize, mark: Marker) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), nodes));
        }
        let mut duplicate = None;
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq(items, _, n)) => {
                *n += nodes;
                items.push(value)
            }
            Some(Frame::Map(map, key, _, n)) => {
                *n += nodes;
                match key.take() {
                    None => {
                        let k = match value {
                            Value::String(s) => s,
                            Value::Null => "null".into(),
                            Value::Bool(b) => b.to_string(),
                            Value::Number(n) => n.to_string(),
                            other => {
                                self.fail(
                                    mark,
                                    format!("a mapping key must be a scalar, found {other}"),
                                );
                                return;
                            }
                        };
                        *key = Some(k);
                    }
                    Some(k) => {
                        if map.contains_key(&k) {
                            duplicate = Some(k.clone());
                        }
                        map.insert(k, value);
                    }
                }
            }
        }
        if let Some(k) = duplicate {
            let pointer = self.pointer_to(&k);
            self.duplicates.push(pointer);
        }
    }

    fn key_text(&self, text: &str) -> bool {
        matches!(self.stack.last(), Some(Frame::Map(_, None, ..))) && !text.is_empty()
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        mark,
                        "a contract file holds one YAML document, found a second one",
                    );
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                // Mapping keys stay text even when they look like numbers (`200:`).
                let value = if self.key_text(&text) {
                    Value::String(text)
                } else {
                    scalar(text, style, tag.as_ref())
                };
                self.add(value, anchor, 1, mark);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((_, nodes)) if self.alias_nodes + nodes > MAX_ALIAS_NODES => {
                    self.fail(
                        mark,
                        format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes \
                             (anchors of anchors: a YAML alias bomb?)"
                        ),
                    );
                }
                Some((v, nodes)) => {
                    let (v, nodes) = (v.clone(), *nodes);
                    self.alias_nodes += nodes;
                    self.add(v, 0, nodes, mark)
                }
                None => self.fail(mark, "an alias refers to an unknown anchor"),
            },
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(mark, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), anchor, 1)
                } else {
                    Frame::Map(Map::new(), None, anchor, 1)
                };
                self.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, nodes) = match self.stack.pop() {
                    Some(Frame::Seq(items, a, n)) => (Value::Array(items), a, n),
                    Some(Frame::Map(map, _, a, n)) => (Value::Object(map), a, n),
                    None => return,
                };
                self.add(value, anchor, nodes, mark);
            }
            _ => {}
        }
    }
}

/// Reads one YAML document into a JSON value.
///
/// Multi-line quoted scalars whose continuation lines are not indented past their key
/// are refused by yaml-rust2 but accepted by libyaml, and vendors publish them (Docker's
/// contract does). At the first such error every such scalar from there on is indented
/// in one pass over the lines and the text parsed again (re-parsing once per scalar was
/// quadratic); leading white space of continuation lines is not part of the value, so
/// the value is the same. The text actually parsed is returned when it differs, for
/// positions.
pub fn parse(text: &str) -> Result<Parsed, YamlError> {
    parse_counted(text).map(|(p, _)| p)
}

/// Re-parses after one-scalar fixes at most this many times (the one-pass fix handles
/// every case seen in published contracts; this bounds the work when it does not).
const MAX_REPARSES: usize = 32;

/// [`parse`], and how many times the text was parsed.
fn parse_counted(text: &str) -> Result<(Parsed, usize), YamlError> {
    let mut patched: Option<String> = None;
    let mut swept = false;
    for round in 1..=MAX_REPARSES {
        let current = patched.as_deref().unwrap_or(text);
        match parse_once(current) {
            Err(e) if e.message.contains("invalid indentation in quoted scalar") => {
                let next = if swept {
                    reindent_quoted(current, e.line, e.column)
                } else {
                    swept = true;
                    reindent_all_quoted(current, e.line.saturating_sub(1))
                        .or_else(|| reindent_quoted(current, e.line, e.column))
                };
                match next {
                    Some(next) => patched = Some(next),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
            Ok((value, duplicates)) => {
                return Ok((
                    Parsed {
                        value,
                        patched,
                        duplicates,
                    },
                    round,
                ))
            }
        }
    }
    Err(YamlError {
        line: 1,
        column: 1,
        message: "too many badly indented quoted scalars".into(),
    })
}

/// Where the value of a block-style line starts (after `- ` markers and a `key: `),
/// as a char index, or `None` when the line holds no value.
fn value_start(chars: &[char]) -> Option<usize> {
    let mut i = chars.iter().take_while(|c| **c == ' ').count();
    while chars.get(i) == Some(&'-') && chars.get(i + 1) == Some(&' ') {
        i += 2;
        while chars.get(i) == Some(&' ') {
            i += 1;
        }
    }
    // A quoted value right after the markers (a sequence item, or a quoted key).
    if matches!(chars.get(i), Some('"') | Some('\'')) {
        let quote = chars[i];
        // A quoted key is followed by `:`; find the close on this line.
        let close = (i + 1..chars.len()).find(|j| chars[*j] == quote && chars[*j - 1] != '\\');
        match close {
            Some(c) if chars.get(c + 1) == Some(&':') => i = c + 2,
            _ => return Some(i),
        }
    } else {
        // A plain key: up to the first `: ` (or a final `:`).
        let mut j = i;
        loop {
            match chars.get(j) {
                None => return None,
                Some(':') if matches!(chars.get(j + 1), None | Some(' ')) => break,
                Some('#') if j > 0 && chars[j - 1] == ' ' => return None,
                _ => j += 1,
            }
        }
        i = j + 1;
    }
    while chars.get(i) == Some(&' ') {
        i += 1;
    }
    (i < chars.len()).then_some(i)
}

/// Indents, in one pass from line `from` (0-based), every quoted scalar whose
/// continuation lines are not indented past the line it starts on. Block scalars
/// (`|`, `>`) are skipped: their lines are content.
fn reindent_all_quoted(text: &str, from: usize) -> Option<String> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut changed = false;
    let mut block: Option<usize> = None;
    let mut row = from;
    while row < lines.len() {
        let chars: Vec<char> = lines[row].chars().collect();
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let blank = lines[row].trim().is_empty();
        if let Some(parent) = block {
            if blank || indent > parent {
                row += 1;
                continue;
            }
            block = None;
        }
        let Some(start) = value_start(&chars) else {
            row += 1;
            continue;
        };
        match chars[start] {
            '|' | '>' => {
                block = Some(indent);
                row += 1;
            }
            quote @ ('"' | '\'') => {
                let Some(end_row) = closing_row(&lines, row, start + 1, quote) else {
                    return changed.then(|| lines.join("\n"));
                };
                changed |= indent_continuation(&mut lines, row, end_row, indent);
                row = end_row + 1;
            }
            _ => row += 1,
        }
    }
    changed.then(|| lines.join("\n"))
}

/// The row on which the quoted scalar opened at `row`:`col - 1` closes.
fn closing_row(lines: &[String], row: usize, col: usize, quote: char) -> Option<usize> {
    let (mut row, mut col) = (row, col);
    while row < lines.len() {
        let chars: Vec<char> = lines[row].chars().collect();
        while col < chars.len() {
            let c = chars[col];
            if quote == '"' && c == '\\' {
                col += 2;
                continue;
            }
            if c == quote {
                if quote == '\'' && chars.get(col + 1) == Some(&'\'') {
                    col += 2;
                    continue;
                }
                return Some(row);
            }
            col += 1;
        }
        row += 1;
        col = 0;
    }
    None
}

/// Indents the continuation lines of the quoted scalar that starts at `line`:`column`
/// (1-based) past the indentation of the line it starts on.
fn reindent_quoted(text: &str, line: usize, column: usize) -> Option<String> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let start = line.checked_sub(1)?;
    let first: Vec<char> = lines.get(start)?.chars().collect();
    let quote_at = column.checked_sub(1)?;
    let quote = *first.get(quote_at)?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let base = first.iter().take_while(|c| **c == ' ').count();
    let end_row = closing_row(&lines, start, quote_at + 1, quote)?;
    indent_continuation(&mut lines, start, end_row, base).then(|| lines.join("\n"))
}

/// Indents the lines after `start` up to `end` (the continuation of a quoted scalar)
/// that are not indented past `base`; whether any was.
fn indent_continuation(lines: &mut [String], start: usize, end: usize, base: usize) -> bool {
    let mut changed = false;
    for l in lines.iter_mut().take(end + 1).skip(start + 1) {
        let indent = l.chars().take_while(|c| *c == ' ').count();
        if indent <= base && !l.trim().is_empty() {
            *l = format!("{}{}", " ".repeat(base + 2 - indent), l);
            changed = true;
        }
    }
    changed
}

fn parse_once(text: &str) -> Result<(Value, Vec<String>), YamlError> {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
        documents: 0,
        alias_nodes: 0,
        duplicates: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        });
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok((builder.root.unwrap_or(Value::Null), builder.duplicates))
}

/// Line and column (1-based) of every node, by JSON pointer.
pub fn positions(text: &str) -> HashMap<String, (usize, usize)> {
    struct Indexer {
        // For each open container: its pointer, whether it is a map, the next index or
        // the pending key.
        stack: Vec<(String, bool, usize, Option<String>)>,
        out: HashMap<String, (usize, usize)>,
    }
    impl Indexer {
        fn child_pointer(&mut self, text: Option<&str>) -> Option<String> {
            let (ptr, is_map, index, key) = self.stack.last_mut()?;
            if *is_map {
                match key.take() {
                    None => {
                        *key = Some(text.unwrap_or("").to_string());
                        None
                    }
                    Some(k) => Some(format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"))),
                }
            } else {
                let p = format!("{ptr}/{index}");
                *index += 1;
                Some(p)
            }
        }
    }
    impl MarkedEventReceiver for Indexer {
        fn on_event(&mut self, ev: Event, mark: Marker) {
            let pos = (mark.line(), mark.col() + 1);
            match ev {
                Event::Scalar(text, ..) => {
                    if self.stack.is_empty() {
                        self.out.insert(String::new(), pos);
                    } else if let Some(p) = self.child_pointer(Some(&text)) {
                        self.out.entry(p).or_insert(pos);
                    } else if let Some((ptr, _, _, Some(k))) = self.stack.last() {
                        // A key: point the member at its key, which is where a reader looks.
                        let p = format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"));
                        self.out.insert(p, pos);
                    }
                }
                Event::Alias(_) if !self.stack.is_empty() => {
                    self.child_pointer(None);
                }
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    let is_map = matches!(ev, Event::MappingStart(..));
                    let ptr = if self.stack.is_empty() {
                        self.out.insert(String::new(), pos);
                        String::new()
                    } else {
                        match self.child_pointer(None) {
                            Some(p) => {
                                self.out.entry(p.clone()).or_insert(pos);
                                p
                            }
                            // A complex key: index it under a throwaway pointer.
                            None => "/\u{0}".into(),
                        }
                    };
                    self.stack.push((ptr, is_map, 0, None));
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    self.stack.pop();
                }
                _ => {}
            }
        }
    }
    let mut indexer = Indexer {
        stack: Vec::new(),
        out: HashMap::new(),
    };
    let mut parser = Parser::new_from_str(text);
    let _ = parser.load(&mut indexer, false);
    indexer.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_keys_stay_text_and_values_are_typed() {
        let v =
            parse("responses:\n  200:\n    n: 3\n    f: 1.5\n    s: '3'\n    b: true\n    z: ~\n")
                .unwrap()
                .value;
        let r = &v["responses"]["200"];
        assert_eq!(r["n"], Value::from(3));
        assert_eq!(r["f"], Value::from(1.5));
        assert_eq!(r["s"], Value::from("3"));
        assert_eq!(r["b"], Value::Bool(true));
        assert_eq!(r["z"], Value::Null);
    }

    #[test]
    fn anchors_and_aliases_are_copied() {
        let v = parse("a: &x {k: 1}\nb: *x\n").unwrap().value;
        assert_eq!(v["a"], v["b"]);
    }

    #[test]
    fn under_indented_quoted_scalars_are_read_like_libyaml() {
        let p = parse("a:\n  b: \"one\n  two\"\n  c: 1\n").unwrap();
        assert_eq!(p.value["a"]["b"], Value::from("one two"));
        assert!(p.patched.is_some());
    }

    #[test]
    fn many_under_indented_scalars_are_fixed_in_one_pass() {
        let mut text = String::from("a:\n");
        for i in 0..1000 {
            text.push_str(&format!(
                "  k{i}: \"one\n  two\"\n  b{i}: |\n    x: \"not\n  a: quote\n"
            ));
        }
        let (p, parses) = parse_counted(&text).unwrap();
        assert!(parses <= 3, "{parses} parses");
        assert_eq!(p.value["a"]["k999"], Value::from("one two"));
        // Block scalar content is left as it is.
        assert_eq!(p.value["a"]["b7"], Value::from("x: \"not\n"));
        assert_eq!(p.value["a"]["a"], Value::from("quote"));
    }

    #[test]
    fn an_alias_bomb_is_refused_with_a_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        assert!(text.len() < 700, "{}", text.len());
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("alias"), "{}", e.message);
        assert_eq!(e.line, 6, "{e:?}"); // a5: its aliases of a4 pass the budget
    }

    #[test]
    fn aliases_within_the_budget_are_expanded() {
        let v = parse("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n").unwrap().value;
        assert_eq!(v["b"].as_array().unwrap().len(), 3);
        assert_eq!(v["b"][2], v["a"]);
    }

    #[test]
    fn duplicate_keys_are_named_by_pointer() {
        let p = parse("a:\n  - x: 1\n    x: 2\nwebhooks: {}\nwebhooks: {}\n").unwrap();
        assert_eq!(
            p.duplicates,
            vec!["/a/0/x".to_string(), "/webhooks".to_string()]
        );
        assert_eq!(p.value["a"][0]["x"], Value::from(2));
        let j =
            crate::load::json::parse(r#"{"a": [{"b~/": 1, "b~/": 2}], "c": 1, "c": 2}"#).unwrap();
        assert_eq!(
            j.duplicates,
            vec!["/a/0/b~0~1".to_string(), "/c".to_string()]
        );
    }

    #[test]
    fn depth_is_bounded() {
        let text = "[".repeat(MAX_DEPTH + 5) + &"]".repeat(MAX_DEPTH + 5);
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("nesting"), "{}", e.message);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
    }

    #[test]
    fn positions_point_at_members() {
        let p =
            positions("openapi: 3.1.0\ncomponents:\n  schemas:\n    Pet:\n      type: object\n");
        assert_eq!(p["/components/schemas/Pet"], (4, 5));
        assert_eq!(p["/components/schemas/Pet/type"], (5, 7));
        let j = positions("{\n  \"a\": [1, {\"b/c\": 2}]\n}");
        assert_eq!(j["/a/1/b~1c"].0, 2);
    }
}
