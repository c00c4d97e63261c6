//! The client generated from `acl-codegen/tests/contracts/pagination.yaml` pages through a
//! real HTTP server on 127.0.0.1 (axum, in-process) in each style acl recognises:
//! every item once, in order, checked; a retry inside a page repeats only that page;
//! a saved cursor resumes; a looping vendor, a foreign next-page URL and a page limit
//! end the stream as documented.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use acl_contract_tests::pagination::client::*;
use acl_contract_tests::pagination::types::Item;
use acl_runtime::client::{CallOptions, Error, PageCursor};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The vendor's data: seven items, `i1`..`i7`.
const N: usize = 7;

fn item(i: usize) -> Value {
    json!({"id": format!("i{i}"), "n": i})
}

fn items(from: usize, count: usize) -> Vec<Value> {
    (from..(from + count).min(N)).map(|i| item(i + 1)).collect()
}

#[derive(Default)]
struct Vendor {
    base: Mutex<String>,
    /// Every request, as path and query.
    seen: Mutex<Vec<String>>,
    /// Requests whose path and query contain this answer 503 once.
    fail_once: Mutex<Option<String>>,
    /// The cursor never moves on.
    stuck: AtomicBool,
    /// The next-page link leaves the origin.
    foreign: AtomicBool,
}

