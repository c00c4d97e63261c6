//! The acl-codegen command line: `generate`, `check`, `diff`, `rules`, `webhook` and
//! `mock`.

mod mock;
mod spec;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use acl_codegen::{Error, Generator, Settings};
use clap::{Args, Parser, Subcommand};

/// Turns an external system's contract into an anti-corruption layer.
#[derive(Parser)]
#[command(name = "acl-codegen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate Rust code from a contract.
    Generate {
        /// The contract (OpenAPI 3.0/3.1, Swagger 2.0 or JSON Schema; JSON or YAML).
        contract: PathBuf,
        /// Where to write: module files, or a whole crate with `--crate`.
        #[arg(long)]
        out: PathBuf,
        /// Write a complete Cargo crate with this name.
        #[arg(long = "crate")]
        crate_name: Option<String>,
        /// Make the crate's acl-runtime dependency a path dependency.
        #[arg(long)]
        runtime_path: Option<PathBuf>,
        /// Compare with the contract pinned in this folder and refuse breaking changes
        /// (the first run pins).
        #[arg(long)]
        pin: Option<PathBuf>,
        /// Accept the changes since the pin, and re-pin.
        #[arg(long)]
        accept: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Compare two versions of a contract: what breaks the generated client.
    Diff {
        /// The version the layer was generated from.
        old: PathBuf,
        /// The new version.
        new: PathBuf,
        /// `text` (default), `json` or `markdown`.
        #[arg(long, default_value = "text")]
        format: String,
        /// Exit 1 when a change at or above this severity is found: `breaking`
        /// (default) or `warning`.
        #[arg(long = "fail-on", default_value = "breaking")]
        fail_on: String,
    },
    /// List the rules `diff` reports: id, severity, meaning (a Markdown table).
    Rules,
    /// Sign or verify a webhook delivery (`webhook sign`, `webhook verify`).
    Webhook {
        #[command(subcommand)]
        action: webhook::WebhookCommand,
    },
    /// Check a contract: list what is unsupported or broken, and a summary.
    Check {
        /// The contract.
        contract: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Serve the contract as a mock vendor over HTTP: documented answers (examples or
    /// generated data), request validation, `Prefer: code=|example=|dynamic=`.
    Mock {
        /// The contract.
        contract: PathBuf,
        /// The port (0: a free one).
        #[arg(long, default_value_t = 4010)]
        port: u16,
        /// The address to listen on; loopback unless you mean to share it.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The seed of generated data (the same seed, the same answers).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print nothing per request.
        #[arg(long)]
        quiet: bool,
        /// Seconds a client may take to send a request's head (slow clients are cut off).
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct Common {
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// Derive schemars::JsonSchema on generated types.
    #[arg(long)]
    schemars: bool,
    /// Refuse enum values the contract does not list (default: keep them).
    #[arg(long)]
    closed_enums: bool,
    /// Serve references under a URI prefix from a local folder: PREFIX=DIR.
    #[arg(long = "map-uri", value_name = "PREFIX=DIR")]
    map_uri: Vec<String>,
    /// Let `$ref`s read files under DIR too (repeatable); by default only the
    /// contract's folder (and the --map-uri folders) may be read.
    #[arg(long = "allow-dir", value_name = "DIR")]
    allow_dirs: Vec<PathBuf>,
    /// Only operations with this tag (repeatable), and the types they reach.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only this operation (repeatable), by operationId.
    #[arg(long = "operation", value_name = "ID")]
    operations: Vec<String>,
    /// Only operations under this path prefix (repeatable).
    #[arg(long = "path-prefix", value_name = "PREFIX")]
    path_prefixes: Vec<String>,
    /// Generate the types only, no client.
    #[arg(long)]
    no_client: bool,
    /// Put each tag's operations (and the types only they reach) behind a Cargo feature
    /// named after the tag; `all` (default) turns them all on.
    #[arg(long)]
    features_per_tag: bool,
}

impl Common {
    fn settings(&self) -> Result<Settings, String> {
        let mut s = Settings {
            strict: self.strict,
            schemars: self.schemars,
            open_enums: !self.closed_enums,
            client: !self.no_client,
            features_per_tag: self.features_per_tag,
            allow_dirs: self.allow_dirs.clone(),
            subset: acl_codegen::Subset {
                tags: self.tags.clone(),
                operations: self.operations.clone(),
                path_prefixes: self.path_prefixes.clone(),
            },
            ..Settings::default()
        };
        for m in &self.map_uri {
            let (prefix, dir) = m
                .split_once('=')
                .ok_or_else(|| format!("--map-uri takes PREFIX=DIR, got `{m}`"))?;
            s.uri_map.push((prefix.to_string(), PathBuf::from(dir)));
        }
        Ok(s)
    }
}

/// Prints what `read` found; notes (what was recognised) only for `check`.
fn print_diagnostics(g: &acl_codegen::Generated, notes: bool) {
    for d in g.diagnostics.items() {
        if notes || d.severity != acl_codegen::diagnostics::Severity::Note {
            eprintln!("{d}");
        }
    }
}

fn diff(old: &PathBuf, new: &PathBuf, format: &str, fail_on: &str) -> ExitCode {
    use acl_codegen::diff::{compare, render, Severity};
    let threshold = match fail_on {
        "breaking" => Severity::Breaking,
        "warning" => Severity::Warning,
        other => {
            eprintln!("error: --fail-on takes breaking or warning, not `{other}`");
            return ExitCode::from(2);
        }
    };
    if !matches!(format, "text" | "json" | "markdown") {
        eprintln!("error: --format takes text, json or markdown, not `{format}`");
        return ExitCode::from(2);
    }
    let read = |p: &PathBuf| {
        let g = Generator::new(Settings::default()).read(p)?;
        if g.diagnostics.errors() > 0 {
            return Err(Error::Contract(g.diagnostics));
        }
        Ok(g.api)
    };
    let (a, b) = match (read(old), read(new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let changes = compare(&a, &b);
    print!("{}", render(&changes, format));
    if changes.iter().any(|c| c.severity >= threshold) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (contract, common) = match &cli.command {
        Command::Diff {
            old,
            new,
            format,
            fail_on,
        } => return diff(old, new, format, fail_on),
        Command::Webhook { action } => return webhook::run(action),
        Command::Rules => {
            print!("{}", acl_codegen::diff::rules::markdown());
            return ExitCode::SUCCESS;
        }
        Command::Generate {
            contract, common, ..
        }
        | Command::Check { contract, common }
        | Command::Mock {
            contract, common, ..
        } => (contract, common),
    };
    let settings = match common.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let generator = Generator::new(settings);
    let g = match generator.read(contract) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print_diagnostics(&g, matches!(cli.command, Command::Check { .. }));
    let errors = g.diagnostics.errors();
    match cli.command {
        Command::Mock {
            port,
            host,
            seed,
            quiet,
            header_timeout,
            ..
        } => {
            if errors > 0 {
                eprintln!("{}", g.summary());
                eprintln!("error: not serving: the contract has errors");
                return ExitCode::from(1);
            }
            let options = mock::Options {
                addr: std::net::SocketAddr::new(host, port),
                seed,
                quiet,
                header_timeout: std::time::Duration::from_secs(header_timeout.max(1)),
            };
            mock::run(&g, &options)
        }
        Command::Diff { .. } | Command::Webhook { .. } | Command::Rules => {
            unreachable!("handled above")
        }
        Command::Check { .. } => {
            println!("{}", g.summary());
            if errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Generate {
            out,
            crate_name,
            runtime_path,
            pin,
            accept,
            ..
        } => {
            if errors > 0 {
                eprintln!("{}", g.summary());
                eprintln!("error: not generating: the contract has errors");
                return ExitCode::from(1);
            }
            if let Some(pin) = &pin {
                match g.check_pin(pin, accept) {
                    Ok(changes) => {
                        if !changes.is_empty() {
                            eprint!("{}", acl_codegen::diff::render(&changes, "text"));
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(1);
                    }
                }
            }
            let written: Result<Vec<PathBuf>, Error> = match &crate_name {
                Some(name) => g.write_crate(&out, name, runtime_path.as_deref()),
                None => g.write_module(&out),
            };
            match written {
                Ok(files) => {
                    let lines: usize = files
                        .iter()
                        .filter_map(|f| std::fs::read_to_string(f).ok())
                        .map(|t| t.lines().count())
                        .sum();
                    println!(
                        "generated {} ({} lines) into {}: {}",
                        crate_name.as_deref().unwrap_or("module"),
                        lines,
                        out.display(),
                        g.summary()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
