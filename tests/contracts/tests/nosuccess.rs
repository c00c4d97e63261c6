//! Operations whose contract documents no success (`acl-codegen/tests/contracts/nosuccess.yaml`,
//! Kubernetes- and Vercel-style) against a real local server: any success comes back
//! untyped with its status, headers and body; documented errors stay typed.

use acl_contract_tests::nosuccess::client::{Client, CreateDeploymentError, DeleteNamespaceError};
use acl_contract_tests::nosuccess::types;
use acl_runtime::client::{Error, UntypedBody};

/// A vendor: DELETE answers 204 (or 401 for `locked`), POST 201 with JSON (or 400).
async fn vendor() -> String {
    use axum::http::StatusCode;
    use axum::routing::{delete, post};
    let app = axum::Router::new()
        .route(
            "/api/namespaces/{name}",
            delete(
                |axum::extract::Path(name): axum::extract::Path<String>| async move {
                    if name == "locked" {
                        StatusCode::UNAUTHORIZED
                    } else {
                        StatusCode::NO_CONTENT
                    }
                },
            ),
        )
        .route(
            "/api/deployments",
            post(|body: String| async move {
                if body.contains("bad") {
                    (
                        StatusCode::BAD_REQUEST,
                        [("content-type", "application/json"), ("x-request-id", "r1")],
                        r#"{"message":"bad name"}"#.to_string(),
                    )
                } else {
                    (
                        StatusCode::CREATED,
                        [("content-type", "application/json"), ("x-request-id", "r2")],
                        r#"{"id":"dpl_1","ready":false}"#.to_string(),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn a_success_the_contract_does_not_document_comes_back_untyped() {
    let base = vendor().await;
    let client = Client::builder().base_url(&base).build().unwrap();

    let ok = client.delete_namespace("team-a").await.unwrap();
    assert_eq!((ok.status, ok.body), (204, UntypedBody::Empty));

    let body = types::CreateDeploymentBody {
        name: Some("web".into()),
    };
    let created = client.create_deployment(&body).await.unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.headers["x-request-id"], "r2");
    assert_eq!(
        created.body,
        UntypedBody::Json(serde_json::json!({"id": "dpl_1", "ready": false}))
    );

    // Documented errors are still typed.
    let e = client.delete_namespace("locked").await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Status {
                status: 401,
                response: DeleteNamespaceError::Unauthorized,
                ..
            }
        ),
        "{e:?}"
    );
    let bad = types::CreateDeploymentBody {
        name: Some("bad".into()),
    };
    match client.create_deployment(&bad).await.unwrap_err() {
        Error::Status {
            response: CreateDeploymentError::BadRequest(r),
            ..
        } => assert_eq!(r.message.as_deref(), Some("bad name")),
        other => panic!("{other:?}"),
    }
}
