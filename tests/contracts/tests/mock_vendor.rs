//! `acl_runtime::testing::MockVendor` with the generated clients of the snapshot
//! contracts: every operation answers with a body its schema accepts, and each fault
//! reaches the client as the class, attempts and elapsed time its policy says.

use std::time::{Duration, Instant};

use acl_contract_tests as snapshots;
use acl_contract_tests::client::client::*;
use acl_contract_tests::client::types;
use acl_runtime::client::{http, Bytes};
use acl_runtime::client::{ApiSpec, CallOptions, Error};
use acl_runtime::resilience::classify::FailureClass;
use acl_runtime::testing::{Fault, MockVendor};
use acl_runtime::transport::Transport;

/// Sends one request per operation straight to the vendor and checks each answer
/// against the schema the contract documents for its status.
async fn every_operation_answers_within_its_contract(api: &'static ApiSpec) -> usize {
    let vendor = MockVendor::new(api);
    let contract = api.contract.expect("the contract is embedded");
    let mut checked = 0;
    for op in api.operations {
        let request = vendor.valid_request(op.id);
        let response = vendor.send(request).await.unwrap();
        let status = response.status().as_u16();
        assert!(
            (200..300).contains(&status),
            "{}: {status} {:?}",
            op.id,
            response.headers().get("x-acl-mock-violation")
        );
        // An operation that documents no success gets a bare 200 (any 2xx is one).
        let Some(spec) = op
            .responses
            .iter()
            .find(|r| r.status == status.to_string() || r.status == "2XX")
        else {
            assert!(
                !op.responses.iter().any(|r| r.status.starts_with('2')),
                "{}: {status} is not documented",
                op.id
            );
            continue;
        };
        if spec.schema.is_empty() || !spec.media.contains("json") {
            continue;
        }
        let body: serde_json::Value = serde_json::from_slice(response.body())
            .unwrap_or_else(|e| panic!("{}: the body is not JSON: {e}", op.id));
        let verdict =
            acl_runtime::boundary::raw::validate_at(contract, spec.schema, &body).unwrap();
        assert!(
            verdict.is_ok(),
            "{}: {body} breaks the contract: {verdict:?}",
            op.id
        );
        checked += 1;
    }
    assert_eq!(vendor.all_calls().len(), api.operations.len());
    checked
}

#[tokio::test]
async fn every_operation_of_every_snapshot_client_answers_within_its_contract() {
    let apis: [&'static ApiSpec; 5] = [
        &snapshots::client::client::API,
        &snapshots::pagination::client::API,
        &snapshots::swagger2::client::API,
        &snapshots::nosuccess::client::API,
        &snapshots::events::client::API,
    ];
    let mut checked = 0;
    for api in apis {
        checked += every_operation_answers_within_its_contract(api).await;
    }
    assert!(checked >= 15, "{checked} bodies checked");
}

fn client(vendor: &MockVendor) -> Client {
    Client::builder()
        .base_url("http://mock.invalid/v1")
        .transport(vendor.clone())
        .api_key("key")
        .bearer_token("token")
        .basic_auth("user", "pass")
        .build()
        .unwrap()
}

