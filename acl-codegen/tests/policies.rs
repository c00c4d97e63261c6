//! The contract's `x-acl-*` extensions: acl-policy's settings under their one name
//! (`x-acl-` + the setting with `-` for `_`), checked as the client will read them, each
//! mistake reported at the extension (and key) that wrote it.

use std::path::PathBuf;

use acl_codegen::{Diagnostic, Generated, Generator, Settings};

fn read(name: &str, extensions: &str, operation: &str) -> (Generated, Vec<Diagnostic>) {
    let dir = std::env::temp_dir().join(format!("acl-policies-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "openapi: 3.0.3\ninfo: {{title: Shop, version: '1'}}\n{extensions}\npaths:\n  /orders:\n    post:\n      operationId: createOrder\n{operation}\n      responses:\n        '201': {{description: ok}}\n"
    );
    let f: PathBuf = dir.join("shop.yaml");
    std::fs::write(&f, text).unwrap();
    let g = Generator::new(Settings::default()).read(&f).unwrap();
    let items = g.diagnostics.items().to_vec();
    (g, items)
}

fn find<'a>(items: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    items
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no {code} in {items:#?}"))
}

#[test]
fn every_setting_is_an_extension_under_its_one_name() {
    let (g, items) = read(
        "names",
        "x-acl-retry-budget: {ratio: 0.1, min_per_second: 2}\nx-acl-breaker: {window: 30s, half_open_calls: 2}\nx-acl-rate-limit: 'off'\nx-acl-max-response-body: 1024",
        "      x-acl-retry: {max_attempts: 2, multiplier: 3}\n      x-acl-idempotency-key: Idempotency-Key",
    );
    // Only the warning that the rate limit is switched off.
    let codes: Vec<&str> = items.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["policy-weakened"], "{items:#?}");
    let policy = g.api.policy.as_ref().unwrap();
    assert_eq!(policy["system"]["retry_budget"]["ratio"], 0.1);
    assert_eq!(policy["system"]["breaker"]["window"], "30s");
    assert_eq!(policy["system"]["rate_limit"], "off");
    assert_eq!(policy["operation"]["max_response_body"], 1024);
    let op = g.api.operations[0].policy.as_ref().unwrap();
    assert_eq!(op["retry"]["multiplier"], 3);
    assert_eq!(op["idempotency_key"], "Idempotency-Key");
}

#[test]
fn mistakes_point_at_the_extension_and_key_that_wrote_them() {
    let (_, items) = read(
        "word",
        "",
        "      x-acl-retry: {max_attempts: 2, jitter: sometimes}",
    );
    let d = find(&items, "bad-policy");
    assert_eq!(
        d.location.pointer,
        "/paths/~1orders/post/x-acl-retry/jitter"
    );
    assert!(d.message.contains("unknown variant `sometimes`"), "{d}");

    let (_, items) = read("system", "x-acl-breaker: {failure_rate: 2}", "");
    let d = find(&items, "bad-policy");
    assert_eq!(d.location.pointer, "/x-acl-breaker/failure_rate");
    assert!(d.message.contains("breaker.failure_rate"), "{d}");

    let (_, items) = read("typo", "x-acl-breaker: {min_call: 2}", "");
    let d = find(&items, "bad-policy");
    assert!(d.message.contains("did you mean `min_calls`?"), "{d}");

    // A document-wide setting that cannot work is reported once, on the document.
    let (_, items) = read("doc", "x-acl-timeout: 0s", "");
    let bad: Vec<_> = items.iter().filter(|d| d.code == "bad-policy").collect();
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(bad[0].location.pointer, "/x-acl-timeout");

    // The operation's deadline below the document's timeout: blamed on the operation.
    let (_, items) = read("levels", "x-acl-timeout: 5s", "      x-acl-deadline: 1s");
    let d = find(&items, "bad-policy");
    assert_eq!(d.location.pointer, "/paths/~1orders/post/x-acl-deadline");

    let (_, items) = read(
        "system-on-op",
        "",
        "      x-acl-rate-limit: {per_second: 1}",
    );
    find(&items, "policy-ignored");
    let (_, items) = read("unknown", "x-acl-ratelimit: {per_second: 1}", "");
    let d = find(&items, "unknown-extension");
    assert!(
        d.help
            .as_deref()
            .unwrap_or_default()
            .contains("x-acl-rate-limit"),
        "{d}"
    );
}

#[test]
fn a_contract_that_switches_a_protection_off_is_warned_about() {
    let (g, items) = read(
        "weakened",
        "x-acl-breaker: 'off'\nx-acl-rate-limit: false\nx-acl-max-response-body: 10000000000",
        "",
    );
    let weakened: Vec<&str> = items
        .iter()
        .filter(|d| d.code == "policy-weakened")
        .map(|d| d.location.pointer.as_str())
        .collect();
    assert_eq!(
        weakened,
        [
            "/x-acl-breaker",
            "/x-acl-max-response-body",
            "/x-acl-rate-limit"
        ],
        "{items:#?}"
    );
    // Still read as written (a warning, not a refusal).
    assert_eq!(g.api.policy.as_ref().unwrap()["system"]["breaker"], "off");
    let (_, items) = read("kept", "x-acl-max-response-body: 1024", "");
    assert!(
        items.iter().all(|d| d.code != "policy-weakened"),
        "{items:#?}"
    );
}
