//! Webhook signatures, computed and checked over the exact raw bytes of a delivery.
//!
//! | scheme | headers | signed content | key |
//! | --- | --- | --- | --- |
//! | [`Scheme::Standard`] `v1` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …` | `id.timestamp.body` | `whsec_<base64>` (HMAC-SHA256) |
//! | [`Scheme::Standard`] `v1a` | same, `v1a,<base64>` | `id.timestamp.body` | `whpk_<base64>` (ed25519 public) / `whsk_<base64>` (seed, to sign) |
//! | [`Scheme::Stripe`] | `Stripe-Signature: t=<unix>,v1=<hex>,…` | `t.body` | the secret string's bytes |
//! | [`Scheme::GitHub`] | `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Delivery` | `body` | the secret string's bytes |
//! | [`Scheme::Shopify`] | `X-Shopify-Hmac-Sha256: <base64>`, `X-Shopify-Webhook-Id` | `body` | the secret string's bytes |
//!
//! Bodies are bytes, never strings: a non-UTF-8 body verifies like any other, and nothing
//! re-serialises JSON before checking it. Comparisons run in constant time. Several keys
//! can be active at once (rotation), and a header may carry several signatures (the
//! Standard Webhooks list, Stripe's repeated `v1=`): one match among decoys is enough.
//! Timestamps are checked in both directions against a tolerance (300 s by default).
//!
//! ```
//! use acl_signature::{Scheme, Signer, Verifier};
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
//! let headers = Signer::new(Scheme::Standard, secret).unwrap()
//!     .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#).unwrap();
//! assert_eq!(headers["webhook-signature"], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//! let verified = Verifier::new(Scheme::Standard, [secret]).unwrap()
//!     .verify_at(&headers, br#"{"test": 2432232314}"#, 1614265330).unwrap();
//! assert_eq!(verified.id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
//! ```
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use ring::{digest, hmac};

/// The default timestamp tolerance, in both directions.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Who signs the deliveries, and so which headers and encoding carry the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Standard Webhooks (also Svix): `v1` HMAC-SHA256 or `v1a` ed25519.
    Standard,
    /// Stripe: `Stripe-Signature: t=…,v1=…`.
    Stripe,
    /// GitHub: `X-Hub-Signature-256: sha256=…`.
    GitHub,
    /// Shopify: `X-Shopify-Hmac-Sha256`.
    Shopify,
}

impl Scheme {
    /// Every scheme, by the name [`FromStr`] reads.
    pub const ALL: [(&'static str, Scheme); 4] = [
        ("standard", Scheme::Standard),
        ("stripe", Scheme::Stripe),
        ("github", Scheme::GitHub),
        ("shopify", Scheme::Shopify),
    ];

    /// The header that names a delivery, when the scheme has one.
    pub fn id_header(self) -> Option<&'static str> {
        match self {
            Scheme::Standard => Some("webhook-id"),
            Scheme::Stripe => None,
            Scheme::GitHub => Some("x-github-delivery"),
            Scheme::Shopify => Some("x-shopify-webhook-id"),
        }
    }
}

impl FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        Scheme::ALL
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, scheme)| *scheme)
            .ok_or_else(|| {
                format!("unknown signature scheme `{s}`: expected one of standard, stripe, github, shopify")
            })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Scheme::ALL.iter().find(|(_, s)| s == self).map(|(n, _)| *n);
        f.write_str(name.unwrap_or("?"))
    }
}

/// A key that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// No key at all.
    #[error("no secret given: a verifier needs at least one")]
    Empty,
    /// The base64 after a `whsec_`/`whpk_`/`whsk_` prefix does not decode.
    #[error("the {what} is not valid base64 after its `{prefix}` prefix: {reason}")]
    Base64 {
        /// What the key is.
        what: &'static str,
        /// The prefix.
        prefix: &'static str,
        /// Why the decoding failed.
        reason: String,
    },
    /// An ed25519 key of the wrong length.
    #[error("the {what} must be 32 bytes, found {found}")]
    Length {
        /// What the key is.
        what: &'static str,
        /// How many bytes were found.
        found: usize,
    },
    /// A public key cannot sign.
    #[error("a `whpk_` public key can verify but not sign: signing needs the `whsk_` secret key")]
    PublicKeyCannotSign,
    /// The secret is empty, white space, or a prefix with nothing after it: anybody can
    /// compute a MAC with an empty key, so it would verify forged deliveries.
    #[error("the secret is empty (or only white space, or only its `whsec_` prefix): a key anybody can guess would verify forged deliveries")]
    Blank,
}

