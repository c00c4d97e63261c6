//! `acl-codegen diff`: one small contract pair per rule (old → new, rule id, severity),
//! the real version pairs in `../shared/contracts/versions/` with findings checked by
//! hand, and the command line's exit codes.

use std::path::{Path, PathBuf};

use acl_codegen::diff::{compare, Change, Severity};
use acl_codegen::{Generator, Settings};

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
    let dir = std::env::temp_dir().join(format!("acl-diff-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(path: &Path) -> acl_codegen::ir::Api {
    let g = Generator::new(Settings::default()).generate(path).unwrap();
    g.api
}

fn diff(name: &str, new: &str) -> Vec<Change> {
    let dir = scratch(name);
    std::fs::write(dir.join("old.yaml"), BASE).unwrap();
    std::fs::write(dir.join("new.yaml"), new).unwrap();
    compare(&read(&dir.join("old.yaml")), &read(&dir.join("new.yaml")))
}

/// (case, replace this, with this, expected rule, severity)
const CASES: &[(&str, &str, &str, &str, Severity)] = &[
    ("path-removed", "  /legacy:\n    get:\n      operationId: legacy\n      responses: {'200': {description: ok}}\n", "", "api-path-removed-without-deprecation", Severity::Breaking),
    ("path-removed-deprecated-first", "", "", "", Severity::Info),
    ("deprecated", "      operationId: legacy\n", "      operationId: legacy\n      deprecated: true\n", "api-deprecated", Severity::Warning),
    ("endpoint-added", "components:\n", "  /extra:\n    get:\n      responses: {'200': {description: ok}}\ncomponents:\n", "endpoint-added", Severity::Info),
    ("new-required-param", "        - {name: expand, in: query, schema: {type: string}}\n", "        - {name: expand, in: query, schema: {type: string}}\n        - {name: tenant, in: query, required: true, schema: {type: string}}\n", "new-required-request-parameter", Severity::Breaking),
    ("param-became-required", "{name: expand, in: query, schema", "{name: expand, in: query, required: true, schema", "request-parameter-became-required", Severity::Breaking),
    ("param-moved", "{name: expand, in: query,", "{name: expand, in: header,", "request-parameter-location-changed", Severity::Breaking),
    ("param-removed", "        - {name: expand, in: query, schema: {type: string}}\n", "", "request-parameter-removed", Severity::Warning),
    ("param-type", "{name: expand, in: query, schema: {type: string}}", "{name: expand, in: query, schema: {type: integer}}", "request-property-type-changed", Severity::Breaking),
    ("response-required-removed", "      required: [id, total, status]\n      properties:\n        id: {type: string}\n", "      required: [total, status]\n      properties:\n", "response-required-property-removed", Severity::Breaking),
    ("response-became-optional", "      required: [id, total, status]", "      required: [total, status]", "response-property-became-optional", Severity::Breaking),
    ("response-became-nullable", "        id: {type: string}\n", "        id: {type: string, nullable: true}\n", "response-property-became-nullable", Severity::Breaking),
    ("response-type-changed", "        id: {type: string}\n", "        id: {type: integer}\n", "response-property-type-changed", Severity::Breaking),
    ("response-enum-added-open", "enum: [open, paid]", "enum: [open, paid, refunded]", "response-enum-value-added", Severity::Warning),
    ("response-property-added", "        note: {type: string}\n    NewOrder:", "        note: {type: string}\n        extra: {type: string}\n    NewOrder:", "response-property-added", Severity::Info),
    ("response-loosened", "        total: {type: integer, maximum: 1000}\n        status", "        total: {type: integer, maximum: 5000}\n        status", "response-constraint-loosened", Severity::Breaking),
    ("new-required-request-property", "      required: [total]\n", "      required: [total, kind]\n", "request-property-became-required", Severity::Breaking),
    ("new-required-request-property-added", "      required: [total]\n      properties:\n", "      required: [total, currency]\n      properties:\n        currency: {type: string}\n", "new-required-request-property", Severity::Breaking),
    ("request-tightened", "maxLength: 50", "maxLength: 20", "request-property-constraint-tightened", Severity::Breaking),
    ("request-rule-added", "{name: expand, in: query, schema: {type: string}}", "{name: expand, in: query, schema: {type: string, maxLength: 10}}", "request-property-constraint-added", Severity::Breaking),
    ("response-rules-dropped", "        total: {type: integer, maximum: 1000}\n        status", "        total: {type: integer}\n        status", "response-constraint-loosened", Severity::Breaking),
    ("request-rules-dropped", "note: {type: string, maxLength: 50}", "note: {type: string}", "request-property-constraint-loosened", Severity::Info),
    ("response-rule-added", "        note: {type: string}\n    NewOrder", "        note: {type: string, maxLength: 10}\n    NewOrder", "response-constraint-tightened", Severity::Info),
    ("request-enum-removed", "enum: [a, b]", "enum: [a]", "request-enum-value-removed", Severity::Breaking),
    ("request-media-removed", "          application/json:\n            schema: {$ref: '#/components/schemas/NewOrder'}", "          application/xml:\n            schema: {$ref: '#/components/schemas/NewOrder'}", "request-body-media-type-removed", Severity::Breaking),
    ("success-status-removed", "        '201':\n          description: created", "        '202':\n          description: created", "response-success-status-removed", Severity::Breaking),
    ("success-status-added", "        '404': {description: missing}", "        '404': {description: missing}\n        '206': {description: partial}", "response-success-status-added", Severity::Breaking),
    ("error-status-added", "        '404': {description: missing}", "        '404': {description: missing}\n        '409': {description: conflict}", "response-non-success-status-added", Severity::Warning),
    ("header-removed", "          headers:\n            X-Rate: {required: true, schema: {type: integer}}\n", "", "response-required-header-removed", Severity::Breaking),
    ("servers", "https://api.shop.example/v1", "https://api.shop.example/v2", "servers-changed", Severity::Warning),
    ("operation-id", "operationId: getOrder", "operationId: fetchOrder", "api-operation-id-changed", Severity::Warning),
    ("new-optional-param", "        - {name: expand, in: query, schema: {type: string}}\n", "        - {name: expand, in: query, schema: {type: string}}\n        - {name: page, in: query, schema: {type: integer}}\n", "new-optional-request-parameter", Severity::Info),
    ("new-optional-request-property", "        note: {type: string, maxLength: 50}\n", "        note: {type: string, maxLength: 50}\n        extra: {type: string}\n", "new-optional-request-property", Severity::Info),
    ("request-property-removed", "        note: {type: string, maxLength: 50}\n", "", "request-property-removed", Severity::Warning),
    ("request-enum-added", "enum: [a, b]", "enum: [a, b, c]", "request-enum-value-added", Severity::Info),
    ("response-enum-removed", "enum: [open, paid]", "enum: [open]", "response-enum-value-removed", Severity::Info),
    ("request-constraint-loosened", "note: {type: string, maxLength: 50}", "note: {type: string, maxLength: 100}", "request-property-constraint-loosened", Severity::Info),
    ("response-constraint-tightened", "        total: {type: integer, maximum: 1000}\n        status", "        total: {type: integer, maximum: 500}\n        status", "response-constraint-tightened", Severity::Info),
    ("response-optional-removed", "        note: {type: string}\n", "", "response-optional-property-removed", Severity::Info),
    ("param-style", "{name: expand, in: query, schema: {type: string}}", "{name: expand, in: query, style: spaceDelimited, schema: {type: string}}", "request-parameter-style-changed", Severity::Breaking),
    ("security", "      operationId: getOrder\n", "      operationId: getOrder\n      security: [{apiKey: []}]\n", "api-security-changed", Severity::Warning),
    ("request-widened", "        total: {type: integer, maximum: 1000}\n        kind", "        total: {type: number, maximum: 1000}\n        kind", "type-changed-compatibly", Severity::Info),
    ("new-required-body", "      operationId: legacy\n", "      operationId: legacy\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema: {type: object}\n", "new-required-request-body", Severity::Breaking),
    ("error-status-removed", "        '404': {description: missing}\n", "", "response-non-success-status-removed", Severity::Info),
    ("header-became-optional", "X-Rate: {required: true, schema", "X-Rate: {required: false, schema", "response-header-became-optional", Severity::Breaking),
    ("response-media-removed", "          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Order'}\n        '404'", "          content:\n            text/plain:\n              schema: {type: string}\n        '404'", "response-media-type-removed", Severity::Breaking),
];

#[test]
fn each_rule_has_its_pair() {
    let mut failures = Vec::new();
    for (name, from, to, rule, severity) in CASES {
        if rule.is_empty() {
            continue;
        }
        assert!(BASE.contains(from), "{name}: the base has no `{from}`");
        let changes = diff(name, &BASE.replacen(from, to, 1));
        if !changes
            .iter()
            .any(|c| c.rule == *rule && c.severity == *severity)
        {
            failures.push(format!(
                "{name}: expected {rule} ({severity:?}), got {:#?}",
                changes
                    .iter()
                    .map(|c| (c.rule, c.severity))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_default_on_a_new_required_property_is_not_breaking_and_identical_files_have_no_changes() {
    let changes = diff("same", BASE);
    assert!(changes.is_empty(), "{changes:#?}");
    let with_default = BASE.replacen(
        "      required: [total]\n      properties:\n",
        "      required: [total, currency]\n      properties:\n        currency: {type: string, default: EUR}\n",
        1,
    );
    let changes = diff("default", &with_default);
    assert!(
        !changes.iter().any(|c| c.severity == Severity::Breaking),
        "{changes:#?}"
    );
}

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contracts");
    dir.join("versions").exists().then_some(dir)
}

/// Findings checked by hand against the two documents.
#[test]
#[ignore = "needs ../shared/contracts (.ci/run runs it)"]
fn real_version_pairs_report_what_changed() {
    let Some(dir) = shared() else {
        panic!("needs ../shared/contracts, which is not there");
    };
    let figma = compare(
        &read(&dir.join("versions/figma-0.30.0.openapi-3.1.yaml")),
        &read(&dir.join("openapi/figma.openapi-3.1.yaml")),
    );
    let has = |changes: &[Change], rule: &str, subject: &str, location: &str| {
        changes
            .iter()
            .any(|c| c.rule == rule && c.subject == subject && c.location == location)
    };
    // 0.43.0 moved the file metadata under `file`: what we decoded at the top is gone.
    assert!(has(
        &figma,
        "response-required-property-removed",
        "GET /v1/files/{file_key}/meta",
        "response 200 body.name"
    ));
    // Webhooks v2 now require `context` and `context_id` in the create request.
    assert!(has(
        &figma,
        "new-required-request-property",
        "POST /v2/webhooks",
        "request body.context"
    ));
    assert!(has(
        &figma,
        "new-required-request-property",
        "POST /v2/webhooks",
        "request body.context_id"
    ));
    // `editorType` gained values; the generated enum keeps them as `Unknown`.
    assert!(figma
        .iter()
        .any(|c| c.rule == "response-enum-value-added" && c.severity == Severity::Warning));

    let blockfrost = compare(
        &read(&dir.join("versions/blockfrost-0.1.82.openapi-3.0.yaml")),
        &read(&dir.join("openapi/blockfrost.openapi-3.0.yaml")),
    );
    // Script types gained `plutusV3`; redeemer purposes `vote` and `propose`.
    assert!(has(
        &blockfrost,
        "response-enum-value-added",
        "GET /scripts/{script_hash}",
        "response 200 body.type"
    ));
    // A DRep's metadata `bytes` may now be null.
    assert!(has(
        &blockfrost,
        "response-property-became-nullable",
        "GET /governance/dreps/{drep_id}/metadata",
        "response 200 body.bytes"
    ));
    // Era times became integers: a number type still reads them.
    assert!(!blockfrost
        .iter()
        .any(|c| c.location.ends_with("end.time") && c.severity == Severity::Breaking));
}

const HOOKS: &str = r#"openapi: 3.1.0
info: {title: Hooks, version: '1'}
paths:
  /subscriptions:
    post:
      operationId: subscribe
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, properties: {url: {type: string}}}
      callbacks:
        onEvent:
          '{$request.body#/url}':
            post:
              requestBody:
                content:
                  application/json:
                    schema: {$ref: '#/components/schemas/Event'}
              responses: {'200': {description: ok}}
      responses: {'201': {description: ok}}
webhooks:
  paid:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Event'}
      responses: {'200': {description: ok}}
components:
  schemas:
    Event:
      type: object
      required: [id, kind]
      properties:
        id: {type: string}
        kind: {type: string}
"#;

#[test]
fn webhook_and_callback_payloads_are_judged_like_responses() {
    let dir = scratch("hooks");
    std::fs::write(dir.join("old.yaml"), HOOKS).unwrap();
    std::fs::write(
        dir.join("new.yaml"),
        HOOKS.replace("required: [id, kind]", "required: [id]"),
    )
    .unwrap();
    let changes = compare(&read(&dir.join("old.yaml")), &read(&dir.join("new.yaml")));
    let became_optional = |subject: &str, location: &str| {
        changes.iter().any(|c| {
            c.rule == "response-property-became-optional"
                && c.severity == Severity::Breaking
                && c.subject == subject
                && c.location == location
        })
    };
    assert!(
        became_optional("webhook paid", "payload.kind"),
        "{changes:#?}"
    );
    assert!(
        became_optional(
            "POST /subscriptions",
            "callback onEvent {$request.body#/url}.kind"
        ),
        "{changes:#?}"
    );
}

/// A huge contract against itself: no changes, and it finishes (OpenAI, 2,700 types).
#[test]
fn a_huge_contract_against_itself_has_no_changes() {
    let Some(dir) = shared() else { return };
    let api = read(&dir.join("openapi/openai.openapi-3.1.yaml"));
    let changes = compare(&api, &api);
    assert!(
        changes.is_empty(),
        "{:#?}",
        &changes[..changes.len().min(5)]
    );
}

/// The README lists every rule `diff` reports (rule ids are the kebab-case literals of
/// `src/diff.rs`).
#[test]
fn the_catalogue_is_complete_every_rule_has_a_case_and_the_readme_shows_it() {
    use acl_codegen::diff::RULES;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Every rule id the differ writes is in the catalogue (and `push` asserts the
    // severity in debug builds).
    let source = std::fs::read_to_string(root.join("src/diff/mod.rs")).unwrap();
    let mut written = std::collections::BTreeSet::new();
    for piece in source.split('"').skip(1).step_by(2) {
        let kebab = piece.contains('-')
            && piece
                .split('-')
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()));
        if kebab {
            written.insert(piece);
        }
    }
    let catalogue: std::collections::BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(catalogue.len(), RULES.len(), "an id listed twice");
    assert_eq!(
        written, catalogue,
        "the differ's rules and the catalogue differ"
    );
    // Every rule has a case in this file that expects it.
    let tests = std::fs::read_to_string(root.join("tests/diff.rs")).unwrap();
    let uncovered: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !tests.contains(&format!("\"{id}\"")))
        .collect();
    assert!(uncovered.is_empty(), "rules without a case: {uncovered:?}");
    // The README shows the catalogue as `acl-codegen rules` prints it.
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    assert!(
        readme.contains(&acl_codegen::diff::rules::markdown()),
        "the README's rule table is not `acl-codegen rules`"
    );
}

/// A second base for what `BASE` lacks: webhooks, callbacks, unions, defaults, a nullable
/// and a plain request property, an optional body, a deprecated path.
const BASE2: &str = r#"openapi: 3.1.0
info: {title: Shop, version: '1'}
paths:
  /items:
    post:
      operationId: createItem
      requestBody:
        required: false
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewItem'}
      callbacks:
        onDone:
          '{$request.body#/url}':
            post:
              requestBody:
                content:
                  application/json:
                    schema: {type: object}
              responses: {'200': {description: ok}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
  /old:
    get:
      operationId: old
      deprecated: true
      responses: {'200': {description: ok}}
webhooks:
  itemDone:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {id: {type: string}}}
      responses: {'200': {description: ok}}
components:
  schemas:
    NewItem:
      type: object
      properties:
        name: {$ref: '#/components/schemas/Name'}
        size: {type: [integer, 'null']}
        mode: {type: string, default: fast}
        shape:
          oneOf:
            - {type: string}
            - {type: integer}
            - {type: boolean}
    Name: {type: array, items: {type: string}}
    Item:
      type: object
      properties:
        value:
          oneOf:
            - {type: string}
            - {type: integer}
"#;

/// (case, replace this, with this, expected rule, severity), against `BASE2`.
const CASES2: &[(&str, &str, &str, &str, Severity)] = &[
    ("deprecated-path-removed", "  /old:\n    get:\n      operationId: old\n      deprecated: true\n      responses: {'200': {description: ok}}\n", "", "api-removed-with-deprecation", Severity::Warning),
    ("callback-removed", "      callbacks:\n        onDone:\n          '{$request.body#/url}':\n            post:\n              requestBody:\n                content:\n                  application/json:\n                    schema: {type: object}\n              responses: {'200': {description: ok}}\n", "", "callback-removed", Severity::Warning),
    ("webhook-removed", "webhooks:\n  itemDone:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {type: object, properties: {id: {type: string}}}\n      responses: {'200': {description: ok}}\n", "", "webhook-removed", Severity::Warning),
    ("default-changed", "default: fast", "default: slow", "property-default-changed", Severity::Warning),
    ("body-became-required", "        required: false\n", "        required: true\n", "request-body-became-required", Severity::Breaking),
    ("no-longer-nullable", "size: {type: [integer, 'null']}", "size: {type: integer}", "request-property-no-longer-nullable", Severity::Breaking),
    ("request-branch-removed", "            - {type: boolean}\n", "", "request-union-branch-removed", Severity::Breaking),
    ("response-branch-added", "            - {type: integer}\n", "            - {type: integer}\n            - {type: boolean}\n", "response-union-branch-added", Severity::Breaking),
];

#[test]
fn each_rule_of_the_second_base_has_its_pair() {
    let mut failures = Vec::new();
    for (name, from, to, rule, severity) in CASES2 {
        assert!(BASE2.contains(from), "{name}: the base has no `{from}`");
        let new = if *name == "response-branch-added" {
            // The last occurrence: `Item.value`'s branches.
            let at = BASE2.rfind(from).unwrap();
            format!("{}{to}{}", &BASE2[..at], &BASE2[at + from.len()..])
        } else {
            BASE2.replacen(from, to, 1)
        };
        let dir = scratch(&format!("b2-{name}"));
        std::fs::write(dir.join("old.yaml"), BASE2).unwrap();
        std::fs::write(dir.join("new.yaml"), &new).unwrap();
        let changes = compare(&read(&dir.join("old.yaml")), &read(&dir.join("new.yaml")));
        if !changes
            .iter()
            .any(|c| c.rule == *rule && c.severity == *severity)
        {
            failures.push(format!(
                "{name}: expected {rule} ({severity:?}), got {:#?}",
                changes
                    .iter()
                    .map(|c| (c.rule, c.severity))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
