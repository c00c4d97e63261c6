//! Asynchronous request-reply: an operation answers `202 Accepted` and finishes later.
//!
//! [`Job::from_accepted`] reads the status URL (`Location`, resolved against the
//! request's URL) and the first `Retry-After`. [`JobWaiter::wait`] then polls that URL
//! with backoff and jitter (the server's `Retry-After` wins when it asks for longer)
//! under an overall deadline, asking the caller's `read` function what each status
//! response means ([`JobStatus`]): still running, done with a value, or failed for good.
//! When the vendor calls back instead (or as well), [`CallbackHub`] hands the callback
//! received through the webhook inbox to the waiter with the same correlation id —
//! also when the callback arrives before anyone waits. Every way out is explicit:
//! [`JobError::Deadline`], [`JobError::Failed`], [`JobError::Cancelled`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::resilience::retry::Backoff;
use crate::transport::Transport;

/// A job the vendor accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Where its status is (absolute).
    pub status_url: String,
    /// How long the vendor asked us to wait before the first poll.
    pub retry_after: Option<Duration>,
}

impl Job {
    /// Reads a `202 Accepted` answer to a request sent to `request_url`: `Location`
    /// (absolute, or relative to the request) and `Retry-After`. `None` without a
    /// usable `Location`.
    pub fn from_accepted(request_url: &str, headers: &http::HeaderMap) -> Option<Job> {
        let location = headers.get(http::header::LOCATION)?.to_str().ok()?;
        let status_url = url::Url::parse(request_url)
            .ok()?
            .join(location)
            .ok()?
            .to_string();
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::resilience::classify::parse_retry_after(v, SystemTime::now()));
        Some(Job {
            status_url,
            retry_after,
        })
    }
}

/// What a status response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus<T> {
    /// Still running.
    Running,
    /// Finished with this result.
    Done(T),
    /// Finished, and failed: no point in waiting further.
    Failed(String),
}

/// How waiting ended, when it did not end with a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The overall deadline passed while the job was still running.
    #[error("the job at {url} was still running after {waited:?} ({polls} polls)")]
    Deadline {
        /// The status URL.
        url: String,
        /// Polls made.
        polls: u32,
        /// Time waited.
        waited: Duration,
    },
    /// The job reached a terminal failure state.
    #[error("the job at {url} failed: {reason}")]
    Failed {
        /// The status URL.
        url: String,
        /// What the vendor said.
        reason: String,
    },
    /// The caller cancelled the wait.
    #[error("waiting for the job at {url} was cancelled")]
    Cancelled {
        /// The status URL.
        url: String,
    },
}

/// Callbacks by correlation id, for waiters that want them instead of (or besides)
/// polling. Feed it from the inbox handler of the callback's webhook.
#[derive(Debug, Default, Clone)]
pub struct CallbackHub {
    inner: Arc<Mutex<Hub>>,
}

#[derive(Debug, Default)]
struct Hub {
    waiting: HashMap<String, oneshot::Sender<Bytes>>,
    early: HashMap<String, Bytes>,
}

impl CallbackHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// A callback for `id` arrived (its raw body): wakes its waiter, or keeps it for the
    /// waiter to come (a callback can beat the first poll).
    pub fn deliver(&self, id: &str, body: Bytes) {
        let mut hub = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match hub.waiting.remove(id) {
            Some(tx) => {
                if let Err(body) = tx.send(body) {
                    hub.early.insert(id.to_owned(), body);
                }
            }
            None => {
                hub.early.insert(id.to_owned(), body);
            }
        }
    }

    fn register(&self, id: &str) -> Result<Bytes, oneshot::Receiver<Bytes>> {
        let mut hub = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(body) = hub.early.remove(id) {
            return Ok(body);
        }
        let (tx, rx) = oneshot::channel();
        hub.waiting.insert(id.to_owned(), tx);
        Err(rx)
    }

    fn forget(&self, id: &str) {
        let mut hub = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        hub.waiting.remove(id);
    }
}

/// Polls a job until it is done, failed, past its deadline, or cancelled.
pub struct JobWaiter {
    transport: Arc<dyn Transport>,
    headers: http::HeaderMap,
    deadline: Duration,
    backoff: Backoff,
    poll_timeout: Duration,
}

