//! Generating only what you use: keep the operations selected by tag, operationId or
//! path prefix, and only the types they reach (through parameters, bodies, response
//! bodies and headers, callbacks, and the types those types mention). Webhooks are
//! kept whole: they are what the vendor sends, whichever calls we make.

use std::collections::BTreeSet;

use crate::ir::{Additional, Api, Operation, TypeKind, TypeRef};

/// Which operations to keep. Empty selects everything; otherwise an operation is kept
/// when any selector matches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subset {
    /// Operations with one of these tags.
    pub tags: Vec<String>,
    /// Operations with one of these ids (the contract's `operationId`, or the
    /// derived one).
    pub operations: Vec<String>,
    /// Operations whose path starts with one of these.
    pub path_prefixes: Vec<String>,
}

impl Subset {
    /// Whether nothing is selected (everything is kept).
    pub fn is_all(&self) -> bool {
        self.tags.is_empty() && self.operations.is_empty() && self.path_prefixes.is_empty()
    }

    fn keeps(&self, op: &Operation) -> bool {
        op.tags.iter().any(|t| self.tags.contains(t))
            || self.operations.contains(&op.id)
            || self
                .path_prefixes
                .iter()
                .any(|p| op.path.starts_with(p.as_str()))
    }
}

pub(crate) fn mentioned(t: &TypeRef, out: &mut Vec<String>) {
    match t {
        TypeRef::Named(n) => out.push(n.clone()),
        TypeRef::Nullable(i) | TypeRef::List(i) | TypeRef::Map(i) => mentioned(i, out),
        TypeRef::Tuple(items) => items.iter().for_each(|i| mentioned(i, out)),
        TypeRef::Primitive(_) => {}
    }
}

/// The named types an operation mentions directly, callbacks included.
pub(crate) fn operation_roots(op: &Operation, out: &mut Vec<String>) {
    own_roots(op, out);
    for (_, ops) in &op.callbacks {
        ops.iter().for_each(|o| operation_roots(o, out));
    }
}

/// The named types an operation's own method mentions: parameters, body, responses.
pub(crate) fn own_roots(op: &Operation, out: &mut Vec<String>) {
    for p in &op.parameters {
        mentioned(&p.ty, out);
    }
    for c in op.request_body.iter().flat_map(|b| &b.contents) {
        if let Some(t) = &c.ty {
            mentioned(t, out);
        }
    }
    for r in &op.responses {
        for c in &r.contents {
            if let Some(t) = &c.ty {
                mentioned(t, out);
            }
        }
        for h in &r.headers {
            mentioned(&h.ty, out);
        }
    }
}

/// Keeps the selected operations and the types they reach. Returns the selectors that
/// matched nothing (each with the closest existing name, when there is one).
pub fn apply(api: &mut Api, subset: &Subset) -> Vec<(String, Option<String>)> {
    if subset.is_all() {
        return Vec::new();
    }
    let mut unmatched = Vec::new();
    let tags: BTreeSet<&str> = api
        .operations
        .iter()
        .flat_map(|o| o.tags.iter().map(String::as_str))
        .collect();
    let tags: Vec<&str> = tags.into_iter().collect();
    let ids: Vec<&str> = api.operations.iter().map(|o| o.id.as_str()).collect();
    for t in &subset.tags {
        if !tags.contains(&t.as_str()) {
            unmatched.push((
                format!("tag `{t}`"),
                acl_policy::closest(t, &tags).map(str::to_string),
            ));
        }
    }
    for id in &subset.operations {
        if !ids.contains(&id.as_str()) {
            unmatched.push((
                format!("operation `{id}`"),
                acl_policy::closest(id, &ids).map(str::to_string),
            ));
        }
    }
    for p in &subset.path_prefixes {
        if !api
            .operations
            .iter()
            .any(|o| o.path.starts_with(p.as_str()))
        {
            unmatched.push((format!("path prefix `{p}`"), None));
        }
    }
    api.operations.retain(|op| subset.keeps(op));

    let mut todo = Vec::new();
    api.operations
        .iter()
        .for_each(|o| operation_roots(o, &mut todo));
    api.webhooks
        .iter()
        .for_each(|o| operation_roots(o, &mut todo));
    if let Some(root) = &api.root {
        mentioned(root, &mut todo);
    }
    let reached = reach(api, todo);
    api.types.retain(|name, _| reached.contains(name));
    unmatched
}

/// Every named type reachable from `todo` through the definitions of `api`.
pub(crate) fn reach(api: &Api, mut todo: Vec<String>) -> BTreeSet<String> {
    let mut reached = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !reached.insert(name.clone()) {
            continue;
        }
        let Some(def) = api.types.get(&name) else {
            continue;
        };
        match &def.kind {
            TypeKind::Struct(s) => {
                s.fields.iter().for_each(|f| mentioned(&f.ty, &mut todo));
                if let Additional::Typed(t) = &s.additional {
                    mentioned(t, &mut todo);
                }
            }
            TypeKind::Union(u) => u.variants.iter().for_each(|v| mentioned(&v.ty, &mut todo)),
            TypeKind::Alias(t) | TypeKind::Constrained { inner: t, .. } => mentioned(t, &mut todo),
            TypeKind::Enum(_) => {}
        }
    }
    reached
}
