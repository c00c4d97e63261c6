//! The Prometheus example's exposition: acl's metrics with OpenTelemetry attribute names
//! as labels (dots written as `_`), histograms as buckets, and the calls of its round
//! counted by outcome.

#[test]
fn the_exposition_has_the_acl_metrics_with_their_labels() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prometheus"))
        .arg("--once")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let labels = r#"acl_system="Petstore",acl_operation="getPet",http_request_method="GET",url_template="/v1/pets/{petId}""#;
    for line in [
        format!(r#"acl_calls_total{{{labels},outcome="ok"}} 1"#),
        format!(r#"acl_calls_total{{{labels},outcome="permanent"}} 1"#),
        format!(r#"acl_retries_total{{{labels}}} 1"#),
        "# TYPE acl_attempt_seconds histogram".to_string(),
    ] {
        assert!(text.contains(&line), "missing `{line}` in:\n{text}");
    }
    assert!(text.contains(r#"acl_attempt_seconds_bucket{"#) && text.contains(r#"le="+Inf"}"#));
    // The ids called with never become labels.
    assert!(!text.contains("nobody") && !text.contains("p1\""), "{text}");
}
