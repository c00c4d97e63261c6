//! `acl-codegen mock`: the contract's vendor over loopback HTTP, as a teammate with curl
//! meets it: Prism's `Prefer` header, requests checked against the contract with the
//! violation in the body, one log line per request, and hostile clients (huge bodies,
//! deep JSON, bad headers, slowloris) cut off within bounded time.
//!
//! Every test starts the real binary on a free port and kills it when done; requests are
//! written by hand over `TcpStream`, so malformed ones can be too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SHOP: &str = r##"openapi: 3.1.0
info: {title: Shop, version: '1'}
paths:
  /items/{itemId}:
    get:
      operationId: getItem
      parameters:
        - {name: itemId, in: path, required: true, schema: {type: integer, minimum: 1}}
        - {name: view, in: query, schema: {type: string, enum: [full, short]}}
      responses:
        '200':
          description: The item.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
              examples:
                lamp: {value: {id: 7, name: lamp, price: 12.5}}
                chair: {$ref: '#/components/examples/Chair'}
        '404':
          description: No such item.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Problem'}
  /items:
    post:
      operationId: createItem
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string, minLength: 1}
                price: {type: number, minimum: 0}
      responses:
        '201':
          description: Created.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
        '422':
          description: Invalid.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Problem'}
components:
  examples:
    Chair: {value: {id: 8, name: chair, price: 40}}
  schemas:
    Item:
      type: object
      required: [id, name]
      properties:
        id: {type: integer, minimum: 1}
        name: {type: string, minLength: 1}
        price: {type: number, minimum: 0}
    Problem:
      type: object
      required: [message]
      properties:
        message: {type: string}
"##;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acl-mock-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The mock command running on a free port; killed when dropped.
struct Mock {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mock {
    fn start(contract: &Path, extra: &[&str]) -> Mock {
        let mut child = Command::new(env!("CARGO_BIN_EXE_acl-codegen"))
            .arg("mock")
            .arg(contract)
            .args(["--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The first line names the address (startup is bounded: 60 s even for a large
        // contract in a debug build).
        let first = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("the mock did not start: {err}")
            });
        let addr = first
            .split("http://")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .trim()
            .to_string();
        Mock { child, addr, lines }
    }

    /// Sends raw bytes, returns (status, headers, body); status 0 when the connection
    /// closed without an answer.
    fn raw(&self, request: &[u8]) -> (u16, String, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = s.write_all(request);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_ascii_lowercase(), body.to_string())
    }

    fn get(&self, target: &str, headers: &[&str]) -> (u16, String, serde_json::Value) {
        let mut req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for h in headers {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let (status, head, body) = self.raw(req.as_bytes());
        (
            status,
            head,
            serde_json::from_str(&body).unwrap_or_default(),
        )
    }

    fn post(&self, target: &str, body: &str) -> (u16, String, serde_json::Value) {
        let req = format!(
            "POST {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (status, head, body) = self.raw(req.as_bytes());
        (
            status,
            head,
            serde_json::from_str(&body).unwrap_or_default(),
        )
    }
}

fn shop() -> Mock {
    let dir = scratch("shop");
    let f = dir.join("shop.yaml");
    std::fs::write(&f, SHOP).unwrap();
    Mock::start(&f, &["--header-timeout", "1"])
}

#[test]
fn answers_with_the_contracts_examples_and_honours_prefer() {
    let m = shop();
    // The first example by default.
    let (status, head, body) = m.get("/items/7", &[]);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(body["name"], "lamp");
    // A named one, also through a `$ref` to components/examples.
    let (_, _, body) = m.get("/items/7", &["Prefer: example=chair"]);
    assert_eq!(body["name"], "chair");
    // Generated data that fits the schema.
    let (status, _, body) = m.get("/items/7", &["Prefer: dynamic=true"]);
    assert_eq!(status, 200);
    assert!(body["id"].as_i64().is_some_and(|i| i >= 1), "{body}");
    assert_ne!(body["name"], "lamp");
    // A documented status, with its documented body.
    let (status, _, body) = m.get("/items/7", &["Prefer: code=404"]);
    assert_eq!(status, 404);
    assert!(body["message"].is_string(), "{body}");
    // Preferences that cannot be honoured are the client's mistake, explained.
    let (status, head, body) = m.get("/items/7", &["Prefer: code=409"]);
    assert_eq!(status, 400, "{head}");
    assert!(
        body["detail"].as_str().unwrap().contains("code=409"),
        "{body}"
    );
    let (status, _, body) = m.get("/items/7", &["Prefer: example=sofa"]);
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("sofa"), "{body}");
    let (status, _, _) = m.get("/items/7", &["Prefer: code=abc"]);
    assert_eq!(status, 400);
}

#[test]
fn invalid_requests_get_a_4xx_naming_the_violation_and_unknown_paths_404() {
    let m = shop();
    let (status, head, body) = m.get("/items/0", &[]);
    assert_eq!(status, 400, "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    let detail = body["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("path parameter `itemId`"), "{detail}");
    assert!(detail.contains("minimum"), "{detail}");
    let (status, _, body) = m.get("/items/7?view=huge", &[]);
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("`view`"),
        "{body}"
    );
    // A body its schema refuses: the documented 422, with what is wrong.
    let (status, _, body) = m.post("/items", r#"{"price": -1}"#);
    assert_eq!(status, 422);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("name"), "{detail}");
    let (status, _, body) = m.post("/items", "{not json");
    assert_eq!(status, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("not JSON"),
        "{body}"
    );
    let (status, _, body) = m.post("/items", r#"{"name": "desk", "price": 3}"#);
    assert_eq!(status, 201, "{body}");
    assert!(body["id"].is_i64(), "{body}");
    let (status, _, _) = m.get("/nowhere", &[]);
    assert_eq!(status, 404);
    // One log line per request, naming the operation and status.
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.len() < 8 && Instant::now() < deadline {
        if let Ok(line) = m.lines.recv_timeout(Duration::from_millis(200)) {
            log.push(line);
        }
    }
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /items/0 -> 400 (getItem")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("POST /items -> 201 (createItem")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /nowhere -> 404 (no operation")),
        "{log:#?}"
    );
}

