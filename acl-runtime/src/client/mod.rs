//! What generated clients are made of: the contract's operations as static data
//! ([`ApiSpec`]), a [`ClientBuilder`] that turns policies (defaults, the contract's
//! `x-acl-*` extensions, code) and credentials into a [`Core`], and [`Request`], which
//! serialises parameters and bodies and runs each call through the resilience
//! pipeline ([`crate::resilience::pipeline`]).
//!
//! Generated code stays small: one method per operation that names its parameters, and
//! one `decode` per response enum; everything else lives here, compiled once.

pub mod auth;
pub mod call;
pub mod error;
pub mod hook;
pub mod options;
pub mod pagination;
pub mod params;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

#[cfg(feature = "reqwest")]
pub use crate::transport::ReqwestTransport;
pub use crate::transport::{BoxFuture, ByteStream, Transport, TransportError, TransportErrorKind};
pub use auth::{Credential, KeyIn, SchemeSpec, Secret};
pub use bytes::Bytes;
pub use call::{Call, CallFuture, Failed, Meta, Response};
pub use error::Error;
pub use hook::{Hook, HookContext, HookError};
/// The `http` crate, as the client uses it: with [`Bytes`], what implementing
/// [`Transport`] needs, without an extra dependency line (or a version mismatch).
pub use http;
pub use options::CallOptions;
pub use pagination::{NextPage, Page, PageCursor, Pages, Paginated, Pagination};

pub use crate::boundary::decode::BoundaryError;
use crate::resilience::classify::Outcome;
use crate::resilience::config::{
    closest, err, layered, rate_limit_algorithm, ConfigError, OperationConfig, SystemConfig,
};
use crate::resilience::pipeline::{AttemptError, CallError, Operation, System};
use crate::resilience::rate_limit::{Algorithm, RateLimiter, Store};

/// A contract's operations and what the client needs to know about them.
#[derive(Debug)]
pub struct ApiSpec {
    /// The external system's name (the contract's title): names its breaker, budget,
    /// limiter and metrics.
    pub system: &'static str,
    /// `servers`: URL templates with their variables' defaults; the first is the
    /// default base URL.
    pub servers: &'static [(&'static str, &'static [(&'static str, &'static str)])],
    /// Policy settings from the document's `x-acl-*` extensions, as JSON
    /// (`{"system": {...}, "operation": {...}}`), or empty.
    pub policies: &'static str,
    /// Security schemes by name.
    pub schemes: &'static [(&'static str, SchemeSpec)],
    /// Security alternatives that apply when an operation names none.
    pub security: &'static [&'static [&'static str]],
    /// Every operation, in the order generated methods refer to them.
    pub operations: &'static [OperationSpec],
    /// The contract's documents (`types::CONTRACT`), when embedded: what test doubles
    /// answer from (`acl_runtime::testing`).
    pub contract: Option<&'static crate::Contract>,
}

/// A documented response of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSpec {
    /// The status as the contract writes it: `"200"`, `"2XX"`, `"default"`.
    pub status: &'static str,
    /// The media type (empty when the response has no body).
    pub media: &'static str,
    /// Where its schema is in [`ApiSpec::contract`] (`uri#pointer`; empty for none).
    pub schema: &'static str,
    /// Its declared headers: name, where the schema is (empty for none), required.
    pub headers: &'static [(&'static str, &'static str, bool)],
}

/// A parameter of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// Where: `path`, `query`, `header` or `cookie`.
    pub location: &'static str,
    /// The name on the wire.
    pub name: &'static str,
    /// Whether it must be sent (path parameters always).
    pub required: bool,
    /// Where its schema is in [`ApiSpec::contract`] (`uri#pointer`; empty for none).
    pub schema: &'static str,
    /// `explode` (defaults applied): a list as repeated `name=` pairs rather than one
    /// comma-separated value.
    pub explode: bool,
}

/// One operation.
#[derive(Debug)]
pub struct OperationSpec {
    /// `operationId` (or the one derived from method and path).
    pub id: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path template (`/pets/{petId}`).
    pub path: &'static str,
    /// Its `x-acl-*` policy settings as `OperationConfig` JSON, or empty.
    pub policy: &'static str,
    /// The idempotency-key header the operation declares: one key per logical call,
    /// reused by its retries.
    pub idempotency_header: Option<&'static str>,
    /// Its security alternatives (`None`: the document's).
    pub security: Option<&'static [&'static [&'static str]]>,
    /// The header parameters it declares (typed in the generated method: default and
    /// per-call headers may not set them).
    pub headers: &'static [&'static str],
    /// How its results are paged, when they are (the generated `…_all` method).
    pub pagination: Option<Pagination>,
    /// Its documented responses, in the contract's order.
    pub responses: &'static [ResponseSpec],
    /// Its parameters, in the contract's order.
    pub parameters: &'static [ParamSpec],
    /// Its request body: whether one is required, and per media type where its schema is
    /// in [`ApiSpec::contract`] (empty for none).
    pub body: (bool, &'static [(&'static str, &'static str)]),
}

/// A generated client, made from a [`Core`].
pub trait FromCore: Sized {
    /// The contract the client was generated from.
    const API: &'static ApiSpec;
    /// Wraps the core.
    fn from_core(core: Core) -> Self;
}

/// A client's policies written as a type: `#[derive(acl_runtime::Policies)]` writes
/// this from its attributes, checked against the contract at compile time. Each layer is
/// a JSON object in acl-policy's names (the words of the derive and of the contract's
/// `x-acl-*` extensions). Apply with [`ClientBuilder::policies`].
pub trait Policies {
    /// The system's settings (`{"breaker": {...}, "rate_limit": {...}}`), laid over the
    /// contract's; empty for none.
    const SYSTEM: &'static str = "";
    /// Every operation's settings, laid over acl's defaults before the contract's
    /// extensions; empty for none.
    const DEFAULTS: &'static str = "";
    /// Operation id → its settings, laid over the contract's extensions.
    const OPERATIONS: &'static [(&'static str, &'static str)] = &[];
}

/// A setting the client cannot be built with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scope}: `{path}`: {message}")]
pub struct BuildError {
    /// `system`, `defaults`, the contract, or an operation id.
    pub scope: String,
    /// The setting.
    pub path: String,
    /// Why.
    pub message: String,
}

/// One layer of settings from code: a closure, or a JSON layer of a [`Policies`] type.
type Tweak<T> = Box<dyn Fn(&mut T) -> Result<(), ConfigError> + Send + Sync>;
type PerOperation =
    Box<dyn Fn(&str, &mut OperationConfig) -> Result<(), ConfigError> + Send + Sync>;

/// A closure that always applies.
fn tweak<T>(f: impl Fn(&mut T) + Send + Sync + 'static) -> Tweak<T> {
    Box::new(move |t| {
        f(t);
        Ok(())
    })
}

/// `target` with the JSON `layer` (a [`Policies`] constant) laid over it.
fn lay<T: Serialize + DeserializeOwned>(target: &mut T, layer: &str) -> Result<(), ConfigError> {
    if layer.is_empty() {
        return Ok(());
    }
    let value: Value = serde_json::from_str(layer).map_err(|e| err(".", e))?;
    *target = layered(target, &[&value])?;
    Ok(())
}

/// Builds a generated client: base URL, transport, policies and credentials.
///
/// Policies are layered, later wins: acl's defaults (a 10 s timeout, a 30 s deadline,
/// 3 attempts with exponential backoff and full jitter where retrying is safe, a
/// breaker, a retry budget, and an outbound limit of 100 calls per second), then
/// [`ClientBuilder::defaults`], then the document's `x-acl-*` extensions, then the
/// operation's, then [`ClientBuilder::operation`].
pub struct ClientBuilder<C> {
    base_url: Option<String>,
    transport: Option<Arc<dyn Transport>>,
    system: Vec<Tweak<SystemConfig>>,
    defaults: Vec<Tweak<OperationConfig>>,
    operations: Vec<(String, Tweak<OperationConfig>)>,
    per_operation: Vec<PerOperation>,
    credentials: Vec<(Option<String>, Credential)>,
    variables: Vec<(String, String)>,
    shared_limit: Option<SharedLimit>,
    default_headers: Vec<(String, String)>,
    hooks: Vec<Arc<dyn Hook>>,
    client: PhantomData<fn() -> C>,
}

type SharedLimit = Box<
    dyn FnOnce(System, Algorithm) -> Result<System, crate::resilience::rate_limit::InvalidRateLimit>
        + Send
        + Sync,
>;

impl<C: FromCore> Default for ClientBuilder<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: FromCore> ClientBuilder<C> {
    /// A builder with acl's defaults.
    pub fn new() -> Self {
        Self {
            base_url: None,
            transport: None,
            system: Vec::new(),
            defaults: Vec::new(),
            operations: Vec::new(),
            per_operation: Vec::new(),
            credentials: Vec::new(),
            variables: Vec::new(),
            shared_limit: None,
            default_headers: Vec::new(),
            hooks: Vec::new(),
            client: PhantomData,
        }
    }

