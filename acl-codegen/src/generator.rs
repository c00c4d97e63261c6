//! The one core every front end calls: settings in, IR and Rust files out.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diagnostics::{Diagnostics, Severity};
use crate::emit::{self, EmitOptions};
use crate::ir::{Api, ContractKind};
use crate::load::{Documents, LoadError};
use crate::lower::{Dialect, Lowerer};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract file could not be read or parsed at all.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The contract has errors (listed in the diagnostics).
    #[error("the contract has {} error(s):\n{}", .0.errors(), render(.0))]
    Contract(Diagnostics),
    /// Writing output failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Generated code did not parse (a bug in acl-codegen).
    #[error("internal error: generated code does not parse: {0}")]
    Emit(String),
    /// A setting is wrong.
    #[error("{0}")]
    Settings(String),
    /// The contract changed since it was pinned, in a way that breaks the generated
    /// layer (see `Generated::check_pin`).
    #[error("the contract changed in ways that break the generated client (pinned in {pin}):\n{report}\nreview the changes, then accept them with ACL_ACCEPT_CONTRACT=1 (build.rs) or --accept (CLI)")]
    Breaking {
        /// The pin.
        pin: PathBuf,
        /// The changes, as text.
        report: String,
    },
}

fn render(d: &Diagnostics) -> String {
    d.items()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Settings shared by the CLI, `build.rs` and the macros.
#[derive(Debug, Clone)]
pub struct Settings {
    /// String enums keep a fallback variant for values the contract does not list
    /// (default: on; external systems add values without notice).
    pub open_enums: bool,
    /// Warnings are errors.
    pub strict: bool,
    /// Generated types derive `schemars::JsonSchema` (needs acl-runtime's `schemars`
    /// feature).
    pub schemars: bool,
    /// Embed the contract's documents so payloads can be validated raw
    /// (`acl_runtime::boundary::raw`, feature `raw-validation`).
    pub embed_contract: bool,
    /// Name of the root type of a standalone JSON Schema (default: its title or file name).
    pub root_name: Option<String>,
    /// Dialect of JSON Schema documents that do not say (`$schema`).
    pub default_dialect: Dialect,
    /// URI prefixes served from local folders (`https://example.com/schemas/` -> `schemas/`).
    /// Their folders may be read by `$ref`s.
    pub uri_map: Vec<(String, PathBuf)>,
    /// Folders besides the contract's own that `$ref`s may read (`--allow-dir`). Nothing
    /// else on the machine is read: a reference outside is an error at its pointer.
    pub allow_dirs: Vec<PathBuf>,
    /// Largest contract file read, in bytes (default 128 MiB).
    pub max_file_bytes: u64,
    /// Largest total of one contract's files, in bytes (default 512 MiB).
    pub max_contract_bytes: u64,
    /// Generate the typed client (`client` module) when the contract has operations
    /// (default: on).
    pub client: bool,
    /// Only these operations and the types they reach (default: all).
    pub subset: crate::Subset,
    /// Each tag's operations, and the types only they reach, behind a Cargo feature
    /// named after the tag (`issues`); `all`, the default feature, turns every one on
    /// (default: off). With `Builder`, the crate that includes the output declares the
    /// features (`Generated::features_section` says which).
    pub features_per_tag: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            open_enums: true,
            strict: false,
            schemars: false,
            embed_contract: true,
            root_name: None,
            default_dialect: Dialect::Draft2020,
            uri_map: Vec::new(),
            allow_dirs: Vec::new(),
            max_file_bytes: crate::load::Access::default().max_file_bytes,
            max_contract_bytes: crate::load::Access::default().max_contract_bytes,
            client: true,
            subset: crate::Subset::default(),
            features_per_tag: false,
        }
    }
}

/// Reads contracts and generates code.
#[derive(Debug, Clone, Default)]
pub struct Generator {
    settings: Settings,
}

