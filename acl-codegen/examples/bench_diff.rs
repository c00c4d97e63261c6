//! Benchmark: `diff` on the largest dev contract (OpenAI 3.1) against itself with 1% of
//! its schemas mutated (a required property made optional, or an enum value added).
//!
//! `cargo run --release -p acl-codegen --example bench_diff`

use std::path::Path;
use std::time::Instant;

use acl_codegen::diff::compare;
use acl_codegen::ir::TypeKind;
use acl_codegen::{Generator, Settings};

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/contracts/openapi/openai.openapi-3.1.yaml");
    if !path.exists() {
        eprintln!("{} not found: nothing to benchmark", path.display());
        return;
    }
    let started = Instant::now();
    let old = Generator::new(Settings::default()).read(&path).unwrap().api;
    let read = started.elapsed();
    let mut new = old.clone();
    let every = 100;
    let mut mutated = 0;
    for (i, def) in new.types.values_mut().enumerate() {
        if i % every != 0 {
            continue;
        }
        match &mut def.kind {
            TypeKind::Struct(s) => {
                if let Some(f) = s.fields.iter_mut().find(|f| f.required) {
                    f.required = false;
                    mutated += 1;
                }
            }
            TypeKind::Enum(e) => {
                if let Some(v) = e.variants.first().cloned() {
                    let mut v = v;
                    v.value = serde_json::json!("acl-bench-new-value");
                    v.name = "AclBenchNewValue".into();
                    e.variants.push(v);
                    mutated += 1;
                }
            }
            _ => {}
        }
    }
    let runs = 5;
    let mut best = f64::MAX;
    let mut found = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let changes = compare(&old, &new);
        best = best.min(t.elapsed().as_secs_f64());
        found = changes.len();
    }
    let t = Instant::now();
    let same = compare(&old, &old).len();
    let identical = t.elapsed().as_secs_f64();
    println!(
        "openai-3.1: {} types, {} operations; read {:.2}s (once per version)",
        old.types.len(),
        old.operations.len(),
        read.as_secs_f64()
    );
    println!(
        "mutated {mutated} schemas (1%): diff {:.1} ms (best of {runs}), {found} changes reported",
        best * 1000.0
    );
    println!(
        "identical: diff {:.1} ms, {same} changes",
        identical * 1000.0
    );
}