/// At most this many signatures in one delivery are checked; a header with more is
/// refused before any work (thousands of `v1a` decoys would cost seconds of ed25519
/// verification per unauthenticated request). Senders add one per active key: two or
/// three during a rotation.
pub const MAX_SIGNATURES: usize = 16;

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A header the scheme needs is absent.
    #[error("missing header `{header}`")]
    MissingHeader {
        /// The header's name.
        header: &'static str,
    },
    /// A header is present but cannot be read.
    #[error("malformed header `{header}`: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The timestamp is older than the tolerance allows (a replay, or a very late retry).
    #[error("timestamp {timestamp} is {age} s old, beyond the tolerance of {tolerance} s")]
    TooOld {
        /// The delivery's timestamp (Unix seconds).
        timestamp: i64,
        /// How old it is, in seconds.
        age: i64,
        /// The tolerance, in seconds.
        tolerance: u64,
    },
    /// The timestamp is further in the future than the tolerance allows.
    #[error(
        "timestamp {timestamp} is {ahead} s in the future, beyond the tolerance of {tolerance} s"
    )]
    InFuture {
        /// The delivery's timestamp (Unix seconds).
        timestamp: i64,
        /// How far ahead it is, in seconds.
        ahead: i64,
        /// The tolerance, in seconds.
        tolerance: u64,
    },
    /// No signature in the header matches any key.
    #[error("no signature in `{header}` matches: {found} signature(s) ({versions}) checked against {keys} key(s) ({held})")]
    NoMatch {
        /// The signature header.
        header: &'static str,
        /// How many signatures it carries.
        found: usize,
        /// Their versions, comma-separated.
        versions: String,
        /// How many keys were tried.
        keys: usize,
        /// The versions the keys can check.
        held: String,
    },
}

/// What a verified delivery says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The delivery id from the scheme's id header, when it has one.
    pub id: Option<String>,
    /// The signed timestamp (Unix seconds), when the scheme signs one.
    pub timestamp: Option<i64>,
    /// The version of the signature that matched (`v1`, `v1a`, `sha256`, …).
    pub version: &'static str,
}

enum Key {
    Hmac(hmac::Key),
    Ed25519Public(Vec<u8>),
    Ed25519Secret(Box<Ed25519KeyPair>),
}

impl Key {
    fn parse(scheme: Scheme, text: &str) -> Result<Key, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Blank);
        }
        if scheme != Scheme::Standard {
            return Ok(Key::Hmac(hmac::Key::new(
                hmac::HMAC_SHA256,
                text.as_bytes(),
            )));
        }
        let decode = |what, prefix: &'static str, b64: &str| {
            B64.decode(b64).map_err(|e| KeyError::Base64 {
                what,
                prefix,
                reason: e.to_string(),
            })
        };
        let ed25519 = |what, bytes: Vec<u8>| {
            if bytes.len() == 32 {
                Ok(bytes)
            } else {
                Err(KeyError::Length {
                    what,
                    found: bytes.len(),
                })
            }
        };
        if ["whpk_", "whsk_", "whsec_"].iter().any(|p| {
            text.strip_prefix(p)
                .is_some_and(|rest| rest.trim().is_empty())
        }) {
            return Err(KeyError::Blank);
        }
        if let Some(b64) = text.strip_prefix("whpk_") {
            let bytes = ed25519("whpk_ public key", decode("public key", "whpk_", b64)?)?;
            Ok(Key::Ed25519Public(bytes))
        } else if let Some(b64) = text.strip_prefix("whsk_") {
            let seed = ed25519("whsk_ secret key", decode("secret key", "whsk_", b64)?)?;
            let pair =
                Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyError::Length {
                    what: "whsk_ secret key",
                    found: seed.len(),
                })?;
            Ok(Key::Ed25519Secret(Box::new(pair)))
        } else {
            // `whsec_` by the spec; a bare base64 secret as the reference libraries accept.
            let b64 = text.strip_prefix("whsec_").unwrap_or(text);
            let bytes = decode("secret", "whsec_", b64.trim())?;
            if bytes.is_empty() {
                return Err(KeyError::Blank);
            }
            Ok(Key::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
        }
    }

    fn version(&self, scheme: Scheme) -> &'static str {
        match (self, scheme) {
            (Key::Hmac(_), Scheme::Standard | Scheme::Stripe) => "v1",
            (Key::Hmac(_), Scheme::GitHub) => "sha256",
            (Key::Hmac(_), Scheme::Shopify) => "hmac-sha256",
            (Key::Ed25519Public(_) | Key::Ed25519Secret(_), _) => "v1a",
        }
    }

    fn public(&self) -> Option<&[u8]> {
        match self {
            Key::Hmac(_) => None,
            Key::Ed25519Public(bytes) => Some(bytes),
            Key::Ed25519Secret(pair) => Some(pair.public_key().as_ref()),
        }
    }
}

