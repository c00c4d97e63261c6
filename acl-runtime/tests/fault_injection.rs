//! The pipeline against a real HTTP server on 127.0.0.1 that injects faults: a delay past
//! the timeout, 5xx bursts, 429 with Retry-After (seconds and HTTP-date), a reset
//! connection, a garbage body. Each test asserts the outcome class and the number of
//! requests the server saw. The server runs on its own thread and stops with the test.

#![cfg(feature = "client")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker};
use acl_runtime::resilience::classify::{FailureClass, Idempotency, Outcome};
use acl_runtime::resilience::pipeline::{AttemptError, CallError, Operation, System};
use acl_runtime::resilience::retry::{Backoff, RetryBudget, RetryPolicy, StopReason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the server does with request number `n` (from 1).
type Script = fn(u32) -> Reply;

enum Reply {
    Status(u16, &'static str, Vec<(String, String)>),
    Delay(Duration),
    Reset,
}

/// An HTTP/1.1 server on a free loopback port; it serves at most `max`
/// connections, then stops.
fn serve(script: Script, max: u32) -> (SocketAddr, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU32::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max as usize) {
            let Ok(mut stream) = stream else { continue };
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            // One thread per connection, so a slow answer does not hold the next accept.
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = stream.read(&mut buf);
                match script(n) {
                    Reply::Status(code, body, headers) => {
                        let mut head = format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
                    }
                    Reply::Delay(d) => {
                        std::thread::sleep(d);
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                    }
                    // Close at once without answering: the client sees the connection drop.
                    Reply::Reset => drop(stream),
                }
            });
        }
    });
    (addr, seen)
}

/// A minimal HTTP client: status, `Retry-After`, body.
async fn get(addr: SocketAddr) -> Result<(u16, Option<String>, String), AttemptError<String>> {
    let fail = |outcome, e: String| AttemptError {
        outcome,
        retry_after: None,
        error: e,
    };
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| fail(Outcome::ConnectFailed, e.to_string()))?;
    s.write_all(b"GET /thing HTTP/1.1\r\nHost: vendor\r\n\r\n")
        .await
        .map_err(|e| fail(Outcome::ConnectionReset, e.to_string()))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .await
        .map_err(|e| fail(Outcome::ConnectionReset, e.to_string()))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| fail(Outcome::ConnectionReset, "no response".into()))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail(Outcome::ConnectionReset, "bad status".into()))?;
    let retry_after = head
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: ").map(str::to_string));
    Ok((status, retry_after, body.to_string()))
}

/// One call to the vendor: a 2xx with a JSON object body is success.
async fn attempt(addr: SocketAddr) -> Result<String, AttemptError<String>> {
    let (status, retry_after, body) = get(addr).await?;
    if !(200..300).contains(&status) {
        return Err(AttemptError {
            outcome: Outcome::Status(status),
            retry_after,
            error: body,
        });
    }
    if serde_json::from_str::<serde_json::Value>(&body)
        .map(|v| v.is_object())
        .unwrap_or(false)
    {
        Ok(body)
    } else {
        Err(AttemptError {
            outcome: Outcome::InvalidData,
            retry_after: None,
            error: body,
        })
    }
}

fn operation(method: &str, consecutive_failures: u32) -> Operation {
    let breaker = CircuitBreaker::new(BreakerConfig {
        consecutive_failures: Some(consecutive_failures),
        open_for: Duration::from_millis(300),
        half_open_calls: 1,
        ..BreakerConfig::default()
    })
    .unwrap();
    let system = Arc::new(System::new(
        "vendor",
        breaker,
        RetryBudget::new(Duration::from_secs(10), 1.0, 100).unwrap(),
    ));
    Operation::new(
        "getThing",
        system,
        Duration::from_millis(300),
        Duration::from_secs(3),
        RetryPolicy::new(
            3,
            Duration::from_secs(3),
            Backoff::fixed(Duration::from_millis(20)),
        )
        .unwrap(),
        Idempotency::of(method, false),
    )
    .unwrap()
}

