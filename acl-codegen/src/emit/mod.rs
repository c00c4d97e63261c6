//! Emission: from the IR to Rust tokens, formatted with prettyplease.
//!
//! Emitters read only the IR. Generated code names its dependencies through
//! `::acl_runtime::__private`, never through the user's imports.

pub mod client;
pub mod docs;
pub mod events;
pub mod features;
pub mod graph;
pub mod types;

use proc_macro2::TokenStream;

/// Choices that change the emitted code.
#[derive(Debug, Clone)]
pub struct EmitOptions<'a> {
    /// Derive `schemars::JsonSchema` (through `acl_runtime`'s `schemars` feature).
    pub schemars: bool,
    /// Embed the contract's documents (and `BoundarySchema` impls) for raw validation.
    pub embed_contract: bool,
    /// Per-tag feature gates (`--features-per-tag`).
    pub gates: Option<&'a features::Gates>,
}

impl Default for EmitOptions<'_> {
    fn default() -> Self {
        Self {
            schemars: false,
            embed_contract: true,
            gates: None,
        }
    }
}

/// Formats tokens as a Rust file.
pub fn format_file(tokens: TokenStream) -> Result<String, syn::Error> {
    let file: syn::File = syn::parse2(tokens)?;
    Ok(prettyplease::unparse(&file))
}

/// A Rust string literal for `s`, as `quote!` writes one.
pub(crate) fn string_literal(s: &str) -> String {
    proc_macro2::Literal::string(s).to_string()
}

/// Tokens of a type, path or expression as compact text (`::std::option::Option<T>`,
/// `__f0.unwrap_or_else(X::y)`), for code written out as text: no space around `::`,
/// `<`, `>`, `.`, `(`, `)`, one after `,`, and around `=`, `=>` and `?:`-free binary
/// operators only where a word would otherwise run into the next.
pub(crate) fn text_of(tokens: &TokenStream) -> String {
    use proc_macro2::{Delimiter, Spacing, TokenTree};
    fn go(tokens: TokenStream, out: &mut String) {
        // Whether the last thing written was a word (an identifier or a literal).
        let mut word = false;
        for tt in tokens {
            match tt {
                TokenTree::Ident(i) => {
                    if word {
                        out.push(' ');
                    }
                    out.push_str(&i.to_string());
                    word = true;
                }
                TokenTree::Literal(l) => {
                    if word {
                        out.push(' ');
                    }
                    out.push_str(&l.to_string());
                    word = true;
                }
                TokenTree::Punct(p) => {
                    let c = p.as_char();
                    match c {
                        ',' => out.push_str(", "),
                        '=' if p.spacing() == Spacing::Alone
                            && !out.ends_with(['=', '!', '<', '>']) =>
                        {
                            out.push_str(" = ")
                        }
                        '>' if out.ends_with('=') && !out.ends_with(" = ") => {
                            // `=>`
                            out.pop();
                            out.push_str(" => ");
                        }
                        _ => out.push(c),
                    }
                    word = false;
                }
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::Brace => ("{ ", " }"),
                        Delimiter::None => ("", ""),
                    };
                    if word && g.delimiter() == Delimiter::Brace {
                        out.push(' ');
                    }
                    out.push_str(open);
                    go(g.stream(), out);
                    out.push_str(close);
                    word = false;
                }
            }
        }
    }
    let mut out = String::new();
    go(tokens.clone(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn text_of_writes_types_and_simple_expressions_compactly() {
        let cases = [
            (
                quote!(::std::option::Option<::std::collections::BTreeMap<::std::string::String, __acl::serde_json::Value>>),
                "::std::option::Option<::std::collections::BTreeMap<::std::string::String, __acl::serde_json::Value>>",
            ),
            (quote!(__f0.unwrap_or_else(Pet::__default_kind)), "__f0.unwrap_or_else(Pet::__default_kind)"),
            (quote!(__acl::fields::required(__f1, "a \" b")?), "__acl::fields::required(__f1, \"a \\\" b\")?"),
            (quote!(::std::boxed::Box<r#type>), "::std::boxed::Box<r#type>"),
            (quote!((i64, ::std::string::String)), "(i64, ::std::string::String)"),
            (quote!(#[cfg(feature = "issues")]), "#[cfg(feature = \"issues\")]"),
        ];
        for (tokens, text) in cases {
            assert_eq!(super::text_of(&tokens), text);
            // And it is Rust: it parses back to the same tokens (spacing aside).
            let back: proc_macro2::TokenStream = text.parse().unwrap();
            let bare = |t: proc_macro2::TokenStream| t.to_string().replace(' ', "");
            assert_eq!(bare(back), bare(tokens));
        }
    }
}
