//! The demo as a user runs it: it refuses to start without a token, then serves the
//! console (with the token only) and `/metrics` (without), on a loopback port.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn without_a_token_the_demo_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_acl-example-console"))
        .env_remove("ACL_CONSOLE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ACL_CONSOLE_TOKEN"));
}

#[tokio::test]
async fn the_demo_serves_the_console_behind_its_token_and_metrics_without() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_acl-example-console"))
        .env("ACL_CONSOLE_TOKEN", "demo-token")
        .env("ACL_CONSOLE_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = Kill(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.contains("console on"), "{line}");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    {
        assert_eq!(
            http.get(format!("{base}/acl/"))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        let page = http
            .get(format!("{base}/acl/"))
            .bearer_auth("demo-token")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("ledger") && page.contains("breaker open"),
            "{page}"
        );
        assert!(page.contains("1 dead letters"), "{page}");
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains(r#"acl_breaker_state{acl_system="ledger"} 2"#),
            "{metrics}"
        );
        assert!(metrics.contains("acl_calls_total{"), "{metrics}");
    }
}
