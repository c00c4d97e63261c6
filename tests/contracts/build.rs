//! Generates one module per JSON-Schema-Test-Suite schema (draft-07 and 2020-12) with
//! acl-codegen, and a table of the suite's instances with the verdict the suite expects.
//! Schemas acl-codegen reports as not fully enforced are listed, not generated.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use acl_codegen::lower::Dialect;
use acl_codegen::{Generator, Settings};
use serde_json::Value;

const DRAFTS: &[(&str, Dialect)] = &[
    ("draft7", Dialect::Draft7),
    ("draft2020-12", Dialect::Draft2020),
];

fn suite_dir() -> Option<PathBuf> {
    let root = match std::env::var_os("ACL_SHARED_CONTRACTS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/contracts"),
    };
    let dir = root.join("jsonschema/JSON-Schema-Test-Suite");
    dir.join("tests").is_dir().then_some(dir)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ACL_SHARED_CONTRACTS");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let mut src = String::new();
    let mut cases = String::new();
    let mut unsupported = String::new();
    let available = suite_dir();
    if let Some(suite) = &available {
        println!("cargo:rerun-if-changed={}", suite.display());
        for (draft, dialect) in DRAFTS {
            let dir = suite.join("tests").join(draft);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for file in files {
                let file_name = file.file_stem().unwrap().to_string_lossy().into_owned();
                let groups: Vec<Value> =
                    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
                for (i, group) in groups.iter().enumerate() {
                    let description = group["description"].as_str().unwrap_or("").to_string();
                    let schema_dir = out.join("suite-schemas").join(draft).join(&file_name);
                    std::fs::create_dir_all(&schema_dir).unwrap();
                    let schema_path = schema_dir.join(format!("{i}.json"));
                    std::fs::write(
                        &schema_path,
                        serde_json::to_string(&group["schema"]).unwrap(),
                    )
                    .unwrap();
                    let settings = Settings {
                        open_enums: false,
                        embed_contract: false,
                        root_name: Some("Root".into()),
                        default_dialect: *dialect,
                        uri_map: vec![("http://localhost:1234/".into(), suite.join("remotes"))],
                        ..Settings::default()
                    };
                    let reason = match Generator::new(settings).read(&schema_path) {
                        Err(e) => Some(format!("unreadable: {e}")),
                        Ok(g) => match g.diagnostics.items().first() {
                            Some(d) => Some(format!("{}: {}", d.code, d.message)),
                            None => {
                                let module = format!(
                                    "g_{}_{}_{i}",
                                    draft.replace('-', "_"),
                                    file_name.replace('-', "_")
                                )
                                .to_lowercase();
                                src.push_str(&g.single_file(&module).unwrap());
                                let root = match &g.api.root {
                                    Some(acl_codegen::ir::TypeRef::Nullable(_)) => {
                                        format!("Option<{module}::types::Root>")
                                    }
                                    _ => format!("{module}::types::Root"),
                                };
                                writeln!(
                                    src,
                                    "fn decode_{module}(s: &str) -> Result<(), String> {{ ::acl_runtime::from_json::<{root}>(s.as_bytes()).map(|_| ()).map_err(|e| e.to_string()) }}"
                                )
                                .unwrap();
                                let typed = group["schema"].get("type").is_some();
                                for test in group["tests"].as_array().unwrap() {
                                    writeln!(
                                        cases,
                                        "    Case {{ draft: {draft:?}, file: {file_name:?}, group: {description:?}, test: {:?}, data: {:?}, valid: {}, typed: {typed}, decode: decode_{module} }},",
                                        test["description"].as_str().unwrap_or(""),
                                        serde_json::to_string(&test["data"]).unwrap(),
                                        test["valid"].as_bool().unwrap_or(false),
                                    )
                                    .unwrap();
                                }
                                None
                            }
                        },
                    };
                    if let Some(reason) = reason {
                        writeln!(
                            unsupported,
                            "    Unsupported {{ draft: {draft:?}, file: {file_name:?}, group: {description:?}, reason: {reason:?} }},"
                        )
                        .unwrap();
                    }
                }
            }
        }
    }
    let table = format!(
        "/// Whether the suite was found (it lives in `../shared/contracts`).\npub const AVAILABLE: bool = {};\n\
         /// One instance of the suite and the verdict it expects.\npub struct Case {{ pub draft: &'static str, pub file: &'static str, pub group: &'static str, pub test: &'static str, pub data: &'static str, pub valid: bool, pub typed: bool, pub decode: fn(&str) -> Result<(), String> }}\n\
         /// A schema acl-codegen does not fully enforce, and why.\npub struct Unsupported {{ pub draft: &'static str, pub file: &'static str, pub group: &'static str, pub reason: &'static str }}\n\
         pub static CASES: &[Case] = &[\n{cases}];\npub static UNSUPPORTED: &[Unsupported] = &[\n{unsupported}];\n",
        available.is_some()
    );
    src.push_str(&table);
    std::fs::write(out.join("suite.rs"), src).unwrap();
}
