//! [`MockVendor`]: the external system of a generated client, in-process, from its
//! contract: every operation answers with a documented success whose body satisfies the
//! contract (generated from the schema, deterministic for a seed), scripts inject the
//! faults a resilience policy must survive, and every call is recorded for assertions.
//!
//! ```no_run
//! # fn example(api: &'static acl_runtime::client::ApiSpec) {
//! use acl_runtime::testing::{Fault, MockVendor};
//! let vendor = MockVendor::new(api);
//! vendor.on("createPet").times(2).fail(Fault::Status(503)); // then the contract's answer
//! vendor.on("getPet").respond(404);
//! // ClientBuilder::transport(vendor.clone()), then calls; then:
//! let keys: Vec<_> = vendor.calls("createPet").iter().map(|c| c.header("idempotency-key")).collect();
//! # let _ = keys;
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::data::Generator;
use crate::client::{ApiSpec, KeyIn, OperationSpec, ParamSpec, ResponseSpec, SchemeSpec};
use crate::transport::{BoxFuture, Transport, TransportError, TransportErrorKind};

/// A fault the vendor answers with instead of its normal response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status, with the documented body for it when there is one.
    Status(u16),
    /// `429 Too Many Requests` with `Retry-After` (whole seconds, rounded up).
    RateLimited {
        /// What `Retry-After` says.
        retry_after: Duration,
    },
    /// The connection is reset after the request was sent.
    Reset,
    /// The connection is refused: the request never left.
    Refused,
    /// The normal response, after this delay.
    Latency(Duration),
    /// A documented success whose body breaks the contract (`{"acl-mock": "invalid"}`
    /// where the schema wants something else, or not JSON at all).
    InvalidBody,
    /// No answer, ever (the client's timeout decides).
    Hang,
}

/// A fault the contract implies for an operation ([`MockVendor::scenarios`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// What it is (`documented 404`, `connection reset`).
    pub name: String,
    /// The fault to script: `vendor.on(op).times(n).fail(scenario.fault)`.
    pub fault: Fault,
}

/// What the vendor does for one call.
#[derive(Debug, Clone)]
enum Action {
    Respond { status: u16, body: Option<Value> },
    Fail(Fault),
}

/// One call as the vendor saw it.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// The operation id.
    pub operation: &'static str,
    /// The method.
    pub method: String,
    /// The path and query as sent.
    pub target: String,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The status answered (`None`: a transport fault or a hang).
    pub status: Option<u16>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl RecordedCall {
    /// The call `request` makes to `op`, answered with `status`.
    fn of(op: &OperationSpec, request: http::Request<Bytes>, status: Option<u16>) -> Self {
        let (parts, body) = request.into_parts();
        RecordedCall {
            operation: op.id,
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers: parts.headers,
            body,
            status,
            at: std::time::Instant::now(),
        }
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// At most this many calls are kept for [`MockVendor::calls`] (the oldest go first), so
/// a vendor serving for hours holds bounded memory.
pub const MAX_RECORDED_CALLS: usize = 10_000;

struct State {
    scripts: HashMap<&'static str, VecDeque<(Option<u32>, Action)>>,
    calls: VecDeque<RecordedCall>,
}

impl State {
    fn new() -> Self {
        Self {
            scripts: HashMap::new(),
            calls: VecDeque::new(),
        }
    }

    fn record(&mut self, call: RecordedCall) {
        if self.calls.len() >= MAX_RECORDED_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back(call);
    }
}

/// Which body a success is answered with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Choice {
    /// The contract's first example that fits, else generated data.
    Example,
    /// Generated data, never the example (`Prefer: dynamic=true`).
    Generated,
    /// The media type's example of this name (`Prefer: example=name`).
    Named(String),
}

struct Inner {
    api: &'static ApiSpec,
    data: Option<Generator>,
    seed: u64,
    explain: bool,
    record: bool,
    state: Mutex<State>,
    /// Bodies already generated, by schema and choice: a served vendor answers the
    /// same operation many times, and generating a large schema's value is not free.
    bodies: Mutex<HashMap<(&'static str, Choice), Option<Value>>>,
}

/// A vendor that serves a generated client's contract in-process (a [`Transport`]).
/// Clones share their scripts and records.
#[derive(Clone)]
pub struct MockVendor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MockVendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockVendor")
            .field("system", &self.inner.api.system)
            .finish_non_exhaustive()
    }
}

/// The script of one operation, being written: [`Script::times`] then what happens.
#[must_use = "a script does nothing until `respond`, `respond_with` or `fail`"]
pub struct Script<'v> {
    vendor: &'v MockVendor,
    operation: &'static str,
    times: Option<u32>,
}

