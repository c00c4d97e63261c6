//! Loading contract files: JSON or YAML, every file a `$ref` reaches, each addressed by
//! its URI, with source positions for diagnostics.

pub mod yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use url::Url;

/// Index of a loaded document.
pub type DocId = usize;

/// A contract file that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid JSON or YAML.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A reference names something that is not a file this generator can read.
    #[error("cannot load {uri}: {message}")]
    Unreachable {
        /// The URI.
        uri: String,
        /// Why.
        message: String,
    },
}

/// One loaded file.
#[derive(Debug)]
pub struct Document {
    /// Its URI (`file:///...`, or the URI that was mapped to the file).
    pub uri: Url,
    /// Its path on disk.
    pub path: PathBuf,
    /// Its text, kept for positions.
    pub text: String,
    /// Its content (shared, so lowering can hold it while it reports diagnostics).
    pub value: std::sync::Arc<Value>,
    positions: OnceLock<HashMap<String, (usize, usize)>>,
}

impl Document {
    /// The line and column of the node at `pointer`, or of its nearest ancestor.
    pub fn position(&self, pointer: &str) -> Option<(usize, usize)> {
        let index = self.positions.get_or_init(|| yaml::positions(&self.text));
        let mut p = pointer;
        loop {
            if let Some(pos) = index.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind('/')?;
            p = &p[..cut];
        }
    }
}

/// Every file of one contract.
#[derive(Debug, Default)]
pub struct Documents {
    docs: Vec<Document>,
    by_uri: HashMap<String, DocId>,
    uri_map: Vec<(String, PathBuf)>,
}

/// Parses a contract text, JSON when the file says so (or looks like it), YAML otherwise.
/// Returns the value and, when the YAML reader had to patch the text, the patched text.
pub fn parse_text(path: &Path, text: &str) -> Result<(Value, Option<String>), LoadError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    if is_json {
        return serde_json::from_str(text)
            .map(|v| (v, None))
            .map_err(|e| LoadError::Parse {
                path: path.to_path_buf(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            });
    }
    yaml::parse(text).map_err(|e| LoadError::Parse {
        path: path.to_path_buf(),
        line: e.line,
        column: e.column,
        message: e.message,
    })
}

impl Documents {
    /// An empty set; `uri_map` maps URI prefixes (`https://schemas.example.com/`) to
    /// local folders, for contracts that reference documents by absolute URI.
    pub fn new(uri_map: Vec<(String, PathBuf)>) -> Self {
        Self {
            uri_map,
            ..Self::default()
        }
    }

    /// Loads the root contract file.
    pub fn load_path(&mut self, path: &Path) -> Result<DocId, LoadError> {
        let abs = std::path::absolute(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let uri = Url::from_file_path(&abs).map_err(|_| LoadError::Unreachable {
            uri: abs.display().to_string(),
            message: "not an absolute path".into(),
        })?;
        self.load_file(uri, path.to_path_buf())
    }

    fn load_file(&mut self, uri: Url, path: PathBuf) -> Result<DocId, LoadError> {
        if let Some(id) = self.by_uri.get(uri.as_str()) {
            return Ok(*id);
        }
        let bytes = std::fs::read(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            LoadError::Parse {
                path: path.clone(),
                line,
                column: 1,
                message: "the file is not UTF-8".into(),
            }
        })?;
        let (value, patched) = parse_text(&path, &text)?;
        Ok(self.insert(uri, path, patched.unwrap_or(text), value))
    }

    /// Adds an in-memory document (tests, embedded schemas).
    pub fn insert(&mut self, uri: Url, path: PathBuf, text: String, value: Value) -> DocId {
        let id = self.docs.len();
        self.by_uri.insert(uri.as_str().to_string(), id);
        self.docs.push(Document {
            uri,
            path,
            text,
            value: std::sync::Arc::new(value),
            positions: OnceLock::new(),
        });
        id
    }

    /// The document at `uri` (without fragment), loading it if needed.
    pub fn load_uri(&mut self, uri: &Url) -> Result<DocId, LoadError> {
        let mut uri = uri.clone();
        uri.set_fragment(None);
        if let Some(id) = self.by_uri.get(uri.as_str()) {
            return Ok(*id);
        }
        if uri.scheme() == "file" {
            let path = uri.to_file_path().map_err(|_| LoadError::Unreachable {
                uri: uri.to_string(),
                message: "not a local path".into(),
            })?;
            return self.load_file(uri, path);
        }
        let text = uri.as_str();
        let mapped = self.uri_map.iter().find_map(|(prefix, dir)| {
            text.strip_prefix(prefix.as_str())
                .map(|rest| dir.join(rest))
        });
        match mapped {
            Some(path) => self.load_file(uri, path),
            None => Err(LoadError::Unreachable {
                uri: uri.to_string(),
                message: "remote documents are not fetched; map the URI to a local folder \
                          (`--map-uri PREFIX=DIR`, `Settings::map_uri`)"
                    .into(),
            }),
        }
    }

    /// The document `id`.
    pub fn get(&self, id: DocId) -> &Document {
        &self.docs[id]
    }

    /// Every loaded document, the root first.
    pub fn all(&self) -> &[Document] {
        &self.docs
    }

    /// The document already loaded at `uri`.
    pub fn find(&self, uri: &str) -> Option<DocId> {
        self.by_uri.get(uri).copied()
    }
}

/// Reads the value at a JSON pointer (`""` is the root).
pub fn at_pointer<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    value.pointer(pointer)
}

/// Escapes one JSON pointer segment.
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Decodes a URI fragment into a JSON pointer (percent-decoding).
pub fn fragment_pointer(fragment: &str) -> String {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&fragment[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
