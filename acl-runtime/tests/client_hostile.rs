//! The client against a hostile (or broken) vendor over real HTTP on 127.0.0.1: a body
//! without end, a huge announced body, a path parameter that would climb the path, an
//! error message that would quote an API key sent in the query.

#![cfg(feature = "reqwest")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use acl_runtime::client::{
    ApiSpec, ClientBuilder, Core, Decoded, Error, FromCore, KeyIn, NoDocumentedErrors,
    OperationSpec, RawResponse, SchemeSpec,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static API: ApiSpec = ApiSpec {
    system: "hostile",
    servers: &[],
    policies: "",
    schemes: &[(
        "key",
        SchemeSpec::ApiKey {
            name: "api_key",
            location: KeyIn::Query,
        },
    )],
    security: &[&["key"]],
    operations: &[OperationSpec {
        id: "getProfile",
        method: "GET",
        path: "/profiles/{name}",
        policy: "{\"retry\":{\"max_attempts\":1}}",
        idempotency_header: None,
        security: None,
        headers: &[],
        pagination: None,
        responses: &[],
        parameters: &[],
        body: (false, &[]),
    }],
    contract: None,
};

struct Client {
    core: Core,
}

impl FromCore for Client {
    const API: &'static ApiSpec = &API;
    fn from_core(core: Core) -> Self {
        Self { core }
    }
}

fn decode(r: &RawResponse) -> Decoded<usize> {
    Decoded::Documented(r.body.len())
}

impl Client {
    async fn get_profile(&self, name: &str) -> Result<usize, Error<NoDocumentedErrors>> {
        self.core
            .request(0)
            .path("name", &name, "simple", false)
            .send(decode, |_| Decoded::Undocumented)
            .await
    }
}

/// A server that answers each connection with `head` and then `body_chunks` chunks of
/// 1 MiB (counting what it wrote), and records each request line.
async fn server(
    head: &'static str,
    body_chunks: usize,
) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (w, l) = (written.clone(), lines.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (w, l) = (w.clone(), l.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                l.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or_default().to_string());
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 1 << 20];
                for _ in 0..body_chunks {
                    if s.write_all(&chunk).await.is_err() {
                        return;
                    }
                    w.fetch_add(chunk.len(), Ordering::Relaxed);
                }
            });
        }
    });
    (base, written, lines)
}

fn client(base: &str, limit: u64) -> Client {
    ClientBuilder::<Client>::new()
        .base_url(base)
        .api_key("sk_live_SECRET42")
        .defaults(move |o| o.max_response_body = limit)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_body_without_end_is_refused_at_the_limit_not_read_whole() {
    let (base, written, _) = server("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 768).await;
    let e = client(&base, 1 << 20).get_profile("rex").await.unwrap_err();
    match &e {
        Error::InvalidBody { error, status, .. } => {
            assert_eq!(*status, 200);
            assert!(
                error
                    .message
                    .contains("over the operation's limit of 1048576 bytes"),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = written.load(Ordering::Relaxed);
    assert!(
        sent < 64 << 20,
        "the server wrote {sent} bytes: the body was read on"
    );
}

#[tokio::test]
async fn an_announced_body_over_the_limit_is_refused_before_reading() {
    let (base, _, _) = server(
        "HTTP/1.1 200 OK\r\nContent-Length: 805306368\r\nConnection: close\r\n\r\n",
        1,
    )
    .await;
    let e = client(&base, 1 << 20).get_profile("rex").await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidBody { error, .. } if error.message.contains("of 805306368 bytes")),
        "{e:?}"
    );
    // Under the limit, the same body is read.
    let (base, _, _) = server(
        "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n",
        1,
    )
    .await;
    assert_eq!(
        client(&base, 2 << 20).get_profile("rex").await.unwrap(),
        1 << 20
    );
}

#[tokio::test]
async fn dot_segments_in_path_parameters_never_reach_another_endpoint() {
    let (base, _, lines) = server(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        0,
    )
    .await;
    let c = client(&base, 1 << 20);
    for name in ["..", "."] {
        let e = c.get_profile(name).await.unwrap_err();
        assert!(
            matches!(&e, Error::Request { message, .. } if message.contains("dot segment")),
            "{e:?}"
        );
    }
    // Dots inside a value, and encoded slashes, stay in their segment.
    c.get_profile("a..b").await.unwrap();
    c.get_profile("../admin").await.unwrap();
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("GET /profiles/a..b?api_key="),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("GET /profiles/..%2Fadmin?"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_query_api_key_never_appears_in_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client(&format!("http://127.0.0.1:{port}"), 1 << 20);
    let e = c.get_profile("rex").await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    let printed = format!("{e} {e:?}");
    assert!(!printed.contains("SECRET42"), "{printed}");
    assert!(printed.contains("api_key=***"), "{printed}");
}

#[test]
fn no_type_holding_a_credential_prints_it() {
    use acl_runtime::client::{Credential, Secret};
    let c = client("http://127.0.0.1:9", 1);
    let creds = [
        Credential::ApiKey("sk_live_SECRET42".into()),
        Credential::Bearer("sk_live_SECRET42".into()),
        Credential::Basic {
            user: "u".into(),
            password: "sk_live_SECRET42".into(),
        },
        Credential::ClientCredentials {
            client_id: "id".into(),
            client_secret: "sk_live_SECRET42".into(),
            scopes: vec![],
            token_url: None,
        },
    ];
    let printed = format!(
        "{:?} {:#?} {:?}",
        c.core,
        creds,
        Secret::from("sk_live_SECRET42"),
    );
    assert!(!printed.contains("SECRET42"), "{printed}");
}
