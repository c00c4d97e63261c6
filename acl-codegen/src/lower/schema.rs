//! Schemas to named types.
//!
//! Each schema is first read into [`Facts`] (`allOf` merged in), then classified into a
//! shape. Shapes that need a name (structs, enums, unions, constrained values) are
//! registered under their name *before* their children are lowered, so recursive
//! schemas terminate; the emitter later boxes the fields that close a cycle.

use serde_json::{Map, Value};

use super::facts::{constraints_of, docs_of, Facts, SubSchema, ANNOTATIONS};
use super::names::{camel, snake, Namespace};
use super::{Dialect, Loc, Lowerer};
use crate::diagnostics::Severity;
use crate::ir::{
    Additional, Constraints, Docs, EnumDef, EnumRepr, EnumVariant, Field, Primitive, StructDef,
    TypeDef, TypeKind, TypeRef, UnionDef, UnionVariant,
};

/// Schema nesting deeper than this is refused (a guard against hostile inputs).
const MAX_SCHEMA_DEPTH: usize = 96;

/// What a schema becomes.
enum Class {
    /// A type that needs no name of its own.
    Inline,
    /// A type that needs a name.
    Named,
}

impl Lowerer<'_> {
    /// The type to use where the schema at `loc` appears. `hint` names the type if the
    /// schema is inline and needs a name.
    pub(crate) fn schema_type(&mut self, loc: &Loc, hint: &str) -> TypeRef {
        if let Some(t) = self.by_loc.get(loc) {
            return t.clone();
        }
        if self.reserved.contains_key(loc) {
            return self.named_type(loc);
        }
        if self.depth >= MAX_SCHEMA_DEPTH {
            self.diag(
                Severity::Error,
                "too-deep",
                loc,
                format!("schemas nested more than {MAX_SCHEMA_DEPTH} levels deep"),
                Some("flatten the schema with `$ref`s to named definitions"),
            );
            return TypeRef::Primitive(Primitive::Any);
        }
        self.depth += 1;
        let t = self.schema_type_inner(loc, hint);
        self.depth -= 1;
        t
    }

    fn schema_type_inner(&mut self, loc: &Loc, hint: &str) -> TypeRef {
        let doc = self.doc_value(loc);
        let Some(value) = crate::load::at_pointer(&doc, &loc.1) else {
            self.diag(
                Severity::Error,
                "dangling-pointer",
                loc,
                "no schema here",
                None,
            );
            return TypeRef::Primitive(Primitive::Any);
        };
        let map = match value {
            Value::Bool(true) => return TypeRef::Primitive(Primitive::Any),
            Value::Bool(false) => return TypeRef::Primitive(Primitive::Never),
            Value::Object(map) => map,
            other => {
                self.diag(
                    Severity::Error,
                    "not-a-schema",
                    loc,
                    format!(
                        "a schema must be an object or a boolean, found {}",
                        kind_name(other)
                    ),
                    None,
                );
                return TypeRef::Primitive(Primitive::Any);
            }
        };
        if let Some(target) = self.plain_ref(loc, map) {
            return match target {
                Some(target) => {
                    let t = self.named_type(&target);
                    if self.openapi30 && map.get("nullable") == Some(&Value::Bool(true)) {
                        nullable(t)
                    } else {
                        t
                    }
                }
                None => TypeRef::Primitive(Primitive::Any),
            };
        }
        let f = self.facts(loc);
        match self.classify(&f) {
            Class::Inline => self.lower_inline(&f, hint),
            Class::Named => {
                // Vendors repeat the same inline object many times (GitHub's webhook
                // schemas inline `repository` and `sender` in every event): one type
                // per distinct schema text keeps the output small and the types shared.
                let key = (loc.0, shape_key(map));
                if let Some(t) = self.by_content.get(&key) {
                    let t = t.clone();
                    self.by_loc.insert(loc.clone(), t.clone());
                    return t;
                }
                let name = self.names.claim(&camel(hint, "Type"));
                let t = wrap(TypeRef::Named(name.clone()), f.nullable);
                self.by_content.insert(key, t.clone());
                self.by_loc.insert(loc.clone(), t.clone());
                let kind = self.lower_named(&f, &name);
                self.insert_type(name, None, loc, f.docs.clone(), kind);
                t
            }
        }
    }

    /// When the schema is only a `$ref` (plus annotations, or siblings the dialect
    /// ignores): `Some(Some(target))`, or `Some(None)` when the reference is broken.
    fn plain_ref(&mut self, loc: &Loc, map: &Map<String, Value>) -> Option<Option<Loc>> {
        let reference = map.get("$ref")?;
        let Some(reference) = reference.as_str() else {
            self.diag(
                Severity::Error,
                "bad-ref",
                loc,
                "`$ref` must be a string",
                None,
            );
            return Some(None);
        };
        let siblings_apply = self.dialect >= Dialect::Draft2019
            && map.keys().any(|k| {
                k != "$ref"
                    && k != "nullable"
                    && !ANNOTATIONS.contains(&k.as_str())
                    && !k.starts_with("x-")
            });
        if siblings_apply {
            return None;
        }
        match self.resolve_ref(loc, reference) {
            Ok(target) => Some(Some(target)),
            Err(e) => {
                self.ref_failed(loc, e);
                Some(None)
            }
        }
    }

    /// The named type of a definition or `$ref` target.
    pub(crate) fn named_type(&mut self, loc: &Loc) -> TypeRef {
        if let Some(t) = self.by_loc.get(loc) {
            return t.clone();
        }
        let (name, contract_name) = match self.reserved.get(loc) {
            Some((n, c)) => (n.clone(), Some(c.clone())),
            None => {
                let base = loc
                    .1
                    .rsplit('/')
                    .find(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit()))
                    .map(|s| s.replace("~1", "/").replace("~0", "~"))
                    .unwrap_or_else(|| {
                        let path = &self.docs.get(loc.0).path;
                        path.file_stem()
                            .and_then(|s| s.to_str())
                            .unwrap_or("Schema")
                            .to_string()
                    });
                (self.names.claim(&camel(&base, "Schema")), None)
            }
        };
        let doc = self.doc_value(loc);
        let value = crate::load::at_pointer(&doc, &loc.1);
        let map = match value {
            Some(Value::Object(map)) => map,
            Some(Value::Bool(b)) => {
                let t = TypeRef::Primitive(if *b { Primitive::Any } else { Primitive::Never });
                return self.alias_definition(loc, name, contract_name, Docs::default(), t);
            }
            other => {
                if other.is_none() {
                    self.diag(
                        Severity::Error,
                        "dangling-pointer",
                        loc,
                        "no schema here",
                        None,
                    );
                } else {
                    self.diag(
                        Severity::Error,
                        "not-a-schema",
                        loc,
                        "a schema must be an object or a boolean",
                        None,
                    );
                }
                let t = TypeRef::Primitive(Primitive::Any);
                return self.alias_definition(loc, name, contract_name, Docs::default(), t);
            }
        };
        if map.contains_key("$ref") {
            // A definition that is itself a reference: an alias, unless the chain of
            // references loops without ever reaching a schema.
            if let super::refs::Chased::Endless(seen) = self.chase_refs(loc, false) {
                self.diag(
                    Severity::Error,
                    "ref-cycle",
                    loc,
                    format!(
                        "`$ref` cycle with no base case: {}",
                        seen.iter()
                            .map(|l| format!("#{}", l.1))
                            .collect::<Vec<_>>()
                            .join(" -> ")
                    ),
                    Some("one schema in the cycle must say what the value is"),
                );
                let t = TypeRef::Primitive(Primitive::Any);
                return self.alias_definition(loc, name, contract_name, docs_of(map), t);
            }
        }
        if self.depth >= MAX_SCHEMA_DEPTH {
            self.diag(
                Severity::Error,
                "too-deep",
                loc,
                "schemas nested too deeply",
                None,
            );
            return TypeRef::Primitive(Primitive::Any);
        }
        self.depth += 1;
        let nullable_def = self.openapi30 && map.get("nullable") == Some(&Value::Bool(true));
        let result = if let Some(target) = self.plain_ref(loc, map) {
            self.by_loc
                .insert(loc.clone(), TypeRef::Named(name.clone()));
            let t = match target {
                Some(target) => self.named_type(&target),
                None => TypeRef::Primitive(Primitive::Any),
            };
            let t = wrap(t, nullable_def);
            self.insert_type(
                name.clone(),
                contract_name,
                loc,
                docs_of(map),
                TypeKind::Alias(t),
            );
            TypeRef::Named(name)
        } else {
            let f = self.facts(loc);
            let class = self.classify(&f);
            let t = wrap(
                TypeRef::Named(name.clone()),
                f.nullable && matches!(class, Class::Named),
            );
            self.by_loc.insert(loc.clone(), t.clone());
            let kind = match class {
                Class::Named => self.lower_named(&f, &name),
                Class::Inline => TypeKind::Alias(self.lower_inline(&f, &name)),
            };
            self.insert_type(name, contract_name, loc, f.docs.clone(), kind);
            t
        };
        self.depth -= 1;
        result
    }

    /// A definition that can only be an alias of `t` (a boolean schema, or one that is
    /// broken and falls back to any JSON value).
    fn alias_definition(
        &mut self,
        loc: &Loc,
        name: String,
        contract_name: Option<String>,
        docs: Docs,
        t: TypeRef,
    ) -> TypeRef {
        self.by_loc
            .insert(loc.clone(), TypeRef::Named(name.clone()));
        self.insert_type(name.clone(), contract_name, loc, docs, TypeKind::Alias(t));
        TypeRef::Named(name)
    }

    pub(crate) fn insert_type(
        &mut self,
        name: String,
        contract_name: Option<String>,
        loc: &Loc,
        docs: Docs,
        kind: TypeKind,
    ) {
        let origin = self.origin(loc);
        let notes = self
            .notes
            .iter()
            .filter(|(at, _)| {
                at.0 == loc.0
                    && (at.1 == loc.1
                        || at
                            .1
                            .strip_prefix(&loc.1)
                            .and_then(|rest| rest.strip_prefix('/'))
                            .is_some_and(|rest| !rest.contains('/'))
                        || at.1.strip_prefix(&loc.1).is_some_and(|rest| {
                            rest.ends_with("/$ref") && rest.matches('/').count() <= 3
                        }))
            })
            .map(|(_, m)| m.clone())
            .collect();
        self.types.insert(
            name.clone(),
            TypeDef {
                name,
                contract_name,
                origin,
                docs,
                notes,
                kind,
            },
        );
    }

    /// Follows plain `$ref`s from `loc` to the schema they name.
    pub(crate) fn deref_loc(&mut self, loc: &Loc) -> Option<Loc> {
        match self.chase_refs(loc, true) {
            super::refs::Chased::End(at) => Some(at),
            super::refs::Chased::Broken(at, e) => {
                self.ref_failed(&at, e);
                None
            }
            super::refs::Chased::Endless(_) => {
                self.diag(
                    Severity::Error,
                    "ref-cycle",
                    loc,
                    "`$ref` chain does not end",
                    None,
                );
                None
            }
        }
    }

    fn effective_types(&self, f: &Facts) -> Vec<String> {
        if let Some(ts) = &f.types {
            let mut ts = ts.clone();
            if ts.iter().any(|t| t == "number") {
                ts.retain(|t| t != "integer");
            }
            return ts;
        }
        let mut ts = Vec::new();
        if !f.properties.is_empty()
            || !f.required.is_empty()
            || f.additional.is_some()
            || f.has_pattern_properties
        {
            ts.push("object".to_string());
        }
        if f.items.is_some() || f.prefix_items.is_some() {
            ts.push("array".to_string());
        }
        ts
    }

    fn classify(&self, f: &Facts) -> Class {
        if f.never || f.enum_values.as_ref().is_some_and(Vec::is_empty) {
            return Class::Inline;
        }
        if let Some(values) = &f.enum_values {
            let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
            return if non_null.is_empty() {
                Class::Inline
            } else {
                Class::Named
            };
        }
        if let Some(c) = &f.const_value {
            return if c.is_null() {
                Class::Inline
            } else {
                Class::Named
            };
        }
        if self.union_variants(f).is_some_and(|v| v.len() > 1)
            || (f.one_of.is_some() || f.any_of.is_some()) && !f.properties.is_empty()
        {
            return Class::Named;
        }
        if let Some(v) = self.union_variants(f) {
            if v.len() == 1 {
                return Class::Inline;
            }
        }
        let types = self.effective_types(f);
        if types.len() > 1 {
            return Class::Named;
        }
        match types.first().map(String::as_str) {
            None => {
                if constraints_for_any(&f.constraints).is_empty() {
                    Class::Inline
                } else {
                    Class::Named
                }
            }
            Some("object") => {
                let is_struct = !f.properties.is_empty()
                    || !f.required.is_empty()
                    || (f.additional == Some(SubSchema::Bool(false)) && !f.has_pattern_properties);
                if is_struct
                    || f.constraints.min_properties.is_some()
                    || f.constraints.max_properties.is_some()
                {
                    Class::Named
                } else {
                    Class::Inline
                }
            }
            Some("array") => {
                let c = &f.constraints;
                if c.min_items.is_some() || c.max_items.is_some() || c.unique_items {
                    Class::Named
                } else {
                    Class::Inline
                }
            }
            Some("string") => {
                // A format with a type of its own carries its rules in that type.
                if f.format.as_deref().is_some_and(is_typed_string_format)
                    || string_constraints(f).is_empty()
                {
                    Class::Inline
                } else {
                    Class::Named
                }
            }
            Some("integer") | Some("number") => {
                if numeric_constraints(&f.constraints).is_empty() {
                    Class::Inline
                } else {
                    Class::Named
                }
            }
            _ => Class::Inline,
        }
    }

    /// The branches of a `oneOf`/`anyOf` that say something (null-only branches make the
    /// union nullable; constraint-only branches are reported, not enforced).
    fn union_variants(&self, f: &Facts) -> Option<Vec<Loc>> {
        let locs = f.one_of.as_ref().or(f.any_of.as_ref())?;
        let shaped: Vec<Loc> = locs
            .iter()
            .filter(|l| match self.value(l) {
                Some(Value::Object(m)) => !is_null_only(m) && !is_constraint_only(m),
                Some(Value::Bool(_)) => true,
                _ => false,
            })
            .cloned()
            .collect();
        if shaped.is_empty() {
            None
        } else {
            Some(shaped)
        }
    }

    fn union_is_nullable(&self, f: &Facts) -> bool {
        let Some(locs) = f.one_of.as_ref().or(f.any_of.as_ref()) else {
            return false;
        };
        locs.iter()
            .any(|l| matches!(self.value(l), Some(Value::Object(m)) if is_null_only(m)))
    }

    /// A union whose own schema also constrains the value (`type: string` next to
    /// `anyOf`, or `oneOf` and `anyOf` together) is more than the union can say.
    fn union_base_unenforced(&mut self, f: &Facts) {
        if f.one_of.is_some() && f.any_of.is_some() {
            self.diag(
                Severity::Warning,
                "unenforced-keyword",
                &f.loc,
                "`oneOf` and `anyOf` together: only `oneOf` is enforced",
                None,
            );
        }
        if self.union_variants(f).is_some_and(|v| v.len() > 1)
            && f.properties.is_empty()
            && (!f.constraints.is_empty()
                || f.enum_values.is_some()
                || f.const_value.is_some()
                || f.types
                    .as_ref()
                    .is_some_and(|t| !t.iter().all(|t| t == "object")))
        {
            self.diag(
                Severity::Warning,
                "unenforced-keyword",
                &f.loc,
                "`type` or constraints next to `oneOf`/`anyOf` are not enforced; each branch is",
                None,
            );
        }
    }

    fn report_unenforced(&mut self, f: &Facts) {
        for (key, loc) in f.unenforced.clone() {
            self.diag(
                Severity::Warning,
                "unenforced-keyword",
                &loc,
                format!("`{key}` is not enforced by the generated type"),
                Some("values are still accepted and kept; validate the raw payload with acl_runtime::boundary::raw for a full check"),
            );
        }
    }

    /// A type that needs no name.
    fn lower_inline(&mut self, f: &Facts, hint: &str) -> TypeRef {
        self.report_unenforced(f);
        let mut nullable = f.nullable;
        if f.never || f.enum_values.as_ref().is_some_and(Vec::is_empty) {
            return TypeRef::Primitive(Primitive::Never);
        }
        if f.enum_values.is_some() || f.const_value.is_some() {
            return TypeRef::Primitive(Primitive::Null);
        }
        if f.one_of.is_some() || f.any_of.is_some() {
            nullable |= self.union_is_nullable(f);
            match self.union_variants(f) {
                Some(v) if v.len() == 1 => {
                    let t = self.schema_type(&v[0], hint);
                    return wrap(t, nullable);
                }
                None if self.union_is_nullable(f)
                    && f.one_of.as_ref().or(f.any_of.as_ref()).is_some_and(|l| {
                        l.iter().all(
                            |l| matches!(self.value(l), Some(Value::Object(m)) if is_null_only(m)),
                        )
                    }) =>
                {
                    return TypeRef::Primitive(Primitive::Null);
                }
                None => {
                    let which = if f.one_of.is_some() { "oneOf" } else { "anyOf" };
                    let only_null = f.one_of.as_ref().or(f.any_of.as_ref()).is_some_and(|l| {
                        l.iter().all(
                            |l| matches!(self.value(l), Some(Value::Object(m)) if is_null_only(m)),
                        )
                    });
                    if !only_null {
                        self.diag(
                            Severity::Warning,
                            "unenforced-keyword",
                            &f.loc,
                            format!(
                                "`{which}` branches that only add constraints are not enforced"
                            ),
                            None,
                        );
                    }
                }
                _ => {}
            }
        }
        let types = self.effective_types(f);
        let t = match types.first().map(String::as_str) {
            None => TypeRef::Primitive(Primitive::Any),
            Some("object") => match &f.additional {
                Some(SubSchema::Schema(l)) => {
                    let v = self.schema_type(l, &format!("{hint}Value"));
                    TypeRef::Map(Box::new(v))
                }
                _ => TypeRef::Primitive(Primitive::Object),
            },
            Some("array") => self.list_type(f, hint),
            Some("string") => TypeRef::Primitive(string_primitive(f.format.as_deref())),
            Some("integer") => TypeRef::Primitive(integer_primitive(f.format.as_deref())),
            Some("number") => TypeRef::Primitive(if f.format.as_deref() == Some("float") {
                Primitive::F32
            } else {
                Primitive::F64
            }),
            Some("boolean") => TypeRef::Primitive(Primitive::Bool),
            Some("null") => return TypeRef::Primitive(Primitive::Null),
            Some("file") => TypeRef::Primitive(Primitive::String),
            Some(other) => {
                self.diag(
                    Severity::Warning,
                    "unknown-type",
                    &f.loc,
                    format!("unknown type `{other}`; kept as any JSON value"),
                    None,
                );
                TypeRef::Primitive(Primitive::Any)
            }
        };
        if matches!(types.first().map(String::as_str), Some("string"))
            && f.format.as_deref().is_some_and(is_typed_string_format)
            && f.constraints.pattern.is_some()
        {
            self.diag(
                Severity::Warning,
                "unenforced-keyword",
                &f.loc,
                format!(
                    "`pattern` next to `format: {}` is not enforced (the format's type is)",
                    f.format.as_deref().unwrap_or("")
                ),
                None,
            );
        }
        wrap(t, nullable)
    }

    fn list_type(&mut self, f: &Facts, hint: &str) -> TypeRef {
        if let Some(prefix) = &f.prefix_items {
            if f.items == Some(SubSchema::Bool(false))
                && f.constraints.min_items.unwrap_or(0) as usize >= prefix.len()
            {
                let items = prefix
                    .clone()
                    .iter()
                    .enumerate()
                    .map(|(i, l)| self.schema_type(l, &format!("{hint}{i}")))
                    .collect();
                return TypeRef::Tuple(items);
            }
            self.diag(
                Severity::Warning,
                "unenforced-keyword",
                &f.loc,
                "`prefixItems` / array `items` are not enforced unless the array is closed (`items: false`) and all positions are required",
                None,
            );
            return TypeRef::List(Box::new(TypeRef::Primitive(Primitive::Any)));
        }
        match &f.items {
            Some(SubSchema::Schema(l)) => {
                let l = l.clone();
                TypeRef::List(Box::new(self.schema_type(&l, &format!("{hint}Item"))))
            }
            Some(SubSchema::Bool(false)) => {
                TypeRef::List(Box::new(TypeRef::Primitive(Primitive::Never)))
            }
            _ => TypeRef::List(Box::new(TypeRef::Primitive(Primitive::Any))),
        }
    }

    /// The definition of a type that needs a name.
    fn lower_named(&mut self, f: &Facts, name: &str) -> TypeKind {
        self.report_unenforced(f);
        if let Some(values) = &f.enum_values {
            return self.lower_enum(f, values);
        }
        if let Some(c) = &f.const_value {
            let inner = match c {
                Value::String(_) => TypeRef::Primitive(Primitive::String),
                Value::Bool(_) => TypeRef::Primitive(Primitive::Bool),
                _ => TypeRef::Primitive(Primitive::Any),
            };
            return TypeKind::Constrained {
                inner,
                constraints: Constraints {
                    const_value: Some(c.clone()),
                    ..Constraints::default()
                },
            };
        }
        if (f.one_of.is_some() || f.any_of.is_some()) && !f.properties.is_empty() {
            let which = if f.one_of.is_some() { "oneOf" } else { "anyOf" };
            self.diag(
                Severity::Warning,
                "unenforced-keyword",
                &f.loc,
                format!("`{which}` next to `properties` is not enforced; the listed properties are typed and the rest are kept as JSON"),
                None,
            );
            return TypeKind::Struct(self.lower_struct(f, name, true));
        }
        if let Some(variants) = self.union_variants(f) {
            if variants.len() > 1 {
                self.union_base_unenforced(f);
                return TypeKind::Union(self.lower_union(f, name, variants));
            }
        }
        let types = self.effective_types(f);
        if types.len() > 1 {
            return TypeKind::Union(self.lower_type_union(f, name, &types));
        }
        match types.first().map(String::as_str) {
            Some("object") => {
                let is_struct = !f.properties.is_empty()
                    || !f.required.is_empty()
                    || (f.additional == Some(SubSchema::Bool(false)) && !f.has_pattern_properties);
                if is_struct {
                    let s = self.lower_struct(f, name, false);
                    if f.constraints.min_properties.is_some()
                        || f.constraints.max_properties.is_some()
                    {
                        self.diag(
                            Severity::Warning,
                            "unenforced-keyword",
                            &f.loc,
                            "`minProperties`/`maxProperties` on an object with listed properties are not enforced",
                            None,
                        );
                    }
                    return TypeKind::Struct(s);
                }
                let inner = match &f.additional {
                    Some(SubSchema::Schema(l)) => {
                        let v = self.schema_type(l, &format!("{name}Value"));
                        TypeRef::Map(Box::new(v))
                    }
                    _ => TypeRef::Primitive(Primitive::Object),
                };
                TypeKind::Constrained {
                    inner,
                    constraints: Constraints {
                        min_properties: f.constraints.min_properties,
                        max_properties: f.constraints.max_properties,
                        ..Constraints::default()
                    },
                }
            }
            Some("array") => {
                let inner = self.list_type(f, name);
                if matches!(inner, TypeRef::Tuple(_)) {
                    // A closed tuple already has its length.
                    return TypeKind::Alias(inner);
                }
                TypeKind::Constrained {
                    inner,
                    constraints: Constraints {
                        min_items: f.constraints.min_items,
                        max_items: f.constraints.max_items,
                        unique_items: f.constraints.unique_items,
                        ..Constraints::default()
                    },
                }
            }
            Some("string") => TypeKind::Constrained {
                inner: TypeRef::Primitive(Primitive::String),
                constraints: string_constraints(f),
            },
            Some("integer") => TypeKind::Constrained {
                inner: TypeRef::Primitive(integer_primitive(f.format.as_deref())),
                constraints: numeric_constraints(&f.constraints),
            },
            Some("number") => TypeKind::Constrained {
                inner: TypeRef::Primitive(if f.format.as_deref() == Some("float") {
                    Primitive::F32
                } else {
                    Primitive::F64
                }),
                constraints: numeric_constraints(&f.constraints),
            },
            _ => {
                let mut c = constraints_for_any(&f.constraints);
                if let Some(fmt) = &f.format {
                    if matches!(
                        fmt.as_str(),
                        "email" | "idn-email" | "hostname" | "idn-hostname"
                    ) {
                        c.format = Some(fmt.clone());
                    }
                }
                TypeKind::Constrained {
                    inner: TypeRef::Primitive(Primitive::Any),
                    constraints: c,
                }
            }
        }
    }

    fn lower_enum(&mut self, f: &Facts, values: &[Value]) -> TypeKind {
        let mut non_null: Vec<Value> = values.iter().filter(|v| !v.is_null()).cloned().collect();
        non_null.dedup();
        if let [Value::String(_)] = non_null.as_slice() {
            // One allowed string: a tag or constant, not a set that may grow.
            return TypeKind::Constrained {
                inner: TypeRef::Primitive(Primitive::String),
                constraints: Constraints {
                    const_value: non_null.pop(),
                    ..Constraints::default()
                },
            };
        }
        let all_strings = non_null.iter().all(Value::is_string);
        let all_ints = non_null.iter().all(|v| v.as_i64().is_some());
        let types = self.effective_types(f);
        let repr = if all_strings && types.iter().all(|t| t == "string") {
            Some(EnumRepr::String)
        } else if all_ints && types.iter().all(|t| t == "integer" || t == "number") {
            Some(EnumRepr::Integer)
        } else {
            None
        };
        let Some(repr) = repr else {
            return TypeKind::Constrained {
                inner: TypeRef::Primitive(Primitive::Any),
                constraints: Constraints {
                    enum_values: Some(non_null),
                    ..Constraints::default()
                },
            };
        };
        let mut ns = Namespace::default();
        let mut variants = Vec::new();
        for v in &non_null {
            if variants.iter().any(|e: &EnumVariant| &e.value == v) {
                continue;
            }
            let raw = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => {
                    let i = n.as_i64().unwrap_or_default();
                    if i < 0 {
                        format!("Minus{}", i.unsigned_abs())
                    } else {
                        format!("V{i}")
                    }
                }
                _ => String::new(),
            };
            variants.push(EnumVariant {
                name: ns.claim(&camel(&raw, "Empty")),
                value: v.clone(),
            });
        }
        TypeKind::Enum(EnumDef {
            repr,
            variants,
            open: self.settings.open_enums,
        })
    }

    fn lower_struct(&mut self, f: &Facts, name: &str, keep_rest: bool) -> StructDef {
        let mut ns = Namespace::default();
        let mut fields = Vec::new();
        for (prop, ploc) in f.properties.clone() {
            let hint = format!("{name}{}", camel(&prop, "Field"));
            let ty = self.schema_type(&ploc, &hint);
            let (ty, nullable) = match ty {
                TypeRef::Nullable(inner) => (*inner, true),
                t => (t, false),
            };
            let pmap = self
                .value(&ploc)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let required = f.required.contains(&prop);
            let default = match pmap.get("default") {
                Some(d) => match default_problem(d, &ty, &self.types, &constraints_of(&pmap)) {
                    Ok(true) => Some(d.clone()),
                    Ok(false) => None,
                    Err(why) => {
                        self.diag(
                            Severity::Warning,
                            "bad-default",
                            &(ploc.0, format!("{}/default", ploc.1)),
                            format!(
                                "the default {} of `{prop}` {why}; it is not applied (an \
                                 absent value stays absent)",
                                shown(d)
                            ),
                            Some("make the default fit its own schema"),
                        );
                        None
                    }
                },
                None => None,
            };
            fields.push(Field {
                name: ns.claim(&snake(&prop, "field")),
                wire_name: prop.clone(),
                ty,
                required,
                nullable,
                default,
                docs: docs_of(&pmap),
                read_only: pmap.get("readOnly") == Some(&Value::Bool(true)),
                write_only: pmap.get("writeOnly") == Some(&Value::Bool(true)),
            });
        }
        for r in &f.required {
            if !f.properties.iter().any(|(p, _)| p == r) {
                fields.push(Field {
                    name: ns.claim(&snake(r, "field")),
                    wire_name: r.clone(),
                    ty: TypeRef::Primitive(Primitive::Any),
                    required: true,
                    nullable: false,
                    default: None,
                    docs: Docs {
                        description: Some(
                            "Required by the contract, which does not say what it is.".into(),
                        ),
                        ..Docs::default()
                    },
                    read_only: false,
                    write_only: false,
                });
            }
        }
        if f.properties_from_parts
            && matches!(
                f.additional,
                Some(SubSchema::Bool(false)) | Some(SubSchema::Schema(_))
            )
        {
            self.diag(
                Severity::Warning,
                "unenforced-keyword",
                &f.loc,
                "`additionalProperties` next to `allOf` parts with properties: the parts' properties are accepted as listed",
                None,
            );
        }
        let additional = if keep_rest || f.has_pattern_properties {
            Additional::Typed(TypeRef::Primitive(Primitive::Any))
        } else {
            match &f.additional {
                Some(SubSchema::Bool(false)) => Additional::Deny,
                Some(SubSchema::Schema(l)) => {
                    let l = l.clone();
                    Additional::Typed(self.schema_type(&l, &format!("{name}Value")))
                }
                _ => Additional::Ignore,
            }
        };
        StructDef { fields, additional }
    }

    fn lower_union(&mut self, f: &Facts, name: &str, variants: Vec<Loc>) -> UnionDef {
        let mut ns = Namespace::default();
        let mut out = Vec::new();
        let mut tagged = f.discriminator.is_some();
        let mapping: Vec<(String, Option<Loc>)> = match &f.discriminator {
            Some(d) => d
                .mapping
                .clone()
                .into_iter()
                .map(|(tag, target)| {
                    let reference =
                        if target.contains('/') || target.contains('#') || target.contains('.') {
                            target.clone()
                        } else if self.is_openapi {
                            format!("#/components/schemas/{target}")
                        } else {
                            target.clone()
                        };
                    let l = self.resolve_ref(&f.loc, &reference).ok();
                    (tag, l)
                })
                .collect(),
            None => Vec::new(),
        };
        for (i, vloc) in variants.iter().enumerate() {
            let target = self.deref_loc(vloc);
            let is_ref = target.as_ref().is_some_and(|t| t != vloc);
            let hint = match self
                .value(vloc)
                .and_then(|v| v.get("title"))
                .and_then(Value::as_str)
            {
                Some(t) => format!("{name}{}", camel(t, "")),
                None => format!("{name}Variant{i}"),
            };
            let ty = self.schema_type(vloc, &hint);
            let mut tags: Vec<String> = mapping
                .iter()
                .filter(|(_, l)| l.is_some() && l.as_ref() == target.as_ref())
                .map(|(t, _)| t.clone())
                .collect();
            if tagged && tags.is_empty() {
                if is_ref {
                    if let Some(t) = &target {
                        // What the wire carries: the values the branch pins its
                        // discriminator property to (`const`, or `enum`), as vendors
                        // write them (OpenAI's `type: {enum: [message]}` under the
                        // schema `Message`); then the schema's name, OpenAPI's implicit
                        // mapping.
                        if let Some(d) = &f.discriminator {
                            tags.extend(self.pinned_values(t, &d.property));
                        }
                        let last =
                            t.1.rsplit('/')
                                .next()
                                .unwrap_or("")
                                .replace("~1", "/")
                                .replace("~0", "~");
                        if !tags.contains(&last) {
                            tags.push(last);
                        }
                    }
                } else {
                    tagged = false;
                }
            }
            let mut base = variant_name(&ty);
            // `Shape::ShapeCircle` reads better as `Shape::Circle`.
            if base.len() > name.len()
                && base.starts_with(name)
                && base[name.len()..].starts_with(|c: char| c.is_uppercase())
            {
                base = base[name.len()..].to_string();
            }
            out.push(UnionVariant {
                name: ns.claim(&base),
                tags,
                ty,
            });
        }
        if f.discriminator.is_some() && !tagged {
            self.diag(
                Severity::Warning,
                "untagged-discriminator",
                &f.loc,
                "the discriminator cannot name every branch (an inline branch has no mapping); the union is decoded by trying each branch",
                None,
            );
        }
        if !tagged {
            for v in &mut out {
                v.tags.clear();
            }
        }
        UnionDef {
            exclusive: f.one_of.is_some(),
            discriminator: if tagged {
                f.discriminator.as_ref().map(|d| d.property.clone())
            } else {
                None
            },
            variants: out,
        }
    }

    /// The string values the schema at `branch` pins its `property` to (`const`, or every
    /// `enum` value), after `allOf` merging and `$ref`s.
    fn pinned_values(&mut self, branch: &Loc, property: &str) -> Vec<String> {
        let facts = self.facts(branch);
        let Some((_, at)) = facts.properties.iter().find(|(n, _)| n == property) else {
            return Vec::new();
        };
        let at = at.clone();
        let p = self.facts(&at);
        let values = match (&p.const_value, &p.enum_values) {
            (Some(c), _) => vec![c.clone()],
            (None, Some(e)) => e.clone(),
            (None, None) => Vec::new(),
        };
        values
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// `type: [string, integer]`: a union with one branch per type, each keeping the
    /// constraints that apply to it.
    fn lower_type_union(&mut self, f: &Facts, name: &str, types: &[String]) -> UnionDef {
        let mut ns = Namespace::default();
        let mut variants = Vec::new();
        for t in types {
            let mut branch = f.clone();
            branch.types = Some(vec![t.clone()]);
            branch.nullable = false;
            branch.unenforced.clear();
            let hint = format!("{name}{}", camel(t, "Variant"));
            let ty = match self.classify(&branch) {
                Class::Inline => self.lower_inline(&branch, &hint),
                Class::Named => {
                    let n = self.names.claim(&hint);
                    let kind = self.lower_named(&branch, &n);
                    self.insert_type(n.clone(), None, &f.loc, Docs::default(), kind);
                    TypeRef::Named(n)
                }
            };
            variants.push(UnionVariant {
                name: ns.claim(&camel(t, "Variant")),
                tags: Vec::new(),
                ty,
            });
        }
        UnionDef {
            exclusive: false,
            discriminator: None,
            variants,
        }
    }
}