impl Script<'_> {
    /// For the next `n` calls only (then what comes next in the script, or the contract's
    /// normal answer). Without it, for every call from now on.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Answer with `status` and the contract's body for it (generated from its schema).
    pub fn respond(self, status: u16) {
        self.push(Action::Respond { status, body: None });
    }

    /// Answer with `status` and this JSON body.
    pub fn respond_with(self, status: u16, body: Value) {
        self.push(Action::Respond {
            status,
            body: Some(body),
        });
    }

    /// Answer with a fault.
    pub fn fail(self, fault: Fault) {
        self.push(Action::Fail(fault));
    }

    fn push(self, action: Action) {
        let mut state = self.vendor.lock();
        state
            .scripts
            .entry(self.operation)
            .or_default()
            .push_back((self.times, action));
    }
}

impl MockVendor {
    /// The vendor of the contract a generated client was made from
    /// (`MockVendor::new(&petstore::client::API)`).
    pub fn new(api: &'static ApiSpec) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                data: api.contract.and_then(|c| Generator::new(c).ok()),
                seed: 0,
                explain: false,
                record: true,
                state: Mutex::new(State::new()),
                bodies: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same vendor with a setting changed (scripts and records start empty when
    /// the vendor was shared).
    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            api: shared.api,
            data: shared.data.clone(),
            seed: shared.seed,
            explain: shared.explain,
            record: shared.record,
            state: Mutex::new(State::new()),
            bodies: Mutex::new(HashMap::new()),
        });
        change(&mut inner);
        inner.bodies = Mutex::new(HashMap::new());
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same vendor with other generated data (the default seed is 0).
    pub fn seed(self, seed: u64) -> Self {
        self.with(|inner| inner.seed = seed)
    }

    /// Requests the contract refuses are answered with an RFC 9457 problem
    /// (`application/problem+json`) whose `detail` names the violation, instead of the
    /// operation's documented 422/400 body: what a person trying the API with curl wants
    /// (the `acl-codegen mock` command). The violation is in `x-acl-mock-violation`
    /// either way.
    pub fn explain_violations(self) -> Self {
        self.with(|inner| inner.explain = true)
    }

    /// Keeps no calls for [`MockVendor::calls`] (a long-running shared vendor). By
    /// default the last [`MAX_RECORDED_CALLS`] are kept.
    pub fn without_records(self) -> Self {
        self.with(|inner| inner.record = false)
    }