/// HMAC-SHA256 over the parts, in order, without joining them first (a 1 MB body is not
/// copied to be signed). Short leading parts (`id`, `.`, `timestamp`, `.`) are gathered on
/// the stack first: each `update` has a fixed cost, and five of them were a tenth of
/// verifying a 1 KB delivery.
fn mac(key: &hmac::Key, parts: &[&[u8]]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    let mut gathered = [0u8; 128];
    let mut n = 0;
    for part in parts {
        if n + part.len() <= gathered.len() {
            gathered[n..n + part.len()].copy_from_slice(part);
            n += part.len();
        } else {
            ctx.update(&gathered[..n]);
            n = 0;
            ctx.update(part);
        }
    }
    ctx.update(&gathered[..n]);
    ctx.sign()
}

/// Equality that takes the same time wherever the first difference is (the lengths of
/// MACs are public). ring 0.17 deprecates its own `verify_slices_are_equal`; this is the
/// same fold, kept opaque to the optimiser.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A signature from a header, decoded into place (no allocation per candidate). The
/// longest that can match is an ed25519 signature (64 bytes); a longer one is kept as
/// empty, which matches nothing, like any other decoy.
#[derive(Clone, Copy)]
struct Sig {
    len: u8,
    bytes: [u8; 72],
}

impl Sig {
    const EMPTY: Sig = Sig {
        len: 0,
        bytes: [0; 72],
    };

    fn new(bytes: &[u8]) -> Self {
        let mut sig = Sig::EMPTY;
        if bytes.len() <= 64 {
            sig.bytes[..bytes.len()].copy_from_slice(bytes);
            sig.len = bytes.len() as u8;
        }
        sig
    }

    /// Undecodable base64 is a decoy: empty.
    fn from_base64(text: &str) -> Self {
        let mut sig = Sig::EMPTY;
        // 72 bytes of room: the decoder wants space for its estimate (66 for 64 bytes).
        if let Ok(n @ ..=64) = B64.decode_slice(text, &mut sig.bytes) {
            sig.len = n as u8;
        }
        sig
    }

    /// `None` when `text` is not hex; hex too long to be a signature is empty.
    fn from_hex(text: &str) -> Option<Self> {
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let text = text.as_bytes();
        if text.len() % 2 != 0 {
            return None;
        }
        let mut sig = Sig::EMPTY;
        for (i, pair) in text.chunks(2).enumerate() {
            let byte = digit(pair[0])? << 4 | digit(pair[1])?;
            if let Some(b) = sig.bytes.get_mut(i) {
                *b = byte;
            }
        }
        if text.len() / 2 <= 64 {
            sig.len = (text.len() / 2) as u8;
        }
        Some(sig)
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// A header name parsed once: looking a `&str` up parses it on every call, which was a
/// tenth of verifying a 1 KB delivery (`examples/bench_webhooks.rs` in acl-runtime).
struct Name {
    text: &'static str,
    name: http::HeaderName,
}

const fn name(text: &'static str) -> Name {
    Name {
        text,
        name: http::HeaderName::from_static(text),
    }
}

const WEBHOOK_ID: [Name; 2] = [name("webhook-id"), name("svix-id")];
const WEBHOOK_TIMESTAMP: [Name; 2] = [name("webhook-timestamp"), name("svix-timestamp")];
const WEBHOOK_SIGNATURE: [Name; 2] = [name("webhook-signature"), name("svix-signature")];

fn header<'h>(headers: &'h HeaderMap, names: &[Name]) -> Result<&'h str, VerifyError> {
    let (name, value) = names
        .iter()
        .find_map(|n| headers.get(&n.name).map(|v| (n.text, v)))
        .ok_or(VerifyError::MissingHeader {
            header: names[0].text,
        })?;
    value.to_str().map_err(|_| VerifyError::MalformedHeader {
        header: name,
        reason: "not visible ASCII".into(),
    })
}

