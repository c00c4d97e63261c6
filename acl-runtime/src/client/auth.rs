//! Credentials for the contract's `securitySchemes`: API keys (header, query, cookie),
//! HTTP bearer and basic, OAuth2 client credentials (token fetched, cached until it
//! expires, refreshed once on a 401). Secrets never show in `Debug` output or logs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::transport::{Transport, TransportError, TransportErrorKind};

/// A secret: its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyIn {
    /// A header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// A security scheme as the contract declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeSpec {
    /// `type: apiKey`.
    ApiKey {
        /// The header, parameter or cookie name.
        name: &'static str,
        /// Where.
        location: KeyIn,
    },
    /// `type: http, scheme: bearer`.
    Bearer,
    /// `type: http, scheme: basic`.
    Basic,
    /// `type: oauth2` (the client-credentials flow's token URL, when it has one), or
    /// `openIdConnect`: a bearer token the caller supplies or the flow fetches.
    OAuth2 {
        /// The client-credentials token URL.
        token_url: Option<&'static str>,
    },
    /// A scheme acl cannot apply (mutual TLS: configure the transport).
    Other,
}

/// Credentials the caller gives for one scheme.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The key of an `apiKey` scheme.
    ApiKey(Secret),
    /// A bearer token (HTTP bearer, or an OAuth2 token obtained elsewhere).
    Bearer(Secret),
    /// HTTP basic.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
    /// OAuth2 client credentials: a token is fetched from the scheme's token URL (or
    /// `token_url` when set) and cached until it expires.
    ClientCredentials {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: Secret,
        /// Scopes to ask for.
        scopes: Vec<String>,
        /// Overrides the contract's token URL.
        token_url: Option<String>,
    },
}

/// What applying a credential adds to a request.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    /// An OAuth2 token was used (a 401 then refreshes it once).
    pub oauth: bool,
}

/// A cached OAuth2 token.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    token: Mutex<Option<(Secret, Instant)>>,
}

impl TokenCache {
    pub(crate) fn invalidate(&self) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A valid token: the cached one, or a new one from `token_url`.
    pub(crate) async fn get(
        &self,
        transport: &dyn Transport,
        token_url: &str,
        client_id: &str,
        client_secret: &Secret,
        scopes: &[String],
    ) -> Result<Secret, TransportError> {
        if let Some((token, until)) = &*self.token.lock().unwrap_or_else(|p| p.into_inner()) {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let bad = |message: String| TransportError {
            kind: TransportErrorKind::Request,
            message,
        };
        let mut form = String::from("grant_type=client_credentials");
        if !scopes.is_empty() {
            form.push_str("&scope=");
            form.push_str(&super::params::encode(&scopes.join(" ")));
        }
        // RFC 6749 §2.3.1: client id and secret in HTTP basic, form-encoded.
        let basic = basic_value(
            &super::params::encode(client_id),
            &super::params::encode(client_secret.expose()),
        );
        let request = http::Request::post(token_url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::AUTHORIZATION, basic)
            .body(Bytes::from(form))
            .map_err(|e| bad(format!("token request to {token_url}: {e}")))?;
        let response = transport.send(request).await?;
        if !response.status().is_success() {
            return Err(bad(format!(
                "token endpoint {token_url} answered {}",
                response.status()
            )));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            access_token: String,
            expires_in: Option<u64>,
        }
        let token: Token = serde_json::from_slice(response.body())
            .map_err(|e| bad(format!("token endpoint {token_url}: {e}")))?;
        // Renew a little early: a token must not expire on its way to the server.
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        let until = Instant::now() + lifetime.saturating_sub(lifetime / 10);
        let secret = Secret::new(token.access_token);
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some((secret.clone(), until));
        Ok(secret)
    }
}

pub(crate) fn basic_value(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let c = Credential::Basic {
            user: "me".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(
            basic_value("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
