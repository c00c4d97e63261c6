//! What a generated client's method returns: a [`Call`], which is awaited for the
//! typed result, or asked [`Call::with_meta`] for the result with its response
//! metadata ([`Meta`]: status, every response header, attempts, elapsed time), for
//! successes ([`Response`]) as for errors ([`Failed`]).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Error;

/// What is known about how a call went, besides its value.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// The status of the last response (`None` when no response arrived: a timeout, a
    /// refused connection, a call the breaker or the limiter did not let through).
    pub status: Option<u16>,
    /// Every header of the last response, declared in the contract or not (request ids,
    /// rate-limit state); empty without a response.
    pub headers: http::HeaderMap,
    /// Attempts made (0 when the call was refused before the first).
    pub attempts: u32,
    /// From the start of the call to its result, waits and retries included.
    pub elapsed: Duration,
}

/// A successful call's value with its [`Meta`].
#[derive(Debug, Clone)]
pub struct Response<T> {
    /// The typed value.
    pub value: T,
    /// How the call went.
    pub meta: Meta,
}

impl<T> Response<T> {
    /// The status of the response.
    pub fn status(&self) -> u16 {
        self.meta.status.unwrap_or_default()
    }

    /// Every header of the response.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.meta.headers
    }

    /// The value, without the metadata.
    pub fn into_value(self) -> T {
        self.value
    }
}

/// A failed call's error with its [`Meta`].
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Failed<E> {
    /// The error, as a plain call returns it.
    #[source]
    pub error: Error<E>,
    /// How the call went.
    pub meta: Meta,
}

type Boxed<'a, T, E> = Pin<Box<dyn Future<Output = Result<Response<T>, Failed<E>>> + Send + 'a>>;

/// One call of a generated client: `.await` it for `Result<T, Error<E>>`, or call
/// [`Call::with_meta`] and await that for the metadata too. Nothing is sent until it
/// is awaited.
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<'a, T, E> {
    future: Boxed<'a, T, E>,
}

impl<T, E> std::fmt::Debug for Call<'_, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").finish_non_exhaustive()
    }
}

impl<'a, T: 'a, E: 'a> Call<'a, T, E> {
    pub(crate) fn new(
        future: impl Future<Output = Result<Response<T>, Failed<E>>> + Send + 'a,
    ) -> Self {
        Self {
            future: Box::pin(future),
        }
    }

    /// The call, resolving to the value with its metadata ([`Response`]) or the error
    /// with its metadata ([`Failed`]).
    pub fn with_meta(self) -> impl Future<Output = Result<Response<T>, Failed<E>>> + Send + 'a {
        self.future
    }
}

impl<'a, T, E> IntoFuture for Call<'a, T, E> {
    type Output = Result<T, Error<E>>;
    type IntoFuture = CallFuture<'a, T, E>;

    fn into_future(self) -> Self::IntoFuture {
        CallFuture {
            future: self.future,
        }
    }
}

/// The future of an awaited [`Call`]: its value or error, without the metadata.
#[must_use = "futures do nothing unless polled"]
pub struct CallFuture<'a, T, E> {
    future: Boxed<'a, T, E>,
}

impl<T, E> std::fmt::Debug for CallFuture<'_, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture").finish_non_exhaustive()
    }
}

impl<T, E> Future for CallFuture<'_, T, E> {
    type Output = Result<T, Error<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future
            .as_mut()
            .poll(cx)
            .map(|r| r.map(|ok| ok.value).map_err(|failed| failed.error))
    }
}