fn new_charge() -> types::NewCharge {
    serde_json::from_str(r#"{"amount": 500, "currency": "EUR"}"#).unwrap()
}

#[tokio::test]
async fn the_contract_answers_decode_and_scripted_statuses_arrive_typed() {
    let vendor = MockVendor::new(&API);
    let c = client(&vendor);
    // The generated success decodes into the generated types.
    let ListChargesResponse::Ok { body, headers } = c
        .list_charges(&ListChargesOptions::default())
        .await
        .unwrap();
    let _ = (body, headers);
    let GetChargeResponse::Ok(charge) = c.get_charge("ch_1").await.unwrap();
    assert!(*charge.amount >= 1, "{charge:?}");
    // A scripted 404, once; then the contract's answer again.
    vendor.on("getCharge").times(1).respond(404);
    let e = c.get_charge("ch_2").await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Status {
                status: 404,
                attempts: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.class(), FailureClass::Permanent);
    assert!(c.get_charge("ch_3").await.is_ok());
    let targets: Vec<String> = vendor
        .calls("getCharge")
        .iter()
        .map(|c| c.target.clone())
        .collect();
    assert_eq!(
        targets,
        ["/v1/charges/ch_1", "/v1/charges/ch_2", "/v1/charges/ch_3"]
    );
}

#[tokio::test]
async fn faults_reach_the_client_as_its_policy_says() {
    let vendor = MockVendor::new(&API);
    let c = client(&vendor);

    // Two 503s, then the contract's answer: retried with one idempotency key.
    vendor.on("createCharge").times(2).fail(Fault::Status(503));
    let created = c
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .with_meta()
        .await
        .unwrap();
    assert_eq!(created.meta.attempts, 3);
    let calls = vendor.calls("createCharge");
    let keys: Vec<_> = calls
        .iter()
        .map(|c| c.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_eq!(calls[0].json().unwrap()["currency"], "EUR");

    // A 429 with Retry-After: honoured before the next attempt.
    vendor.on("getCharge").times(1).fail(Fault::RateLimited {
        retry_after: Duration::from_secs(1),
    });
    let started = Instant::now();
    c.get_charge("ch_1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // A body that breaks the contract: invalid data, never retried.
    vendor.on("getCharge").times(1).fail(Fault::InvalidBody);
    let e = c.get_charge("ch_1").await.unwrap_err();
    assert!(matches!(e, Error::InvalidBody { .. }), "{e:?}");
    assert_eq!(e.class(), FailureClass::InvalidData);

    // Latency past the timeout, and a vendor that never answers: timeouts.
    let hurried = c.with_options(
        CallOptions::new()
            .timeout(Duration::from_millis(100))
            .no_retry(),
    );
    vendor
        .on("getCharge")
        .times(1)
        .fail(Fault::Latency(Duration::from_secs(5)));
    let e = hurried.get_charge("ch_1").await.unwrap_err();
    assert!(matches!(e, Error::Timeout { attempts: 1, .. }), "{e:?}");
    vendor.on("getCharge").times(1).fail(Fault::Hang);
    let e = hurried.get_charge("ch_1").await.unwrap_err();
    assert!(matches!(e, Error::Timeout { attempts: 1, .. }), "{e:?}");

    // A refused connection is retried (nothing left); a reset POST without a key is not.
    vendor.on("getCharge").times(1).fail(Fault::Refused);
    let r = c.get_charge("ch_1").with_meta().await.unwrap();
    assert_eq!(r.meta.attempts, 2);
    vendor
        .on("post_charges_by_chargeId_refunds")
        .fail(Fault::Reset);
    let e = c
        .post_charges_by_charge_id_refunds("ch_1", None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { attempts: 1, .. }), "{e:?}");
}

#[test]
#[should_panic(expected = "no operation `getChrage`")]
fn scripting_an_operation_the_contract_lacks_is_a_test_bug() {
    MockVendor::new(&API).on("getChrage").respond(200);
}

#[tokio::test]
async fn the_scenarios_of_an_operation_each_end_as_the_policy_says() {
    let vendor = MockVendor::new(&API);
    let c = client(&vendor).with_options(CallOptions::new().timeout(Duration::from_millis(200)));
    let scenarios = vendor.scenarios("getCharge");
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"documented 404"), "{names:?}");
    assert!(names.contains(&"undocumented 503"), "{names:?}");
    for scenario in scenarios {
        // Every attempt meets the fault: what does the client end with?
        vendor
            .on("getCharge")
            .times(10)
            .fail(scenario.fault.clone());
        let e = c.get_charge("ch_1").await.unwrap_err();
        let (class, attempts) = (e.class(), vendor.calls("getCharge").len());
        match scenario.name.as_str() {
            "documented 404" => assert!(class == FailureClass::Permanent && attempts == 1),
            "undocumented 500" | "undocumented 503" | "connection refused" | "connection reset"
            | "no answer" => {
                // A GET is safe to repeat: the contract's 3 attempts.
                assert!(
                    class == FailureClass::Transient && attempts == 3,
                    "{} {class:?} {attempts}",
                    scenario.name
                )
            }
            "a body that breaks the contract" => {
                assert!(class == FailureClass::InvalidData && attempts == 1)
            }
            other => panic!("a scenario this test does not expect: {other}"),
        }
        // Back to normal for the next one.
        vendor.reset();
    }
}