impl Vendor {
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn json_reply(body: Value) -> Response {
    ([("content-type", "application/json")], body.to_string()).into_response()
}

async fn handle(State(v): State<Arc<Vendor>>, req: Request) -> Response {
    let uri = req.uri().clone();
    let target = uri.path_and_query().unwrap().to_string();
    v.seen.lock().unwrap().push(target.clone());
    {
        let mut fail = v.fail_once.lock().unwrap();
        if fail.as_ref().is_some_and(|f| target.contains(f.as_str())) {
            *fail = None;
            return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
        }
    }
    let q: HashMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let num = |k: &str, d: usize| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let base = v.base.lock().unwrap().clone();
    let at = |page: usize, size: usize| (page - 1) * size;
    match uri.path() {
        "/charges" => {
            let size = num("limit", 10);
            let from = q
                .get("starting_after")
                .map(|id| id.trim_start_matches('i').parse::<usize>().unwrap())
                .unwrap_or(0);
            let data = items(from, size);
            json_reply(json!({"object": "list", "data": data, "has_more": from + size < N}))
        }
        "/events" => {
            let size = num("limit", 10);
            let from = q
                .get("cursor")
                .map(|c| c.trim_start_matches('c').parse::<usize>().unwrap())
                .unwrap_or(0);
            let next = if v.stuck.load(Ordering::SeqCst) {
                json!("c3")
            } else if from + size < N {
                json!(format!("c{}", from + size))
            } else {
                Value::Null
            };
            json_reply(json!({"items": items(from, size), "next_cursor": next}))
        }
        "/repos" => {
            let (page, size) = (num("page", 1), num("per_page", 30));
            let mut r = json_reply(Value::Array(items(at(page, size), size)));
            if at(page, size) + size < N {
                let link = format!(
                    "<{base}/repos?per_page={size}&page={}>; rel=\"next\", <{base}/repos?page=1>; rel=\"first\"",
                    page + 1
                );
                r.headers_mut().insert("link", link.parse().unwrap());
            }
            r
        }
        "/calls" => {
            let (page, size) = (num("Page", 0), num("PageSize", 50));
            let next = (page * size + size < N)
                .then(|| format!("/calls?PageSize={size}&Page={}", page + 1));
            json_reply(json!({"calls": items(page * size, size), "next_page_uri": next}))
        }
        "/dags" => {
            let (offset, limit) = (num("offset", 0), num("limit", 100));
            json_reply(json!({"dags": items(offset, limit), "total_entries": N}))
        }
        "/assets" => {
            let (page, size) = (num("page", 1), num("count", 100));
            json_reply(Value::Array(items(at(page, size), size)))
        }
        "/tokens" => {
            let from = q.get("token").map(|t| t.parse().unwrap()).unwrap_or(0);
            let meta = if from + 3 < N {
                json!({"token": (from + 3).to_string()})
            } else {
                json!({})
            };
            json_reply(json!({"results": items(from, 3), "meta": meta}))
        }
        "/vaults" => {
            let page = num("page", 0);
            let origin = if v.foreign.load(Ordering::SeqCst) {
                "http://elsewhere.example".to_string()
            } else {
                base.clone()
            };
            let mut body = json!({"value": items(page * 3, 3)});
            if page * 3 + 3 < N {
                body["nextLink"] = json!(format!("{origin}/vaults?page={}", page + 1));
            }
            json_reply(body)
        }
        "/widgets" => {
            let (skip, take) = (num("skip", 0), num("take", 100));
            json_reply(json!({"widgets": items(skip, take)}))
        }
        _ => (StatusCode::NOT_FOUND, "").into_response(),
    }
}

/// The vendor on a free loopback port; it stops with the test's runtime.
async fn vendor() -> (Arc<Vendor>, Client) {
    let v = Arc::new(Vendor::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *v.base.lock().unwrap() = base.clone();
    let app = axum::Router::new().fallback(handle).with_state(v.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (v, Client::new(base).unwrap())
}

fn ids(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.id.to_string()).collect()
}

fn all_ids() -> Vec<String> {
    (1..=N).map(|i| format!("i{i}")).collect()
}

async fn collect<E: std::fmt::Debug>(
    stream: impl futures_util::Stream<Item = Result<Item, Error<E>>>,
) -> Vec<Item> {
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        out.push(item.expect("every page arrives"));
    }
    out
}

fn num<T: serde::de::DeserializeOwned>(n: u64) -> Option<T> {
    Some(serde_json::from_value(json!(n)).unwrap())
}

#[tokio::test]
async fn every_style_streams_every_item_once_in_order() {
    let (v, c) = vendor().await;
    let charges = ListChargesOptions {
        limit: num(3),
        ..Default::default()
    };
    let events = ListEventsOptions {
        limit: num(3),
        ..Default::default()
    };
    let repos = ListReposOptions { per_page: num(3) };
    let calls = ListCallsOptions { page_size: num(3) };
    let dags = ListDagsOptions {
        limit: num(3),
        ..Default::default()
    };
    let assets = ListAssetsOptions {
        count: num(3),
        ..Default::default()
    };
    let widgets = ListWidgetsOptions {
        take: num(3),
        ..Default::default()
    };
    let styles: Vec<(&str, Vec<Item>)> = vec![
        (
            "has_more + last id",
            collect(c.list_charges_all(&charges)).await,
        ),
        ("cursor", collect(c.list_events_all(&events)).await),
        ("Link header", collect(c.list_repos_all(&repos)).await),
        ("relative next URI", collect(c.list_calls_all(&calls)).await),
        ("offset + total", collect(c.list_dags_all(&dags)).await),
        ("page number", collect(c.list_assets_all(&assets)).await),
        (
            "x-acl-pagination",
            collect(c.list_tokens_all(&Default::default())).await,
        ),
        ("x-ms-pageable", collect(c.list_vaults_all()).await),
        (
            "x-speakeasy-pagination",
            collect(c.list_widgets_all(&widgets)).await,
        ),
    ];
    for (style, items) in &styles {
        assert_eq!(ids(items), all_ids(), "{style}");
    }
    let seen = v.seen();
    // Three pages of three, or a last short page that says nothing more follows.
    assert!(
        seen.contains(&"/charges?limit=3&starting_after=i6".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"/events?limit=3&cursor=c6".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"/repos?per_page=3&page=3".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"/calls?PageSize=3&Page=2".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"/dags?limit=3&offset=6".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"/assets?count=3&page=3".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"/widgets?take=3&skip=6".to_string()),
        "{seen:?}"
    );
    // A short page ends page-number and offset styles without another request.
    assert!(!seen
        .iter()
        .any(|s| s.contains("page=4") || s.contains("offset=9")));
}

#[tokio::test]
async fn a_retry_inside_page_two_repeats_only_page_two() {
    let (v, c) = vendor().await;
    *v.fail_once.lock().unwrap() = Some("offset=3".into());
    let dags = ListDagsOptions {
        limit: num(3),
        ..Default::default()
    };
    let items = collect(c.list_dags_all(&dags)).await;
    assert_eq!(ids(&items), all_ids(), "no item twice, none lost");
    assert_eq!(
        v.seen(),
        [
            "/dags?limit=3",
            "/dags?limit=3&offset=3",
            "/dags?limit=3&offset=3",
            "/dags?limit=3&offset=6"
        ],
        "page 2 twice (a 503, then its retry), page 1 once"
    );
}

#[tokio::test]
async fn a_saved_cursor_resumes_where_the_stream_stopped() {
    let (_, c) = vendor().await;
    let options = ListEventsOptions {
        limit: num(3),
        ..Default::default()
    };
    let mut pages = c.list_events_all(&options).pages();
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(ids(&first.items), ["i1", "i2", "i3"]);
    assert_eq!(first.meta.status, Some(200));
    assert_eq!(first.meta.attempts, 1);
    // The cursor is data: saved as JSON, read back later.
    let saved = serde_json::to_string(&first.next.clone().unwrap()).unwrap();
    assert_eq!(pages.cursor(), first.next);
    drop(pages);
    let cursor: PageCursor = serde_json::from_str(&saved).unwrap();
    assert_eq!(cursor.operation(), "listEvents");
    let rest = collect(c.list_events_all(&options).resume(cursor.clone()).unwrap()).await;
    assert_eq!(ids(&rest), ["i4", "i5", "i6", "i7"]);
    // A cursor belongs to its operation.
    let err = c
        .list_charges_all(&Default::default())
        .resume(cursor)
        .unwrap_err();
    assert!(matches!(err, Error::Pagination { .. }), "{err}");
    // A tampered cursor that points elsewhere is refused before anything is sent.
    let mut tampered: Value = serde_json::from_str(&saved).unwrap();
    tampered["kind"] = json!("url");
    tampered["url"] = json!("http://elsewhere.example/events");
    let tampered: PageCursor = serde_json::from_value(tampered).unwrap();
    let err = c.list_events_all(&options).resume(tampered).unwrap_err();
    assert!(err.to_string().contains("another origin"), "{err}");
}

#[tokio::test]
async fn a_vendor_whose_cursor_does_not_move_ends_the_stream_with_an_error() {
    let (v, c) = vendor().await;
    v.stuck.store(true, Ordering::SeqCst);
    let options = ListEventsOptions {
        limit: num(3),
        ..Default::default()
    };
    let mut stream = c.list_events_all(&options);
    let mut got = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(i) => got.push(i),
            Err(e) => error = Some(e),
        }
    }
    let error = error.expect("the loop is reported");
    assert!(
        matches!(&error, Error::Pagination { message, .. } if message.contains("`cursor=c3`")),
        "{error}"
    );
    assert_eq!(
        ids(&got),
        ["i1", "i2", "i3", "i4", "i5", "i6"],
        "each page once"
    );
    assert_eq!(
        v.seen().len(),
        2,
        "no third request for a page already read"
    );
}

