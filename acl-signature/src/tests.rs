use super::*;

const STD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STD_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const STD_TS: i64 = 1614265330;
const STD_BODY: &[u8] = br#"{"test": 2432232314}"#;
const STD_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn std_headers(sig: &str, ts: i64) -> HeaderMap {
    headers(&[
        ("webhook-id", STD_ID),
        ("webhook-timestamp", &ts.to_string()),
        ("webhook-signature", sig),
    ])
}

fn standard() -> Verifier {
    Verifier::new(Scheme::Standard, [STD_SECRET]).unwrap()
}

#[test]
fn standard_webhooks_published_vector() {
    let signed = Signer::new(Scheme::Standard, STD_SECRET)
        .unwrap()
        .sign(STD_ID, STD_TS, STD_BODY)
        .unwrap();
    assert_eq!(signed["webhook-signature"], STD_SIG);
    let v = standard()
        .verify_at(&std_headers(STD_SIG, STD_TS), STD_BODY, STD_TS)
        .unwrap();
    assert_eq!(v.id.as_deref(), Some(STD_ID));
    assert_eq!(v.timestamp, Some(STD_TS));
    assert_eq!(v.version, "v1");
}

#[test]
fn github_published_vector() {
    let body = b"Hello, World!";
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let signed = Signer::new(Scheme::GitHub, "It's a Secret to Everybody")
        .unwrap()
        .sign("d1", 0, body)
        .unwrap();
    assert_eq!(signed["x-hub-signature-256"], expected);
    let v = Verifier::new(Scheme::GitHub, ["It's a Secret to Everybody"])
        .unwrap()
        .verify(
            &headers(&[
                ("x-hub-signature-256", expected),
                ("x-github-delivery", "d1"),
            ]),
            body,
        )
        .unwrap();
    assert_eq!(v.id.as_deref(), Some("d1"));
    let wrong = Verifier::new(Scheme::GitHub, ["another"]).unwrap();
    assert!(matches!(
        wrong.verify(&headers(&[("x-hub-signature-256", expected)]), body),
        Err(VerifyError::NoMatch { .. })
    ));
}

#[test]
fn wrong_secret_and_tampered_body_are_refused() {
    let other =
        Verifier::new(Scheme::Standard, ["whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA=="]).unwrap();
    let e = other
        .verify_at(&std_headers(STD_SIG, STD_TS), STD_BODY, STD_TS)
        .unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::NoMatch {
                found: 1,
                keys: 1,
                ..
            }
        ),
        "{e}"
    );
    let e = standard()
        .verify_at(
            &std_headers(STD_SIG, STD_TS),
            br#"{"test": 2432232315}"#,
            STD_TS,
        )
        .unwrap_err();
    assert!(matches!(e, VerifyError::NoMatch { .. }));
    // Same bytes re-serialised (whitespace dropped) no longer match: we never re-encode.
    let e = standard()
        .verify_at(
            &std_headers(STD_SIG, STD_TS),
            br#"{"test":2432232314}"#,
            STD_TS,
        )
        .unwrap_err();
    assert!(matches!(e, VerifyError::NoMatch { .. }));
}

#[test]
fn stale_and_future_timestamps_are_refused_both_ways() {
    let v = standard().tolerance(Duration::from_secs(300));
    let h = std_headers(STD_SIG, STD_TS);
    assert!(v.verify_at(&h, STD_BODY, STD_TS + 300).is_ok());
    assert!(v.verify_at(&h, STD_BODY, STD_TS - 300).is_ok());
    assert_eq!(
        v.verify_at(&h, STD_BODY, STD_TS + 301).unwrap_err(),
        VerifyError::TooOld {
            timestamp: STD_TS,
            age: 301,
            tolerance: 300
        }
    );
    assert_eq!(
        v.verify_at(&h, STD_BODY, STD_TS - 301).unwrap_err(),
        VerifyError::InFuture {
            timestamp: STD_TS,
            ahead: 301,
            tolerance: 300
        }
    );
    let narrow = standard().tolerance(Duration::from_secs(5));
    assert!(narrow.verify_at(&h, STD_BODY, STD_TS + 6).is_err());
    // The real clock: the 2021 vector is long stale.
    assert!(matches!(
        standard().verify(&h, STD_BODY),
        Err(VerifyError::TooOld { .. })
    ));
}

