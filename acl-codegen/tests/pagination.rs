//! `x-acl-pagination` is checked against the operation it is on: each way it can be
//! wrong is an error at the key that is wrong; a vendor's extension that does not fit
//! is a warning and detection goes on; the document's `false` turns detection off.
//! (Every recognised style is in the `pagination` snapshot, and runs against a
//! loopback vendor in `tests/contracts/tests/pagination.rs`.)

use acl_codegen::{Generator, Settings, Severity};

fn contract(extension: &str, document: &str) -> String {
    format!(
        r#"openapi: 3.0.3
info: {{title: X, version: '1'}}
{document}
paths:
  /things:
    get:
      operationId: listThings
{extension}
      parameters:
        - {{name: cursor, in: query, schema: {{type: string}}}}
        - {{name: offset, in: query, schema: {{type: integer}}}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  things: {{type: array, items: {{type: string}}}}
                  next_cursor: {{type: string}}
                  count: {{type: integer}}
                  more: {{type: boolean}}
"#
    )
}

/// The diagnostics of `text` as `(severity, code, pointer, message)`.
fn check(text: &str) -> Vec<(Severity, &'static str, String, String)> {
    let dir = tempdir();
    let path = dir.join("c.yaml");
    std::fs::write(&path, text).unwrap();
    let g = Generator::new(Settings::default()).read(&path).unwrap();
    g.diagnostics
        .items()
        .iter()
        .map(|d| {
            (
                d.severity,
                d.code,
                d.location.pointer.clone(),
                d.message.clone(),
            )
        })
        .collect()
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "pagination-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const AT: &str = "/paths/~1things/get/x-acl-pagination";

#[test]
fn shapes_are_recognised_and_noted_at_the_operation() {
    let d = check(&contract("", ""));
    assert_eq!(d.len(), 1, "{d:?}");
    let (severity, code, pointer, message) = &d[0];
    assert_eq!((*severity, *code), (Severity::Note, "paginated"));
    assert_eq!(pointer, "/paths/~1things/get");
    assert!(
        message.contains("cursor at `/next_cursor` sent as `cursor`")
            && message.contains("items at `/things`"),
        "{message}"
    );
}

#[test]
fn an_explicit_setting_that_does_not_fit_is_an_error_at_its_key() {
    let cases = [
        (
            "style: cursor, param: page, next: /next_cursor",
            "/param",
            "`page` is not a query parameter",
        ),
        (
            "style: cursor, param: cursor, next: /nope",
            "/next",
            "the success body has no `/nope`",
        ),
        (
            "style: cursor, param: cursor, next: /things",
            "/next",
            "is not a string or integer",
        ),
        (
            "style: cursor, param: cursor, next: /next_cursor, has_more: /count",
            "/has_more",
            "is not a boolean",
        ),
        (
            "style: cursor, param: cursor",
            "",
            "`next` (a field of the page) or `from_last_item`",
        ),
        (
            "style: offset, param: offset, items: /count",
            "/items",
            "no list at `/count`",
        ),
        (
            "style: offset, param: offset, total: /more",
            "/total",
            "is not an integer",
        ),
        ("style: sideways", "", "unknown variant `sideways`"),
        (
            "style: offset, param: offset, totl: /count",
            "",
            "unknown field `totl`",
        ),
        ("style: next-url", "", "the style needs `next`"),
    ];
    for (setting, key, expected) in cases {
        let d = check(&contract(
            &format!("      x-acl-pagination: {{{setting}}}"),
            "",
        ));
        let errors: Vec<_> = d.iter().filter(|d| d.0 == Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{setting}: {d:?}");
        let (_, code, pointer, message) = errors[0];
        assert_eq!(*code, "bad-pagination", "{setting}");
        assert_eq!(pointer, &format!("{AT}{key}"), "{setting}");
        assert!(message.contains(expected), "{setting}: {message}");
        assert!(!d.iter().any(|d| d.1 == "paginated"), "{setting}");
    }
}

#[test]
fn false_turns_recognition_off_on_the_operation_or_the_document() {
    let d = check(&contract("      x-acl-pagination: false", ""));
    assert!(d.is_empty(), "{d:?}");
    let d = check(&contract("", "x-acl-pagination: false"));
    assert!(d.is_empty(), "{d:?}");
    let d = check(&contract("", "x-acl-pagination: 3"));
    assert_eq!(d[0].1, "bad-pagination", "{d:?}");
    assert_eq!(d[0].2, "/x-acl-pagination");
}

#[test]
fn a_vendor_extension_that_does_not_fit_is_a_warning_and_shapes_still_count() {
    let d = check(&contract(
        "      x-ms-pageable: {nextLinkName: nextLink}",
        "",
    ));
    let warning = d
        .iter()
        .find(|d| d.1 == "pagination-unrecognised")
        .expect("a warning");
    assert_eq!(warning.0, Severity::Warning);
    assert_eq!(warning.2, "/paths/~1things/get/x-ms-pageable");
    assert!(warning.3.contains("no list at `/value`"), "{}", warning.3);
    assert!(d.iter().any(|d| d.1 == "paginated"), "{d:?}");
    // `nextLinkName: null` says one page holds everything.
    let d = check(&contract("      x-ms-pageable: {nextLinkName: null}", ""));
    assert!(d.is_empty(), "{d:?}");
}
