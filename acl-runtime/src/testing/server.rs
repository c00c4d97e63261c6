//! A [`MockVendor`] over real HTTP (feature `mock-server`): for tests that go through a
//! real transport, another language's client, or a teammate with curl
//! (`acl-codegen mock`).
//!
//! The listener is hostile territory like any other way in: a client that trickles its
//! headers (slowloris) is cut off after [`ServeOptions::header_timeout`], a body after
//! [`ServeOptions::body_timeout`] or past [`ServeOptions::max_body`] (413), headers past
//! 64 KiB are refused by the HTTP parser, and at most [`ServeOptions::max_connections`]
//! connections are served at once (the next wait to be accepted).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use super::MockVendor;
use crate::transport::{Transport, TransportErrorKind};

/// One request the served vendor answered ([`ServeOptions::on_request`]).
#[derive(Debug, Clone)]
pub struct RequestLog {
    /// The method.
    pub method: String,
    /// The path and query as sent.
    pub target: String,
    /// The operation it reached (`None`: no route).
    pub operation: Option<&'static str>,
    /// The status answered; `None` when the connection was closed instead (a `Reset`
    /// or `Refused` fault, a body too slow).
    pub status: Option<u16>,
    /// How long the answer took, from the request's head.
    pub elapsed: Duration,
}

impl std::fmt::Display for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self
            .status
            .map_or_else(|| "closed".to_string(), |s| s.to_string());
        write!(
            f,
            "{} {} -> {} ({}, {:.1} ms)",
            self.method,
            self.target,
            status,
            self.operation.unwrap_or("no operation"),
            self.elapsed.as_secs_f64() * 1e3
        )
    }
}

/// What [`ServeOptions::on_request`] calls.
pub type OnRequest = Arc<dyn Fn(&RequestLog) + Send + Sync>;

/// Where and within which bounds [`MockVendor::serve_with`] serves.
#[derive(Clone)]
pub struct ServeOptions {
    /// The address to listen on (default `127.0.0.1:0`: a free loopback port).
    pub addr: SocketAddr,
    /// How long a client may take to send a request's head (default 10 s).
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body (default 30 s).
    pub body_timeout: Duration,
    /// The largest body read (default 8 MiB; larger: 413).
    pub max_body: usize,
    /// Connections served at once (default 1,024).
    pub max_connections: usize,
    /// How long a [`Fault::Hang`](super::Fault::Hang) holds a connection before it is
    /// closed (default 5 minutes), so hung requests cannot pile up forever.
    pub hang_limit: Duration,
    /// Called once per request, after the answer (the `mock` command prints it).
    pub on_request: Option<OnRequest>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_body: 8 << 20,
            max_connections: 1024,
            hang_limit: Duration::from_secs(300),
            on_request: None,
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("addr", &self.addr)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_body", &self.max_body)
            .field("max_connections", &self.max_connections)
            .field("hang_limit", &self.hang_limit)
            .field("on_request", &self.on_request.is_some())
            .finish()
    }
}

/// A [`MockVendor`] on a port ([`MockVendor::serve`]); the server stops when this is
/// dropped.
#[derive(Debug)]
pub struct Served {
    /// `http://127.0.0.1:<port>`: the base URL to give the client (with the contract's
    /// base path, if its operations are under one).
    pub base_url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Serves until the server fails or the task is aborted (the `mock` command).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockVendor {
    /// Serves the vendor over real HTTP/1.1 on a free loopback port, with the default
    /// [`ServeOptions`]. The same scripts and records apply; a `Reset` or `Refused`
    /// fault closes the connection without an answer.
    pub async fn serve(&self) -> std::io::Result<Served> {
        self.serve_with(ServeOptions::default()).await
    }

    /// Serves the vendor with these options.
    pub async fn serve_with(&self, options: ServeOptions) -> std::io::Result<Served> {
        let listener = tokio::net::TcpListener::bind(options.addr).await?;
        let addr = listener.local_addr()?;
        let vendor = self.clone();
        let options = Arc::new(options);
        let task = tokio::spawn(async move {
            let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections.max(1)));
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    // Out of descriptors, or a connection reset before it was accepted:
                    // wait a little instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let vendor = vendor.clone();
                let options = options.clone();
                let header_timeout = options.header_timeout;
                tokio::spawn(async move {
                    let _slot = slot;
                    let service = hyper::service::service_fn(move |request| {
                        let vendor = vendor.clone();
                        let options = options.clone();
                        async move { vendor.over_http(request, &options).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(header_timeout)
                        // A request head is read into this buffer: past it, 431.
                        .max_buf_size(64 << 10)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Served {
            base_url: format!("http://{addr}"),
            addr,
            task,
        })
    }
}

/// Why a connection is closed without an answer.
#[derive(Debug)]
struct Closed(&'static str);

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Closed {}

impl MockVendor {
    async fn over_http(
        &self,
        request: http::Request<Incoming>,
        options: &ServeOptions,
    ) -> Result<http::Response<Full<Bytes>>, Closed> {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let mut log = RequestLog {
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            operation: self.operation_of(parts.method.as_str(), parts.uri.path()),
            status: None,
            elapsed: Duration::ZERO,
        };
        let read = tokio::time::timeout(
            options.body_timeout,
            Limited::new(body, options.max_body).collect(),
        )
        .await;
        let result = match read {
            Err(_) => Err(Closed("the body took too long")),
            Ok(Err(_)) => Ok(plain(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {} bytes, or broken", options.max_body),
            )),
            Ok(Ok(collected)) => {
                let request = http::Request::from_parts(parts, collected.to_bytes());
                match tokio::time::timeout(options.hang_limit, self.send(request)).await {
                    Err(_) => Err(Closed("a hang fault ran out its limit")),
                    Ok(Ok(response)) => Ok(response.map(Full::new)),
                    Ok(Err(e)) => match e.kind {
                        // Reset and refused: close the connection without an answer,
                        // which is what the client of a real vendor would see.
                        TransportErrorKind::Reset | TransportErrorKind::Connect => {
                            Err(Closed("a transport fault"))
                        }
                        _ => Ok(plain(http::StatusCode::BAD_GATEWAY, e.to_string())),
                    },
                }
            }
        };
        log.status = result.as_ref().ok().map(|r| r.status().as_u16());
        log.elapsed = started.elapsed();
        if let Some(on_request) = &options.on_request {
            on_request(&log);
        }
        result
    }
}

fn plain(status: http::StatusCode, text: String) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}
