//! `$ref` resolution: local pointers, other files (relative paths), embedded `$id`
//! resources and anchors, all relative to the right base URI.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use url::Url;

use super::{Dialect, Loc, Lowerer};
use crate::load::{escape, fragment_pointer, DocId};

/// Why a `$ref` could not be followed.
#[derive(Debug, Clone)]
pub enum RefError {
    /// It names something that does not exist: the contract is broken.
    Broken(String),
    /// It names a remote document, which is never fetched: the value is kept as JSON.
    Remote(String),
    /// It names a file the contract may not read (outside the allowed folders, not a
    /// regular file, too large).
    Refused(String),
}

impl std::fmt::Display for RefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefError::Broken(m) | RefError::Remote(m) | RefError::Refused(m) => f.write_str(m),
        }
    }
}

/// Embedded resources (`$id`) and anchors of the loaded documents.
#[derive(Debug, Default)]
pub struct IdIndex {
    indexed: HashSet<DocId>,
    /// Absolute URI (no fragment) of an embedded resource to its location.
    resources: HashMap<String, Loc>,
    /// `uri#anchor` to its location.
    anchors: HashMap<String, Loc>,
    /// Base URI of each resource root, by location.
    bases: HashMap<Loc, Url>,
}

/// Keys whose values are data, not schemas: never searched for `$id`.
const DATA_KEYS: &[&str] = &[
    "enum",
    "const",
    "examples",
    "example",
    "default",
    "x-examples",
];

