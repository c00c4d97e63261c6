//! The operator console over real HTTP on 127.0.0.1: it needs its token (or a loopback
//! peer), shows a breaker forced open and the dead letters (payloads redacted until
//! asked for), and replays or discards one only with the page's CSRF token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acl_runtime::console::{bearer, Console};
use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker, Window};
use acl_runtime::resilience::classify::Outcome;
use acl_runtime::resilience::pipeline::{AttemptError, Operation, System};
use acl_runtime::resilience::retry::{RetryBudget, RetryPolicy};
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{InboxStore, NewDelivery};

/// A system whose breaker opened after three 503s.
async fn broken_system() -> Arc<System> {
    let breaker = CircuitBreaker::new(BreakerConfig {
        window: Window::Calls(10),
        min_calls: 10,
        consecutive_failures: Some(3),
        open_for: Duration::from_secs(600),
        half_open_calls: 1,
        ..BreakerConfig::default()
    })
    .unwrap();
    let system = Arc::new(System::new(
        "ledger",
        breaker,
        RetryBudget::new(Duration::from_secs(10), 0.2, 1).unwrap(),
    ));
    let op = Operation::new(
        "post",
        system.clone(),
        Duration::from_secs(1),
        Duration::from_secs(5),
        RetryPolicy::never(),
        acl_runtime::resilience::classify::Idempotency::of("GET", false),
    )
    .unwrap();
    for _ in 0..3 {
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
    system
}

fn dead_inbox(n: usize) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    for i in 0..n {
        store
            .push(&NewDelivery {
                id: format!("evt-{i}"),
                source: "vendor".into(),
                headers: Vec::new(),
                body: format!("{{\"card\":\"4242-secret-{i}\"}}").into_bytes(),
                key: None,
                received_at: i as i64,
            })
            .unwrap();
        let d = store
            .claim(1_000_000, Duration::from_secs(30), false)
            .unwrap()
            .unwrap();
        store
            .dead_letter(&d.delivery.id, "invalid payload at /amount", 1_000_001)
            .unwrap();
    }
    store
}

async fn serve(app: axum::Router) -> String {
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
    format!("http://{addr}")
}

fn csrf(page: &str) -> String {
    let at = page.find("name=csrf value=\"").expect("a form") + "name=csrf value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_boundary_and_acts_only_with_its_tokens() {
    let system = broken_system().await;
    let inbox = dead_inbox(3);
    use acl_runtime::store::{CursorState, CursorStore};
    let now = acl_runtime::store::unix_ms();
    inbox
        .save(
            "orders",
            &CursorState {
                cursor: Some("c-41".into()),
                covered_until: Some(now - 600_000),
                ..CursorState::default()
            },
        )
        .unwrap();
    inbox
        .save(
            "refunds",
            &CursorState {
                covered_until: Some(now),
                ..CursorState::default()
            },
        )
        .unwrap();
    let console = Console::new()
        .system(system.clone())
        .inbox(inbox.clone())
        .outbox(inbox.clone())
        .cursors(inbox.clone(), &["orders", "refunds", "invoices"])
        .router(bearer("console-token"));
    let base = serve(axum::Router::new().nest_service("/acl", console)).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, token: Option<&str>| {
        let mut r = http.get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(get("/acl/", None).await.unwrap().status(), 401);
    assert_eq!(get("/acl/", Some("wrong")).await.unwrap().status(), 401);
    // The mount point without its slash goes to the slash.
    let r = get("/acl", Some("console-token")).await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/acl/");
    let overview = get("/acl/", Some("console-token"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        overview.contains("<td>ledger</td><td class=\"breaker open\">open</td>"),
        "{overview}"
    );
    assert!(overview.contains("closed → open"), "{overview}");
    assert!(overview.contains("3 dead letters"), "{overview}");
    // Cursors, and the poller whose coverage stopped ten minutes ago.
    assert!(
        overview.contains("<td>orders</td><td>c-41</td>"),
        "{overview}"
    );
    assert!(
        overview.contains("uncovered for 600 s") || overview.contains("uncovered for 601 s"),
        "{overview}"
    );
    assert!(
        overview.contains("<td>invoices</td><td></td><td>never</td><td>never polled</td>"),
        "{overview}"
    );
    // Dead letters: listed, payloads redacted until asked for.
    let dlq = get("/acl/dlq", Some("console-token"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dlq.contains("evt-0") && dlq.contains("invalid payload at /amount"));
    assert!(!dlq.contains("4242-secret"), "payloads are redacted");
    let shown = get("/acl/dlq?reveal=evt-1", Some("console-token"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("4242-secret-1") && !shown.contains("4242-secret-0"));
    // Replay needs the page's CSRF token, from this site.
    let token = csrf(&dlq);
    let post = |path: &str, form: Vec<(&str, String)>, site: Option<&str>| {
        let mut r = http
            .post(format!("{base}{path}"))
            .bearer_auth("console-token")
            .form(&form);
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        r.send()
    };
    let no_token = post("/acl/replay", vec![("id", "evt-0".into())], None)
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    let forged = post(
        "/acl/replay",
        vec![("id", "evt-0".into()), ("csrf", "0".repeat(48))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), 403);
    let cross = post(
        "/acl/replay",
        vec![("id", "evt-0".into()), ("csrf", token.clone())],
        Some("cross-site"),
    )
    .await
    .unwrap();
    assert_eq!(cross.status(), 403);
    assert_eq!(inbox.counts().unwrap().dead, 3, "nothing was replayed yet");
    let ok = post(
        "/acl/replay",
        vec![("id", "evt-0".into()), ("csrf", token.clone())],
        Some("same-origin"),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "dlq");
    let counts = inbox.counts().unwrap();
    assert_eq!((counts.pending, counts.dead), (1, 2));
    let discarded = post(
        "/acl/discard",
        vec![("id", "evt-1".into()), ("csrf", token)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(discarded.status(), 303);
    assert_eq!(inbox.counts().unwrap().dead, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_without_credentials_answers_loopback_peers_only() {
    let app = axum::Router::new().nest_service("/acl", Console::new().loopback_router());
    let base = serve(app.clone()).await;
    let r = reqwest::get(format!("{base}/acl/")).await.unwrap();
    assert_eq!(r.status(), 200, "127.0.0.1 is this machine");
    // Served without the peer's address, it cannot tell: it refuses.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let r = reqwest::get(format!("http://{addr}/acl/")).await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_dead_letters_are_paged() {
    let inbox = dead_inbox(10_000);
    let base = serve(
        axum::Router::new().nest_service("/acl", Console::new().inbox(inbox).router(bearer("t"))),
    )
    .await;
    let http = reqwest::Client::new();
    let first = http
        .get(format!("{base}/acl/dlq"))
        .bearer_auth("t")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first.matches("<tr class=dead>").count(), 50);
    assert!(first.contains("id=next"));
    let last = http
        .get(format!("{base}/acl/dlq?page=199"))
        .bearer_auth("t")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        last.contains("evt-9999") && !last.contains("id=next"),
        "{last}"
    );
}
