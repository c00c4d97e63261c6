//! The operator console (feature `console`): an axum [`Router`] a service mounts under a
//! path of its choice, showing the state of its boundary, live (the page reloads itself
//! every few seconds; no JavaScript): each external system's breaker state and recent
//! transitions, rate-limit waits, retry budget and calls in flight; the webhook inbox's
//! depth and its dead letters (payloads redacted until asked for), with replay and
//! discard; outbound deliveries with their attempts and status, and endpoints (a
//! disabled one can be enabled again); poll cursors and what they cover.
//!
//! It refuses to be built open: [`Console::router`] takes the authentication check every
//! request must pass ([`bearer`] for a token), and [`Console::loopback_router`] answers
//! only connections from 127.0.0.1/::1 (serve it with
//! `into_make_service_with_connect_info::<SocketAddr>()`). Replay, discard and enable are
//! POST forms carrying a per-console CSRF token, refused when it is missing or wrong or
//! when the browser says the form came from another site.
//!
//! ```no_run
//! # async fn demo(inbox: std::sync::Arc<acl_runtime::store::sqlite::SqliteStore>, core: acl_runtime::client::Core) {
//! use acl_runtime::console::{bearer, Console};
//! let console = Console::new()
//!     .client(&core) // a generated client's `client.core()`
//!     .inbox(inbox.clone())
//!     .outbox(inbox.clone())
//!     .router(bearer("a long random token"));
//! // `nest_service`: every path under `/acl` (and `/acl` itself) reaches the console.
//! let app: axum::Router = axum::Router::new().nest_service("/acl", console);
//! # let _ = app; }
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::client::Core;
use crate::resilience::pipeline::System;
use crate::store::{CursorStore, InboxStore, OutboxStore, StoreError};

/// Dead letters and messages per page.
pub const PAGE: usize = 50;

/// A poller whose cursor covers nothing newer than this (ms) shows a gap.
pub const GAP_AFTER_MS: i64 = 120_000;

/// Who may see the console: true lets the request through.
pub type Authenticate = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

/// An [`Authenticate`] that wants `Authorization: Bearer <token>` (compared in constant
/// time). An empty token lets nobody in.
pub fn bearer(token: impl Into<String>) -> Authenticate {
    let token = token.into();
    Arc::new(move |headers: &HeaderMap| {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        !token.is_empty() && constant_time_eq(given.trim().as_bytes(), token.as_bytes())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

enum Watched {
    Client(Core),
    System(Arc<System>),
}

impl Watched {
    fn system(&self) -> &System {
        match self {
            Watched::Client(core) => core.system(),
            Watched::System(s) => s,
        }
    }
}

/// What the console shows; [`Console::router`] makes it a `Router`.
#[derive(Default)]
pub struct Console {
    systems: Vec<Watched>,
    inbox: Option<Arc<dyn InboxStore>>,
    outbox: Option<Arc<dyn OutboxStore>>,
    cursors: Option<(Arc<dyn CursorStore>, Vec<String>)>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("systems", &self.systems.len())
            .finish_non_exhaustive()
    }
}

struct Shared {
    console: Console,
    auth: Option<Authenticate>,
    csrf: String,
}

impl Console {
    /// An empty console.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows a generated client's external system (`client.core()`).
    pub fn client(mut self, core: &Core) -> Self {
        self.systems.push(Watched::Client(core.clone()));
        self
    }

    /// Shows an external system called through a hand-built pipeline.
    pub fn system(mut self, system: Arc<System>) -> Self {
        self.systems.push(Watched::System(system));
        self
    }

    /// Shows the webhook inbox and its dead letters, with replay and discard.
    pub fn inbox(mut self, inbox: Arc<dyn InboxStore>) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// Shows outbound deliveries and endpoints.
    pub fn outbox(mut self, outbox: Arc<dyn OutboxStore>) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// Shows the cursors of these pollers.
    pub fn cursors(mut self, store: Arc<dyn CursorStore>, pollers: &[&str]) -> Self {
        self.cursors = Some((store, pollers.iter().map(|s| s.to_string()).collect()));
        self
    }

    /// The console behind `auth`: every request that fails it gets 401.
    pub fn router(self, auth: Authenticate) -> Router {
        self.build(Some(auth))
    }

    /// The console for connections from this machine only (403 otherwise, and when the
    /// server does not give the peer's address: serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`).
    pub fn loopback_router(self) -> Router {
        self.build(None)
    }

    fn build(self, auth: Option<Authenticate>) -> Router {
        let mut token = [0u8; 24];
        for b in &mut token {
            *b = fastrand::u8(..);
        }
        let shared = Arc::new(Shared {
            console: self,
            auth,
            csrf: token.iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            }),
        });
        let handler = move |request: Request| {
            let shared = shared.clone();
            async move { shared.handle(request).await }
        };
        // Explicit routes (a nested router's fallback is not reached through `nest`).
        Router::new()
            .route("/", axum::routing::any(handler.clone()))
            .route("/{*page}", axum::routing::any(handler.clone()))
            .fallback(handler)
    }
}