impl std::fmt::Debug for JobWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobWaiter")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl JobWaiter {
    /// Waits at most `deadline` in all; polls with exponential backoff from 1 s to 30 s
    /// with full jitter, 10 s per poll.
    pub fn new(transport: Arc<dyn Transport>, deadline: Duration) -> Self {
        Self {
            transport,
            headers: http::HeaderMap::new(),
            deadline,
            backoff: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30))
                .unwrap_or_else(|_| Backoff::fixed(Duration::from_secs(1))),
            poll_timeout: Duration::from_secs(10),
        }
    }

    /// The delay between polls.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The time limit of one poll (a slow poll counts as "still running").
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// A header sent with every poll (credentials).
    pub fn header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Waits for `job`: polls its status URL, and when `callback` is given, also takes a
    /// callback with that correlation id from the hub (whichever comes first decides).
    /// `read` says what a status response (status code, body) means; a callback's body
    /// is read as a `200`.
    /// `cancel` ends the wait early when it completes (pass `std::future::pending()` for
    /// none).
    pub async fn wait<T>(
        &self,
        job: &Job,
        callback: Option<(&CallbackHub, &str)>,
        read: impl Fn(u16, &[u8]) -> JobStatus<T>,
        cancel: impl Future<Output = ()>,
    ) -> Result<T, JobError> {
        let url = job.status_url.clone();
        let started = tokio::time::Instant::now();
        let end = started + self.deadline;
        let mut callback_rx = match callback {
            Some((hub, id)) => match arm(hub, id, &read) {
                Ok(rx) => Some((hub, id, rx)),
                Err(done) => return finish(&url, done),
            },
            None => None,
        };
        let mut cancel = std::pin::pin!(cancel);
        let mut rng = fastrand::Rng::new();
        let mut polls = 0u32;
        let mut previous = Duration::ZERO;
        let mut next_wait = job.retry_after.unwrap_or(Duration::ZERO);
        let result = loop {
            // Until the next poll: a callback, cancellation or the deadline may come first.
            let wake_at = (tokio::time::Instant::now() + next_wait).min(end);
            let wake = {
                let mut sleep = std::pin::pin!(tokio::time::sleep_until(wake_at));
                std::future::poll_fn(|cx| {
                    use std::task::Poll;
                    if cancel.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Wake::Cancelled);
                    }
                    if let Some((_, _, rx)) = callback_rx.as_mut() {
                        if let Poll::Ready(r) = std::pin::Pin::new(rx).poll(cx) {
                            return Poll::Ready(Wake::Callback(r.ok()));
                        }
                    }
                    if sleep.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Wake::Timer);
                    }
                    Poll::Pending
                })
                .await
            };
            match wake {
                Wake::Cancelled => break Err(JobError::Cancelled { url: url.clone() }),
                Wake::Callback(Some(body)) => match terminal(read(200, &body)) {
                    // A progress callback: wait for the next one.
                    None => {
                        callback_rx = match callback_rx.take() {
                            Some((hub, id, _)) => match arm(hub, id, &read) {
                                Ok(rx) => Some((hub, id, rx)),
                                Err(done) => break finish(&url, done),
                            },
                            None => None,
                        };
                        continue;
                    }
                    Some(done) => break finish(&url, done),
                },
                Wake::Callback(None) => {
                    callback_rx = None;
                    continue;
                }
                Wake::Timer => {}
            }
            let now = tokio::time::Instant::now();
            if now >= end {
                break Err(JobError::Deadline {
                    url: url.clone(),
                    polls,
                    waited: now - started,
                });
            }
            polls += 1;
            let mut server_wait = None;
            let request = http::Request::get(&url).body(Bytes::new());
            if let Ok(mut request) = request {
                request.headers_mut().extend(self.headers.clone());
                let limit = self.poll_timeout.min(end - now);
                if let Ok(Ok(response)) =
                    tokio::time::timeout(limit, self.transport.send(request)).await
                {
                    server_wait = response
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| {
                            crate::resilience::classify::parse_retry_after(v, SystemTime::now())
                        });
                    if let Some(done) = terminal(read(response.status().as_u16(), response.body()))
                    {
                        break finish(&url, done);
                    }
                }
                // A failed or slow poll is not the job's failure: wait and poll again.
            }
            let delay = self.backoff.delay(polls, previous, &mut rng);
            previous = delay;
            next_wait = server_wait.map_or(delay, |s| s.max(delay));
            metrics::counter!("acl_async_polls_total").increment(1);
        };
        if let Some((hub, id, _)) = callback_rx {
            hub.forget(id);
        }
        result
    }
}

enum Wake {
    Cancelled,
    Callback(Option<Bytes>),
    Timer,
}

/// Waits for the next callback of `id`: a receiver, or the outcome of a callback that
/// has already arrived (callbacks saying "still running" are passed over).
fn arm<T>(
    hub: &CallbackHub,
    id: &str,
    read: &impl Fn(u16, &[u8]) -> JobStatus<T>,
) -> Result<oneshot::Receiver<Bytes>, Result<T, String>> {
    loop {
        match hub.register(id) {
            Err(rx) => return Ok(rx),
            Ok(body) => match terminal(read(200, &body)) {
                None => continue,
                Some(done) => return Err(done),
            },
        }
    }
}

/// The outcome of a finished job; `None` while it runs.
fn terminal<T>(status: JobStatus<T>) -> Option<Result<T, String>> {
    match status {
        JobStatus::Running => None,
        JobStatus::Done(v) => Some(Ok(v)),
        JobStatus::Failed(reason) => Some(Err(reason)),
    }
}

fn finish<T>(url: &str, done: Result<T, String>) -> Result<T, JobError> {
    done.map_err(|reason| JobError::Failed {
        url: url.to_owned(),
        reason,
    })
}
