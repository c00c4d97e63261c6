//! A server-sent-events client that does not silently stop.
//!
//! [`Parser`] follows the HTML standard's event-stream interpretation (CR, LF or CRLF
//! line ends, a leading BOM, comments, `data` lines joined with LF, `id` without NUL,
//! `retry` of digits only, an unfinished event at the end of a stream dropped). An
//! [`SseClient`] reconnects whenever the stream ends, breaks or stays silent longer
//! than the idle timeout (heartbeats are comments, and count as activity), sending
//! `Last-Event-ID` so the server resumes after the last event received; the delay is
//! the server's `retry:` or a backoff with jitter; each event is bounded in size.
//! Metrics: `acl_sse_events_total`, `acl_sse_reconnects_total` by stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::resilience::retry::Backoff;
use crate::transport::{ByteStream, Transport};

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type (`message` when the stream gives none).
    pub event: String,
    /// The data, lines joined with `\n`.
    pub data: String,
    /// The last event id in effect when this event was dispatched.
    pub id: Option<String>,
}

impl SseEvent {
    /// The data decoded as a boundary type (the contract's schema for the stream's
    /// events), with the JSON path of what breaks it.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<T, crate::boundary::decode::BoundaryError> {
        crate::boundary::decode::from_json(self.data.as_bytes())
    }
}

/// The event-stream parser: feed bytes, take events.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    data: String,
    event: String,
    /// The id lines of the event being read; committed to `last_id` on dispatch.
    id_buffer: Option<String>,
    last_id: Option<String>,
    retry: Option<Duration>,
    ready: std::collections::VecDeque<SseEvent>,
    started: bool,
    after_cr: bool,
    max_event: usize,
    too_large: bool,
    /// The line being read passed the limit: its bytes are not kept.
    line_too_long: bool,
}

impl Parser {
    /// A parser that refuses events larger than `max_event` bytes of data.
    pub fn new(max_event: usize) -> Self {
        Self {
            max_event,
            ..Self::default()
        }
    }

    /// Feeds bytes; complete events become available from [`Parser::next_event`].
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue; // CRLF: the CR ended the line
                }
            }
            match b {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line();
                }
                b'\n' => self.end_line(),
                // A line is at most an event's data and its field name: a stream that
                // never sends a line end must not grow the buffer without bound.
                _ if self.line.len() > self.max_event.max(1) + 16 => self.line_too_long = true,
                _ => self.line.push(b),
            }
        }
    }

    fn end_line(&mut self) {
        if std::mem::take(&mut self.line_too_long) {
            // The event it belongs to is dropped, as an oversized one is.
            self.line.clear();
            self.too_large = true;
            return;
        }
        let mut line = std::mem::take(&mut self.line);
        if !self.started {
            self.started = true;
            if line.starts_with(&[0xEF, 0xBB, 0xBF]) {
                line.drain(..3);
            }
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line.starts_with(':') {
            return; // a comment (heartbeat)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_event.max(1) {
                    self.too_large = true;
                } else {
                    self.data.push_str(value);
                    self.data.push('\n');
                }
            }
            "id" if !value.contains('\0') => self.id_buffer = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        // The id counts from here (even for an event without data), never earlier: a
        // stream cut in the middle of an event resumes before that event.
        self.last_id.clone_from(&self.id_buffer);
        let event = std::mem::take(&mut self.event);
        if self.too_large {
            self.too_large = false;
            self.data.clear();
            return;
        }
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last LF
        self.ready.push_back(SseEvent {
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
        });
    }

    /// The next complete event.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }

    /// The stream ended: an unfinished event is dropped (as the standard says), the last
    /// event id and retry stay.
    pub fn end_of_stream(&mut self) {
        self.line.clear();
        self.data.clear();
        self.event.clear();
        self.id_buffer.clone_from(&self.last_id);
        self.after_cr = false;
        self.too_large = false;
        self.line_too_long = false;
        self.started = false;
    }

    /// The last event id received.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The server's reconnection delay, if it sent one.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }
}

/// Why the client gave up.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// Reconnecting failed this many times in a row.
    #[error("gave up after {attempts} failed connection attempts: {last}")]
    GaveUp {
        /// Attempts in a row.
        attempts: u32,
        /// The last error.
        last: String,
    },
}

/// A reconnecting event-stream client for one URL.
pub struct SseClient {
    name: String,
    url: String,
    transport: Arc<dyn Transport>,
    headers: http::HeaderMap,
    idle: Duration,
    backoff: Backoff,
    max_failures: u32,
    parser: Parser,
    body: Option<ByteStream>,
    failures: u32,
    connected_once: bool,
    rng: fastrand::Rng,
}

