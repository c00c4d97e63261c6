//! Every metric the runtime emits is listed in the README's observability table (a metric
//! nobody can find is an unmonitored one), and so is every span.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The string literals of `text` that start with `prefix`.
fn literals<'t>(text: &'t str, prefix: &str) -> Vec<&'t str> {
    let mut out = Vec::new();
    let needle = format!("\"{prefix}");
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        let after = &rest[i + 1..];
        let end = after.find('"').unwrap_or(after.len());
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

#[test]
fn every_metric_and_span_is_in_the_readme_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    let mut texts = Vec::new();
    sources(&root.join("src"), &mut texts);
    let mut names: Vec<&str> = texts
        .iter()
        .flat_map(|t| literals(t, "acl_"))
        .filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_') && n.len() > 6)
        .filter(|n| {
            n.ends_with("_total")
                || n.ends_with("_seconds")
                || n.ends_with("_state")
                || n.ends_with("_items")
                || n.ends_with("_calls")
        })
        .collect();
    names.extend(
        texts
            .iter()
            .flat_map(|t| literals(t, "acl."))
            .filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '.') && n.len() > 4),
    );
    names.sort();
    names.dedup();
    assert!(names.len() >= 25, "found only {names:?}");
    let missing: Vec<&&str> = names
        .iter()
        .filter(|n| !readme.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the README's observability table: {missing:?}"
    );
}
