//! The receiver as an axum route (feature `axum`).
//!
//! ```no_run
//! # fn mount(receiver: std::sync::Arc<acl_runtime::webhook::Receiver>) {
//! let app: axum::Router =
//!     axum::Router::new().route("/webhooks/payments", acl_runtime::webhook::axum::post(receiver));
//! # }
//! ```

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::{Receipt, Receiver, Rejection};

/// A `POST` route that verifies, deduplicates, stores and acknowledges: `200` once the
/// delivery is durable (or was already), `401` bad signature, `400` no id, `409` same id
/// with another body, `413` over the receiver's [`max_body`](Receiver::max_body) (which
/// replaces axum's default limit of 2 MB for this route), `503` with `Retry-After` when
/// it cannot be stored now. The body of a refusal says why in
/// [`Rejection::public_message`] terms: a bad signature is only "invalid signature".
pub fn post<S: Clone + Send + Sync + 'static>(receiver: Arc<Receiver>) -> MethodRouter<S> {
    let limit = receiver.body_limit();
    axum::routing::post(move |headers: HeaderMap, body: Bytes| {
        let receiver = receiver.clone();
        async move { respond(receiver.receive_async(headers, body).await) }
    })
    .layer(axum::extract::DefaultBodyLimit::max(limit))
}

fn respond(result: Result<Receipt, Rejection>) -> Response {
    match result {
        Ok(Receipt::Accepted { .. }) => (StatusCode::OK, "accepted").into_response(),
        Ok(Receipt::Duplicate { .. }) => (StatusCode::OK, "duplicate").into_response(),
        Err(rejection) => {
            let status = StatusCode::from_u16(rejection.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, rejection.public_message()).into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    HeaderValue::from_static("5"),
                );
            }
            response
        }
    }
}