    /// A header every call sends (an API version, a tenant). Checked by `build`: a name
    /// or value HTTP does not allow, or a header an operation declares as a typed
    /// parameter, is a [`BuildError`]. A later value for the same name replaces an
    /// earlier one; per-call headers ([`CallOptions::header`]) replace default ones.
    pub fn default_header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        self.default_headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.default_headers
            .push((name.to_string(), value.as_ref().to_string()));
        self
    }

    /// A hook that sees every attempt of every call (see [`Hook`] for when it runs).
    /// Hooks run in the order they were added.
    pub fn hook(mut self, hook: impl Hook) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// The base URL (default: the contract's first server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A value for a variable of the contract's server URL (`region` = `us`).
    pub fn server_variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.push((name.into(), value.into()));
        self
    }

    /// The transport (default: [`ReqwestTransport`]).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Changes the system's settings (breaker, retry budget, outbound rate limit).
    pub fn system(mut self, f: impl Fn(&mut SystemConfig) + Send + Sync + 'static) -> Self {
        self.system.push(tweak(f));
        self
    }

    /// Changes every operation's settings (before the contract's extensions apply).
    pub fn defaults(mut self, f: impl Fn(&mut OperationConfig) + Send + Sync + 'static) -> Self {
        self.defaults.push(tweak(f));
        self
    }

    /// Changes one operation's settings, by operation id (last word).
    pub fn operation(
        mut self,
        id: impl Into<String>,
        f: impl Fn(&mut OperationConfig) + Send + Sync + 'static,
    ) -> Self {
        self.operations.push((id.into(), tweak(f)));
        self
    }

    /// Keeps the outbound rate limit in a shared store (`acl_runtime::resilience::rate_limit::redis::RedisStore`):
    /// every instance of the service then counts against one limit.
    pub fn rate_limit_store<S: Store + 'static>(mut self, store: S) -> Self {
        self.shared_limit = Some(Box::new(move |system: System, alg| {
            Ok(system.rate_limited_shared(RateLimiter::with_store(alg, store)?))
        }));
        self
    }

    /// Applies a set of policies written as a type (see [`Policies`]).
    pub fn policies<P: Policies + 'static>(mut self) -> Self {
        self.system.push(Box::new(|s| lay(s, P::SYSTEM)));
        self.defaults.push(Box::new(|o| lay(o, P::DEFAULTS)));
        self.per_operation.push(Box::new(|id, o| {
            P::OPERATIONS
                .iter()
                .filter(|(op, _)| *op == id)
                .try_for_each(|(_, layer)| lay(o, layer))
        }));
        self
    }

    /// Credentials for the security scheme `scheme` (its name in the contract).
    pub fn credential(mut self, scheme: impl Into<String>, credential: Credential) -> Self {
        self.credentials.push((Some(scheme.into()), credential));
        self
    }

    /// A bearer token for every bearer, OAuth2 and OpenID Connect scheme.
    pub fn bearer_token(mut self, token: impl Into<Secret>) -> Self {
        self.credentials
            .push((None, Credential::Bearer(token.into())));
        self
    }

    /// A key for every API-key scheme.
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.credentials
            .push((None, Credential::ApiKey(key.into())));
        self
    }

    /// A user and password for every HTTP basic scheme.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.credentials.push((
            None,
            Credential::Basic {
                user: user.into(),
                password: password.into(),
            },
        ));
        self
    }

    /// Builds the client; every setting is checked.
    pub fn build(self) -> Result<C, BuildError> {
        let api = C::API;
        let contract = if api.policies.is_empty() {
            Value::Null
        } else {
            serde_json::from_str::<Value>(api.policies).map_err(|e| BuildError {
                scope: "contract".into(),
                path: "x-acl".into(),
                message: e.to_string(),
            })?
        };
        // acl-policy states the defaults once (100 calls/s among them).
        let mut system = SystemConfig::default();
        system = overlay(system, contract.get("system"), "contract")?;
        for f in &self.system {
            f(&mut system).map_err(scoped("system"))?;
        }
        let limit = system.rate_limit.as_ref().map(rate_limit_algorithm);
        let mut built = System::from_config(api.system, &system).map_err(scoped("system"))?;
        match (self.shared_limit, limit) {
            (Some(shared), Some(alg)) => {
                built = shared(built, alg).map_err(|e| BuildError {
                    scope: "system".into(),
                    path: "rate_limit_store".into(),
                    message: e.to_string(),
                })?;
            }
            (Some(_), None) => {
                return Err(BuildError {
                    scope: "system".into(),
                    path: "rate_limit_store".into(),
                    message: "a shared store needs a rate limit (`rate_limit`)".into(),
                })
            }
            _ => {}
        }
        let system = Arc::new(built);
        for (id, _) in &self.operations {
            if !api.operations.iter().any(|o| o.id == id) {
                let known: Vec<&str> = api.operations.iter().map(|o| o.id).collect();
                return Err(BuildError {
                    scope: id.clone(),
                    path: "operation".into(),
                    message: format!(
                        "no such operation in the contract{}",
                        closest(id, &known)
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default()
                    ),
                });
            }
        }
        let mut base = OperationConfig::default();
        for f in &self.defaults {
            f(&mut base).map_err(scoped("defaults"))?;
        }
        let base = overlay(base, contract.get("operation"), "contract")?;
        let mut operations = Vec::with_capacity(api.operations.len());
        let mut key_headers = Vec::with_capacity(api.operations.len());
        let mut max_bodies = Vec::with_capacity(api.operations.len());
        let mut configs = Vec::with_capacity(api.operations.len());
        for spec in api.operations {
            let mut config = base.clone();
            if !spec.policy.is_empty() {
                let own: Value = serde_json::from_str(spec.policy).map_err(|e| BuildError {
                    scope: spec.id.into(),
                    path: "x-acl".into(),
                    message: e.to_string(),
                })?;
                config = overlay(config, Some(&own), spec.id)?;
            }
            if config.idempotency_key.is_none() {
                config.idempotency_key = spec.idempotency_header.map(str::to_string);
            }
            for f in &self.per_operation {
                f(spec.id, &mut config).map_err(scoped(spec.id))?;
            }
            for (_, f) in self.operations.iter().filter(|(id, _)| id == spec.id) {
                f(&mut config).map_err(scoped(spec.id))?;
            }
            max_bodies.push(config.max_response_body);
            key_headers.push(config.idempotency_key.clone());
            operations.push(
                Operation::from_config(spec.id, spec.method, system.clone(), &config)
                    .map_err(scoped(spec.id))?,
            );
            configs.push(config);
        }
        let mut default_headers = Vec::with_capacity(self.default_headers.len());
        for (name, value) in &self.default_headers {
            let header = checked_header(name, value).map_err(|message| BuildError {
                scope: "client".into(),
                path: format!("default_header({name})"),
                message,
            })?;
            if let Some(spec) = api.operations.iter().find(|o| declares(o, name)) {
                return Err(BuildError {
                    scope: "client".into(),
                    path: format!("default_header({name})"),
                    message: format!(
                        "operation `{}` declares `{name}` as a parameter: pass it there",
                        spec.id
                    ),
                });
            }
            default_headers.push(header);
        }
        if let Some((name, _)) = self.variables.iter().find(|(n, _)| {
            !api.servers
                .first()
                .is_some_and(|(_, vars)| vars.iter().any(|(v, _)| v == n))
        }) {
            return Err(BuildError {
                scope: "client".into(),
                path: format!("server_variable({name})"),
                message: "the contract's first server has no such variable".into(),
            });
        }
        let base_url = self
            .base_url
            .or_else(|| {
                api.servers.first().map(|(template, vars)| {
                    let mut url = template.to_string();
                    for (name, default) in vars.iter() {
                        let value = self
                            .variables
                            .iter()
                            .rev()
                            .find(|(n, _)| n == name)
                            .map_or(*default, |(_, v)| v.as_str());
                        url = url.replace(&format!("{{{name}}}"), value);
                    }
                    url
                })
            })
            .ok_or_else(|| BuildError {
                scope: "client".into(),
                path: "base_url".into(),
                message: "the contract names no server: set one with `base_url`".into(),
            })?;
        let parsed = url::Url::parse(&base_url).map_err(|e| BuildError {
            scope: "client".into(),
            path: "base_url".into(),
            message: format!("`{base_url}`: {e} (a relative server URL needs `base_url`)"),
        })?;
        let transport = match self.transport {
            Some(t) => t,
            #[cfg(feature = "reqwest")]
            None => Arc::new(ReqwestTransport::default()),
            #[cfg(not(feature = "reqwest"))]
            None => {
                return Err(BuildError {
                    scope: "client".into(),
                    path: "transport".into(),
                    message: "no transport: enable acl-runtime's `reqwest` feature or set one"
                        .into(),
                })
            }
        };
        let mut credentials = HashMap::new();
        for (scheme, credential) in self.credentials {
            match scheme {
                Some(name) => {
                    let Some((n, _)) = api.schemes.iter().find(|(n, _)| *n == name) else {
                        let known: Vec<&str> = api.schemes.iter().map(|(n, _)| *n).collect();
                        return Err(BuildError {
                            scope: "client".into(),
                            path: format!("credential({name})"),
                            message: format!(
                                "the contract has no security scheme `{name}` (it has: {})",
                                known.join(", ")
                            ),
                        });
                    };
                    credentials.insert(*n, credential);
                }
                None => {
                    for (n, spec) in api.schemes {
                        let fits = matches!(
                            (&credential, spec),
                            (
                                Credential::Bearer(_),
                                SchemeSpec::Bearer | SchemeSpec::OAuth2 { .. }
                            ) | (Credential::ApiKey(_), SchemeSpec::ApiKey { .. })
                                | (Credential::Basic { .. }, SchemeSpec::Basic)
                        );
                        if fits {
                            credentials.insert(*n, credential.clone());
                        }
                    }
                }
            }
        }
        let origin = parsed.origin();
        // OpenTelemetry's HTTP client attributes for each operation's spans and metrics:
        // the method and the contract's template, never a filled URL.
        let base_path = parsed.path().trim_end_matches('/').to_string();
        let operations = operations
            .into_iter()
            .zip(api.operations)
            .map(|(op, spec)| {
                op.http(crate::resilience::pipeline::HttpTarget {
                    method: spec.method.to_string(),
                    url_template: format!("{base_path}{}", spec.path),
                    server_address: parsed.host_str().unwrap_or_default().to_string(),
                    server_port: parsed.port_or_known_default(),
                })
            })
            .collect();
        Ok(C::from_core(Core {
            shared: Arc::new(Shared {
                api,
                base: parsed.as_str().trim_end_matches('/').to_string(),
                origin,
                transport,
                operations,
                key_headers,
                max_bodies,
                configs,
                credentials,
                default_headers,
                hooks: self.hooks,
                tokens: Default::default(),
            }),
            options: CallOptions::default(),
        }))
    }
}

