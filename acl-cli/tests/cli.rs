//! The command line on good and bad input: exit codes, diagnostics that name the place,
//! never a panic or a hang.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acl-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_acl-codegen"))
        .args(args)
        .output()
        .unwrap();
    let code = out.status.code().expect("exited by signal (a crash)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
    (code, stdout, stderr)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const PETS: &str = "openapi: 3.0.3\ninfo: {title: Pets, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    Pet:\n      type: object\n      properties:\n        name: {type: string}\n";

#[test]
fn check_prints_a_summary_and_exits_zero() {
    let dir = scratch("ok");
    let f = write(&dir, "pets.yaml", PETS);
    let (code, stdout, _) = run(&["check", &f]);
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "1 types, 0 operations, 0 warnings, 0 errors");
}

#[test]
fn generate_writes_module_files_and_a_crate() {
    let dir = scratch("gen");
    let f = write(&dir, "pets.yaml", PETS);
    let out = dir.join("out");
    let (code, stdout, stderr) = run(&["generate", &f, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 types"), "{stdout}");
    let types = std::fs::read_to_string(out.join("types.rs")).unwrap();
    assert!(types.contains("pub struct Pet"));
    assert!(out.join("mod.rs").exists() && out.join("contract/0.json").exists());

    let krate = dir.join("crate");
    let (code, _, stderr) = run(&[
        "generate",
        &f,
        "--out",
        krate.to_str().unwrap(),
        "--crate",
        "pets-acl",
        "--runtime-path",
        "/opt/acl-runtime",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"pets-acl\""));
    assert!(
        manifest.contains("acl-runtime = { path = \"/opt/acl-runtime\""),
        "{manifest}"
    );
    assert!(krate.join("src/lib.rs").exists() && krate.join("src/types.rs").exists());
}

#[test]
fn unreadable_and_unparsable_files_exit_two_with_a_position() {
    let dir = scratch("parse");
    let (code, _, stderr) = run(&["check", dir.join("missing.yaml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");

    let truncated = write(
        &dir,
        "truncated.json",
        "{\"openapi\": \"3.1.0\", \"info\": {\"title\": ",
    );
    let (code, _, stderr) = run(&["check", &truncated]);
    assert_eq!(code, 2);
    assert!(stderr.contains("truncated.json:1:"), "{stderr}");

    let bad_yaml = write(
        &dir,
        "bad.yaml",
        "openapi: 3.1.0\ninfo:\n  title: [unclosed\n  version: 1\n",
    );
    let (code, _, stderr) = run(&["check", &bad_yaml]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.yaml:"), "{stderr}");

    let binary = dir.join("binary.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let (code, _, stderr) = run(&["check", binary.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not UTF-8"), "{stderr}");
}

#[test]
fn broken_contracts_exit_one_naming_the_pointer_and_line() {
    let dir = scratch("broken");
    let dangling = write(
        &dir,
        "dangling.yaml",
        "openapi: 3.0.3\ninfo: {title: T, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A:\n      type: object\n      properties:\n        b: {$ref: '#/components/schemas/Missing'}\n",
    );
    let (code, stdout, stderr) = run(&["check", &dangling]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("error[dangling-ref]"), "{stderr}");
    assert!(stderr.contains("dangling.yaml:9:"), "{stderr}");
    assert!(
        stderr.contains("#/components/schemas/A/properties/b/$ref"),
        "{stderr}"
    );
    assert!(stdout.contains("1 errors"), "{stdout}");
    // generate refuses too, and says why.
    let (code, _, stderr) = run(&[
        "generate",
        &dangling,
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not generating"), "{stderr}");

    let cycle = write(
        &dir,
        "cycle.json",
        r##"{"openapi": "3.1.0", "info": {"title": "T", "version": "1"}, "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}}}"##,
    );
    let (code, _, stderr) = run(&["check", &cycle]);
    assert_eq!(code, 1);
    assert!(stderr.contains("error[ref-cycle]"), "{stderr}");

    let not_object = write(&dir, "list.yaml", "- openapi\n- 3.1.0\n");
    let (code, _, stderr) = run(&["check", &not_object]);
    assert_eq!(code, 1);
    assert!(stderr.contains("error[not-an-object]"), "{stderr}");

    let bad_schema = write(
        &dir,
        "bad-schema.yaml",
        "openapi: 3.1.0\ninfo: {title: T, version: '1'}\ncomponents:\n  schemas:\n    A:\n      type: object\n      properties:\n        b: 42\n",
    );
    let (code, _, stderr) = run(&["check", &bad_schema]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error[not-a-schema]") && stderr.contains("bad-schema.yaml:8:"),
        "{stderr}"
    );

    let version = write(
        &dir,
        "v4.yaml",
        "openapi: 4.0.0\ninfo: {title: T, version: '1'}\n",
    );
    let (code, _, stderr) = run(&["check", &version]);
    assert_eq!(code, 1);
    assert!(stderr.contains("unsupported-version"), "{stderr}");
}

#[test]
fn strict_turns_warnings_into_errors() {
    let dir = scratch("strict");
    let f = write(
        &dir,
        "warn.yaml",
        "openapi: 3.1.0\ninfo: {title: T, version: '1'}\ncomponents:\n  schemas:\n    A:\n      type: object\n      properties:\n        b: {type: string}\n      dependentRequired: {b: [c]}\n",
    );
    let (code, stdout, stderr) = run(&["check", &f]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("warning[unenforced-keyword]"), "{stderr}");
    assert!(stdout.contains("1 warnings, 0 errors"), "{stdout}");
    let (code, _, _) = run(&["check", "--strict", &f]);
    assert_eq!(code, 1);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let dir = scratch("deep");
    let json = write(
        &dir,
        "deep.json",
        &("[".repeat(100_000) + &"]".repeat(100_000)),
    );
    let (code, _, stderr) = run(&["check", &json]);
    assert_eq!(code, 2, "{stderr}");
    let yaml = write(&dir, "deep.yaml", &("- ".repeat(5_000) + "x\n"));
    let (code, _, stderr) = run(&["check", &yaml]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nesting"), "{stderr}");
    // Deep but within the parser's limit: schemas nested through `properties`.
    let mut schema = String::from("{\"type\": \"string\"}");
    for _ in 0..60 {
        schema = format!("{{\"type\": \"object\", \"properties\": {{\"a\": {schema}}}}}");
    }
    let nested = write(&dir, "nested.json", &schema);
    let (code, stdout, stderr) = run(&["check", &nested]);
    assert!(code == 0 || code == 1, "{stderr}");
    assert!(stdout.contains("types"), "{stdout}");
}

#[test]
fn a_fifty_megabyte_contract_is_read_and_its_error_reported() {
    let dir = scratch("big");
    let filler = "x".repeat(1000);
    let mut text = String::from("{\"openapi\": \"3.1.0\", \"info\": {\"title\": \"Big\", \"version\": \"1\"}, \"x-filler\": [");
    for i in 0..50_000 {
        if i > 0 {
            text.push(',');
        }
        text.push('"');
        text.push_str(&filler);
        text.push('"');
    }
    text.push_str("], \"components\": {\"schemas\": {\"A\": {\"$ref\": \"#/nowhere\"}}}}");
    assert!(text.len() > 50_000_000);
    let f = write(&dir, "big.json", &text);
    let (code, _, stderr) = run(&["check", &f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("dangling-ref"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

const SHOP: &str = r#"openapi: 3.0.3
info: {title: Shop, version: '1'}
paths:
  /pets:
    get:
      operationId: listPets
      tags: [pets]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: '#/components/schemas/Pet'}}
  /orders:
    post:
      operationId: createOrder
      tags: [orders]
      x-acl-timeout: 0s
      responses:
        '201':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
components:
  schemas:
    Pet:
      type: object
      properties:
        owner: {$ref: '#/components/schemas/Owner'}
    Owner: {type: object, properties: {name: {type: string}}}
    Order: {type: object, properties: {id: {type: string}}}
"#;

#[test]
fn a_subset_keeps_its_operations_and_the_types_they_reach() {
    let dir = scratch("subset");
    let f = write(
        &dir,
        "shop.yaml",
        &SHOP.replace("x-acl-timeout: 0s", "x-acl-timeout: 2s"),
    );
    let out = dir.join("out");
    let (code, stdout, stderr) = run(&[
        "generate",
        &f,
        "--out",
        out.to_str().unwrap(),
        "--tag",
        "pets",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("2 types, 1 operations"), "{stdout}");
    let types = std::fs::read_to_string(out.join("types.rs")).unwrap();
    assert!(types.contains("pub struct Owner"), "reached through Pet");
    assert!(!types.contains("pub struct Order"));
    let client = std::fs::read_to_string(out.join("client.rs")).unwrap();
    assert!(client.contains("pub fn list_pets"));
    assert!(!client.contains("create_order"));

    let (code, _, stderr) = run(&["check", &f, "--operation", "listPet"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("error[unknown-selector]"), "{stderr}");
    assert!(stderr.contains("did you mean `listPets`?"), "{stderr}");
}

#[test]
fn a_policy_the_client_could_not_build_with_is_an_error_at_its_pointer() {
    let dir = scratch("policy");
    let f = write(&dir, "shop.yaml", SHOP);
    let (code, _, stderr) = run(&["check", &f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("error[bad-policy]"), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(stderr.contains("/paths/~1orders/post"), "{stderr}");
    let typo = write(
        &dir,
        "typo.yaml",
        &SHOP.replace("x-acl-timeout: 0s", "x-acl-timeuot: 2s"),
    );
    let (code, _, stderr) = run(&["check", &typo]);
    assert_eq!(code, 0, "an unknown extension is a warning: {stderr}");
    assert!(stderr.contains("did you mean `x-acl-timeout`?"), "{stderr}");
}

fn sign(args: &[&str]) -> Vec<String> {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "{stderr}");
    stdout.lines().map(|l| format!("--header={l}")).collect()
}

#[test]
fn webhook_sign_prints_the_published_standard_webhooks_signature_and_verify_accepts_it() {
    let dir = scratch("webhook-std");
    let body = write(&dir, "body.json", r#"{"test": 2432232314}"#);
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let headers = sign(&[
        "webhook",
        "sign",
        "--scheme",
        "standard",
        "--secret",
        secret,
        "--id",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "--timestamp",
        "1614265330",
        "--body-file",
        &body,
    ]);
    assert!(
        headers.contains(
            &"--header=webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
                .to_string()
        ),
        "{headers:?}"
    );
    let mut args = vec![
        "webhook",
        "verify",
        "--scheme",
        "standard",
        "--secret",
        secret,
        "--body-file",
        &body,
    ];
    args.extend(headers.iter().map(String::as_str));
    let mut at = args.clone();
    at.extend(["--now", "1614265400"]);
    let (code, stdout, _) = run(&at);
    assert_eq!((code, stdout.trim()), (0, "valid"));
    // Now is years later: stale, exit 1 with the reason.
    let (code, stdout, _) = run(&args);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("invalid: timestamp 1614265330 is"),
        "{stdout}"
    );
    // A tolerance wide enough accepts it again.
    let mut wide = args.clone();
    wide.extend(["--tolerance", "999999999999"]);
    assert_eq!(run(&wide).0, 0);
    // Tampered body.
    let other = write(&dir, "other.json", r#"{"test": 1}"#);
    let tampered: Vec<&str> = at
        .iter()
        .map(|a| if *a == body { other.as_str() } else { a })
        .collect();
    let (code, stdout, _) = run(&tampered);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("no signature in `webhook-signature` matches"),
        "{stdout}"
    );
}

#[test]
fn webhook_verify_for_github_stripe_shopify_and_v1a() {
    let dir = scratch("webhook-others");
    let body = write(&dir, "body.txt", "Hello, World!");
    let (code, stdout, _) = run(&[
        "webhook", "verify", "--scheme", "github", "--secret", "It's a Secret to Everybody",
        "--header", "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "--body-file", &body,
    ]);
    assert_eq!((code, stdout.trim()), (0, "valid"));
    for scheme in ["stripe", "shopify"] {
        let headers = sign(&[
            "webhook",
            "sign",
            "--scheme",
            scheme,
            "--secret",
            "s3",
            "--id",
            "x1",
            "--timestamp",
            "1700000000",
            "--body-file",
            &body,
        ]);
        let mut args = vec![
            "webhook",
            "verify",
            "--scheme",
            scheme,
            "--secret",
            "wrong",
            "--secret",
            "s3",
            "--now",
            "1700000001",
            "--body-file",
            &body,
        ];
        args.extend(headers.iter().map(String::as_str));
        let (code, stdout, _) = run(&args);
        assert_eq!((code, stdout.trim()), (0, "valid"), "{scheme}");
    }
    // v1a: sign with whsk_, verify with whpk_ (the public key computed independently,
    // with Python's `cryptography`, from the seed 0x07 × 32).
    let (sk, pk) = (
        "whsk_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        "whpk_6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=",
    );
    let headers = sign(&[
        "webhook",
        "sign",
        "--scheme",
        "standard",
        "--secret",
        sk,
        "--id",
        "m1",
        "--timestamp",
        "1700000000",
        "--body-file",
        &body,
    ]);
    assert!(headers.iter().any(|h| h.contains("v1a,")), "{headers:?}");
    let mut args = vec![
        "webhook",
        "verify",
        "--scheme",
        "standard",
        "--secret",
        pk,
        "--now",
        "1700000000",
        "--body-file",
        &body,
    ];
    args.extend(headers.iter().map(String::as_str));
    let (code, stdout, stderr) = run(&args);
    assert_eq!((code, stdout.trim()), (0, "valid"), "{stderr}");
}

#[test]
fn webhook_commands_refuse_bad_input_with_exit_two() {
    let dir = scratch("webhook-bad");
    let body = write(&dir, "b", "x");
    let cases: [&[&str]; 5] = [
        &[
            "webhook",
            "verify",
            "--scheme",
            "gitlab",
            "--secret",
            "x",
            "--body-file",
            &body,
        ],
        &[
            "webhook",
            "verify",
            "--scheme",
            "standard",
            "--secret",
            "whsec_***",
            "--body-file",
            &body,
        ],
        &[
            "webhook",
            "verify",
            "--scheme",
            "github",
            "--secret",
            "x",
            "--header",
            "no colon",
            "--body-file",
            &body,
        ],
        &[
            "webhook",
            "sign",
            "--scheme",
            "standard",
            "--secret",
            "whsec_AAAA",
            "--body-file",
            &body,
        ],
        &[
            "webhook",
            "sign",
            "--scheme",
            "github",
            "--secret",
            "x",
            "--body-file",
            "/nonexistent/acl/body",
        ],
    ];
    for args in cases {
        let (code, _, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(!stderr.is_empty());
    }
    // A missing signature header is a verification failure (exit 1) naming the header.
    let (code, stdout, _) = run(&[
        "webhook",
        "verify",
        "--scheme",
        "github",
        "--secret",
        "x",
        "--body-file",
        &body,
    ]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("missing header `x-hub-signature-256`"),
        "{stdout}"
    );
}