    /// Keeps `call` for [`MockVendor::calls`], unless the vendor keeps none.
    fn remember(&self, call: RecordedCall) {
        if self.inner.record {
            self.lock().record(call);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Scripts the operation `operation_id`.
    ///
    /// # Panics
    /// When the contract has no such operation: a test that scripts a typo would pass for
    /// the wrong reason.
    pub fn on(&self, operation_id: &str) -> Script<'_> {
        let op = self
            .inner
            .api
            .operations
            .iter()
            .find(|o| o.id == operation_id)
            .unwrap_or_else(|| {
                panic!("MockVendor::on: the contract has no operation `{operation_id}`")
            });
        Script {
            vendor: self,
            operation: op.id,
            times: None,
        }
    }

    /// The calls of `operation_id` so far, in order.
    pub fn calls(&self, operation_id: &str) -> Vec<RecordedCall> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.operation == operation_id)
            .cloned()
            .collect()
    }

    /// Forgets every script and every recorded call: the contract's answers again.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.scripts.clear();
        state.calls.clear();
    }

    /// Every call so far, in order.
    pub fn all_calls(&self) -> Vec<RecordedCall> {
        self.lock().calls.iter().cloned().collect()
    }

    /// The fault scenarios the contract implies for `operation_id`, to run a client
    /// through in a loop: each documented error status (429 with a `Retry-After`), a
    /// 503 and a 500 when the contract documents none, a refused and a reset connection,
    /// a hang (the client's timeout), and a success whose body breaks the contract.
    ///
    /// # Panics
    /// When the contract has no such operation.
    pub fn scenarios(&self, operation_id: &str) -> Vec<Scenario> {
        let op = self.on(operation_id).operation;
        let op = self
            .inner
            .api
            .operations
            .iter()
            .find(|o| o.id == op)
            .expect("found by `on`");
        let mut out = Vec::new();
        let mut statuses: Vec<u16> = op
            .responses
            .iter()
            .filter_map(|r| r.status.parse::<u16>().ok())
            .filter(|s| *s >= 400)
            .collect();
        statuses.dedup();
        for status in &statuses {
            let fault = if *status == 429 {
                Fault::RateLimited {
                    retry_after: Duration::from_secs(1),
                }
            } else {
                Fault::Status(*status)
            };
            out.push(Scenario {
                name: format!("documented {status}"),
                fault,
            });
        }
        for status in [500, 503] {
            if !statuses.contains(&status) {
                out.push(Scenario {
                    name: format!("undocumented {status}"),
                    fault: Fault::Status(status),
                });
            }
        }
        for (name, fault) in [
            ("connection refused", Fault::Refused),
            ("connection reset", Fault::Reset),
            ("no answer", Fault::Hang),
            ("a body that breaks the contract", Fault::InvalidBody),
        ] {
            out.push(Scenario {
                name: name.to_string(),
                fault,
            });
        }
        out
    }

    /// Whether `value` fits the schema at `schema` (always, without `raw-validation`).
    fn fits(&self, schema: &'static str, value: &Value) -> bool {
        #[cfg(feature = "raw-validation")]
        if let Some(contract) = self.inner.api.contract {
            return matches!(
                crate::boundary::raw::validate_at(contract, schema, value),
                Ok(Ok(()))
            );
        }
        let _ = (schema, value);
        true
    }

    /// A request for `operation_id` that the contract accepts, to `http://mock.invalid`:
    /// the credentials of its first security alternative, every required parameter and
    /// path variable (generated from their schemas), and a JSON body its schema accepts
    /// (or a placeholder in its first media type). What the vendor's own tests, and
    /// tests of code that forwards requests, start from.
    ///
    /// # Panics
    /// When the contract has no such operation.
    pub fn valid_request(&self, operation_id: &str) -> http::Request<Bytes> {
        let id = self.on(operation_id).operation;
        let api = self.inner.api;
        let op = api
            .operations
            .iter()
            .find(|o| o.id == id)
            .expect("found by `on`");
        let encode = |t: &str| {
            percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let text = |location: &str, name: &str| {
            op.parameters
                .iter()
                .find(|p| p.location == location && p.name == name)
                .map_or_else(|| "x1".to_string(), |p| self.parameter_text(p))
        };
        let path = op
            .path
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => encode(&text("path", name)),
                    None => s.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("/");
        let mut request = http::Request::builder().method(op.method);
        let mut query: Vec<String> = Vec::new();
        let mut cookies: Vec<String> = Vec::new();
        let alternative = op
            .security
            .unwrap_or(api.security)
            .first()
            .copied()
            .unwrap_or(&[]);
        for name in alternative {
            let spec = api.schemes.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
            request = match spec {
                Some(SchemeSpec::ApiKey { name, location }) => match location {
                    KeyIn::Header => request.header(name, "acl-mock-key"),
                    KeyIn::Query => {
                        query.push(format!("{}=acl-mock-key", encode(name)));
                        request
                    }
                    KeyIn::Cookie => {
                        cookies.push(format!("{name}=acl-mock-key"));
                        request
                    }
                },
                Some(SchemeSpec::Basic) => {
                    request.header(http::header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
                }
                Some(SchemeSpec::Bearer | SchemeSpec::OAuth2 { .. }) => {
                    request.header(http::header::AUTHORIZATION, "Bearer acl-mock-token")
                }
                _ => request,
            };
        }
        for p in op.parameters.iter().filter(|p| p.required) {
            let v = self.parameter_text(p);
            match p.location {
                "query" => query.push(format!("{}={}", encode(p.name), encode(&v))),
                "header" => {
                    if let Ok(v) = http::HeaderValue::from_str(&v) {
                        request = request.header(p.name, v);
                    }
                }
                "cookie" => cookies.push(format!("{}={}", p.name, encode(&v))),
                _ => {}
            }
        }
        if !cookies.is_empty() {
            request = request.header(http::header::COOKIE, cookies.join("; "));
        }
        let (required, bodies) = op.body;
        let mut body = Bytes::new();
        let json = bodies
            .iter()
            .find(|(m, s)| is_json(m) && !s.is_empty())
            .and_then(|(m, s)| Some((*m, self.data(s)?)));
        if let Some((media, value)) = json {
            body = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
            request = request.header(http::header::CONTENT_TYPE, media);
        } else if required {
            if let Some((media, _)) = bodies.first() {
                request = request.header(http::header::CONTENT_TYPE, *media);
                body = Bytes::from_static(b"x");
            }
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        request
            .uri(format!("http://mock.invalid{path}{query}"))
            .body(body)
            .unwrap_or_else(|_| http::Request::new(Bytes::new()))
    }

    /// A text for parameter `p` that its schema accepts (generated with the vendor's
    /// seed; a list comma-separated; `1` when the contract gives no schema).
    pub fn parameter_text(&self, p: &ParamSpec) -> String {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match (!p.schema.is_empty())
            .then(|| self.data(p.schema))
            .flatten()
        {
            Some(Value::Array(items)) => items.iter().map(text).collect::<Vec<_>>().join(","),
            Some(Value::Null) | None => "1".to_string(),
            Some(v) => text(&v),
        }
    }

    /// A value for the schema at `schema` (generated with the vendor's seed).
    pub fn data(&self, schema: &str) -> Option<Value> {
        self.inner
            .data
            .as_ref()?
            .value(schema, self.inner.seed)
            .ok()
    }

    /// The body the contract documents for `status` of `op` (its example or generated
    /// data, as `choice` says), or none.
    fn body_for(
        &self,
        op: &'static OperationSpec,
        status: u16,
        choice: &Choice,
    ) -> (Option<&'static ResponseSpec>, Option<Value>) {
        let documented = documented(op, status);
        let body = documented
            .filter(|r| !r.schema.is_empty() && is_json(r.media))
            .and_then(|r| {
                let key = (r.schema, choice.clone());
                if let Some(cached) = self.bodies().get(&key) {
                    return cached.clone();
                }
                let data = self.inner.data.as_ref()?;
                let generated = || data.value(r.schema, self.inner.seed).ok();
                let value = match choice {
                    // The contract's own example when it has one (and, with
                    // raw-validation, when it fits the schema), else a generated value.
                    Choice::Example => data
                        .example(r.schema)
                        .filter(|e| self.fits(r.schema, e))
                        .or_else(generated),
                    Choice::Generated => generated(),
                    Choice::Named(name) => data.named_example(r.schema, name),
                };
                // A name comes from the request: only names the contract has are kept,
                // so clients cannot grow the cache.
                if value.is_some() || !matches!(choice, Choice::Named(_)) {
                    self.bodies().insert(key, value.clone());
                }
                value
            });
        (documented, body)
    }

    fn bodies(&self) -> std::sync::MutexGuard<'_, HashMap<(&'static str, Choice), Option<Value>>> {
        self.inner.bodies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the script says the vendor answers `op` with next, if it says anything.
    fn next_action(&self, op: &'static OperationSpec) -> Option<Action> {
        let mut state = self.lock();
        if let Some(queue) = state.scripts.get_mut(op.id) {
            while let Some((times, action)) = queue.front_mut() {
                match times {
                    Some(0) => {
                        queue.pop_front();
                    }
                    Some(n) => {
                        *n -= 1;
                        return Some(action.clone());
                    }
                    None => return Some(action.clone()),
                }
            }
        }
        None
    }

    fn answer(
        &self,
        op: &'static OperationSpec,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        // A script step wins; else what the request prefers (Prism's `Prefer`
        // header), else the contract's first documented success.
        let (action, choice) = match self.next_action(op) {
            Some(action) => (action, Choice::Example),
            None => match Prefer::of(request.headers()) {
                Ok(prefer) => match prefer.code {
                    Some(code) if documented(op, code).is_none() => {
                        let why = format!(
                            "Prefer: code={code}: the operation documents no such response"
                        );
                        return self.refuse_with(op, request, 400, why, true);
                    }
                    code => {
                        let choice = prefer.choice();
                        let status = code.unwrap_or_else(|| success_status(op));
                        if let (Choice::Named(name), Some(data)) = (&choice, &self.inner.data) {
                            let has = documented(op, status)
                                .is_some_and(|r| data.named_example(r.schema, name).is_some());
                            if !has {
                                let why = format!("Prefer: example={name}: the {status} response has no example of that name");
                                return self.refuse_with(op, request, 400, why, true);
                            }
                        }
                        (Action::Respond { status, body: None }, choice)
                    }
                },
                Err(why) => return self.refuse_with(op, request, 400, why, true),
            },
        };
        let mut call = RecordedCall::of(op, request, None);
        let respond = |status: u16, body: Option<Value>, call: &mut RecordedCall| {
            let (documented, generated) = self.body_for(op, status, &choice);
            let body = body.or(generated);
            call.status = Some(status);
            let mut b = http::Response::builder().status(status);
            // The headers the contract requires of this response, generated too.
            for (name, schema, required) in documented.map(|r| r.headers).unwrap_or(&[]) {
                if !*required {
                    continue;
                }
                let value = self
                    .inner
                    .data
                    .as_ref()
                    .filter(|_| !schema.is_empty())
                    .and_then(|d| d.value(schema, self.inner.seed).ok());
                let text = match value {
                    Some(Value::String(s)) => s,
                    Some(Value::Null) | None => "x".to_string(),
                    Some(other) => other.to_string(),
                };
                if let Ok(v) = http::HeaderValue::from_str(&text) {
                    b = b.header(*name, v);
                }
            }
            let bytes = match body {
                Some(v) => {
                    let media = documented
                        .map(|r| r.media)
                        .map(content_type)
                        .unwrap_or("application/json");
                    b = b.header(http::header::CONTENT_TYPE, media);
                    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
                }
                None => Bytes::new(),
            };
            b.body(bytes).map_err(request_error)
        };
        let fault = |kind, message: &str| TransportError {
            kind,
            message: message.to_string(),
        };
        let result: Result<(Option<Duration>, http::Response<Bytes>), Option<TransportError>> =
            match action {
                Action::Respond { status, body } => respond(status, body, &mut call)
                    .map(|r| (None, r))
                    .map_err(Some),
                Action::Fail(Fault::Status(status)) => respond(status, None, &mut call)
                    .map(|r| (None, r))
                    .map_err(Some),
                Action::Fail(Fault::RateLimited { retry_after }) => respond(429, None, &mut call)
                    .map(|mut r| {
                        let secs =
                            retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                        r.headers_mut()
                            .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                        (None, r)
                    })
                    .map_err(Some),
                Action::Fail(Fault::Latency(d)) => {
                    let status = success_status(op);
                    respond(status, None, &mut call)
                        .map(|r| (Some(d), r))
                        .map_err(Some)
                }
                Action::Fail(Fault::InvalidBody) => {
                    let status = success_status(op);
                    call.status = Some(status);
                    // A value of the wrong shape for any schema but "anything": an object
                    // where a list is due, a string where an object is; else not JSON.
                    let (documented, generated) = self.body_for(op, status, &Choice::Example);
                    let bad = match generated {
                        Some(Value::Object(_)) => Value::String("acl-mock: not an object".into()),
                        Some(_) => serde_json::json!({"acl-mock": "invalid"}),
                        None => Value::Null,
                    };
                    let media = documented
                        .map(|r| r.media)
                        .map(content_type)
                        .unwrap_or("application/json");
                    let body = if bad.is_null() {
                        Bytes::from_static(b"<html>not json</html>")
                    } else {
                        Bytes::from(serde_json::to_vec(&bad).unwrap_or_default())
                    };
                    http::Response::builder()
                        .status(status)
                        .header(http::header::CONTENT_TYPE, media)
                        .body(body)
                        .map(|r| (None, r))
                        .map_err(|e| Some(fault(TransportErrorKind::Request, &e.to_string())))
                }
                Action::Fail(Fault::Reset) => Err(Some(fault(
                    TransportErrorKind::Reset,
                    "connection reset by the mock vendor",
                ))),
                Action::Fail(Fault::Refused) => Err(Some(fault(
                    TransportErrorKind::Connect,
                    "connection refused by the mock vendor",
                ))),
                Action::Fail(Fault::Hang) => Err(None),
            };
        self.remember(call);
        Box::pin(async move {
            match result {
                Ok((delay, response)) => {
                    if let Some(d) = delay {
                        tokio::time::sleep(d).await;
                    }
                    Ok(response)
                }
                Err(Some(e)) => Err(e),
                Err(None) => std::future::pending().await,
            }
        })
    }

    /// What is wrong with `request` for `op`: a required parameter or body missing, a
    /// body that is not JSON, or (with feature `raw-validation`) one its schema refuses.
    fn violation(
        &self,
        op: &OperationSpec,
        route: &str,
        request: &http::Request<Bytes>,
    ) -> Option<String> {
        for p in op.parameters {
            let values = parameter_values(p, route, op.path, request);
            if values.is_empty() {
                if p.required {
                    return Some(format!("{} parameter `{}` is required", p.location, p.name));
                }
                continue;
            }
            if let Some(why) = self.parameter_violation(p, &values) {
                return Some(format!("{} parameter `{}`: {why}", p.location, p.name));
            }
        }
        let (required, bodies) = op.body;
        let body = request.body();
        if body.is_empty() {
            return required.then(|| "the request body is required".to_string());
        }
        let media = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let declared = bodies.iter().find(|(m, _)| m.eq_ignore_ascii_case(&media));
        let Some((_, schema)) = declared else {
            if bodies.is_empty() || media.starts_with("multipart/") {
                return None;
            }
            return Some(format!(
                "the body's media type `{media}` is not one the operation takes"
            ));
        };
        if !is_json(&media) {
            return None;
        }
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return Some(format!("the body is not JSON: {e}")),
        };
        #[cfg(feature = "raw-validation")]
        if let (Some(contract), false) = (self.inner.api.contract, schema.is_empty()) {
            if let Ok(Err(violations)) = crate::boundary::raw::validate_at(contract, schema, &value)
            {
                if let Some(v) = violations.first() {
                    return Some(format!("body{}: {}", v.instance_path, v.message));
                }
            }
        }
        let _ = (schema, value);
        None
    }

    /// What the parameter's schema refuses in `values` (its raw texts), if anything
    /// (always nothing without `raw-validation`). Text carries no types: a value passes
    /// when it fits read as a string, or as the number, boolean or list it spells.
    fn parameter_violation(&self, p: &ParamSpec, values: &[String]) -> Option<String> {
        #[cfg(feature = "raw-validation")]
        if let (Some(contract), false) = (self.inner.api.contract, p.schema.is_empty()) {
            let scalar = |t: &str| match serde_json::from_str::<Value>(t) {
                Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
                _ => Value::String(t.to_string()),
            };
            let mut candidates = Vec::new();
            if let [one] = values {
                candidates.push(scalar(one));
                candidates.push(Value::String(one.clone()));
                let items: Vec<&str> = if p.explode {
                    vec![one.as_str()]
                } else {
                    one.split(',').collect()
                };
                candidates.push(Value::Array(items.iter().map(|t| scalar(t)).collect()));
                candidates.push(Value::Array(
                    items.iter().map(|t| Value::String(t.to_string())).collect(),
                ));
            } else {
                candidates.push(Value::Array(values.iter().map(|t| scalar(t)).collect()));
                candidates.push(Value::Array(
                    values.iter().map(|t| Value::String(t.clone())).collect(),
                ));
            }
            let mut first = None;
            for candidate in &candidates {
                match crate::boundary::raw::validate_at(contract, p.schema, candidate) {
                    Ok(Err(violations)) => {
                        if first.is_none() {
                            first = violations.into_iter().next().map(|v| v.message);
                        }
                    }
                    // It fits, or the schema does not compile: nothing to say.
                    _ => return None,
                }
            }
            return first;
        }
        let _ = (p, values);
        None
    }

    /// Answers `request` with the documented 422 (or 400) for the violation `why`.
    fn refuse(
        &self,
        op: &'static OperationSpec,
        request: http::Request<Bytes>,
        why: String,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let status = if documented(op, 422).is_some_and(|r| r.status == "422") {
            422
        } else {
            400
        };
        let explain = self.inner.explain;
        self.refuse_with(op, request, status, why, explain)
    }

    /// Answers `request` with `status` for the violation `why`: an RFC 9457 problem
    /// naming it when `explain`, else the body the contract documents for `status`.
    fn refuse_with(
        &self,
        op: &'static OperationSpec,
        request: http::Request<Bytes>,
        status: u16,
        why: String,
        explain: bool,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let (documented, generated) = if explain {
            (None, None)
        } else {
            self.body_for(op, status, &Choice::Example)
        };
        let (media, body) = match generated {
            Some(body) => (
                documented
                    .map(|r| content_type(r.media))
                    .unwrap_or("application/json"),
                body,
            ),
            None => (
                "application/problem+json",
                serde_json::json!({
                    "type": "about:blank",
                    "title": "the request breaks the contract",
                    "status": status,
                    "detail": why,
                    "operation": op.id,
                }),
            ),
        };
        self.remember(RecordedCall::of(op, request, Some(status)));
        let header: String = why
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(500)
            .collect();
        let response = http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, media)
            .header("x-acl-mock-violation", header)
            .body(Bytes::from(serde_json::to_vec(&body).unwrap_or_default()))
            .map_err(request_error);
        Box::pin(async move { response })
    }

    /// Whether `request` carries the credentials of one of `op`'s security alternatives
    /// (an empty alternative, or none at all, asks for nothing).
    fn authorized(&self, op: &OperationSpec, request: &http::Request<Bytes>) -> bool {
        let api = self.inner.api;
        let alternatives = op.security.unwrap_or(api.security);
        if alternatives.is_empty() || alternatives.iter().any(|a| a.is_empty()) {
            return true;
        }
        let headers = request.headers();
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let has = |scheme: &str| -> bool {
            let Some((_, spec)) = api.schemes.iter().find(|(n, _)| *n == scheme) else {
                return true;
            };
            match spec {
                SchemeSpec::ApiKey { name, location } => match location {
                    KeyIn::Header => headers.get(*name).is_some_and(|v| !v.is_empty()),
                    KeyIn::Query => request.uri().query().is_some_and(|q| {
                        q.split('&').any(|pair| {
                            pair.split_once('=')
                                .is_some_and(|(k, v)| k == *name && !v.is_empty())
                        })
                    }),
                    KeyIn::Cookie => headers
                        .get_all(http::header::COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .any(|c| {
                            c.split(';')
                                .any(|kv| kv.trim().starts_with(&format!("{name}=")))
                        }),
                },
                SchemeSpec::Bearer | SchemeSpec::OAuth2 { .. } => authorization
                    .strip_prefix("Bearer ")
                    .is_some_and(|t| !t.trim().is_empty()),
                SchemeSpec::Basic => authorization.strip_prefix("Basic ").is_some_and(|b| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .is_ok_and(|raw| raw.contains(&b':'))
                }),
                SchemeSpec::Other => true,
            }
        };
        alternatives.iter().any(|alt| alt.iter().all(|s| has(s)))
    }

    /// The operation id a request to `method` `path` (with or without the base URL's
    /// path) reaches, if any.
    #[cfg(feature = "mock-server")]
    pub(super) fn operation_of(&self, method: &str, path: &str) -> Option<&'static str> {
        suffixes(path)
            .find_map(|p| self.route(method, p))
            .map(|op| op.id)
    }

    /// The operation `method` and `path` (without the base URL's path) are for.
    fn route(&self, method: &str, path: &str) -> Option<&'static OperationSpec> {
        let api: &'static ApiSpec = self.inner.api;
        // A concrete path wins over a template (`/charges/events` over
        // `/charges/{chargeId}`), as OpenAPI says.
        api.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method) && matches_template(op.path, path))
            .min_by_key(|op| op.path.matches('{').count())
    }
}