fn page(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn when(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

impl Shared {
    async fn handle(self: Arc<Self>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let allowed = match &self.auth {
            Some(auth) => auth(&parts.headers),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|c| c.0.ip().is_loopback()),
        };
        if !allowed {
            return match self.auth {
                Some(_) => (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    "the console needs credentials",
                )
                    .into_response(),
                None => (
                    StatusCode::FORBIDDEN,
                    "the console answers this machine only",
                )
                    .into_response(),
            };
        }
        // Mounted at `/acl`, the overview must be `/acl/` so its relative links work.
        if let Some(original) = parts.extensions.get::<axum::extract::OriginalUri>() {
            let (inner, outer) = (parts.uri.path(), original.0.path());
            if (inner.is_empty() || inner == "/") && !outer.ends_with('/') {
                return (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, format!("{outer}/"))],
                )
                    .into_response();
            }
        }
        let path = parts.uri.path().trim_end_matches('/').to_string();
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match (parts.method.as_str(), path.rsplit('/').next().unwrap_or("")) {
            ("GET", "" | "console") => {
                let me = self.clone();
                blocking(move || me.overview()).await
            }
            ("GET", "dlq") => {
                let offset = param("page")
                    .and_then(|p| p.parse::<usize>().ok())
                    .unwrap_or(0)
                    .saturating_mul(PAGE);
                let reveal = param("reveal");
                let me = self.clone();
                blocking(move || me.dead_letters(offset, reveal)).await
            }
            ("POST", action @ ("replay" | "discard" | "enable")) => {
                // Same-site forms only: the browser says where a form came from.
                let cross = parts
                    .headers
                    .get("sec-fetch-site")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v == "cross-site");
                let Ok(bytes) = axum::body::to_bytes(body, 16 << 10).await else {
                    return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
                };
                let form: Vec<(String, String)> =
                    url::form_urlencoded::parse(&bytes).into_owned().collect();
                let field =
                    |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                let token_ok = field("csrf")
                    .is_some_and(|t| constant_time_eq(t.as_bytes(), self.csrf.as_bytes()));
                if cross || !token_ok {
                    return (
                        StatusCode::FORBIDDEN,
                        "refused: the form's CSRF token is missing or wrong",
                    )
                        .into_response();
                }
                let Some(id) = field("id") else {
                    return (StatusCode::BAD_REQUEST, "which one? (`id`)").into_response();
                };
                let action = action.to_string();
                let me = self.clone();
                // Relative to the form's URL (`…/replay`): back to the page it was on.
                let back = if action == "enable" { "./" } else { "dlq" };
                match blocking_result(move || me.act(&action, &id)).await {
                    Ok(()) => (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response(),
                    Err(e) => page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("<p>{}</p>", escape(&e.to_string())),
                    ),
                }
            }
            _ => (StatusCode::NOT_FOUND, "no such console page").into_response(),
        }
    }

    fn act(&self, action: &str, id: &str) -> Result<(), StoreError> {
        let now = crate::store::unix_ms();
        let missing = || StoreError::new("console", "no such store here");
        match action {
            "replay" => self
                .console
                .inbox
                .as_ref()
                .ok_or_else(missing)?
                .replay(id, now)
                .map(drop),
            "discard" => self
                .console
                .inbox
                .as_ref()
                .ok_or_else(missing)?
                .discard(id)
                .map(drop),
            _ => {
                let outbox = self.console.outbox.as_ref().ok_or_else(missing)?;
                outbox.set_endpoint_disabled(id, false)
            }
        }
    }

    fn form(&self, action: &str, id: &str, label: &str) -> String {
        format!(
            "<form method=post action=\"{action}\"><input type=hidden name=csrf value=\"{}\"><input type=hidden name=id value=\"{}\"><button type=submit class=\"{action}\">{label}</button></form>",
            self.csrf,
            escape(id)
        )
    }

    fn overview(&self) -> Response {
        let c = &self.console;
        let mut h = head("acl console", true);
        h.push_str("<h2>External systems</h2><table><tr><th>system</th><th>breaker</th><th>recent transitions</th><th>in flight</th><th>retry budget (last window)</th><th>rate-limit waits</th></tr>");
        for w in &c.systems {
            let s = w.system();
            let state = s.breaker().state().as_str();
            let transitions: Vec<String> = s
                .breaker()
                .recent_transitions()
                .iter()
                .rev()
                .take(5)
                .map(|t| {
                    format!(
                        "{} → {} at {}",
                        t.transition.from.as_str(),
                        t.transition.to.as_str(),
                        when(t.at_ms)
                    )
                })
                .collect();
            let (used, allowed) = s.retry_budget_usage();
            let _ = write!(
                h,
                "<tr class=system><td>{}</td><td class=\"breaker {state}\">{state}</td><td>{}</td><td>{}</td><td>{used} of {allowed} retries</td><td>{}</td></tr>",
                escape(s.name()),
                if transitions.is_empty() { "none".into() } else { transitions.join("<br>") },
                s.in_flight(),
                s.rate_limited_count()
            );
        }
        h.push_str("</table>");
        if let Some(inbox) = &c.inbox {
            match inbox.counts() {
                Ok(n) => {
                    let _ = write!(
                        h,
                        "<h2>Webhook inbox</h2><p id=inbox>{} pending, {} processing, {} done, <a href=\"dlq\">{} dead letters</a></p>",
                        n.pending, n.processing, n.done, n.dead
                    );
                }
                Err(e) => {
                    let _ = write!(
                        h,
                        "<h2>Webhook inbox</h2><p class=error>{}</p>",
                        escape(&e.to_string())
                    );
                }
            }
        }
        if let Some(outbox) = &c.outbox {
            h.push_str("<h2>Outbound endpoints</h2><table><tr><th>endpoint</th><th>url</th><th>state</th><th></th></tr>");
            for e in outbox.endpoints().unwrap_or_default() {
                let state = if e.disabled {
                    "disabled".to_string()
                } else if let Some(since) = e.failing_since {
                    format!("failing since {}", when(since))
                } else {
                    "ok".to_string()
                };
                let action = if e.disabled {
                    self.form("enable", &e.id, "enable")
                } else {
                    String::new()
                };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{state}</td><td>{action}</td></tr>",
                    escape(&e.id),
                    escape(&e.url)
                );
            }
            h.push_str("</table><h2>Recent outbound messages</h2><table><tr><th>message</th><th>endpoint</th><th>event</th><th>status</th><th>attempts</th><th>next attempt</th></tr>");
            for m in outbox.messages_page(0, 20).unwrap_or_default() {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&m.id),
                    escape(&m.endpoint),
                    escape(&m.event_type),
                    m.status.as_str(),
                    m.attempts,
                    m.next_at.map(when).unwrap_or_default()
                );
            }
            h.push_str("</table>");
        }
        if let Some((store, names)) = &c.cursors {
            h.push_str("<h2>Poll cursors</h2><table><tr><th>poller</th><th>cursor</th><th>covered until</th><th>gap</th></tr>");
            let now = crate::store::unix_ms();
            for name in names {
                let st = store.load(name).ok().flatten().unwrap_or_default();
                // Time since the last covered instant: a poller that stopped, or a
                // gap its next round will report.
                let gap = match st.covered_until {
                    Some(t) if now - t > GAP_AFTER_MS => {
                        format!(
                            "<span class=gap>uncovered for {} s</span>",
                            (now - t) / 1000
                        )
                    }
                    Some(_) => "none".to_string(),
                    None => "never polled".to_string(),
                };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{gap}</td></tr>",
                    escape(name),
                    escape(st.cursor.as_deref().unwrap_or("")),
                    st.covered_until.map(when).unwrap_or_else(|| "never".into())
                );
            }
            h.push_str("</table>");
        }
        h.push_str("</body></html>");
        page(StatusCode::OK, h)
    }

    fn dead_letters(&self, offset: usize, reveal: Option<String>) -> Response {
        let Some(inbox) = &self.console.inbox else {
            return (StatusCode::NOT_FOUND, "no inbox here").into_response();
        };
        let letters = match inbox.dead_letters_page(offset, PAGE + 1) {
            Ok(l) => l,
            Err(e) => return page(StatusCode::INTERNAL_SERVER_ERROR, escape(&e.to_string())),
        };
        let mut h = head("dead letters", false);
        let _ = write!(h, "<p><a href=\".\">overview</a></p><h2>Dead letters {}–{}</h2><table><tr><th>delivery</th><th>source</th><th>attempts</th><th>dead since</th><th>error</th><th>payload</th><th></th></tr>", offset + 1, offset + letters.len().min(PAGE));
        for d in letters.iter().take(PAGE) {
            let id = &d.delivery.id;
            let payload = if reveal.as_deref() == Some(id.as_str()) {
                format!(
                    "<pre>{}</pre>",
                    escape(&String::from_utf8_lossy(&d.delivery.body))
                )
            } else {
                format!(
                    "{} bytes, redacted <a href=\"?page={}&amp;reveal={}\">show</a>",
                    d.delivery.body.len(),
                    offset / PAGE,
                    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
                )
            };
            let _ = write!(
                h,
                "<tr class=dead><td class=id>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=error>{}</td><td>{payload}</td><td>{}{}</td></tr>",
                escape(id),
                escape(&d.delivery.source),
                d.attempts,
                when(d.at),
                escape(&d.error),
                self.form("replay", id, "replay"),
                self.form("discard", id, "discard"),
            );
        }
        h.push_str("</table><p>");
        if offset > 0 {
            let _ = write!(h, "<a href=\"?page={}\">newer</a> ", offset / PAGE - 1);
        }
        if letters.len() > PAGE {
            let _ = write!(
                h,
                "<a href=\"?page={}\" id=next>older</a>",
                offset / PAGE + 1
            );
        }
        h.push_str("</p></body></html>");
        page(StatusCode::OK, h)
    }
}

fn head(title: &str, refresh: bool) -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{}<style>body{{font:14px system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}.open{{background:#fdd}}.half_open{{background:#ffd}}.closed{{background:#dfd}}form{{display:inline}}</style></head><body><h1>{title}</h1>",
        if refresh { "<meta http-equiv=refresh content=5>" } else { "" }
    )
}

/// Runs `f` (store calls) on the blocking pool.
async fn blocking(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| (StatusCode::INTERNAL_SERVER_ERROR, "the page failed").into_response())
}

async fn blocking_result(
    f: impl FnOnce() -> Result<(), StoreError> + Send + 'static,
) -> Result<(), StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::new("console", e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_escaping() {
        assert_eq!(when(0), "1970-01-01 00:00:00Z");
        assert_eq!(when(1_764_633_600_000), "2025-12-02 00:00:00Z");
        assert_eq!(
            escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert!(bearer("t")(&{
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
            h
        }));
        assert!(!bearer("")(&{
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
            h
        }));
    }
}
