//! Doc comments from contract text, made safe for rustdoc: fenced code blocks become
//! `text` blocks and indented blocks are flattened, so that examples in a vendor's
//! descriptions never run as doctests.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::Docs;

/// Cleans one description for rustdoc.
pub fn sanitize(text: &str) -> String {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            if in_fence {
                out.push("```".to_string());
            } else {
                out.push("```text".to_string());
            }
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push(line.to_string());
        } else {
            out.push(trimmed.trim_end().to_string());
        }
    }
    if in_fence {
        out.push("```".to_string());
    }
    out.join("\n")
}

/// `#[doc]` attributes for documentation, with optional extra lines.
pub fn doc_attrs(docs: &Docs, extra: &[String]) -> TokenStream {
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = &docs.title {
        parts.push(sanitize(t));
    }
    if let Some(d) = &docs.description {
        if docs.title.as_deref() != Some(d.as_str()) {
            parts.push(sanitize(d));
        }
    }
    parts.extend(extra.iter().cloned());
    if parts.is_empty() {
        return TokenStream::new();
    }
    let text = parts.join("\n\n");
    let lines = text.lines().map(|l| format!(" {l}"));
    let deprecated = if docs.deprecated {
        quote!(#[deprecated])
    } else {
        TokenStream::new()
    };
    quote! { #(#[doc = #lines])* #deprecated }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_never_becomes_a_doctest() {
        let s = sanitize("Example:\n```json\n{\"a\": 1}\n```\n\n    let x = 1;\nunclosed\n```");
        assert!(s.contains("```text\n{\"a\": 1}\n```"));
        assert!(s.contains("\nlet x = 1;"));
        assert!(s.ends_with("```text\n```"));
    }
}