impl Transport for MockVendor {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        let path = request.uri().path().to_string();
        let method = request.method().to_string();
        // An OAuth2 client-credentials token endpoint of the contract: a token.
        let uri = request.uri().to_string();
        let token_endpoint = self.inner.api.schemes.iter().any(
            |(_, s)| matches!(s, SchemeSpec::OAuth2 { token_url: Some(t) } if uri.starts_with(t)),
        );
        if token_endpoint {
            return Box::pin(async {
                http::Response::builder()
                    .status(200)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Bytes::from_static(
                        br#"{"access_token":"acl-mock-token","token_type":"bearer","expires_in":3600}"#,
                    ))
                    .map_err(request_error)
            });
        }
        // The base URL may carry a path (`/v1`): the longest suffix that is a route.
        let found = suffixes(&path).find_map(|p| Some((self.route(&method, p)?, p.to_string())));
        match found {
            // Without the credentials the operation's security asks for: 401, as the
            // vendor would, whatever the script says.
            Some((op, _)) if !self.authorized(op, &request) => {
                self.remember(RecordedCall::of(op, request, Some(401)));
                Box::pin(async {
                    http::Response::builder()
                        .status(401)
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .header(http::header::WWW_AUTHENTICATE, "Bearer")
                        .body(Bytes::from_static(
                            br#"{"error":"unauthorized","detail":"the credentials the operation's security asks for are missing"}"#,
                        ))
                        .map_err(request_error)
                })
            }
            // A request the contract refuses: its documented 422 (or 400), the violation
            // named in `x-acl-mock-violation`, as the vendor would answer.
            Some((op, route)) => match self.violation(op, &route, &request) {
                Some(why) => self.refuse(op, request, why),
                None => self.answer(op, request),
            },
            None => Box::pin(async move {
                http::Response::builder()
                    .status(404)
                    .header(http::header::CONTENT_TYPE, "text/plain")
                    .body(Bytes::from(format!("the contract has no {method} {path}")))
                    .map_err(request_error)
            }),
        }
    }
}

