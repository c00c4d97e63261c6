//! The WebSocket client against a server on 127.0.0.1 that drops the connection, then
//! stops answering pings: the client reconnects, resubscribes each time, and loses
//! nothing the server sent after the subscription.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acl_runtime::patterns::ws::{WsClient, WsMessage};
use acl_runtime::resilience::retry::Backoff;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_and_a_silent_connection_are_reconnected_and_resubscribed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/feed", listener.local_addr().unwrap());
    let subscriptions = Arc::new(Mutex::new(Vec::<String>::new()));
    let subs = subscriptions.clone();
    tokio::spawn(async move {
        let mut conn = 0;
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            conn += 1;
            let subs = subs.clone();
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let Some(Ok(Message::Text(sub))) = ws.next().await else {
                    return;
                };
                subs.lock().unwrap().push(sub.to_string());
                match conn {
                    1 => {
                        for n in 1..=3 {
                            ws.send(Message::text(format!("t{n}"))).await.unwrap();
                        }
                        // Dropped without a close frame.
                        drop(ws);
                    }
                    2 => {
                        for n in 4..=5 {
                            ws.send(Message::text(format!("t{n}"))).await.unwrap();
                        }
                        // Alive at the TCP level, but never reads again: pings go unanswered.
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    _ => {
                        ws.send(Message::binary(b"t6".to_vec())).await.unwrap();
                        while ws.next().await.is_some() {} // answers pings
                    }
                }
            });
        }
    });
    let mut client = WsClient::new("feed", url)
        .subscribe("sub:ticks")
        .heartbeat(Duration::from_millis(150), Duration::from_millis(150))
        .backoff(Backoff::fixed(Duration::from_millis(20)));
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < 6 {
        let m = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("bounded")
            .unwrap();
        got.push(match m {
            WsMessage::Text(t) => t,
            WsMessage::Binary(b) => String::from_utf8(b).unwrap(),
        });
    }
    assert_eq!(got, ["t1", "t2", "t3", "t4", "t5", "t6"]);
    assert_eq!(
        *subscriptions.lock().unwrap(),
        ["sub:ticks"; 3],
        "resubscribed after each reconnection"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the silent connection was detected by ping/pong"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_means_a_clear_error_after_the_attempts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/feed", listener.local_addr().unwrap());
    drop(listener);
    let mut client = WsClient::new("gone", url)
        .backoff(Backoff::fixed(Duration::from_millis(5)))
        .max_failures(3);
    let err = tokio::time::timeout(Duration::from_secs(10), client.next())
        .await
        .expect("bounded")
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("gave up after 3 failed connection attempts"),
        "{err}"
    );
}
