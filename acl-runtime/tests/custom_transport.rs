//! A transport of one's own, written with what `acl_runtime::client` re-exports (`http`,
//! `Bytes`, `BoxFuture`): no extra dependency lines. It answers in memory and records
//! what the client sent.

#![cfg(feature = "client")]

use std::sync::{Arc, Mutex};

use acl_runtime::client::http;
use acl_runtime::client::{
    ApiSpec, BoxFuture, Bytes, Core, Decoded, FromCore, NoDocumentedErrors, OperationSpec,
    RawResponse, Transport, TransportError,
};

static API: ApiSpec = ApiSpec {
    system: "in-memory",
    servers: &[],
    policies: "",
    schemes: &[],
    security: &[],
    operations: &[OperationSpec {
        id: "getThing",
        method: "GET",
        path: "/things/{id}",
        policy: "",
        idempotency_header: None,
        security: None,
        headers: &[],
        pagination: None,
        responses: &[],
        parameters: &[],
        body: (false, &[]),
    }],
    contract: None,
};

struct Client {
    core: Core,
}

impl FromCore for Client {
    const API: &'static ApiSpec = &API;
    fn from_core(core: Core) -> Self {
        Self { core }
    }
}

#[derive(Clone, Default)]
struct InMemory {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Transport for InMemory {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        self.seen.lock().unwrap().push(request.uri().to_string());
        Box::pin(async move {
            Ok(http::Response::builder()
                .status(http::StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "text/plain")
                .body(Bytes::from_static(b"thing"))
                .expect("a valid response"))
        })
    }
}

#[tokio::test]
async fn a_transport_built_from_the_re_exports_carries_calls() {
    let transport = InMemory::default();
    let client: Client = acl_runtime::client::ClientBuilder::new()
        .base_url("http://vendor.invalid/v1")
        .transport(transport.clone())
        .build()
        .unwrap();
    let body = client
        .core
        .request(0)
        .path("id", "t1", "simple", false)
        .send(
            |r: &RawResponse| Decoded::Documented(r.body.clone()),
            NoDocumentedErrors::decode,
        )
        .await
        .unwrap();
    assert_eq!(body, Bytes::from_static(b"thing"));
    assert_eq!(
        *transport.seen.lock().unwrap(),
        ["http://vendor.invalid/v1/things/t1"]
    );
}
