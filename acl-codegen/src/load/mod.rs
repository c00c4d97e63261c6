//! Loading contract files: JSON or YAML, every file a `$ref` reaches, each addressed by
//! its URI, with source positions for diagnostics.

pub(crate) mod json;
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
    /// A reference names a file the contract may not read: outside the allowed folders,
    /// not a regular file, or over a size cap.
    #[error("refused to read {path}: {message}")]
    Refused {
        /// The file, as named.
        path: PathBuf,
        /// Which rule refused it, and how to allow it.
        message: String,
    },
}

/// What a contract may make the loader read. A contract comes from outside: its `$ref`s
/// must not read `/etc/passwd`, `/proc/self/environ`, a device that never ends or a file
/// larger than memory, and embed it in the generated crate.
#[derive(Debug, Clone)]
pub struct Access {
    /// Folders (besides the root contract's own) whose files `$ref`s may read; the
    /// targets of the URI map are added to these.
    pub allow_dirs: Vec<PathBuf>,
    /// Largest file read (bytes).
    pub max_file_bytes: u64,
    /// Largest total of every file of one contract (bytes).
    pub max_contract_bytes: u64,
}

impl Default for Access {
    fn default() -> Self {
        Self {
            allow_dirs: Vec::new(),
            // Real contracts reach 47 MB (Azure, Stripe's spec with expansions).
            max_file_bytes: 128 << 20,
            max_contract_bytes: 512 << 20,
        }
    }
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
    /// JSON pointers of keys that appear twice in their object (the last was kept).
    pub duplicates: Vec<String>,
    positions: OnceLock<HashMap<String, (usize, usize)>>,
}

impl Document {
    /// The line and column of the node at `pointer`, or of its nearest ancestor.
    pub fn position(&self, pointer: &str) -> Option<(usize, usize)> {
        self.positions(&[pointer])[0]
    }

    /// [`Document::position`] of each of `pointers`, in one pass over a JSON text (a
    /// YAML text is indexed whole once).
    pub fn positions(&self, pointers: &[&str]) -> Vec<Option<(usize, usize)>> {
        let nearest = |index: &HashMap<String, (usize, usize)>, pointer: &str| {
            let mut p = pointer;
            loop {
                if let Some(pos) = index.get(p) {
                    return Some(*pos);
                }
                let cut = p.rfind('/')?;
                p = &p[..cut];
            }
        };
        let text = self.text.trim_start_matches('\u{feff}').trim_start();
        if text.starts_with('{') || text.starts_with('[') {
            // Each pointer and its ancestors (the fallback).
            let mut wanted = std::collections::HashSet::new();
            for pointer in pointers {
                let mut p = *pointer;
                wanted.insert(p);
                while let Some(cut) = p.rfind('/') {
                    p = &p[..cut];
                    wanted.insert(p);
                }
            }
            let index = json::positions(&self.text, &wanted);
            return pointers.iter().map(|p| nearest(&index, p)).collect();
        }
        let index = self.positions.get_or_init(|| yaml::positions(&self.text));
        pointers.iter().map(|p| nearest(index, p)).collect()
    }
}

/// Every file of one contract.
#[derive(Debug, Default)]
pub struct Documents {
    docs: Vec<Document>,
    by_uri: HashMap<String, DocId>,
    uri_map: Vec<(String, PathBuf)>,
    access: Access,
    /// Canonical folders files may be read from: the root's, the allowed ones, the URI
    /// map's targets (filled when the root is loaded).
    allowed: Vec<PathBuf>,
    /// Bytes read so far.
    read_bytes: u64,
}