/// What a request asks of the mock in its `Prefer` header (RFC 7240), as Prism reads it:
/// `code=404`, `example=name`, `dynamic=true`, separated by commas or semicolons.
/// Preferences it does not know are ignored, as RFC 7240 says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Prefer {
    code: Option<u16>,
    example: Option<String>,
    dynamic: bool,
}

impl Prefer {
    fn of(headers: &http::HeaderMap) -> Result<Self, String> {
        let mut prefer = Prefer::default();
        for value in headers.get_all("prefer") {
            let Ok(text) = value.to_str() else {
                return Err("Prefer: the header is not text".into());
            };
            for token in text.split([',', ';']) {
                let Some((key, value)) = token.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "code" => match value.parse::<u16>() {
                        Ok(code @ 100..=599) => prefer.code = Some(code),
                        _ => return Err(format!("Prefer: code={value}: not an HTTP status")),
                    },
                    "example" => prefer.example = Some(value.to_string()),
                    "dynamic" => match value {
                        "true" => prefer.dynamic = true,
                        "false" => prefer.dynamic = false,
                        _ => return Err(format!("Prefer: dynamic={value}: true or false")),
                    },
                    _ => {}
                }
            }
        }
        Ok(prefer)
    }

    fn choice(&self) -> Choice {
        match (&self.example, self.dynamic) {
            (Some(name), _) => Choice::Named(name.clone()),
            (None, true) => Choice::Generated,
            (None, false) => Choice::Example,
        }
    }
}

