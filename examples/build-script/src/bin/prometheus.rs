//! acl's metrics in Prometheus: `metrics-exporter-prometheus` as the `metrics` recorder,
//! `/metrics` served by axum, and calls through the generated client against a vendor
//! that fails now and then (a `MockVendor` script), so every panel of the Grafana
//! dashboard (`examples/grafana/acl-dashboard.json`) has something to show.
//!
//! `cargo run -p acl-example-build-script --bin prometheus` serves on `ACL_METRICS_ADDR`
//! (default `127.0.0.1:9898`) until Ctrl-C; point Prometheus at it and import the
//! dashboard. `--once` makes a round of calls, prints the exposition and exits (what the
//! test reads).

acl_runtime::include_contract!("petstore");

use std::time::Duration;

use acl_runtime::testing::{Fault, MockVendor};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use petstore::client::Client;

/// The recorder: histograms as real buckets (so Grafana's `histogram_quantile` works),
/// for every metric acl records in seconds.
fn recorder() -> PrometheusHandle {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )
        .expect("buckets")
        .install_recorder()
        .expect("the only metrics recorder")
}

/// One round of calls: successes, a retried 503, a 404, a 429 and an open breaker.
async fn round(client: &Client, vendor: &MockVendor) {
    for _ in 0..5 {
        let _ = client.list_pets(&Default::default()).await;
    }
    vendor.on("getPet").times(1).fail(Fault::Status(503));
    let _ = client.get_pet("p1").await;
    vendor.on("getPet").times(1).respond(404);
    let _ = client.get_pet("nobody").await;
    vendor.on("listPets").times(1).fail(Fault::RateLimited {
        retry_after: Duration::from_millis(10),
    });
    let _ = client.list_pets(&Default::default()).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handle = recorder();
    let vendor = MockVendor::new(&petstore::client::API).without_records();
    let client = Client::builder()
        .base_url("http://petstore.invalid/v1")
        .transport(vendor.clone())
        .api_key("demo-key")
        .build()?;
    if std::env::args().any(|a| a == "--once") {
        round(&client, &vendor).await;
        print!("{}", handle.render());
        return Ok(());
    }
    let addr = std::env::var("ACL_METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9898".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("metrics on http://{addr}/metrics (Ctrl-C stops)");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let traffic = async {
        loop {
            round(&client, &vendor).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        () = traffic => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
