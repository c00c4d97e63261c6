//! `acl-codegen webhook sign|verify`: what a sender would set, and whether a captured
//! delivery verifies, for people debugging an integration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acl_signature::{Scheme, Signer, Verifier};
use clap::Subcommand;
use http::{HeaderMap, HeaderName, HeaderValue};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Print the headers a sender of SCHEME sets on a delivery.
    Sign {
        /// `standard`, `stripe`, `github` or `shopify`.
        #[arg(long)]
        scheme: Scheme,
        /// The signing secret (`whsec_…` for v1 or `whsk_…` for v1a with `standard`).
        #[arg(long)]
        secret: String,
        /// The delivery id (required by `standard`; the id header of github/shopify).
        #[arg(long)]
        id: Option<String>,
        /// The Unix time to sign (default: now).
        #[arg(long)]
        timestamp: Option<i64>,
        /// The body, read as raw bytes.
        #[arg(long = "body-file")]
        body_file: PathBuf,
    },
    /// Verify a captured delivery: prints `valid` and exits 0, or prints why not and
    /// exits 1.
    Verify {
        /// `standard`, `stripe`, `github` or `shopify`.
        #[arg(long)]
        scheme: Scheme,
        /// A secret (`whsec_…`) or public key (`whpk_…`); repeat for rotation.
        #[arg(long, required = true)]
        secret: Vec<String>,
        /// A header as `Name: value`; repeat.
        #[arg(long = "header")]
        headers: Vec<String>,
        /// The body, read as raw bytes.
        #[arg(long = "body-file")]
        body_file: PathBuf,
        /// The Unix time to check the timestamp against (default: now).
        #[arg(long)]
        now: Option<i64>,
        /// The timestamp tolerance in seconds, either way (default 300).
        #[arg(long)]
        tolerance: Option<u64>,
    },
}

fn read_body(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read body file {}: {e}", path.display()))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("--header `{text}`: expected `Name: value`"))?;
    let name = HeaderName::try_from(name.trim())
        .map_err(|_| format!("--header `{text}`: `{}` is not a header name", name.trim()))?;
    let value = HeaderValue::try_from(value.trim())
        .map_err(|_| format!("--header `{text}`: the value is not a valid header value"))?;
    Ok((name, value))
}

/// Runs a `webhook` subcommand: exit 0 on success, 1 when a delivery does not verify,
/// 2 when the command itself is wrong (bad key, unreadable file, malformed `--header`).
pub fn run(command: &WebhookCommand) -> ExitCode {
    let usage = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    match command {
        WebhookCommand::Sign {
            scheme,
            secret,
            id,
            timestamp,
            body_file,
        } => {
            let body = match read_body(body_file) {
                Ok(b) => b,
                Err(e) => return usage(e),
            };
            if *scheme == Scheme::Standard && id.is_none() {
                return usage("--id is required with --scheme standard".into());
            }
            let signer = match Signer::new(*scheme, secret) {
                Ok(s) => s,
                Err(e) => return usage(format!("--secret: {e}")),
            };
            let ts = timestamp.unwrap_or_else(unix_now);
            match signer.sign(id.as_deref().unwrap_or(""), ts, &body) {
                Ok(headers) => {
                    for (name, value) in &headers {
                        // Values we built are ASCII.
                        println!("{name}: {}", value.to_str().unwrap_or_default());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => usage(e.to_string()),
            }
        }
        WebhookCommand::Verify {
            scheme,
            secret,
            headers,
            body_file,
            now,
            tolerance,
        } => {
            let body = match read_body(body_file) {
                Ok(b) => b,
                Err(e) => return usage(e),
            };
            let mut map = HeaderMap::new();
            for h in headers {
                match parse_header(h) {
                    Ok((n, v)) => {
                        map.append(n, v);
                    }
                    Err(e) => return usage(e),
                }
            }
            let mut verifier = match Verifier::new(*scheme, secret) {
                Ok(v) => v,
                Err(e) => return usage(format!("--secret: {e}")),
            };
            if let Some(t) = tolerance {
                verifier = verifier.tolerance(Duration::from_secs(*t));
            }
            match verifier.verify_at(&map, &body, now.unwrap_or_else(unix_now)) {
                Ok(v) => {
                    println!("valid");
                    if let Some(id) = v.id {
                        eprintln!("id: {id}");
                    }
                    eprintln!("signature: {}", v.version);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("invalid: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
