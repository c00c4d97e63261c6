//! Which references close a cycle of by-value containment (and need a `Box`), and which
//! type aliases refer to themselves (and need to be newtypes).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ir::{Additional, TypeDef, TypeKind, TypeRef};

/// Named types referenced by value (not behind a `Vec` or map) from `t`.
fn by_value(t: &TypeRef, out: &mut Vec<String>) {
    match t {
        TypeRef::Named(n) => out.push(n.clone()),
        TypeRef::Nullable(inner) => by_value(inner, out),
        TypeRef::Tuple(items) => items.iter().for_each(|i| by_value(i, out)),
        TypeRef::List(_) | TypeRef::Map(_) | TypeRef::Primitive(_) => {}
    }
}

/// Every named type mentioned in `t`.
fn mentioned(t: &TypeRef, out: &mut Vec<String>) {
    match t {
        TypeRef::Named(n) => out.push(n.clone()),
        TypeRef::Nullable(i) | TypeRef::List(i) | TypeRef::Map(i) => mentioned(i, out),
        TypeRef::Tuple(items) => items.iter().for_each(|i| mentioned(i, out)),
        TypeRef::Primitive(_) => {}
    }
}

fn is_alias(def: &TypeDef) -> bool {
    matches!(def.kind, TypeKind::Alias(_) | TypeKind::Constrained { .. })
}

/// Strongly connected components (Tarjan, iterative), as a component index per node.
fn components(nodes: &[String], edges: &HashMap<String, Vec<String>>) -> HashMap<String, usize> {
    let index_of: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let n = nodes.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comp = vec![usize::MAX; n];
    let mut next_index = 0;
    let mut next_comp = 0;
    let succ: Vec<Vec<usize>> = nodes
        .iter()
        .map(|node| {
            edges
                .get(node)
                .map(|es| {
                    es.iter()
                        .filter_map(|e| index_of.get(e.as_str()).copied())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(start, 0)];
        index[start] = next_index;
        low[start] = next_index;
        next_index += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i < succ[v].len() {
                let w = succ[v][*i];
                *i += 1;
                if index[w] == usize::MAX {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp[w] = next_comp;
                        if w == v {
                            break;
                        }
                    }
                    next_comp += 1;
                }
            }
        }
    }
    nodes.iter().cloned().zip(comp).collect()
}

/// What the emitter needs to know about cycles.
#[derive(Debug, Default)]
pub struct Cycles {
    /// Component of each type in the by-value graph; a reference from `a` to `b` by
    /// value needs a `Box` when both are in one component.
    component: HashMap<String, usize>,
    /// Type aliases that must be emitted as newtypes (they refer to themselves).
    pub newtype_aliases: BTreeSet<String>,
}

impl Cycles {
    /// Analyses the named types.
    pub fn new(types: &BTreeMap<String, TypeDef>) -> Self {
        let nodes: Vec<String> = types.keys().cloned().collect();
        // Aliases that mention themselves through other aliases cannot be `type` items.
        let mut alias_edges: HashMap<String, Vec<String>> = HashMap::new();
        for (name, def) in types {
            if !is_alias(def) {
                continue;
            }
            let mut out = Vec::new();
            match &def.kind {
                TypeKind::Alias(t) | TypeKind::Constrained { inner: t, .. } => {
                    mentioned(t, &mut out)
                }
                _ => {}
            }
            out.retain(|n| types.get(n).is_some_and(is_alias));
            alias_edges.insert(name.clone(), out);
        }
        let alias_comp = components(&nodes, &alias_edges);
        let mut comp_size: HashMap<usize, usize> = HashMap::new();
        for c in alias_comp.values() {
            *comp_size.entry(*c).or_default() += 1;
        }
        let mut newtype_aliases = BTreeSet::new();
        for (name, es) in &alias_edges {
            let c = alias_comp[name];
            if comp_size[&c] > 1 || es.contains(name) {
                newtype_aliases.insert(name.clone());
            }
        }

        let mut edges: HashMap<String, Vec<String>> = HashMap::new();
        for (name, def) in types {
            let mut out = Vec::new();
            match &def.kind {
                TypeKind::Struct(s) => {
                    for f in &s.fields {
                        by_value(&f.ty, &mut out);
                    }
                    if let Additional::Typed(t) = &s.additional {
                        by_value(t, &mut out);
                    }
                }
                TypeKind::Union(u) => u.variants.iter().for_each(|v| by_value(&v.ty, &mut out)),
                TypeKind::Alias(t) | TypeKind::Constrained { inner: t, .. } => {
                    by_value(t, &mut out)
                }
                TypeKind::Enum(_) => {}
            }
            edges.insert(name.clone(), out);
        }
        let component = components(&nodes, &edges);
        Self {
            component,
            newtype_aliases,
        }
    }

    /// Whether a by-value reference from `from` to `to` needs a `Box`.
    pub fn needs_box(&self, from: &str, to: &str) -> bool {
        match (self.component.get(from), self.component.get(to)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}
