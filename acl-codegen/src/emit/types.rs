//! Boundary types: structs, enums, unions, validated values and aliases.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use super::docs::doc_attrs;
use super::graph::Cycles;
use super::EmitOptions;
use crate::ir::{
    Additional, Api, Constraints, EnumDef, EnumRepr, Number, Primitive, StructDef, TypeDef,
    TypeKind, TypeRef, UnionDef,
};

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// Paths generated code uses.
struct Paths {
    rt: TokenStream,
    private: TokenStream,
    serde: TokenStream,
    serde_crate: String,
}

impl Paths {
    fn new() -> Self {
        // Short paths through one `use` at the top of the module: a large contract
        // emits these paths hundreds of thousands of times.
        Self {
            rt: quote!(::acl_runtime::__private),
            private: quote!(__acl),
            serde: quote!(__acl::serde),
            serde_crate: "__acl::serde".into(),
        }
    }
}

/// The Rust type of a primitive; `rt` and `private` are the paths to `acl_runtime`
/// and its `__private` module.
pub(crate) fn prim_type(p: Primitive, rt: &TokenStream, private: &TokenStream) -> TokenStream {
    match p {
        Primitive::String => quote!(::std::string::String),
        Primitive::DateTime => {
            quote!(#private::chrono::DateTime<#private::chrono::FixedOffset>)
        }
        Primitive::Date => quote!(#private::chrono::NaiveDate),
        Primitive::Uuid => quote!(#private::uuid::Uuid),
        Primitive::Uri => quote!(#private::url::Url),
        Primitive::Ipv4 => quote!(::std::net::Ipv4Addr),
        Primitive::Ipv6 => quote!(::std::net::Ipv6Addr),
        Primitive::Bytes => quote!(#rt::Base64Bytes),
        Primitive::I8 => quote!(i8),
        Primitive::I16 => quote!(i16),
        Primitive::I32 => quote!(i32),
        Primitive::I64 => quote!(i64),
        Primitive::U8 => quote!(u8),
        Primitive::U16 => quote!(u16),
        Primitive::U32 => quote!(u32),
        Primitive::U64 => quote!(u64),
        Primitive::F32 => quote!(f32),
        Primitive::F64 => quote!(f64),
        Primitive::Bool => quote!(bool),
        Primitive::Null => quote!(()),
        Primitive::Any => quote!(#private::serde_json::Value),
        Primitive::Object => {
            quote!(#private::serde_json::Map<::std::string::String, #private::serde_json::Value>)
        }
        Primitive::Never => quote!(#rt::Never),
    }
}

/// The Rust type of `t`; `named(name, direct)` renders a named type (`direct`: not
/// behind a list or map, so a cycle through it may need a box).
pub(crate) fn type_tokens(
    t: &TypeRef,
    rt: &TokenStream,
    private: &TokenStream,
    named: &dyn Fn(&str, bool) -> TokenStream,
) -> TokenStream {
    fn go(
        t: &TypeRef,
        direct: bool,
        rt: &TokenStream,
        private: &TokenStream,
        named: &dyn Fn(&str, bool) -> TokenStream,
    ) -> TokenStream {
        match t {
            TypeRef::Named(n) => named(n, direct),
            TypeRef::Primitive(p) => prim_type(*p, rt, private),
            TypeRef::List(inner) => {
                let i = go(inner, false, rt, private, named);
                quote!(::std::vec::Vec<#i>)
            }
            TypeRef::Map(inner) => {
                let i = go(inner, false, rt, private, named);
                quote!(::std::collections::BTreeMap<::std::string::String, #i>)
            }
            TypeRef::Nullable(inner) => {
                let i = go(inner, direct, rt, private, named);
                quote!(::std::option::Option<#i>)
            }
            TypeRef::Tuple(items) => {
                let is = items.iter().map(|i| go(i, direct, rt, private, named));
                quote!((#(#is,)*))
            }
        }
    }
    go(t, true, rt, private, named)
}

struct Emitter<'a> {
    api: &'a Api,
    opts: &'a EmitOptions<'a>,
    cycles: &'a Cycles,
    p: Paths,
}

/// The `types` module of `api` as formatted source. `documents` gives, for each loaded
/// document, its URI and an expression (as Rust source) for its normalised JSON text.
///
/// The types are emitted and formatted in two halves on two threads: turning a large
/// contract's tokens into a syntax tree and back into text is most of the work, and it
/// splits cleanly at item boundaries.
pub fn types_source(
    api: &Api,
    opts: &EmitOptions,
    documents: &[(String, String)],
) -> Result<String, String> {
    let cycles = Cycles::new(&api.types);
    let defs: Vec<&TypeDef> = api.types.values().collect();
    let (first, second) = defs.split_at(defs.len() / 2);
    // Each type: tokens, and the text of its written-out impls, which follows them.
    type Part = (TokenStream, String);
    let emit_half = |defs: &[&TypeDef]| -> Result<(Vec<Part>, Vec<TokenStream>), String> {
        let e = Emitter {
            api,
            opts,
            cycles: &cycles,
            p: Paths::new(),
        };
        let mut parts = Vec::new();
        let mut rules = Vec::new();
        for def in defs {
            let (tokens, mut text) = e.type_def(def, &mut rules);
            // A type only one tag's operations reach is compiled with that feature.
            let gate = opts.gates.and_then(|g| g.ty(&def.name));
            let tokens = match gate {
                Some(attr) => {
                    let attr_text = super::text_of(&attr);
                    text = text
                        .lines()
                        .map(|l| match l.starts_with("impl") {
                            true => format!("{attr_text}\n{l}\n"),
                            false => format!("{l}\n"),
                        })
                        .collect();
                    super::features::gate_items(tokens, &attr)?
                }
                None => tokens,
            };
            parts.push((tokens, text));
        }
        Ok((parts, rules))
    };
    let format = |tokens: TokenStream| super::format_file(tokens).map_err(|e| e.to_string());
    // Tokens are formatted in runs, each run followed by the text that comes after it.
    let render = |prefix: TokenStream, parts: Vec<Part>| -> Result<String, String> {
        let mut out = String::new();
        let mut run = prefix;
        for (tokens, text) in parts {
            run.extend(tokens);
            if !text.is_empty() {
                out.push_str(&format(std::mem::take(&mut run))?);
                out.push_str(&text);
            }
        }
        if !run.is_empty() {
            out.push_str(&format(run)?);
        }
        Ok(out)
    };
    std::thread::scope(|scope| {
        let later = scope.spawn(|| {
            let (parts, rules) = emit_half(second)?;
            let text = render(TokenStream::new(), parts)?;
            // Tokens cannot cross threads; their text can.
            let rules: Vec<String> = rules.iter().map(ToString::to_string).collect();
            Ok::<_, String>((text, rules))
        });
        let (parts, mut rules) = emit_half(first)?;
        let rt = quote!(::acl_runtime::__private);
        let contract = if opts.embed_contract && !documents.is_empty() {
            let dialect = api
                .kind
                .as_ref()
                .map(|k| k.dialect().to_string())
                .unwrap_or_else(|| "2020-12".into());
            let mut docs = Vec::new();
            for (uri, expr) in documents {
                let expr: TokenStream = expr.parse().map_err(|e| format!("{e}"))?;
                docs.push(quote!((#uri, #expr)));
            }
            let refs = api
                .types
                .values()
                .filter(|d| d.contract_name.is_some())
                .map(|d| {
                    let name = ident(&d.name);
                    let r = format!("{}#{}", document_uri(d.origin.doc), d.origin.pointer);
                    quote!(pub const #name: &str = #r;)
                });
            quote! {
                /// The contract's documents, normalised to JSON Schema, for
                /// `acl_runtime::boundary::raw::validate` (feature `raw-validation`).
                pub static CONTRACT: #rt::Contract = #rt::Contract {
                    documents: &[#(#docs),*],
                    dialect: #dialect,
                };
                /// Where each definition's schema is in [`CONTRACT`], for
                /// `acl_runtime::boundary::raw::validate_at` (aliases have no `BoundarySchema`).
                #[allow(non_upper_case_globals)]
                pub mod schema_refs {
                    #(#refs)*
                }
            }
        } else {
            TokenStream::new()
        };
        let head = render(
            quote! {
                #[allow(unused_imports)]
                use ::acl_runtime::__private as __acl;
                #contract
            },
            parts,
        )?;
        let (tail, later_rules) = later
            .join()
            .map_err(|_| "the emitting thread panicked".to_string())??;
        for r in later_rules {
            rules.push(r.parse().map_err(|e| format!("{e}"))?);
        }
        let rules_mod = if rules.is_empty() {
            String::new()
        } else {
            format(quote! {
                /// The contract's rules for each validated type (see `acl_runtime::Checked`).
                pub mod rules {
                    #(#rules)*
                }
            })?
        };
        Ok(format!("{head}{tail}{rules_mod}"))
    })
}

impl Emitter<'_> {
    /// The Rust type for `t` used inside `owner` (boxing what closes a cycle).
    fn ty(&self, t: &TypeRef, owner: Option<&str>) -> TokenStream {
        type_tokens(t, &self.p.rt, &self.p.private, &|n, boxed_ok| {
            let id = ident(n);
            match owner {
                Some(o) if boxed_ok && self.cycles.needs_box(o, n) => {
                    quote!(::std::boxed::Box<#id>)
                }
                _ => quote!(#id),
            }
        })
    }

    fn source_line(&self, def: &TypeDef) -> String {
        let mut line = match &def.contract_name {
            Some(n) => format!("Contract name: `{n}`."),
            None => format!("Contract location: `#{}`.", def.origin.pointer),
        };
        for note in &def.notes {
            line.push_str(&format!(
                "\n\nNot enforced here: {}.",
                note.trim_end_matches('.')
            ));
        }
        line
    }

    fn boundary_schema(&self, def: &TypeDef) -> TokenStream {
        // Named definitions only: inline types are reached through them.
        if !self.opts.embed_contract || def.contract_name.is_none() {
            return TokenStream::new();
        }
        let rt = &self.p.rt;
        let name = ident(&def.name);
        let schema_ref = format!("{}#{}", document_uri(def.origin.doc), def.origin.pointer);
        quote! {
            impl #rt::BoundarySchema for #name {
                fn contract() -> &'static #rt::Contract { &CONTRACT }
                const SCHEMA_REF: &'static str = #schema_ref;
            }
        }
    }

    fn derives(&self, extra: TokenStream) -> TokenStream {
        self.derives_with(extra, true)
    }

    /// The derives; `serde: false` for structs, whose `Serialize` and `Deserialize` are
    /// written out (see [`Emitter::struct_def`]): serde's derive costs about half of a
    /// large crate's `cargo check` (58 s → 31 s types-only for 1,200 operations).
    fn derives_with(&self, extra: TokenStream, serde_derives: bool) -> TokenStream {
        let serde = &self.p.serde;
        let serde_crate = &self.p.serde_crate;
        let schemars = if self.opts.schemars {
            let private = &self.p.private;
            let krate = "__acl::schemars";
            quote!(#[derive(#private::schemars::JsonSchema)] #[schemars(crate = #krate)])
        } else {
            TokenStream::new()
        };
        if serde_derives {
            return quote! {
                #[derive(Debug, Clone, PartialEq, #serde::Serialize, #serde::Deserialize #extra)]
                #schemars
                #[serde(crate = #serde_crate)]
            };
        }
        // schemars reads the `serde` attributes (and registers them); without it they
        // are not emitted at all.
        let serde_attrs = if self.opts.schemars {
            quote!(#[serde(crate = #serde_crate)])
        } else {
            TokenStream::new()
        };
        quote! {
            #[derive(Debug, Clone, PartialEq #extra)]
            #schemars
            #serde_attrs
        }
    }

    /// A type's items: tokens (formatted with prettyplease) and text written out
    /// already formatted, which follows them (a struct's serde impls).
    fn type_def(&self, def: &TypeDef, rules: &mut Vec<TokenStream>) -> (TokenStream, String) {
        let source = self.source_line(def);
        let tokens = match &def.kind {
            TypeKind::Struct(s) => return self.struct_def(def, s, &source),
            TypeKind::Enum(e) => self.enum_def(def, e, &source),
            TypeKind::Union(u) => self.union_def(def, u, &source),
            TypeKind::Constrained { inner, constraints }
                if matches!(inner, TypeRef::Primitive(Primitive::String))
                    && matches!(&constraints.const_value, Some(Value::String(_)))
                    && Constraints {
                        const_value: None,
                        ..constraints.clone()
                    }
                    .is_empty() =>
            {
                let value = constraints
                    .const_value
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let docs = doc_attrs(&def.docs, &[source, format!("Always `{value:?}`.")]);
                let name = ident(&def.name);
                let rt = &self.p.rt;
                let rule_doc = format!(" The value of [`super::{}`].", def.name);
                rules.push(quote! {
                    #[doc = #rule_doc]
                    #[derive(Debug)]
                    pub struct #name;
                    impl #rt::TagValue for #name {
                        const VALUE: &'static str = #value;
                    }
                });
                quote! {
                    #docs
                    pub type #name = #rt::Tag<rules::#name>;
                }
            }
            TypeKind::Constrained { inner, constraints } => {
                let docs = doc_attrs(&def.docs, &[source, describe_constraints(constraints)]);
                let name = ident(&def.name);
                let rt = &self.p.rt;
                let inner_ty = self.ty(inner, None);
                let c = self.constraints(constraints);
                let rule_doc = format!(" The rules of [`super::{}`].", def.name);
                rules.push(quote! {
                    #[doc = #rule_doc]
                    #[derive(Debug)]
                    pub struct #name;
                    impl #rt::Rule for #name {
                        const CONSTRAINTS: #rt::Constraints = #c;
                    }
                });
                if self.cycles.newtype_aliases.contains(&def.name) {
                    let d = self.derives(TokenStream::new());
                    let tokens = quote! {
                        #docs
                        #d
                        #[serde(transparent)]
                        pub struct #name(pub #rt::Checked<#inner_ty, rules::#name>);
                    };
                    return (tokens, String::new());
                }
                quote! {
                    #docs
                    pub type #name = #rt::Checked<#inner_ty, rules::#name>;
                }
            }
            TypeKind::Alias(t) => {
                let docs = doc_attrs(&def.docs, &[source]);
                let name = ident(&def.name);
                if self.cycles.newtype_aliases.contains(&def.name) {
                    let inner = self.ty(t, Some(&def.name));
                    let d = self.derives(TokenStream::new());
                    let schema = self.boundary_schema(def);
                    let tokens = quote! {
                        #docs
                        #d
                        #[serde(transparent)]
                        pub struct #name(pub #inner);
                        #schema
                    };
                    return (tokens, String::new());
                }
                let inner = self.ty(t, None);
                quote! {
                    #docs
                    pub type #name = #inner;
                }
            }
        };
        (tokens, String::new())
    }

    /// A struct and its written-out `Serialize` and `Deserialize`. The two impls are
    /// text, formatted here: they are most of a large contract's code and entirely
    /// regular, and parsing them back with syn to print them with prettyplease was
    /// over half of the generation time (octokit's webhook schemas: 94k lines).
    fn struct_def(&self, def: &TypeDef, s: &StructDef, source: &str) -> (TokenStream, String) {
        let name = ident(&def.name);
        let name_text = name.to_string();
        let docs = doc_attrs(&def.docs, &[source.to_string()]);
        let mut fields = Vec::new();
        let mut default_fns = Vec::new();
        // The parts of the written-out `Deserialize`: a slot per field, a match arm per
        // property name, and how the slot becomes the field.
        let mut slots: Vec<String> = Vec::new();
        let mut arms: Vec<String> = Vec::new();
        let mut inits: Vec<String> = Vec::new();
        // ... and of the written-out `Serialize`: an entry per field (skipped when an
        // optional one is absent, as `skip_serializing_if` would), and their count.
        let mut entries: Vec<String> = Vec::new();
        let mut always = 0usize;
        let mut counted: Vec<String> = Vec::new();
        for (i, f) in s.fields.iter().enumerate() {
            let fname = ident(&f.name);
            let wire = &f.wire_name;
            let rename = if f.name != f.wire_name {
                quote!(#[serde(rename = #wire)])
            } else {
                TokenStream::new()
            };
            let inner = self.ty(&f.ty, Some(&def.name));
            let mut extra_docs = Vec::new();
            if f.read_only {
                extra_docs.push("Read-only: sent by the server, not by clients.".to_string());
            }
            if f.write_only {
                extra_docs.push("Write-only: sent by clients, not returned.".to_string());
            }
            if let Some(d) = &f.default {
                extra_docs.push(format!("Default: `{d}`."));
            }
            let fdocs = doc_attrs(&f.docs, &extra_docs);
            let var = format_ident!("__f{}", i);
            let fields_mod = quote!(__acl::fields);
            let (ty, attrs, slot, init) = match (f.required, f.nullable, &f.default) {
                (true, false, _) => (
                    inner.clone(),
                    TokenStream::new(),
                    inner,
                    quote!(#fields_mod::required(#var, #wire)?),
                ),
                // Required but nullable: `null` is `None`, absence is an error.
                (true, true, _) => (
                    quote!(::std::option::Option<#inner>),
                    TokenStream::new(),
                    quote!(::std::option::Option<#inner>),
                    quote!(#fields_mod::required(#var, #wire)?),
                ),
                (false, false, Some(d)) => {
                    let fn_name = format_ident!("__default_{}", f.name.trim_start_matches('_'));
                    let value = self.default_expr(d, &f.ty);
                    default_fns.push(quote! {
                        fn #fn_name() -> #inner { #value }
                    });
                    let path = format!("{}::{}", def.name, fn_name);
                    (
                        inner.clone(),
                        quote!(#[serde(default = #path)]),
                        inner,
                        quote!(#var.unwrap_or_else(#name::#fn_name)),
                    )
                }
                (false, false, None) => (
                    quote!(::std::option::Option<#inner>),
                    quote!(#[serde(default, skip_serializing_if = "::std::option::Option::is_none")]),
                    quote!(::std::option::Option<#inner>),
                    quote!(#var.flatten()),
                ),
                // Optional and nullable: absent is `None`, `null` is `Some(None)`.
                (false, true, _) => {
                    let path = "__acl::optional_nullable";
                    (
                        quote!(::std::option::Option<::std::option::Option<#inner>>),
                        quote!(#[serde(default, deserialize_with = #path, skip_serializing_if = "::std::option::Option::is_none")]),
                        quote!(::std::option::Option<#inner>),
                        quote!(#var),
                    )
                }
            };
            let wire_lit = super::string_literal(wire);
            let field_text = fname.to_string();
            slots.push(format!(
                "let mut {var}: ::std::option::Option<{}> = None;",
                super::text_of(&slot)
            ));
            arms.push(format!(
                "{wire_lit} => __acl::fields::field(&mut __map, &mut {var}, {wire_lit})?,"
            ));
            inits.push(format!("{field_text}: {},", super::text_of(&init)));
            let skippable = !f.required && f.default.as_ref().is_none_or(|_| f.nullable);
            if skippable {
                counted.push(format!(" + self.{field_text}.is_some() as usize"));
                entries.push(format!("if self.{field_text}.is_some() {{"));
                entries.push(format!(
                    "    __m.serialize_entry({wire_lit}, &self.{field_text})?;"
                ));
                entries.push("}".into());
            } else {
                always += 1;
                entries.push(format!(
                    "__m.serialize_entry({wire_lit}, &self.{field_text})?;"
                ));
            }
            let (rename, attrs) = if self.opts.schemars {
                (rename, attrs)
            } else {
                (TokenStream::new(), TokenStream::new())
            };
            fields.push(quote! {
                #fdocs
                #rename
                #attrs
                pub #fname: #ty,
            });
        }
        let mut container = TokenStream::new();
        let wires: Vec<&str> = s.fields.iter().map(|f| f.wire_name.as_str()).collect();
        let mut other = vec!["_ => __acl::fields::skip(&mut __map)?,".to_string()];
        let mut next_key = "__map.next_key::<__acl::fields::Key<'de>>()?".to_string();
        match &s.additional {
            Additional::Deny => {
                if self.opts.schemars {
                    container = quote!(#[serde(deny_unknown_fields)]);
                }
                let wires: Vec<String> = wires.iter().map(|w| super::string_literal(w)).collect();
                next_key = format!(
                    "__map.next_key_seed(__acl::fields::KnownKey(&[{}]))?",
                    wires.join(", ")
                );
            }
            Additional::Typed(t) => {
                let used: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
                let mut extra = "additional_properties".to_string();
                while used.contains(&extra.as_str()) {
                    extra.push('_');
                }
                let extra = ident(&extra);
                let vt = self.ty(t, None);
                let flatten = if self.opts.schemars {
                    quote!(#[serde(flatten)])
                } else {
                    TokenStream::new()
                };
                fields.push(quote! {
                    /// Properties the contract does not list by name.
                    #flatten
                    pub #extra: ::std::collections::BTreeMap<::std::string::String, #vt>,
                });
                counted.push(format!(" + self.{extra}.len()"));
                entries.push(format!("for (__k, __v) in &self.{extra} {{"));
                entries.push("    __m.serialize_entry(__k, __v)?;".into());
                entries.push("}".into());
                slots.push(format!(
                    "let mut __extra = ::std::collections::BTreeMap::<::std::string::String, {}>::new();",
                    super::text_of(&vt)
                ));
                other = vec![
                    "_ => {".into(),
                    "    __extra.insert(__key.0.into_owned(), __map.next_value()?);".into(),
                    "}".into(),
                ];
                inits.push(format!("{extra}: __extra,"));
            }
            Additional::Ignore => {}
        }
        let d = self.derives_with(TokenStream::new(), false);
        let serde = &self.p.serde;
        let type_name = def.name.as_str();
        let serde = super::text_of(serde);
        let mut text = String::new();
        let mut line = |indent: usize, l: &str| {
            for _ in 0..indent {
                text.push_str("    ");
            }
            text.push_str(l);
            text.push('\n');
        };
        // `Serialize`: an entry per field, optional ones only when present.
        line(0, &format!("impl {serde}::Serialize for {name_text} {{"));
        line(1, &format!("fn serialize<__S: {serde}::Serializer>(&self, __s: __S) -> ::std::result::Result<__S::Ok, __S::Error> {{"));
        line(2, &format!("use {serde}::ser::SerializeMap as _;"));
        line(
            2,
            &format!(
                "let mut __m = __s.serialize_map(::std::option::Option::Some({always}usize{}))?;",
                counted.concat()
            ),
        );
        for e in &entries {
            line(2, e);
        }
        line(2, "__m.end()");
        line(1, "}");
        line(0, "}");
        // `Deserialize`: a slot per field, an arm per property name, then the fields.
        line(
            0,
            &format!("impl<'de> {serde}::Deserialize<'de> for {name_text} {{"),
        );
        line(1, &format!("fn deserialize<__D: {serde}::Deserializer<'de>>(__deserializer: __D) -> ::std::result::Result<Self, __D::Error> {{"));
        line(2, "struct __Visitor;");
        line(
            2,
            &format!("impl<'de> {serde}::de::Visitor<'de> for __Visitor {{"),
        );
        line(3, &format!("type Value = {name_text};"));
        line(
            3,
            "fn expecting(&self, __f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {",
        );
        line(
            4,
            &format!(
                "__acl::fields::expecting_object(__f, {})",
                super::string_literal(type_name)
            ),
        );
        line(3, "}");
        line(3, &format!("fn visit_map<__A: {serde}::de::MapAccess<'de>>(self, mut __map: __A) -> ::std::result::Result<{name_text}, __A::Error> {{"));
        for l in &slots {
            line(4, l);
        }
        line(4, &format!("while let Some(__key) = {next_key} {{"));
        line(5, "match __key.as_str() {");
        for l in arms.iter().chain(&other) {
            line(6, l);
        }
        line(5, "}");
        line(4, "}");
        line(4, &format!("Ok({name_text} {{"));
        for l in &inits {
            line(5, l);
        }
        line(4, "})");
        line(3, "}");
        line(2, "}");
        line(2, "__deserializer.deserialize_map(__Visitor)");
        line(1, "}");
        line(0, "}");
        let defaults = if default_fns.is_empty() {
            TokenStream::new()
        } else {
            quote! { impl #name { #(#default_fns)* } }
        };
        let schema = self.boundary_schema(def);
        let tokens = quote! {
            #docs
            #d
            #container
            pub struct #name {
                #(#fields)*
            }
            #defaults
            #schema
        };
        (tokens, text)
    }

    fn default_expr(&self, d: &Value, t: &TypeRef) -> TokenStream {
        match (t, d) {
            (TypeRef::Primitive(Primitive::String), Value::String(s)) => {
                quote!(::std::string::String::from(#s))
            }
            (TypeRef::Primitive(Primitive::Bool), Value::Bool(b)) => quote!(#b),
            (TypeRef::Primitive(Primitive::F32 | Primitive::F64), Value::Number(n)) => {
                let lit = Literal::f64_unsuffixed(n.as_f64().unwrap_or_default());
                quote!(#lit as _)
            }
            (TypeRef::Primitive(_), Value::Number(n)) => {
                let lit = match n.as_i64() {
                    Some(i) => Literal::i64_unsuffixed(i),
                    None => Literal::u64_unsuffixed(n.as_u64().unwrap_or_default()),
                };
                quote!(#lit)
            }
            (TypeRef::Named(n), v) => {
                let ty = ident(n);
                let variant = match self.api.types.get(n).map(|t| &t.kind) {
                    Some(TypeKind::Enum(e)) => e
                        .variants
                        .iter()
                        .find(|x| &x.value == v)
                        .map(|x| ident(&x.name)),
                    _ => None,
                };
                match variant {
                    Some(variant) => quote!(#ty::#variant),
                    None => quote!(::std::default::Default::default()),
                }
            }
            _ => quote!(::std::default::Default::default()),
        }
    }

    fn enum_def(&self, def: &TypeDef, e: &EnumDef, source: &str) -> TokenStream {
        let name = ident(&def.name);
        let serde = &self.p.serde;
        let docs = doc_attrs(&def.docs, &[source.to_string()]);
        let names: Vec<Ident> = e.variants.iter().map(|v| ident(&v.name)).collect();
        let variant_docs = e.variants.iter().map(|v| format!(" `{}`", v.value));
        let mut fallback_name = "Unknown".to_string();
        while e.variants.iter().any(|v| v.name == fallback_name) {
            fallback_name.push_str("Value");
        }
        let fallback = ident(&fallback_name);
        let (wire_ty, fallback_ty) = match e.repr {
            EnumRepr::String => (quote!(str), quote!(::std::string::String)),
            EnumRepr::Integer => (quote!(i64), quote!(i64)),
        };
        let fallback_variant = if e.open {
            quote! {
                /// A value this version of the contract does not list (the vendor may add
                /// values without notice); kept as received.
                #fallback(#fallback_ty),
            }
        } else {
            TokenStream::new()
        };
        let mut schema = self.boundary_schema(def);
        if e.open {
            // The mapping derives tell a mapping without `unknown = …` how to fix it.
            let name = ident(&def.name);
            schema.extend(quote!(impl __acl::mapping::OpenEnum for #name {}));
        }
        let schemars = self.enum_schemars(def, e);
        match e.repr {
            EnumRepr::String => {
                let values: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| v.value.as_str().unwrap_or_default().to_string())
                    .collect();
                let fallback_arm = if e.open {
                    quote!(Self::#fallback(s) => s.as_str(),)
                } else {
                    TokenStream::new()
                };
                // Kept, and said so: a union prefers a branch that fits without it.
                let unknown = if e.open {
                    quote!(_ => {
                        ::acl_runtime::__private::note_unknown_kept();
                        Self::#fallback(s.into_owned())
                    })
                } else {
                    quote!(_ => return Err(<D::Error as #serde::de::Error>::unknown_variant(&s, Self::VALUES)),)
                };
                quote! {
                    #docs
                    #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
                    pub enum #name {
                        #(#[doc = #variant_docs] #names,)*
                        #fallback_variant
                    }
                    impl #name {
                        /// Every value the contract lists.
                        pub const VALUES: &'static [&'static str] = &[#(#values),*];
                        /// The value on the wire.
                        pub fn as_str(&self) -> &str {
                            match self {
                                #(Self::#names => #values,)*
                                #fallback_arm
                            }
                        }
                    }
                    impl ::std::fmt::Display for #name {
                        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                            f.write_str(self.as_str())
                        }
                    }
                    impl #serde::Serialize for #name {
                        fn serialize<S: #serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                            serializer.serialize_str(self.as_str())
                        }
                    }
                    impl<'de> #serde::Deserialize<'de> for #name {
                        fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                            let s = <::std::borrow::Cow<'de, #wire_ty> as #serde::Deserialize>::deserialize(deserializer)?;
                            Ok(match &*s {
                                #(#values => Self::#names,)*
                                #unknown
                            })
                        }
                    }
                    #schema
                    #schemars
                }
            }
            EnumRepr::Integer => {
                let values: Vec<Literal> = e
                    .variants
                    .iter()
                    .map(|v| Literal::i64_unsuffixed(v.value.as_i64().unwrap_or_default()))
                    .collect();
                let fallback_arm = if e.open {
                    quote!(Self::#fallback(v) => *v,)
                } else {
                    TokenStream::new()
                };
                let unknown = if e.open {
                    quote!(other => {
                        ::acl_runtime::__private::note_unknown_kept();
                        Self::#fallback(other)
                    })
                } else {
                    quote!(other => return Err(<D::Error as #serde::de::Error>::custom(::std::format_args!("enum: {} is not one of {:?}", other, Self::VALUES))),)
                };
                quote! {
                    #docs
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
                    pub enum #name {
                        #(#[doc = #variant_docs] #names,)*
                        #fallback_variant
                    }
                    impl #name {
                        /// Every value the contract lists.
                        pub const VALUES: &'static [i64] = &[#(#values),*];
                        /// The value on the wire.
                        pub fn value(&self) -> i64 {
                            match self {
                                #(Self::#names => #values,)*
                                #fallback_arm
                            }
                        }
                    }
                    impl #serde::Serialize for #name {
                        fn serialize<S: #serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                            serializer.serialize_i64(self.value())
                        }
                    }
                    impl<'de> #serde::Deserialize<'de> for #name {
                        fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                            let v = <i64 as #serde::Deserialize>::deserialize(deserializer)?;
                            Ok(match v {
                                #(#values => Self::#names,)*
                                #unknown
                            })
                        }
                    }
                    #schema
                    #schemars
                }
            }
        }
    }

    fn enum_schemars(&self, def: &TypeDef, e: &EnumDef) -> TokenStream {
        if !self.opts.schemars {
            return TokenStream::new();
        }
        let private = &self.p.private;
        let name = ident(&def.name);
        let type_name = &def.name;
        let values: Vec<String> = e.variants.iter().map(|v| v.value.to_string()).collect();
        let kind = match e.repr {
            EnumRepr::String => "string",
            EnumRepr::Integer => "integer",
        };
        let schema = if e.open {
            format!(
                "{{\"type\":\"{kind}\",\"description\":\"Known values: {}\"}}",
                values.join(", ").replace('"', "\\\"")
            )
        } else {
            format!("{{\"type\":\"{kind}\",\"enum\":[{}]}}", values.join(","))
        };
        quote! {
            impl #private::schemars::JsonSchema for #name {
                fn schema_name() -> ::std::borrow::Cow<'static, str> { ::std::borrow::Cow::Borrowed(#type_name) }
                fn json_schema(_: &mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema {
                    let value: #private::serde_json::Value = #private::serde_json::from_str(#schema).unwrap_or_default();
                    #private::schemars::Schema::try_from(value).unwrap_or_default()
                }
            }
        }
    }

    fn union_def(&self, def: &TypeDef, u: &UnionDef, source: &str) -> TokenStream {
        let name = ident(&def.name);
        let type_name = &def.name;
        let serde = &self.p.serde;
        let private = &self.p.private;
        let mut extra = vec![source.to_string()];
        extra.push(match (&u.discriminator, u.exclusive) {
            (Some(tag), _) => format!("The property `{tag}` names the branch."),
            (None, true) => "Exactly one branch must match (`oneOf`).".into(),
            (None, false) => "The first branch that matches is taken (`anyOf`).".into(),
        });
        let docs = doc_attrs(&def.docs, &extra);
        let names: Vec<Ident> = u.variants.iter().map(|v| ident(&v.name)).collect();
        let tys: Vec<TokenStream> = u
            .variants
            .iter()
            .map(|v| self.ty(&v.ty, Some(&def.name)))
            .collect();
        let decode = match &u.discriminator {
            Some(tag) => {
                let mut entries = Vec::new();
                for (v, ty) in u.variants.iter().zip(&tys) {
                    let n = ident(&v.name);
                    for t in &v.tags {
                        entries.push(quote! {
                            (#t, &|v: &#private::serde_json::Value| #private::branch::<#ty>(v).map(Self::#n))
                        });
                    }
                }
                quote! {
                    let variants: &[#private::Variant<'_, Self>] = &[#(#entries),*];
                    #private::tagged(#type_name, #tag, value, variants)
                }
            }
            None => {
                let labels = u.variants.iter().map(|v| v.name.clone());
                let kind = if u.exclusive {
                    quote!(#private::UnionKind::OneOf)
                } else {
                    quote!(#private::UnionKind::AnyOf)
                };
                quote! {
                    let variants: &[#private::Variant<'_, Self>] = &[
                        #((#labels, &|v: &#private::serde_json::Value| #private::branch::<#tys>(v).map(Self::#names))),*
                    ];
                    #private::one_of(#type_name, #kind, value, variants)
                }
            }
        };
        let schema = self.boundary_schema(def);
        let schemars = if self.opts.schemars {
            quote! {
                impl #private::schemars::JsonSchema for #name {
                    fn schema_name() -> ::std::borrow::Cow<'static, str> { ::std::borrow::Cow::Borrowed(#type_name) }
                    fn json_schema(generator: &mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema {
                        let branches = ::std::vec![#(#private::serde_json::Value::from(generator.subschema_for::<#tys>())),*];
                        let mut map = #private::serde_json::Map::new();
                        map.insert("anyOf".into(), #private::serde_json::Value::Array(branches));
                        #private::schemars::Schema::from(map)
                    }
                }
            }
        } else {
            TokenStream::new()
        };
        quote! {
            #docs
            #[derive(Debug, Clone, PartialEq)]
            pub enum #name {
                #(#[allow(missing_docs)] #names(#tys),)*
            }
            impl #serde::Serialize for #name {
                fn serialize<S: #serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                    match self {
                        #(Self::#names(v) => #serde::Serialize::serialize(v, serializer),)*
                    }
                }
            }
            impl<'de> #serde::Deserialize<'de> for #name {
                fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                    #private::decode_union(deserializer, |value: &#private::serde_json::Value| { #decode })
                }
            }
            #schema
            #schemars
        }
    }

    fn constraints(&self, c: &Constraints) -> TokenStream {
        let rt = &self.p.rt;
        let mut fields = Vec::new();
        let count = |name: &str, v: Option<u64>, fields: &mut Vec<TokenStream>| {
            if let Some(v) = v {
                let id = ident(name);
                fields.push(quote!(#id: ::std::option::Option::Some(#v)));
            }
        };
        count("min_length", c.min_length, &mut fields);
        count("max_length", c.max_length, &mut fields);
        count("min_items", c.min_items, &mut fields);
        count("max_items", c.max_items, &mut fields);
        count("min_properties", c.min_properties, &mut fields);
        count("max_properties", c.max_properties, &mut fields);
        let num = |name: &str, v: Option<Number>, fields: &mut Vec<TokenStream>| {
            if let Some(v) = v {
                let id = ident(name);
                let n = match v {
                    Number::Int(i) => {
                        let lit = Literal::i128_unsuffixed(i);
                        quote!(#rt::Num::Int(#lit))
                    }
                    Number::Float(f) => {
                        let lit = Literal::f64_suffixed(f);
                        quote!(#rt::Num::Float(#lit))
                    }
                };
                fields.push(quote!(#id: ::std::option::Option::Some(#n)));
            }
        };
        num("minimum", c.minimum, &mut fields);
        num("maximum", c.maximum, &mut fields);
        num("exclusive_minimum", c.exclusive_minimum, &mut fields);
        num("exclusive_maximum", c.exclusive_maximum, &mut fields);
        num("multiple_of", c.multiple_of, &mut fields);
        if let Some(p) = &c.pattern {
            fields.push(quote!(pattern: ::std::option::Option::Some(#p)));
        }
        if let Some(f) = &c.format {
            fields.push(quote!(format: ::std::option::Option::Some(#f)));
        }
        if c.unique_items {
            fields.push(quote!(unique_items: true));
        }
        if let Some(values) = &c.enum_values {
            let texts = values.iter().map(|v| v.to_string());
            fields.push(quote!(enum_values: ::std::option::Option::Some(&[#(#texts),*])));
        }
        if let Some(v) = &c.const_value {
            let t = v.to_string();
            fields.push(quote!(const_value: ::std::option::Option::Some(#t)));
        }
        quote!(#rt::Constraints { #(#fields,)* ..#rt::Constraints::NONE })
    }
}

/// The URI under which document `doc` is embedded (see [`crate::Generated`]).
pub fn document_uri(doc: usize) -> String {
    format!("https://acl.invalid/contract/{doc}.json")
}

fn describe_constraints(c: &Constraints) -> String {
    let mut parts = Vec::new();
    let n = |v: Number| match v {
        Number::Int(i) => i.to_string(),
        Number::Float(f) => f.to_string(),
    };
    if let Some(v) = c.min_length {
        parts.push(format!("minLength {v}"));
    }
    if let Some(v) = c.max_length {
        parts.push(format!("maxLength {v}"));
    }
    if let Some(v) = &c.pattern {
        parts.push(format!("pattern `{}`", v.replace('`', "\\`")));
    }
    if let Some(v) = &c.format {
        parts.push(format!("format {v}"));
    }
    if let Some(v) = c.minimum {
        parts.push(format!("minimum {}", n(v)));
    }
    if let Some(v) = c.maximum {
        parts.push(format!("maximum {}", n(v)));
    }
    if let Some(v) = c.exclusive_minimum {
        parts.push(format!("exclusiveMinimum {}", n(v)));
    }
    if let Some(v) = c.exclusive_maximum {
        parts.push(format!("exclusiveMaximum {}", n(v)));
    }
    if let Some(v) = c.multiple_of {
        parts.push(format!("multipleOf {}", n(v)));
    }
    if let Some(v) = c.min_items {
        parts.push(format!("minItems {v}"));
    }
    if let Some(v) = c.max_items {
        parts.push(format!("maxItems {v}"));
    }
    if c.unique_items {
        parts.push("uniqueItems".into());
    }
    if let Some(v) = c.min_properties {
        parts.push(format!("minProperties {v}"));
    }
    if let Some(v) = c.max_properties {
        parts.push(format!("maxProperties {v}"));
    }
    if let Some(v) = &c.enum_values {
        parts.push(format!(
            "one of {}",
            v.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(v) = &c.const_value {
        parts.push(format!("exactly `{v}`"));
    }
    format!("Rules: {}.", parts.join(", "))
}
