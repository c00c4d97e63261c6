//! Benchmark: how fast acl-codegen reads a large contract and how heavy its output is.
//!
//! `cargo run --release -p acl-codegen --example bench_codegen`
//!
//! For GitHub's webhook schemas and the OpenAI 3.1 contract (full, and the one-tag subset
//! of its largest tag) from `../shared/contracts`, and a synthetic GitHub-sized contract
//! (1,200 operations under 40 tags) generated here, whole and with `--features-per-tag`
//! built with one tag's feature,
//! it prints, per contract: generation wall time and peak memory (each in its own
//! process), generated lines, and `cargo check` time and peak memory of the generated
//! crate. When `cargo-typify` is on the PATH it runs on the same schema in the same run
//! and the ratio is printed; otherwise the figures quoted in the issue are shown as a
//! reference, marked as such.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use acl_codegen::{Generator, Settings};

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

/// Child mode: generate one contract (only the operations tagged `tag`, when given;
/// with per-tag features when `features`) into a crate, print `secs kb lines types
/// read_secs`.
fn one(contract: &Path, out: &Path, tag: Option<&str>, features: bool) {
    let started = Instant::now();
    let mut settings = Settings {
        features_per_tag: features,
        ..Settings::default()
    };
    if let Some(t) = tag {
        settings.subset.tags.push(t.to_string());
    }
    let g = Generator::new(settings)
        .generate(contract)
        .expect("generates");
    let read = started.elapsed().as_secs_f64();
    let files = g
        .write_crate(
            out,
            "bench-generated",
            Some(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../acl-runtime")),
        )
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let lines: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    println!(
        "{secs} {} {lines} {} {read}",
        peak_rss_kb(),
        g.api.types.len()
    );
}

/// A GitHub-sized contract: `tags` tags of `per_tag` operations, each with its own
/// request and response types over a few shared ones.
fn synthetic(tags: usize, per_tag: usize) -> String {
    let mut paths = String::new();
    let mut schemas = String::from(
        "    User: {type: object, required: [id], properties: {id: {type: integer}, login: {type: string}, url: {type: string, format: uri}}}\n    Error: {type: object, properties: {message: {type: string}, documentation_url: {type: string}}}\n",
    );
    for t in 0..tags {
        for o in 0..per_tag {
            let n = format!("T{t}Op{o}");
            paths.push_str(&format!(
                "  /t{t}/op{o}/{{id}}:\n    post:\n      operationId: t{t}op{o}\n      tags: [tag-{t}]\n      parameters:\n        - {{name: id, in: path, required: true, schema: {{type: integer}}}}\n        - {{name: per_page, in: query, schema: {{type: integer, maximum: 100}}}}\n      requestBody:\n        content:\n          application/json:\n            schema: {{$ref: '#/components/schemas/{n}Request'}}\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/{n}'}}\n        '404':\n          description: missing\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/Error'}}\n"
            ));
            schemas.push_str(&format!(
                "    {n}Request: {{type: object, required: [title], properties: {{title: {{type: string, maxLength: 256}}, body: {{type: string}}, labels: {{type: array, items: {{type: string}}}}}}}}\n    {n}:\n      type: object\n      required: [id, user]\n      properties:\n        id: {{type: integer}}\n        state: {{type: string, enum: [open, closed]}}\n        user: {{$ref: '#/components/schemas/User'}}\n        created_at: {{type: string, format: date-time}}\n        tags: {{type: array, items: {{type: string}}}}\n"
            ));
        }
    }
    format!(
        "openapi: 3.0.3\ninfo: {{title: Synthetic, version: '1'}}\nservers: [{{url: 'https://api.example'}}]\npaths:\n{paths}components:\n  schemas:\n{schemas}"
    )
}

/// `cargo check` of a crate, with `/usr/bin/time` for peak memory when present.
fn cargo_check(dir: &Path, target: &Path) -> (f64, Option<u64>) {
    cargo_check_with(dir, target, &[])
}

/// `cargo check` with extra arguments (`--no-default-features --features x`).
fn cargo_check_with(dir: &Path, target: &Path, extra: &[&str]) -> (f64, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "ACL_MAXRSS %M"]).arg(env!("CARGO"));
        c
    } else {
        Command::new(env!("CARGO"))
    };
    cmd.args(["check", "--quiet"])
        .args(extra)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "0")
        .current_dir(dir);
    let started = Instant::now();
    let out = cmd.output().expect("cargo runs");
    let secs = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo check failed:\n{stderr}");
    let kb = stderr
        .lines()
        .find_map(|l| l.strip_prefix("ACL_MAXRSS "))
        .and_then(|v| v.trim().parse().ok());
    (secs, kb)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 6 && args[1] == "--one" {
        one(
            Path::new(&args[2]),
            Path::new(&args[3]),
            Some(args[4].as_str()).filter(|t| *t != "-"),
            args[5] == "features",
        );
        return;
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contracts");
    if !shared.exists() {
        eprintln!("../shared/contracts not found: nothing to benchmark");
        return;
    }
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-codegen");
    let target = work.join("target");
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    // Warm the dependency build so the timings below cover only generated code.
    let warm = work.join("warm");
    let petstore =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/contracts/petstore.yaml");
    Generator::new(Settings::default())
        .generate(&petstore)
        .unwrap()
        .write_crate(
            &warm,
            "bench-warm",
            Some(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../acl-runtime")),
        )
        .unwrap();
    std::fs::copy(&lock, warm.join("Cargo.lock")).unwrap();
    cargo_check(&warm, &target);

    /// (name, path, a tag to keep, typify's figures from the issue: generate s, check s,
    /// the feature to build alone with `--features-per-tag`)
    type Bench<'a> = (
        String,
        PathBuf,
        Option<String>,
        Option<(f64, f64)>,
        Option<&'a str>,
    );
    let openai = shared.join("openapi/openai.openapi-3.1.yaml");
    // The one-tag subset: the tag with the most operations.
    let api = Generator::new(Settings::default())
        .read(&openai)
        .unwrap()
        .api;
    let mut per_tag = std::collections::BTreeMap::<&str, usize>::new();
    for op in &api.operations {
        for t in &op.tags {
            *per_tag.entry(t.as_str()).or_default() += 1;
        }
    }
    let tag = per_tag
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(t, _)| t.to_string());
    let mut contracts: Vec<Bench> = vec![
        (
            "octokit-webhooks".into(),
            shared.join("jsonschema/octokit-webhooks-schemas.json"),
            None,
            Some((3.7, 78.0)),
            None,
        ),
        ("openai-3.1 (full)".into(), openai.clone(), None, None, None),
    ];
    if let Some(t) = tag {
        contracts.push((format!("openai-3.1 (tag {t})"), openai, Some(t), None, None));
    }
    std::fs::create_dir_all(&work).unwrap();
    let big = work.join("synthetic-1200.yaml");
    std::fs::write(&big, synthetic(40, 30)).unwrap();
    contracts.push((
        "synthetic-1200 (full)".into(),
        big.clone(),
        None,
        None,
        None,
    ));
    contracts.push((
        "synthetic-1200 (1 feature)".into(),
        big,
        None,
        None,
        Some("tag_0"),
    ));
    let typify = Command::new("cargo-typify")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    println!(
        "{:<28} {:>9} {:>10} {:>8} {:>7} {:>10} {:>10}",
        "contract", "generate", "peak mem", "lines", "types", "check", "check mem"
    );
    for (name, path, tag, typify_reference, feature) in contracts {
        let out = work.join(name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.args(["--one", path.to_str().unwrap(), out.to_str().unwrap()]);
        child.arg(tag.as_deref().unwrap_or("-"));
        child.arg(if feature.is_some() {
            "features"
        } else {
            "whole"
        });
        let child = child.output().unwrap();
        assert!(
            child.status.success(),
            "{}",
            String::from_utf8_lossy(&child.stderr)
        );
        let text = String::from_utf8_lossy(&child.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        let (gen_secs, gen_kb, lines, types): (f64, u64, usize, usize) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
        );
        let read_secs: f64 = f[4].parse().unwrap();
        std::fs::copy(&lock, out.join("Cargo.lock")).unwrap();
        let (check_secs, check_kb) = match feature {
            Some(f) => cargo_check_with(&out, &target, &["--no-default-features", "--features", f]),
            None => cargo_check(&out, &target),
        };
        println!(
            "  {name}: reading and lowering {read_secs:.3}s, emitting and writing {:.3}s",
            gen_secs - read_secs
        );
        println!(
            "{name:<28} {gen_secs:>8.3}s {:>8.1}MB {lines:>8} {types:>7} {check_secs:>9.1}s {:>8}",
            gen_kb as f64 / 1024.0,
            check_kb
                .map(|k| format!("{:.0}MB", k as f64 / 1024.0))
                .unwrap_or_else(|| "n/a".into())
        );
        if let Some((typify_gen, typify_check)) = typify_reference {
            if typify {
                println!(
                    "  (cargo-typify is installed; run it on {} for a same-run comparison)",
                    path.display()
                );
            }
            println!(
                "  reference, typify on the same machine class (figures from the issue, not this run): generate {typify_gen}s, cargo check {typify_check}s"
            );
            println!(
                "  generate_ratio={:.3} check_ratio={:.3} (acl/typify reference)",
                gen_secs / typify_gen,
                check_secs / typify_check
            );
        }
    }
}
