//! Specification extensions (`x-…`) wherever vendors put them, and byte-order marks:
//! each is skipped without a diagnostic, and the contract reads as it would without it.
//! One case per object kind that may carry extensions among its entries (and a scalar
//! value, the hardest for a reader that expects an object there).

use std::path::PathBuf;

use acl_codegen::{Generator, Settings};

const BASE: &str = r#"openapi: 3.1.0
info: {title: X, version: '1'}
servers:
  - url: 'https://{region}.x.example'
    variables:
      region: {default: eu}
paths:
  /a:
    parameters:
      - {name: q, in: query, schema: {type: string}}
    get:
      operationId: getA
      callbacks:
        onEvent:
          '{$request.query.q}':
            post:
              requestBody:
                content:
                  application/json:
                    schema: {type: object}
              responses:
                '200': {description: ok}
      responses:
        '200':
          description: ok
          headers:
            X-H: {schema: {type: string}}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/A'}
webhooks:
  ping:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses:
        '200': {description: ok}
components:
  schemas:
    A: {type: object, properties: {a: {type: string}}}
  securitySchemes:
    k: {type: apiKey, in: header, name: K}
    o:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://t.example
          scopes: {a: b}
security:
  - k: []
"#;

/// (object kind, insert after this line, the extension line with its indentation)
const CASES: &[(&str, &str, &str)] = &[
    ("document", "info: {title: X, version: '1'}\n", "x-top: 1\n"),
    (
        "server",
        "  - url: 'https://{region}.x.example'\n",
        "    x-srv: 1\n",
    ),
    ("server variable", "      region: {default: eu}\n", ""),
    ("paths", "paths:\n", "  x-codegen-contextRoot: /api\n"),
    ("path item", "  /a:\n", "    x-item: 1\n"),
    ("operation", "      operationId: getA\n", "      x-op: 1\n"),
    ("callbacks map", "      callbacks:\n", "        x-cbs: 1\n"),
    ("callback", "        onEvent:\n", "          x-cb: 1\n"),
    (
        "request body",
        "              requestBody:\n",
        "                x-rb: 1\n",
    ),
    (
        "media type",
        "                  application/json:\n                    schema: {type: object}\n",
        "                    x-mt: 1\n",
    ),
    (
        "responses",
        "      responses:\n        '200':\n          description: ok\n          headers:\n",
        "",
    ),
    (
        "response",
        "          description: ok\n          headers:\n",
        "",
    ),
    ("webhooks", "webhooks:\n", "  x-hooks: 1\n"),
    ("components", "components:\n", "  x-comp: 1\n"),
    (
        "security scheme",
        "    k: {type: apiKey, in: header, name: K}\n",
        "",
    ),
    ("oauth flows", "      flows:\n", "        x-flows: 1\n"),
    (
        "oauth flow",
        "          tokenUrl: https://t.example\n",
        "          x-flow: 1\n",
    ),
];

fn check(name: &str, text: &[u8]) -> (usize, usize, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("acl-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f: PathBuf = dir.join(name);
    std::fs::write(&f, text).unwrap();
    let g = Generator::new(Settings::default()).read(&f).unwrap();
    let shown = g
        .diagnostics
        .items()
        .iter()
        .map(|d| d.to_string())
        .collect();
    (g.api.types.len(), g.api.operations.len(), shown)
}

#[test]
fn extensions_are_skipped_in_every_object_that_may_carry_them() {
    let (types, ops, diags) = check("base.yaml", BASE.as_bytes());
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(ops, 1);
    for (kind, after, ext) in CASES {
        assert!(
            BASE.contains(after),
            "{kind}: the anchor is not in the base"
        );
        let text = match *kind {
            // Entries of a map whose other entries are keyed by status, or fields of
            // an object written inline: put the extension first.
            "responses" => BASE.replace(
                after,
                &format!(
                    "      responses:\n        x-responses: 1\n{}",
                    &after["      responses:\n".len()..]
                ),
            ),
            "response" => BASE.replace(
                after,
                "          description: ok\n          x-response: 1\n          headers:\n",
            ),
            "security scheme" => BASE.replace(
                after,
                "    k: {type: apiKey, in: header, name: K, x-sec: 1}\n",
            ),
            "server variable" => BASE.replace(after, "      region: {default: eu, x-var: 1}\n"),
            _ => BASE.replacen(after, &format!("{after}{ext}"), 1),
        };
        assert_ne!(text, BASE, "{kind}: nothing inserted");
        let name = format!("{}.yaml", kind.replace(' ', "-"));
        let (t, o, diags) = check(&name, text.as_bytes());
        assert!(diags.is_empty(), "{kind}: {diags:#?}");
        assert_eq!(
            (t, o),
            (types, ops),
            "{kind}: the contract reads differently"
        );
    }
}

#[test]
fn swagger_2_extensions_are_skipped_too() {
    let text = r#"swagger: '2.0'
info: {title: S, version: '1', x-i: 1}
x-top: 1
host: s.example
paths:
  x-root: /api
  /a:
    x-pi: 1
    get:
      operationId: getA
      x-op: 1
      parameters:
        - {name: q, in: query, type: string, x-p: 1}
      responses:
        x-r: 1
        '200':
          description: ok
          x-resp: 1
          schema: {$ref: '#/definitions/A'}
          headers:
            X-H: {type: string, x-h: 1}
definitions:
  A: {type: object, properties: {a: {type: string}}, x-d: 1}
securityDefinitions:
  k: {type: apiKey, in: header, name: K, x-s: 1}
"#;
    let (types, ops, diags) = check("swagger.yaml", text.as_bytes());
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!((types, ops), (1, 1));
}

#[test]
fn a_byte_order_mark_is_skipped_in_json_and_yaml() {
    let json = "\u{feff}{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"B\",\"version\":\"1\"},\"paths\":{\"/a\":{\"get\":{\"responses\":{\"204\":{\"description\":\"ok\"}}}}}}";
    let (_, ops, diags) = check("bom.json", json.as_bytes());
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(ops, 1);
    let yaml = "\u{feff}openapi: 3.0.3\ninfo: {title: B, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '204': {description: ok}\n";
    let (_, ops, diags) = check("bom.yaml", yaml.as_bytes());
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(ops, 1);
}

#[test]
fn the_event_name_extension_is_a_json_pointer_or_an_error_at_it() {
    let with = |line: &str| BASE.replacen("paths:\n", &format!("{line}\npaths:\n"), 1);
    let (_, _, diags) = check(
        "event-name-ok.yaml",
        with("x-acl-event-name: /type").as_bytes(),
    );
    assert!(diags.is_empty(), "{diags:?}");
    let (_, _, diags) = check(
        "event-name-bad.yaml",
        with("x-acl-event-name: type").as_bytes(),
    );
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0].starts_with("error[bad-event-name]") && diags[0].contains("#/x-acl-event-name"),
        "{}",
        diags[0]
    );
}
