//! Diagnostics: what the generator could not read or could not enforce, and where.
//!
//! Parsing never fails as a whole because of one construct: the construct is reported
//! here, falls back to something that keeps the data (`serde_json::Value`), and the rest
//! of the contract still generates.

use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something worth knowing that needs no action: what acl recognised (the
    /// pagination of an operation). `check` prints notes; `generate` does not.
    Note,
    /// Something the generated code does not enforce or represent exactly; it still
    /// builds and keeps the data. `--strict` makes these errors.
    Warning,
    /// The contract is broken or unusable here; generation fails.
    Error,
}

/// Where in the contract a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The JSON pointer of the construct in that file (`/components/schemas/Pet`).
    pub pointer: String,
    /// 1-based line, when the position could be found.
    pub line: Option<usize>,
    /// 1-based column, when the position could be found.
    pub column: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(col)) = (self.line, self.column) {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, " #{}", self.pointer)
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// A stable short code (`unsupported-keyword`, `dangling-ref`, ...).
    pub code: &'static str,
    /// Where.
    pub location: Location,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{level}[{}]: {}\n  --> {}",
            self.code, self.message, self.location
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// The diagnostics of one run, in the order found.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        if !self.items.contains(&d) {
            self.items.push(d);
        }
    }

    /// All of them.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Mutable access, to fill in positions.
    pub fn items_mut(&mut self) -> &mut [Diagnostic] {
        &mut self.items
    }

    /// How many errors.
    pub fn errors(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// How many warnings.
    pub fn warnings(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// Turns every warning into an error (`--strict`); notes stay notes.
    pub fn make_strict(&mut self) {
        for d in self
            .items
            .iter_mut()
            .filter(|d| d.severity == Severity::Warning)
        {
            d.severity = Severity::Error;
        }
    }
}
