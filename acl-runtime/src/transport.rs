//! The transport: sends one HTTP request, returns one response. Generated clients talk
//! to it only, so tests and users can swap it (a recording transport, another HTTP
//! stack); [`ReqwestTransport`] (feature `reqwest`, on by default) is the default.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::resilience::classify::Outcome;

/// A boxed future, as transports return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The connection could not be made: the request provably never left.
    Connect,
    /// The connection broke, or the body could not be read, after sending.
    Reset,
    /// The transport's own timeout fired.
    Timeout,
    /// The request could not be built (bad URL, bad header).
    Request,
}

/// A failure below HTTP.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct TransportError {
    /// The kind, which decides the failure class.
    pub kind: TransportErrorKind,
    /// The transport's description.
    pub message: String,
}

impl TransportError {
    /// The attempt's outcome, for classification.
    pub fn outcome(&self) -> Outcome {
        match self.kind {
            TransportErrorKind::Connect => Outcome::ConnectFailed,
            TransportErrorKind::Reset | TransportErrorKind::Request => Outcome::ConnectionReset,
            TransportErrorKind::Timeout => Outcome::Timeout,
        }
    }
}

/// A response body read as it arrives.
pub type ByteStream =
    Pin<Box<dyn futures_core::Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// A stream of one chunk (a body that was read whole).
struct Once(Option<Bytes>);

impl futures_core::Stream for Once {
    type Item = Result<Bytes, TransportError>;
    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.take().filter(|b| !b.is_empty()).map(Ok))
    }
}

/// Reads a whole stream.
pub async fn collect(body: ByteStream) -> Result<Bytes, TransportError> {
    // `None` cannot come back: nothing is longer than `u64::MAX`.
    Ok(collect_at_most(body, u64::MAX).await?.unwrap_or_default())
}

/// Reads a stream of at most `limit` bytes; `None` as soon as it is longer (the rest is
/// not read, and dropping the stream closes the connection): a hostile peer cannot make
/// the reader hold more than `limit`.
pub async fn collect_at_most(
    mut body: ByteStream,
    limit: u64,
) -> Result<Option<Bytes>, TransportError> {
    let mut out = Vec::new();
    while let Some(chunk) =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(body.as_mut(), cx)).await
    {
        let chunk = chunk?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out.into()))
}

/// Sends requests.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reads the whole response.
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>>;

    /// Sends `request` and returns once the head has arrived; the body streams. The
    /// default reads the body whole first.
    fn send_streaming(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<ByteStream>, TransportError>> {
        Box::pin(async move {
            let (parts, body) = self.send(request).await?.into_parts();
            Ok(http::Response::from_parts(
                parts,
                Box::pin(Once(Some(body))) as ByteStream,
            ))
        })
    }
}

/// The default transport: a `reqwest::Client` (rustls, HTTP/1.1 and HTTP/2). It sets no
/// timeout of its own: the pipeline's per-attempt timeout and deadline apply.
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone, Default)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestTransport {
    /// Over a configured client (proxies, TLS roots, connection pool).
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[cfg(feature = "reqwest")]
pub(crate) fn reqwest_error(e: reqwest::Error) -> TransportError {
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_builder() {
        TransportErrorKind::Request
    } else {
        TransportErrorKind::Reset
    };
    // The chain says what happened ("connection refused"); the top says to where.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError { kind, message }
}

#[cfg(feature = "reqwest")]
impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(reqwest_error)?;
            let response = self.client.execute(request).await.map_err(reqwest_error)?;
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await.map_err(reqwest_error)?;
            builder.body(body).map_err(|e| TransportError {
                kind: TransportErrorKind::Reset,
                message: e.to_string(),
            })
        })
    }

    fn send_streaming(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<ByteStream>, TransportError>> {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(reqwest_error)?;
            let response = self.client.execute(request).await.map_err(reqwest_error)?;
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            // Chunks as they come; the stream ends after the first error.
            let chunks = futures_util::stream::unfold(Some(response), |state| async move {
                let mut response = state?;
                match response.chunk().await {
                    Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                    Ok(None) => None,
                    Err(e) => Some((Err(reqwest_error(e)), None)),
                }
            });
            builder
                .body(Box::pin(chunks) as ByteStream)
                .map_err(|e| TransportError {
                    kind: TransportErrorKind::Reset,
                    message: e.to_string(),
                })
        })
    }
}