#[test]
fn a_valid_signature_among_decoys_verifies() {
    let list = format!("v1,Zm9vYmFy v2,abc v1a,AAAA v1,!!notbase64 {STD_SIG} v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert!(standard()
        .verify_at(&std_headers(&list, STD_TS), STD_BODY, STD_TS)
        .is_ok());
    let decoys_only = "v1,Zm9vYmFy v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let e = standard()
        .verify_at(&std_headers(decoys_only, STD_TS), STD_BODY, STD_TS)
        .unwrap_err();
    assert!(e.to_string().contains("2 signature(s)"), "{e}");
}

#[test]
fn rotation_accepts_any_active_key() {
    let v = Verifier::new(Scheme::Standard, ["whsec_b2xkIHNlY3JldCBvbmU=", STD_SECRET]).unwrap();
    assert!(v
        .verify_at(&std_headers(STD_SIG, STD_TS), STD_BODY, STD_TS)
        .is_ok());
}

#[test]
fn non_utf8_and_empty_bodies_verify_over_their_bytes() {
    let signer = Signer::new(Scheme::Standard, STD_SECRET).unwrap();
    for body in [&[0xff, 0xfe, 0x00, 0x80][..], &[][..]] {
        let h = signer.sign("msg_1", STD_TS, body).unwrap();
        assert!(standard().verify_at(&h, body, STD_TS).is_ok());
        assert!(standard().verify_at(&h, b"x", STD_TS).is_err());
    }
    for scheme in [Scheme::Stripe, Scheme::GitHub, Scheme::Shopify] {
        let s = Signer::new(scheme, "s3cret").unwrap();
        let v = Verifier::new(scheme, ["s3cret"]).unwrap();
        let body = [0xc3u8, 0x28, 0xa0, 0xa1];
        let h = s.sign("id-1", STD_TS, &body).unwrap();
        assert!(v.verify_at(&h, &body, STD_TS).is_ok(), "{scheme}");
        assert!(v.verify_at(&h, &body[..3], STD_TS).is_err(), "{scheme}");
        let empty = s.sign("id-2", STD_TS, b"").unwrap();
        assert!(v.verify_at(&empty, b"", STD_TS).is_ok(), "{scheme}");
    }
}

#[test]
fn malformed_and_missing_headers_name_the_header() {
    let v = standard();
    let e = v
        .verify_at(&headers(&[("webhook-id", "x")]), STD_BODY, STD_TS)
        .unwrap_err();
    assert_eq!(
        e,
        VerifyError::MissingHeader {
            header: "webhook-timestamp"
        }
    );
    let e = v
        .verify_at(
            &std_headers(STD_SIG, STD_TS).tap(|h| {
                h.insert("webhook-timestamp", HeaderValue::from_static("yesterday"));
            }),
            STD_BODY,
            STD_TS,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::MalformedHeader {
                header: "webhook-timestamp",
                ..
            }
        ),
        "{e}"
    );
    let e = v
        .verify_at(&std_headers("v1", STD_TS), STD_BODY, STD_TS)
        .unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::MalformedHeader {
                header: "webhook-signature",
                ..
            }
        ),
        "{e}"
    );
    let e = v
        .verify_at(&std_headers("   ", STD_TS), STD_BODY, STD_TS)
        .unwrap_err();
    assert!(matches!(e, VerifyError::MalformedHeader { .. }), "{e}");
    let mut bad = std_headers(STD_SIG, STD_TS);
    bad.insert("webhook-id", HeaderValue::from_bytes(b"\xffid").unwrap());
    assert!(matches!(
        v.verify_at(&bad, STD_BODY, STD_TS),
        Err(VerifyError::MalformedHeader {
            header: "webhook-id",
            ..
        })
    ));

    let stripe = Verifier::new(Scheme::Stripe, ["whsec_x"]).unwrap();
    for (value, want) in [
        ("v1=00", "no `t=`"),
        ("t=12", "no `v1=`"),
        ("garbage", "key=value"),
        ("t=abc,v1=00", "not a Unix time"),
    ] {
        let e = stripe
            .verify_at(&headers(&[("stripe-signature", value)]), b"{}", 12)
            .unwrap_err();
        assert!(e.to_string().contains(want), "{value}: {e}");
    }
    let gh = Verifier::new(Scheme::GitHub, ["x"]).unwrap();
    let e = gh
        .verify(&headers(&[("x-hub-signature-256", "sha1=00")]), b"")
        .unwrap_err();
    assert!(e.to_string().contains("sha256=<hex>"), "{e}");
    let e = gh
        .verify(&headers(&[("x-hub-signature-256", "sha256=zz")]), b"")
        .unwrap_err();
    assert!(e.to_string().contains("not hex"), "{e}");
    let e = gh
        .verify(&headers(&[("x-hub-signature-256", "sha256=abc")]), b"")
        .unwrap_err();
    assert!(e.to_string().contains("not hex"), "odd length: {e}");
    let too_long = format!("sha256={}", "ab".repeat(100));
    let e = gh
        .verify(&headers(&[("x-hub-signature-256", &too_long)]), b"")
        .unwrap_err();
    assert!(
        matches!(e, VerifyError::NoMatch { .. }),
        "hex, but no signature: {e}"
    );
    let shop = Verifier::new(Scheme::Shopify, ["x"]).unwrap();
    let e = shop
        .verify(&headers(&[("x-shopify-hmac-sha256", "%%%")]), b"")
        .unwrap_err();
    assert!(e.to_string().contains("not base64"), "{e}");
}

