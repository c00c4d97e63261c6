//! The operator console in a real browser: headless Chromium (Debian's `chromium`,
//! driven over the DevTools protocol on loopback) opens the console with a breaker
//! forced open and a dead letter present, sees both, presses "replay", and sees the
//! delivery processed by the inbox worker. Bounded: every wait has a deadline and the
//! browser is killed when the test ends. `ACL_CHROMIUM` names another browser binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acl_runtime::console::Console;
use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker, Window};
use acl_runtime::resilience::classify::{Idempotency, Outcome};
use acl_runtime::resilience::pipeline::{AttemptError, Operation, System};
use acl_runtime::resilience::retry::{RetryBudget, RetryPolicy};
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{InboxStore, NewDelivery};
use acl_runtime::webhook::InboxWorker;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

struct Browser(Child);
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts headless Chromium; returns it and its DevTools HTTP address.
fn chromium(profile: &std::path::Path) -> (Browser, String) {
    let bin = std::env::var("ACL_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let mut child = Command::new(&bin)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("needs chromium (`{bin}`): {e}"));
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(ws) = line.strip_prefix("DevTools listening on ") {
                let _ = tx.send(ws.to_string());
            }
        }
    });
    let ws = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("chromium printed its DevTools address");
    // ws://127.0.0.1:PORT/devtools/browser/ID → 127.0.0.1:PORT
    let host = ws
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    (Browser(child), host)
}

/// One page, driven over its DevTools WebSocket.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u64,
}

impl Page {
    async fn open(devtools: &str) -> Page {
        let body = reqwest::Client::new()
            .put(format!("http://{devtools}/json/new?about:blank"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let target: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let url = target["webSocketDebuggerUrl"].as_str().unwrap().to_string();
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Page { ws, next: 0 }
    }

    /// Sends a command and waits (bounded) for its answer.
    async fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next += 1;
        let id = self.next;
        let msg = serde_json::json!({"id": id, "method": method, "params": params});
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .unwrap()
                .unwrap();
            if let Message::Text(t) = frame {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["id"].as_u64() == Some(id) {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Waits (bounded) until the page's text contains `needle`, reloading `url` between
    /// looks; returns the text.
    async fn wait_for_text(&mut self, url: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.call("Page.navigate", serde_json::json!({"url": url}))
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let text = self
                .eval("document.body ? document.body.innerText : ''")
                .await
                .as_str()
                .unwrap_or_default()
                .to_string();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "never saw `{needle}` at {url}:\n{text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium (Debian's chromium package; .ci/run installs it)"]
async fn chromium_sees_the_open_breaker_and_the_dead_letter_and_replays_it() {
    // A system whose breaker is open.
    let system = Arc::new(System::new(
        "ledger",
        CircuitBreaker::new(BreakerConfig {
            window: Window::Calls(10),
            min_calls: 10,
            consecutive_failures: Some(2),
            open_for: Duration::from_secs(600),
            half_open_calls: 1,
            ..BreakerConfig::default()
        })
        .unwrap(),
        RetryBudget::new(Duration::from_secs(10), 0.2, 1).unwrap(),
    ));
    let op = Operation::new(
        "post",
        system.clone(),
        Duration::from_secs(1),
        Duration::from_secs(5),
        RetryPolicy::never(),
        Idempotency::of("GET", false),
    )
    .unwrap();
    for _ in 0..2 {
        let _ = op
            .call(|_| async {
                Err::<(), _>(AttemptError {
                    outcome: Outcome::Status(503),
                    retry_after: None,
                    error: (),
                })
            })
            .await;
    }
    // A dead letter.
    let inbox = Arc::new(SqliteStore::in_memory().unwrap());
    inbox
        .push(&NewDelivery {
            id: "evt-42".into(),
            source: "vendor".into(),
            headers: Vec::new(),
            body: br#"{"amount": "twelve"}"#.to_vec(),
            key: None,
            received_at: 1,
        })
        .unwrap();
    let d = inbox
        .claim(2, Duration::from_secs(30), false)
        .unwrap()
        .unwrap();
    inbox
        .dead_letter(&d.delivery.id, "invalid payload at /amount", 3)
        .unwrap();
    // The worker processes whatever comes back from the DLQ.
    let worker = InboxWorker::new(inbox.clone()).idle_wait(Duration::from_millis(50));
    tokio::spawn(async move {
        worker
            .run(|_d| async { Ok(()) }, std::future::pending())
            .await
    });
    // The console, for this machine only (the browser runs here).
    let app = axum::Router::new().nest_service(
        "/acl",
        Console::new()
            .system(system)
            .inbox(inbox.clone())
            .loopback_router(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });

    let profile = std::env::temp_dir().join(format!("acl-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let (_browser, devtools) = chromium(&profile);
    let mut page = Page::open(&devtools).await;
    page.call("Page.enable", serde_json::json!({})).await;
    let overview = format!("http://{addr}/acl/");
    let text = page.wait_for_text(&overview, "ledger").await;
    assert!(text.contains("open"), "the breaker is shown open:\n{text}");
    assert!(text.contains("1 dead letters"), "{text}");
    // The DLQ page: the delivery and its error, the payload redacted.
    let dlq = format!("http://{addr}/acl/dlq");
    let text = page.wait_for_text(&dlq, "evt-42").await;
    assert!(text.contains("invalid payload at /amount"), "{text}");
    assert!(!text.contains("twelve"), "redacted:\n{text}");
    // Press replay, as an operator would.
    let clicked = page
        .eval("(() => { const b = document.querySelector('button.replay'); if (!b) return false; b.click(); return true; })()")
        .await;
    assert_eq!(clicked, serde_json::json!(true));
    // The form posts and the browser follows the redirect back to the DLQ page; only
    // then may the test navigate (a navigation would cancel the submission).
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.counts().unwrap().dead > 0 {
        assert!(Instant::now() < deadline, "the replay never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The worker processes it; the overview says so.
    let text = page.wait_for_text(&overview, "1 done").await;
    assert!(text.contains("0 dead letters"), "{text}");
    assert_eq!(inbox.counts().unwrap().done, 1);
    let _ = std::fs::remove_dir_all(&profile);
}