/// `base` with the keys of `layer` (a JSON object) laid over it, objects merged.
fn overlay<T: Serialize + DeserializeOwned>(
    base: T,
    layer: Option<&Value>,
    scope: &str,
) -> Result<T, BuildError> {
    let Some(layer) = layer.filter(|l| !l.is_null()) else {
        return Ok(base);
    };
    layered(&base, &[layer]).map_err(scoped(scope))
}

/// Whether `spec` declares the header `name` (or sends it as its idempotency key).
fn declares(spec: &OperationSpec, name: &str) -> bool {
    spec.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
        || spec
            .idempotency_header
            .is_some_and(|h| h.eq_ignore_ascii_case(name))
}

/// A header from code, checked: HTTP's rules for names and values.
fn checked_header(
    name: &str,
    value: &str,
) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let n = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    let v = http::HeaderValue::from_str(value)
        .map_err(|_| format!("the value of `{name}` is not a valid header value"))?;
    Ok((n, v))
}

/// A settings error as a build error of `scope` (`system`, `defaults`, an operation).
fn scoped(scope: &str) -> impl Fn(ConfigError) -> BuildError + '_ {
    move |e| BuildError {
        scope: scope.to_string(),
        path: e.path,
        message: e.message,
    }
}

/// What every handle of one client shares: the system (breaker, limiter, budget), the
/// operations' policies, the transport, credentials, default headers and hooks.
struct Shared {
    api: &'static ApiSpec,
    base: String,
    /// The base URL's origin: next-page URLs are followed only there.
    origin: url::Origin,
    transport: Arc<dyn Transport>,
    operations: Vec<Operation>,
    /// Per operation: the header of its idempotency key (contract or code).
    key_headers: Vec<Option<String>>,
    /// Per operation: the largest response body read.
    max_bodies: Vec<u64>,
    /// Per operation: its settings (what hooks see).
    configs: Vec<OperationConfig>,
    credentials: HashMap<&'static str, Credential>,
    default_headers: Vec<(http::HeaderName, http::HeaderValue)>,
    hooks: Vec<Arc<dyn Hook>>,
    tokens: std::sync::Mutex<HashMap<&'static str, Arc<auth::TokenCache>>>,
}

/// One handle of a client: what its calls share, and its [`CallOptions`]. Cloning is
/// cheap; clones share the breaker, limiter and budget.
#[derive(Clone)]
pub struct Core {
    shared: Arc<Shared>,
    options: CallOptions,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("system", &self.shared.api.system)
            .field("base", &self.shared.base)
            .field("credentials", &self.shared.credentials)
            .field("options", &self.options)
            .finish()
    }
}

