//! `#[derive(FromBoundary)]` / `#[derive(IntoBoundary)]`: `TryFrom` between a boundary
//! type and a domain type.
//!
//! The macro cannot see the boundary type's definition, so it lets the compiler check
//! the mapping, with spans pointing at the domain side: the boundary value is taken
//! apart with a pattern that names each mapped field (a field the boundary type lacks
//! is an error at the domain field), with `deny_unmapped` the pattern has no `..` (a
//! boundary field neither used nor ignored is an error at `deny_unmapped`), an enum is
//! mapped with an exhaustive `match` (a boundary variant left out, the unknown-value
//! fallback included, is an error), and `IntoBoundary` builds the boundary value with a
//! struct literal, which must name every field.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use crate::attr::Errors;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    From,
    Into,
}

#[derive(Default)]
struct Container {
    boundary: Option<Path>,
    deny_unmapped: Option<Span>,
    ignore: Vec<Ident>,
    unknown: Option<Path>,
}

#[derive(Default)]
struct FieldAttrs {
    from: Option<LitStr>,
    /// `from(a, b)`: a value object made from several boundary fields (with `with`).
    from_many: Vec<Ident>,
    /// `into(a = f, b = g)`: the boundary fields a value object gives back, each by a
    /// function of the domain field (`fn(&Domain) -> B`, or `-> Result<B, E>`).
    into_many: Vec<(Ident, Path)>,
    with: Option<Path>,
    default: Option<Span>,
    skip: Option<Span>,
    /// Where `from(...)`/`into(...)` are written, for errors.
    many_span: Option<Span>,
}

