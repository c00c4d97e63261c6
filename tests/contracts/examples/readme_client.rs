//! The README's "Pages, per-call options, metadata, hooks" example, compiled with the
//! workspace (`cargo test` builds examples). The README shows the lines between the
//! markers, and `tests/readme.rs` fails when the two differ.

use acl_contract_tests::pagination::client::{Client, ListChargesOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README: begin
    use acl_runtime::client::{http, Bytes, CallOptions, Hook, HookContext, HookError};
    use futures_util::StreamExt;
    use std::time::Duration;

    /// Signs every attempt (after acl has set credentials and the idempotency key).
    struct Sign;
    impl Hook for Sign {
        fn before_attempt(
            &self,
            cx: &HookContext<'_>,
            request: &mut http::Request<Bytes>,
        ) -> Result<(), HookError> {
            let value = format!("{}:{}", cx.operation, cx.attempt);
            let value = value
                .parse()
                .map_err(|_| HookError("bad signature".into()))?;
            request.headers_mut().insert("x-signature", value);
            Ok(())
        }
    }

    let client = Client::builder()
        .base_url("https://api.pages.example.com")
        .default_header("Api-Version", "2026-12-01") // on every call
        .hook(Sign)
        .build()?;

    // Every item across pages: each page goes through the pipeline (limit, breaker,
    // retries); a page that repeats a cursor, or a next link to another origin, is an error.
    let mut charges = client.list_charges_all(&ListChargesOptions::default());
    while let Some(charge) = charges.next().await {
        println!("{}", charge?.id);
    }

    // Whole pages, with metadata and a cursor to save and resume from later.
    let mut pages = client
        .list_charges_all(&Default::default())
        .max_pages(2)
        .pages();
    while let Some(page) = pages.next().await {
        let page = page?;
        println!("{} items, status {:?}", page.items.len(), page.meta.status);
        if let Some(cursor) = &page.next {
            std::fs::write("cursor.json", serde_json::to_string(cursor)?)?;
        }
    }
    let cursor = serde_json::from_str(&std::fs::read_to_string("cursor.json")?)?;
    let _rest = client
        .list_charges_all(&Default::default())
        .resume(cursor)?;

    // Per-call options: a handle sharing the breaker, limiter and budget.
    let hurried = client.with_options(
        CallOptions::new()
            .timeout(Duration::from_millis(300))
            .header("X-Tenant", "acme")
            .no_retry(),
    );
    let page = hurried
        .list_charges(&Default::default())
        .with_meta() // status, every header, attempts, elapsed time
        .await?;
    println!(
        "request id {:?} after {} attempt(s) in {:?}",
        page.headers().get("x-request-id"),
        page.meta.attempts,
        page.meta.elapsed
    );
    // README: end
    Ok(())
}