impl Core {
    /// Starts a request for operation number `op` of the contract.
    pub fn request(&self, op: usize) -> Request<'_> {
        Request {
            core: self,
            op,
            path: self.shared.api.operations[op].path.to_string(),
            url: None,
            query: Vec::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
            accept: None,
            idempotency_key: None,
            error: None,
        }
    }

    /// A handle sharing this one's system (breaker, limiter, budget), transport and
    /// credentials whose calls apply `options` (laid over this handle's own).
    pub fn with_options(&self, options: CallOptions) -> Core {
        Core {
            shared: self.shared.clone(),
            options: self.options.merged(options),
        }
    }

    /// This handle's call options.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// The external system (breaker state, for health checks).
    pub fn system(&self) -> &System {
        self.shared.operations[0].system()
    }

    /// The contract this client was generated from.
    pub fn api(&self) -> &'static ApiSpec {
        self.shared.api
    }

    /// The settings operation number `op` was built with.
    pub fn policy(&self, op: usize) -> &OperationConfig {
        &self.shared.configs[op]
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }
}

impl Shared {
    fn token_cache(&self, scheme: &'static str) -> Arc<auth::TokenCache> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(scheme)
            .or_default()
            .clone()
    }

    /// Credentials for the first security alternative the caller has credentials for.
    async fn authenticate(&self, op: &OperationSpec) -> Result<auth::Applied, String> {
        let mut applied = auth::Applied::default();
        let alternatives = op.security.unwrap_or(self.api.security);
        // The first alternative we hold every credential for; an empty one (`{}`: auth
        // is optional) means sending none, which is what happens when none can be met.
        let Some(chosen) = alternatives
            .iter()
            .find(|alt| !alt.is_empty() && alt.iter().all(|n| self.credentials.contains_key(n)))
        else {
            // None satisfied: the call goes without; the server answers 401 if it must.
            return Ok(applied);
        };
        for name in chosen.iter() {
            let credential = &self.credentials[name];
            let spec = self
                .api
                .schemes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| *s)
                .unwrap_or(SchemeSpec::Other);
            match (spec, credential) {
                (SchemeSpec::ApiKey { name, location }, Credential::ApiKey(key)) => {
                    let pair = (name.to_string(), key.expose().to_string());
                    match location {
                        KeyIn::Header => applied.headers.push(pair),
                        KeyIn::Query => applied
                            .query
                            .push((params::encode(name), params::encode(key.expose()))),
                        KeyIn::Cookie => applied.cookies.push(pair),
                    }
                }
                (_, Credential::Bearer(token)) => applied
                    .headers
                    .push(("authorization".into(), format!("Bearer {}", token.expose()))),
                (_, Credential::Basic { user, password }) => applied.headers.push((
                    "authorization".into(),
                    auth::basic_value(user, password.expose()),
                )),
                (
                    SchemeSpec::OAuth2 { token_url },
                    Credential::ClientCredentials {
                        client_id,
                        client_secret,
                        scopes,
                        token_url: own,
                    },
                ) => {
                    let url = own.as_deref().or(token_url).ok_or_else(|| {
                        format!("scheme `{name}` has no client-credentials token URL: set one")
                    })?;
                    let token = self
                        .token_cache(name)
                        .get(&*self.transport, url, client_id, client_secret, scopes)
                        .await
                        .map_err(|e| format!("OAuth2 token for `{name}`: {}", e.message))?;
                    applied
                        .headers
                        .push(("authorization".into(), format!("Bearer {}", token.expose())));
                    applied.oauth = true;
                }
                (spec, credential) => {
                    return Err(format!(
                        "the credential for `{name}` does not fit its scheme ({spec:?} vs {})",
                        match credential {
                            Credential::ApiKey(_) => "an API key",
                            Credential::Bearer(_) => "a bearer token",
                            Credential::Basic { .. } => "basic",
                            Credential::ClientCredentials { .. } => "client credentials",
                        }
                    ))
                }
            }
        }
        Ok(applied)
    }
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The URL the request went to.
    pub url: String,
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl RawResponse {
    /// The media type of the body (without parameters), lowercase.
    pub fn media_type(&self) -> String {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default()
    }

    /// Whether the body is JSON by its content type (or has none, as some vendors send).
    fn is_json(&self) -> bool {
        let media = self.media_type();
        media.is_empty() || media == "application/json" || media.ends_with("+json")
    }
}

/// How a response decodes against the contract.
#[derive(Debug)]
pub enum Decoded<R> {
    /// A documented status with a body that fits.
    Documented(R),
    /// A status the operation does not document.
    Undocumented,
    /// A documented status whose body breaks the contract.
    Invalid(BoundaryError),
}

impl<R> From<Result<R, BoundaryError>> for Decoded<R> {
    fn from(r: Result<R, BoundaryError>) -> Self {
        match r {
            Ok(v) => Decoded::Documented(v),
            Err(e) => Decoded::Invalid(e),
        }
    }
}

/// The error type of an operation that documents no status of 400 or above: every
/// such status is [`Error::UndocumentedStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDocumentedErrors {}

impl NoDocumentedErrors {
    /// Reads nothing: no error status is documented.
    pub fn decode(_: &RawResponse) -> Decoded<Self> {
        Decoded::Undocumented
    }
}

/// The success of an operation whose contract documents none (only errors, as many of
/// Kubernetes' and Vercel's operations): any status below 400, kept untyped with what
/// arrived. The generator warns about such operations (`no-success-response`).
#[derive(Debug, Clone)]
pub struct UndocumentedSuccess {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body, as it came.
    pub body: UntypedBody,
}

/// A body no schema describes.
#[derive(Debug, Clone, PartialEq)]
pub enum UntypedBody {
    /// No body (or only whitespace).
    Empty,
    /// A JSON body (by its content type, or its look when there is none), parsed.
    Json(Value),
    /// Anything else, or JSON that does not parse, as bytes.
    Bytes(Bytes),
}

impl UndocumentedSuccess {
    /// Reads any success: nothing to check it against.
    pub fn decode(r: &RawResponse) -> Decoded<Self> {
        let body = if r.body.iter().all(u8::is_ascii_whitespace) {
            UntypedBody::Empty
        } else if r.is_json() {
            // Bounded like every body (`max_response_body`); serde_json's depth limit
            // bounds the nesting.
            match serde_json::from_slice(&r.body) {
                Ok(v) => UntypedBody::Json(v),
                Err(_) => UntypedBody::Bytes(r.body.clone()),
            }
        } else {
            UntypedBody::Bytes(r.body.clone())
        };
        Decoded::Documented(Self {
            status: r.status,
            headers: r.headers.clone(),
            body,
        })
    }
}

/// Decodes a JSON body (an empty body reads as `null`).
pub fn json<T: DeserializeOwned>(r: &RawResponse) -> Result<T, BoundaryError> {
    if !r.is_json() {
        return Err(BoundaryError {
            path: "$".into(),
            message: format!("content type: expected JSON, got `{}`", r.media_type()),
        });
    }
    if r.body.iter().all(u8::is_ascii_whitespace) {
        return crate::boundary::decode::from_value(&Value::Null);
    }
    crate::boundary::decode::from_json(&r.body)
}

/// A text body.
pub fn text(r: &RawResponse) -> Result<String, BoundaryError> {
    String::from_utf8(r.body.to_vec()).map_err(|e| BoundaryError {
        path: "$".into(),
        message: format!("text body: {e}"),
    })
}

