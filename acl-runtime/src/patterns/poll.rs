//! Polling an API that offers no webhooks (feature `webhooks`).
//!
//! Every `interval` (± jitter) a [`Poller`] fetches from its saved position: conditional
//! requests (`If-None-Match` / `If-Modified-Since`; a `304` costs nothing), a `since` or
//! cursor query parameter, pages followed while the handler says there are more, and an
//! optional long-poll parameter. The position is saved only after the handler processed
//! a page, so a failure or a restart re-fetches that page instead of skipping it. Each
//! request goes through the runtime's [`Operation`] (timeout, retries, breaker, limit).
//! When the poller was away longer than it should have been, the uncovered span is
//! reported as a [`Gap`] (event, metric, and in the round's result).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::resilience::classify::Outcome;
use crate::resilience::pipeline::{AttemptError, CallError, Operation};
use crate::store::{unix_ms, CursorState, CursorStore, StoreError};
use crate::transport::Transport;
use crate::webhook::HandlerError;

/// One page as the API returned it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The status (2xx).
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// The cursor this page was fetched with.
    pub cursor: Option<String>,
}

/// What the handler read from a page it processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// Where the next request starts (a cursor, or the `since` value of the newest item);
    /// `None` keeps the current one.
    pub next_cursor: Option<String>,
    /// Whether another page follows at once.
    pub has_more: bool,
}

/// A span of time no successful poll covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Covered until (Unix ms).
    pub from: i64,
    /// Polling resumed at (Unix ms).
    pub to: i64,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Pages processed.
    pub pages: usize,
    /// The source answered `304 Not Modified`.
    pub not_modified: bool,
    /// The span not covered before this round, if the poller was away too long.
    pub gap: Option<Gap>,
}

/// Why a round stopped early. The saved position is where the last processed page
/// left it, so the next round starts there.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The request failed after the operation's retries.
    #[error("fetching {url}: {error}")]
    Fetch {
        /// The URL.
        url: String,
        /// The pipeline's error.
        error: CallError<String>,
    },
    /// The handler failed on a page; it will be fetched again.
    #[error("processing the page at cursor {cursor:?}: {error}")]
    Handler {
        /// The page's cursor.
        cursor: Option<String>,
        /// The handler's error.
        error: HandlerError,
    },
    /// The handler said more pages follow but gave no new cursor: the next request
    /// would fetch the same page again.
    #[error("the page at cursor {cursor:?} says more follow, but the cursor did not move")]
    CursorDidNotMove {
        /// The cursor.
        cursor: Option<String>,
    },
    /// The cursor store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Polls one source.