/// The raw texts sent for parameter `p` (percent-decoded; one per repetition), given the
/// part of the path that matched the operation's template.
fn parameter_values(
    p: &ParamSpec,
    route: &str,
    template: &str,
    request: &http::Request<Bytes>,
) -> Vec<String> {
    let raw = |t: &str| {
        percent_encoding::percent_decode_str(t)
            .decode_utf8_lossy()
            .into_owned()
    };
    // In a query, `+` is a space (form encoding); in a path it is itself.
    let decode = |t: &str| raw(&t.replace('+', " "));
    match p.location {
        "path" => {
            let wanted = format!("{{{}}}", p.name);
            template
                .split('/')
                .zip(route.split('/'))
                .find(|(t, _)| *t == wanted)
                .map(|(_, v)| vec![raw(v)])
                .unwrap_or_default()
        }
        "query" => request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k) == p.name).then(|| decode(v))
            })
            .collect(),
        "header" => request
            .headers()
            .get_all(p.name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect(),
        "cookie" => request
            .headers()
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|c| c.split(';'))
            .filter_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == p.name).then(|| decode(v))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `/v1/pets/1`, `/pets/1`, `/1`: the path, then without each leading segment.
fn suffixes(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(path);
    std::iter::from_fn(move || {
        let current = rest?;
        rest = current.get(1..).and_then(|r| r.find('/').map(|i| &r[i..]));
        Some(current)
    })
}

