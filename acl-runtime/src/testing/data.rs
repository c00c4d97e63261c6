//! Values that satisfy a contract's schema, generated from the schema itself
//! (deterministic for a seed): what a test double answers with when the contract gives
//! no example, and test data for the code that consumes the boundary types.
//!
//! Reads the contract's embedded documents (`types::CONTRACT`), follows `$ref`s between
//! them, and honours what the generated types check: `type` (a list too), `enum`,
//! `const`, `properties`/`required`, `additionalProperties`, `minProperties`, `items`
//! and `prefixItems`, `minItems`/`maxItems`/`uniqueItems`, `minLength`/`maxLength`,
//! `pattern` (a string built from the regular expression), the common `format`s,
//! `minimum`/`maximum` (exclusive too) and `multipleOf`, `allOf` (merged), `oneOf`/`anyOf`
//! (a branch), and recursion (optional properties are left out as depth grows, and
//! nesting is bounded). What it cannot satisfy is an error naming the schema.

use serde_json::{Map, Number, Value};

use crate::Contract;

/// The rule an invalid value breaks ([`Generator::invalid`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// Where in the value (a JSON pointer; for `required`, the missing member).
    pub pointer: String,
    /// The keyword: `required`, `type`, `maxLength`, `minimum`, ...
    pub rule: &'static str,
}

/// A schema no value was generated for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no value for {schema}: {why}")]
pub struct DataError {
    /// Where the schema is (`uri#pointer`).
    pub schema: String,
    /// Why.
    pub why: String,
}

/// Generates values for a contract's schemas.
#[derive(Debug, Clone)]
pub struct Generator {
    documents: Vec<(String, Value)>,
}

/// Nesting beyond which only what is required is generated, and the hard bound.
const SHALLOW: u32 = 3;
const MAX_DEPTH: u32 = 48;
/// The largest string, list or object a schema may ask for (a contract comes from
/// outside: `minLength: 1000000000` is refused, not allocated).
const MAX_SIZE: u64 = 1 << 16;

impl Generator {
    /// A generator for `contract`'s documents.
    pub fn new(contract: &Contract) -> Result<Self, DataError> {
        let mut documents = Vec::with_capacity(contract.documents.len());
        for (uri, text) in contract.documents {
            let value = serde_json::from_str(text).map_err(|e| DataError {
                schema: uri.to_string(),
                why: format!("the document does not read: {e}"),
            })?;
            documents.push((uri.to_string(), value));
        }
        Ok(Self { documents })
    }