pub struct Poller {
    name: String,
    url: String,
    transport: Arc<dyn Transport>,
    operation: Arc<Operation>,
    store: Arc<dyn CursorStore>,
    cursor_param: Option<String>,
    long_poll: Option<(String, String)>,
    headers: HeaderMap,
    interval: Duration,
    jitter: f64,
    gap_after: Duration,
    max_pages: usize,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Poller {
    /// A poller named `name` (its cursor's key) for `url`, every 60 s ± 10%, sending
    /// through `transport` under `operation`'s policies.
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        transport: Arc<dyn Transport>,
        operation: Arc<Operation>,
        store: Arc<dyn CursorStore>,
    ) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            transport,
            operation,
            store,
            cursor_param: None,
            long_poll: None,
            headers: HeaderMap::new(),
            interval: Duration::from_secs(60),
            jitter: 0.1,
            gap_after: Duration::from_secs(120),
            max_pages: 1000,
        }
    }

    /// The query parameter that carries the cursor (`since`, `cursor`, `page_token`).
    pub fn cursor_param(mut self, name: impl Into<String>) -> Self {
        self.cursor_param = Some(name.into());
        self
    }

    /// A long-poll parameter and value (`wait`, `30`): the server holds the request
    /// until something happens. The operation's timeout must exceed the wait.
    pub fn long_poll(mut self, param: impl Into<String>, value: impl Into<String>) -> Self {
        self.long_poll = Some((param.into(), value.into()));
        self
    }

    /// Headers sent with every request (credentials).
    pub fn header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Time between rounds, and its jitter as a fraction (0.1: ±10%).
    pub fn interval(mut self, interval: Duration, jitter: f64) -> Self {
        self.interval = interval;
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// A gap is reported when the last covered time is older than the interval plus this
    /// (default 120 s).
    pub fn gap_after(mut self, slack: Duration) -> Self {
        self.gap_after = slack;
        self
    }

    /// At most this many pages per round (default 1000).
    pub fn max_pages(mut self, n: usize) -> Self {
        self.max_pages = n.max(1);
        self
    }

    fn url_for(&self, cursor: Option<&str>) -> String {
        let mut url = self.url.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        if let (Some(param), Some(c)) = (&self.cursor_param, cursor) {
            url.push(sep);
            url.push_str(&format!("{}={}", enc(param), enc(c)));
            sep = '&';
        }
        if let Some((p, v)) = &self.long_poll {
            url.push(sep);
            url.push_str(&format!("{}={}", enc(p), enc(v)));
        }
        url
    }

    async fn load(&self) -> Result<CursorState, StoreError> {
        let (store, name) = (self.store.clone(), self.name.clone());
        tokio::task::spawn_blocking(move || store.load(&name))
            .await
            .map_err(|e| StoreError::new("poller", e))?
            .map(Option::unwrap_or_default)
    }

    async fn save(&self, state: CursorState) -> Result<(), StoreError> {
        let (store, name) = (self.store.clone(), self.name.clone());
        tokio::task::spawn_blocking(move || store.save(&name, &state))
            .await
            .map_err(|e| StoreError::new("poller", e))?
    }

    async fn fetch(
        &self,
        url: &str,
        state: &CursorState,
        conditional: bool,
    ) -> Result<http::Response<Bytes>, PollError> {
        let result = self
            .operation
            .call(|_| {
                let mut request = http::Request::get(url);
                if let Some(h) = request.headers_mut() {
                    h.extend(self.headers.clone());
                    if conditional {
                        if let Some(v) = state.etag.as_deref().and_then(|e| e.parse().ok()) {
                            h.insert(http::header::IF_NONE_MATCH, v);
                        }
                        if let Some(v) = state.last_modified.as_deref().and_then(|e| e.parse().ok())
                        {
                            h.insert(http::header::IF_MODIFIED_SINCE, v);
                        }
                    }
                }
                let request = request.body(Bytes::new());
                async move {
                    let request = request.map_err(|e| AttemptError {
                        outcome: Outcome::Status(400),
                        retry_after: None,
                        error: e.to_string(),
                    })?;
                    let response =
                        self.transport
                            .send(request)
                            .await
                            .map_err(|e| AttemptError {
                                outcome: e.outcome(),
                                retry_after: None,
                                error: e.to_string(),
                            })?;
                    let status = response.status().as_u16();
                    if status < 400 {
                        Ok(response)
                    } else {
                        Err(AttemptError {
                            outcome: Outcome::Status(status),
                            retry_after: response
                                .headers()
                                .get(http::header::RETRY_AFTER)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned),
                            error: format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(response.body())
                                    .chars()
                                    .take(200)
                                    .collect::<String>()
                            ),
                        })
                    }
                }
            })
            .await;
        result.map_err(|error| PollError::Fetch {
            url: url.to_owned(),
            error,
        })
    }

    /// One round: from the saved position, page by page, until the source has no more.
    pub async fn poll_once<F, Fut>(&self, handler: &F) -> Result<Round, PollError>
    where
        F: Fn(Page) -> Fut,
        Fut: Future<Output = Result<PageInfo, HandlerError>>,
    {
        let mut state = self.load().await?;
        let started = unix_ms();
        let mut round = Round::default();
        if let Some(covered) = state.covered_until {
            let allowed = (self.interval + self.gap_after).as_millis() as i64;
            if started - covered > allowed {
                let gap = Gap {
                    from: covered,
                    to: started,
                };
                tracing::warn!(poller = %self.name, from = covered, to = started, "polling gap: this span was not covered");
                metrics::counter!("acl_poll_gaps_total", "poller" => self.name.clone())
                    .increment(1);
                metrics::histogram!("acl_poll_gap_seconds", "poller" => self.name.clone())
                    .record((started - covered) as f64 / 1000.0);
                round.gap = Some(gap);
            }
        }
        loop {
            let cursor = state.cursor.clone();
            let url = self.url_for(cursor.as_deref());
            // Validators belong to the URL they came from: only the first page of a round
            // is asked conditionally, with the validators saved for this very cursor.
            let response = self.fetch(&url, &state, round.pages == 0).await?;
            let status = response.status().as_u16();
            if status == 304 {
                round.not_modified = true;
                state.covered_until = Some(started);
                self.save(state).await?;
                break;
            }
            let (parts, body) = response.into_parts();
            let header = |name: http::HeaderName| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (etag, last_modified) = (
                header(http::header::ETAG),
                header(http::header::LAST_MODIFIED),
            );
            let page = Page {
                status,
                headers: parts.headers.clone(),
                body,
                cursor: cursor.clone(),
            };
            let info = handler(page).await.map_err(|error| PollError::Handler {
                cursor: cursor.clone(),
                error,
            })?;
            round.pages += 1;
            let next = info.next_cursor.or_else(|| cursor.clone());
            // Keep validators only while they describe the URL the next round asks for.
            if next == cursor {
                state.etag = etag;
                state.last_modified = last_modified;
            } else {
                state.etag = None;
                state.last_modified = None;
            }
            state.cursor = next;
            let more = info.has_more && round.pages < self.max_pages;
            if !info.has_more {
                state.covered_until = Some(started);
            }
            let stuck = info.has_more && state.cursor == cursor;
            self.save(state.clone()).await?;
            metrics::counter!("acl_poll_pages_total", "poller" => self.name.clone()).increment(1);
            if stuck {
                return Err(PollError::CursorDidNotMove { cursor });
            }
            if !more {
                break;
            }
        }
        Ok(round)
    }

    /// The delay before the next round: the interval ± jitter.
    pub fn next_delay(&self) -> Duration {
        let base = self.interval.as_secs_f64();
        Duration::from_secs_f64(
            (base + base * self.jitter * (2.0 * fastrand::f64() - 1.0)).max(0.0),
        )
    }

    /// Polls until `shutdown` completes. A failed round is logged and the next one
    /// starts from the last processed page (skip-and-retry); `on_round` sees each result.
    pub async fn run<F, Fut>(
        &self,
        handler: F,
        mut on_round: impl FnMut(&Result<Round, PollError>),
        shutdown: impl Future<Output = ()>,
    ) where
        F: Fn(Page) -> Fut,
        Fut: Future<Output = Result<PageInfo, HandlerError>>,
    {
        let work = async {
            loop {
                let result = self.poll_once(&handler).await;
                if let Err(e) = &result {
                    tracing::warn!(poller = %self.name, error = %e, "poll round failed; retrying from the saved position");
                }
                on_round(&result);
                tokio::time::sleep(self.next_delay()).await;
            }
        };
        crate::webhook::inbox::until(work, shutdown).await
    }
}