/// A binary body.
/// The job a `202 Accepted` response describes (its `Location`, resolved against the
/// request's URL, and `Retry-After`), to await with
/// [`JobWaiter`](crate::patterns::async_reply::JobWaiter); `None` without a `Location`.
pub fn job(r: &RawResponse) -> Option<crate::patterns::async_reply::Job> {
    crate::patterns::async_reply::Job::from_accepted(&r.url, &r.headers)
}

/// The body as bytes.
pub fn bytes(r: &RawResponse) -> Result<Bytes, BoundaryError> {
    Ok(r.body.clone())
}

/// A declared response header, typed (`None` when absent).
pub fn header<T: DeserializeOwned>(
    r: &RawResponse,
    name: &str,
) -> Result<Option<T>, BoundaryError> {
    let Some(raw) = r.headers.get(name) else {
        return Ok(None);
    };
    let text = raw.to_str().map_err(|_| BoundaryError {
        path: format!("header {name}"),
        message: "not visible ASCII".into(),
    })?;
    // A header is text; numbers and booleans are read from it when the type wants them.
    let as_string = Value::String(text.to_string());
    crate::boundary::decode::from_value(&as_string)
        .or_else(|e| match serde_json::from_str::<Value>(text) {
            Ok(v) => crate::boundary::decode::from_value(&v),
            Err(_) => Err(e),
        })
        .map(Some)
        .map_err(|e| BoundaryError {
            path: format!("header {name}"),
            message: e.message,
        })
}

/// A required response header, typed.
pub fn required_header<T: DeserializeOwned>(
    r: &RawResponse,
    name: &str,
) -> Result<T, BoundaryError> {
    header(r, name)?.ok_or_else(|| BoundaryError {
        path: format!("header {name}"),
        message: "required: the header is missing".into(),
    })
}

/// Why an attempt failed, kept until the call ends.
enum Failure {
    Transport(TransportError),
    Response(RawResponse),
    Invalid(RawResponse, Option<BoundaryError>),
    /// A hook stopped the request.
    Hook(HookError),
}

/// One call being built by generated code, then sent with [`Request::send`].
#[derive(Clone)]
pub struct Request<'a> {
    core: &'a Core,
    op: usize,
    path: String,
    /// A whole URL to call instead of base + path + query (a next page's link).
    url: Option<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    body: Option<(Bytes, String)>,
    accept: Option<&'static str>,
    idempotency_key: Option<String>,
    error: Option<String>,
}

/// An attempt's success: the value with the status and headers it came with.
struct Done<T> {
    value: T,
    status: u16,
    headers: http::HeaderMap,
}

