//! `--features-per-tag`: each tag's operations, and the types only they reach, behind a
//! Cargo feature named after the tag (`issues`), so that a crate generated from a large
//! contract compiles only what its user turns on. Shared types (reached by operations
//! of several features, by webhooks, callbacks or nothing) are always compiled; an
//! operation with several tags compiles when any of its features is on; untagged
//! operations sit in `untagged`; `all` (the default) turns every feature on.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::Api;
use crate::subset::{operation_roots, own_roots, reach};

/// The feature of operations without a tag.
pub const UNTAGGED: &str = "untagged";

/// Which feature (if any) gates each operation and type.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    /// Every feature, sorted.
    pub features: Vec<String>,
    /// Per operation (in `api.operations` order): its features.
    ops: Vec<Vec<String>>,
    /// Types compiled only with one feature.
    types: BTreeMap<String, String>,
}

/// A tag's feature name: snake case, never a name Cargo or the crate reserves.
fn feature_name(tag: &str, taken: &mut BTreeSet<String>) -> String {
    let mut name = tag.to_snake_case();
    name.retain(|c| c.is_ascii_alphanumeric() || c == '_');
    if name.is_empty()
        || name.starts_with(|c: char| c.is_ascii_digit())
        || ["default", "all", UNTAGGED].contains(&name.as_str())
    {
        name = format!("tag_{name}");
    }
    let mut unique = name.clone();
    let mut n = 2;
    while !taken.insert(unique.clone()) {
        unique = format!("{name}_{n}");
        n += 1;
    }
    unique
}

impl Gates {
    /// The gates of `api`'s operations and types.
    pub fn new(api: &Api) -> Self {
        let mut taken = BTreeSet::new();
        let tags: BTreeSet<&str> = api
            .operations
            .iter()
            .flat_map(|o| o.tags.iter().map(String::as_str))
            .collect();
        let by_tag: BTreeMap<&str, String> = tags
            .into_iter()
            .map(|t| (t, feature_name(t, &mut taken)))
            .collect();
        let ops: Vec<Vec<String>> = api
            .operations
            .iter()
            .map(|o| {
                let mut f: Vec<String> =
                    o.tags.iter().map(|t| by_tag[t.as_str()].clone()).collect();
                if f.is_empty() {
                    f.push(UNTAGGED.to_string());
                }
                f.sort();
                f.dedup();
                f
            })
            .collect();
        let mut features: BTreeSet<String> = by_tag.values().cloned().collect();
        if ops.iter().any(|f| f == &[UNTAGGED]) {
            features.insert(UNTAGGED.to_string());
        }
        // Which features reach each type.
        let mut reached_by: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (op, f) in api.operations.iter().zip(&ops) {
            let mut roots = Vec::new();
            own_roots(op, &mut roots);
            for t in reach(api, roots) {
                reached_by
                    .entry(t)
                    .or_default()
                    .extend(f.iter().map(String::as_str));
            }
        }
        // Always compiled: what webhooks, callbacks and the root schema reach, types no
        // operation reaches, and everything those mention.
        let mut roots = Vec::new();
        api.webhooks
            .iter()
            .for_each(|w| operation_roots(w, &mut roots));
        for op in &api.operations {
            for (_, cbs) in &op.callbacks {
                cbs.iter().for_each(|c| operation_roots(c, &mut roots));
            }
        }
        if let Some(root) = &api.root {
            crate::subset::mentioned(root, &mut roots);
        }
        roots.extend(
            api.types
                .keys()
                .filter(|t| !reached_by.contains_key(*t))
                .cloned(),
        );
        let always = reach(api, roots);
        // A type reached by one feature only (and by nothing always compiled) is gated
        // by it; every type it mentions is reached by at least the same operations.
        let types = reached_by
            .into_iter()
            .filter(|(t, f)| f.len() == 1 && !always.contains(t))
            .map(|(t, f)| (t, f.into_iter().next().unwrap_or_default().to_string()))
            .collect();
        Self {
            features: features.into_iter().collect(),
            ops,
            types,
        }
    }

    /// The `#[cfg(...)]` of operation `index`.
    pub fn op(&self, index: usize) -> TokenStream {
        match self.ops.get(index).map(Vec::as_slice) {
            Some([one]) => quote!(#[cfg(feature = #one)]),
            Some(many) if !many.is_empty() => quote!(#[cfg(any(#(feature = #many),*))]),
            _ => TokenStream::new(),
        }
    }

    /// The `#[cfg(...)]` of type `name`, if it is gated.
    pub fn ty(&self, name: &str) -> Option<TokenStream> {
        self.types.get(name).map(|f| quote!(#[cfg(feature = #f)]))
    }

    /// The `[features]` section of the generated crate's `Cargo.toml`.
    pub fn cargo_section(&self) -> String {
        let quoted: Vec<String> = self.features.iter().map(|f| format!("{f:?}")).collect();
        let mut out = format!(
            "\n[features]\ndefault = [\"all\"]\nall = [{}]\n",
            quoted.join(", ")
        );
        for f in &self.features {
            out.push_str(&format!("{f} = []\n"));
        }
        out
    }
}

/// `tokens` (items) with `attr` on each item.
pub fn gate_items(tokens: TokenStream, attr: &TokenStream) -> Result<TokenStream, String> {
    if attr.is_empty() {
        return Ok(tokens);
    }
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| e.to_string())?;
    let attrs = syn::parse::Parser::parse2(syn::Attribute::parse_outer, attr.clone())
        .map_err(|e| e.to_string())?;
    for item in &mut file.items {
        if let Some(a) = item_attrs(item) {
            a.splice(0..0, attrs.iter().cloned());
        }
    }
    let items = file.items;
    Ok(quote!(#(#items)*))
}

fn item_attrs(item: &mut syn::Item) -> Option<&mut Vec<syn::Attribute>> {
    use syn::Item;
    Some(match item {
        Item::Const(i) => &mut i.attrs,
        Item::Enum(i) => &mut i.attrs,
        Item::Fn(i) => &mut i.attrs,
        Item::Impl(i) => &mut i.attrs,
        Item::Mod(i) => &mut i.attrs,
        Item::Static(i) => &mut i.attrs,
        Item::Struct(i) => &mut i.attrs,
        Item::Trait(i) => &mut i.attrs,
        Item::Type(i) => &mut i.attrs,
        Item::Union(i) => &mut i.attrs,
        Item::Use(i) => &mut i.attrs,
        Item::Macro(i) => &mut i.attrs,
        _ => return None,
    })
}