fn container_attrs(input: &DeriveInput, dir: Direction, errors: &mut Errors) -> Container {
    let mut c = Container::default();
    let key = match dir {
        Direction::From => "from",
        Direction::Into => "into",
    };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("acl")) {
        let r = attr.parse_nested_meta(|m| {
            let name = m
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match name.as_str() {
                k if k == key => c.boundary = Some(m.value()?.parse()?),
                // The other direction's key, for a type that derives both.
                "from" | "into" => {
                    let _: Path = m.value()?.parse()?;
                }
                "deny_unmapped" => c.deny_unmapped = Some(m.path.span()),
                "ignore" => m.parse_nested_meta(|i| {
                    match i.path.get_ident() {
                        Some(id) => c.ignore.push(id.clone()),
                        None => errors.push(i.path.span(), "expected a field name"),
                    }
                    Ok(())
                })?,
                "unknown" => c.unknown = Some(m.value()?.parse()?),
                other => {
                    let known = [key, "deny_unmapped", "ignore", "unknown"];
                    let hint = acl_policy::closest(other, &known)
                        .map(|k| format!("; did you mean `{k}`?"))
                        .unwrap_or_default();
                    errors.push(m.path.span(), format!("unknown key `{other}`{hint}"));
                    if m.input.peek(syn::Token![=]) {
                        let _: syn::Expr = m.value()?.parse()?;
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            errors.add(e);
        }
    }
    if c.boundary.is_none() {
        errors.push(
            input.ident.span(),
            format!("name the boundary type: #[acl({key} = path::to::types::Type)]"),
        );
    }
    c
}

fn field_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut f = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("acl")) {
        let r = attr.parse_nested_meta(|m| {
            let name = m
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match name.as_str() {
                "from" if m.input.peek(syn::token::Paren) => {
                    f.many_span = Some(m.path.span());
                    m.parse_nested_meta(|i| {
                        match i.path.get_ident() {
                            Some(id) => f.from_many.push(id.clone()),
                            None => errors.push(i.path.span(), "expected a boundary field name"),
                        }
                        Ok(())
                    })?
                }
                "into" if m.input.peek(syn::token::Paren) => {
                    f.many_span = Some(m.path.span());
                    m.parse_nested_meta(|i| {
                        match i.path.get_ident() {
                            Some(id) => f.into_many.push((id.clone(), i.value()?.parse()?)),
                            None => errors.push(i.path.span(), "expected a boundary field name"),
                        }
                        Ok(())
                    })?
                }
                "from" => f.from = Some(m.value()?.parse()?),
                "with" => f.with = Some(m.value()?.parse()?),
                "default" => f.default = Some(m.path.span()),
                "skip" => f.skip = Some(m.path.span()),
                "unknown" | "deny_unmapped" | "ignore" => errors.push(
                    m.path.span(),
                    format!(
                        "`{name}` goes on the type, not on a field or variant: \
                         #[acl(from = path::to::Boundary, {name}{})]",
                        if name == "unknown" {
                            " = Domain::Variant"
                        } else if name == "ignore" {
                            "(field)"
                        } else {
                            ""
                        }
                    ),
                ),
                other => {
                    let known = ["from", "into", "with", "default", "skip"];
                    let hint = acl_policy::closest(other, &known)
                        .map(|k| format!("; did you mean `{k}`?"))
                        .unwrap_or_default();
                    errors.push(m.path.span(), format!("unknown key `{other}`{hint}"));
                    if m.input.peek(syn::Token![=]) {
                        let _: syn::Expr = m.value()?.parse()?;
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            errors.add(e);
        }
    }
    if let (Some(span), true) = (
        f.default.or(f.skip),
        f.from.is_some() || f.with.is_some() || f.many_span.is_some(),
    ) {
        errors.push(
            span,
            "a field that is not mapped takes no `from`, `into` or `with`",
        );
    }
    if let (Some(span), true) = (f.many_span, f.from.is_some()) {
        errors.push(span, "a field comes from one boundary field (`from = \"name\"`) or from several (`from(a, b)`), not both");
    }
    f
}

/// The outer type and its first argument when `ty` is `Option<_>`, `Vec<_>` or a map.
fn shape(ty: &Type) -> (&'static str, Option<&Type>) {
    let Type::Path(p) = ty else { return ("", None) };
    let Some(last) = p.path.segments.last() else {
        return ("", None);
    };
    let args: Vec<&Type> = match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    match (last.ident.to_string().as_str(), args.as_slice()) {
        ("Option", [t]) => ("option", Some(t)),
        ("Vec", [t]) => ("vec", Some(t)),
        ("BTreeMap" | "HashMap", [_, v]) => ("map", Some(v)),
        _ => ("", None),
    }
}

/// The expression converting `value` (a boundary value in `From`, a domain value in
/// `Into`) into the field type `ty` (domain type in `From`; in `Into` the target is
/// inferred from the boundary struct literal).
fn conversion(value: &TokenStream, ty: &Type, dir: Direction, with: Option<&Path>) -> TokenStream {
    let m = quote!(::acl_runtime::__private::mapping);
    if let Some(f) = with {
        return quote!({
            #[allow(unused_imports)]
            use #m::Infallible as _;
            #m::Out(#f(#value)).mapped()
        });
    }
    let (outer, inner) = shape(ty);
    match (dir, outer, inner) {
        (Direction::From, "option", Some(inner)) => quote!({
            #[allow(unused_imports)]
            use #m::{Nested as _, Plain as _, Single as _};
            (&&&#m::source(#value)).optional().map(#m::convert::<_, #inner>).transpose()
        }),
        (Direction::From, "vec", Some(_)) => quote!({
            #[allow(unused_imports)]
            use #m::{Nested as _, Plain as _, Single as _};
            (&&&#m::source(#value)).required().and_then(|v| #m::list(v))
        }),
        (Direction::From, "map", Some(_)) => quote!({
            #[allow(unused_imports)]
            use #m::{Nested as _, Plain as _, Single as _};
            (&&&#m::source(#value)).required().and_then(|v| #m::map(v))
        }),
        (Direction::From, _, _) => quote!({
            #[allow(unused_imports)]
            use #m::{Nested as _, Plain as _, Single as _};
            (&&&#m::source(#value)).required().and_then(#m::convert::<_, #ty>)
        }),
        (Direction::Into, "option", Some(_)) => {
            quote!(#value.map(#m::convert).transpose())
        }
        (Direction::Into, "vec", Some(_)) => quote!(#m::list(#value)),
        (Direction::Into, "map", Some(_)) => quote!(#m::map(#value)),
        (Direction::Into, _, _) => quote!(#m::convert(#value)),
    }
}

pub fn derive(input: DeriveInput, dir: Direction) -> TokenStream {
    let mut errors = Errors::default();
    let c = container_attrs(&input, dir, &mut errors);
    let domain = &input.ident;
    let Some(boundary) = c.boundary.clone() else {
        return errors.to_compile_errors();
    };
    let root = acl_codegen::lower::names::snake(
        &boundary
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        "value",
    );
    let body = match &input.data {
        Data::Struct(s) => structure(&s.fields, &c, &boundary, dir, &mut errors),
        Data::Enum(e) => enumeration(e, &c, &boundary, domain, dir, &mut errors),
        Data::Union(u) => {
            errors.push(u.union_token.span, "unions cannot be mapped");
            TokenStream::new()
        }
    };
    let compile_errors = errors.to_compile_errors();
    // On error, an impl that compiles keeps the user's other code free of follow-up
    // errors; the `compile_error!`s say what is wrong.
    let body = if errors.is_empty() {
        body
    } else {
        // Never runs (the crate does not compile), but returns an error rather than panic.
        quote!(::std::result::Result::Err(
            ::acl_runtime::__private::MappingError::unmapped("the mapping did not compile")
        ))
    };
    let (from, to) = match dir {
        Direction::From => (quote!(#boundary), quote!(#domain)),
        Direction::Into => (quote!(#domain), quote!(#boundary)),
    };
    let m = quote!(::acl_runtime::__private);
    quote! {
        #compile_errors
        const _: () = {
            impl ::std::convert::TryFrom<#from> for #to {
                type Error = #m::MappingError;
                #[allow(unused_variables, unreachable_code, unreachable_patterns, clippy::needless_question_mark)]
                fn try_from(value: #from) -> ::std::result::Result<Self, #m::MappingError> {
                    (|| -> ::std::result::Result<Self, #m::MappingError> { #body })()
                        .map_err(|e| e.rooted(#root))
                }
            }
        };
    }
}

fn structure(
    fields: &Fields,
    c: &Container,
    boundary: &Path,
    dir: Direction,
    errors: &mut Errors,
) -> TokenStream {
    let Fields::Named(named) = fields else {
        errors.push(fields.span(), "map structs with named fields");
        return TokenStream::new();
    };
    let mut pattern = Vec::new();
    let mut inits = Vec::new();
    let mut used = Vec::<String>::new();
    for f in &named.named {
        let attrs = field_attrs(&f.attrs, errors);
        let fname = f.ident.clone().expect("named");
        if attrs.default.is_some() || attrs.skip.is_some() {
            if dir == Direction::From {
                inits.push(quote!(#fname: ::std::default::Default::default(),));
            }
            continue;
        }
        // A value object from several boundary fields (and back into them).
        let many = match dir {
            Direction::From => !attrs.from_many.is_empty(),
            Direction::Into => !attrs.into_many.is_empty(),
        };
        let other_way = match dir {
            Direction::From => !attrs.into_many.is_empty(),
            Direction::Into => !attrs.from_many.is_empty(),
        };
        if other_way && !many {
            let (this, needs) = match dir {
                Direction::From => ("FromBoundary", "from(a, b), with = Type::new"),
                Direction::Into => ("IntoBoundary", "into(a = Type::a, b = Type::b)"),
            };
            errors.push(
                attrs.many_span.unwrap_or(fname.span()),
                format!("`{fname}` maps several boundary fields one way only: {this} needs `#[acl({needs})]` too"),
            );
            continue;
        }
        if many {
            let names: Vec<Ident> = match dir {
                Direction::From => attrs.from_many.clone(),
                Direction::Into => attrs.into_many.iter().map(|(n, _)| n.clone()).collect(),
            };
            let seg = format!(
                "{{{}}}",
                names
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            for n in &names {
                if used.contains(&n.to_string()) {
                    errors.push(n.span(), format!("boundary field `{n}` is mapped twice"));
                }
                used.push(n.to_string());
            }
            let m = quote!(::acl_runtime::__private::mapping);
            match dir {
                Direction::From => {
                    let Some(with) = &attrs.with else {
                        errors.push(
                            attrs.many_span.unwrap_or(fname.span()),
                            format!("`{fname}` is made from several boundary fields: name the function that makes it, `with = Type::new` (its arguments in the order of `from(...)`)"),
                        );
                        continue;
                    };
                    let vars: Vec<Ident> =
                        names.iter().map(|n| format_ident!("__b_{}", n)).collect();
                    for (n, v) in names.iter().zip(&vars) {
                        pattern.push(quote_spanned!(n.span()=> #n: #v,));
                    }
                    inits.push(quote!(#fname: ({
                        #[allow(unused_imports)]
                        use #m::Infallible as _;
                        #m::Out(#with(#(#vars),*)).mapped()
                    }).map_err(|e| e.at(#seg))?,));
                }
                Direction::Into => {
                    for (n, f) in &attrs.into_many {
                        let at = n.to_string();
                        inits.push(quote_spanned!(n.span()=> #n: ({
                            #[allow(unused_imports)]
                            use #m::Infallible as _;
                            #m::Out(#f(&value.#fname)).mapped()
                        }).map_err(|e| e.at(#at))?,));
                    }
                }
            }
            continue;
        }
        // The boundary field, spanned at the domain side so a wrong name is reported there.
        let (bname, span) = match &attrs.from {
            Some(l) => (Ident::new(&l.value(), l.span()), l.span()),
            None => (Ident::new(&fname.to_string(), fname.span()), fname.span()),
        };
        if used.contains(&bname.to_string()) {
            errors.push(span, format!("boundary field `{bname}` is mapped twice"));
            continue;
        }
        used.push(bname.to_string());
        let seg = bname.to_string();
        let ty = &f.ty;
        match dir {
            Direction::From => {
                let var = format_ident!("__b_{}", bname);
                pattern.push(quote_spanned!(span=> #bname: #var,));
                let conv = conversion(&quote!(#var), ty, dir, attrs.with.as_ref());
                inits.push(quote!(#fname: (#conv).map_err(|e| e.at(#seg))?,));
            }
            Direction::Into => {
                let conv = conversion(&quote!(value.#fname), ty, dir, attrs.with.as_ref());
                inits.push(quote_spanned!(span=> #bname: (#conv).map_err(|e| e.at(#seg))?,));
            }
        }
    }
    for ignored in &c.ignore {
        if used.contains(&ignored.to_string()) {
            errors.push(ignored.span(), format!("`{ignored}` is ignored and mapped"));
        }
        match dir {
            Direction::From => pattern.push(quote!(#ignored: _,)),
            Direction::Into => inits.push(quote!(#ignored: ::std::default::Default::default(),)),
        }
    }
    match dir {
        Direction::From => {
            // `deny_unmapped`: a struct literal of the boundary type, never evaluated,
            // with every field the mapping uses or ignores; the compiler names each one
            // it leaves out ("missing field `livemode` in initializer of `Charge`"), at
            // `deny_unmapped`. (A pattern without `..` would say the same, with
            // suggestions to edit the attribute into a pattern.)
            let coverage = c.deny_unmapped.map(|at| {
                let names = used
                    .iter()
                    .map(|u| Ident::new(u, at))
                    .chain(c.ignore.iter().map(|i| Ident::new(&i.to_string(), at)));
                let path: TokenStream = boundary
                    .to_token_stream()
                    .into_iter()
                    .map(|mut t| {
                        t.set_span(at);
                        t
                    })
                    .collect();
                quote_spanned!(at=>
                    let _ = || -> #path {
                        #path { #(#names: ::std::unreachable!(),)* }
                    };
                )
            });
            quote! {
                #coverage
                let #boundary { #(#pattern)* .. } = value;
                Ok(Self { #(#inits)* })
            }
        }
        Direction::Into => quote!(Ok(#boundary { #(#inits)* })),
    }
}

fn enumeration(
    e: &syn::DataEnum,
    c: &Container,
    boundary: &Path,
    domain: &Ident,
    dir: Direction,
    errors: &mut Errors,
) -> TokenStream {
    let mut arms = Vec::new();
    for v in &e.variants {
        let attrs = field_attrs(&v.attrs, errors);
        if !matches!(v.fields, Fields::Unit) {
            errors.push(v.span(), "FromBoundary/IntoBoundary map enums of unit variants (the contract's string enums)");
            continue;
        }
        let dv = &v.ident;
        let is_unknown_target = c
            .unknown
            .as_ref()
            .and_then(|p| p.segments.last())
            .is_some_and(|s| s.ident == *dv);
        if attrs.skip.is_some() || (is_unknown_target && dir == Direction::From) {
            if dir == Direction::Into {
                arms.push(quote!(#domain::#dv => Err(::acl_runtime::__private::MappingError::unmapped(stringify!(#dv))),));
            }
            continue;
        }
        let (bv, span) = match &attrs.from {
            Some(l) => (Ident::new(&l.value(), l.span()), l.span()),
            None => (dv.clone(), dv.span()),
        };
        let bpath = quote_spanned!(span=> #boundary::#bv);
        arms.push(match dir {
            Direction::From => quote!(#bpath => Ok(#domain::#dv),),
            Direction::Into => quote!(#domain::#dv => Ok(#bpath),),
        });
    }
    if let (Direction::From, Some(unknown)) = (dir, &c.unknown) {
        arms.push(quote!(_ => Ok(#unknown),));
    }
    // Without `unknown = …`, an open boundary enum (a generated one keeps values the
    // contract does not list) gets an error that says so, at the boundary type, next to
    // rustc's non-exhaustive match.
    let probe = match (dir, &c.unknown) {
        (Direction::From, None) => {
            let m = quote!(::acl_runtime::__private::mapping);
            let span = boundary.span();
            quote_spanned! {span=>
                {
                    #[allow(unused_imports)]
                    use #m::{ViaAny as _, ViaOpen as _};
                    #m::require_unknown_mapped(
                        (&#m::UnknownProbe::<#boundary>(::std::marker::PhantomData)).unknown_probe(),
                    );
                }
            }
        }
        _ => TokenStream::new(),
    };
    // Exhaustive: a boundary variant (or the fallback for unknown values) left out is a
    // compile error at the boundary type's name.
    let m = quote_spanned!(boundary.span()=> match);
    let scrutinee = Ident::new("value", boundary.span());
    quote!(#probe #m #scrutinee { #(#arms)* })
}