impl<'a> Request<'a> {
    fn value<T: Serialize + ?Sized>(&mut self, what: &str, value: &T) -> Option<Value> {
        match serde_json::to_value(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(format!("{what}: {e}"));
                None
            }
        }
    }

    /// Fills the path parameter `{name}`.
    pub fn path<T: Serialize + ?Sized>(
        mut self,
        name: &str,
        value: &T,
        style: &str,
        explode: bool,
    ) -> Self {
        if let Some(v) = self.value(name, value) {
            let text = params::path(name, &v, style, explode);
            // `.` and `..` would be dot segments: every URL parser (the WHATWG URL
            // standard, which reqwest's `url` follows) resolves them, percent-encoded
            // (`%2E%2E`) or not, so `get_profile("..")` would reach another endpoint.
            // No encoding keeps them a value: the call is refused.
            if text == "." || text == ".." {
                self.error.get_or_insert(format!(
                    "path parameter `{name}` is `{text}`, a dot segment that would change \
                     which endpoint is called"
                ));
                return self;
            }
            self.path = self.path.replace(&format!("{{{name}}}"), &text);
        }
        self
    }

    /// Adds a query parameter (`None` adds nothing).
    pub fn query<T: Serialize + ?Sized>(
        mut self,
        name: &str,
        value: &T,
        style: &str,
        explode: bool,
    ) -> Self {
        if let Some(v) = self.value(name, value) {
            self.query.extend(params::query(name, &v, style, explode));
        }
        self
    }

    /// Adds a header (`None` adds nothing). The declared idempotency-key header, when
    /// given, is the key of this call.
    pub fn header<T: Serialize + ?Sized>(mut self, name: &str, value: &T, explode: bool) -> Self {
        if let Some(v) = self.value(name, value) {
            if !v.is_null() {
                let text = params::header(&v, explode);
                let spec = self.spec();
                if spec
                    .idempotency_header
                    .is_some_and(|h| h.eq_ignore_ascii_case(name))
                {
                    self.idempotency_key = Some(text);
                } else {
                    self.headers.push((name.to_string(), text));
                }
            }
        }
        self
    }

    /// Adds a cookie (`None` adds nothing).
    pub fn cookie<T: Serialize + ?Sized>(mut self, name: &str, value: &T, explode: bool) -> Self {
        if let Some(v) = self.value(name, value) {
            if !v.is_null() {
                let text = params::encode(&params::header(&v, explode));
                self.cookies.push((name.to_string(), text));
            }
        }
        self
    }

    /// A JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(b) => self.body = Some((b.into(), "application/json".into())),
            Err(e) => {
                self.error.get_or_insert(format!("body: {e}"));
            }
        }
        self
    }

    /// A JSON body with its own media type (`application/merge-patch+json`).
    pub fn json_as<T: Serialize + ?Sized>(mut self, body: &T, media_type: &str) -> Self {
        self = self.json(body);
        if let Some((_, ct)) = &mut self.body {
            *ct = media_type.to_string();
        }
        self
    }

    /// An `application/x-www-form-urlencoded` body (objects explode into fields).
    pub fn form<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        if let Some(v) = self.value("body", body) {
            let pairs = params::query("body", &v, "form", true);
            let text: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            self.body = Some((
                text.join("&").into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        self
    }

    /// A `multipart/form-data` body.
    pub fn multipart(mut self, form: Multipart) -> Self {
        let (body, content_type) = form.finish();
        self.body = Some((body, content_type));
        self
    }

    /// A raw body (text, octet-stream, anything else) with its media type.
    pub fn raw(mut self, body: impl Into<Bytes>, media_type: &str) -> Self {
        self.body = Some((body.into(), media_type.to_string()));
        self
    }

    /// The media type asked for (`Accept`).
    pub fn accept(mut self, media_type: &'static str) -> Self {
        self.accept = Some(media_type);
        self
    }

    /// The operation this request is for.
    fn spec(&self) -> &'static OperationSpec {
        &self.core.shared.api.operations[self.op]
    }

    /// The (decoded) value of the query parameter `name`, if the request has one.
    pub(crate) fn query_value(&self, name: &str) -> Option<String> {
        let encoded = params::encode(name);
        self.query
            .iter()
            .find(|(k, _)| *k == encoded)
            .map(|(_, v)| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    }

    /// Sets the query parameter `name` to `value`, replacing what it had.
    pub(crate) fn set_query(&mut self, name: &str, value: &str) {
        let encoded = params::encode(name);
        self.query.retain(|(k, _)| *k != encoded);
        self.query.push((encoded, params::encode(value)));
    }

    /// The URL this request goes to, without credentials.
    pub(crate) fn target(&self) -> String {
        self.url_with(&auth::Applied::default())
    }

    /// Calls `url` (absolute) instead of the base URL, path and query.
    pub(crate) fn set_url(&mut self, url: String) {
        self.url = Some(url);
    }

    fn http_request(
        &self,
        url: &str,
        auth: &auth::Applied,
        key: Option<(&str, &str)>,
    ) -> Result<http::Request<Bytes>, String> {
        let spec = self.spec();
        let shared = &*self.core.shared;
        let mut b = http::Request::builder().method(spec.method).uri(url);
        // Default headers, replaced by per-call ones of the same name.
        let options = self.core.options.headers();
        for (name, value) in &shared.default_headers {
            if !options
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            {
                b = b.header(name, value);
            }
        }
        for (name, value) in options {
            if declares(spec, name) {
                return Err(format!(
                    "header `{name}` is a parameter of this operation: pass it there (or, for \
                     the idempotency key, use `CallOptions::idempotency_key`)"
                ));
            }
            let (name, value) = checked_header(name, value)?;
            b = b.header(name, value);
        }
        for (k, v) in self.headers.iter().chain(&auth.headers) {
            b = b.header(k.as_str(), v.as_str());
        }
        if let Some((h, k)) = key {
            b = b.header(h, k);
        }
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .chain(&auth.cookies)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() {
            b = b.header(http::header::COOKIE, cookies.join("; "));
        }
        if let Some(a) = self.accept {
            b = b.header(http::header::ACCEPT, a);
        }
        let body = match &self.body {
            Some((bytes, ct)) => {
                b = b.header(http::header::CONTENT_TYPE, ct.as_str());
                bytes.clone()
            }
            None => Bytes::new(),
        };
        b.body(body).map_err(|e| e.to_string())
    }

    /// Sends the request through the operation's pipeline. A status below 400 is read
    /// with `decode` and is `Ok`; a documented status of 400 or above is read with
    /// `decode_error` and is [`Error::Status`] with its typed response.
    pub fn send<R: Send + 'a, E: Send + 'a>(
        self,
        decode: fn(&RawResponse) -> Decoded<R>,
        decode_error: fn(&RawResponse) -> Decoded<E>,
    ) -> Call<'a, R, E> {
        Call::new(self.send_decoded(decode, decode_error, |r, _| r))
    }

    /// Like `send`, without the boxing of [`Call`]; `keep` makes the value from the
    /// decoded response and the raw one (pagination keeps the body).
    async fn send_decoded<R, V, E>(
        self,
        decode: fn(&RawResponse) -> Decoded<R>,
        decode_error: fn(&RawResponse) -> Decoded<E>,
        keep: fn(R, &RawResponse) -> V,
    ) -> Result<Response<V>, Failed<E>> {
        let limit = self.core.shared.max_bodies[self.op];
        self.execute(decode_error, move |url, response| async move {
            let (parts, body) = response.into_parts();
            let body = read_limited(body, &parts, limit)
                .await
                .map_err(|e| too_large_or_broken(e, &url, &parts))?;
            let raw = raw_response(url, http::Response::from_parts(parts, body));
            if raw.status >= 400 {
                return Err(error_status(raw));
            }
            match decode(&raw) {
                Decoded::Documented(r) => Ok(Done {
                    value: keep(r, &raw),
                    status: raw.status,
                    headers: raw.headers,
                }),
                Decoded::Undocumented => Err(invalid(raw, None)),
                Decoded::Invalid(e) => Err(invalid(raw, Some(e))),
            }
        })
        .await
    }

    /// Like [`Request::send`], for an operation whose success body is a stream
    /// (`application/octet-stream`, `text/event-stream`, ...): returns once the head
    /// has arrived, if `documented(status)`; the timeout covers the wait for the head,
    /// reading the body is the caller's. Error statuses are read whole, as by `send`.
    pub fn send_stream<E: Send + 'a>(
        self,
        documented: fn(u16) -> bool,
        decode_error: fn(&RawResponse) -> Decoded<E>,
    ) -> Call<'a, StreamResponse, E> {
        let limit = self.core.shared.max_bodies[self.op];
        Call::new(self.execute(decode_error, move |url, response| async move {
            let (parts, body) = response.into_parts();
            let status = parts.status.as_u16();
            if status < 400 && documented(status) {
                return Ok(Done {
                    status,
                    headers: parts.headers.clone(),
                    value: StreamResponse {
                        status,
                        headers: parts.headers,
                        body,
                    },
                });
            }
            let body = read_limited(body, &parts, limit)
                .await
                .map_err(|e| too_large_or_broken(e, &url, &parts))?;
            let raw = raw_response(url, http::Response::from_parts(parts, body));
            Err(if status >= 400 {
                error_status(raw)
            } else {
                invalid(raw, None)
            })
        }))
    }

    /// Like [`Request::send_stream`], for server-sent events decoded into `T`.
    pub fn send_events<T: 'a, E: Send + 'a>(
        self,
        documented: fn(u16) -> bool,
        decode_error: fn(&RawResponse) -> Decoded<E>,
    ) -> Call<'a, EventStream<T>, E> {
        let call = self.send_stream(documented, decode_error);
        Call::new(async move {
            call.with_meta().await.map(|r| Response {
                value: EventStream::new(r.value),
                meta: r.meta,
            })
        })
    }

    /// The pages of a paginated operation (its `pagination` in the contract), each
    /// page read with `decode` (so checked against the contract) and its items decoded
    /// as `T`.
    pub fn paginate<T, R, E>(
        self,
        decode: fn(&RawResponse) -> Decoded<R>,
        decode_error: fn(&RawResponse) -> Decoded<E>,
    ) -> Paginated<'a, T, E>
    where
        T: DeserializeOwned + Send + 'a,
        R: Send + 'a,
        E: Send + 'a,
    {
        let max_pages = self.core.options.max_pages_value();
        let spec = self.spec();
        let fetch: pagination::Fetch<'a, E> = Box::new(move |request: Request<'a>| {
            Box::pin(async move {
                request
                    .send_decoded(decode, decode_error, |_, raw| raw.body.clone())
                    .await
            })
        });
        let origin = self.core.shared.origin.clone();
        Paginated::new(self, spec.id, spec.pagination, origin, fetch, max_pages)
    }

    /// Auth, URL, the idempotency key, hooks, the pipeline and the mapping of its
    /// outcome; `finish` reads one response whose head has arrived.
    async fn execute<T, E, F, Fut>(
        self,
        decode_error: fn(&RawResponse) -> Decoded<E>,
        finish: F,
    ) -> Result<Response<T>, Failed<E>>
    where
        F: Fn(String, http::Response<ByteStream>) -> Fut,
        Fut: std::future::Future<Output = Result<Done<T>, AttemptError<Failure>>>,
    {
        let started = tokio::time::Instant::now();
        let shared = &*self.core.shared;
        let options = &self.core.options;
        let spec = self.spec();
        let operation = spec.id;
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let meta = |status: Option<u16>, headers: http::HeaderMap| Meta {
            status,
            headers,
            attempts: attempts.load(std::sync::atomic::Ordering::Relaxed),
            elapsed: started.elapsed(),
        };
        let fail = |error: Error<E>| Failed {
            error,
            meta: meta(None, http::HeaderMap::new()),
        };
        if let Some(message) = self.error.clone() {
            return Err(fail(Error::Request { operation, message }));
        }
        // One key per logical call, the same on every attempt: the typed parameter, else
        // the handle's, else a fresh one.
        let key = shared.key_headers[self.op].as_deref().map(|h| {
            (
                h,
                self.idempotency_key
                    .clone()
                    .or_else(|| options.idempotency_key_value().map(str::to_string))
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            )
        });
        let adjusted;
        let pipeline = if options.timeout_value().is_some() || options.retries_off() {
            adjusted =
                shared.operations[self.op].adjusted(options.timeout_value(), options.retries_off());
            &adjusted
        } else {
            &shared.operations[self.op]
        };
        let system = pipeline.system();
        let mut refreshed = false;
        loop {
            let auth = shared
                .authenticate(spec)
                .await
                .map_err(|message| fail(Error::Request { operation, message }))?;
            let url = self.url_with(&auth);
            let request = self
                .http_request(&url, &auth, key.as_ref().map(|(h, k)| (*h, k.as_str())))
                .map_err(|message| fail(Error::Request { operation, message }))?;
            let transport: &dyn Transport = &*shared.transport;
            let finish = &finish;
            let request = &request;
            let attempts = &attempts;
            let span = pipeline.span();
            let result = pipeline
                .call_in(span.clone(), |n| async move {
                    attempts.store(n, std::sync::atomic::Ordering::Relaxed);
                    let mut request = request.clone();
                    let context = HookContext {
                        operation,
                        method: spec.method,
                        path_template: spec.path,
                        attempt: n,
                        policy: &shared.configs[self.op],
                    };
                    for hook in &shared.hooks {
                        hook.before_attempt(&context, &mut request)
                            .map_err(|e| AttemptError {
                                outcome: Outcome::InvalidData,
                                retry_after: None,
                                error: Failure::Hook(e),
                            })?;
                    }
                    // W3C trace context of this attempt's span (feature `otel`).
                    #[cfg(feature = "otel")]
                    crate::otel::inject(&tracing::Span::current(), request.headers_mut());
                    let url = request.uri().to_string();
                    let response = match transport.send_streaming(request).await {
                        Ok(r) => r,
                        Err(e) => {
                            for hook in &shared.hooks {
                                hook.on_transport_error(&context, &e);
                            }
                            return Err(transport_failure(e));
                        }
                    };
                    let (parts, body) = response.into_parts();
                    // The attempt's span (the current one).
                    tracing::Span::current()
                        .record("http.response.status_code", parts.status.as_u16());
                    for hook in &shared.hooks {
                        hook.on_response(&context, &parts);
                    }
                    observe_rate_limit(system, &parts.headers);
                    finish(url, http::Response::from_parts(parts, body)).await
                })
                .await;
            let (attempts, stopped, class, last) = match result {
                Ok(done) => {
                    span.record("http.response.status_code", done.status);
                    return Ok(Response {
                        meta: meta(Some(done.status), done.headers),
                        value: done.value,
                    });
                }
                Err(CallError::CircuitOpen { source, .. }) => {
                    return Err(fail(Error::CircuitOpen {
                        operation,
                        retry_in: source.retry_in,
                    }))
                }
                Err(CallError::RateLimited { retry_after, .. }) => {
                    return Err(fail(Error::RateLimited {
                        operation,
                        retry_after,
                    }))
                }
                Err(CallError::BulkheadFull { .. }) => {
                    return Err(fail(Error::BulkheadFull { operation }))
                }
                Err(CallError::Failed {
                    attempts,
                    stopped,
                    class,
                    last,
                    ..
                }) => (attempts, stopped, class, last),
            };
            let with_response = |error: Error<E>, raw: RawResponse| Failed {
                error,
                meta: meta(Some(raw.status), raw.headers),
            };
            return Err(match last {
                None => fail(Error::Timeout {
                    operation,
                    attempts,
                }),
                Some(Failure::Hook(HookError(message))) => fail(Error::Request {
                    operation,
                    message: format!("a hook stopped the request: {message}"),
                }),
                Some(Failure::Transport(mut error)) => {
                    // A transport's message may quote the URL: the values of query
                    // credentials (an API key in `?api_key=`) never reach an error.
                    for (_, value) in &auth.query {
                        if !value.is_empty() {
                            error.message = error.message.replace(value.as_str(), "***");
                        }
                    }
                    fail(Error::Transport {
                        operation,
                        error,
                        attempts,
                    })
                }
                Some(Failure::Response(raw)) => {
                    // An expired OAuth2 token: fetch a new one and try once more.
                    if raw.status == 401 && auth.oauth && !refreshed {
                        refreshed = true;
                        for (name, _) in shared.api.schemes {
                            shared.token_cache(name).invalidate();
                        }
                        continue;
                    }
                    let error = match decode_error(&raw) {
                        Decoded::Documented(response) => Error::Status {
                            operation,
                            status: raw.status,
                            response,
                            attempts,
                            stopped,
                            class,
                        },
                        Decoded::Undocumented => Error::UndocumentedStatus {
                            operation,
                            status: raw.status,
                            body: raw.body.clone(),
                            attempts,
                        },
                        Decoded::Invalid(error) => Error::InvalidBody {
                            operation,
                            status: raw.status,
                            error,
                            body: raw.body.clone(),
                        },
                    };
                    with_response(error, raw)
                }
                Some(Failure::Invalid(raw, error)) => {
                    let error = match error {
                        Some(error) => Error::InvalidBody {
                            operation,
                            status: raw.status,
                            error,
                            body: raw.body.clone(),
                        },
                        None => Error::UndocumentedStatus {
                            operation,
                            status: raw.status,
                            body: raw.body.clone(),
                            attempts,
                        },
                    };
                    with_response(error, raw)
                }
            });
        }
    }

    /// The URL of this request with the credentials that go in the query: base URL,
    /// path and query, or the whole URL set by pagination (whose own values for the
    /// credentials' parameters are replaced).
    fn url_with(&self, auth: &auth::Applied) -> String {
        let (mut url, own) = match &self.url {
            Some(next) => {
                let names: Vec<&str> = auth.query.iter().map(|(k, _)| k.as_str()).collect();
                match next.split_once('?') {
                    Some((head, query)) => {
                        let kept: Vec<&str> = query
                            .split('&')
                            .filter(|pair| {
                                let key = pair.split('=').next().unwrap_or_default();
                                !pair.is_empty() && !names.contains(&key)
                            })
                            .collect();
                        (head.to_string(), kept.join("&"))
                    }
                    None => (next.clone(), String::new()),
                }
            }
            None => {
                let query: Vec<String> =
                    self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (
                    format!("{}{}", self.core.shared.base, self.path),
                    query.join("&"),
                )
            }
        };
        let mut query = own;
        for (k, v) in &auth.query {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("{k}={v}"));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        url
    }
}

