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
                || n.ends_with("_deliveries")
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

/// Every string literal of `text` (no escapes inside: metric and label names have none).
fn all_literals(text: &str) -> Vec<&str> {
    text.split('"').skip(1).step_by(2).collect()
}

/// Every metric the Grafana dashboard queries is one the runtime emits, and every label
/// it groups or filters by is one the runtime sets (written as Prometheus exporters write
/// it: dots as `_`). A dashboard panel that can never show data is worse than none.
#[test]
fn every_metric_and_label_the_grafana_dashboard_queries_is_emitted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("../examples/grafana/acl-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut texts = Vec::new();
    sources(&root.join("src"), &mut texts);
    let emitted: std::collections::BTreeSet<String> = texts
        .iter()
        .flat_map(|t| all_literals(t))
        .map(|l| l.replace('.', "_"))
        .collect();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 14, "{exprs:?}");
    let mut metrics = 0;
    for expr in &exprs {
        // Metric names: `acl_…` words.
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !word.starts_with("acl_") || word == "acl_system" || word == "acl_operation" {
                continue;
            }
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .filter(|b| emitted.contains(*b))
                .unwrap_or(word);
            assert!(
                emitted.contains(base),
                "`{word}` in `{expr}` is not emitted"
            );
            metrics += 1;
        }
        // Labels: inside `by (...)` and before `=`, `!=`, `=~` in selectors.
        let mut labels = Vec::new();
        for part in expr.split("by (").skip(1) {
            labels.extend(part.split(')').next().unwrap().split(',').map(str::trim));
        }
        for sel in expr.split('{').skip(1) {
            for m in sel.split('}').next().unwrap().split(',') {
                if let Some(name) = m.split(['=', '!']).next() {
                    labels.push(name.trim());
                }
            }
        }
        for label in labels.into_iter().filter(|l| !l.is_empty() && *l != "le") {
            assert!(
                emitted.contains(label),
                "label `{label}` in `{expr}` is set by no metric"
            );
        }
    }
    assert!(metrics >= 14);
}