fn now_unix(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Checks deliveries of one scheme against one or more active keys.
pub struct Verifier {
    scheme: Scheme,
    keys: Vec<Key>,
    tolerance: Duration,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("keys", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Verifier {
    /// A verifier for `scheme` holding every key in `secrets` (several during rotation).
    pub fn new<S: AsRef<str>>(
        scheme: Scheme,
        secrets: impl IntoIterator<Item = S>,
    ) -> Result<Self, KeyError> {
        let keys = secrets
            .into_iter()
            .map(|s| Key::parse(scheme, s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self {
            scheme,
            keys,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// How far a signed timestamp may be from now, either way (default 300 s).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The configured tolerance.
    pub fn tolerance_window(&self) -> Duration {
        self.tolerance
    }

    /// The scheme this verifier checks.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Verifies a delivery received now.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        self.verify_at(headers, body, now_unix(SystemTime::now()))
    }

    /// Verifies a delivery as if received at `now` (Unix seconds).
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, VerifyError> {
        match self.scheme {
            Scheme::Standard => self.verify_standard(headers, body, now),
            Scheme::Stripe => self.verify_stripe(headers, body, now),
            Scheme::GitHub => {
                let value = header(headers, &[name("x-hub-signature-256")])?;
                let hex =
                    value
                        .strip_prefix("sha256=")
                        .ok_or_else(|| VerifyError::MalformedHeader {
                            header: "x-hub-signature-256",
                            reason: "expected `sha256=<hex>`".into(),
                        })?;
                let candidate = Sig::from_hex(hex.trim()).ok_or(VerifyError::MalformedHeader {
                    header: "x-hub-signature-256",
                    reason: "the signature is not hex".into(),
                })?;
                self.match_hmac("x-hub-signature-256", &[("sha256", candidate)], &[body])?;
                Ok(Verified {
                    id: optional(headers, "x-github-delivery"),
                    timestamp: None,
                    version: "sha256",
                })
            }
            Scheme::Shopify => {
                let value = header(headers, &[name("x-shopify-hmac-sha256")])?;
                let candidate =
                    B64.decode(value.trim())
                        .map_err(|e| VerifyError::MalformedHeader {
                            header: "x-shopify-hmac-sha256",
                            reason: format!("not base64: {e}"),
                        })?;
                self.match_hmac(
                    "x-shopify-hmac-sha256",
                    &[("hmac-sha256", Sig::new(&candidate))],
                    &[body],
                )?;
                Ok(Verified {
                    id: optional(headers, "x-shopify-webhook-id"),
                    timestamp: None,
                    version: "hmac-sha256",
                })
            }
        }
    }

    fn check_time(&self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        let tolerance = self.tolerance.as_secs();
        let tol = tolerance.min(i64::MAX as u64) as i64;
        if timestamp < now.saturating_sub(tol) {
            return Err(VerifyError::TooOld {
                timestamp,
                age: now.saturating_sub(timestamp),
                tolerance,
            });
        }
        if timestamp > now.saturating_add(tol) {
            return Err(VerifyError::InFuture {
                timestamp,
                ahead: timestamp.saturating_sub(now),
                tolerance,
            });
        }
        Ok(())
    }

    fn verify_standard(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, VerifyError> {
        // Svix sends the same headers with an `svix-` prefix.
        let id = header(headers, &WEBHOOK_ID)?;
        let ts_text = header(headers, &WEBHOOK_TIMESTAMP)?;
        let signatures = header(headers, &WEBHOOK_SIGNATURE)?;
        let timestamp: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| VerifyError::MalformedHeader {
                header: "webhook-timestamp",
                reason: format!("`{ts_text}` is not a Unix time in seconds"),
            })?;
        self.check_time(timestamp, now)?;
        let mut candidates = Vec::new();
        for item in signatures.split(' ').filter(|s| !s.is_empty()) {
            let (version, b64) =
                item.split_once(',')
                    .ok_or_else(|| VerifyError::MalformedHeader {
                        header: "webhook-signature",
                        reason: format!("`{item}` is not `<version>,<base64>`"),
                    })?;
            // An undecodable decoy is skipped like a non-matching one.
            candidates.push((version, Sig::from_base64(b64)));
            too_many("webhook-signature", candidates.len())?;
        }
        if candidates.is_empty() {
            return Err(VerifyError::MalformedHeader {
                header: "webhook-signature",
                reason: "no signatures".into(),
            });
        }
        let ts = ts_text.trim();
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", body];
        let version = self.match_any("webhook-signature", &candidates, &parts)?;
        Ok(Verified {
            id: Some(id.to_owned()),
            timestamp: Some(timestamp),
            version,
        })
    }

    fn verify_stripe(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, VerifyError> {
        let value = header(headers, &[name("stripe-signature")])?;
        let mut timestamp = None;
        let mut candidates = Vec::new();
        for item in value.split(',') {
            let (k, v) =
                item.trim()
                    .split_once('=')
                    .ok_or_else(|| VerifyError::MalformedHeader {
                        header: "stripe-signature",
                        reason: format!("`{item}` is not `key=value`"),
                    })?;
            match k {
                "t" => timestamp = Some(v),
                "v1" => {
                    candidates.push(("v1", Sig::from_hex(v).unwrap_or(Sig::EMPTY)));
                    too_many("stripe-signature", candidates.len())?;
                }
                _ => {}
            }
        }
        let ts_text = timestamp.ok_or(VerifyError::MalformedHeader {
            header: "stripe-signature",
            reason: "no `t=` timestamp".into(),
        })?;
        let ts: i64 = ts_text.parse().map_err(|_| VerifyError::MalformedHeader {
            header: "stripe-signature",
            reason: format!("`t={ts_text}` is not a Unix time in seconds"),
        })?;
        if candidates.is_empty() {
            return Err(VerifyError::MalformedHeader {
                header: "stripe-signature",
                reason: "no `v1=` signature".into(),
            });
        }
        self.check_time(ts, now)?;
        self.match_hmac(
            "stripe-signature",
            &candidates,
            &[ts_text.as_bytes(), b".", body],
        )?;
        Ok(Verified {
            id: None,
            timestamp: Some(ts),
            version: "v1",
        })
    }

    fn match_hmac(
        &self,
        header: &'static str,
        candidates: &[(&str, Sig)],
        parts: &[&[u8]],
    ) -> Result<&'static str, VerifyError> {
        self.match_any(header, candidates, parts)
    }

    /// Every key against every candidate of its version; one MAC per key.
    fn match_any(
        &self,
        header: &'static str,
        candidates: &[(&str, Sig)],
        parts: &[&[u8]],
    ) -> Result<&'static str, VerifyError> {
        let mut joined: Option<Vec<u8>> = None;
        for key in &self.keys {
            let version = key.version(self.scheme);
            let mut mine = candidates.iter().filter(|(v, _)| *v == version).peekable();
            if mine.peek().is_none() {
                continue;
            }
            match key {
                Key::Hmac(k) => {
                    let tag = mac(k, parts);
                    // Every candidate is compared (no early exit on the first match).
                    let mut ok = false;
                    for (_, sig) in mine {
                        ok |= constant_time_eq(tag.as_ref(), sig.bytes());
                    }
                    if ok {
                        return Ok(version);
                    }
                }
                _ => {
                    let public = key.public().unwrap_or_default();
                    let message = joined.get_or_insert_with(|| parts.concat());
                    let verifier = UnparsedPublicKey::new(&ED25519, public);
                    if mine.any(|(_, sig)| verifier.verify(message, sig.bytes()).is_ok()) {
                        return Ok(version);
                    }
                }
            }
        }
        let mut versions: Vec<&str> = candidates.iter().map(|(v, _)| *v).collect();
        versions.dedup();
        let mut held: Vec<&str> = self.keys.iter().map(|k| k.version(self.scheme)).collect();
        held.dedup();
        Err(VerifyError::NoMatch {
            header,
            found: candidates.len(),
            versions: versions.join(", "),
            keys: self.keys.len(),
            held: held.join(", "),
        })
    }
}

/// Refuses a delivery that carries more than [`MAX_SIGNATURES`] signatures.
fn too_many(header: &'static str, count: usize) -> Result<(), VerifyError> {
    if count > MAX_SIGNATURES {
        return Err(VerifyError::MalformedHeader {
            header,
            reason: format!("more than {MAX_SIGNATURES} signatures"),
        });
    }
    Ok(())
}

fn optional(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Signs deliveries the way a sender of `scheme` would.
pub struct Signer {
    scheme: Scheme,
    key: SignKey,
}

enum SignKey {
    Hmac(hmac::Key),
    Ed25519(Box<Ed25519KeyPair>),
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer with one key (`whsec_` for v1, `whsk_` for v1a with [`Scheme::Standard`];
    /// the secret string for the others).
    pub fn new(scheme: Scheme, secret: &str) -> Result<Self, KeyError> {
        let key = match Key::parse(scheme, secret)? {
            Key::Hmac(k) => SignKey::Hmac(k),
            Key::Ed25519Secret(pair) => SignKey::Ed25519(pair),
            Key::Ed25519Public(_) => return Err(KeyError::PublicKeyCannotSign),
        };
        Ok(Self { scheme, key })
    }

    /// The headers a sender sets on a delivery with this id, timestamp (Unix seconds) and
    /// body. Schemes without an id or timestamp header ignore them (GitHub and Shopify
    /// still get their id header).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<HeaderMap, VerifyError> {
        let mut out = HeaderMap::new();
        let value = |s: String, header: &'static str| {
            HeaderValue::try_from(s).map_err(|_| VerifyError::MalformedHeader {
                header,
                reason: "the id is not a valid header value".into(),
            })
        };
        let ts = timestamp.to_string();
        match self.scheme {
            Scheme::Standard => {
                let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", body];
                let signature = match &self.key {
                    SignKey::Hmac(k) => format!("v1,{}", B64.encode(mac(k, &parts))),
                    SignKey::Ed25519(pair) => {
                        format!("v1a,{}", B64.encode(pair.sign(&parts.concat())))
                    }
                };
                out.insert(
                    HeaderName::from_static("webhook-id"),
                    value(id.into(), "webhook-id")?,
                );
                out.insert(
                    HeaderName::from_static("webhook-timestamp"),
                    value(ts, "webhook-timestamp")?,
                );
                out.insert(
                    HeaderName::from_static("webhook-signature"),
                    value(signature, "webhook-signature")?,
                );
            }
            Scheme::Stripe => {
                let tag = self.hmac(&[ts.as_bytes(), b".", body]);
                out.insert(
                    HeaderName::from_static("stripe-signature"),
                    value(
                        format!("t={ts},v1={}", encode_hex(&tag)),
                        "stripe-signature",
                    )?,
                );
            }
            Scheme::GitHub => {
                let tag = self.hmac(&[body]);
                out.insert(
                    HeaderName::from_static("x-hub-signature-256"),
                    value(
                        format!("sha256={}", encode_hex(&tag)),
                        "x-hub-signature-256",
                    )?,
                );
                out.insert(
                    HeaderName::from_static("x-github-delivery"),
                    value(id.into(), "x-github-delivery")?,
                );
            }
            Scheme::Shopify => {
                let tag = self.hmac(&[body]);
                out.insert(
                    HeaderName::from_static("x-shopify-hmac-sha256"),
                    value(B64.encode(tag), "x-shopify-hmac-sha256")?,
                );
                out.insert(
                    HeaderName::from_static("x-shopify-webhook-id"),
                    value(id.into(), "x-shopify-webhook-id")?,
                );
            }
        }
        Ok(out)
    }

    fn hmac(&self, parts: &[&[u8]]) -> Vec<u8> {
        match &self.key {
            SignKey::Hmac(k) => mac(k, parts).as_ref().to_vec(),
            // Only `Scheme::Standard` parses ed25519 keys (`Key::parse`), and it never
            // comes here; an ed25519 signature is still a signature of the bytes.
            SignKey::Ed25519(pair) => pair.sign(&parts.concat()).as_ref().to_vec(),
        }
    }
}

/// SHA-256 of `bytes`, for telling two bodies under one delivery id apart.
pub fn body_digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// An ed25519 key pair for `v1a`, `(whsk_…, whpk_…)`, from 32 bytes of seed.
pub fn ed25519_keys_from_seed(seed: &[u8; 32]) -> Result<(String, String), KeyError> {
    let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| KeyError::Length {
        what: "seed",
        found: seed.len(),
    })?;
    Ok((
        format!("whsk_{}", B64.encode(seed)),
        format!("whpk_{}", B64.encode(pair.public_key().as_ref())),
    ))
}

/// Lowercase hex, as GitHub and Stripe print signatures.
pub fn to_hex(bytes: &[u8]) -> String {
    encode_hex(bytes)
}

#[cfg(test)]
mod tests;
