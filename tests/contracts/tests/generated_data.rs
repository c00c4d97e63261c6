//! `acl_runtime::testing::data` against every snapshot contract: each value generated for
//! a named schema passes the original schema (checked with the `jsonschema` crate), or
//! the generator says why it has none; it never hands out a value the contract refuses.
//! And generated values decode into the generated types.

use acl_contract_tests as snapshots;
use acl_runtime::testing::data::Generator;
use acl_runtime::Contract;
use serde_json::Value;

/// Every named schema of a contract: `uri#pointer` for each entry of its definitions.
fn named(contract: &'static Contract) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (uri, text) in contract.documents {
        let doc: Value = serde_json::from_str(text).unwrap();
        for section in ["/components/schemas", "/definitions", "/$defs"] {
            if let Some(Value::Object(defs)) = doc.pointer(section) {
                for name in defs.keys() {
                    let escaped = name.replace('~', "~0").replace('/', "~1");
                    out.push(&*Box::leak(
                        format!("{uri}#{section}/{escaped}").into_boxed_str(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn generated_values_pass_the_original_schema() {
    let contracts: &[(&str, &'static Contract)] = &[
        ("allof", &snapshots::allof::types::CONTRACT),
        ("client", &snapshots::client::types::CONTRACT),
        ("constraints", &snapshots::constraints::types::CONTRACT),
        ("enums", &snapshots::enums::types::CONTRACT),
        ("events", &snapshots::events::types::CONTRACT),
        ("formats", &snapshots::formats::types::CONTRACT),
        ("pagination", &snapshots::pagination::types::CONTRACT),
        ("recursion", &snapshots::recursion::types::CONTRACT),
        ("schema2020", &snapshots::schema2020::types::CONTRACT),
        ("structs", &snapshots::structs::types::CONTRACT),
        ("swagger2", &snapshots::swagger2::types::CONTRACT),
        ("unions", &snapshots::unions::types::CONTRACT),
    ];
    let (mut generated, mut declined, mut broke) = (0, Vec::new(), 0);
    for (name, contract) in contracts {
        let g = Generator::new(contract).unwrap();
        let schemas = named(contract);
        assert!(!schemas.is_empty(), "{name}: no named schemas");
        for schema in schemas {
            for seed in 0..20 {
                match g.value(schema, seed) {
                    Ok(v) => {
                        let verdict = acl_runtime::boundary::raw::validate_at(contract, schema, &v)
                            .unwrap_or_else(|e| panic!("{name}: {e}"));
                        assert!(
                            verdict.is_ok(),
                            "{name}: {schema} (seed {seed}): the generated {v} breaks the contract: {:?}",
                            verdict.unwrap_err()
                        );
                        generated += 1;
                    }
                    Err(e) => declined.push(format!("{name}: {e}")),
                }
                // And a value that breaks one rule is refused for it.
                if let Some((bad, broken)) = g.invalid(schema, seed) {
                    let verdict =
                        acl_runtime::boundary::raw::validate_at(contract, schema, &bad).unwrap();
                    assert!(
                        verdict.is_err(),
                        "{name}: {schema}: {bad} breaks `{}` at {} but passes",
                        broken.rule,
                        broken.pointer
                    );
                    broke += 1;
                }
            }
        }
    }
    declined.dedup();
    println!("{generated} values generated; declined: {declined:#?}");
    assert!(generated > 600, "{generated}");
    assert!(broke > 300, "{broke} invalid values");
    assert!(
        declined.len() * 10 <= generated / 20,
        "the generator declines too often: {declined:#?}"
    );
}

#[test]
fn generated_values_decode_into_the_generated_types() {
    use snapshots::client::types;
    let g = Generator::new(&types::CONTRACT).unwrap();
    for seed in 0..20 {
        let charge = g.value(types::schema_refs::Charge, seed).unwrap();
        let decoded: types::Charge =
            acl_runtime::from_value(&charge).unwrap_or_else(|e| panic!("{charge}: {e}"));
        assert_eq!(decoded.id, charge["id"].as_str().unwrap());
    }
    let g = Generator::new(&snapshots::unions::types::CONTRACT).unwrap();
    let refs = named(&snapshots::unions::types::CONTRACT);
    assert!(refs.iter().any(|r| g.value(r, 3).is_ok()));
}

/// The dev contracts (`../shared/contracts`): for each, its named schemas (up to 150,
/// in order), a value each that passes the original schema, or a reason.
#[test]
#[ignore = "needs ../shared/contracts (.ci/run runs it)"]
fn generated_values_pass_the_schemas_of_every_dev_contract() {
    let root = match std::env::var_os("ACL_SHARED_CONTRACTS") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/contracts"),
    };
    let dir = root.join("openapi");
    assert!(
        dir.is_dir(),
        "needs ../shared/contracts (or ACL_SHARED_CONTRACTS)"
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    if let Ok(only) = std::env::var("ACL_ONLY") {
        files.retain(|f| f.to_string_lossy().contains(&only));
    }
    let mut report = Vec::new();
    for file in files {
        let g = acl_codegen::Generator::new(acl_codegen::Settings::default())
            .read(&file)
            .unwrap();
        let dialect = match &g.api.kind {
            Some(k) => k.dialect().to_string(),
            None => "2020-12".into(),
        };
        let documents: Vec<(&'static str, &'static str)> = g
            .documents
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let uri = acl_codegen::emit::types::document_uri(i);
                (
                    &*Box::leak(uri.into_boxed_str()),
                    &*Box::leak(text.clone().into_boxed_str()),
                )
            })
            .collect();
        let contract: &'static Contract = Box::leak(Box::new(Contract {
            documents: Box::leak(documents.into_boxed_slice()),
            dialect: Box::leak(dialect.into_boxed_str()),
        }));
        let gen = Generator::new(contract).unwrap();
        let (mut ok, mut declined) = (0, 0);
        let mut refused = Vec::new();
        let schemas = named(contract);
        if schemas.is_empty() {
            report.push(format!("{}: no named schemas", file.display()));
            continue;
        }
        for schema in schemas.into_iter().take(150) {
            match gen.value(schema, 7) {
                Ok(v) => {
                    let verdict = acl_runtime::boundary::raw::validate_at(contract, schema, &v);
                    // OpenAI lists some `required` names twice, which the schema
                    // forbids and the validator then reports as missing although the
                    // value has them: those reports are not about the value.
                    let verdict = verdict.map(|r| {
                        r.or_else(|violations| {
                            let real: Vec<_> = violations
                                .into_iter()
                                .filter(|x| {
                                    let present = x
                                        .message
                                        .strip_suffix(" is a required property")
                                        .and_then(|k| serde_json::from_str::<String>(k).ok())
                                        .is_some_and(|k| {
                                            v.pointer(&x.instance_path)
                                                .and_then(|o| o.get(&k))
                                                .is_some()
                                        });
                                    !present
                                })
                                .collect();
                            if real.is_empty() {
                                Ok(())
                            } else {
                                Err(real)
                            }
                        })
                    });
                    match verdict {
                        Ok(Ok(())) => ok += 1,
                        Ok(Err(violations)) => refused.push(format!(
                            "{}: {schema}: {:?}",
                            file.display(),
                            violations.first()
                        )),
                        // A schema the validator cannot compile says nothing about the value.
                        Err(_) => {}
                    }
                }
                Err(_) => declined += 1,
            }
        }
        report.push(format!(
            "{}: {ok} valid, {declined} declined, {} refused by the validator",
            file.display(),
            refused.len()
        ));
        // The generator's known gaps (issue 19 goes on): a value the contract refuses is
        // rare, and each is listed.
        assert!(
            ok > 0 && declined * 5 <= ok && refused.len() * 50 <= ok,
            "{}\n{refused:#?}",
            report.last().unwrap()
        );
        if !refused.is_empty() {
            println!("{refused:#?}");
        }
    }
    println!("{}", report.join("\n"));
}

mod strategies {
    use acl_contract_tests as snapshots;
    use acl_runtime::testing::strategy;
    use proptest::prelude::*;
    use snapshots::client::types;

    /// A decoding error is about the member at `pointer` (`/amount` → `amount`).
    fn names(error: &str, pointer: &str) -> bool {
        let last = pointer.rsplit('/').next().unwrap_or_default();
        last.is_empty() || error.contains(last)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn valid_charges_decode_and_round_trip(charge in strategy::valid::<types::Charge>()) {
            let text = serde_json::to_vec(&charge).unwrap();
            let back: types::Charge = acl_runtime::from_json(&text).unwrap();
            prop_assert_eq!(back, charge);
        }

        #[test]
        fn valid_new_charges_decode(new in strategy::valid::<types::NewCharge>()) {
            prop_assert!(*new.amount >= 1);
        }

        #[test]
        fn each_invalid_charge_fails_at_its_rule((value, broken) in strategy::invalid::<types::Charge>()) {
            let e = acl_runtime::from_value::<types::Charge>(&value).unwrap_err().to_string();
            prop_assert!(names(&e, &broken.pointer), "{} at {}: {}", broken.rule, broken.pointer, e);
        }

        #[test]
        fn each_invalid_new_charge_fails_at_its_rule((value, broken) in strategy::invalid::<types::NewCharge>()) {
            let e = acl_runtime::from_value::<types::NewCharge>(&value).unwrap_err().to_string();
            prop_assert!(names(&e, &broken.pointer), "{} at {}: {}", broken.rule, broken.pointer, e);
        }
    }
}