impl std::fmt::Debug for SseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SseClient {
    /// A client for `url` through `transport`: 45 s idle timeout, backoff from 500 ms
    /// to 30 s with full jitter, 1 MiB per event, gives up after 10 failed connections
    /// in a row.
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        transport: Arc<dyn Transport>,
    ) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            transport,
            headers: http::HeaderMap::new(),
            idle: Duration::from_secs(45),
            backoff: Backoff::exponential(Duration::from_millis(500), Duration::from_secs(30))
                .unwrap_or_else(|_| Backoff::fixed(Duration::from_secs(1))),
            max_failures: 10,
            parser: Parser::new(1 << 20),
            body: None,
            failures: 0,
            connected_once: false,
            rng: fastrand::Rng::new(),
        }
    }

    /// Reconnect when nothing (not even a heartbeat comment) arrives for this long.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// The delay between reconnections when the server gives no `retry:`.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Give up after this many failed connections in a row.
    pub fn max_failures(mut self, n: u32) -> Self {
        self.max_failures = n.max(1);
        self
    }

    /// Events larger than this are dropped.
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.parser.max_event = bytes;
        self
    }

    /// A header sent on every connection (credentials).
    pub fn header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Resume after this event id (as if it had been received).
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        self.parser.last_id = Some(id.clone());
        self.parser.id_buffer = Some(id);
        self
    }

    /// The last event id received.
    pub fn current_last_event_id(&self) -> Option<&str> {
        self.parser.last_event_id()
    }

    async fn connect(&mut self) -> Result<ByteStream, String> {
        let mut request = http::Request::get(&self.url)
            .header(http::header::ACCEPT, "text/event-stream")
            .header(http::header::CACHE_CONTROL, "no-cache")
            .body(Bytes::new())
            .map_err(|e| e.to_string())?;
        request.headers_mut().extend(self.headers.clone());
        if let Some(id) = self
            .parser
            .last_event_id()
            .and_then(|i| http::HeaderValue::from_str(i).ok())
        {
            request.headers_mut().insert("last-event-id", id);
        }
        let response = tokio::time::timeout(self.idle, self.transport.send_streaming(request))
            .await
            .map_err(|_| format!("no response within {:?}", self.idle))?
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        Ok(response.into_body())
    }

    /// The next event: reconnects as often as needed; `Err` once reconnecting failed
    /// `max_failures` times in a row.
    pub async fn next(&mut self) -> Result<SseEvent, SseError> {
        loop {
            if let Some(event) = self.parser.next_event() {
                metrics::counter!("acl_sse_events_total", "stream" => self.name.clone())
                    .increment(1);
                return Ok(event);
            }
            let Some(body) = self.body.as_mut() else {
                if self.connected_once || self.failures > 0 {
                    let delay = self.parser.retry().unwrap_or_else(|| {
                        self.backoff
                            .delay(self.failures.max(1), Duration::ZERO, &mut self.rng)
                    });
                    metrics::counter!("acl_sse_reconnects_total", "stream" => self.name.clone())
                        .increment(1);
                    tokio::time::sleep(delay).await;
                }
                match self.connect().await {
                    Ok(body) => {
                        self.body = Some(body);
                        self.connected_once = true;
                        self.failures = 0;
                    }
                    Err(e) => {
                        self.failures += 1;
                        tracing::warn!(stream = %self.name, error = %e, failures = self.failures, "event stream connection failed");
                        if self.failures >= self.max_failures {
                            return Err(SseError::GaveUp {
                                attempts: self.failures,
                                last: e,
                            });
                        }
                    }
                }
                continue;
            };
            let chunk = tokio::time::timeout(
                self.idle,
                std::future::poll_fn(|cx| futures_core::Stream::poll_next(body.as_mut(), cx)),
            )
            .await;
            match chunk {
                Ok(Some(Ok(bytes))) => self.parser.feed(&bytes),
                Ok(Some(Err(e))) => {
                    tracing::info!(stream = %self.name, error = %e, "event stream broke; reconnecting");
                    self.body = None;
                    self.parser.end_of_stream();
                }
                Ok(None) => {
                    self.body = None;
                    self.parser.end_of_stream();
                }
                Err(_) => {
                    tracing::info!(stream = %self.name, idle = ?self.idle, "event stream silent; reconnecting");
                    self.body = None;
                    self.parser.end_of_stream();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = Parser::new(1024);
        for c in chunks {
            p.feed(c);
        }
        std::iter::from_fn(|| p.next_event()).collect()
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    #[test]
    fn the_standard_examples() {
        // From the HTML standard's examples.
        assert_eq!(
            parse(&[b"data: YHOO\ndata: +2\ndata: 10\n\n"]),
            vec![ev("message", "YHOO\n+2\n10", None)]
        );
        assert_eq!(
            parse(&[b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"]),
            vec![ev("message", "first event", Some("1")), ev("message", "second event", Some("")), ev("message", " third event", Some(""))]
        );
        assert_eq!(
            parse(&[b"data\n\ndata\ndata\n\ndata:"]),
            vec![ev("message", "", None), ev("message", "\n", None)]
        );
        assert_eq!(
            parse(&[b"data:test\n\ndata: test\n\n"]),
            vec![ev("message", "test", None), ev("message", "test", None)]
        );
    }

    #[test]
    fn line_ends_bom_split_chunks_fields() {
        assert_eq!(
            parse(&[
                b"\xEF\xBB\xBFevent: add\r\ndata: 1\r",
                b"\n\r\nevent: remove\rdata: 2\r\r"
            ]),
            vec![ev("add", "1", None), ev("remove", "2", None)]
        );
        // A chunk boundary between CR and LF is still one line end.
        assert_eq!(
            parse(&[b"data: a\r", b"\ndata: b\r\n", b"\r\n"]),
            vec![ev("message", "a\nb", None)]
        );
        let mut p = Parser::new(1024);
        p.feed(b"retry: 2500\nretry: x1\nid: a\0b\nid: 7\n\n");
        assert_eq!(p.retry(), Some(Duration::from_millis(2500)));
        assert_eq!(p.last_event_id(), Some("7"), "an id with NUL is ignored");
        // An unfinished event at the end of the stream is dropped.
        p.feed(b"id: 8\ndata: half");
        p.end_of_stream();
        assert_eq!(
            p.last_event_id(),
            Some("7"),
            "the unfinished event's id does not count"
        );
        p.feed(b"data: whole\n\n");
        assert_eq!(p.next_event(), Some(ev("message", "whole", Some("7"))));
        // An event type without data dispatches nothing and does not leak.
        assert_eq!(
            parse(&[b"event: x\n\ndata: y\n\n"]),
            vec![ev("message", "y", None)]
        );
    }

    #[test]
    fn events_decode_into_typed_values() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Tick {
            n: u32,
        }
        let e = ev("tick", r#"{"n":3}"#, None);
        assert_eq!(e.decode::<Tick>().unwrap(), Tick { n: 3 });
        let bad = ev("tick", r#"{"n":"x"}"#, None);
        assert!(bad.decode::<Tick>().unwrap_err().to_string().contains("n"));
    }

    #[test]
    fn oversized_events_are_dropped_not_buffered() {
        let mut p = Parser::new(8);
        p.feed(b"data: 0123456789\n\ndata: ok\n\n");
        assert_eq!(p.next_event(), Some(ev("message", "ok", None)));
        assert_eq!(p.next_event(), None);
    }

    #[test]
    fn a_line_without_end_does_not_grow_the_buffer() {
        let mut p = Parser::new(64);
        let chunk = [b'x'; 4096];
        p.feed(b"data: ");
        for _ in 0..1024 {
            p.feed(&chunk); // 4 MiB without a line end
        }
        assert!(
            p.line.capacity() <= 1024,
            "{} bytes held",
            p.line.capacity()
        );
        p.feed(b"\n\ndata: after\n\n");
        assert_eq!(p.next_event(), Some(ev("message", "after", None)));
        assert_eq!(p.next_event(), None, "the endless line's event is dropped");
    }

    proptest::proptest! {
        #[test]
        fn any_chunking_gives_the_same_events(split in proptest::collection::vec(0usize..80, 0..6)) {
            let text: &[u8] = b"event: a\r\ndata: 1\r\n\r\n: ping\nid: 9\ndata: 2\ndata: 3\n\nretry: 5\rdata: 4\r\r";
            let whole = parse(&[text]);
            let mut cuts: Vec<usize> = split.into_iter().map(|s| s % text.len()).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts { chunks.push(&text[at..c.max(at)]); at = c.max(at); }
            chunks.push(&text[at..]);
            proptest::prop_assert_eq!(parse(&chunks), whole);
        }
    }
}
