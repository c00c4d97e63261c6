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

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map<String, Value>, Option<String>, usize),
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    error: Option<YamlError>,
    documents: usize,
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

    fn add(&mut self, value: Value, anchor: usize, mark: Marker) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, key, _)) => match key.take() {
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
                    map.insert(k, value);
                }
            },
        }
    }

    fn key_text(&self, text: &str) -> bool {
        matches!(self.stack.last(), Some(Frame::Map(_, None, _))) && !text.is_empty()
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
                self.add(value, anchor, mark);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(v) => self.add(v, 0, mark),
                None => self.fail(mark, "an alias refers to an unknown anchor"),
            },
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(mark, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), anchor)
                } else {
                    Frame::Map(Map::new(), None, anchor)
                };
                self.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(items, a)) => (Value::Array(items), a),
                    Some(Frame::Map(map, _, a)) => (Value::Object(map), a),
                    None => return,
                };
                self.add(value, anchor, mark);
            }
            _ => {}
        }
    }
}

/// Reads one YAML document into a JSON value.
///
/// Multi-line quoted scalars whose continuation lines are not indented past their key
/// are refused by yaml-rust2 but accepted by libyaml, and vendors publish them (Docker's
/// contract does). Such a line is indented and the text parsed again; leading white space
/// of continuation lines is not part of the value, so the value is the same. The text
/// actually parsed is returned when it differs, for positions.
pub fn parse(text: &str) -> Result<(Value, Option<String>), YamlError> {
    let mut patched: Option<String> = None;
    for _ in 0..10_000 {
        let current = patched.as_deref().unwrap_or(text);
        match parse_once(current) {
            Err(e) if e.message.contains("invalid indentation in quoted scalar") => {
                match reindent_quoted(current, e.line, e.column) {
                    Some(next) => patched = Some(next),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
            Ok(v) => return Ok((v, patched)),
        }
    }
    Err(YamlError {
        line: 1,
        column: 1,
        message: "too many badly indented quoted scalars".into(),
    })
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
    // Find the closing quote, honouring escapes.
    let mut row = start;
    let mut col = quote_at + 1;
    let mut end_row = None;
    'scan: while row < lines.len() {
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
                end_row = Some(row);
                break 'scan;
            }
            col += 1;
        }
        row += 1;
        col = 0;
    }
    let end_row = end_row?;
    let mut changed = false;
    for l in lines.iter_mut().take(end_row + 1).skip(start + 1) {
        let indent = l.chars().take_while(|c| *c == ' ').count();
        if indent <= base && !l.trim().is_empty() {
            *l = format!("{}{}", " ".repeat(base + 2 - indent), l);
            changed = true;
        }
    }
    changed.then(|| lines.join("\n"))
}

fn parse_once(text: &str) -> Result<Value, YamlError> {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
        documents: 0,
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
    Ok(builder.root.unwrap_or(Value::Null))
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
        let (v, _) =
            parse("responses:\n  200:\n    n: 3\n    f: 1.5\n    s: '3'\n    b: true\n    z: ~\n")
                .unwrap();
        let r = &v["responses"]["200"];
        assert_eq!(r["n"], Value::from(3));
        assert_eq!(r["f"], Value::from(1.5));
        assert_eq!(r["s"], Value::from("3"));
        assert_eq!(r["b"], Value::Bool(true));
        assert_eq!(r["z"], Value::Null);
    }

    #[test]
    fn anchors_and_aliases_are_copied() {
        let (v, _) = parse("a: &x {k: 1}\nb: *x\n").unwrap();
        assert_eq!(v["a"], v["b"]);
    }

    #[test]
    fn under_indented_quoted_scalars_are_read_like_libyaml() {
        let (v, patched) = parse("a:\n  b: \"one\n  two\"\n  c: 1\n").unwrap();
        assert_eq!(v["a"]["b"], Value::from("one two"));
        assert!(patched.is_some());
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