impl Lowerer<'_> {
    fn id_keyword(&self) -> &'static str {
        if self.dialect == Dialect::Draft4 && !self.is_openapi {
            "id"
        } else {
            "$id"
        }
    }

    fn index_doc(&mut self, doc: DocId) {
        if !self.ids.indexed.insert(doc) {
            return;
        }
        let id_key = self.id_keyword();
        let uri = self.docs.get(doc).uri.clone();
        let value = self.docs.get(doc).value.clone();
        let value = value.as_ref();
        let mut stack: Vec<(&Value, String, Url)> = vec![(value, String::new(), uri)];
        while let Some((node, ptr, base)) = stack.pop() {
            match node {
                Value::Object(map) => {
                    let mut base = base;
                    // Before 2019-09, `$ref` makes its siblings (even `$id`) ignored.
                    let id = if self.dialect <= Dialect::Draft7 && map.contains_key("$ref") {
                        None
                    } else {
                        map.get(id_key)
                            .or_else(|| map.get("$id"))
                            .and_then(Value::as_str)
                    };
                    if let Some(id) = id {
                        if let Some(anchor) = id.strip_prefix('#') {
                            let mut u = base.clone();
                            u.set_fragment(Some(anchor));
                            self.ids.anchors.insert(u.to_string(), (doc, ptr.clone()));
                        } else if let Ok(joined) = base.join(id) {
                            let mut joined = joined;
                            joined.set_fragment(None);
                            base = joined;
                            self.ids
                                .resources
                                .insert(base.to_string(), (doc, ptr.clone()));
                            self.ids.bases.insert((doc, ptr.clone()), base.clone());
                        }
                    }
                    for key in ["$anchor", "$dynamicAnchor"] {
                        if let Some(a) = map.get(key).and_then(Value::as_str) {
                            let mut u = base.clone();
                            u.set_fragment(Some(a));
                            self.ids
                                .anchors
                                .entry(u.to_string())
                                .or_insert((doc, ptr.clone()));
                        }
                    }
                    for (k, v) in map {
                        if DATA_KEYS.contains(&k.as_str()) || !(v.is_object() || v.is_array()) {
                            continue;
                        }
                        stack.push((v, format!("{ptr}/{}", escape(k)), base.clone()));
                    }
                }
                Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        if v.is_object() || v.is_array() {
                            stack.push((v, format!("{ptr}/{i}"), base.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The base URI in force at `loc`: the document's, changed by enclosing `$id`s.
    fn base_of(&mut self, loc: &Loc) -> Url {
        self.index_doc(loc.0);
        let mut base = self.docs.get(loc.0).uri.clone();
        let mut ptr = String::new();
        if let Some(b) = self.ids.bases.get(&(loc.0, String::new())) {
            base = b.clone();
        }
        for seg in loc.1.split('/').skip(1) {
            ptr.push('/');
            ptr.push_str(seg);
            if let Some(b) = self.ids.bases.get(&(loc.0, ptr.clone())) {
                base = b.clone();
            }
        }
        base
    }

    /// Resolves the `$ref` string found in the schema at `from`.
    pub(crate) fn resolve_ref(&mut self, from: &Loc, reference: &str) -> Result<Loc, RefError> {
        let base = self.base_of(from);
        let target = base.join(reference).map_err(|e| {
            RefError::Broken(format!("`{reference}` is not a valid reference: {e}"))
        })?;
        let fragment = target.fragment().unwrap_or("").to_string();
        let mut doc_uri = target.clone();
        doc_uri.set_fragment(None);
        let resource: Loc = if let Some(loc) = self.ids.resources.get(doc_uri.as_str()) {
            loc.clone()
        } else if let Some(id) = self.docs.find(doc_uri.as_str()) {
            (id, String::new())
        } else {
            let id = self.docs.load_uri(&doc_uri).map_err(|e| match e {
                crate::load::LoadError::Unreachable { .. } => RefError::Remote(e.to_string()),
                crate::load::LoadError::Refused { .. } => RefError::Refused(e.to_string()),
                other => RefError::Broken(other.to_string()),
            })?;
            self.index_doc(id);
            // The loaded document may itself declare the `$id` we were looking for.
            match self.ids.resources.get(doc_uri.as_str()) {
                Some(loc) => loc.clone(),
                None => (id, String::new()),
            }
        };
        self.index_doc(resource.0);
        if fragment.is_empty() {
            return Ok(resource);
        }
        if fragment.starts_with('/') {
            let pointer = format!("{}{}", resource.1, fragment_pointer(&fragment));
            let loc = (resource.0, pointer);
            if self.value(&loc).is_none() {
                return Err(RefError::Broken(format!(
                    "`{reference}` points at nothing (no {} in {})",
                    loc.1,
                    self.docs.get(loc.0).path.display()
                )));
            }
            return Ok(loc);
        }
        let key = target.to_string();
        self.ids.anchors.get(&key).cloned().ok_or_else(|| {
            RefError::Broken(format!(
                "`{reference}` names the anchor `{fragment}`, which is not defined"
            ))
        })
    }
}

/// At most this many `$ref`s are followed from one place (a longer chain is reported as
/// one that does not end).
pub(crate) const MAX_REF_CHAIN: usize = 64;

/// Where following `$ref`s from a place led.
pub(crate) enum Chased {
    /// The chain ends here: a value that is not a pure `$ref` (or, when asked, a `$ref`
    /// whose siblings apply too).
    End(Loc),
    /// The `$ref` at this place cannot be followed.
    Broken(Loc, RefError),
    /// The chain returns to a place it passed, or is longer than [`MAX_REF_CHAIN`]: the
    /// places, in order.
    Endless(Vec<Loc>),
}

impl Lowerer<'_> {
    /// Follows `$ref`s from `loc`: the one place that does (every caller's limit and
    /// cycle check is this one). With `stop_at_siblings`, a `$ref` with sibling
    /// keywords ends the chain in dialects where siblings apply (2019-09 and later).
    pub(crate) fn chase_refs(&mut self, loc: &Loc, stop_at_siblings: bool) -> Chased {
        let mut seen = vec![loc.clone()];
        loop {
            let current = seen.last().cloned().unwrap_or_else(|| loc.clone());
            let reference = match self.value(&current) {
                Some(Value::Object(map)) => match map.get("$ref").and_then(Value::as_str) {
                    Some(_)
                        if stop_at_siblings
                            && map.len() > 1
                            && self.dialect >= Dialect::Draft2019 =>
                    {
                        return Chased::End(current)
                    }
                    Some(r) => r.to_string(),
                    None => return Chased::End(current),
                },
                _ => return Chased::End(current),
            };
            match self.resolve_ref(&current, &reference) {
                Err(e) => return Chased::Broken(current, e),
                Ok(next) => {
                    let looped = seen.contains(&next);
                    seen.push(next);
                    if looped || seen.len() > MAX_REF_CHAIN {
                        return Chased::Endless(seen);
                    }
                }
            }
        }
    }
}