/// The result of reading one contract.
#[derive(Debug)]
pub struct Generated {
    /// The IR.
    pub api: Api,
    /// Everything found along the way, with positions.
    pub diagnostics: Diagnostics,
    /// Every file the contract pulled in (for `cargo:rerun-if-changed`).
    pub files: Vec<PathBuf>,
    /// The root file name (for the generated header).
    pub contract_name: String,
    /// Each document normalised to JSON Schema, as JSON text (index = document index).
    pub documents: Vec<String>,
    settings: Settings,
}

/// Where generated code finds the embedded contract documents.
#[derive(Debug, Clone)]
pub enum Embed {
    /// Next to the module file: `include_str!("contract/N.json")`.
    Relative,
    /// In `OUT_DIR`, named `<module>.contract.N.json`.
    OutDir(String),
}

impl Generator {
    /// A generator with these settings.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Reads a contract into the IR. Fails only when the file cannot be read or parsed;
    /// problems inside the contract are diagnostics.
    pub fn read(&self, path: &Path) -> Result<Generated, Error> {
        let settings = &self.settings;
        // The YAML parser and lowering recurse with the nesting of the input; both are
        // bounded, and a thread with room for the bound keeps a hostile contract from
        // overflowing a small (test or build-script) thread stack.
        let (api, mut diagnostics, docs) = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("acl-codegen".into())
                .stack_size(256 << 20)
                .spawn_scoped(scope, move || {
                    let mut docs = Documents::with_access(
                        settings.uri_map.clone(),
                        crate::load::Access {
                            allow_dirs: settings.allow_dirs.clone(),
                            max_file_bytes: settings.max_file_bytes,
                            max_contract_bytes: settings.max_contract_bytes,
                        },
                    );
                    let root = docs.load_path(path)?;
                    let (mut api, mut diags) = Lowerer::new(&mut docs, settings).lower(root);
                    for doc in docs.all() {
                        for pointer in &doc.duplicates {
                            diags.push(crate::Diagnostic {
                                severity: Severity::Error,
                                code: "duplicate-key",
                                location: crate::diagnostics::Location {
                                    file: doc.path.clone(),
                                    pointer: pointer.clone(),
                                    line: None,
                                    column: None,
                                },
                                message: "this key appears more than once in its object; \
                                          only the last one was read"
                                    .into(),
                                help: Some("merge the two entries into one".into()),
                            });
                        }
                    }
                    for (selector, closest) in crate::subset::apply(&mut api, &settings.subset) {
                        diags.push(crate::Diagnostic {
                            severity: Severity::Error,
                            code: "unknown-selector",
                            location: crate::diagnostics::Location {
                                file: docs.get(root).path.clone(),
                                pointer: String::new(),
                                line: None,
                                column: None,
                            },
                            message: format!(
                                "the subset names {selector}, which the contract does not have"
                            ),
                            help: closest.map(|c| format!("did you mean `{c}`?")),
                        });
                    }
                    Ok::<_, Error>((api, diags, docs))
                })
                .map_err(|e| Error::Settings(format!("cannot start the generator thread: {e}")))?
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        // Positions, one pass per document for all of its diagnostics.
        for doc in docs.all() {
            let pointers: Vec<String> = diagnostics
                .items()
                .iter()
                .filter(|d| d.location.file == doc.path)
                .map(|d| d.location.pointer.clone())
                .collect();
            if pointers.is_empty() {
                continue;
            }
            let refs: Vec<&str> = pointers.iter().map(String::as_str).collect();
            let mut found = doc.positions(&refs).into_iter();
            for d in diagnostics
                .items_mut()
                .iter_mut()
                .filter(|d| d.location.file == doc.path)
            {
                if let Some(Some((line, col))) = found.next() {
                    d.location.line = Some(line);
                    d.location.column = Some(col);
                }
            }
        }
        if self.settings.strict {
            diagnostics.make_strict();
        }
        let openapi30 = matches!(
            api.kind,
            Some(ContractKind::OpenApi30(_)) | Some(ContractKind::Swagger2)
        );
        let documents = docs
            .all()
            .iter()
            .map(|d| {
                let mut v = d.value.as_ref().clone();
                if openapi30 {
                    normalize_openapi30(&mut v);
                }
                serde_json::to_string(&v).unwrap_or_default()
            })
            .collect();
        Ok(Generated {
            api,
            diagnostics,
            files: docs.all().iter().map(|d| d.path.clone()).collect(),
            contract_name: path
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or("contract")
                .to_string(),
            documents,
            settings: self.settings.clone(),
        })
    }

