//! Lowering: from loaded documents to the IR.
//!
//! `schema` turns schemas into named types, `openapi` reads operations, parameters,
//! bodies, responses and security schemes (OpenAPI 3.x and Swagger 2.0 alike).

mod facts;
pub mod names;
mod openapi;
mod pagination;
mod policy;
mod refs;
mod schema;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use crate::ir::{Api, ContractKind, Origin, TypeDef, TypeRef};
use crate::load::{at_pointer, DocId, Documents};
use crate::Settings;

pub use names::Namespace;

/// A schema's place: document and JSON pointer.
pub type Loc = (DocId, String);

/// JSON Schema dialects, as far as they change how a schema is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dialect {
    /// draft-04, Swagger 2.0 and OpenAPI 3.0 (boolean exclusive bounds, `$ref` siblings
    /// ignored, `nullable`).
    Draft4,
    /// draft-06.
    Draft6,
    /// draft-07.
    Draft7,
    /// 2019-09.
    Draft2019,
    /// 2020-12 and OpenAPI 3.1.
    Draft2020,
}

impl Dialect {
    fn from_schema_uri(uri: &str) -> Option<Dialect> {
        if !uri.contains("json-schema.org/") {
            return None;
        }
        Some(if uri.contains("draft-04") || uri.contains("draft-03") {
            Dialect::Draft4
        } else if uri.contains("draft-06") {
            Dialect::Draft6
        } else if uri.contains("draft-07") {
            Dialect::Draft7
        } else if uri.contains("2019-09") {
            Dialect::Draft2019
        } else if uri.contains("2020-12") {
            Dialect::Draft2020
        } else {
            return None;
        })
    }

    /// The name used in `acl_runtime::Contract::dialect`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Draft4 => "draft4",
            Dialect::Draft6 => "draft6",
            Dialect::Draft7 => "draft7",
            Dialect::Draft2019 => "2019-09",
            Dialect::Draft2020 => "2020-12",
        }
    }
}

/// Builds the IR for one contract.
pub struct Lowerer<'a> {
    pub(crate) docs: &'a mut Documents,
    pub(crate) settings: &'a Settings,
    pub(crate) diags: Diagnostics,
    pub(crate) dialect: Dialect,
    /// OpenAPI 3.0's `nullable` keyword is honoured.
    pub(crate) openapi30: bool,
    /// The contract is an OpenAPI / Swagger document (not a bare JSON Schema).
    pub(crate) is_openapi: bool,
    pub(crate) types: BTreeMap<String, TypeDef>,
    pub(crate) names: Namespace,
    /// Types already made for a schema location.
    pub(crate) by_loc: HashMap<Loc, TypeRef>,
    /// Inline types already made for a schema text (per document).
    pub(crate) by_content: HashMap<(DocId, String), TypeRef>,
    /// Names set aside for definitions (`components/schemas/X`), claimed up front so
    /// inline types never take a contract's own names.
    pub(crate) reserved: HashMap<Loc, (String, String)>,
    pub(crate) ids: refs::IdIndex,
    pub(crate) depth: usize,
    pub(crate) allof_stack: HashSet<Loc>,
    /// What each schema says, once worked out (an `allOf` chain is read once per link,
    /// not once per type that reaches it).
    pub(crate) facts_cache: HashMap<Loc, facts::Facts>,
    /// `allOf` cycles met so far: facts worked out while one was cut are not cached.
    pub(crate) allof_cycles: u64,
    /// Diagnostics by place, for the doc comments of the types they concern.
    pub(crate) notes: Vec<(Loc, String)>,
}

/// Names generated code uses at the top of the `types` module.
const RESERVED_TYPE_NAMES: &[&str] = &["Self_", "Rules"];

