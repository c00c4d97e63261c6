//! What one schema says, with `allOf` merged in: the step between the raw JSON of a
//! schema and the shape of its Rust type.

use serde_json::{Map, Value};

use crate::ir::{Constraints, Docs, Number};

use super::{Dialect, Loc};
use crate::diagnostics::Severity;
use crate::load::escape;

/// `additionalProperties` / `items` and friends: a schema or a boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum SubSchema {
    /// `true` / `false`.
    Bool(bool),
    /// A schema at this location.
    Schema(Loc),
}

/// A discriminator.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Discriminator {
    /// The property that names the branch.
    pub property: String,
    /// Explicit mapping: tag value to `$ref`.
    pub mapping: Vec<(String, String)>,
}

/// Everything a schema says that acl acts on.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub loc: Loc,
    pub docs: Docs,
    /// `type`, when given (after `allOf` merging: the intersection).
    pub types: Option<Vec<String>>,
    /// `nullable: true` (OpenAPI 3.0) or `null` in `type`.
    pub nullable: bool,
    pub properties: Vec<(String, Loc)>,
    pub required: Vec<String>,
    pub additional: Option<SubSchema>,
    pub items: Option<SubSchema>,
    /// `prefixItems`, or `items` as an array (before 2020-12).
    pub prefix_items: Option<Vec<Loc>>,
    pub enum_values: Option<Vec<Value>>,
    pub const_value: Option<Value>,
    pub format: Option<String>,
    pub constraints: Constraints,
    pub one_of: Option<Vec<Loc>>,
    pub any_of: Option<Vec<Loc>>,
    pub discriminator: Option<Discriminator>,
    pub default: Option<Value>,
    pub read_only: bool,
    pub write_only: bool,
    /// `false` as a schema (or something that can never hold).
    pub never: bool,
    /// Keywords present that the generated type does not enforce, with where they are.
    pub unenforced: Vec<(String, Loc)>,
    /// Pattern-keyed properties exist (unknown keys may be valid even when
    /// `additionalProperties` is false).
    pub has_pattern_properties: bool,
    /// Some properties come from `allOf` parts rather than the schema itself.
    pub properties_from_parts: bool,
}

/// Keywords that are only annotations: a `$ref` next to them is still a plain reference.
pub const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "summary",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "default",
    "externalDocs",
    "xml",
    "$comment",
    "$id",
    "id",
    "$schema",
    "$anchor",
    "$defs",
    "definitions",
    "discriminator",
];

/// Keywords that acl reads but does not enforce in the generated type.
pub const UNENFORCED: &[&str] = &[
    "not",
    "if",
    "then",
    "else",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicRef",
    "$recursiveRef",
];

pub fn number(v: &Value) -> Option<Number> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(Number::Int(i as i128));
    }
    if let Some(u) = n.as_u64() {
        return Some(Number::Int(u as i128));
    }
    let f = n.as_f64()?;
    if f.fract() == 0.0 && f.abs() < 1e36 {
        Some(Number::Int(f as i128))
    } else {
        Some(Number::Float(f))
    }
}

fn count(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    })
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub fn docs_of(map: &Map<String, Value>) -> Docs {
    Docs {
        title: text(map.get("title")),
        description: text(map.get("description")),
        deprecated: map
            .get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        example: map.get("example").cloned().or_else(|| {
            map.get("examples")
                .and_then(|e| e.as_array())
                .and_then(|a| a.first().cloned())
        }),
    }
}

fn larger(a: Option<Number>, b: Option<Number>) -> Option<Number> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if as_f64(x) >= as_f64(y) { x } else { y }),
        (x, y) => x.or(y),
    }
}

fn smaller(a: Option<Number>, b: Option<Number>) -> Option<Number> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if as_f64(x) <= as_f64(y) { x } else { y }),
        (x, y) => x.or(y),
    }
}

