//! Differential validation against the JSON-Schema-Test-Suite (draft-07 and 2020-12):
//! deserialising each instance into the generated type must accept exactly when the
//! suite says the instance is valid.
//!
//! Three deliberate differences are counted and printed, each recognised by a
//! mechanical rule, never by the name of a case:
//! - `untyped`: a schema without `type` whose keywords say what the value is
//!   (`properties` → object, `items` → array) is typed as that: acl refuses other
//!   kinds of value, where JSON Schema lets them through.
//! - `integer-float`: `1.0` is an integer in JSON Schema; Rust integers refuse it.
//! - `format-annotation`: in 2020-12 `format` is only an annotation; acl maps formats
//!   to types (`date-time` to `DateTime`) and so asserts them.
//!
//! Any other disagreement fails the test.

use acl_contract_tests::suite::{Case, AVAILABLE, CASES, UNSUPPORTED};

fn deviation(case: &Case, error: &str) -> Option<&'static str> {
    let type_mismatch = error.contains("invalid type:") || error.contains("invalid length");
    if !case.typed && case.valid && type_mismatch {
        return Some("untyped");
    }
    if case.valid && error.contains("floating point `") && error.contains(".0`") {
        return Some("integer-float");
    }
    if case.draft == "draft2020-12" && case.file == "format" && case.valid {
        return Some("format-annotation");
    }
    None
}

#[test]
#[ignore = "needs ../shared/contracts (the JSON-Schema-Test-Suite; .ci/run runs it)"]
fn generated_types_agree_with_the_test_suite() {
    if !AVAILABLE {
        panic!(
            "needs ../shared/contracts/jsonschema/JSON-Schema-Test-Suite (or \
             ACL_SHARED_CONTRACTS) when this crate is built"
        );
    }
    let mut agree = 0;
    let mut deviations = std::collections::BTreeMap::<&str, usize>::new();
    let mut disagreements = Vec::new();
    for case in CASES {
        let result = (case.decode)(case.data);
        if result.is_ok() == case.valid {
            agree += 1;
            continue;
        }
        let error = result.as_ref().err().cloned().unwrap_or_default();
        if let Some(kind) = deviation(case, &error) {
            *deviations.entry(kind).or_default() += 1;
            continue;
        }
        disagreements.push(format!(
            "{}/{}: {} / {}: suite says {}, acl {} ({error})\n    data: {}",
            case.draft,
            case.file,
            case.group,
            case.test,
            if case.valid { "valid" } else { "invalid" },
            if result.is_ok() {
                "accepted"
            } else {
                "refused"
            },
            case.data
        ));
    }
    let mut by_file = std::collections::BTreeMap::<String, usize>::new();
    for u in UNSUPPORTED {
        *by_file
            .entry(format!("{}/{}", u.draft, u.file))
            .or_default() += 1;
    }
    println!("unsupported schemas (not generated; reasons in suite::UNSUPPORTED):");
    for (file, n) in &by_file {
        println!("  {file}: {n}");
    }
    for (kind, n) in &deviations {
        println!("deliberate difference `{kind}`: {n} instance(s)");
    }
    println!(
        "agreement: {agree} of {} instances in supported schemas; {} deliberate differences; {} disagreements; {} schemas unsupported",
        CASES.len(),
        deviations.values().sum::<usize>(),
        disagreements.len(),
        UNSUPPORTED.len()
    );
    assert!(
        CASES.len() > 500,
        "too few cases generated: {}",
        CASES.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