impl<'a> Lowerer<'a> {
    pub(crate) fn new(docs: &'a mut Documents, settings: &'a Settings) -> Self {
        Self {
            docs,
            settings,
            diags: Diagnostics::default(),
            dialect: Dialect::Draft2020,
            openapi30: false,
            is_openapi: false,
            types: BTreeMap::new(),
            names: Namespace::with_reserved(RESERVED_TYPE_NAMES),
            by_loc: HashMap::new(),
            by_content: HashMap::new(),
            reserved: HashMap::new(),
            ids: refs::IdIndex::default(),
            depth: 0,
            allof_stack: HashSet::new(),
            facts_cache: HashMap::new(),
            allof_cycles: 0,
            notes: Vec::new(),
        }
    }

    pub(crate) fn value(&self, loc: &Loc) -> Option<&Value> {
        at_pointer(&self.docs.get(loc.0).value, &loc.1)
    }

    /// The document holding `loc`, shared: read from it while `self` changes.
    pub(crate) fn doc_value(&self, loc: &Loc) -> std::sync::Arc<Value> {
        self.docs.get(loc.0).value.clone()
    }

    pub(crate) fn diag(
        &mut self,
        severity: Severity,
        code: &'static str,
        loc: &Loc,
        message: impl Into<String>,
        help: Option<&str>,
    ) {
        let message = message.into();
        self.notes.push((loc.clone(), message.clone()));
        let doc = self.docs.get(loc.0);
        self.diags.push(Diagnostic {
            severity,
            code,
            location: Location {
                file: doc.path.clone(),
                pointer: loc.1.clone(),
                line: None,
                column: None,
            },
            message,
            help: help.map(str::to_string),
        });
    }

    /// Reports a `$ref` that could not be followed: an error when it is broken, a
    /// warning when it names a remote document (typed as any JSON value).
    pub(crate) fn ref_failed(&mut self, loc: &Loc, error: refs::RefError) {
        let ref_loc = if loc.1.ends_with("/$ref") {
            loc.clone()
        } else {
            (loc.0, format!("{}/$ref", loc.1))
        };
        match error {
            refs::RefError::Broken(m) => self.diag(
                Severity::Error,
                "dangling-ref",
                &ref_loc,
                m,
                Some("fix the reference or add the missing definition"),
            ),
            refs::RefError::Refused(m) => self.diag(
                Severity::Error,
                "ref-refused",
                &ref_loc,
                m,
                Some("copy the file next to the contract, or allow its folder with `--allow-dir`"),
            ),
            refs::RefError::Remote(m) => self.diag(
                Severity::Warning,
                "remote-ref",
                &ref_loc,
                format!("{m}; the value is kept as any JSON value"),
                Some("map the URI to a local copy to get a typed value"),
            ),
        }
    }

    pub(crate) fn origin(&self, loc: &Loc) -> Origin {
        Origin {
            doc: loc.0,
            pointer: loc.1.clone(),
        }
    }

