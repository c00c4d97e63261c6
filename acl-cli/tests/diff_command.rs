//! `acl-codegen diff` and `generate --pin` as commands: exit codes by severity, errors
//! that name the file. (What each rule reports is tested in acl-codegen's `diff` test.)

use std::path::PathBuf;
use std::process::Command;

const BASE: &str = r#"openapi: 3.0.3
info: {title: Shop, version: '1'}
servers: [{url: 'https://api.shop.example/v1'}]
paths:
  /orders/{id}:
    get:
      operationId: getOrder
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: expand, in: query, schema: {type: string}}
      responses:
        '200':
          description: ok
          headers:
            X-Rate: {required: true, schema: {type: integer}}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
        '404': {description: missing}
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewOrder'}
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
  /legacy:
    get:
      operationId: legacy
      responses: {'200': {description: ok}}
components:
  schemas:
    Order:
      type: object
      required: [id, total, status]
      properties:
        id: {type: string}
        total: {type: integer, maximum: 1000}
        status: {type: string, enum: [open, paid]}
        note: {type: string}
    NewOrder:
      type: object
      required: [total]
      properties:
        total: {type: integer, maximum: 1000}
        kind: {type: string, enum: [a, b]}
        note: {type: string, maxLength: 50}
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acl-diff-cmd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_command_exits_by_severity_and_says_why_it_cannot_read() {
    let dir = scratch("cli");
    std::fs::write(dir.join("old.yaml"), BASE).unwrap();
    std::fs::write(
        dir.join("new.yaml"),
        BASE.replacen("enum: [a, b]", "enum: [a]", 1),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_acl-codegen"))
            .arg("diff")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (old, new) = (dir.join("old.yaml"), dir.join("new.yaml"));
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let (code, out, _) = run(&[o, n]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("breaking[request-enum-value-removed]: POST /orders request body.kind"),
        "{out}"
    );
    assert!(out.contains("1 breaking, 0 warning, 0 info"), "{out}");
    let (code, out, _) = run(&[o, o, "--format", "json"]);
    assert_eq!((code, out.trim()), (0, "[]"));
    let (code, out, _) = run(&[o, n, "--format", "markdown"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("| Breaking | `request-enum-value-removed` |"),
        "{out}"
    );
    let (code, _, err) = run(&[o, dir.join("missing.yaml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.yaml"), "{err}");
}

#[test]
fn a_pinned_contract_refuses_breaking_changes_until_accepted() {
    let dir = scratch("pin");
    let contract = dir.join("shop.yaml");
    let pin = dir.join("pin");
    let _ = std::fs::remove_dir_all(&pin);
    std::fs::write(&contract, BASE).unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_acl-codegen"))
            .args([
                "generate",
                contract.to_str().unwrap(),
                "--out",
                dir.join("out").to_str().unwrap(),
                "--pin",
                pin.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run(&[]).0, 0, "the first run pins");
    assert!(pin.join("shop.yaml").exists());
    // A compatible change passes (and is reported).
    std::fs::write(
        &contract,
        BASE.replacen("enum: [open, paid]", "enum: [open, paid, refunded]", 1),
    )
    .unwrap();
    let (code, err) = run(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("response-enum-value-added"), "{err}");
    // A breaking one fails, naming the rule, until accepted.
    std::fs::write(&contract, BASE.replacen("enum: [a, b]", "enum: [a]", 1)).unwrap();
    let (code, err) = run(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("request-enum-value-removed") && err.contains("--accept"),
        "{err}"
    );
    assert_eq!(run(&["--accept"]).0, 0);
    assert_eq!(run(&[]).0, 0, "accepted and re-pinned");
}