/// A response whose body streams.
pub struct StreamResponse {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body, as it arrives.
    pub body: crate::transport::ByteStream,
}

impl std::fmt::Debug for StreamResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl StreamResponse {
    /// Reads the whole body.
    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        crate::transport::collect(self.body).await
    }

    /// Reads the body as server-sent events whose data is JSON of type `T`.
    pub fn events<T>(self) -> EventStream<T> {
        EventStream::new(self)
    }
}

/// A `text/event-stream` response read event by event, each event's data decoded and
/// validated as the contract's schema `T`. One response, no reconnection: for a
/// long-lived stream that must survive network blips use [`crate::patterns::sse::SseClient`].
pub struct EventStream<T> {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    body: crate::transport::ByteStream,
    parser: crate::patterns::sse::Parser,
    done: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for EventStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// An event that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventStreamError {
    /// The connection failed mid-stream.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The event's data breaks the contract (the stream goes on: call `next` again).
    #[error("event `{}`: {error}", event.event)]
    Invalid {
        /// The raw event.
        event: crate::patterns::sse::SseEvent,
        /// What is wrong, with the JSON path.
        error: BoundaryError,
    },
}

impl<T> EventStream<T> {
    /// Wraps a streaming response (events up to 1 MiB).
    pub fn new(r: StreamResponse) -> Self {
        Self {
            status: r.status,
            headers: r.headers,
            body: r.body,
            parser: crate::patterns::sse::Parser::new(1 << 20),
            done: false,
            _t: std::marker::PhantomData,
        }
    }

