//! A WebSocket client that does not silently stop (feature `websocket`).
//!
//! [`WsClient::next`] returns the next text or binary message, reconnecting whenever
//! the connection closes, breaks, or stops answering: a ping is sent after
//! `ping_interval` of silence, and a connection that does not answer (any frame) within
//! `pong_timeout` is dropped. After every (re)connection the subscription messages are
//! sent again. Reconnections back off with jitter; messages and frames are bounded in
//! size. Metrics: `acl_ws_messages_total`, `acl_ws_reconnects_total` by stream.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::resilience::retry::Backoff;

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// Why the client gave up.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// Connecting failed this many times in a row.
    #[error("gave up after {attempts} failed connection attempts: {last}")]
    GaveUp {
        /// Attempts in a row.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// Sending failed (the connection is dropped and will be re-established).
    #[error("send failed: {0}")]
    Send(String),
}

/// A reconnecting WebSocket client for one URL.
pub struct WsClient {
    name: String,
    url: String,
    subscribe: Vec<Message>,
    ping_interval: Duration,
    pong_timeout: Duration,
    backoff: Backoff,
    max_failures: u32,
    config: WebSocketConfig,
    socket: Option<Socket>,
    failures: u32,
    connected_once: bool,
    awaiting_pong: Option<tokio::time::Instant>,
    rng: fastrand::Rng,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// A client for `url` (`ws://` or `wss://`): a ping after 20 s of silence, 10 s for
    /// the answer, backoff from 500 ms to 30 s, 1 MiB messages, gives up after 10 failed
    /// connections in a row.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(1 << 20);
        config.max_frame_size = Some(1 << 20);
        Self {
            name: name.into(),
            url: url.into(),
            subscribe: Vec::new(),
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(10),
            backoff: Backoff::exponential(Duration::from_millis(500), Duration::from_secs(30))
                .unwrap_or_else(|_| Backoff::fixed(Duration::from_secs(1))),
            max_failures: 10,
            config,
            socket: None,
            failures: 0,
            connected_once: false,
            awaiting_pong: None,
            rng: fastrand::Rng::new(),
        }
    }

    /// A text message sent after every (re)connection, in order (subscriptions).
    pub fn subscribe(mut self, text: impl Into<String>) -> Self {
        self.subscribe.push(Message::text(text.into()));
        self
    }

    /// Ping after this much silence; drop the connection when nothing answers within
    /// `pong_timeout`.
    pub fn heartbeat(mut self, ping_interval: Duration, pong_timeout: Duration) -> Self {
        self.ping_interval = ping_interval;
        self.pong_timeout = pong_timeout;
        self
    }

    /// The delay between reconnections.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Give up after this many failed connections in a row.
    pub fn max_failures(mut self, n: u32) -> Self {
        self.max_failures = n.max(1);
        self
    }

    /// The largest message accepted.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.config.max_message_size = Some(bytes);
        self.config.max_frame_size = Some(bytes);
        self
    }

    fn drop_connection(&mut self, why: &str) {
        if self.socket.take().is_some() {
            tracing::info!(stream = %self.name, why, "websocket dropped; reconnecting");
        }
        self.awaiting_pong = None;
    }

    async fn connect(&mut self) -> Result<(), WsError> {
        loop {
            if self.connected_once || self.failures > 0 {
                let delay = self
                    .backoff
                    .delay(self.failures.max(1), Duration::ZERO, &mut self.rng);
                metrics::counter!("acl_ws_reconnects_total", "stream" => self.name.clone())
                    .increment(1);
                tokio::time::sleep(delay).await;
            }
            let attempt = tokio::time::timeout(
                self.pong_timeout.max(Duration::from_secs(1)),
                tokio_tungstenite::connect_async_with_config(
                    self.url.as_str(),
                    Some(self.config),
                    false,
                ),
            )
            .await;
            let error = match attempt {
                Ok(Ok((mut socket, _))) => {
                    let mut sent = Ok(());
                    for m in &self.subscribe {
                        sent = socket.send(m.clone()).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    match sent {
                        Ok(()) => {
                            self.socket = Some(socket);
                            self.connected_once = true;
                            self.failures = 0;
                            return Ok(());
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "connection timed out".to_string(),
            };
            self.failures += 1;
            tracing::warn!(stream = %self.name, error = %error, failures = self.failures, "websocket connection failed");
            if self.failures >= self.max_failures {
                return Err(WsError::GaveUp {
                    attempts: self.failures,
                    last: error,
                });
            }
        }
    }

    /// Sends a text message on the current connection (connecting first if needed).
    pub async fn send(&mut self, text: impl Into<String>) -> Result<(), WsError> {
        if self.socket.is_none() {
            self.connect().await?;
        }
        let Some(socket) = self.socket.as_mut() else {
            return Err(WsError::Send("not connected".into()));
        };
        if let Err(e) = socket.send(Message::text(text.into())).await {
            self.drop_connection("send failed");
            return Err(WsError::Send(e.to_string()));
        }
        Ok(())
    }

    /// The next message: reconnects (and resubscribes) as often as needed; `Err` once
    /// connecting failed `max_failures` times in a row.
    pub async fn next(&mut self) -> Result<WsMessage, WsError> {
        loop {
            if self.socket.is_none() {
                self.connect().await?;
            }
            let wait = match self.awaiting_pong {
                Some(deadline) => deadline.saturating_duration_since(tokio::time::Instant::now()),
                None => self.ping_interval,
            };
            let Some(socket) = self.socket.as_mut() else {
                continue;
            };
            match tokio::time::timeout(wait, socket.next()).await {
                Err(_) if self.awaiting_pong.is_some() => self.drop_connection("no answer to ping"),
                Err(_) => {
                    if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                        self.drop_connection("ping failed");
                    } else {
                        self.awaiting_pong = Some(tokio::time::Instant::now() + self.pong_timeout);
                    }
                }
                Ok(None) => self.drop_connection("closed"),
                Ok(Some(Err(e))) => {
                    let why = e.to_string();
                    self.drop_connection(&why);
                }
                Ok(Some(Ok(message))) => {
                    // Any frame shows the connection is alive.
                    self.awaiting_pong = None;
                    let out = match message {
                        Message::Text(t) => WsMessage::Text(t.to_string()),
                        Message::Binary(b) => WsMessage::Binary(b.to_vec()),
                        Message::Close(_) => {
                            self.drop_connection("closed by the server");
                            continue;
                        }
                        // Pings are answered by tungstenite; pongs only reset the timer.
                        _ => continue,
                    };
                    metrics::counter!("acl_ws_messages_total", "stream" => self.name.clone())
                        .increment(1);
                    return Ok(out);
                }
            }
        }
    }
}
