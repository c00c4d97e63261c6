//! Contract versioning for the client side: compares two versions of a contract on the
//! IR and says which changes break the generated layer, in both directions. A request
//! change breaks us when the provider starts requiring more than we send; a response
//! change breaks us when the provider may send what our types cannot read. The judgement
//! uses what acl generates: enums with a fallback take new values, unknown properties
//! are ignored, `Checked` types enforce constraints on what we receive (so a vendor
//! loosening a constraint breaks us, which a provider-side tool never reports).

pub mod rules;

pub use rules::{Rule, RULES};

use std::collections::{BTreeMap, HashSet};

use crate::ir::{
    Api, EnumDef, Field, Operation, Parameter, Primitive, Response, Status, StructDef, TypeDef,
    TypeKind, TypeRef,
};

/// How much a change matters to the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// May break, depending on use.
    Warning,
    /// The generated layer will fail against the new version.
    Breaking,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// A stable rule id (`response-property-became-nullable`).
    pub rule: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// The operation (`GET /pets/{id}`) or webhook it touches.
    pub subject: String,
    /// Where inside it (`response 200 body .owner.email`).
    pub location: String,
    /// JSON pointer in the old document, when there is one.
    pub old_pointer: Option<String>,
    /// JSON pointer in the new document, when there is one.
    pub new_pointer: Option<String>,
    /// What changed.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dir {
    /// What we send.
    Request,
    /// What we receive.
    Response,
}

struct Differ<'a> {
    old: &'a Api,
    new: &'a Api,
    out: Vec<Change>,
    seen: HashSet<(String, String, Dir)>,
}

fn path_key(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '{' => {
                depth += 1;
                out.push('{');
            }
            '}' => {
                depth -= 1;
                out.push('}');
            }
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

fn op_key(op: &Operation) -> String {
    format!(
        "{} {}",
        op.method.key().to_ascii_uppercase(),
        path_key(&op.path)
    )
}

fn subject(op: &Operation) -> String {
    format!("{} {}", op.method.key().to_ascii_uppercase(), op.path)
}

/// Follows aliases to what a reference means.
/// The inner type and rules of a constrained definition.
fn constrained(def: Option<&TypeDef>) -> Option<(&TypeRef, &crate::ir::Constraints)> {
    match &def?.kind {
        TypeKind::Constrained { inner, constraints } => Some((inner, constraints)),
        _ => None,
    }
}

/// Whether `def` is a constrained type around a value shaped like `other`.
fn wraps(def: Option<&TypeDef>, other: &TypeRef) -> bool {
    constrained(def).is_some_and(|(inner, _)| describe(inner) == describe(other))
}

fn resolve<'a>(api: &'a Api, mut t: &'a TypeRef) -> (&'a TypeRef, Option<&'a TypeDef>) {
    for _ in 0..32 {
        match t {
            TypeRef::Named(n) => match api.types.get(n) {
                Some(TypeDef {
                    kind: TypeKind::Alias(inner),
                    ..
                }) => t = inner,
                Some(def) => return (t, Some(def)),
                None => return (t, None),
            },
            _ => return (t, None),
        }
    }
    (t, None)
}

fn ptr(def: Option<&TypeDef>) -> Option<String> {
    def.map(|d| d.origin.pointer.clone())
}