fn as_f64(n: Number) -> f64 {
    match n {
        Number::Int(i) => i as f64,
        Number::Float(f) => f,
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// What two `allOf` parts both require that one set of constraints cannot say.
pub fn unmergeable(a: &Constraints, b: &Constraints) -> Option<&'static str> {
    if a.pattern.is_some() && b.pattern.is_some() && a.pattern != b.pattern {
        return Some("pattern");
    }
    if let (Some(x), Some(y)) = (a.multiple_of, b.multiple_of) {
        if !matches!((x, y), (Number::Int(_), Number::Int(_))) && x != y {
            return Some("multipleOf");
        }
    }
    None
}

/// Combines the constraints of two `allOf` parts: the stricter bound wins.
pub fn merge_constraints(a: &mut Constraints, b: &Constraints) {
    a.min_length = a.min_length.max(b.min_length);
    a.max_length = match (a.max_length, b.max_length) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    if a.pattern.is_none() {
        a.pattern = b.pattern.clone();
    }
    if a.format.is_none() {
        a.format = b.format.clone();
    }
    a.multiple_of = match (a.multiple_of, b.multiple_of) {
        (Some(Number::Int(x)), Some(Number::Int(y))) if x > 0 && y > 0 => {
            Some(Number::Int(x / gcd(x, y) * y))
        }
        (x, y) => x.or(y),
    };
    a.minimum = larger(a.minimum, b.minimum);
    a.maximum = smaller(a.maximum, b.maximum);
    a.exclusive_minimum = larger(a.exclusive_minimum, b.exclusive_minimum);
    a.exclusive_maximum = smaller(a.exclusive_maximum, b.exclusive_maximum);
    a.min_items = a.min_items.max(b.min_items);
    a.max_items = match (a.max_items, b.max_items) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    a.unique_items |= b.unique_items;
    a.min_properties = a.min_properties.max(b.min_properties);
    a.max_properties = match (a.max_properties, b.max_properties) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
}

/// Reads the constraints of one schema object. `exclusive_bool` is the draft-04 /
/// OpenAPI 3.0 form where `exclusiveMinimum: true` modifies `minimum`.
pub fn constraints_of(map: &Map<String, Value>) -> Constraints {
    let mut c = Constraints {
        min_length: count(map.get("minLength")),
        max_length: count(map.get("maxLength")),
        pattern: text(map.get("pattern")),
        minimum: map.get("minimum").and_then(number),
        maximum: map.get("maximum").and_then(number),
        multiple_of: map.get("multipleOf").and_then(number),
        min_items: count(map.get("minItems")),
        max_items: count(map.get("maxItems")),
        unique_items: map
            .get("uniqueItems")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        min_properties: count(map.get("minProperties")),
        max_properties: count(map.get("maxProperties")),
        ..Constraints::default()
    };
    match map.get("exclusiveMinimum") {
        Some(Value::Bool(true)) => c.exclusive_minimum = c.minimum.take(),
        Some(v) => c.exclusive_minimum = number(v),
        None => {}
    }
    match map.get("exclusiveMaximum") {
        Some(Value::Bool(true)) => c.exclusive_maximum = c.maximum.take(),
        Some(v) => c.exclusive_maximum = number(v),
        None => {}
    }
    if c.min_length == Some(0) {
        c.min_length = None;
    }
    if c.min_items == Some(0) {
        c.min_items = None;
    }
    if c.min_properties == Some(0) {
        c.min_properties = None;
    }
    c
}

impl Facts {
    /// Merges an `allOf` part into these facts.
    pub fn merge_part(&mut self, part: Facts) {
        self.types = match (self.types.take(), part.types) {
            (Some(a), Some(b)) => {
                let both: Vec<String> = a
                    .iter()
                    .filter(|t| {
                        b.contains(t)
                            || (t.as_str() == "integer" && b.iter().any(|x| x == "number"))
                    })
                    .cloned()
                    .chain(
                        b.iter()
                            .filter(|t| t.as_str() == "integer" && a.iter().any(|x| x == "number"))
                            .cloned(),
                    )
                    .collect();
                if both.is_empty() {
                    self.never = true;
                }
                Some(both)
            }
            (a, b) => a.or(b),
        };
        // A set, not a scan per property: a chain of n `allOf` links merges O(n) names
        // per link (a scan made that cubic).
        let mut declared: std::collections::HashSet<String> =
            self.properties.iter().map(|(n, _)| n.clone()).collect();
        for (name, loc) in part.properties {
            if !declared.insert(name.clone()) {
                // Both declarations must hold, but a struct field has one type: the first
                // (the base's) is kept and the narrowing is reported, not enforced.
                self.unenforced.push((
                    format!("properties/{name} (declared again in an allOf part)"),
                    loc,
                ));
            } else {
                self.properties.push((name, loc));
                self.properties_from_parts = true;
            }
        }
        let mut required: std::collections::HashSet<String> =
            self.required.iter().cloned().collect();
        for r in part.required {
            if required.insert(r.clone()) {
                self.required.push(r);
            }
        }
        if matches!(part.additional, Some(SubSchema::Schema(_))) && self.additional.is_none() {
            self.additional = part.additional;
        }
        if self.items.is_none() {
            self.items = part.items;
        }
        if self.prefix_items.is_none() {
            self.prefix_items = part.prefix_items;
        }
        if self.enum_values.is_none() {
            self.enum_values = part.enum_values;
        }
        if self.const_value.is_none() {
            self.const_value = part.const_value;
        }
        if self.format.is_none() {
            self.format = part.format;
        }
        if let Some(keyword) = unmergeable(&self.constraints, &part.constraints) {
            self.unenforced
                .push((format!("{keyword} (in two allOf parts)"), part.loc.clone()));
        }
        merge_constraints(&mut self.constraints, &part.constraints);
        match (&self.one_of, part.one_of) {
            (None, p) => self.one_of = p,
            (Some(_), Some(p)) => self
                .unenforced
                .push(("allOf with two oneOf".into(), p[0].clone())),
            _ => {}
        }
        match (&self.any_of, part.any_of) {
            (None, p) => self.any_of = p,
            (Some(_), Some(p)) => self
                .unenforced
                .push(("allOf with two anyOf".into(), p[0].clone())),
            _ => {}
        }
        if self.discriminator.is_none() {
            self.discriminator = part.discriminator;
        }
        if self.docs.description.is_none() && self.docs.title.is_none() {
            self.docs.description = part.docs.description;
            self.docs.title = part.docs.title;
        }
        self.never |= part.never;
        self.has_pattern_properties |= part.has_pattern_properties;
        self.unenforced.extend(part.unenforced);
    }
}

impl super::Lowerer<'_> {
    /// Reads what the schema at `loc` says, with `allOf` and `$ref` siblings merged in.
    pub(crate) fn facts(&mut self, loc: &Loc) -> Facts {
        if let Some(f) = self.facts_cache.get(loc) {
            return f.clone();
        }
        let cycles = self.allof_cycles;
        let f = self.facts_uncached(loc);
        if self.allof_cycles == cycles {
            self.facts_cache.insert(loc.clone(), f.clone());
        }
        f
    }

    fn facts_uncached(&mut self, loc: &Loc) -> Facts {
        #[cfg(test)]
        tests::FACTS_COMPUTED.with(|n| n.set(n.get() + 1));
        let mut f = Facts {
            loc: loc.clone(),
            ..Facts::default()
        };
        let doc = self.doc_value(loc);
        let map = match crate::load::at_pointer(&doc, &loc.1) {
            Some(Value::Object(m)) => m,
            Some(Value::Bool(false)) => {
                f.never = true;
                return f;
            }
            _ => return f,
        };
        if !self.allof_stack.insert(loc.clone()) {
            self.allof_cycles += 1;
            self.diag(
                Severity::Warning,
                "allof-cycle",
                loc,
                "`allOf` reaches this schema again; the repeated part is skipped",
                None,
            );
            return f;
        }
        let child = |key: &str| (loc.0, format!("{}/{}", loc.1, escape(key)));
        f.docs = docs_of(map);
        f.constraints = constraints_of(map);
        if let Some(pattern) = &f.constraints.pattern {
            if let Err(e) = acl_policy::pattern::compile(pattern) {
                self.diag(
                    Severity::Warning,
                    "bad-pattern",
                    &child("pattern"),
                    format!(
                        "the pattern /{pattern}/ does not compile ({}); it is not enforced at \
                         run time: every value passes this rule",
                        e.lines().last().unwrap_or_default().trim()
                    ),
                    Some("fix the regular expression (ECMA-262 syntax)"),
                );
            }
        }
        f.default = map.get("default").cloned();
        f.read_only = map.get("readOnly") == Some(&Value::Bool(true));
        f.write_only = map.get("writeOnly") == Some(&Value::Bool(true));
        if self.openapi30 && map.get("nullable") == Some(&Value::Bool(true)) {
            f.nullable = true;
        }
        match map.get("type") {
            Some(Value::String(t)) => f.types = Some(vec![t.clone()]),
            Some(Value::Array(ts)) => {
                f.types = Some(
                    ts.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                );
            }
            Some(_) => self.diag(
                Severity::Warning,
                "bad-type",
                &child("type"),
                "`type` must be a string or an array of strings",
                None,
            ),
            None => {}
        }
        if let Some(ts) = &mut f.types {
            if ts.iter().any(|t| t == "null") {
                f.nullable = true;
                ts.retain(|t| t != "null");
                if ts.is_empty() {
                    f.types = Some(vec!["null".into()]);
                    f.nullable = false;
                }
            }
        }
        if let Some(props) = map.get("properties").and_then(Value::as_object) {
            let base = child("properties");
            for name in props.keys() {
                f.properties.push((
                    name.clone(),
                    (loc.0, format!("{}/{}", base.1, escape(name))),
                ));
            }
        }
        if let Some(req) = map.get("required").and_then(Value::as_array) {
            f.required = req
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        f.additional = sub(map, "additionalProperties", &child("additionalProperties"));
        f.has_pattern_properties = map
            .get("patternProperties")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty());
        match map.get("items") {
            Some(Value::Array(items)) if self.dialect < Dialect::Draft2020 => {
                f.prefix_items = Some(
                    (0..items.len())
                        .map(|i| (loc.0, format!("{}/items/{i}", loc.1)))
                        .collect(),
                );
                f.items = sub(map, "additionalItems", &child("additionalItems"));
                if f.items.is_none() {
                    f.items = Some(SubSchema::Bool(true));
                }
            }
            Some(_) => f.items = sub(map, "items", &child("items")),
            None => {}
        }
        if let Some(Value::Array(items)) = map.get("prefixItems") {
            f.prefix_items = Some(
                (0..items.len())
                    .map(|i| (loc.0, format!("{}/prefixItems/{i}", loc.1)))
                    .collect(),
            );
            if f.items.is_none() {
                f.items = Some(SubSchema::Bool(true));
            }
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            f.enum_values = Some(values.clone());
            if values.iter().any(Value::is_null) && values.iter().any(|v| !v.is_null()) {
                f.nullable = true;
            }
        }
        if let Some(c) = map.get("const") {
            f.const_value = Some(c.clone());
        }
        if let Some(fmt) = map.get("format").and_then(Value::as_str) {
            f.format = Some(fmt.to_string());
        }
        let mut parts: Vec<Loc> = Vec::new();
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(items)) = map.get(key) {
                if items.len() == 1 && items[0].get("type").and_then(Value::as_str) != Some("null")
                {
                    // One branch: it must hold, like an `allOf` part.
                    parts.push((loc.0, format!("{}/{key}/0", loc.1)));
                    continue;
                }
                let locs: Vec<Loc> = (0..items.len())
                    .map(|i| (loc.0, format!("{}/{key}/{i}", loc.1)))
                    .collect();
                if key == "oneOf" {
                    f.one_of = Some(locs);
                } else {
                    f.any_of = Some(locs);
                }
            }
        }
        if let Some(d) = map.get("discriminator") {
            match d {
                Value::Object(d) => {
                    if let Some(property) = d.get("propertyName").and_then(Value::as_str) {
                        let mapping = d
                            .get("mapping")
                            .and_then(Value::as_object)
                            .map(|m| {
                                m.iter()
                                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                                    .collect()
                            })
                            .unwrap_or_default();
                        f.discriminator = Some(Discriminator {
                            property: property.to_string(),
                            mapping,
                        });
                    }
                }
                // Swagger 2.0: `discriminator: propertyName`.
                Value::String(property) => {
                    f.discriminator = Some(Discriminator {
                        property: property.clone(),
                        mapping: Vec::new(),
                    })
                }
                _ => {}
            }
        }
        for key in UNENFORCED {
            if map.contains_key(*key) {
                f.unenforced.push((key.to_string(), child(key)));
            }
        }
        if f.one_of.is_some() && f.any_of.is_some() {
            f.unenforced
                .push(("anyOf (next to oneOf)".into(), child("anyOf")));
        }
        // `$ref` with siblings (2019-09 and later): both apply, like `allOf`.
        if let Some(r) = map.get("$ref").and_then(Value::as_str) {
            if self.dialect >= Dialect::Draft2019 {
                match self.resolve_ref(loc, r) {
                    Ok(t) => parts.push(t),
                    Err(e) => self.ref_failed(loc, e),
                }
            }
        }
        if let Some(Value::Array(items)) = map.get("allOf") {
            for i in 0..items.len() {
                parts.push((loc.0, format!("{}/allOf/{i}", loc.1)));
            }
        }
        for part in parts {
            let target = self.deref_loc(&part);
            if let Some(target) = target {
                let part_facts = self.facts(&target);
                // A part's nullability does not make the whole nullable.
                let mut part_facts = part_facts;
                part_facts.nullable = false;
                f.merge_part(part_facts);
            }
        }
        self.allof_stack.remove(loc);
        f
    }
}