#[tokio::test]
async fn a_5xx_burst_is_retried_until_it_passes() {
    let (addr, seen) = serve(
        |n| {
            if n < 3 {
                Reply::Status(503, "", vec![])
            } else {
                Reply::Status(200, "{}", vec![])
            }
        },
        3,
    );
    let body = operation("GET", 100).call(|_| attempt(addr)).await.unwrap();
    assert_eq!((body.as_str(), seen.load(Ordering::SeqCst)), ("{}", 3));
}

#[tokio::test]
async fn a_post_without_a_key_is_sent_once() {
    let (addr, seen) = serve(|_| Reply::Status(502, "", vec![]), 3);
    let r = operation("POST", 100).call(|_| attempt(addr)).await;
    assert!(
        matches!(
            r,
            Err(CallError::Failed {
                attempts: 1,
                stopped: StopReason::NotRetryable,
                class: FailureClass::Transient,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_slow_server_times_out_and_the_call_stops_at_its_deadline() {
    let (addr, seen) = serve(|_| Reply::Delay(Duration::from_millis(800)), 3);
    let started = std::time::Instant::now();
    let r = operation("GET", 100).call(|_| attempt(addr)).await;
    assert!(
        matches!(
            r,
            Err(CallError::Failed {
                attempts: 3,
                last_outcome: Outcome::Timeout,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    // Three 300 ms timeouts and two 20 ms waits: well inside the 3 s deadline.
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_a_date_is_honoured() {
    let (addr, seen) = serve(
        |n| match n {
            1 => Reply::Status(429, "", vec![("Retry-After".into(), "0".into())]),
            2 => Reply::Status(
                429,
                "",
                vec![(
                    "Retry-After".into(),
                    httpdate::fmt_http_date(std::time::SystemTime::now()),
                )],
            ),
            _ => Reply::Status(200, "{}", vec![]),
        },
        3,
    );
    assert!(operation("GET", 100).call(|_| attempt(addr)).await.is_ok());
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_reset_connection_is_transient() {
    let (addr, seen) = serve(
        |n| {
            if n == 1 {
                Reply::Reset
            } else {
                Reply::Status(200, "{}", vec![])
            }
        },
        2,
    );
    assert!(operation("GET", 100).call(|_| attempt(addr)).await.is_ok());
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_garbage_body_is_invalid_data_and_never_retried() {
    let (addr, seen) = serve(|_| Reply::Status(200, "<html>oops", vec![]), 3);
    let r = operation("GET", 100).call(|_| attempt(addr)).await;
    match r {
        Err(CallError::Failed {
            class: FailureClass::InvalidData,
            attempts: 1,
            last: Some(body),
            ..
        }) => assert_eq!(body, "<html>oops", "kept for the DLQ"),
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_breaker_opens_on_a_failing_server_and_recovers() {
    let (addr, seen) = serve(
        |n| {
            if n <= 3 {
                Reply::Status(500, "", vec![])
            } else {
                Reply::Status(200, "{}", vec![])
            }
        },
        4,
    );
    let op = operation("GET", 3);
    assert!(op.call(|_| attempt(addr)).await.is_err());
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    match op.call(|_| attempt(addr)).await {
        Err(CallError::CircuitOpen { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "open: the server was not called"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(op.call(|_| attempt(addr)).await.is_ok());
    assert_eq!(seen.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_refused_connection_never_left_so_even_a_post_is_retried() {
    // Bind and drop: nothing listens on this port.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = operation("POST", 100).call(|_| attempt(addr)).await;
    assert!(
        matches!(
            r,
            Err(CallError::Failed {
                attempts: 3,
                last_outcome: Outcome::ConnectFailed,
                ..
            })
        ),
        "{r:?}"
    );
}