    /// The next raw event; `None` at the end of the stream.
    pub async fn next_event(
        &mut self,
    ) -> Option<Result<crate::patterns::sse::SseEvent, TransportError>> {
        loop {
            if let Some(e) = self.parser.next_event() {
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            let chunk =
                std::future::poll_fn(|cx| futures_core::Stream::poll_next(self.body.as_mut(), cx))
                    .await;
            match chunk {
                Some(Ok(bytes)) => self.parser.feed(&bytes),
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    self.parser.end_of_stream();
                }
            }
        }
    }
}

impl<T: DeserializeOwned> EventStream<T> {
    /// The next event, decoded; `None` at the end of the stream.
    pub async fn next(&mut self) -> Option<Result<T, EventStreamError>> {
        let event = match self.next_event().await? {
            Ok(e) => e,
            Err(e) => return Some(Err(e.into())),
        };
        Some(
            crate::boundary::decode::from_json(event.data.as_bytes())
                .map_err(|error| EventStreamError::Invalid { event, error }),
        )
    }
}

/// Every response's rate-limit headers reach its system, so that calls hold back when
/// the vendor says nothing is left (before its 429).
fn observe_rate_limit(system: &crate::resilience::pipeline::System, headers: &http::HeaderMap) {
    let hint = crate::resilience::classify::RateLimitHint::from_header_map(
        headers,
        std::time::SystemTime::now(),
    );
    system.observe_rate_limit(&hint);
}

/// Why a body was not read.
enum BodyError {
    /// Over the limit (the size when the server announced it).
    TooLarge(u64, Option<u64>),
    Transport(TransportError),
}

/// Reads a response body, at most `limit` bytes: a larger one is refused as soon as it
/// is announced (`Content-Length`) or read past the limit, never held whole.
async fn read_limited(
    body: crate::transport::ByteStream,
    parts: &http::response::Parts,
    limit: u64,
) -> Result<Bytes, BodyError> {
    let announced = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > limit) {
        return Err(BodyError::TooLarge(limit, Some(n)));
    }
    crate::transport::collect_at_most(body, limit)
        .await
        .map_err(BodyError::Transport)?
        .ok_or(BodyError::TooLarge(limit, None))
}

fn too_large_or_broken(
    e: BodyError,
    url: &str,
    parts: &http::response::Parts,
) -> AttemptError<Failure> {
    match e {
        BodyError::Transport(e) => transport_failure(e),
        BodyError::TooLarge(limit, announced) => {
            let size = match announced {
                Some(n) => format!("of {n} bytes"),
                None => "of more bytes".into(),
            };
            let raw = RawResponse {
                url: url.to_string(),
                status: parts.status.as_u16(),
                headers: parts.headers.clone(),
                body: Bytes::new(),
            };
            invalid(
                raw,
                Some(BoundaryError {
                    path: "$".into(),
                    message: format!(
                        "maxResponseBody: the response body {size} is over the operation's \
                         limit of {limit} bytes (max_response_body); it was not read"
                    ),
                }),
            )
        }
    }
}

fn transport_failure(e: TransportError) -> AttemptError<Failure> {
    AttemptError {
        outcome: e.outcome(),
        retry_after: None,
        error: Failure::Transport(e),
    }
}

fn raw_response(url: String, response: http::Response<Bytes>) -> RawResponse {
    let (parts, body) = response.into_parts();
    RawResponse {
        url,
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

fn error_status(raw: RawResponse) -> AttemptError<Failure> {
    let retry_after = raw
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    AttemptError {
        outcome: Outcome::Status(raw.status),
        retry_after,
        error: Failure::Response(raw),
    }
}

fn invalid(raw: RawResponse, error: Option<BoundaryError>) -> AttemptError<Failure> {
    AttemptError {
        outcome: Outcome::InvalidData,
        retry_after: None,
        error: Failure::Invalid(raw, error),
    }
}

/// A `multipart/form-data` body being built: fields and files.
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty form with a random boundary.
    pub fn new() -> Self {
        Self {
            boundary: format!("acl-{}", uuid::Uuid::new_v4().simple()),
            body: Vec::new(),
        }
    }

    fn part(
        mut self,
        name: &str,
        filename: Option<&str>,
        content_type: Option<&str>,
        data: &[u8],
    ) -> Self {
        let quote = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace(['\r', '\n'], " ")
        };
        self.body
            .extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", quote(name));
        if let Some(f) = filename {
            disposition.push_str(&format!("; filename=\"{}\"", quote(f)));
        }
        self.body.extend_from_slice(disposition.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        if let Some(ct) = content_type {
            self.body
                .extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        self.body.extend_from_slice(b"\r\n");
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A text field.
    pub fn text(self, name: &str, value: impl AsRef<str>) -> Self {
        self.part(name, None, None, value.as_ref().as_bytes())
    }

    /// A field holding JSON (an object or array property of the form's schema).
    pub fn json<T: Serialize + ?Sized>(self, name: &str, value: &T) -> Self {
        let data = serde_json::to_vec(value).unwrap_or_default();
        self.part(name, None, Some("application/json"), &data)
    }

    /// A file.
    pub fn file(
        self,
        name: &str,
        filename: &str,
        content_type: &str,
        data: impl AsRef<[u8]>,
    ) -> Self {
        self.part(name, Some(filename), Some(content_type), data.as_ref())
    }

    /// Every property of `value` (an object) as a field: strings, numbers and booleans
    /// as text, objects and arrays as JSON, `null` left out.
    pub fn fields<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        if let Ok(Value::Object(map)) = serde_json::to_value(value) {
            for (k, v) in map {
                self = match v {
                    Value::Null => self,
                    Value::String(s) => self.text(&k, s),
                    Value::Number(_) | Value::Bool(_) => self.text(&k, v.to_string()),
                    other => self.json(&k, &other),
                };
            }
        }
        self
    }

    fn finish(mut self) -> (Bytes, String) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            self.body.into(),
            format!("multipart/form-data; boundary={}", self.boundary),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(media: &str, body: &'static [u8]) -> RawResponse {
        let mut headers = http::HeaderMap::new();
        if !media.is_empty() {
            headers.insert(http::header::CONTENT_TYPE, media.parse().unwrap());
        }
        RawResponse {
            url: "http://127.0.0.1/x".into(),
            status: 200,
            headers,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn an_undocumented_success_keeps_json_parsed_and_anything_else_as_bytes() {
        let body = |media, bytes| match UndocumentedSuccess::decode(&response(media, bytes)) {
            Decoded::Documented(s) => s.body,
            _ => panic!("every success reads"),
        };
        assert_eq!(body("application/json", b" \n"), UntypedBody::Empty);
        assert_eq!(
            body("application/problem+json", b"{\"a\":1}"),
            UntypedBody::Json(serde_json::json!({"a": 1}))
        );
        assert_eq!(body("", b"[1]"), UntypedBody::Json(serde_json::json!([1])));
        assert_eq!(
            body("application/json", b"{broken"),
            UntypedBody::Bytes(Bytes::from_static(b"{broken"))
        );
        assert_eq!(
            body("text/plain", b"ok"),
            UntypedBody::Bytes(Bytes::from_static(b"ok"))
        );
    }
}
