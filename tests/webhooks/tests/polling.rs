//! Polling a local server on 127.0.0.1 that serves ETags and 304s, pages with cursors,
//! outages and long polls: across failures and a restart (a new poller on the same
//! SQLite file) no page is lost or processed twice, and gaps are reported.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acl_runtime::patterns::poll::{Page, PageInfo, PollError, Poller};
use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker};
use acl_runtime::resilience::classify::Idempotency;
use acl_runtime::resilience::pipeline::{Operation, System};
use acl_runtime::resilience::retry::{Backoff, RetryBudget, RetryPolicy};
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::CursorStore;
use acl_runtime::transport::ReqwestTransport;
use acl_runtime::webhook::HandlerError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Default)]
struct Source {
    events: Mutex<Vec<u32>>,
    outage: AtomicUsize,
    requests: Mutex<Vec<(String, Option<String>)>>,
}

const PAGE: usize = 5;

async fn events(
    State(src): State<Arc<Source>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let q: std::collections::BTreeMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let inm = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    src.requests
        .lock()
        .unwrap()
        .push((format!("{q:?}"), inm.clone()));
    if src.outage.load(Ordering::SeqCst) > 0 {
        src.outage.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let from: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let all = src.events.lock().unwrap().clone();
    let page: Vec<u32> = all.iter().skip(from).take(PAGE).copied().collect();
    let next = from + page.len();
    let etag = format!("\"c{from}-n{}\"", all.len());
    if inm.as_deref() == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body =
        serde_json::json!({"items": page, "next": next.to_string(), "has_more": next < all.len()});
    (
        [
            ("etag", etag.as_str()),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn serve(src: Arc<Source>) -> String {
    let app = axum::Router::new()
        .route("/events", axum::routing::get(events))
        .with_state(src);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}/events")
}

fn operation() -> Arc<Operation> {
    let system = Arc::new(System::new(
        "source",
        CircuitBreaker::new(BreakerConfig::default()).unwrap(),
        RetryBudget::new(Duration::from_secs(10), 0.5, 100).unwrap(),
    ));
    Arc::new(
        Operation::new(
            "list_events",
            system,
            Duration::from_millis(800),
            Duration::from_secs(5),
            RetryPolicy::new(
                2,
                Duration::from_secs(5),
                Backoff::fixed(Duration::from_millis(10)),
            )
            .unwrap(),
            Idempotency::Idempotent,
        )
        .unwrap(),
    )
}

fn poller(url: &str, store: Arc<SqliteStore>) -> Poller {
    Poller::new(
        "events",
        url,
        Arc::new(ReqwestTransport::default()),
        operation(),
        store,
    )
    .cursor_param("cursor")
    .long_poll("wait", "1")
    .interval(Duration::from_millis(10), 0.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_lost_or_processed_twice_across_outages_failures_and_a_restart() {
    let path = std::env::temp_dir().join(format!("acl-poll-{}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let src = Arc::new(Source::default());
    src.events.lock().unwrap().extend(0..12);
    let url = serve(src.clone()).await;
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let processed = Arc::new(Mutex::new(Vec::<u32>::new()));
    let fail_next = Arc::new(AtomicBool::new(false));
    let handler = {
        let (processed, fail_next) = (processed.clone(), fail_next.clone());
        move |page: Page| {
            let (processed, fail_next) = (processed.clone(), fail_next.clone());
            async move {
                let v: serde_json::Value = serde_json::from_slice(&page.body)
                    .map_err(|e| HandlerError::Invalid(e.to_string()))?;
                if fail_next.swap(false, Ordering::SeqCst) {
                    return Err(HandlerError::Retry("downstream busy".into()));
                }
                let items: Vec<u32> = serde_json::from_value(v["items"].clone()).unwrap();
                processed.lock().unwrap().extend(items);
                Ok(PageInfo {
                    next_cursor: v["next"].as_str().map(str::to_owned),
                    has_more: v["has_more"].as_bool().unwrap_or(false),
                })
            }
        }
    };

    let p = poller(&url, store.clone());
    let round = p.poll_once(&handler).await.unwrap();
    assert_eq!(
        (round.pages, round.not_modified, round.gap),
        (3, false, None)
    );
    // Nothing new: the first round asks the new cursor (an empty page, whose ETag is
    // kept because the cursor did not move); after that the saved ETag makes it a 304.
    let round = p.poll_once(&handler).await.unwrap();
    assert_eq!((round.pages, round.not_modified), (1, false));
    let round = p.poll_once(&handler).await.unwrap();
    assert!(round.not_modified, "{round:?}");
    assert_eq!(
        src.requests.lock().unwrap().last().unwrap().1.as_deref(),
        Some("\"c12-n12\"")
    );
    // New events during an outage longer than the operation's retries: the round fails,
    // the position stays.
    src.events.lock().unwrap().extend(12..20);
    src.outage.store(3, Ordering::SeqCst);
    assert!(matches!(
        p.poll_once(&handler).await,
        Err(PollError::Fetch { .. })
    ));
    // A short outage the retries absorb.
    src.outage.store(1, Ordering::SeqCst);
    // "Restart": a new poller on the same file picks up at the saved cursor.
    drop(p);
    let p = poller(&url, Arc::new(SqliteStore::open(&path).unwrap()));
    let round = p.poll_once(&handler).await.unwrap();
    assert_eq!(round.pages, 2);
    // The handler fails on a page: it is fetched and processed again next round.
    src.events.lock().unwrap().extend(20..23);
    fail_next.store(true, Ordering::SeqCst);
    assert!(matches!(
        p.poll_once(&handler).await,
        Err(PollError::Handler { .. })
    ));
    assert_eq!(p.poll_once(&handler).await.unwrap().pages, 1);
    assert_eq!(
        *processed.lock().unwrap(),
        (0..23).collect::<Vec<_>>(),
        "every event once, in order"
    );
    // The long-poll parameter travels with every request.
    assert!(src
        .requests
        .lock()
        .unwrap()
        .iter()
        .all(|(q, _)| q.contains("\"wait\": \"1\"")));

    // Downtime: the saved position is an hour old; the next round reports the gap.
    let mut state = store.load("events").unwrap().unwrap();
    let hour_ago = acl_runtime::store::unix_ms() - 3_600_000;
    state.covered_until = Some(hour_ago);
    store.save("events", &state).unwrap();
    let round = p.poll_once(&handler).await.unwrap();
    let gap = round.gap.expect("a gap after downtime");
    assert_eq!(gap.from, hour_ago);
    assert!(gap.to - gap.from >= 3_600_000);
    // Covered again: no gap on the next round.
    assert_eq!(p.poll_once(&handler).await.unwrap().gap, None);
    assert_eq!(
        store.load("events").unwrap().unwrap().cursor.as_deref(),
        Some("23")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_says_more_without_moving_the_cursor_stops_the_round() {
    let src = Arc::new(Source::default());
    src.events.lock().unwrap().extend(0..3);
    let url = serve(src.clone()).await;
    let p = poller(&url, Arc::new(SqliteStore::in_memory().unwrap()));
    let handler = |_: Page| async {
        Ok(PageInfo {
            next_cursor: None,
            has_more: true,
        })
    };
    match p.poll_once(&handler).await {
        Err(PollError::CursorDidNotMove { cursor: None }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        src.requests.lock().unwrap().len(),
        1,
        "the same page was not fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_polls_on_its_interval_until_shutdown() {
    let src = Arc::new(Source::default());
    src.events.lock().unwrap().extend(0..3);
    let url = serve(src.clone()).await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let p = poller(&url, store);
    let rounds = Arc::new(AtomicUsize::new(0));
    let r = rounds.clone();
    let handler = |page: Page| async move {
        let v: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
        Ok(PageInfo {
            next_cursor: v["next"].as_str().map(str::to_owned),
            has_more: false,
        })
    };
    p.run(
        handler,
        move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        },
        tokio::time::sleep(Duration::from_millis(300)),
    )
    .await;
    let n = rounds.load(Ordering::SeqCst);
    assert!(n >= 3, "only {n} rounds in 300 ms at a 10 ms interval");
}
