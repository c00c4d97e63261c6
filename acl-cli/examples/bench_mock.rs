//! `acl-codegen mock` against Prism, the mock server most teams use, in one run:
//! requests/s and p99 latency for a fixed mix of valid and invalid requests over
//! loopback, and the mock's startup on a large contract.
//!
//! `cargo run --release -p acl-cli --example bench_mock`
//!
//! Builds the release `acl-codegen` binary, then serves `examples/contracts/petstore.yaml`
//! with it and with Prism (`npx @stoplight/prism-cli@5`, when `npx` is there; it says so
//! and skips Prism otherwise). Each server runs alone, loaded by this process with
//! `ACL_BENCH_CONNECTIONS` (default 16) keep-alive connections for `ACL_BENCH_SECONDS`
//! (default 5) after a one-second warm-up. Both get the same requests in the same order.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn build_mock() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "acl-cli",
            "--bin",
            "acl-codegen",
        ])
        .current_dir(workspace())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building acl-codegen failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    target.join("release/acl-codegen")
}

/// Starts `command` and waits until `line_has` appears on its stdout; returns the
/// server and how long that took.
fn start(mut command: Command, line_has: &str) -> Option<(Server, Duration)> {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = line_has.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(&wanted) {
                let _ = tx.send(());
            }
        }
    });
    let server = Server { child };
    rx.recv_timeout(Duration::from_secs(180)).ok()?;
    Some((server, started.elapsed()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One request of the mix: method, path, body, and whether the contract accepts it.
struct Req {
    method: reqwest::Method,
    path: &'static str,
    body: Option<&'static str>,
}

fn mix() -> Vec<Req> {
    use reqwest::Method;
    let r =
        |method: Method, path: &'static str, body: Option<&'static str>| Req { method, path, body };
    vec![
        // Valid: a list, one pet, a creation.
        r(Method::GET, "/pets", None),
        r(Method::GET, "/pets?limit=10&status=available", None),
        r(Method::GET, "/pets/rex", None),
        r(
            Method::POST,
            "/pets",
            Some(r#"{"name":"Rex","species":{"kind":"dog","good_boy":true}}"#),
        ),
        // Invalid: a parameter out of range, an enum value it lacks, a body missing a
        // required field.
        r(Method::GET, "/pets?limit=500", None),
        r(Method::GET, "/pets?status=eaten", None),
        r(Method::POST, "/pets", Some(r#"{"species":{"kind":"dog"}}"#)),
    ]
}

struct Outcome {
    requests: u64,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    statuses: std::collections::BTreeMap<u16, u64>,
}

async fn load(base: &str, seconds: u64, connections: usize) -> Outcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("a client");
    let mix = Arc::new(mix());
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (client, mix, measuring, stop) =
            (client.clone(), mix.clone(), measuring.clone(), stop.clone());
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses = std::collections::BTreeMap::new();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let req = &mix[i % mix.len()];
                i += 1;
                let mut b = client
                    .request(req.method.clone(), format!("{base}{}", req.path))
                    .header("X-Api-Key", "k")
                    .header("Idempotency-Key", "7c9e6679-7425-40de-944b-e07fc1f90ae7");
                if let Some(body) = req.body {
                    b = b.header("Content-Type", "application/json").body(body);
                }
                let t = Instant::now();
                let status = match b.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(t.elapsed());
                    *statuses.entry(status).or_insert(0u64) += 1;
                }
            }
            (latencies, statuses)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for task in tasks {
        let (l, s) = task.await.expect("a load task");
        all.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_insert(0) += v;
        }
    }
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Outcome {
        requests: all.len() as u64,
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        statuses,
    }
}

fn print(name: &str, r: &Outcome) {
    println!(
        "{name:<22} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests; statuses {:?})",
        r.per_second,
        r.p50.as_secs_f64() * 1e3,
        r.p99.as_secs_f64() * 1e3,
        r.requests,
        r.statuses
    );
}

fn main() {
    let seconds: u64 = std::env::var("ACL_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let connections: usize = std::env::var("ACL_BENCH_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mock = build_mock();
    let petstore = workspace().join("examples/contracts/petstore.yaml");
    println!(
        "mix: {} requests in turn (4 valid, 3 invalid), {connections} connections, {seconds} s",
        mix().len()
    );

    // acl-codegen mock.
    let port = free_port();
    let mut command = Command::new(&mock);
    command
        .arg("mock")
        .arg(&petstore)
        .args(["--port", &port.to_string()]);
    // With its log line per request, as Prism logs each request too.
    let (server, startup) = start(command, "mock of").expect("acl-codegen mock starts");
    let ours = runtime.block_on(load(
        &format!("http://127.0.0.1:{port}"),
        seconds,
        connections,
    ));
    drop(server);
    print("acl-codegen mock", &ours);
    println!(
        "  startup on petstore: {:.0} ms",
        startup.as_secs_f64() * 1e3
    );

    // Startup on a large contract.
    let shared = std::env::var_os("ACL_SHARED_CONTRACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/contracts"));
    let openai = shared.join("openapi/openai.openapi-3.1.yaml");
    if openai.exists() {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let mut command = Command::new(&mock);
            command
                .arg("mock")
                .arg(&openai)
                .args(["--port", &free_port().to_string(), "--quiet"]);
            if let Some((server, t)) = start(command, "mock of") {
                best = best.min(t);
                drop(server);
            }
        }
        println!(
            "  startup on the OpenAI contract (288 operations, 3 MB): {:.0} ms (best of 3; goal < 1000 ms)",
            best.as_secs_f64() * 1e3
        );
    } else {
        println!("  (no ../shared/contracts: OpenAI startup not measured)");
    }

    // Prism.
    let npx = Command::new("npx")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !npx {
        println!("prism: skipped (no npx on this machine)");
        return;
    }
    let port = free_port();
    let mut command = Command::new("npx");
    command.args([
        "--yes",
        "@stoplight/prism-cli@5",
        "mock",
        "--errors",
        "false",
        "-p",
        &port.to_string(),
    ]);
    command.arg(&petstore);
    let Some((server, startup)) = start(command, "Prism is listening") else {
        println!("prism: skipped (it did not start: is the npm registry reachable?)");
        return;
    };
    let theirs = runtime.block_on(load(
        &format!("http://127.0.0.1:{port}"),
        seconds,
        connections,
    ));
    drop(server);
    print("prism mock", &theirs);
    println!(
        "  startup on petstore: {:.0} ms (npx included)",
        startup.as_secs_f64() * 1e3
    );
    println!(
        "ratio: {:.1}x Prism's throughput (goal >= 10x), p99 {:.2} ms vs {:.2} ms",
        ours.per_second / theirs.per_second,
        ours.p99.as_secs_f64() * 1e3,
        theirs.p99.as_secs_f64() * 1e3
    );
}