    /// Lowers the whole contract whose root document is `root`.
    pub(crate) fn lower(mut self, root: DocId) -> (Api, Diagnostics) {
        let doc = self.docs.get(root).value.clone();
        let doc = doc.as_ref();
        let mut api = Api::default();
        let Some(obj) = doc.as_object() else {
            self.diag(
                Severity::Error,
                "not-an-object",
                &(root, String::new()),
                "a contract must be a JSON/YAML object (an OpenAPI document or a JSON Schema)",
                None,
            );
            return (api, self.diags);
        };
        self.is_openapi = obj.contains_key("openapi") || obj.contains_key("swagger");
        if let Some(v) = obj.get("openapi") {
            let version = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            if version.starts_with("3.0") {
                self.dialect = Dialect::Draft4;
                self.openapi30 = true;
                api.kind = Some(ContractKind::OpenApi30(version));
            } else if version.starts_with("3.") {
                self.dialect = Dialect::Draft2020;
                if !version.starts_with("3.1") {
                    self.diag(
                        Severity::Warning,
                        "unknown-version",
                        &(root, "/openapi".into()),
                        format!("OpenAPI {version} is newer than 3.1; it is read as 3.1"),
                        None,
                    );
                }
                api.kind = Some(ContractKind::OpenApi31(version));
            } else {
                self.diag(
                    Severity::Error,
                    "unsupported-version",
                    &(root, "/openapi".into()),
                    format!("OpenAPI {version} is not supported"),
                    Some("acl reads Swagger 2.0, OpenAPI 3.0.x and 3.1.x"),
                );
                return (api, self.diags);
            }
            openapi::lower_document(&mut self, root, &mut api);
        } else if let Some(v) = obj.get("swagger") {
            if v.as_str() != Some("2.0") {
                self.diag(
                    Severity::Error,
                    "unsupported-version",
                    &(root, "/swagger".into()),
                    format!("Swagger {v} is not supported"),
                    Some("acl reads Swagger 2.0, OpenAPI 3.0.x and 3.1.x"),
                );
                return (api, self.diags);
            }
            self.dialect = Dialect::Draft4;
            api.kind = Some(ContractKind::Swagger2);
            openapi::lower_document(&mut self, root, &mut api);
        } else {
            let declared = obj.get("$schema").and_then(Value::as_str);
            self.dialect = match declared.map(|uri| (uri, Dialect::from_schema_uri(uri))) {
                Some((_, Some(d))) => d,
                Some((uri, None)) => {
                    self.diag(
                        Severity::Warning,
                        "unknown-dialect",
                        &(root, "/$schema".into()),
                        format!("`$schema` names an unknown meta-schema ({uri}); the schema is read as {} with all validation keywords", self.settings.default_dialect.name()),
                        None,
                    );
                    self.settings.default_dialect
                }
                None => self.settings.default_dialect,
            };
            api.kind = Some(ContractKind::JsonSchema(self.dialect.name().to_string()));
            self.lower_json_schema(root, &mut api);
        }
        api.types = std::mem::take(&mut self.types);
        // Reads the operations' body types, so only once every type is in.
        pagination::lower_pagination(&mut self, root, &mut api);
        (api, self.diags)
    }

    fn lower_json_schema(&mut self, root: DocId, api: &mut Api) {
        let doc = self.docs.get(root);
        let stem = doc
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("Root")
            .split('.')
            .next()
            .unwrap_or("Root")
            .to_string();
        let value = doc.value.clone();
        let value = value.as_ref();
        let title = value
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string);
        api.title = title.clone().unwrap_or_else(|| stem.clone());
        api.description = value
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string);
        let root_name = self
            .settings
            .root_name
            .clone()
            .unwrap_or_else(|| names::camel(title.as_deref().unwrap_or(&stem), "Root"));
        let root_name = self.names.claim(&root_name);
        self.reserved
            .insert((root, String::new()), (root_name, api.title.clone()));
        for key in ["definitions", "$defs"] {
            if let Some(defs) = value.get(key).and_then(Value::as_object) {
                let keys: Vec<String> = defs.keys().cloned().collect();
                self.reserve_definitions(root, &format!("/{key}"), &keys);
            }
        }
        let root_loc = (root, String::new());
        let ty = self.named_type(&root_loc);
        api.root = Some(ty);
        for key in ["definitions", "$defs"] {
            if let Some(defs) = value.get(key).and_then(Value::as_object) {
                for name in defs.keys() {
                    let loc = (root, format!("/{key}/{}", crate::load::escape(name)));
                    self.named_type(&loc);
                }
            }
        }
    }

    /// Sets names aside for the definitions under `prefix`, in contract order.
    pub(crate) fn reserve_definitions(&mut self, doc: DocId, prefix: &str, keys: &[String]) {
        for key in keys {
            let name = self.names.claim(&names::camel(key, "Type"));
            let loc = (doc, format!("{prefix}/{}", crate::load::escape(key)));
            self.reserved.insert(loc, (name, key.clone()));
        }
    }
}
