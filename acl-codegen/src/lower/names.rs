//! Rust names from contract names: readable, valid, unique, and the same on every run.

use std::collections::HashSet;

use heck::{ToSnakeCase, ToUpperCamelCase};

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Spells out symbols that carry meaning, so that `reactions-+1` and `reactions--1`
/// stay apart (`ReactionsPlus1`, `ReactionsMinus1`) instead of both becoming `Reactions1`.
fn spell_symbols(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let chars: Vec<char> = raw.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let word = match c {
            '+' => Some("plus"),
            '*' => Some("star"),
            '@' => Some("at"),
            '%' => Some("percent"),
            '&' => Some("and"),
            '=' => Some("eq"),
            '<' => Some("lt"),
            '>' => Some("gt"),
            '!' => Some("not"),
            '#' => Some("hash"),
            '$' => Some("dollar"),
            '|' => Some("or"),
            '-' => {
                let next_digit = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
                let after_separator = i == 0 || !chars[i - 1].is_alphanumeric();
                (next_digit && after_separator).then_some("minus")
            }
            _ => None,
        };
        match word {
            Some(w) => {
                out.push(' ');
                out.push_str(w);
                out.push(' ');
            }
            None => out.push(c),
        }
    }
    out
}

/// An UpperCamelCase type or variant name; `fallback` when nothing readable is left.
pub fn camel(raw: &str, fallback: &str) -> String {
    let mut s = spell_symbols(raw).to_upper_camel_case();
    s.retain(|c| c.is_alphanumeric() || c == '_');
    if s.is_empty() {
        return fallback.to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'V');
    }
    if s == "Self" {
        s.push('_');
    }
    s
}

/// A snake_case field, parameter or method name, never a keyword.
pub fn snake(raw: &str, fallback: &str) -> String {
    let mut s = spell_symbols(raw).to_snake_case();
    s.retain(|c| c.is_alphanumeric() || c == '_');
    if s.is_empty() || s == "_" {
        return fallback.to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// A set of names already given out; later claims of a taken name get a number.
#[derive(Debug, Default, Clone)]
pub struct Namespace {
    taken: HashSet<String>,
}

impl Namespace {
    /// A namespace where `reserved` names are already taken.
    pub fn with_reserved(reserved: &[&str]) -> Self {
        Self {
            taken: reserved.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Claims `base`, or `base2`, `base3`, ... (`base_2` for snake_case names).
    pub fn claim(&mut self, base: &str) -> String {
        if self.taken.insert(base.to_string()) {
            return base.to_string();
        }
        let snake = base.starts_with(|c: char| c.is_lowercase() || c == '_');
        for n in 2.. {
            let candidate = if snake {
                format!("{base}_{n}")
            } else {
                format!("{base}{n}")
            };
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
        unreachable!("an unbounded range always yields a free name")
    }

    /// Whether `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_keep_names_apart() {
        assert_eq!(camel("reactions-+1", "V"), "ReactionsPlus1");
        assert_eq!(camel("reactions--1", "V"), "ReactionsMinus1");
        assert_eq!(camel("+1", "V"), "Plus1");
        assert_eq!(camel("-1", "V"), "Minus1");
        assert_eq!(camel("application/json", "V"), "ApplicationJson");
        assert_eq!(camel("*/*", "V"), "StarStar");
    }

    #[test]
    fn names_are_valid_idents() {
        assert_eq!(camel("200", "V"), "V200");
        assert_eq!(camel("", "Empty"), "Empty");
        assert_eq!(camel("Self", "V"), "Self_");
        assert_eq!(snake("type", "f"), "type_");
        assert_eq!(snake("self", "f"), "self_");
        assert_eq!(snake("2fa-enabled", "f"), "_2fa_enabled");
        assert_eq!(snake("$ref", "f"), "dollar_ref");
        assert_eq!(snake("créé", "f"), "créé");
        assert_eq!(snake("---", "field"), "field");
    }

    #[test]
    fn collisions_get_numbers() {
        let mut ns = Namespace::default();
        assert_eq!(ns.claim("Pet"), "Pet");
        assert_eq!(ns.claim("Pet"), "Pet2");
        assert_eq!(ns.claim("id"), "id");
        assert_eq!(ns.claim("id"), "id_2");
    }
}
