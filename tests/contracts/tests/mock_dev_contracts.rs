//! `MockVendor` with the generated clients of three real vendor contracts of different
//! shapes (OpenAPI 3.1 and large: OpenAI; 3.0 with deep recursion: Bungie; Swagger 2.0:
//! Docker): every operation, asked with `valid_request`, answers a documented success
//! whose body the generated boundary type decodes.
//!
//! Each contract becomes a crate (as `acl-codegen generate --crate` writes it) with a test
//! written from its IR, built and run with `cargo test` in one shared target folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use acl_codegen::ir::{Status, TypeRef};
use acl_codegen::{Generator, Settings};

/// Operations whose mock answer the generated client does not decode yet, and why. Each
/// is a gap in acl, not in the mock: the test fails when one more appears and when one of
/// these is fixed.
const KNOWN: &[(&str, &str)] = &[];

fn shared_contracts() -> Option<PathBuf> {
    let dir = match std::env::var_os("ACL_SHARED_CONTRACTS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/contracts"),
    };
    dir.join("MANIFEST.tsv").exists().then_some(dir)
}

/// The Rust type of a success body, when it is a named type or a list of one.
fn rust_type(ty: &TypeRef) -> Option<String> {
    match ty {
        TypeRef::Named(n) => Some(format!("types::{n}")),
        TypeRef::List(inner) => rust_type(inner).map(|t| format!("Vec<{t}>")),
        _ => None,
    }
}

/// The test written into the generated crate: one block per operation whose first 2xx
/// has a JSON body of a named type.
fn decode_test(g: &acl_codegen::Generated, krate: &str) -> (String, usize) {
    let mut blocks = String::new();
    let mut count = 0;
    for op in &g.api.operations {
        let Some(response) = op
            .responses
            .iter()
            .find(|r| matches!(r.status, Status::Code(c) if (200..300).contains(&c)))
        else {
            continue;
        };
        let Some(content) = response.contents.first() else {
            continue;
        };
        let m = content.media_type.to_ascii_lowercase();
        if !(m == "application/json" || m.ends_with("+json") || m == "*/*") {
            continue;
        }
        let Some(ty) = content.ty.as_ref().and_then(rust_type) else {
            continue;
        };
        count += 1;
        blocks.push_str(&format!(
            r#"
    let response = vendor.send(vendor.valid_request({id:?})).await.unwrap();
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {{
        failures.push(format!("{id}: {{status}} {{:?}}", response.headers().get("x-acl-mock-violation")));
    }} else if let Err(e) = acl_runtime::from_json::<{ty}>(response.body()) {{
        failures.push(format!("{id}: does not decode as {ty}: {{e}}"));
    }}
    checked += 1;
"#,
            id = op.id,
        ));
    }
    let krate = krate.replace('-', "_");
    let text = format!(
        r#"use acl_runtime::transport::Transport;
use {krate}::types;

#[tokio::test]
async fn every_operation_decodes() {{
    let vendor = acl_runtime::testing::MockVendor::new(&{krate}::client::API);
    let mut failures: Vec<String> = Vec::new();
    let mut checked = 0;
{blocks}
    for f in &failures {{
        println!("ACL_FAIL {{f}}");
    }}
    println!("ACL_CHECKED {{checked}}");
}}
"#
    );
    (text, count)
}

#[test]
#[ignore = "needs ../shared/contracts (.ci/run runs it; a few minutes)"]
fn mock_answers_decode_with_the_generated_clients_of_three_dev_contracts() {
    let Some(root) = shared_contracts() else {
        panic!("needs ../shared/contracts (or ACL_SHARED_CONTRACTS), which is not there");
    };
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mock-dev-contracts");
    let runtime =
        std::path::absolute(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../acl-runtime"))
            .unwrap();
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let mut all_failing: Vec<String> = Vec::new();
    for (file, at_least) in [
        ("openapi/openai.openapi-3.1.yaml", 60),
        ("openapi/bungie.openapi-3.0.json", 100),
        ("openapi/docker-engine-v1.41.swagger-2.0.yaml", 10),
    ] {
        let g = Generator::new(Settings::default())
            .generate(&root.join(file))
            .unwrap();
        let name = format!(
            "mock-{}",
            file.split('/').nth(1).unwrap().split('.').next().unwrap()
        );
        let dir = work.join(&name);
        g.write_crate(&dir, &name, Some(&runtime)).unwrap();
        let (test, count) = decode_test(&g, &name);
        assert!(
            count >= at_least,
            "{file}: only {count} operations to decode"
        );
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        std::fs::write(dir.join("tests/mock_decodes.rs"), test).unwrap();
        let mut manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        manifest = manifest.replace(
            "[workspace]",
            &format!(
                "[dev-dependencies]\nacl-runtime = {{ path = {:?}, default-features = false, features = [\"testing\", \"raw-validation\"] }}\ntokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\n\n[workspace]",
                runtime.display().to_string()
            ),
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        std::fs::copy(&lock, dir.join("Cargo.lock")).unwrap();
        let out = Command::new(env!("CARGO"))
            .args([
                "test",
                "--quiet",
                "--test",
                "mock_decodes",
                "--",
                "--nocapture",
            ])
            .env("CARGO_TARGET_DIR", work.join("target"))
            .env("CARGO_INCREMENTAL", "0")
            .current_dir(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{file}:\n{}\n{}",
            stdout.chars().take(6000).collect::<String>(),
            stderr.chars().take(6000).collect::<String>()
        );
        assert!(
            stdout.contains(&format!("ACL_CHECKED {count}")),
            "{file}: {stdout}"
        );
        let failing: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("ACL_FAIL "))
            .collect();
        let unexpected: Vec<&&str> = failing
            .iter()
            .filter(|f| !KNOWN.iter().any(|(op, _)| f.starts_with(&format!("{op}:"))))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{file}: {} of {count} operations fail:\n{}",
            unexpected.len(),
            unexpected
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        all_failing.extend(
            failing
                .iter()
                .map(|f| f.split(':').next().unwrap_or_default().to_string()),
        );
        // Keep the disk small.
        let _ = std::fs::remove_dir_all(dir.join("src"));
    }
    // A known gap that is fixed leaves the list, so the list only shrinks.
    let fixed: Vec<&str> = KNOWN
        .iter()
        .map(|(op, _)| *op)
        .filter(|op| !all_failing.iter().any(|f| f == op))
        .collect();
    assert!(
        fixed.is_empty(),
        "these now decode; take them off KNOWN: {fixed:?}"
    );
}