#[test]
fn stripe_signature_with_several_v1_and_a_v0() {
    let secret = "whsec_test_secret";
    let s = Signer::new(Scheme::Stripe, secret).unwrap();
    let h = s.sign("", 1700000000, b"{\"id\":\"evt_1\"}").unwrap();
    let real = h["stripe-signature"].to_str().unwrap().to_owned();
    let v1 = real.split(",v1=").nth(1).unwrap();
    let list = format!("t=1700000000,v1={},v0=deadbeef,v1={v1}", "00".repeat(32));
    let v = Verifier::new(Scheme::Stripe, [secret]).unwrap();
    let ok = v
        .verify_at(
            &headers(&[("stripe-signature", &list)]),
            b"{\"id\":\"evt_1\"}",
            1700000100,
        )
        .unwrap();
    assert_eq!(ok.timestamp, Some(1700000000));
    assert!(matches!(
        v.verify_at(
            &headers(&[("stripe-signature", &list)]),
            b"{\"id\":\"evt_1\"}",
            1700000400
        ),
        Err(VerifyError::TooOld { .. })
    ));
    // Stripe signs `t.body` with the secret string as the key: an independent check.
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, b"1700000000.{\"id\":\"evt_1\"}");
    assert_eq!(v1, to_hex(tag.as_ref()));
}

#[test]
fn shopify_is_base64_of_the_body_hmac() {
    let s = Signer::new(Scheme::Shopify, "hush").unwrap();
    let h = s.sign("w-1", 0, b"{}").unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"hush");
    assert_eq!(
        h["x-shopify-hmac-sha256"],
        B64.encode(hmac::sign(&key, b"{}"))
    );
    assert_eq!(h["x-shopify-webhook-id"], "w-1");
}

