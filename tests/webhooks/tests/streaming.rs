//! The SSE client against a raw HTTP server on 127.0.0.1 that cuts the stream in the
//! middle of an event, goes silent, and honours `Last-Event-ID`: every event arrives
//! once, in order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acl_runtime::patterns::sse::{SseClient, SseError};
use acl_runtime::resilience::retry::Backoff;
use acl_runtime::transport::ReqwestTransport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EVENTS: u32 = 9;

fn event(n: u32) -> String {
    format!("id: {n}\nevent: tick\ndata: {{\"n\":{n}}}\ndata: line two\n\n")
}

/// Serves `/stream`: connection 1 sends events 1-3 and half of 4, then closes;
/// connection 2 resumes after Last-Event-ID, sends up to 6 with heartbeats, then goes
/// silent (the client's idle timeout must fire); connection 3 sends the rest and a
/// `retry:`; later connections send nothing new.
async fn server(seen_ids: Arc<Mutex<Vec<Option<String>>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut conn = 0;
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            conn += 1;
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            let head = String::from_utf8_lossy(&got).to_lowercase();
            let last: Option<String> = head.lines().find_map(|l| {
                l.strip_prefix("last-event-id:")
                    .map(|v| v.trim().to_owned())
            });
            seen_ids.lock().unwrap().push(last.clone());
            let from = last.and_then(|l| l.parse::<u32>().ok()).unwrap_or(0) + 1;
            let conn_now = conn;
            tokio::spawn(async move {
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n").await;
                match conn_now {
                    1 => {
                        for n in from..=3 {
                            let _ = sock.write_all(event(n).as_bytes()).await;
                        }
                        let half = event(4);
                        let _ = sock.write_all(&half.as_bytes()[..half.len() / 2]).await;
                        // Cut: the connection drops mid-event.
                    }
                    2 => {
                        for n in from..=6 {
                            let _ = sock.write_all(event(n).as_bytes()).await;
                            let _ = sock.write_all(b": heartbeat\n").await;
                        }
                        // Silent, connection open: only the idle timeout gets us out.
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    _ => {
                        let _ = sock.write_all(b"retry: 50\n\n").await;
                        for n in from..=EVENTS {
                            let _ = sock.write_all(event(n).as_bytes()).await;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_and_a_silent_stream_resume_from_last_event_id_without_loss_or_duplicates() {
    let seen_ids = Arc::new(Mutex::new(Vec::new()));
    let port = server(seen_ids.clone()).await;
    let mut client = SseClient::new(
        "ticks",
        format!("http://127.0.0.1:{port}/stream"),
        Arc::new(ReqwestTransport::default()),
    )
    .idle_timeout(Duration::from_millis(300))
    .backoff(Backoff::fixed(Duration::from_millis(20)));
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < EVENTS as usize {
        let e = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("bounded")
            .unwrap();
        assert_eq!(e.event, "tick");
        assert!(e.data.ends_with("\nline two"), "{e:?}");
        got.push(e.id.unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(
        got,
        (1..=EVENTS).collect::<Vec<_>>(),
        "each event once, in order"
    );
    let ids = seen_ids.lock().unwrap().clone();
    assert_eq!(
        ids[..3],
        [None, Some("3".to_string()), Some("6".to_string())],
        "resumed after the last whole event"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the idle timeout ended the silent connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_makes_the_client_give_up_with_a_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut client = SseClient::new(
        "gone",
        format!("http://127.0.0.1:{port}/stream"),
        Arc::new(ReqwestTransport::default()),
    )
    .backoff(Backoff::fixed(Duration::from_millis(5)))
    .max_failures(3);
    match tokio::time::timeout(Duration::from_secs(10), client.next())
        .await
        .expect("bounded")
    {
        Err(SseError::GaveUp { attempts: 3, last }) => assert!(last.contains("Connect"), "{last}"),
        other => panic!("{other:?}"),
    }
}