/// The schema text without its documentation, at every level: two inline schemas that
/// differ only in descriptions or examples make the same type.
fn shape_key(map: &Map<String, Value>) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| {
                        !matches!(
                            k.as_str(),
                            "description" | "title" | "example" | "examples" | "$comment"
                        )
                    })
                    .map(|(k, v)| {
                        // Under `properties` the keys are names, not keywords.
                        if k == "properties"
                            || k == "$defs"
                            || k == "definitions"
                            || k == "patternProperties"
                        {
                            let inner = match v {
                                Value::Object(p) => Value::Object(
                                    p.iter().map(|(n, s)| (n.clone(), strip(s))).collect(),
                                ),
                                other => other.clone(),
                            };
                            (k.clone(), inner)
                        } else if matches!(k.as_str(), "enum" | "const" | "default") {
                            (k.clone(), v.clone())
                        } else {
                            (k.clone(), strip(v))
                        }
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    strip(&Value::Object(map.clone())).to_string()
}

fn wrap(t: TypeRef, nullable: bool) -> TypeRef {
    if nullable {
        self::nullable(t)
    } else {
        t
    }
}

fn nullable(t: TypeRef) -> TypeRef {
    match t {
        TypeRef::Nullable(_)
        | TypeRef::Primitive(Primitive::Any)
        | TypeRef::Primitive(Primitive::Null) => t,
        t => TypeRef::Nullable(Box::new(t)),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_null_only(m: &Map<String, Value>) -> bool {
    m.get("type").and_then(Value::as_str) == Some("null")
        || m.get("enum")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().all(Value::is_null))
        || m.get("const") == Some(&Value::Null)
}

/// `{required: [a]}`-style branches: they restrict, they do not shape.
fn is_constraint_only(m: &Map<String, Value>) -> bool {
    !m.is_empty()
        && m.keys().all(|k| {
            matches!(
                k.as_str(),
                "required"
                    | "not"
                    | "minProperties"
                    | "maxProperties"
                    | "description"
                    | "title"
                    | "if"
                    | "then"
                    | "else"
            )
        })
}

fn is_typed_string_format(f: &str) -> bool {
    matches!(
        f,
        "date-time" | "date" | "uuid" | "uri" | "url" | "ipv4" | "ipv6" | "byte"
    )
}

fn string_primitive(format: Option<&str>) -> Primitive {
    match format {
        Some("date-time") => Primitive::DateTime,
        Some("date") => Primitive::Date,
        Some("uuid") => Primitive::Uuid,
        Some("uri") | Some("url") => Primitive::Uri,
        Some("ipv4") => Primitive::Ipv4,
        Some("ipv6") => Primitive::Ipv6,
        Some("byte") => Primitive::Bytes,
        _ => Primitive::String,
    }
}

fn integer_primitive(format: Option<&str>) -> Primitive {
    match format {
        Some("int8") => Primitive::I8,
        Some("int16") => Primitive::I16,
        Some("int32") => Primitive::I32,
        Some("uint8") => Primitive::U8,
        Some("uint16") => Primitive::U16,
        Some("uint32") => Primitive::U32,
        Some("uint64") | Some("uint") => Primitive::U64,
        _ => Primitive::I64,
    }
}

fn string_constraints(f: &Facts) -> Constraints {
    let c = &f.constraints;
    Constraints {
        min_length: c.min_length,
        max_length: c.max_length,
        pattern: c.pattern.clone(),
        format: f.format.clone().filter(|fmt| {
            matches!(
                fmt.as_str(),
                "email" | "idn-email" | "hostname" | "idn-hostname"
            )
        }),
        ..Constraints::default()
    }
}

fn numeric_constraints(c: &Constraints) -> Constraints {
    Constraints {
        minimum: c.minimum,
        maximum: c.maximum,
        exclusive_minimum: c.exclusive_minimum,
        exclusive_maximum: c.exclusive_maximum,
        multiple_of: c.multiple_of,
        ..Constraints::default()
    }
}

fn constraints_for_any(c: &Constraints) -> Constraints {
    Constraints {
        enum_values: None,
        const_value: None,
        format: None,
        ..c.clone()
    }
}

fn variant_name(t: &TypeRef) -> String {
    match t {
        TypeRef::Named(n) => n.clone(),
        TypeRef::Primitive(p) => format!("{p:?}"),
        TypeRef::List(_) => "List".into(),
        TypeRef::Map(_) => "Map".into(),
        TypeRef::Nullable(inner) => variant_name(inner),
        TypeRef::Tuple(_) => "Tuple".into(),
    }
}

/// A contract value for a message, cut to 60 characters.
fn shown(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Whether a default can be written as a Rust literal of the field's type:
/// `Ok(true)` it can, `Ok(false)` acl does not apply defaults of this type (it is kept
/// absent, as before), `Err` the default breaks its own schema or does not fit the
/// Rust type (an `int32` of 3000000000, a `float` of 1e300): reported, never emitted
/// as code that does not compile or as `inf`.
fn default_problem(
    d: &Value,
    ty: &TypeRef,
    types: &std::collections::BTreeMap<String, TypeDef>,
    c: &crate::ir::Constraints,
) -> Result<bool, String> {
    // `default: null` says what absence means; an optional field already is `None`.
    if d.is_null() {
        return Ok(false);
    }
    let range = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("does not fit a Rust {what}"))
        }
    };
    match ty {
        TypeRef::Primitive(p) => {
            match p {
                Primitive::String => {
                    let Some(text) = d.as_str() else {
                        return Err("is not a string".into());
                    };
                    let len = text.chars().count() as u64;
                    if c.min_length.is_some_and(|m| len < m) {
                        return Err("is shorter than its minLength".into());
                    }
                    if c.max_length.is_some_and(|m| len > m) {
                        return Err("is longer than its maxLength".into());
                    }
                    if let Some(pattern) = &c.pattern {
                        if let Ok(re) = acl_policy::pattern::compile(pattern) {
                            if matches!(re.is_match(text), Ok(false)) {
                                return Err(format!("does not match its pattern /{pattern}/"));
                            }
                        }
                    }
                }
                Primitive::Bool if !d.is_boolean() => return Err("is not a boolean".into()),
                Primitive::Bool => {}
                Primitive::I8 | Primitive::I16 | Primitive::I32 | Primitive::I64 => {
                    let Some(i) = d.as_i64() else {
                        return Err("is not an integer a signed Rust type holds".into());
                    };
                    match p {
                        Primitive::I8 => range(i8::try_from(i).is_ok(), "i8")?,
                        Primitive::I16 => range(i16::try_from(i).is_ok(), "i16")?,
                        Primitive::I32 => range(i32::try_from(i).is_ok(), "i32 (int32)")?,
                        _ => {}
                    }
                }
                Primitive::U8 | Primitive::U16 | Primitive::U32 | Primitive::U64 => {
                    let Some(u) = d.as_u64() else {
                        return Err("is not an integer an unsigned Rust type holds".into());
                    };
                    match p {
                        Primitive::U8 => range(u8::try_from(u).is_ok(), "u8")?,
                        Primitive::U16 => range(u16::try_from(u).is_ok(), "u16")?,
                        Primitive::U32 => range(u32::try_from(u).is_ok(), "u32")?,
                        _ => {}
                    }
                }
                Primitive::F32 | Primitive::F64 => {
                    let Some(f) = d.as_f64() else {
                        return Err("is not a number".into());
                    };
                    if *p == Primitive::F32 {
                        range((f as f32).is_finite(), "f32 (float)")?;
                    }
                }
                _ => return Ok(false),
            }
            if let Some(n) = d.as_f64() {
                let num = |x: &crate::ir::Number| match x {
                    crate::ir::Number::Int(i) => *i as f64,
                    crate::ir::Number::Float(f) => *f,
                };
                if c.minimum.as_ref().is_some_and(|m| n < num(m))
                    || c.exclusive_minimum.as_ref().is_some_and(|m| n <= num(m))
                {
                    return Err("is below its minimum".into());
                }
                if c.maximum.as_ref().is_some_and(|m| n > num(m))
                    || c.exclusive_maximum.as_ref().is_some_and(|m| n >= num(m))
                {
                    return Err("is above its maximum".into());
                }
            }
            Ok(true)
        }
        TypeRef::Named(n) => match types.get(n).map(|t| &t.kind) {
            Some(TypeKind::Enum(e)) if e.variants.iter().any(|v| &v.value == d) => Ok(true),
            Some(TypeKind::Enum(_)) => Err("is not one of its enum values".into()),
            // A validated newtype: checked against its rules, not applied (as before).
            Some(TypeKind::Constrained { inner, constraints }) => {
                default_problem(d, inner, types, constraints).map(|_| false)
            }
            _ => Ok(false),
        },
        _ => Ok(false),
    }
}