#[test]
fn v1a_ed25519_signs_and_verifies_with_whpk_keys() {
    let (sk, pk) = ed25519_keys_from_seed(&[7u8; 32]).unwrap();
    let signer = Signer::new(Scheme::Standard, &sk).unwrap();
    let h = signer.sign("msg_a", STD_TS, STD_BODY).unwrap();
    let sig = h["webhook-signature"].to_str().unwrap().to_owned();
    assert!(sig.starts_with("v1a,"));
    let v = Verifier::new(Scheme::Standard, [pk.as_str()]).unwrap();
    let ok = v.verify_at(&h, STD_BODY, STD_TS).unwrap();
    assert_eq!(ok.version, "v1a");
    assert!(v.verify_at(&h, b"tampered", STD_TS).is_err());
    // A v1a signature against an HMAC-only verifier says what it found and held.
    let e = standard().verify_at(&h, STD_BODY, STD_TS).unwrap_err();
    assert!(
        e.to_string().contains("(v1a)") && e.to_string().contains("(v1)"),
        "{e}"
    );
    // Both kinds active: a v1 list with a v1a among them.
    let both = Verifier::new(Scheme::Standard, [STD_SECRET, pk.as_str()]).unwrap();
    let list = format!("{STD_SIG} {sig}");
    let mut h2 = h.clone();
    h2.insert("webhook-signature", HeaderValue::from_str(&list).unwrap());
    assert!(both.verify_at(&h2, STD_BODY, STD_TS).is_ok());
    // Another key pair's public key does not verify.
    let (_, other) = ed25519_keys_from_seed(&[8u8; 32]).unwrap();
    assert!(Verifier::new(Scheme::Standard, [other])
        .unwrap()
        .verify_at(&h, STD_BODY, STD_TS)
        .is_err());
    assert_eq!(
        Signer::new(Scheme::Standard, &pk).unwrap_err(),
        KeyError::PublicKeyCannotSign
    );
}