    /// A value for the schema at `schema_ref` (`uri#pointer`, as in `types::schema_refs`).
    pub fn value(&self, schema_ref: &str, seed: u64) -> Result<Value, DataError> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (doc, schema) = self.resolve(schema_ref, 0)?;
        Walk {
            g: self,
            rng: &mut rng,
            nodes: 0,
        }
        .value(schema, doc, schema_ref, 0)
    }

    /// Whether `value` looks like it fits `schema` (types, `const`/`enum`, required and
    /// unknown properties, recursively while shallow): a quick check, `true` when unsure.
    fn plausibly(&self, schema: &Value, doc: usize, value: &Value, depth: u32) -> bool {
        self.plausibly_within(schema, doc, value, depth, &mut 10_000)
    }

    /// [`Generator::plausibly`] spending at most `budget` schema nodes (then: unsure).
    fn plausibly_within(
        &self,
        schema: &Value,
        doc: usize,
        value: &Value,
        depth: u32,
        budget: &mut u32,
    ) -> bool {
        if depth > 8 || *budget == 0 {
            return true;
        }
        *budget -= 1;
        let s = match schema {
            Value::Bool(b) => return *b,
            Value::Object(s) => s,
            _ => return true,
        };
        if let Some(Value::String(r)) = s.get("$ref") {
            return match self.resolve(r, doc) {
                Ok((d, target)) => self.plausibly_within(target, d, value, depth + 1, budget),
                Err(_) => true,
            };
        }
        if let Some(c) = s.get("const") {
            return c == value;
        }
        if let Some(Value::Array(values)) = s.get("enum") {
            return values.contains(value);
        }
        if let Some(Value::Array(parts)) = s.get("allOf") {
            if !parts
                .iter()
                .all(|p| self.plausibly_within(p, doc, value, depth + 1, budget))
            {
                return false;
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = s.get(key) {
                if !branches
                    .iter()
                    .any(|b| self.plausibly_within(b, doc, value, depth + 1, budget))
                {
                    return false;
                }
            }
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| of_type(value, t)) {
            return false;
        }
        if let Value::Object(map) = value {
            let props = s.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(required)) = s.get("required") {
                if required
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|r| !map.contains_key(r))
                {
                    return false;
                }
            }
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(p) => {
                        if !self.plausibly_within(p, doc, v, depth + 1, budget) {
                            return false;
                        }
                    }
                    None => {
                        if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// The example the contract gives for the schema at `schema_ref`: the media type's
    /// `example` or first `examples` entry (when the reference ends in `/schema`), else
    /// the schema's own `example` or first `examples`. Vendors' examples do not always
    /// fit their schemas: check before relying on one.
    pub fn example(&self, schema_ref: &str) -> Option<Value> {
        let first_example = |v: &Value| -> Option<Value> {
            if let Some(e) = v.get("example") {
                return Some(e.clone());
            }
            match v.get("examples")? {
                Value::Object(named) => named.values().next().and_then(|e| e.get("value")).cloned(),
                Value::Array(list) => list.first().cloned(),
                _ => None,
            }
        };
        if let Some(media) = schema_ref.strip_suffix("/schema") {
            if let Ok((_, m)) = self.resolve(media, 0) {
                if let Some(e) = first_example(m) {
                    return Some(e);
                }
            }
        }
        let (_, schema) = self.resolve(schema_ref, 0).ok()?;
        first_example(schema)
    }

    /// The media type's example named `name` (its `examples` map, a `$ref` to
    /// `components/examples` followed), for the schema at `schema_ref` (`…/schema`).
    pub fn named_example(&self, schema_ref: &str, name: &str) -> Option<Value> {
        let media = schema_ref.strip_suffix("/schema")?;
        let (_, m) = self.resolve(media, 0).ok()?;
        let mut entry = m.get("examples")?.get(name)?;
        // One hop through a reference: `{"$ref": "#/components/examples/Cat"}`.
        let resolved;
        if let Some(Value::String(r)) = entry.get("$ref") {
            let base = schema_ref.split('#').next().unwrap_or_default();
            let target = if r.starts_with('#') {
                format!("{base}{r}")
            } else {
                r.clone()
            };
            resolved = self.resolve(&target, 0).ok()?.1;
            entry = resolved;
        }
        entry.get("value").cloned()
    }

    /// A value for the schema at `schema_ref` that breaks exactly one of its rules the
    /// generated types enforce (`required`, `type`, `minLength`/`maxLength`,
    /// `minimum`/`maximum`, `minItems`/`maxItems`), and which: `None` when the schema has
    /// no such rule to break (or no valid value to start from).
    pub fn invalid(&self, schema_ref: &str, seed: u64) -> Option<(Value, Broken)> {
        let mut value = self.value(schema_ref, seed).ok()?;
        let (doc, schema) = self.resolve(schema_ref, 0).ok()?;
        let mut sites = Vec::new();
        let mut walk = Walk {
            g: self,
            rng: &mut fastrand::Rng::with_seed(seed),
            nodes: 0,
        };
        walk.sites(schema, doc, &value, String::new(), 0, &mut sites);
        if sites.is_empty() {
            return None;
        }
        let (pointer, rule, replacement) = sites.swap_remove(seed as usize % sites.len());
        let broken = Broken {
            pointer: pointer.clone(),
            rule,
        };
        match replacement {
            // `None`: remove the member at `pointer` (a required property).
            None => {
                let (parent, key) = pointer.rsplit_once('/')?;
                let key = key.replace("~1", "/").replace("~0", "~");
                value.pointer_mut(parent)?.as_object_mut()?.remove(&key);
            }
            Some(v) => *value.pointer_mut(&pointer)? = v,
        }
        Some((value, broken))
    }

    /// The document and schema `reference` names, relative to document `from`.
    fn resolve(&self, reference: &str, from: usize) -> Result<(usize, &Value), DataError> {
        let fail = |why: String| DataError {
            schema: reference.to_string(),
            why,
        };
        let (uri, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let doc = if uri.is_empty() {
            from
        } else {
            let base = url::Url::parse(&self.documents[from].0).ok();
            let absolute = match base.and_then(|b| b.join(uri).ok()) {
                Some(u) => u.to_string(),
                None => uri.to_string(),
            };
            self.documents
                .iter()
                .position(|(u, _)| *u == absolute || u == uri)
                .ok_or_else(|| fail("not a document of this contract".into()))?
        };
        let pointer = percent_encoding::percent_decode_str(pointer).decode_utf8_lossy();
        let schema = self.documents[doc]
            .1
            .pointer(&pointer)
            .ok_or_else(|| fail("no schema there".into()))?;
        Ok((doc, schema))
    }
}

struct Walk<'g, 'r> {
    g: &'g Generator,
    rng: &'r mut fastrand::Rng,
    /// Schema nodes visited for this value: bounded, so that a schema whose required
    /// members refer back to it twice cannot make 2^depth of them.
    nodes: u32,
}

/// The most schema nodes one value may take.
const MAX_NODES: u32 = 100_000;

impl<'g> Walk<'g, '_> {
    fn value(
        &mut self,
        schema: &Value,
        doc: usize,
        at: &str,
        depth: u32,
    ) -> Result<Value, DataError> {
        let fail = |why: &str| DataError {
            schema: at.to_string(),
            why: why.to_string(),
        };
        if depth > MAX_DEPTH {
            return Err(fail(
                "it nests without end (a required property refers back to it)",
            ));
        }
        let s = match schema {
            Value::Bool(true) => return Ok(Value::Null),
            Value::Bool(false) => return Err(fail("`false` admits no value")),
            Value::Object(s) => s,
            _ => return Err(fail("a schema is an object or a boolean")),
        };
        if let Some(Value::String(r)) = s.get("$ref") {
            let (d, target) = self.g.resolve(r, doc)?;
            let mut value = self.value(target, d, r, depth + 1)?;
            // Siblings of `$ref` (2019-09 and later) apply too: objects merge.
            let rest: Map<String, Value> = s
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "$ref" | "description" | "title"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if rest.contains_key("properties") {
                let extra = self.object(&rest, doc, at, depth)?;
                merge(&mut value, extra);
            }
            return Ok(value);
        }
        if let Some(c) = s.get("const") {
            return Ok(c.clone());
        }
        if let Some(Value::Array(values)) = s.get("enum") {
            // Values of the declared type only (a contract may list strings for an
            // integer), `null` last.
            let typed = |v: &&Value| match s.get("type") {
                None => true,
                Some(t) => {
                    let ts: Vec<&str> = match t {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => return true,
                    };
                    ts.iter().any(|t| of_type(v, t))
                }
            };
            let usable: Vec<&Value> = values
                .iter()
                .filter(typed)
                .filter(|v| !v.is_null())
                .collect();
            return match usable.as_slice() {
                [] => values
                    .iter()
                    .find(typed)
                    .cloned()
                    .ok_or_else(|| fail("no `enum` value has the declared `type`")),
                some => Ok(some[self.rng.usize(..some.len())].clone()),
            };
        }
        if s.contains_key("allOf") {
            // One schema with every part's rules (`$ref`s followed), then a value for it.
            let merged = self.flatten(schema, doc, at, depth)?;
            return self.value(&Value::Object(merged), doc, at, depth + 1);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = s.get(key) {
                if branches.is_empty() {
                    return Err(fail("no branch"));
                }
                let start = self.rng.usize(..branches.len());
                let mut last = None;
                // Branches beside the schema's own properties narrow it (OpenAI's
                // "exactly one of": `anyOf: [{required: [image_url]}, {required:
                // [file_id]}]`): a value for both at once, not the branch alone.
                let rest: Map<String, Value> = s
                    .iter()
                    .filter(|(k, _)| {
                        !matches!(k.as_str(), "oneOf" | "anyOf" | "discriminator" | "not")
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let narrows = s.contains_key("properties");
                for k in 0..branches.len() {
                    let i = (start + k) % branches.len();
                    let branch_at = format!("{at}/{key}/{i}");
                    let generated = if narrows {
                        let both = serde_json::json!({"allOf": [Value::Object(rest.clone()), branches[i].clone()]});
                        self.value(&both, doc, &branch_at, depth + 1).map(|mut v| {
                            drop_forbidden(s, &branches[i], &mut v);
                            v
                        })
                    } else {
                        self.value(&branches[i], doc, &branch_at, depth + 1)
                    };
                    match generated {
                        // `oneOf`: a value another branch also takes would match twice.
                        Ok(v)
                            if key == "oneOf"
                                && branches
                                    .iter()
                                    .enumerate()
                                    .any(|(j, b)| j != i && self.g.plausibly(b, doc, &v, 0)) =>
                        {
                            last = Some(DataError {
                                schema: format!("{at}/oneOf"),
                                why: "the value of one branch also fits another (the branches overlap)".into(),
                            });
                        }
                        // The schema's own `type` holds whatever the branch says.
                        Ok(v)
                            if s.get("type").is_some_and(|t| match t {
                                Value::String(t) => !of_type(&v, t),
                                Value::Array(ts) => {
                                    !ts.iter().filter_map(Value::as_str).any(|t| of_type(&v, t))
                                }
                                _ => false,
                            }) =>
                        {
                            last = Some(DataError {
                                schema: format!("{at}/{key}/{i}"),
                                why: "the branch's value is not of the schema's `type`".into(),
                            });
                        }
                        Ok(v) => return Ok(v),
                        Err(e) => last = Some(e),
                    }
                }
                return Err(last.unwrap_or_else(|| fail("no branch")));
            }
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let kind = types
            .iter()
            .copied()
            .find(|t| *t != "null")
            .or(types.first().copied())
            .unwrap_or_else(|| infer(s));
        match kind {
            "object" => Ok(Value::Object(self.object(s, doc, at, depth)?)),
            "array" => self.array(s, doc, at, depth),
            "string" => self.string(s, at),
            "integer" => self.number(s, true, at),
            "number" => self.number(s, false, at),
            "boolean" => Ok(Value::Bool(self.rng.bool())),
            "null" => Ok(Value::Null),
            _ => Ok(Value::Null),
        }
    }

    /// `schema` with its `$ref` and `allOf` parts merged into one set of rules: bounds
    /// narrow, `required` and `properties` add up (a property in two parts must meet
    /// both), an `enum` keeps the values every part allows; other keywords: the first.
    fn flatten(
        &mut self,
        schema: &Value,
        doc: usize,
        at: &str,
        depth: u32,
    ) -> Result<Map<String, Value>, DataError> {
        if depth > MAX_DEPTH {
            return Err(DataError {
                schema: at.to_string(),
                why: "`allOf` and `$ref` nest without end".into(),
            });
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(DataError {
                schema: at.to_string(),
                why: "`allOf` and `$ref` branch out too far".into(),
            });
        }
        let Value::Object(s) = schema else {
            return Ok(Map::new());
        };
        let mut out = Map::new();
        let mut parts: Vec<Map<String, Value>> = Vec::new();
        if let Some(Value::String(r)) = s.get("$ref") {
            let (d, target) = self.g.resolve(r, doc)?;
            parts.push(self.flatten(target, d, r, depth + 1)?);
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            for (i, part) in all.iter().enumerate() {
                parts.push(self.flatten(part, doc, &format!("{at}/allOf/{i}"), depth + 1)?);
            }
        }
        let own: Map<String, Value> = s
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "$ref" | "allOf"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        parts.insert(0, own);
        // A part that refuses unknown properties refuses every other part's too (JSON
        // Schema checks each part alone): only properties all such parts name remain.
        let closed: Vec<Vec<String>> = parts
            .iter()
            .filter(|p| p.get("additionalProperties") == Some(&Value::Bool(false)))
            .map(|p| {
                p.get("properties")
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default()
            })
            .collect();
        for part in parts {
            for (k, v) in part {
                let Some(have) = out.get_mut(&k) else {
                    out.insert(k, v);
                    continue;
                };
                match k.as_str() {
                    "minimum" | "minLength" | "minItems" | "minProperties"
                        if v.as_f64() > have.as_f64() =>
                    {
                        *have = v;
                    }
                    "maximum" | "maxLength" | "maxItems" | "maxProperties"
                        if v.as_f64() < have.as_f64() =>
                    {
                        *have = v;
                    }
                    "required" => {
                        if let (Value::Array(a), Value::Array(b)) = (have, v) {
                            for x in b {
                                if !a.contains(&x) {
                                    a.push(x);
                                }
                            }
                        }
                    }
                    "properties" => {
                        if let (Value::Object(a), Value::Object(b)) = (have, v) {
                            for (name, schema) in b {
                                match a.remove(&name) {
                                    Some(first) => {
                                        a.insert(
                                            name,
                                            serde_json::json!({"allOf": [first, schema]}),
                                        );
                                    }
                                    None => {
                                        a.insert(name, schema);
                                    }
                                }
                            }
                        }
                    }
                    "enum" => {
                        if let (Value::Array(a), Value::Array(b)) = (have, v) {
                            a.retain(|x| b.contains(x));
                        }
                    }
                    "type" => {
                        let list = |t: &Value| -> Vec<Value> {
                            match t {
                                Value::Array(a) => a.clone(),
                                other => vec![other.clone()],
                            }
                        };
                        let both: Vec<Value> = list(have)
                            .into_iter()
                            .filter(|t| list(&v).contains(t))
                            .collect();
                        if !both.is_empty() {
                            *have = Value::Array(both);
                        }
                    }
                    _ => {}
                }
            }
        }
        if !closed.is_empty() {
            let allowed = |k: &str| closed.iter().all(|names| names.iter().any(|n| n == k));
            if let Some(Value::Object(props)) = out.get_mut("properties") {
                props.retain(|k, _| allowed(k));
            }
            if let Some(Value::Array(required)) = out.get("required") {
                if let Some(r) = required
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|r| !allowed(r))
                {
                    return Err(DataError {
                        schema: at.to_string(),
                        why: format!("`{r}` is required by one part and refused by another (`additionalProperties: false`)"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Places in `value` where one enforced rule of `schema` can be broken: (pointer,
    /// rule, what to put there; `None` removes the member).
    fn sites(
        &mut self,
        schema: &Value,
        doc: usize,
        value: &Value,
        at: String,
        depth: u32,
        out: &mut Vec<(String, &'static str, Option<Value>)>,
    ) {
        if depth > 16 {
            return;
        }
        let Value::Object(s) = schema else { return };
        if let Some(Value::String(r)) = s.get("$ref") {
            if let Ok((d, target)) = self.g.resolve(r, doc) {
                self.sites(target, d, value, at.clone(), depth + 1, out);
            }
            return;
        }
        if s.contains_key("allOf") {
            if let Ok(merged) = self.flatten(schema, doc, &at, depth) {
                let merged = Value::Object(merged);
                self.sites(&merged, doc, value, at, depth + 1, out);
            }
            return;
        }
        if s.contains_key("oneOf")
            || s.contains_key("anyOf")
            || s.contains_key("enum")
            || s.contains_key("const")
        {
            // Which branch a value takes, and open enums, make a break uncertain.
            return;
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let nullable = types.contains(&"null");
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(required)) = s.get("required") {
                    for r in required.iter().filter_map(Value::as_str) {
                        if map.contains_key(r) {
                            out.push((format!("{at}/{}", escape(r)), "required", None));
                        }
                    }
                }
                if let Some(Value::Object(props)) = s.get("properties") {
                    for (k, v) in map {
                        if let Some(p) = props.get(k) {
                            self.sites(p, doc, v, format!("{at}/{}", escape(k)), depth + 1, out);
                        }
                    }
                }
                if types == ["object"] {
                    out.push((at, "type", Some(Value::from(7))));
                }
            }
            Value::String(text) => {
                let len = text.chars().count() as f64;
                if let Some(max) = num("maxLength").filter(|m| *m < MAX_SIZE as f64) {
                    out.push((
                        at.clone(),
                        "maxLength",
                        Some(Value::from("a".repeat(max as usize + 1))),
                    ));
                }
                if num("minLength").is_some_and(|m| m >= 1.0 && len >= 1.0) {
                    out.push((at.clone(), "minLength", Some(Value::from(""))));
                }
                if !nullable && types.iter().all(|t| *t == "string") && !types.is_empty() {
                    out.push((at, "type", Some(Value::from(true))));
                }
            }
            Value::Number(_) => {
                let integer = types.contains(&"integer");
                let whole = |f: f64| {
                    if integer {
                        Value::from(f as i64)
                    } else {
                        Value::from(f)
                    }
                };
                if let Some(max) =
                    num("maximum").filter(|_| s.get("exclusiveMaximum") != Some(&Value::Bool(true)))
                {
                    out.push((at.clone(), "maximum", Some(whole(max.floor() + 1.0))));
                }
                if let Some(min) =
                    num("minimum").filter(|_| s.get("exclusiveMinimum") != Some(&Value::Bool(true)))
                {
                    out.push((at.clone(), "minimum", Some(whole(min.ceil() - 1.0))));
                }
                if !nullable
                    && !types.is_empty()
                    && types.iter().all(|t| *t == "integer" || *t == "number")
                {
                    out.push((at, "type", Some(Value::from("not a number"))));
                }
            }
            Value::Array(items) => {
                if let Some(max) = num("maxItems").filter(|m| *m < MAX_SIZE as f64) {
                    if let Some(first) = items.first() {
                        let longer = vec![first.clone(); max as usize + 1];
                        if s.get("uniqueItems") != Some(&Value::Bool(true)) {
                            out.push((at.clone(), "maxItems", Some(Value::Array(longer))));
                        }
                    }
                }
                if num("minItems").is_some_and(|m| m >= 1.0) {
                    out.push((at.clone(), "minItems", Some(Value::Array(Vec::new()))));
                }
                if let Some(item) = s.get("items").filter(|i| i.is_object()) {
                    if let Some(first) = items.first() {
                        self.sites(item, doc, first, format!("{at}/0"), depth + 1, out);
                    }
                }
            }
            Value::Bool(_) => {
                if !nullable && types == ["boolean"] {
                    out.push((at, "type", Some(Value::from("yes"))));
                }
            }
            Value::Null => {}
        }
    }

    fn object(
        &mut self,
        s: &Map<String, Value>,
        doc: usize,
        at: &str,
        depth: u32,
    ) -> Result<Map<String, Value>, DataError> {
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(Value::Object(props)) = s.get("properties") {
            for (name, prop) in props {
                let needed = required.contains(&name.as_str());
                // Optional properties while shallow, about half of them.
                if !needed && (depth >= SHALLOW || self.rng.bool()) {
                    continue;
                }
                let here = format!("{at}/properties/{}", escape(name));
                match self.value(prop, doc, &here, depth + 1) {
                    Ok(v) => {
                        out.insert(name.clone(), v);
                    }
                    Err(e) if needed => return Err(e),
                    Err(_) => {}
                }
            }
        }
        for name in required {
            if !out.contains_key(name) {
                // Required without a schema: anything goes.
                let schema = s.get("additionalProperties").filter(|a| a.is_object());
                let v = match schema {
                    Some(a) => self.value(a, doc, at, depth + 1)?,
                    None => Value::Null,
                };
                out.insert(name.to_string(), v);
            }
        }
        let min = s.get("minProperties").and_then(Value::as_u64).unwrap_or(0);
        if min > MAX_SIZE {
            return Err(DataError {
                schema: at.to_string(),
                why: format!(
                    "`minProperties` {min} is over the {MAX_SIZE} a generated value may have"
                ),
            });
        }
        let min = min as usize;
        let mut n = 0;
        while out.len() < min {
            let v = match s.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    return Err(DataError {
                        schema: at.to_string(),
                        why: "`minProperties` beyond the properties allowed".into(),
                    })
                }
                Some(a @ Value::Object(_)) => self.value(a, doc, at, depth + 1)?,
                _ => Value::Null,
            };
            n += 1;
            out.insert(format!("extra{n}"), v);
        }
        Ok(out)
    }

    fn array(
        &mut self,
        s: &Map<String, Value>,
        doc: usize,
        at: &str,
        depth: u32,
    ) -> Result<Value, DataError> {
        let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        if min > MAX_SIZE {
            return Err(DataError {
                schema: at.to_string(),
                why: format!("`minItems` {min} is over the {MAX_SIZE} a generated value may have"),
            });
        }
        let min = min as usize;
        let max = s
            .get("maxItems")
            .and_then(Value::as_u64)
            .map(|m| m as usize)
            .unwrap_or(min.max(3));
        let prefix: &[Value] = s
            .get("prefixItems")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let items = s.get("items").filter(|i| i.is_object() || i.is_boolean());
        let wanted = if depth >= SHALLOW {
            min
        } else {
            (min.max(1)).min(max).max(min)
        };
        let count = wanted.max(prefix.len().min(max)).min(max);
        let unique = s.get("uniqueItems").and_then(Value::as_bool) == Some(true);
        let mut out: Vec<Value> = Vec::with_capacity(count);
        let mut tries = 0;
        while out.len() < count {
            let i = out.len();
            let (schema, here) = match prefix.get(i) {
                Some(p) => (p, format!("{at}/prefixItems/{i}")),
                None => match items {
                    Some(item) => (item, format!("{at}/items")),
                    None => {
                        out.push(Value::Null);
                        continue;
                    }
                },
            };
            let v = self.value(schema, doc, &here, depth + 1)?;
            tries += 1;
            if unique && out.contains(&v) {
                if tries > 8 * count + 8 {
                    if out.len() >= min {
                        break;
                    }
                    return Err(DataError {
                        schema: at.to_string(),
                        why: "not enough distinct items for `uniqueItems`".into(),
                    });
                }
                continue;
            }
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn string(&mut self, s: &Map<String, Value>, at: &str) -> Result<Value, DataError> {
        let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        if min > MAX_SIZE {
            return Err(DataError {
                schema: at.to_string(),
                why: format!("`minLength` {min} is over the {MAX_SIZE} a generated value may have"),
            });
        }
        let min = min as usize;
        let max = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        let format = s.get("format").and_then(Value::as_str).unwrap_or_default();
        let n = self.rng.u32(1..1000);
        let mut text = match format {
            "date-time" => format!(
                "2026-{:02}-{:02}T10:{:02}:00Z",
                n % 12 + 1,
                n % 28 + 1,
                n % 60
            ),
            "date" => format!("2026-{:02}-{:02}", n % 12 + 1, n % 28 + 1),
            "time" => format!("10:{:02}:00Z", n % 60),
            "uuid" => format!("00000000-0000-4000-8000-{:012}", n),
            "email" => format!("user{n}@example.com"),
            "uri" | "url" | "iri" => format!("https://example.com/items/{n}"),
            "uri-reference" | "iri-reference" => format!("/items/{n}"),
            "hostname" | "idn-hostname" => format!("host{n}.example.com"),
            "ipv4" => format!("192.0.2.{}", n % 250 + 1),
            "ipv6" => format!("2001:db8::{:x}", n),
            "byte" => "aGVsbG8=".into(),
            "duration" => format!("PT{n}S"),
            _ => match s.get("pattern").and_then(Value::as_str) {
                Some(p) => pattern_text(p, self.rng).map_err(|why| DataError {
                    schema: format!("{at}/pattern"),
                    why,
                })?,
                None => format!("text{n}"),
            },
        };
        let len = text.chars().count();
        if len < min {
            text.extend(std::iter::repeat_n('a', min - len));
        }
        if let Some(max) = max {
            if text.chars().count() > max {
                text = text.chars().take(max).collect();
            }
        }
        Ok(Value::String(text))
    }

    fn number(
        &mut self,
        s: &Map<String, Value>,
        integer: bool,
        at: &str,
    ) -> Result<Value, DataError> {
        let f = |k: &str| s.get(k).and_then(Value::as_f64);
        // Draft 4 writes exclusiveness as booleans next to minimum/maximum.
        let ex_min = match s.get("exclusiveMinimum") {
            Some(Value::Bool(true)) => f("minimum"),
            Some(v) => v.as_f64(),
            None => None,
        };
        let ex_max = match s.get("exclusiveMaximum") {
            Some(Value::Bool(true)) => f("maximum"),
            Some(v) => v.as_f64(),
            None => None,
        };
        let step = if integer { 1.0 } else { 0.5 };
        let lo = match (f("minimum"), ex_min) {
            (_, Some(e)) => e + step,
            (Some(m), None) => m,
            (None, None) => f64::NAN,
        };
        let hi = match (f("maximum"), ex_max) {
            (_, Some(e)) => e - step,
            (Some(m), None) => m,
            (None, None) => f64::NAN,
        };
        let lo = if lo.is_nan() {
            if hi.is_nan() {
                1.0
            } else {
                hi - 100.0
            }
        } else {
            lo
        };
        let hi = if hi.is_nan() { lo + 100.0 } else { hi };
        let (lo, hi) = if integer {
            (lo.ceil(), hi.floor())
        } else {
            (lo, hi)
        };
        if lo > hi {
            return Err(DataError {
                schema: at.to_string(),
                why: "no number between its bounds".into(),
            });
        }
        let mut v = lo + ((hi - lo) * self.rng.f64()).floor().min(hi - lo);
        if let Some(m) = f("multipleOf").filter(|m| *m > 0.0) {
            v = (lo / m).ceil() * m;
            if v > hi {
                return Err(DataError {
                    schema: at.to_string(),
                    why: "no multiple of `multipleOf` between its bounds".into(),
                });
            }
        }
        if integer {
            return Ok(Value::Number(Number::from(v as i64)));
        }
        Ok(Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null))
    }
}

/// The type a schema without `type` describes, from its keywords.
fn infer(s: &Map<String, Value>) -> &'static str {
    let has = |keys: &[&str]| keys.iter().any(|k| s.contains_key(*k));
    if has(&[
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
    ]) {
        "object"
    } else if has(&["items", "prefixItems", "minItems", "maxItems"]) {
        "array"
    } else if has(&["minLength", "maxLength", "pattern", "format"]) {
        "string"
    } else if has(&["minimum", "maximum", "multipleOf", "exclusiveMinimum"]) {
        "number"
    } else {
        "any"
    }
}

/// Whether `v` is of the JSON Schema type `t`.
fn of_type(v: &Value, t: &str) -> bool {
    match (t, v) {
        ("null", Value::Null) | ("boolean", Value::Bool(_)) | ("string", Value::String(_)) => true,
        ("array", Value::Array(_)) | ("object", Value::Object(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// `extra`'s members added to `value` when both are objects.
fn merge(value: &mut Value, extra: impl Into<Value>) {
    if let (Value::Object(a), Value::Object(b)) = (value, extra.into()) {
        for (k, v) in b {
            a.entry(k).or_insert(v);
        }
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A string the regular expression `pattern` matches somewhere (the search semantics
/// of JSON Schema): built from the expression's syntax tree, first alternatives and
/// shortest repetitions, a class's first character.
fn pattern_text(pattern: &str, rng: &mut fastrand::Rng) -> Result<String, String> {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| format!("the pattern does not parse: {e}"))?;
    fn walk(h: &regex_syntax::hir::Hir, out: &mut String, rng: &mut fastrand::Rng, depth: u32) {
        if depth > 64 || out.len() > 4096 {
            return;
        }
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
            HirKind::Class(Class::Unicode(c)) => {
                // An ASCII letter or digit of the class when it has one (`\d` is ASCII
                // digits to every reader), else a printable ASCII character, else its
                // first character.
                let ranges = c.ranges();
                let pick = |ok: fn(char) -> bool| {
                    ranges.iter().find_map(|r| {
                        let (a, b) = (r.start() as u32, (r.end() as u32).min(0x7f));
                        (a..=b).filter_map(char::from_u32).find(|ch| ok(*ch))
                    })
                };
                let ch = pick(|c| c.is_ascii_alphanumeric())
                    .or_else(|| pick(|c| c.is_ascii_graphic()))
                    .or_else(|| ranges.first().map(|r| r.start()));
                if let Some(ch) = ch {
                    out.push(ch);
                }
                let _ = rng.u8(..);
            }
            HirKind::Class(Class::Bytes(c)) => {
                if let Some(r) = c.ranges().first() {
                    out.push(char::from(r.start()));
                }
            }
            HirKind::Repetition(r) => {
                let n = match r.max {
                    Some(max) => r.min.max(1).min(max),
                    None => r.min.max(1),
                };
                for _ in 0..n.min(64) {
                    walk(&r.sub, out, rng, depth + 1);
                }
            }
            HirKind::Capture(c) => walk(&c.sub, out, rng, depth + 1),
            HirKind::Concat(parts) => parts.iter().for_each(|p| walk(p, out, rng, depth + 1)),
            HirKind::Alternation(alts) => {
                if let Some(a) = alts.first() {
                    walk(a, out, rng, depth + 1)
                }
            }
        }
    }
    let mut out = String::new();
    walk(&hir, &mut out, rng, 0);
    Ok(out)
}

/// Removes from `value` what the schema's `not: {required: [...]}` forbids together: the
/// properties it names that neither the schema nor the chosen `branch` requires.
fn drop_forbidden(schema: &Map<String, Value>, branch: &Value, value: &mut Value) {
    let Some(Value::Array(names)) = schema.get("not").and_then(|n| n.get("required")) else {
        return;
    };
    let Value::Object(fields) = value else {
        return;
    };
    let all_present = names
        .iter()
        .filter_map(Value::as_str)
        .all(|n| fields.contains_key(n));
    if !all_present {
        return;
    }
    let required: Vec<&str> = [schema.get("required"), branch.get("required")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    // One is enough to break "all of these"; drop the last optional one present.
    if let Some(n) = names
        .iter()
        .rev()
        .filter_map(Value::as_str)
        .find(|n| !required.contains(n))
    {
        fields.remove(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DOC: &str = r##"{
        "components": {"schemas": {
            "Pet": {"type": "object", "required": ["id", "name", "tags", "kind"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string", "minLength": 2, "maxLength": 5},
                    "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{2}$"},
                    "age": {"type": "integer", "minimum": 1, "exclusiveMaximum": 4},
                    "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 2, "uniqueItems": true},
                    "kind": {"oneOf": [{"$ref": "#/components/schemas/Dog"}]},
                    "parent": {"$ref": "#/components/schemas/Pet"}
                }},
            "Dog": {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "dog"}}}
        }}
    }"##;

    #[test]
    fn values_meet_the_schema_and_follow_the_seed() {
        let contract: &'static Contract = Box::leak(Box::new(Contract {
            documents: Box::leak(Box::new([("https://acl.invalid/contract/0.json", DOC)])),
            dialect: "2020-12",
        }));
        let g = Generator::new(contract).unwrap();
        let at = "https://acl.invalid/contract/0.json#/components/schemas/Pet";
        for seed in 0..50 {
            let v = g.value(at, seed).unwrap();
            assert_eq!(v, g.value(at, seed).unwrap(), "deterministic");
            let name = v["name"].as_str().unwrap();
            assert!((2..=5).contains(&name.len()), "{v}");
            let tags = v["tags"].as_array().unwrap();
            assert_eq!(tags.len(), 2, "{v}");
            assert_ne!(tags[0], tags[1]);
            assert_eq!(v["kind"]["kind"], "dog");
            if let Some(code) = v.get("code") {
                let code = code.as_str().unwrap();
                assert!(code.len() == 6 && code.as_bytes()[3] == b'-', "{code}");
            }
            if let Some(age) = v.get("age") {
                assert!((1..4).contains(&age.as_i64().unwrap()), "{v}");
            }
        }
        let e = g
            .value("https://acl.invalid/contract/0.json#/nope", 1)
            .unwrap_err();
        assert!(e.to_string().contains("no schema there"), "{e}");
    }

    #[test]
    fn exactly_one_of_two_properties_holds_for_every_seed() {
        static ONE_OF_TWO: &str = r##"{"$defs": {"Ref": {"type": "object",
            "properties": {"url": {"type": "string", "minLength": 1}, "id": {"type": "string", "minLength": 1}},
            "anyOf": [{"required": ["url"]}, {"required": ["id"]}],
            "not": {"required": ["url", "id"]},
            "additionalProperties": false}}}"##;
        let contract: &'static Contract = Box::leak(Box::new(Contract {
            documents: Box::leak(Box::new([("https://acl.invalid/one.json", ONE_OF_TWO)])),
            dialect: "2020-12",
        }));
        let g = Generator::new(contract).unwrap();
        for seed in 0..40 {
            let v = g
                .value("https://acl.invalid/one.json#/$defs/Ref", seed)
                .unwrap();
            let (url, id) = (v.get("url"), v.get("id"));
            assert!(url.is_some() != id.is_some(), "{v}");
            assert!(
                url.or(id).unwrap().as_str().is_some_and(|s| !s.is_empty()),
                "{v}"
            );
        }
    }

    #[test]
    fn sizes_a_hostile_schema_asks_for_are_refused_not_allocated() {
        static HUGE: &str = r##"{"$defs": {
            "s": {"type": "string", "minLength": 1000000000},
            "a": {"type": "array", "minItems": 1000000000},
            "o": {"type": "object", "minProperties": 1000000000},
            "r": {"type": "string", "pattern": "^a{1000000000}$"},
            "loop": {"type": "object", "required": ["next"], "properties": {"next": {"$ref": "#/$defs/loop"}}},
            "tree": {"type": "object", "required": ["l", "r"], "properties": {"l": {"$ref": "#/$defs/tree"}, "r": {"$ref": "#/$defs/tree"}}}
        }}"##;
        let contract: &'static Contract = Box::leak(Box::new(Contract {
            documents: Box::leak(Box::new([("https://acl.invalid/contract/0.json", HUGE)])),
            dialect: "2020-12",
        }));
        let g = Generator::new(contract).unwrap();
        for name in ["s", "a", "o", "loop", "tree"] {
            let at = format!("https://acl.invalid/contract/0.json#/$defs/{name}");
            let e = g.value(&at, 1).unwrap_err();
            assert!(
                e.why.contains("over the")
                    || e.why.contains("without end")
                    || e.why.contains("too large"),
                "{name}: {e}"
            );
        }
        // A pattern's repetition is bounded: a short string, not a gigabyte.
        let r = g
            .value("https://acl.invalid/contract/0.json#/$defs/r", 1)
            .unwrap();
        assert!(r.as_str().unwrap().len() <= 64, "{r}");
    }
}
