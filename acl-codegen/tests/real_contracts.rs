//! Every real vendor contract in `../shared/contracts` (OpenAPI 3.0/3.1, Swagger 2.0 and
//! the standalone JSON Schemas, not the test suite) generates with no error, and the
//! generated crate passes `cargo check`. Skipped, with a message, when the folder is
//! absent. Prints, per contract: generation time, lines, and `cargo check` time and
//! peak memory. Every OpenAPI contract's crate includes its full client.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use acl_codegen::{Generator, Settings};

fn shared_contracts() -> Option<PathBuf> {
    let dir = match std::env::var_os("ACL_SHARED_CONTRACTS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contracts"),
    };
    dir.join("MANIFEST.tsv").exists().then_some(dir)
}

fn contract_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("openapi"), root.join("jsonschema")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("JSON-Schema-Test-Suite") {
                    stack.push(path);
                }
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("json" | "yaml" | "yml")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
#[ignore = "needs ../shared/contracts (.ci/run runs it; several minutes)"]
fn every_real_contract_generates_and_compiles() {
    let Some(root) = shared_contracts() else {
        panic!("needs ../shared/contracts (or ACL_SHARED_CONTRACTS), which is not there");
    };
    let files = contract_files(&root);
    assert!(
        files.len() >= 10,
        "expected the dev contracts, found {}",
        files.len()
    );
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-contracts");
    let target = work.join("target");
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../acl-runtime");
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for file in &files {
        let name: String = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let started = Instant::now();
        let generated = match Generator::new(Settings::default()).generate(file) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let dir = work.join(&name);
        let written = generated
            .write_crate(
                &dir,
                &format!("real-{}", name.replace('_', "-")),
                Some(&runtime),
            )
            .unwrap();
        let generation = started.elapsed();
        let lines: usize = written
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
            .sum();
        // Same dependency versions as the workspace, so nothing new is resolved.
        std::fs::copy(&lock, dir.join("Cargo.lock")).unwrap();
        let started = Instant::now();
        // Peak memory of the check through `/usr/bin/time` when the machine has it.
        let time = Path::new("/usr/bin/time");
        let mut cmd = if time.exists() {
            let mut c = Command::new(time);
            c.args(["-f", "ACL_MAXRSS %M"]).arg(env!("CARGO"));
            c
        } else {
            Command::new(env!("CARGO"))
        };
        let out = cmd
            .args(["check", "--quiet"])
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_INCREMENTAL", "0")
            .current_dir(&dir)
            .output()
            .unwrap();
        let check = started.elapsed();
        let peak_mb = String::from_utf8_lossy(&out.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("ACL_MAXRSS "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|kb| format!("{:.0} MB", kb / 1024.0))
            .unwrap_or_else(|| "n/a".into());
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            failures.push(format!(
                "{}: generated crate does not compile:\n{}",
                file.display(),
                stderr.chars().take(4000).collect::<String>()
            ));
        }
        report.push(format!(
            "{:<55} {:>5} types {:>4} ops {:>7} lines  generate {:>6.2}s  cargo check {:>6.1}s {:>8}",
            file.strip_prefix(&root).unwrap().display(),
            generated.api.types.len(),
            generated.api.operations.len(),
            lines,
            generation.as_secs_f64(),
            check.as_secs_f64(),
            peak_mb
        ));
        // Keep the disk small: the sources are not needed once checked.
        let _ = std::fs::remove_dir_all(dir.join("src"));
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `--schemars`: generated types derive `schemars::JsonSchema` and the crate builds with
/// acl-runtime's `schemars` feature; the schema of a type can then be published.
#[test]
fn schemars_derives_compile_and_describe_the_types() {
    let contract =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/contracts/petstore.yaml");
    let settings = Settings {
        schemars: true,
        ..Settings::default()
    };
    let g = Generator::new(settings).generate(&contract).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("schemars-petstore");
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../acl-runtime");
    g.write_crate(&dir, "schemars-petstore", Some(&runtime))
        .unwrap();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\"schemars\"]"), "{manifest}");
    // A test inside the generated crate asks schemars for a schema.
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(
        dir.join("tests/schema.rs"),
        "#[test] fn schema() { let s = acl_runtime::__private::schemars::schema_for!(schemars_petstore::types::Pet); \
         let text = acl_runtime::__private::serde_json::to_string(&s).unwrap(); assert!(text.contains(\"created_at\"), \"{text}\"); }\n",
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO"))
        // Not `--offline`: on a fresh machine the schemars crates are not in the cache yet.
        .args(["test", "--quiet"])
        .env(
            "CARGO_TARGET_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-contracts/target"),
        )
        .env("CARGO_INCREMENTAL", "0")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The dev contracts that paginate: what `check` says it recognised, per operation,
/// compared with `tests/output/pagination-notes/<contract>.txt` (accept a change with
/// `ACL_UPDATE_SNAPSHOTS=1`).
#[test]
#[ignore = "needs ../shared/contracts (.ci/run runs it)"]
fn the_pagination_check_notes_of_the_dev_contracts_match_their_snapshots() {
    let Some(root) = shared_contracts() else {
        panic!("needs ../shared/contracts (or ACL_SHARED_CONTRACTS), which is not there");
    };
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/output/pagination-notes");
    let update = std::env::var_os("ACL_UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for (file, at_least) in [
        ("openai.openapi-3.1.yaml", 40),
        ("twilio_api_v2010.openapi-3.0.json", 50),
        ("digitalocean.openapi-3.0.json", 30),
        ("okta.swagger-2.0.yaml", 20),
        ("airflow.openapi-3.0.json", 15),
        ("blockfrost.openapi-3.0.yaml", 50),
    ] {
        let g = Generator::new(Settings::default())
            .read(&root.join("openapi").join(file))
            .unwrap();
        let notes: Vec<String> = g
            .diagnostics
            .items()
            .iter()
            .filter(|d| d.code == "paginated")
            .map(|d| format!("#{}: {}", d.location.pointer, d.message))
            .collect();
        assert!(
            notes.len() >= at_least,
            "{file}: only {} paginated operations recognised",
            notes.len()
        );
        let text = notes.join("\n") + "\n";
        let path = snapshots.join(format!("{file}.txt"));
        if update {
            std::fs::create_dir_all(&snapshots).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "pagination notes changed for {stale:?}: review with ACL_UPDATE_SNAPSHOTS=1 and git diff"
    );
}
