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