#[tokio::test]
async fn a_next_page_link_to_another_origin_is_not_followed() {
    let (v, c) = vendor().await;
    v.foreign.store(true, Ordering::SeqCst);
    let mut stream = c.list_vaults_all();
    let mut results = Vec::new();
    while let Some(item) = stream.next().await {
        results.push(item);
    }
    assert_eq!(results.len(), 4, "three items, then the error: {results:?}");
    let error = results.pop().unwrap().unwrap_err();
    assert!(error.to_string().contains("elsewhere.example"), "{error}");
    assert_eq!(v.seen(), ["/vaults"], "nothing sent to the other origin");
}

#[tokio::test]
async fn a_page_limit_ends_the_stream_and_leaves_a_cursor() {
    let (v, c) = vendor().await;
    let options = ListChargesOptions {
        limit: num(3),
        ..Default::default()
    };
    let limited = c.with_options(CallOptions::new().max_pages(2));
    let items = collect(limited.list_charges_all(&options)).await;
    assert_eq!(ids(&items), ["i1", "i2", "i3", "i4", "i5", "i6"]);
    assert_eq!(v.seen().len(), 2);
    let mut one = c.list_charges_all(&options).max_pages(1);
    let mut got = Vec::new();
    while let Some(item) = one.next().await {
        got.push(item.unwrap());
    }
    assert_eq!(ids(&got), ["i1", "i2", "i3"]);
    let cursor = one.cursor().expect("more pages follow");
    let rest = collect(c.list_charges_all(&options).resume(cursor).unwrap()).await;
    assert_eq!(ids(&rest), ["i4", "i5", "i6", "i7"]);
}