#[test]
fn bad_keys_are_clear_errors() {
    assert_eq!(
        Verifier::new(Scheme::Standard, Vec::<&str>::new()).unwrap_err(),
        KeyError::Empty
    );
    let e = Verifier::new(Scheme::Standard, ["whsec_***"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("not valid base64 after its `whsec_` prefix"),
        "{e}"
    );
    let e = Verifier::new(Scheme::Standard, ["whpk_AAAA"]).unwrap_err();
    assert_eq!(
        e,
        KeyError::Length {
            what: "whpk_ public key",
            found: 3
        }
    );
    assert!("gitlab"
        .parse::<Scheme>()
        .unwrap_err()
        .contains("standard, stripe, github, shopify"));
    assert_eq!("GitHub".parse::<Scheme>().unwrap(), Scheme::GitHub);
}

#[test]
fn blank_secrets_are_refused_by_every_scheme_for_verifying_and_signing() {
    for scheme in [
        Scheme::Standard,
        Scheme::Stripe,
        Scheme::GitHub,
        Scheme::Shopify,
    ] {
        for secret in [
            "",
            " ",
            "\t\n",
            "whsec_",
            "whsec_  ",
            "whpk_",
            "whsk_",
            "   whsec_",
        ] {
            if scheme != Scheme::Standard && secret.trim().starts_with("wh") {
                continue; // a literal string secret for the HMAC-of-text schemes
            }
            assert_eq!(
                Verifier::new(scheme, [secret]).unwrap_err(),
                KeyError::Blank,
                "{scheme} {secret:?}"
            );
            assert_eq!(
                Signer::new(scheme, secret).unwrap_err(),
                KeyError::Blank,
                "{scheme} {secret:?}"
            );
        }
        // One blank key among good ones spoils the set too.
        assert_eq!(
            Verifier::new(scheme, [STD_SECRET, ""]).unwrap_err(),
            KeyError::Blank
        );
    }
    // Base64 of nothing after a prefix, and an empty bare base64: blank as well.
    assert!(Verifier::new(Scheme::Standard, ["whsec_="]).is_err());
}

#[test]
fn too_many_signatures_are_refused_before_any_is_checked() {
    let decoys = vec!["v1a,AAAA"; MAX_SIGNATURES + 1].join(" ");
    let e = standard()
        .verify_at(&std_headers(&decoys, STD_TS), STD_BODY, STD_TS)
        .unwrap_err();
    assert!(
        matches!(&e, VerifyError::MalformedHeader { reason, .. } if reason.contains("more than 16")),
        "{e}"
    );
    // At the cap, a valid signature among decoys still verifies.
    let mut list = vec!["v1,AAAA"; MAX_SIGNATURES - 1];
    list.push(STD_SIG);
    let h = std_headers(&list.join(" "), STD_TS);
    assert!(standard().verify_at(&h, STD_BODY, STD_TS).is_ok());
    let stripe = Verifier::new(Scheme::Stripe, ["sk"]).unwrap();
    let many = format!("t=1,{}", vec!["v1=00"; MAX_SIGNATURES + 1].join(","));
    let e = stripe
        .verify_at(&headers(&[("stripe-signature", &many)]), b"", 1)
        .unwrap_err();
    assert!(e.to_string().contains("more than"), "{e}");
}

#[test]
fn svix_prefixed_headers_are_read() {
    let h = headers(&[
        ("svix-id", STD_ID),
        ("svix-timestamp", &STD_TS.to_string()),
        ("svix-signature", STD_SIG),
    ]);
    assert!(standard().verify_at(&h, STD_BODY, STD_TS).is_ok());
}

trait Tap: Sized {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
impl Tap for HeaderMap {}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes sign and verify, and any one-byte change is refused.
        #[test]
        fn sign_then_verify_round_trips(body in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<usize>(), scheme in 0usize..4) {
            let scheme = Scheme::ALL[scheme].1;
            let secret = if scheme == Scheme::Standard { STD_SECRET } else { "topsecret" };
            let h = Signer::new(scheme, secret).unwrap().sign("id_1", STD_TS, &body).unwrap();
            let v = Verifier::new(scheme, [secret]).unwrap();
            prop_assert!(v.verify_at(&h, &body, STD_TS).is_ok());
            if !body.is_empty() {
                let mut tampered = body.clone();
                let i = flip % tampered.len();
                tampered[i] ^= 0x01;
                prop_assert!(v.verify_at(&h, &tampered, STD_TS).is_err());
            }
        }

        /// The MAC over parts (short ones gathered on the stack, long ones passed through)
        /// equals a plain HMAC of the joined bytes, whatever the sizes.
        #[test]
        fn mac_over_parts_equals_hmac_of_the_joined_bytes(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
        ) {
            let key = hmac::Key::new(hmac::HMAC_SHA256, b"topsecret");
            let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let joined = parts.concat();
            let (ours, plain) = (mac(&key, &slices), hmac::sign(&key, &joined));
            prop_assert_eq!(ours.as_ref(), plain.as_ref());
        }

        /// Arbitrary header values never panic the parsers.
        #[test]
        fn arbitrary_headers_never_panic(sig in "[ -~]{0,80}", ts in "[ -~]{0,20}", scheme in 0usize..4) {
            let scheme = Scheme::ALL[scheme].1;
            let secret = if scheme == Scheme::Standard { STD_SECRET } else { "topsecret" };
            let v = Verifier::new(scheme, [secret]).unwrap();
            let mut h = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&sig) {
                for name in ["webhook-signature", "stripe-signature", "x-hub-signature-256", "x-shopify-hmac-sha256"] {
                    h.insert(name, value.clone());
                }
            }
            if let Ok(value) = HeaderValue::from_str(&ts) {
                h.insert("webhook-timestamp", value);
            }
            h.insert("webhook-id", HeaderValue::from_static("x"));
            let _ = v.verify_at(&h, b"{}", STD_TS);
        }
    }
}

#[test]
fn an_overlong_decoy_signature_is_skipped_not_fatal() {
    let long = B64.encode([7u8; 100]);
    let sig = format!("v1,{long} v1a,{long} {STD_SIG}");
    let v = standard()
        .verify_at(&std_headers(&sig, STD_TS), STD_BODY, STD_TS)
        .unwrap();
    assert_eq!(v.version, "v1");
    // Alone, it is a signature that matches nothing.
    let err = standard()
        .verify_at(
            &std_headers(&format!("v1,{long}"), STD_TS),
            STD_BODY,
            STD_TS,
        )
        .unwrap_err();
    assert!(
        matches!(err, VerifyError::NoMatch { found: 1, .. }),
        "{err}"
    );
}

#[test]
fn verifiers_and_signers_never_print_their_keys() {
    let v = Verifier::new(Scheme::Standard, [STD_SECRET]).unwrap();
    let s = Signer::new(Scheme::Standard, STD_SECRET).unwrap();
    let g = Signer::new(Scheme::GitHub, "hunter2-github").unwrap();
    let printed = format!("{v:?} {v:#?} {s:?} {g:#?}");
    assert!(!printed.contains("MfKQ9r8"), "{printed}");
    assert!(!printed.contains("hunter2"), "{printed}");
}