fn describe(t: &TypeRef) -> String {
    match t {
        TypeRef::Named(n) => n.clone(),
        TypeRef::Primitive(p) => format!("{p:?}").to_lowercase(),
        TypeRef::List(i) => format!("[{}]", describe(i)),
        TypeRef::Map(i) => format!("{{string: {}}}", describe(i)),
        TypeRef::Nullable(i) => format!("{}?", describe(i)),
        TypeRef::Tuple(items) => format!(
            "({})",
            items.iter().map(describe).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn int_rank(p: Primitive) -> Option<u8> {
    Some(match p {
        Primitive::I8 | Primitive::U8 => 1,
        Primitive::I16 | Primitive::U16 => 2,
        Primitive::I32 | Primitive::U32 => 3,
        Primitive::I64 | Primitive::U64 => 4,
        _ => return None,
    })
}

impl<'a> Differ<'a> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: &'static str,
        severity: Severity,
        subject: &str,
        location: &str,
        old_pointer: Option<String>,
        new_pointer: Option<String>,
        message: String,
    ) {
        // Every rule is in the catalogue, at its severity (a new enum value is breaking
        // only for closed enums).
        debug_assert!(
            rules::rule_of(rule)
                .is_some_and(|r| r.severity == severity || r.id == "response-enum-value-added"),
            "`{rule}` at {severity:?} is not in the catalogue"
        );
        self.out.push(Change {
            rule,
            severity,
            subject: subject.to_string(),
            location: location.trim().to_string(),
            old_pointer,
            new_pointer,
            message,
        });
    }

    fn schema(&mut self, subj: &str, loc: &str, dir: Dir, o: &TypeRef, n: &TypeRef) {
        let (o, odef) = resolve(self.old, o);
        let (n, ndef) = resolve(self.new, n);
        let (op, np) = (ptr(odef), ptr(ndef));
        // Nullability.
        let (o_null, o) = match o {
            TypeRef::Nullable(i) => (true, &**i),
            t => (false, t),
        };
        let (n_null, n) = match n {
            TypeRef::Nullable(i) => (true, &**i),
            t => (false, t),
        };
        match (dir, o_null, n_null) {
            (Dir::Response, false, true) => self.push(
                "response-property-became-nullable",
                Severity::Breaking,
                subj,
                loc,
                op.clone(),
                np.clone(),
                "the value may now be null; the generated type does not accept null".into(),
            ),
            (Dir::Request, true, false) => self.push(
                "request-property-no-longer-nullable",
                Severity::Breaking,
                subj,
                loc,
                op.clone(),
                np.clone(),
                "null is no longer accepted for a value we may send as null".into(),
            ),
            _ => {}
        }
        let (o, odef) = resolve(self.old, o);
        let (n, ndef) = resolve(self.new, n);
        match (o, n) {
            (TypeRef::Named(on), TypeRef::Named(nn)) => {
                // Each pair of definitions is compared once per direction and operation
                // (recursion ends; a shared type is reported where it is first reached).
                if !self.seen.insert((on.clone(), nn.clone(), dir)) {
                    return;
                }
                let (Some(od), Some(nd)) = (odef, ndef) else {
                    return;
                };
                self.kinds(subj, loc, dir, od, nd);
            }
            // A plain value that gained rules (the new side a named constrained type
            // around the same value), or lost them.
            (_, TypeRef::Named(_)) if wraps(ndef, o) => {
                let Some((inner, rules)) = constrained(ndef) else {
                    return;
                };
                self.schema(subj, loc, dir, o, inner);
                self.rules_changed(subj, loc, dir, rules, true, op, np);
            }
            (TypeRef::Named(_), _) if wraps(odef, n) => {
                let Some((inner, rules)) = constrained(odef) else {
                    return;
                };
                self.schema(subj, loc, dir, inner, n);
                self.rules_changed(subj, loc, dir, rules, false, op, np);
            }
            (TypeRef::List(oi), TypeRef::List(ni)) => {
                self.schema(subj, &format!("{loc}[]"), dir, oi, ni)
            }
            (TypeRef::Map(oi), TypeRef::Map(ni)) => {
                self.schema(subj, &format!("{loc}{{}}"), dir, oi, ni)
            }
            (TypeRef::Primitive(a), TypeRef::Primitive(b)) if a == b => {}
            (TypeRef::Primitive(a), TypeRef::Primitive(b)) => {
                // Integers: what we receive may narrow, what we send may widen.
                let float = |p: &Primitive| matches!(p, Primitive::F32 | Primitive::F64);
                let fine = match (int_rank(*a), int_rank(*b), dir) {
                    (Some(x), Some(y), Dir::Response) => y <= x,
                    (Some(x), Some(y), Dir::Request) => y >= x,
                    // A number type reads integers; an integer we send is a number.
                    (None, Some(_), Dir::Response) => float(a),
                    (Some(_), None, Dir::Request) => float(b),
                    _ => matches!(b, Primitive::Any),
                };
                let (rule, sev) = match (dir, fine) {
                    (_, true) => ("type-changed-compatibly", Severity::Info),
                    (Dir::Response, false) => {
                        ("response-property-type-changed", Severity::Breaking)
                    }
                    (Dir::Request, false) => ("request-property-type-changed", Severity::Breaking),
                };
                self.push(
                    rule,
                    sev,
                    subj,
                    loc,
                    op,
                    np,
                    format!("type {} → {}", describe(o), describe(n)),
                );
            }
            _ => {
                let rule = match dir {
                    Dir::Response => "response-property-type-changed",
                    Dir::Request => "request-property-type-changed",
                };
                if describe(o) != describe(n)
                    || std::mem::discriminant(o) != std::mem::discriminant(n)
                {
                    self.push(
                        rule,
                        Severity::Breaking,
                        subj,
                        loc,
                        op,
                        np,
                        format!("type {} → {}", describe(o), describe(n)),
                    );
                }
            }
        }
    }

    fn kinds(&mut self, subj: &str, loc: &str, dir: Dir, od: &TypeDef, nd: &TypeDef) {
        let (op, np) = (
            Some(od.origin.pointer.clone()),
            Some(nd.origin.pointer.clone()),
        );
        // Value sets, whatever shape they took (an enum, or one value as a constant).
        if let (Some(a), Some(b)) = (value_set(od), value_set(nd)) {
            if !matches!((&od.kind, &nd.kind), (TypeKind::Enum(_), TypeKind::Enum(_))) {
                let open = matches!(&od.kind, TypeKind::Enum(e) if e.open);
                let added: Vec<String> = b
                    .iter()
                    .filter(|v| !a.contains(v))
                    .map(|v| v.to_string())
                    .collect();
                let removed: Vec<String> = a
                    .iter()
                    .filter(|v| !b.contains(v))
                    .map(|v| v.to_string())
                    .collect();
                self.value_changes(subj, loc, dir, open, &added, &removed, op, np);
                return;
            }
        }
        match (&od.kind, &nd.kind) {
            (TypeKind::Struct(a), TypeKind::Struct(b)) => {
                self.structs(subj, loc, dir, a, b, od, nd)
            }
            (TypeKind::Enum(a), TypeKind::Enum(b)) => self.enums(subj, loc, dir, a, b, od, nd),
            (
                TypeKind::Constrained {
                    inner: ai,
                    constraints: ac,
                },
                TypeKind::Constrained {
                    inner: bi,
                    constraints: bc,
                },
            ) => {
                self.schema(subj, loc, dir, ai, bi);
                self.constraints(subj, loc, dir, ac, bc, op, np);
            }
            (TypeKind::Union(a), TypeKind::Union(b)) => {
                let names = |u: &crate::ir::UnionDef| -> Vec<String> {
                    u.variants.iter().map(|v| describe(&v.ty)).collect()
                };
                let (an, bn) = (names(a), names(b));
                for v in bn.iter().filter(|v| !an.contains(v)) {
                    if dir == Dir::Response {
                        self.push(
                            "response-union-branch-added",
                            Severity::Breaking,
                            subj,
                            loc,
                            op.clone(),
                            np.clone(),
                            format!("a new kind of value `{v}` may be sent"),
                        );
                    }
                }
                for v in an.iter().filter(|v| !bn.contains(v)) {
                    if dir == Dir::Request {
                        self.push(
                            "request-union-branch-removed",
                            Severity::Breaking,
                            subj,
                            loc,
                            op.clone(),
                            np.clone(),
                            format!("`{v}` is no longer accepted"),
                        );
                    }
                }
            }
            (TypeKind::Constrained { inner, constraints }, _) => {
                // Constraints dropped: looser. Compare the shapes.
                let n = TypeRef::Named(nd.name.clone());
                self.schema(subj, loc, dir, inner, &n);
                self.rules_changed(subj, loc, dir, constraints, false, op, np);
            }
            (_, TypeKind::Constrained { inner, constraints }) => {
                let o = TypeRef::Named(od.name.clone());
                self.schema(subj, loc, dir, &o, inner);
                self.rules_changed(subj, loc, dir, constraints, true, op, np);
            }
            _ => {
                let rule = match dir {
                    Dir::Response => "response-property-type-changed",
                    Dir::Request => "request-property-type-changed",
                };
                self.push(
                    rule,
                    Severity::Breaking,
                    subj,
                    loc,
                    op,
                    np,
                    format!("`{}` changed kind", od.name),
                );
            }
        }
    }

    /// A value that gained rules (`added`) or lost them all. A new rule on what we send
    /// breaks our requests, and a dropped one on what we receive breaks our checks; the
    /// other two directions are compared rule by rule, as `constraints` does.
    #[allow(clippy::too_many_arguments)]
    fn rules_changed(
        &mut self,
        subj: &str,
        loc: &str,
        dir: Dir,
        rules: &crate::ir::Constraints,
        added: bool,
        op: Option<String>,
        np: Option<String>,
    ) {
        let none = crate::ir::Constraints::default();
        match (dir, added) {
            (Dir::Request, true) => self.push(
                "request-property-constraint-added",
                Severity::Breaking,
                subj,
                loc,
                op,
                np,
                "a new rule on a value we send".into(),
            ),
            (Dir::Response, false) => self.push(
                "response-constraint-loosened",
                Severity::Breaking,
                subj,
                loc,
                op,
                np,
                "the vendor dropped a rule our generated type enforces on what we receive".into(),
            ),
            (_, true) => self.constraints(subj, loc, dir, &none, rules, op, np),
            (_, false) => self.constraints(subj, loc, dir, rules, &none, op, np),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn constraints(
        &mut self,
        subj: &str,
        loc: &str,
        dir: Dir,
        a: &crate::ir::Constraints,
        b: &crate::ir::Constraints,
        op: Option<String>,
        np: Option<String>,
    ) {
        let num = |n: &Option<crate::ir::Number>| {
            n.as_ref().map(|n| match n {
                crate::ir::Number::Int(i) => *i as f64,
                crate::ir::Number::Float(f) => *f,
            })
        };
        // `tighter(old, new)` for upper bounds: new is lower, or new where there was none.
        let upper = |o: Option<f64>, n: Option<f64>| match (o, n) {
            (None, Some(_)) => Some(true),
            (Some(_), None) => Some(false),
            (Some(x), Some(y)) if y < x => Some(true),
            (Some(x), Some(y)) if y > x => Some(false),
            _ => None,
        };
        let lower = |o: Option<f64>, n: Option<f64>| match (o, n) {
            (None, Some(_)) => Some(true),
            (Some(_), None) => Some(false),
            (Some(x), Some(y)) if y > x => Some(true),
            (Some(x), Some(y)) if y < x => Some(false),
            _ => None,
        };
        let u = |v: Option<u64>| v.map(|v| v as f64);
        let checks: Vec<(&str, Option<bool>)> = vec![
            ("maxLength", upper(u(a.max_length), u(b.max_length))),
            ("minLength", lower(u(a.min_length), u(b.min_length))),
            ("maximum", upper(num(&a.maximum), num(&b.maximum))),
            ("minimum", lower(num(&a.minimum), num(&b.minimum))),
            (
                "exclusiveMaximum",
                upper(num(&a.exclusive_maximum), num(&b.exclusive_maximum)),
            ),
            (
                "exclusiveMinimum",
                lower(num(&a.exclusive_minimum), num(&b.exclusive_minimum)),
            ),
            ("maxItems", upper(u(a.max_items), u(b.max_items))),
            ("minItems", lower(u(a.min_items), u(b.min_items))),
            (
                "pattern",
                if a.pattern == b.pattern {
                    None
                } else {
                    Some(b.pattern.is_some())
                },
            ),
        ];
        for (keyword, change) in checks {
            let Some(tighter) = change else { continue };
            let (rule, sev, what) = match (dir, tighter) {
                (Dir::Request, true) => (
                    "request-property-constraint-tightened",
                    Severity::Breaking,
                    "tightened on a value we send",
                ),
                (Dir::Response, false) => (
                    "response-constraint-loosened",
                    Severity::Breaking,
                    "loosened on a value we receive and check",
                ),
                (Dir::Request, false) => (
                    "request-property-constraint-loosened",
                    Severity::Info,
                    "loosened on a value we send",
                ),
                (Dir::Response, true) => (
                    "response-constraint-tightened",
                    Severity::Info,
                    "tightened on a value we receive",
                ),
            };
            self.push(
                rule,
                sev,
                subj,
                loc,
                op.clone(),
                np.clone(),
                format!("`{keyword}` {what}"),
            );
        }
        if let (Some(av), Some(bv)) = (&a.enum_values, &b.enum_values) {
            let (added, removed) = (
                bv.iter().filter(|v| !av.contains(v)).count(),
                av.iter().filter(|v| !bv.contains(v)).count(),
            );
            if dir == Dir::Response && added > 0 {
                self.push(
                    "response-enum-value-added",
                    Severity::Breaking,
                    subj,
                    loc,
                    op.clone(),
                    np.clone(),
                    format!("{added} new value(s) the generated rule refuses"),
                );
            }
            if dir == Dir::Request && removed > 0 {
                self.push(
                    "request-enum-value-removed",
                    Severity::Breaking,
                    subj,
                    loc,
                    op,
                    np,
                    format!("{removed} value(s) no longer accepted"),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn enums(
        &mut self,
        subj: &str,
        loc: &str,
        dir: Dir,
        a: &EnumDef,
        b: &EnumDef,
        od: &TypeDef,
        nd: &TypeDef,
    ) {
        let (op, np) = (
            Some(od.origin.pointer.clone()),
            Some(nd.origin.pointer.clone()),
        );
        let added: Vec<String> = b
            .variants
            .iter()
            .filter(|v| !a.variants.iter().any(|w| w.value == v.value))
            .map(|v| v.value.to_string())
            .collect();
        let removed: Vec<String> = a
            .variants
            .iter()
            .filter(|v| !b.variants.iter().any(|w| w.value == v.value))
            .map(|v| v.value.to_string())
            .collect();
        self.value_changes(subj, loc, dir, a.open, &added, &removed, op, np);
    }

    #[allow(clippy::too_many_arguments)]
    fn value_changes(
        &mut self,
        subj: &str,
        loc: &str,
        dir: Dir,
        open: bool,
        added: &[String],
        removed: &[String],
        op: Option<String>,
        np: Option<String>,
    ) {
        if !added.is_empty() {
            match dir {
                // The generated enum keeps unknown values when it is open.
                Dir::Response if open => self.push(
                    "response-enum-value-added",
                    Severity::Warning,
                    subj,
                    loc,
                    op.clone(),
                    np.clone(),
                    format!("new value(s) {} arrive as `Unknown`", added.join(", ")),
                ),
                Dir::Response => self.push(
                    "response-enum-value-added",
                    Severity::Breaking,
                    subj,
                    loc,
                    op.clone(),
                    np.clone(),
                    format!(
                        "new value(s) {} are refused by the closed enum",
                        added.join(", ")
                    ),
                ),
                Dir::Request => self.push(
                    "request-enum-value-added",
                    Severity::Info,
                    subj,
                    loc,
                    op.clone(),
                    np.clone(),
                    format!("new value(s) {} may be sent", added.join(", ")),
                ),
            }
        }
        if !removed.is_empty() {
            match dir {
                Dir::Request => self.push(
                    "request-enum-value-removed",
                    Severity::Breaking,
                    subj,
                    loc,
                    op,
                    np,
                    format!("value(s) {} are no longer accepted", removed.join(", ")),
                ),
                Dir::Response => self.push(
                    "response-enum-value-removed",
                    Severity::Info,
                    subj,
                    loc,
                    op,
                    np,
                    format!("value(s) {} are no longer sent", removed.join(", ")),
                ),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn structs(
        &mut self,
        subj: &str,
        loc: &str,
        dir: Dir,
        a: &StructDef,
        b: &StructDef,
        od: &TypeDef,
        nd: &TypeDef,
    ) {
        let (op, np) = (
            Some(od.origin.pointer.clone()),
            Some(nd.origin.pointer.clone()),
        );
        let af: BTreeMap<&str, &Field> =
            a.fields.iter().map(|f| (f.wire_name.as_str(), f)).collect();
        let bf: BTreeMap<&str, &Field> =
            b.fields.iter().map(|f| (f.wire_name.as_str(), f)).collect();
        for (name, f) in &af {
            let floc = format!("{loc}.{name}");
            match bf.get(name) {
                None => match dir {
                    Dir::Response if f.required && !f.write_only => self.push(
                        "response-required-property-removed",
                        Severity::Breaking,
                        subj,
                        &floc,
                        op.clone(),
                        np.clone(),
                        "a property our type requires is gone".into(),
                    ),
                    Dir::Response => self.push(
                        "response-optional-property-removed",
                        Severity::Info,
                        subj,
                        &floc,
                        op.clone(),
                        np.clone(),
                        "an optional property is gone (reads as absent)".into(),
                    ),
                    Dir::Request => self.push(
                        "request-property-removed",
                        Severity::Warning,
                        subj,
                        &floc,
                        op.clone(),
                        np.clone(),
                        "we still send a property the vendor no longer lists".into(),
                    ),
                },
                Some(g) => {
                    match dir {
                        Dir::Response if f.required && !g.required && !g.write_only => self.push(
                            "response-property-became-optional",
                            Severity::Breaking,
                            subj,
                            &floc,
                            op.clone(),
                            np.clone(),
                            "may now be absent; our type requires it".into(),
                        ),
                        Dir::Request if !f.required && g.required && g.default.is_none() => self
                            .push(
                                "request-property-became-required",
                                Severity::Breaking,
                                subj,
                                &floc,
                                op.clone(),
                                np.clone(),
                                "now required; we may not send it".into(),
                            ),
                        _ => {}
                    }
                    if dir == Dir::Response && !f.nullable && g.nullable {
                        self.push(
                            "response-property-became-nullable",
                            Severity::Breaking,
                            subj,
                            &floc,
                            op.clone(),
                            np.clone(),
                            "may now be null; our type does not accept null".into(),
                        );
                    }
                    if dir == Dir::Request && f.nullable && !g.nullable {
                        self.push(
                            "request-property-no-longer-nullable",
                            Severity::Breaking,
                            subj,
                            &floc,
                            op.clone(),
                            np.clone(),
                            "null is no longer accepted".into(),
                        );
                    }
                    if f.default != g.default && f.default.is_some() {
                        self.push(
                            "property-default-changed",
                            Severity::Warning,
                            subj,
                            &floc,
                            op.clone(),
                            np.clone(),
                            format!(
                                "default {} → {}",
                                f.default
                                    .as_ref()
                                    .map(|v| v.to_string())
                                    .unwrap_or_default(),
                                g.default
                                    .as_ref()
                                    .map(|v| v.to_string())
                                    .unwrap_or("none".into())
                            ),
                        );
                    }
                    self.schema(subj, &floc, dir, &f.ty, &g.ty);
                }
            }
        }
        for (name, g) in &bf {
            if af.contains_key(name) {
                continue;
            }
            let floc = format!("{loc}.{name}");
            match dir {
                // A new required property with a default is filled in by the server.
                Dir::Request if g.required && g.default.is_none() && !g.read_only => self.push(
                    "new-required-request-property",
                    Severity::Breaking,
                    subj,
                    &floc,
                    op.clone(),
                    np.clone(),
                    "a new property we do not send is required".into(),
                ),
                Dir::Request => self.push(
                    "new-optional-request-property",
                    Severity::Info,
                    subj,
                    &floc,
                    op.clone(),
                    np.clone(),
                    "a new optional property".into(),
                ),
                // Unknown properties are ignored by generated types.
                Dir::Response => self.push(
                    "response-property-added",
                    Severity::Info,
                    subj,
                    &floc,
                    op.clone(),
                    np.clone(),
                    "a new property (ignored until regenerated)".into(),
                ),
            }
        }
    }

    fn parameters(&mut self, subj: &str, a: &[Parameter], b: &[Parameter]) {
        let key = |p: &Parameter| (p.location, p.name.to_ascii_lowercase());
        for p in a {
            let loc = format!("{:?} parameter {}", p.location, p.name).to_lowercase();
            match b.iter().find(|q| key(q) == key(p)) {
                None => {
                    let moved = b.iter().any(|q| q.name.eq_ignore_ascii_case(&p.name));
                    if moved {
                        self.push(
                            "request-parameter-location-changed",
                            Severity::Breaking,
                            subj,
                            &loc,
                            None,
                            None,
                            "the parameter moved; we send it in the old place".into(),
                        );
                    } else {
                        self.push(
                            "request-parameter-removed",
                            Severity::Warning,
                            subj,
                            &loc,
                            None,
                            None,
                            "we still send a parameter the vendor no longer lists".into(),
                        );
                    }
                }
                Some(q) => {
                    if !p.required && q.required {
                        self.push(
                            "request-parameter-became-required",
                            Severity::Breaking,
                            subj,
                            &loc,
                            None,
                            None,
                            "now required; we may not send it".into(),
                        );
                    }
                    if p.style != q.style || p.explode != q.explode {
                        self.push(
                            "request-parameter-style-changed",
                            Severity::Breaking,
                            subj,
                            &loc,
                            None,
                            None,
                            format!(
                                "serialised as {}/{} → {}/{}",
                                p.style, p.explode, q.style, q.explode
                            ),
                        );
                    }
                    self.schema(subj, &loc, Dir::Request, &p.ty, &q.ty);
                }
            }
        }
        for q in b.iter().filter(|q| !a.iter().any(|p| key(p) == key(q))) {
            let loc = format!("{:?} parameter {}", q.location, q.name).to_lowercase();
            if a.iter().any(|p| p.name.eq_ignore_ascii_case(&q.name)) {
                continue;
            }
            if q.required {
                self.push(
                    "new-required-request-parameter",
                    Severity::Breaking,
                    subj,
                    &loc,
                    None,
                    None,
                    "a new required parameter we do not send".into(),
                );
            } else {
                self.push(
                    "new-optional-request-parameter",
                    Severity::Info,
                    subj,
                    &loc,
                    None,
                    None,
                    "a new optional parameter".into(),
                );
            }
        }
    }

    fn json(contents: &[crate::ir::Content]) -> Option<&crate::ir::Content> {
        contents
            .iter()
            .find(|c| c.media_type.contains("json"))
            .or_else(|| contents.first())
    }

    fn responses(&mut self, subj: &str, a: &[Response], b: &[Response]) {
        // What the consumer decodes as success, by the rule the client is generated with.
        let success = |all: &[Response], r: &Response| {
            crate::ir::response_role(all, r) == crate::ir::ResponseRole::Success
        };
        for r in a {
            let loc = format!("response {}", status_text(&r.status));
            match b.iter().find(|q| q.status == r.status) {
                None if success(a, r) => self.push(
                    "response-success-status-removed",
                    Severity::Breaking,
                    subj,
                    &loc,
                    None,
                    None,
                    "a success status we decode is gone".into(),
                ),
                None => self.push(
                    "response-non-success-status-removed",
                    Severity::Info,
                    subj,
                    &loc,
                    None,
                    None,
                    "an error status is no longer documented".into(),
                ),
                Some(q) => {
                    for c in &r.contents {
                        if !q.contents.iter().any(|d| d.media_type == c.media_type) {
                            self.push(
                                "response-media-type-removed",
                                Severity::Breaking,
                                subj,
                                &loc,
                                None,
                                None,
                                format!("`{}` is no longer sent", c.media_type),
                            );
                        }
                    }
                    for h in &r.headers {
                        match q
                            .headers
                            .iter()
                            .find(|g| g.name.eq_ignore_ascii_case(&h.name))
                        {
                            None if h.required => self.push(
                                "response-required-header-removed",
                                Severity::Breaking,
                                subj,
                                &format!("{loc} header {}", h.name),
                                None,
                                None,
                                "a header our type requires is gone".into(),
                            ),
                            Some(g) if h.required && !g.required => self.push(
                                "response-header-became-optional",
                                Severity::Breaking,
                                subj,
                                &format!("{loc} header {}", h.name),
                                None,
                                None,
                                "may now be absent".into(),
                            ),
                            _ => {}
                        }
                    }
                    if let (Some(oc), Some(nc)) = (Self::json(&r.contents), Self::json(&q.contents))
                    {
                        if let (Some(ot), Some(nt)) = (&oc.ty, &nc.ty) {
                            self.schema(subj, &format!("{loc} body"), Dir::Response, ot, nt);
                        }
                    }
                }
            }
        }
        let covered = |s: &Status| {
            a.iter().any(|r| match (&r.status, s) {
                (x, y) if x == y => true,
                (Status::Range(d), Status::Code(c)) => *c / 100 == *d as u16,
                (Status::Default, _) => true,
                _ => false,
            })
        };
        for q in b.iter().filter(|q| !a.iter().any(|r| r.status == q.status)) {
            let loc = format!("response {}", status_text(&q.status));
            if covered(&q.status) {
                continue;
            }
            if success(b, q) {
                self.push("response-success-status-added", Severity::Breaking, subj, &loc, None, None, "a new success status our response enum has no variant for (read as invalid data)".into());
            } else {
                self.push(
                    "response-non-success-status-added",
                    Severity::Warning,
                    subj,
                    &loc,
                    None,
                    None,
                    "a new error status: an `UndocumentedStatus` error until regenerated".into(),
                );
            }
        }
    }

    fn operation(&mut self, a: &Operation, b: &Operation) {
        let first = self.out.len();
        self.operation_changes(a, b);
        // Changes that sit on no definition of their own point at the operations.
        for c in &mut self.out[first..] {
            c.old_pointer
                .get_or_insert_with(|| a.origin.pointer.clone());
            c.new_pointer
                .get_or_insert_with(|| b.origin.pointer.clone());
        }
    }

    fn operation_changes(&mut self, a: &Operation, b: &Operation) {
        let subj = subject(b);
        if !a.docs.deprecated && b.docs.deprecated {
            self.push(
                "api-deprecated",
                Severity::Warning,
                &subj,
                "",
                Some(a.origin.pointer.clone()),
                Some(b.origin.pointer.clone()),
                "the operation is deprecated".into(),
            );
        }
        if a.id != b.id && a.has_operation_id && b.has_operation_id {
            self.push(
                "api-operation-id-changed",
                Severity::Warning,
                &subj,
                "",
                Some(a.origin.pointer.clone()),
                Some(b.origin.pointer.clone()),
                format!("`{}` → `{}`: the generated method is renamed", a.id, b.id),
            );
        }
        if a.security != b.security {
            self.push(
                "api-security-changed",
                Severity::Warning,
                &subj,
                "",
                Some(a.origin.pointer.clone()),
                Some(b.origin.pointer.clone()),
                "the operation's security requirements changed".into(),
            );
        }
        self.parameters(&subj, &a.parameters, &b.parameters);
        match (&a.request_body, &b.request_body) {
            (None, Some(nb)) if nb.required => self.push(
                "new-required-request-body",
                Severity::Breaking,
                &subj,
                "request body",
                None,
                None,
                "a body we do not send is now required".into(),
            ),
            (Some(ob), Some(nb)) => {
                if !ob.required && nb.required {
                    self.push(
                        "request-body-became-required",
                        Severity::Breaking,
                        &subj,
                        "request body",
                        None,
                        None,
                        "the body is now required".into(),
                    );
                }
                for c in &ob.contents {
                    if !nb.contents.iter().any(|d| d.media_type == c.media_type) {
                        self.push(
                            "request-body-media-type-removed",
                            Severity::Breaking,
                            &subj,
                            "request body",
                            None,
                            None,
                            format!("`{}` is no longer accepted", c.media_type),
                        );
                    }
                }
                if let (Some(oc), Some(nc)) = (Self::json(&ob.contents), Self::json(&nb.contents)) {
                    if let (Some(ot), Some(nt)) = (&oc.ty, &nc.ty) {
                        self.schema(&subj, "request body", Dir::Request, ot, nt);
                    }
                }
            }
            _ => {}
        }
        self.responses(&subj, &a.responses, &b.responses);
        // Callbacks: requests the vendor sends us, their bodies judged like responses.
        for (name, ops) in &a.callbacks {
            let Some((_, new_ops)) = b.callbacks.iter().find(|(n, _)| n == name) else {
                self.push(
                    "callback-removed",
                    Severity::Warning,
                    &subj,
                    &format!("callback {name}"),
                    None,
                    None,
                    "the vendor no longer documents this callback".into(),
                );
                continue;
            };
            for o in ops {
                if let Some(n) = new_ops
                    .iter()
                    .find(|n| n.method == o.method && n.path == o.path)
                {
                    self.payload(&subj, &format!("callback {name} {}", o.path), o, n);
                }
            }
        }
    }

    /// The body of a request the vendor sends us (webhook, callback), judged as a response.
    fn payload(&mut self, subj: &str, loc: &str, a: &Operation, b: &Operation) {
        if let (Some(ob), Some(nb)) = (&a.request_body, &b.request_body) {
            if let (Some(oc), Some(nc)) = (Self::json(&ob.contents), Self::json(&nb.contents)) {
                if let (Some(ot), Some(nt)) = (&oc.ty, &nc.ty) {
                    self.schema(subj, loc, Dir::Response, ot, nt);
                }
            }
        }
    }

    fn run(&mut self) {
        let old_ops: BTreeMap<String, &Operation> =
            self.old.operations.iter().map(|o| (op_key(o), o)).collect();
        let new_ops: BTreeMap<String, &Operation> =
            self.new.operations.iter().map(|o| (op_key(o), o)).collect();
        for (k, a) in &old_ops {
            match new_ops.get(k) {
                Some(b) => {
                    // Each operation compares its own types afresh.
                    self.seen.clear();
                    self.operation(a, b)
                }
                None if a.docs.deprecated => self.push(
                    "api-removed-with-deprecation",
                    Severity::Warning,
                    &subject(a),
                    "",
                    Some(a.origin.pointer.clone()),
                    None,
                    "removed after being deprecated".into(),
                ),
                None => self.push(
                    "api-path-removed-without-deprecation",
                    Severity::Breaking,
                    &subject(a),
                    "",
                    Some(a.origin.pointer.clone()),
                    None,
                    "removed without being deprecated first".into(),
                ),
            }
        }
        for (k, b) in &new_ops {
            if !old_ops.contains_key(k) {
                self.push(
                    "endpoint-added",
                    Severity::Info,
                    &subject(b),
                    "",
                    None,
                    Some(b.origin.pointer.clone()),
                    "a new operation (generated on the next run)".into(),
                );
            }
        }
        // Webhooks: their payloads are what we receive.
        for a in &self.old.webhooks {
            let subj = format!("webhook {}", a.path);
            match self
                .new
                .webhooks
                .iter()
                .find(|b| b.path == a.path && b.method == a.method)
            {
                None => self.push(
                    "webhook-removed",
                    Severity::Warning,
                    &subj,
                    "",
                    Some(a.origin.pointer.clone()),
                    None,
                    "the vendor no longer documents this event".into(),
                ),
                Some(b) => {
                    self.seen.clear();
                    self.payload(&subj, "payload", a, b);
                }
            }
        }
        let urls = |api: &Api| {
            api.servers
                .iter()
                .map(|s| s.url.clone())
                .collect::<Vec<_>>()
        };
        if urls(self.old) != urls(self.new) {
            self.push(
                "servers-changed",
                Severity::Warning,
                "servers",
                "",
                Some("/servers".into()),
                Some("/servers".into()),
                format!("{:?} → {:?}", urls(self.old), urls(self.new)),
            );
        }
        if self.old.security != self.new.security {
            self.push(
                "api-security-changed",
                Severity::Warning,
                "security",
                "",
                Some("/security".into()),
                Some("/security".into()),
                "the document's security requirements changed".into(),
            );
        }
    }
}

/// The values a definition allows, when it lists them.
fn value_set(def: &TypeDef) -> Option<Vec<serde_json::Value>> {
    match &def.kind {
        TypeKind::Enum(e) => Some(e.variants.iter().map(|v| v.value.clone()).collect()),
        TypeKind::Constrained { constraints, .. } => constraints
            .enum_values
            .clone()
            .or_else(|| constraints.const_value.clone().map(|v| vec![v])),
        _ => None,
    }
}

fn status_text(s: &Status) -> String {
    match s {
        Status::Code(c) => c.to_string(),
        Status::Range(d) => format!("{d}XX"),
        Status::Default => "default".into(),
    }
}

/// Every change from `old` to `new`, most severe first, then in contract order.
pub fn compare(old: &Api, new: &Api) -> Vec<Change> {
    let mut d = Differ {
        old,
        new,
        out: Vec::new(),
        seen: HashSet::new(),
    };
    d.run();
    let mut out = d.out;
    out.dedup();
    out.sort_by_key(|c| std::cmp::Reverse(c.severity));
    out
}

/// The report as text, JSON or Markdown.
pub fn render(changes: &[Change], format: &str) -> String {
    let count = |s: Severity| changes.iter().filter(|c| c.severity == s).count();
    let summary = format!(
        "{} breaking, {} warning, {} info",
        count(Severity::Breaking),
        count(Severity::Warning),
        count(Severity::Info)
    );
    match format {
        "json" => serde_json::to_string_pretty(changes).unwrap_or_default() + "\n",
        "markdown" => {
            let mut s = format!(
                "**{summary}**\n\n| severity | rule | where | change |\n|---|---|---|---|\n"
            );
            for c in changes {
                s.push_str(&format!(
                    "| {:?} | `{}` | {} {} | {} |\n",
                    c.severity,
                    c.rule,
                    c.subject,
                    c.location,
                    c.message.replace('|', "\\|")
                ));
            }
            s
        }
        _ => {
            let mut s = String::new();
            for c in changes {
                let sev = match c.severity {
                    Severity::Breaking => "breaking",
                    Severity::Warning => "warning",
                    Severity::Info => "info",
                };
                s.push_str(&format!(
                    "{sev}[{}]: {} {}: {}\n",
                    c.rule, c.subject, c.location, c.message
                ));
                if let Some(p) = c.new_pointer.as_ref().or(c.old_pointer.as_ref()) {
                    s.push_str(&format!("  --> #{p}\n"));
                }
            }
            s.push_str(&summary);
            s.push('\n');
            s
        }
    }
}