pub(crate) fn sub(map: &Map<String, Value>, key: &str, loc: &Loc) -> Option<SubSchema> {
    match map.get(key)? {
        Value::Bool(b) => Some(SubSchema::Bool(*b)),
        Value::Object(m) if m.is_empty() => Some(SubSchema::Bool(true)),
        Value::Object(_) => Some(SubSchema::Schema(loc.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::PathBuf;

    use crate::load::Documents;
    use crate::lower::Lowerer;
    use crate::Settings;

    thread_local! {
        pub(super) static FACTS_COMPUTED: Cell<u64> = const { Cell::new(0) };
    }

    /// `S0 = allOf [S1, {p0}]`, `S1 = allOf [S2, {p1}]`, ...: each type reaches every
    /// link below it.
    fn chain(n: usize) -> serde_json::Value {
        let mut schemas = serde_json::Map::new();
        for i in 0..n {
            let own = serde_json::json!({"type": "object", "properties": {format!("p{i}"): {"type": "string"}}});
            let schema = if i + 1 < n {
                serde_json::json!({"allOf": [{"$ref": format!("#/components/schemas/S{}", i + 1)}, own]})
            } else {
                own
            };
            schemas.insert(format!("S{i}"), schema);
        }
        serde_json::json!({"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": {}, "components": {"schemas": schemas}})
    }

    fn facts_computed(n: usize) -> u64 {
        let mut docs = Documents::new(Vec::new());
        let uri = url::Url::parse("file:///chain.json").unwrap();
        let root = docs.insert(uri, PathBuf::from("chain.json"), String::new(), chain(n));
        let settings = Settings::default();
        let before = FACTS_COMPUTED.with(Cell::get);
        let (api, diags) = Lowerer::new(&mut docs, &settings).lower(root);
        assert_eq!(diags.errors(), 0);
        assert_eq!(api.types.len(), n);
        FACTS_COMPUTED.with(Cell::get) - before
    }

    #[test]
    fn an_allof_chain_is_read_once_per_schema() {
        // Lowering recurses with the chain, as `Generator::read` allows on its own stack.
        let (small, large) = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| (facts_computed(50), facts_computed(200)))
            .unwrap()
            .join()
            .unwrap();
        // Each schema object (the named one, its own part) is read a bounded number of
        // times: four times the schemas means four times the work, not sixteen or 64.
        assert!(large <= 4 * small + 8, "{small} -> {large}");
        assert!(large <= 200 * 4, "{large} for 200 schemas");
    }
}