/// Parses a contract text, JSON when the file says so (or looks like it), YAML otherwise.
/// A UTF-8 byte-order mark at the start is skipped (RFC 8259 and YAML 1.2 allow it;
/// .NET tools write one).
pub fn parse_text(path: &Path, text: &str) -> Result<yaml::Parsed, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    if is_json {
        return json::parse(text).map_err(|e| LoadError::Parse {
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
        Self::with_access(uri_map, Access::default())
    }

    /// An empty set that reads only what `access` allows.
    pub fn with_access(uri_map: Vec<(String, PathBuf)>, access: Access) -> Self {
        Self {
            uri_map,
            access,
            ..Self::default()
        }
    }

    /// Loads the root contract file. Its folder, the allowed folders and the URI map's
    /// targets are the only places later files may come from.
    pub fn load_path(&mut self, path: &Path) -> Result<DocId, LoadError> {
        let abs = std::path::absolute(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let folder = abs.parent().unwrap_or(Path::new("/"));
        // A missing folder is reported as the missing file the user named.
        let folder = folder.canonicalize().map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.allowed = vec![folder];
        let mut extra: Vec<PathBuf> = self.access.allow_dirs.clone();
        extra.extend(self.uri_map.iter().map(|(_, dir)| dir.clone()));
        for dir in extra {
            // A folder that does not exist allows nothing; the error comes when a
            // reference needs it.
            if let Ok(c) = dir.canonicalize() {
                self.allowed.push(c);
            }
        }
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
        let bytes = self.read_confined(&path)?;
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
        let parsed = parse_text(&path, &text)?;
        let text = match parsed.patched {
            Some(patched) => patched,
            // Positions are read from the text without its byte-order mark.
            None => match text.strip_prefix('\u{feff}') {
                Some(rest) => rest.to_string(),
                None => text,
            },
        };
        let id = self.insert(uri, path, text, parsed.value);
        self.docs[id].duplicates = parsed.duplicates;
        Ok(id)
    }

    /// Reads `path` if the rules allow it: after symlinks are resolved it lies in an
    /// allowed folder (the root file itself always may be read), it is a regular file,
    /// and it fits the size caps. The size is enforced on the bytes read, not on what
    /// the file system says (`/proc` files say 0).
    fn read_confined(&mut self, path: &Path) -> Result<Vec<u8>, LoadError> {
        use std::io::Read;
        let refused = |message: String| LoadError::Refused {
            path: path.to_path_buf(),
            message,
        };
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        // Where the name leads once symlinks are followed; when the file itself cannot be
        // resolved (missing, or a pipe behind `/dev/stdin`), its folder's resolution says
        // where it would be.
        let resolved = path.canonicalize();
        let real = match &resolved {
            Ok(real) => real.clone(),
            Err(_) => match (path.parent().map(Path::canonicalize), path.file_name()) {
                (Some(Ok(dir)), Some(name)) => dir.join(name),
                _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
            },
        };
        let is_root = self.docs.is_empty();
        if !is_root && !self.allowed.iter().any(|dir| real.starts_with(dir)) {
            return Err(refused(format!(
                "it is outside the contract's folder ({}) and the allowed folders; \
                 references may only read files there (allow a folder with `--allow-dir DIR` \
                 or `Builder::allow_dir`)",
                self.allowed
                    .first()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            )));
        }
        let real = resolved.map_err(io)?;
        let file = std::fs::File::open(&real).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(refused(
                "it is not a regular file (a device, a pipe or a folder)".into(),
            ));
        }
        let left = self
            .access
            .max_contract_bytes
            .saturating_sub(self.read_bytes);
        let cap = self.access.max_file_bytes.min(left);
        let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
        file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > cap {
            return Err(refused(if cap < self.access.max_file_bytes {
                format!(
                    "the contract's files together exceed {} bytes (Settings::max_contract_bytes)",
                    self.access.max_contract_bytes
                )
            } else {
                format!(
                    "it is larger than {} bytes (Settings::max_file_bytes)",
                    self.access.max_file_bytes
                )
            }));
        }
        self.read_bytes += bytes.len() as u64;
        Ok(bytes)
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
            duplicates: Vec::new(),
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