#[tokio::test]
async fn served_on_loopback_the_vendor_answers_a_client_over_real_http() {
    let vendor = MockVendor::new(&API);
    let served = vendor.serve().await.unwrap();
    // The default transport (reqwest), over 127.0.0.1.
    let c = Client::builder()
        .base_url(format!("{}/v1", served.base_url))
        .api_key("key")
        .bearer_token("token")
        .build()
        .unwrap();
    vendor.on("createCharge").times(1).fail(Fault::Status(503));
    c.create_charge(
        &CreateChargeOptions::default(),
        CreateChargeBody::Json(new_charge()),
    )
    .await
    .unwrap();
    let GetChargeResponse::Ok(_) = c.get_charge("ch_9").await.unwrap();
    let calls = vendor.calls("createCharge");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].header("idempotency-key"),
        calls[1].header("idempotency-key")
    );
    assert_eq!(calls[0].header("x-api-key").as_deref(), Some("key"));
    assert_eq!(vendor.calls("getCharge")[0].target, "/v1/charges/ch_9");
    // Dropped, it stops accepting connections (within a second).
    let addr = served.base_url.trim_start_matches("http://").to_string();
    drop(served);
    let mut refused = false;
    for _ in 0..20 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "{addr} still accepts");
}

#[tokio::test]
async fn calls_without_the_credentials_the_operation_asks_for_get_401() {
    let vendor = MockVendor::new(&API);
    let anonymous = Client::builder()
        .base_url("http://mock.invalid/v1")
        .transport(vendor.clone())
        .build()
        .unwrap();
    // getCharge asks for a bearer token: none sent.
    vendor.on("getCharge").respond(200);
    let e = anonymous.get_charge("ch_1").await.unwrap_err();
    assert_eq!(e.class(), FailureClass::Permanent, "{e:?}");
    assert_eq!(vendor.calls("getCharge")[0].status, Some(401));
    // With it (and the operations whose alternative is empty need nothing).
    client(&vendor).get_charge("ch_1").await.unwrap();
    // OAuth2 client credentials: the contract's token endpoint answers too.
    let oauth = Client::builder()
        .base_url("http://mock.invalid/v1")
        .transport(vendor.clone())
        .credential(
            "oauth",
            acl_runtime::client::Credential::ClientCredentials {
                client_id: "id".into(),
                client_secret: "secret".into(),
                scopes: vec![],
                token_url: None,
            },
        )
        .build()
        .unwrap();
    let form = acl_runtime::client::Multipart::new().file("file", "a.txt", "text/plain", "hello");
    oauth.upload_file("a.txt", form).await.unwrap();
    let upload = vendor.calls("uploadFile");
    assert_eq!(
        upload[0].header("authorization").as_deref(),
        Some("Bearer acl-mock-token")
    );
}

