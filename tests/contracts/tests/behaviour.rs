//! What generated boundary types do with real payloads: accept what the contract
//! allows, refuse the rest with the JSON path and the rule, keep what vendors add.

use acl_contract_tests::{
    allof, constraints, enums, external, formats, recursion, schema2020, structs, unions,
};
use acl_runtime::{from_json, BoundaryError};
use serde_json::json;

fn refuse<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    payload: serde_json::Value,
) -> BoundaryError {
    from_json::<T>(payload.to_string().as_bytes()).expect_err("the payload breaks the contract")
}

fn accept<T: serde::de::DeserializeOwned>(payload: serde_json::Value) -> T {
    from_json::<T>(payload.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn constraints_are_enforced_with_path_and_rule() {
    use constraints::types::*;
    let order: Order =
        accept(json!({"sku": "AB-12", "quantity": 3, "price": 9.99, "tags": ["a", "b"]}));
    assert_eq!(order.sku.as_str(), "AB-12");
    assert_eq!(*order.quantity, 3);

    let e = refuse::<Order>(json!({"sku": "ab-12", "quantity": 3}));
    assert_eq!(e.path, "$.sku");
    assert_eq!(e.rule(), Some("pattern"));

    let e = refuse::<Order>(json!({"sku": "AB-1234567", "quantity": 3}));
    assert_eq!((e.path.as_str(), e.rule()), ("$.sku", Some("maxLength")));

    let e = refuse::<Order>(json!({"sku": "AB-1", "quantity": 0}));
    assert_eq!((e.path.as_str(), e.rule()), ("$.quantity", Some("minimum")));

    let e = refuse::<Order>(json!({"sku": "AB-1", "quantity": 1, "price": 0}));
    assert_eq!(e.rule(), Some("exclusiveMinimum"));
    let e = refuse::<Order>(json!({"sku": "AB-1", "quantity": 1, "price": 1.001}));
    assert_eq!(e.rule(), Some("multipleOf"));

    let e = refuse::<Order>(json!({"sku": "AB-1", "quantity": 1, "tags": ["a", "a"]}));
    assert_eq!((e.path.as_str(), e.rule()), ("$.tags", Some("uniqueItems")));
    let e = refuse::<Order>(json!({"sku": "AB-1", "quantity": 1, "tags": []}));
    assert_eq!(e.rule(), Some("minItems"));

    let e = refuse::<Order>(
        json!({"sku": "AB-1", "quantity": 1, "lines": [{"sku": "AB-1"}, {"sku": "x"}]}),
    );
    assert_eq!(e.path, "$.lines[1].sku");

    let e = refuse::<Order>(json!({"quantity": 1}));
    assert!(e.message.contains("missing field `sku`"), "{e}");

    let e = refuse::<Labels>(json!({}));
    assert_eq!(e.rule(), Some("minProperties"));
    let e = refuse::<Labels>(json!({"a": "1", "b": "2", "c": "3"}));
    assert_eq!(e.rule(), Some("maxProperties"));
}

#[test]
fn validated_values_are_checked_when_built_too() {
    use constraints::types::*;
    assert!(Sku::new("AB-1".to_string()).is_ok());
    let v = Sku::new("nope".to_string()).unwrap_err();
    assert_eq!(v.rule, "pattern");
    assert_eq!(
        Sku::try_from("A1".to_string()).unwrap_err().rule,
        "minLength"
    );
    assert_eq!(Quantity::new(101).unwrap_err().rule, "maximum");
    assert_eq!(
        Price::new(1_000_000.0).unwrap_err().rule,
        "exclusiveMaximum"
    );
    assert_eq!(Tags::new(vec!["a".into(); 4]).unwrap_err().rule, "maxItems");
    let order = Order {
        sku: Sku::new("AB-1".into()).unwrap(),
        quantity: Quantity::new(2).unwrap(),
        price: None,
        tags: None,
        note: Some(OrderNote::new("short".into()).unwrap()),
        lines: None,
    };
    let text = serde_json::to_string(&order).unwrap();
    assert_eq!(text, r#"{"sku":"AB-1","quantity":2,"note":"short"}"#);
}

#[test]
fn enums_keep_unknown_values_and_symbols_stay_apart() {
    use enums::types::*;
    assert_eq!(accept::<Status>(json!("past_due")), Status::PastDue);
    assert_eq!(
        accept::<Status>(json!("paused")),
        Status::Unknown("paused".into())
    );
    assert_eq!(
        serde_json::to_value(Status::Unknown("paused".into())).unwrap(),
        json!("paused")
    );
    assert_eq!(
        accept::<Reaction>(json!("reactions-+1")),
        Reaction::ReactionsPlus1
    );
    assert_eq!(
        accept::<Reaction>(json!("reactions--1")),
        Reaction::ReactionsMinus1
    );
    assert_eq!(accept::<Reaction>(json!("")), Reaction::Empty);
    assert_eq!(Reaction::Minus1.as_str(), "-1");
    assert_eq!(accept::<Priority>(json!(2)), Priority::V2);
    // A nullable definition is `Option<MaybeColor>` where it is used.
    assert_eq!(accept::<Option<MaybeColor>>(json!(null)), None);
    assert_eq!(
        accept::<Option<MaybeColor>>(json!("red")),
        Some(MaybeColor::Red)
    );
    accept::<Mixed>(json!(true));
    assert_eq!(refuse::<Mixed>(json!(2)).rule(), Some("enum"));
    accept::<Kind>(json!("invoice"));
    assert_eq!(refuse::<Kind>(json!("receipt")).rule(), Some("const"));
}

#[test]
fn unions_pick_the_right_branch_or_say_why_not() {
    use unions::types::*;
    match accept::<Pet>(json!({"pet_type": "kitty", "meows": true})) {
        Pet::Cat(c) => assert!(c.meows),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        accept::<Pet>(json!({"pet_type": "dog", "barks": false})),
        Pet::Dog(_)
    ));
    // Inside a branch, the path still leads to the bad value.
    let e = refuse::<Pet>(json!({"pet_type": "kitty", "meows": 3}));
    assert_eq!(e.path, "$.meows", "{e}");
    let e = refuse::<recursion::types::Expr>(
        json!({"left": {"lit": 1}, "right": {"left": {"lit": "x"}, "right": {"lit": 2}}}),
    );
    assert_eq!(e.rule(), Some("oneOf"), "{e}");
    let e = refuse::<Pet>(json!({"pet_type": "parrot"}));
    assert_eq!(e.rule(), Some("discriminator"), "{e}");
    assert!(e.message.contains("kitty, dog"), "{e}");

    // No mapping: the values the branches pin their tag to, and the schema names.
    assert!(matches!(
        accept::<Item>(json!({"kind": "note", "text": "hi"})),
        Item::Note(_)
    ));
    assert!(matches!(
        accept::<Item>(json!({"kind": "photo", "url": "u"})),
        Item::Photo(_)
    ));
    // Open enums do not make a oneOf ambiguous: branches are tried closed first.
    assert!(matches!(
        accept::<ToolChoice>(json!({"type": "function", "name": "lookup"})),
        ToolChoice::FunctionTool(_)
    ));
    assert!(matches!(
        accept::<ToolChoice>(json!({"type": "web_search"})),
        ToolChoice::HostedTool(_)
    ));
    // A value no branch lists still fits, open, where it can.
    match accept::<ToolChoice>(json!({"type": "code_interpreter"})) {
        ToolChoice::HostedTool(h) => assert_eq!(h.type_.unwrap().as_str(), "code_interpreter"),
        other => panic!("{other:?}"),
    }
    // The schema name routes too, and the branch's own rule then has the last word.
    let e = refuse::<Item>(json!({"kind": "Photo", "url": "u"}));
    assert_eq!(e.rule(), Some("const"), "{e}");
    assert!(matches!(
        accept::<Shape>(json!({"radius": 1.5})),
        Shape::Circle(_)
    ));
    let e = refuse::<Shape>(json!({"radius": 1, "side": 2}));
    assert_eq!(e.rule(), Some("oneOf"), "{e}");

    assert_eq!(accept::<IdOrName>(json!(7)), IdOrName::I64(7));
    assert_eq!(
        accept::<IdOrName>(json!("seven")),
        IdOrName::String("seven".into())
    );
    assert_eq!(accept::<MaybeCat>(json!(null)), None);

    assert!(matches!(
        accept::<StringOrNumber>(json!("ab")),
        StringOrNumber::String(_)
    ));
    assert!(refuse::<StringOrNumber>(json!("a"))
        .message
        .contains("minLength"));
    assert!(refuse::<StringOrNumber>(json!(-1))
        .message
        .contains("minimum"));
}

#[test]
fn absent_null_and_defaults_are_told_apart() {
    use structs::types::*;
    let base = json!({"id": "a1", "type": "personal", "closed_at": null});
    let a: Account = accept(base.clone());
    assert_eq!(a.nickname, None, "absent");
    assert_eq!(a.limit, 100, "default applied");
    assert!(a.active);
    assert_eq!(a.closed_at, None);
    let mut with_null = base.clone();
    with_null["nickname"] = json!(null);
    let nulled = accept::<Account>(with_null);
    assert_eq!(nulled.nickname, Some(None), "null");
    // Written back as read: null stays null, absent stays absent, required nullable
    // fields are written even when null, defaults are written.
    let back = serde_json::to_value(&nulled).unwrap();
    assert_eq!(back["nickname"], json!(null));
    assert_eq!(back["closed_at"], json!(null));
    assert_eq!(back["limit"], json!(100));
    assert!(serde_json::to_value(&a).unwrap().get("nickname").is_none());
    let mut with_value = base.clone();
    with_value["nickname"] = json!("Al");
    with_value["closed_at"] = json!("2024-01-02T03:04:05Z");
    with_value["display-name"] = json!("Al B");
    let a: Account = accept(with_value);
    assert_eq!(a.nickname, Some(Some("Al".into())));
    assert_eq!(a.display_name.as_deref(), Some("Al B"));
    assert_eq!(a.type_, "personal");
    assert!(a.closed_at.is_some());
    // Round trip keeps absent fields absent and the wire names.
    let back = serde_json::to_value(&a).unwrap();
    assert_eq!(back["display-name"], json!("Al B"));
    assert!(back.get("owner").is_none());

    let e = refuse::<Account>(
        json!({"id": "a", "type": "t", "closed_at": null, "owner": {"name": "x", "age": 3}}),
    );
    assert_eq!(e.path, "$.owner.age");
    assert!(e.message.contains("unknown field `age`"), "{e}");
    let e = refuse::<Account>(
        json!({"id": "a", "type": "t", "closed_at": null, "owner": {"name": "x", "email": "not-an-email"}}),
    );
    assert_eq!(
        (e.path.as_str(), e.rule()),
        ("$.owner.email", Some("format"))
    );

    let x: Extensible = accept(json!({"known": "k", "extra": 5}));
    assert_eq!(x.additional_properties.get("extra"), Some(&5));
    assert_eq!(
        serde_json::to_value(&x).unwrap(),
        json!({"known": "k", "extra": 5}),
        "extra properties written back beside the known ones"
    );
    assert!(from_json::<Extensible>(br#"{"extra": "five"}"#).is_err());
}

#[test]
fn formats_become_real_types() {
    use formats::types::*;
    let f: Formats = accept(json!({
        "at": "2024-05-06T07:08:09+02:00", "day": "2024-05-06", "id": "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "home": "https://example.com/x", "email": "a@example.com", "v4": "10.0.0.1", "v6": "::1",
        "blob": "aGVsbG8=", "small": 5, "big": 9007199254740993i64, "ratio": 0.5, "precise": 0.25, "custom": "anything"
    }));
    assert_eq!(f.blob.unwrap().0, b"hello");
    assert_eq!(f.day.unwrap().to_string(), "2024-05-06");
    assert_eq!(f.big, Some(9007199254740993));
    assert_eq!(refuse::<Formats>(json!({"id": "nope"})).path, "$.id");
    assert_eq!(refuse::<Formats>(json!({"at": "yesterday"})).path, "$.at");
    assert_eq!(
        refuse::<Formats>(json!({"small": 3_000_000_000i64})).path,
        "$.small"
    );
}

#[test]
fn recursion_composition_tuples_and_external_files() {
    let n: recursion::types::Node =
        accept(json!({"value": "a", "parent": {"value": "b"}, "children": [{"value": "c"}]}));
    assert_eq!(n.parent.unwrap().value, "b");
    let e: recursion::types::Expr =
        accept(json!({"left": {"lit": 1}, "right": {"left": {"lit": 2}, "right": {"lit": 3}}}));
    assert!(matches!(e, recursion::types::Expr::Add(_)));
    accept::<recursion::types::Nested>(json!([[], [[]]]));

    let i: allof::types::Invoice = accept(json!({"id": "i1", "total": 5}));
    assert_eq!(i.id, "i1");
    assert_eq!(
        refuse::<allof::types::Invoice>(json!({"id": "i1", "total": -1})).rule(),
        Some("minimum")
    );
    assert_eq!(
        refuse::<allof::types::Bounded>(json!(11)).rule(),
        Some("maximum")
    );
    assert_eq!(
        refuse::<allof::types::Bounded>(json!(0)).rule(),
        Some("minimum")
    );

    let ev: schema2020::types::Event =
        accept(json!({"kind": "event", "point": [1.0, 2.5], "labels": null}));
    assert_eq!(ev.point, (1.0, 2.5));
    assert!(
        from_json::<schema2020::types::Event>(br#"{"kind": "event", "point": [1, 2, 3]}"#).is_err()
    );

    let w: external::types::Widget =
        accept(json!({"id": "w", "part": {"name": "p", "sub": {"name": "q"}}}));
    assert_eq!(w.part.unwrap().sub.unwrap().name.as_deref(), Some("q"));
}

#[test]
fn raw_payloads_are_checked_against_the_original_schema() {
    use structs::types::Account;
    let good = json!({"id": "a", "type": "t", "closed_at": null});
    assert_eq!(
        acl_runtime::boundary::raw::validate::<Account>(&good).unwrap(),
        Ok(())
    );
    let bad = json!({"id": 5, "type": "t", "closed_at": "x", "limit": "many"});
    let violations = acl_runtime::boundary::raw::validate::<Account>(&bad)
        .unwrap()
        .unwrap_err();
    let paths: Vec<&str> = violations
        .iter()
        .map(|v| v.instance_path.as_str())
        .collect();
    assert!(paths.contains(&"/id"), "{violations:?}");
    assert!(paths.contains(&"/limit"), "{violations:?}");
}

#[test]
fn what_is_not_enforced_is_kept_not_lost() {
    use acl_contract_tests::unsupported::types::*;
    let c: Conditional = accept(json!({"country": "NL", "x-note": "kept", "other": 1}));
    assert_eq!(c.additional_properties.get("x-note"), Some(&json!("kept")));
    assert_eq!(c.additional_properties.get("other"), Some(&json!(1)));
    let r: Remote = accept(json!({"address": {"street": "Main"}}));
    assert_eq!(r.address, Some(json!({"street": "Main"})));
    // The raw check still sees the rule the type could not express.
    let _: NotString = accept(json!("a string"));
    let violations = acl_runtime::boundary::raw::validate_at(
        &CONTRACT,
        schema_refs::NotString,
        &json!("a string"),
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(violations.len(), 1);
}

#[test]
fn a_narrowing_allof_part_is_left_to_the_raw_check() {
    use acl_contract_tests::allof::types::*;
    let _: Narrowed = accept(json!({"id": "abcd"}));
    let v = acl_runtime::boundary::raw::validate::<Narrowed>(&json!({"id": "abcd"}))
        .unwrap()
        .unwrap_err();
    assert_eq!(v[0].instance_path, "/id");
}
