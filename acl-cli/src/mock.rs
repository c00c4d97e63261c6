//! `acl-codegen mock CONTRACT`: the contract's vendor over HTTP, for a teammate with curl
//! or a client in another language. The runtime's `MockVendor`, answering requests as
//! they come: no scripts, invalid requests explained in the body, no calls kept.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use acl_codegen::Generated;
use acl_runtime::testing::{MockVendor, ServeOptions};

/// What the command line says.
pub struct Options {
    pub addr: SocketAddr,
    pub seed: u64,
    pub quiet: bool,
    pub header_timeout: std::time::Duration,
}

pub fn run(g: &Generated, o: &Options) -> ExitCode {
    let (addr, seed, quiet) = (o.addr, o.seed, o.quiet);
    let api = crate::spec::api_spec(g);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let vendor = MockVendor::new(api)
            .seed(seed)
            .explain_violations()
            .without_records();
        let on_request: Option<acl_runtime::testing::OnRequest> = if quiet {
            None
        } else {
            Some(Arc::new(|line| println!("{line}")))
        };
        let options = ServeOptions {
            addr,
            on_request,
            header_timeout: o.header_timeout,
            ..ServeOptions::default()
        };
        let served = match vendor.serve_with(options).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(2);
            }
        };
        println!(
            "mock of {} ({} operations) on {}",
            api.system,
            api.operations.len(),
            served.base_url
        );
        println!("  Prefer: code=404 | example=NAME | dynamic=true picks the answer; Ctrl-C stops");
        tokio::select! {
            () = served.wait() => {
                eprintln!("error: the server stopped");
                ExitCode::from(2)
            }
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        }
    })
}