#[tokio::test]
async fn requests_the_contract_refuses_get_the_documented_400_with_the_violation() {
    let vendor = MockVendor::new(&API);
    let c = client(&vendor);
    // A body its schema refuses (amount below its minimum), sent as is.
    let transport: &dyn Transport = &vendor;
    let request = http::Request::builder()
        .method("POST")
        .uri("http://mock.invalid/v1/charges")
        .header("x-api-key", "k")
        .header("idempotency-key", "k-1")
        .header("content-type", "application/json")
        .body(Bytes::from_static(br#"{"amount": 0, "currency": "EUR"}"#))
        .unwrap();
    let response = transport.send(request).await.unwrap();
    assert_eq!(response.status(), 400);
    let why = response.headers()["x-acl-mock-violation"].to_str().unwrap();
    assert!(why.contains("/amount") && why.contains("minimum"), "{why}");
    // The documented 400 arrives typed through the client.
    let request = http::Request::builder()
        .method("POST")
        .uri("http://mock.invalid/v1/charges")
        .header("x-api-key", "k")
        .header("idempotency-key", "k-2")
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{not json"))
        .unwrap();
    let response = transport.send(request).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers()["x-acl-mock-violation"]
        .to_str()
        .unwrap()
        .contains("not JSON"));
    // What the generated client sends passes.
    c.create_charge(
        &CreateChargeOptions::default(),
        CreateChargeBody::Json(new_charge()),
    )
    .await
    .unwrap();
    assert_eq!(
        vendor.calls("createCharge").last().unwrap().status,
        Some(201)
    );
}

#[tokio::test]
async fn check_policies_finds_where_a_policy_contradicts_the_contract() {
    use acl_runtime::testing::check_policies;
    // acl's policies from the contract: nothing to report.
    let vendor = MockVendor::new(&API);
    let c = client(&vendor);
    let findings = check_policies(c.core(), &vendor).await;
    assert!(findings.is_empty(), "{findings:#?}");
    // A retry budget that allows none: every operation safe to repeat meets a 503 without
    // the retries its policy promises. That is what the check is for.
    let vendor = MockVendor::new(&API);
    let starved = Client::builder()
        .base_url("http://mock.invalid/v1")
        .transport(vendor.clone())
        .api_key("key")
        .bearer_token("token")
        .basic_auth("user", "pass")
        .system(|s| {
            s.retry_budget.ratio = 0.0;
            s.retry_budget.min_per_second = 0;
        })
        .build()
        .unwrap();
    let findings = check_policies(starved.core(), &vendor).await;
    let ops: Vec<&str> = findings.iter().map(|f| f.operation).collect();
    assert!(
        ops.contains(&"getCharge") && ops.contains(&"listCharges"),
        "{findings:#?}"
    );
    assert!(
        !ops.contains(&"post_charges_by_chargeId_refunds"),
        "a POST without a key is not retried by design"
    );
    assert!(
        findings.iter().all(|f| f.scenario == "503"),
        "{findings:#?}"
    );
    assert!(
        findings[0].to_string().contains("not retried"),
        "{}",
        findings[0]
    );
    // One attempt allowed on getCharge: not retrying is then the policy itself.
    let vendor = MockVendor::new(&API);
    let strict = Client::builder()
        .base_url("http://mock.invalid/v1")
        .transport(vendor.clone())
        .api_key("key")
        .bearer_token("token")
        .basic_auth("user", "pass")
        .operation("getCharge", |o| o.retry.max_attempts = 1)
        .build()
        .unwrap();
    let findings = check_policies(strict.core(), &vendor).await;
    // With one attempt allowed, not retrying is the policy, not a contradiction.
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn the_contracts_own_example_is_the_answer_when_it_fits() {
    use acl_contract_tests::pagination::client as pages;
    let vendor = MockVendor::new(&pages::API);
    let c = pages::Client::builder()
        .base_url("http://mock.invalid")
        .transport(vendor.clone())
        .build()
        .unwrap();
    let pages::ListTokensResponse::Ok(page) = c.list_tokens(&Default::default()).await.unwrap();
    let results = page.results.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].id.as_str(), "ex1");
}

#[tokio::test]
async fn records_are_bounded_and_can_be_turned_off() {
    use acl_runtime::testing::MAX_RECORDED_CALLS;
    let vendor = MockVendor::new(&API);
    for _ in 0..MAX_RECORDED_CALLS + 5 {
        let _ = vendor
            .send(vendor.valid_request("getCharge"))
            .await
            .unwrap();
    }
    assert_eq!(
        vendor.calls("getCharge").len(),
        MAX_RECORDED_CALLS,
        "the oldest go first"
    );
    let quiet = MockVendor::new(&API).without_records();
    let response = quiet.send(quiet.valid_request("getCharge")).await.unwrap();
    assert!(response.status().is_success());
    assert!(quiet.all_calls().is_empty());
}
