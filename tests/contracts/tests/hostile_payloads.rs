//! Payloads written to make decoding slow or its errors huge: unions whose branches
//! share a recursive property (exponential without memoisation), invalid nested unions
//! (an error message per branch per level), a 100 MB string that breaks a pattern.
//! Work is measured by counting branch decodes, never by the clock.

use acl_contract_tests::client::types::NewCharge;
use acl_contract_tests::unions::types::Chain;
use acl_runtime::boundary::union::branches_tried;
use acl_runtime::from_json;
use proptest::prelude::*;

/// `{"next": {"next": ... {"left": true} ..., "left": true}, "left": true}`, `depth`
/// levels; the innermost is `leaf`.
fn chain(depth: usize, leaf: &str) -> String {
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str(r#"{"next": "#);
    }
    s.push_str(leaf);
    for _ in 0..depth {
        s.push_str(r#", "left": true}"#);
    }
    s
}

fn tried(f: impl FnOnce()) -> u64 {
    let before = branches_tried();
    f();
    branches_tried() - before
}

#[test]
fn nested_unions_sharing_a_recursive_property_decode_in_linear_work() {
    // 2^40 branch decodes without memoisation; a handful per level with it.
    let payload = chain(40, r#"{"left": true}"#);
    let n = tried(|| {
        let c: Chain = from_json(payload.as_bytes()).unwrap();
        assert!(matches!(c, Chain::Left(_)));
    });
    assert!(n <= 2 * 41, "{n} branch decodes for 41 unions");
}

#[test]
fn an_invalid_deeply_nested_union_has_a_bounded_message() {
    let payload = chain(30, r#"{"up": true}"#);
    let mut message = String::new();
    let n = tried(|| {
        let e = from_json::<Chain>(payload.as_bytes()).unwrap_err();
        message = e.to_string();
    });
    assert!(n <= 2 * 31, "{n} branch decodes for 31 unions");
    assert!(
        message.len() < 8 << 10,
        "{} bytes: {message:.300}",
        message.len()
    );
    assert!(
        message.contains("fits no branch of Chain"),
        "{message:.300}"
    );
}

#[test]
fn a_huge_string_that_breaks_a_pattern_is_not_copied_into_the_error() {
    // `currency` is `^[A-Z]{3}$`, with no maxLength.
    let big = "a".repeat(100 << 20);
    let payload = format!(r#"{{"amount": 1, "currency": "{big}"}}"#);
    let e = from_json::<NewCharge>(payload.as_bytes()).unwrap_err();
    let message = e.to_string();
    assert!(message.len() < 1024, "{} bytes", message.len());
    assert!(message.contains("104857600 bytes"), "{message}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the levels mix (each `left` or `right`, valid or not at the leaf), the
    /// branch decodes stay within two per union in the payload.
    #[test]
    fn union_decoding_work_is_linear_in_the_nesting(
        sides in proptest::collection::vec(any::<bool>(), 0..60),
        leaf_ok in any::<bool>(),
    ) {
        let leaf = if leaf_ok { r#"{"right": false}"# } else { r#"{"none": 1}"# };
        let mut s = String::new();
        for _ in &sides {
            s.push_str(r#"{"next": "#);
        }
        s.push_str(leaf);
        for left in sides.iter().rev() {
            s.push_str(if *left { r#", "left": true}"# } else { r#", "right": true}"# });
        }
        let unions = sides.len() as u64 + 1;
        let mut ok = false;
        let n = tried(|| ok = from_json::<Chain>(s.as_bytes()).is_ok());
        prop_assert_eq!(ok, leaf_ok);
        prop_assert!(n <= 2 * unions, "{} branch decodes for {} unions", n, unions);
    }
}