#[test]
fn hostile_clients_get_a_4xx_or_a_closed_connection_in_bounded_time() {
    let m = shop();
    // A body over 8 MiB: 413, without reading it all into memory first.
    let huge = vec![b'['; 9 << 20];
    let mut req = format!(
        "POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        huge.len()
    )
    .into_bytes();
    req.extend_from_slice(&huge);
    let (status, _, _) = m.raw(&req);
    assert!(status == 413 || status == 0, "{status}");
    // JSON nested past any parser's patience: refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _, body) = m.post("/items", &deep);
    assert_eq!(status, 422, "{body}");
    // A header that is not text.
    let (status, _, _) = m.raw(
        b"GET /items/7 HTTP/1.1\r\nHost: x\r\nPrefer: code=\xff\xfe\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400);
    // Not HTTP at all.
    let (status, _, _) = m.raw(b"\x00\x01garbage\r\n\r\n");
    assert!(status == 400 || status == 0, "{status}");
    // Headers past 64 KiB.
    let big = format!(
        "GET /items/7 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let (status, _, _) = m.raw(big.as_bytes());
    assert!(status == 431 || status == 400 || status == 0, "{status}");
    // Slowloris: a head that never ends is cut off (the test runs with a 1 s limit).
    let started = Instant::now();
    let mut s = TcpStream::connect(&m.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(b"GET /items/7 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut closed = false;
    for _ in 0..30 {
        if s.write_all(b"X-Slow: 1\r\n").is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a slow head was not cut off");
    assert!(started.elapsed() < Duration::from_secs(9));
    // And the mock still answers.
    assert_eq!(m.get("/items/7", &[]).0, 200);
}

fn shared_contracts() -> Option<PathBuf> {
    let dir = match std::env::var_os("ACL_SHARED_CONTRACTS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contracts"),
    };
    dir.join("MANIFEST.tsv").exists().then_some(dir)
}

/// Every GET of a contract without path variables, and one with them filled: answered
/// 2xx/4xx (never 5xx, never a closed connection).
fn tour(m: &Mock, paths: &[&str]) {
    for p in paths {
        let (status, head, body) = m.get(p, &["Authorization: Bearer t", "X-Api-Key: t"]);
        assert!(
            (200..500).contains(&status),
            "{p}: {status}\n{head}\n{body}"
        );
    }
}

#[test]
#[ignore = "needs ../shared/contracts"]
fn serves_large_and_swagger_2_contracts() {
    let Some(root) = shared_contracts() else {
        panic!("needs ../shared/contracts (or ACL_SHARED_CONTRACTS), which is not there");
    };
    let openai = Mock::start(&root.join("openapi/openai.openapi-3.1.yaml"), &[]);
    tour(&openai, &["/v1/models", "/v1/models/gpt-4o", "/v1/files"]);
    let (status, _, body) = openai.get("/v1/models", &["Authorization: Bearer t"]);
    assert_eq!(status, 200);
    assert!(body["data"].is_array(), "{body}");
    let (status, _, _) = openai.get("/v1/models", &[]);
    assert_eq!(status, 401, "security is enforced");
    let bungie = Mock::start(&root.join("openapi/bungie.openapi-3.0.json"), &[]);
    tour(&bungie, &["/App/FirstParty/", "/Destiny2/Manifest/"]);
    let docker = Mock::start(
        &root.join("openapi/docker-engine-v1.41.swagger-2.0.yaml"),
        &[],
    );
    tour(&docker, &["/containers/json", "/images/json", "/info"]);
    let (status, _, body) = docker.get("/containers/json?all=maybe", &[]);
    assert_eq!(status, 400, "{body}");
}