/// Whether `path` fills the template (`/pets/{petId}`): one segment per variable.
fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The status of `op`'s normal answer: its first documented 2xx (200 for `2XX` or none).
fn success_status(op: &OperationSpec) -> u16 {
    op.responses
        .iter()
        .filter_map(|r| r.status.parse::<u16>().ok())
        .find(|s| (200..300).contains(s))
        .unwrap_or(200)
}

/// A response built here that HTTP refuses, as the transport error it would be.
fn request_error(e: http::Error) -> TransportError {
    TransportError {
        kind: TransportErrorKind::Request,
        message: e.to_string(),
    }
}

/// The documented response for `status`: the code, then its range, then `default`.
fn documented(op: &'static OperationSpec, status: u16) -> Option<&'static ResponseSpec> {
    let code = status.to_string();
    let range = format!("{}XX", status / 100);
    op.responses
        .iter()
        .find(|r| r.status == code)
        .or_else(|| {
            op.responses
                .iter()
                .find(|r| r.status.eq_ignore_ascii_case(&range))
        })
        .or_else(|| op.responses.iter().find(|r| r.status == "default"))
}

fn is_json(media: &str) -> bool {
    let m = media.to_ascii_lowercase();
    // A wildcard with a schema (Bungie's `*/*`) is JSON in practice.
    m.is_empty()
        || m == "application/json"
        || m.ends_with("+json")
        || m == "*/*"
        || m == "application/*"
}

/// The `Content-Type` to answer with for a documented media type: itself, or JSON for
/// none or a wildcard.
fn content_type(media: &str) -> &str {
    if media.is_empty() || media.contains('*') {
        "application/json"
    } else {
        media
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_reads_prisms_preferences_and_refuses_bad_values() {
        let of = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert("prefer", http::HeaderValue::from_str(v).unwrap());
            Prefer::of(&h)
        };
        assert_eq!(
            of("code=404, example=\"cat\"; respond-async").unwrap(),
            Prefer {
                code: Some(404),
                example: Some("cat".into()),
                dynamic: false
            }
        );
        assert_eq!(of("dynamic=true").unwrap().choice(), Choice::Generated);
        assert!(of("code=99").unwrap_err().contains("code=99"));
        assert!(of("code=abc").is_err());
        assert!(of("dynamic=yes").is_err());
        assert_eq!(of("wait=10").unwrap(), Prefer::default());
    }

    #[test]
    fn routes_match_templates_under_a_base_path() {
        assert!(matches_template("/pets/{petId}", "/pets/rex"));
        assert!(!matches_template("/pets/{petId}", "/pets"));
        assert!(!matches_template("/pets/{petId}", "/pets/rex/toys"));
        assert!(matches_template("/pets", "/pets/"));
        let all: Vec<&str> = suffixes("/v1/pets/rex").collect();
        assert_eq!(all, ["/v1/pets/rex", "/pets/rex", "/rex"]);
    }
}