    /// Reads a contract and fails if it has errors.
    pub fn generate(&self, path: &Path) -> Result<Generated, Error> {
        let g = self.read(path)?;
        if g.diagnostics.errors() > 0 {
            return Err(Error::Contract(g.diagnostics));
        }
        Ok(g)
    }
}

/// OpenAPI 3.0 / Swagger schemas are JSON Schema draft-04 plus `nullable`, `file` and
/// (on Swagger parameters) a boolean `required`:
/// rewrite those so a standard validator reads them the way the contract means them.
fn normalize_openapi30(v: &mut Value) {
    let mut stack = vec![v];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                if map.get("nullable") == Some(&Value::Bool(true)) {
                    if let Some(Value::String(t)) = map.get("type").cloned() {
                        map.insert(
                            "type".into(),
                            Value::Array(vec![Value::String(t), Value::String("null".into())]),
                        );
                    }
                    if let Some(Value::Array(e)) = map.get_mut("enum") {
                        if !e.contains(&Value::Null) {
                            e.push(Value::Null);
                        }
                    }
                    if let Some(r) = map.remove("$ref") {
                        let mut branch = serde_json::Map::new();
                        branch.insert("$ref".into(), r);
                        map.insert(
                            "anyOf".into(),
                            Value::Array(vec![
                                Value::Object(branch),
                                serde_json::json!({"type": "null"}),
                            ]),
                        );
                    }
                }
                if map.get("type").and_then(Value::as_str) == Some("file") {
                    map.remove("type");
                }
                // A Swagger 2.0 parameter is its own schema but says `required: true`
                // (draft-03's form): no later draft reads a boolean there.
                if matches!(map.get("required"), Some(Value::Bool(_))) {
                    map.remove("required");
                }
                for (k, child) in map.iter_mut() {
                    if !matches!(
                        k.as_str(),
                        "example" | "examples" | "enum" | "default" | "const"
                    ) {
                        stack.push(child);
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

const FILE_LINTS: &str = "#![allow(clippy::all, clippy::pedantic, missing_docs, deprecated, dead_code, unused_imports, non_camel_case_types, unreachable_patterns, rustdoc::all)]";

impl Generated {
    /// `N types, M operations, W warnings, E errors`.
    pub fn summary(&self) -> String {
        format!(
            "{} types, {} operations, {} warnings, {} errors",
            self.api.types.len(),
            self.api.operations.len() + self.api.webhooks.len(),
            self.diagnostics.warnings(),
            self.diagnostics.errors()
        )
    }

    fn header(&self) -> String {
        let mut title = self.api.title.clone();
        if !self.api.version.is_empty() {
            title.push(' ');
            title.push_str(&self.api.version);
        }
        format!(
            "Generated by acl-codegen from `{}` ({}). Do not edit: regenerate.",
            self.contract_name,
            title.replace('`', "'")
        )
    }

    fn types_source(&self, embed: &Embed) -> Result<String, Error> {
        let documents: Vec<(String, String)> = (0..self.documents.len())
            .map(|i| {
                let uri = emit::types::document_uri(i);
                let expr = match embed {
                    Embed::Relative => format!("include_str!(\"contract/{i}.json\")"),
                    Embed::OutDir(module) => {
                        format!("include_str!(concat!(env!(\"OUT_DIR\"), \"/{module}.contract.{i}.json\"))")
                    }
                };
                (uri, expr)
            })
            .collect();
        let gates = self.gates();
        let opts = EmitOptions {
            schemars: self.settings.schemars,
            embed_contract: self.settings.embed_contract,
            gates: gates.as_ref(),
        };
        emit::types::types_source(&self.api, &opts, &documents).map_err(Error::Emit)
    }

    /// The `types` module as a file (for `types.rs`).
    pub fn types_file(&self, embed: &Embed) -> Result<String, Error> {
        let body = self.types_source(embed)?;
        let mut out = format!(
            "//! Boundary types of {}\n//!\n//! {}\n",
            self.api.title.replace('\n', " "),
            self.header()
        );
        out.push_str(
            &FILE_LINTS
                .replace(", ", ",\n    ")
                .replace("#![allow(", "#![allow(\n    ")
                .replace(")]", ",\n)]\n"),
        );
        out.push_str(&body);
        Ok(out)
    }

    /// Compares the contract with the version pinned in the folder `pin` (a copy of the
    /// contract's files from the last accepted generation). No pin yet: this version is
    /// pinned. Breaking changes fail unless `accept`, which pins this version; other
    /// changes are returned (and the pin stays until they are accepted).
    pub fn check_pin(&self, pin: &Path, accept: bool) -> Result<Vec<crate::diff::Change>, Error> {
        let root = self.files.first().cloned().unwrap_or_default();
        let base = root.parent().map(Path::to_path_buf).unwrap_or_default();
        let pinned_root = pin.join(root.file_name().unwrap_or_default());
        if !pinned_root.exists() || accept {
            self.write_pin(pin, &base)?;
            return Ok(Vec::new());
        }
        let old = Generator::new(self.settings.clone()).read(&pinned_root)?;
        let changes = crate::diff::compare(&old.api, &self.api);
        if changes
            .iter()
            .any(|c| c.severity == crate::diff::Severity::Breaking)
        {
            return Err(Error::Breaking {
                pin: pin.to_path_buf(),
                report: crate::diff::render(&changes, "text"),
            });
        }
        Ok(changes)
    }

    fn write_pin(&self, pin: &Path, base: &Path) -> Result<(), Error> {
        for f in &self.files {
            let rel = f
                .strip_prefix(base)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| PathBuf::from(f.file_name().unwrap_or_default()));
            let text = std::fs::read(f).map_err(|source| Error::Io {
                path: f.clone(),
                source,
            })?;
            let to = pin.join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&to, text).map_err(|source| Error::Io { path: to, source })?;
        }
        Ok(())
    }

    /// The per-tag feature gates, with `features_per_tag`.
    fn gates(&self) -> Option<emit::features::Gates> {
        self.settings
            .features_per_tag
            .then(|| emit::features::Gates::new(&self.api))
    }

    /// The `[features]` section a crate including the output needs, with
    /// `features_per_tag` (written into the `Cargo.toml` of `write_crate`).
    pub fn features_section(&self) -> Option<String> {
        self.gates().map(|g| g.cargo_section())
    }

    /// Whether a `client` module is generated.
    pub fn has_client(&self) -> bool {
        self.settings.client && !self.api.operations.is_empty()
    }

    /// The `client` module as a file (for `client.rs`), when there is one.
    pub fn client_file(&self) -> Result<Option<String>, Error> {
        if !self.has_client() {
            return Ok(None);
        }
        let body = emit::client::client_source(
            &self.api,
            self.gates().as_ref(),
            self.settings.embed_contract,
        )
        .map_err(Error::Emit)?;
        Ok(Some(self.module_file("Typed client", &body)))
    }

    /// A module file: a title line naming the contract, the header, the lints, `body`.
    fn module_file(&self, what: &str, body: &str) -> String {
        let mut out = format!(
            "//! {what} of {}\n//!\n//! {}\n",
            self.api.title.replace('\n', " "),
            self.header()
        );
        out.push_str(
            &FILE_LINTS
                .replace(", ", ",\n    ")
                .replace("#![allow(", "#![allow(\n    ")
                .replace(")]", ",\n)]\n"),
        );
        out.push_str(body);
        out
    }

    /// Whether an `events` module (typed webhooks and callbacks) is generated.
    pub fn has_events(&self) -> bool {
        emit::events::has_events(&self.api)
    }

    /// The `events` module as a file (for `events.rs`), when the contract has webhooks
    /// or callbacks.
    pub fn events_file(&self) -> Result<Option<String>, Error> {
        if !self.has_events() {
            return Ok(None);
        }
        let body = emit::events::events_source(&self.api).map_err(Error::Emit)?;
        Ok(Some(self.module_file(
            "Typed events (webhooks and callbacks)",
            &body,
        )))
    }

    fn mod_list(&self) -> String {
        let mut out = String::new();
        if self.has_client() {
            out.push_str("pub mod client;\n");
        }
        if self.has_events() {
            out.push_str("pub mod events;\n");
        }
        out.push_str("pub mod types;\n");
        out
    }

    /// One file holding `pub mod <module> { pub mod types { ... } }`, for `OUT_DIR`.
    pub fn single_file(&self, module: &str) -> Result<String, Error> {
        syn::parse_str::<syn::Ident>(module)
            .map_err(|_| Error::Settings(format!("`{module}` is not a valid module name")))?;
        let body = self.types_source(&Embed::OutDir(module.to_string()))?;
        let lints = FILE_LINTS
            .replace(", ", ",\n        ")
            .replace("#![allow(", "#![allow(\n        ")
            .replace(")]", ",\n    )]");
        let client = if self.has_client() {
            let body = emit::client::client_source(
                &self.api,
                self.gates().as_ref(),
                self.settings.embed_contract,
            )
            .map_err(Error::Emit)?;
            format!("/// The typed client: one method per operation, each through the resilience pipeline.\npub mod client {{\n    {lints}\n{body}}}\n")
        } else {
            String::new()
        };
        let events = if self.has_events() {
            let body = emit::events::events_source(&self.api).map_err(Error::Emit)?;
            format!("/// Typed events: the contract's webhooks and callbacks, and a handler trait.\npub mod events {{\n    {lints}\n{body}}}\n")
        } else {
            String::new()
        };
        Ok(format!(
            "/// {}\npub mod {module} {{\n/// Boundary types: what the external system sends and accepts, validated.\npub mod types {{\n    {lints}\n{body}}}\n{client}{events}}}\n",
            self.header()
        ))
    }

    fn write(path: &Path, text: &str) -> Result<(), Error> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        // Leave files alone when unchanged, so cargo does not rebuild for nothing.
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    fn write_documents(&self, dir: &Path, name: impl Fn(usize) -> String) -> Result<(), Error> {
        if !self.settings.embed_contract {
            return Ok(());
        }
        for (i, text) in self.documents.iter().enumerate() {
            Self::write(&dir.join(name(i)), text)?;
        }
        Ok(())
    }

    /// Writes module files into `dir`: `mod.rs`, `types.rs`, `contract/N.json`.
    pub fn write_module(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let mod_rs = format!("//! {}\n\n{}", self.header(), self.mod_list());
        Self::write(&dir.join("mod.rs"), &mod_rs)?;
        Self::write(&dir.join("types.rs"), &self.types_file(&Embed::Relative)?)?;
        let mut files = vec![dir.join("mod.rs"), dir.join("types.rs")];
        if let Some(client) = self.client_file()? {
            Self::write(&dir.join("client.rs"), &client)?;
            files.push(dir.join("client.rs"));
        }
        if let Some(events) = self.events_file()? {
            Self::write(&dir.join("events.rs"), &events)?;
            files.push(dir.join("events.rs"));
        }
        self.write_documents(dir, |i| format!("contract/{i}.json"))?;
        Ok(files)
    }

    /// Writes a complete crate into `dir` that builds as is.
    pub fn write_crate(
        &self,
        dir: &Path,
        name: &str,
        runtime_path: Option<&Path>,
    ) -> Result<Vec<PathBuf>, Error> {
        let runtime = match runtime_path {
            Some(p) => {
                let p = std::path::absolute(p).map_err(|source| Error::Io {
                    path: p.to_path_buf(),
                    source,
                })?;
                format!("{{ path = {:?}", p.display().to_string())
            }
            None => format!("{{ version = \"{}\"", env!("CARGO_PKG_VERSION")),
        };
        // Only what the output needs: types alone build on the types-only runtime (no
        // tokio, reqwest, tracing or metrics); a client needs `reqwest` (and `client`).
        let mut wanted: Vec<&str> = Vec::new();
        if self.has_client() {
            wanted.push("\"reqwest\"");
        }
        if self.settings.schemars {
            wanted.push("\"schemars\"");
        }
        let features = format!(
            ", default-features = false, features = [{}]",
            wanted.join(", ")
        );
        let description = format!("Boundary types for {}", self.api.title).replace('"', "'");
        let tag_features = self.features_section().unwrap_or_default();
        let cargo = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"{description}\"\npublish = false\n\n[dependencies]\nacl-runtime = {runtime}{features} }}\n{tag_features}\n[workspace]\n"
        );
        Self::write(&dir.join("Cargo.toml"), &cargo)?;
        let lib = format!("//! {}\n\n{}", self.header(), self.mod_list());
        Self::write(&dir.join("src/lib.rs"), &lib)?;
        Self::write(
            &dir.join("src/types.rs"),
            &self.types_file(&Embed::Relative)?,
        )?;
        let mut files = vec![
            dir.join("Cargo.toml"),
            dir.join("src/lib.rs"),
            dir.join("src/types.rs"),
        ];
        if let Some(client) = self.client_file()? {
            Self::write(&dir.join("src/client.rs"), &client)?;
            files.push(dir.join("src/client.rs"));
        }
        if let Some(events) = self.events_file()? {
            Self::write(&dir.join("src/events.rs"), &events)?;
            files.push(dir.join("src/events.rs"));
        }
        self.write_documents(&dir.join("src"), |i| format!("contract/{i}.json"))?;
        Ok(files)
    }

    /// Writes `<out>/<module>.rs` (and its documents) for `include_contract!`.
    pub fn write_out_dir(&self, out: &Path, module: &str) -> Result<PathBuf, Error> {
        let path = out.join(format!("{module}.rs"));
        Self::write(&path, &self.single_file(module)?)?;
        if let Some(section) = self.features_section() {
            // The features the including crate declares, to copy into its Cargo.toml.
            Self::write(&out.join(format!("{module}.features.toml")), &section)?;
        }
        self.write_documents(out, |i| format!("{module}.contract.{i}.json"))?;
        Ok(path)
    }
}

