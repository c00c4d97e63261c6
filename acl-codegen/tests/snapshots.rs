//! Snapshot tests: every small contract in `tests/contracts/` generates the checked-in
//! files under `tests/output/<name>/` (module files, embedded documents, and the IR as
//! JSON). The crate `tests/contracts` compiles those files and exercises them, so a
//! snapshot is never just text.
//!
//! To accept a change: `ACL_UPDATE_SNAPSHOTS=1 cargo test -p acl-codegen --test snapshots`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use acl_codegen::{Embed, Generator, Settings};

fn contracts() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contracts");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // A folder is a multi-file contract whose root is `main.*`.
            for root in ["main.yaml", "main.json"] {
                if path.join(root).exists() {
                    out.push((
                        path.file_name().unwrap().to_string_lossy().into_owned(),
                        path.join(root),
                    ));
                }
            }
        } else {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((stem, path));
        }
    }
    out.sort();
    out
}

fn expected_files(path: &Path) -> BTreeMap<String, String> {
    let g = Generator::new(Settings::default())
        .generate(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(g.diagnostics.errors(), 0, "{}", path.display());
    let mut files = BTreeMap::new();
    let client = g.client_file().unwrap();
    let events = g.events_file().unwrap();
    files.insert(
        "mod.rs".to_string(),
        format!(
            "//! Snapshot of generated code; see acl-codegen/tests/snapshots.rs.\n\n{}{}pub mod types;\n",
            if client.is_some() { "pub mod client;\n" } else { "" },
            if events.is_some() { "pub mod events;\n" } else { "" }
        ),
    );
    if let Some(client) = client {
        files.insert("client.rs".to_string(), client);
    }
    if let Some(events) = events {
        files.insert("events.rs".to_string(), events);
    }
    files.insert(
        "types.rs".to_string(),
        g.types_file(&Embed::Relative).unwrap(),
    );
    for (i, doc) in g.documents.iter().enumerate() {
        files.insert(format!("contract/{i}.json"), doc.clone());
    }
    let mut ir = serde_json::to_string_pretty(&g.api).unwrap();
    ir.push('\n');
    files.insert("ir.json".to_string(), ir);
    let mut diags: Vec<String> = g
        .diagnostics
        .items()
        .iter()
        .map(|d| {
            let mut d = d.clone();
            // Paths differ between machines; keep the file name.
            d.location.file = PathBuf::from(d.location.file.file_name().unwrap());
            d.to_string()
        })
        .collect();
    diags.push(g.summary());
    files.insert("diagnostics.txt".to_string(), diags.join("\n") + "\n");
    files
}

#[test]
fn generated_code_matches_snapshots() {
    let update = std::env::var_os("ACL_UPDATE_SNAPSHOTS").is_some();
    let out_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/output");
    let mut stale = Vec::new();
    let contracts = contracts();
    assert!(contracts.len() >= 8, "the snapshot contracts are missing");
    for (name, path) in contracts {
        let dir = out_root.join(&name);
        for (file, content) in expected_files(&path) {
            let target = dir.join(&file);
            if update {
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(&target, &content).unwrap();
                continue;
            }
            match std::fs::read_to_string(&target) {
                Ok(old) if old == content => {}
                Ok(_) => stale.push(format!("{name}/{file} differs")),
                Err(_) => stale.push(format!("{name}/{file} is missing")),
            }
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots out of date (run with ACL_UPDATE_SNAPSHOTS=1 and review the diff):\n{}",
        stale.join("\n")
    );
}

#[test]
fn generation_is_deterministic() {
    for (_, path) in contracts() {
        assert_eq!(
            expected_files(&path),
            expected_files(&path),
            "{}",
            path.display()
        );
    }
}
