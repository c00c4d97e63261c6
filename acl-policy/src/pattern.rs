//! Contract `pattern`s (ECMA-262 regular expressions) as acl enforces them: one
//! translation and one engine, so the generator's warning about a pattern that does not
//! compile and the runtime's check agree.

/// Compiles a contract pattern as the runtime enforces it (fancy-regex, with ECMA-262's
/// ASCII-only `\d`/`\w`; backtracking is bounded by the engine's limit, which refuses
/// hostile input rather than hanging).
pub fn compile(pattern: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::Regex::new(&translate_ecma(pattern)).map_err(|e| e.to_string())
}

/// ECMA-262 regular expressions differ from Rust's in a few escapes that contracts use:
/// `\d` and `\w` are ASCII-only there, and `\cX`/`\/` need rewriting.
pub fn translate_ecma(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[A-Za-z0-9_]"),
                Some('W') => out.push_str("[^A-Za-z0-9_]"),
                Some('/') => out.push('/'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            }
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ecma_classes_are_ascii_and_bad_patterns_say_why() {
        let r = super::compile(r"^\d+$").unwrap();
        assert!(r.is_match("123").unwrap());
        assert!(
            !r.is_match("١٢٣").unwrap(),
            "Arabic-Indic digits are not \\d in ECMA-262"
        );
        assert!(super::compile("([a-z]").unwrap_err().contains("paren"));
    }
}