/// `build.rs` entry point, in the style of `prost-build`.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), acl_codegen::Error> {
///     acl_codegen::Builder::new("contracts/payments.yaml")
///         .module("payments")
///         .generate()
/// }
/// // src/lib.rs: acl_runtime::include_contract!("payments");
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    contract: PathBuf,
    module: Option<String>,
    out_dir: Option<PathBuf>,
    pin: Option<PathBuf>,
    settings: Settings,
}

impl Builder {
    /// Generates from the contract at `path` (relative to the crate root).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            contract: path.into(),
            module: None,
            out_dir: None,
            pin: None,
            settings: Settings::default(),
        }
    }

    /// The generated module's name (default: the contract's file name in snake_case).
    pub fn module(mut self, name: impl Into<String>) -> Self {
        self.module = Some(name.into());
        self
    }

    /// Where to write (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Warnings become errors.
    pub fn strict(mut self, strict: bool) -> Self {
        self.settings.strict = strict;
        self
    }

    /// Each tag's operations (and the types only they reach) behind a Cargo feature
    /// named after the tag; the crate declares them (`<OUT_DIR>/<module>.features.toml`
    /// holds the `[features]` section it needs).
    pub fn features_per_tag(mut self, on: bool) -> Self {
        self.settings.features_per_tag = on;
        self
    }

    /// Derive `schemars::JsonSchema` on generated types.
    pub fn schemars(mut self, on: bool) -> Self {
        self.settings.schemars = on;
        self
    }

    /// Keep (default) or drop the fallback variant of string enums.
    pub fn open_enums(mut self, on: bool) -> Self {
        self.settings.open_enums = on;
        self
    }

    /// Compares the contract with the version pinned in the folder `dir` (relative to
    /// the crate root; commit it) and fails the build on breaking changes until they are
    /// accepted with `ACL_ACCEPT_CONTRACT=1`, which re-pins. The first build pins.
    pub fn pin(mut self, dir: impl Into<PathBuf>) -> Self {
        self.pin = Some(dir.into());
        self
    }

    /// Generate the typed client too (default: on).
    pub fn client(mut self, on: bool) -> Self {
        self.settings.client = on;
        self
    }

    /// Only the operations with this tag (and what they reach); repeatable.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.settings.subset.tags.push(tag.into());
        self
    }

    /// Only this operation (by operationId); repeatable.
    pub fn operation(mut self, id: impl Into<String>) -> Self {
        self.settings.subset.operations.push(id.into());
        self
    }

    /// Only the operations under this path prefix; repeatable.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.subset.path_prefixes.push(prefix.into());
        self
    }

    /// Serve references under `prefix` from the local folder `dir`.
    pub fn map_uri(mut self, prefix: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.settings.uri_map.push((prefix.into(), dir.into()));
        self
    }

    /// Let `$ref`s read files under `dir` too (besides the contract's folder); repeatable.
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.allow_dirs.push(dir.into());
        self
    }

    /// All settings at once.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Generates, writes `<OUT_DIR>/<module>.rs`, and tells cargo which files to watch.
    pub fn generate(self) -> Result<(), Error> {
        let out = match self.out_dir {
            Some(d) => d,
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| {
                Error::Settings(
                    "OUT_DIR is not set: call Builder::generate from build.rs or set out_dir"
                        .into(),
                )
            })?),
        };
        let module = self.module.unwrap_or_else(|| {
            let stem = self
                .contract
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("contract");
            crate::lower::names::snake(stem.split('.').next().unwrap_or(stem), "contract")
        });
        let generator = Generator::new(self.settings);
        let result = generator.read(&self.contract);
        println!("cargo:rerun-if-changed={}", self.contract.display());
        let g = result?;
        for f in &g.files {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        for d in g.diagnostics.items() {
            if d.severity == Severity::Warning {
                println!("cargo:warning={}", d.to_string().replace('\n', " "));
            }
        }
        if g.diagnostics.errors() > 0 {
            return Err(Error::Contract(g.diagnostics));
        }
        if let Some(pin) = &self.pin {
            println!("cargo:rerun-if-env-changed=ACL_ACCEPT_CONTRACT");
            let accept = std::env::var_os("ACL_ACCEPT_CONTRACT").is_some_and(|v| v == "1");
            for c in g.check_pin(pin, accept)? {
                if c.severity == crate::diff::Severity::Warning {
                    println!(
                        "cargo:warning=contract changed since {}: warning[{}] {} {}: {}",
                        pin.display(),
                        c.rule,
                        c.subject,
                        c.location,
                        c.message
                    );
                }
            }
        }
        g.write_out_dir(&out, &module)?;
        Ok(())
    }
}
