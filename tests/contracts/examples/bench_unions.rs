//! Decoding nested `oneOf` unions whose branches share a recursive property, against
//! reading the same payload into a `serde_json::Value` (the floor: every union buffers
//! its value once), in the same run. Before memoisation this was exponential (a
//! 246-byte payload nested 20 deep took 26 s in a debug build). Now every union node is
//! decoded once (`branch_decodes` grows linearly); a later branch that reaches a node
//! clones its result, so the ratio still grows with the depth (which the JSON reader
//! bounds at 128). On a 2-vCPU EPYC: depth 20 in 70 µs (8× the floor), depth 80 in
//! 0.6 ms (24×).
//!
//! `cargo run --release -p acl-contract-tests --example bench_unions`

use std::time::Instant;

use acl_contract_tests::unions::types::Chain;

fn chain(depth: usize) -> String {
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str(r#"{"next": "#);
    }
    s.push_str(r#"{"left": true}"#);
    for _ in 0..depth {
        s.push_str(r#", "left": true}"#);
    }
    s
}

fn time(rounds: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    start.elapsed().as_secs_f64() * 1e9 / rounds as f64
}

fn main() {
    println!("depth  bytes  acl_ns  value_ns  ratio  branch_decodes");
    for depth in [1, 5, 10, 20, 40, 80] {
        let payload = chain(depth);
        let rounds = (200_000 / (depth as u32 * 4)).max(200);
        let before = acl_runtime::boundary::union::branches_tried();
        let _: Chain = acl_runtime::from_json(payload.as_bytes()).unwrap();
        let tried = acl_runtime::boundary::union::branches_tried() - before;
        let acl = time(rounds, || {
            let c: Chain = acl_runtime::from_json(payload.as_bytes()).unwrap();
            std::hint::black_box(c);
        });
        let value = time(rounds, || {
            let v: serde_json::Value = serde_json::from_slice(payload.as_bytes()).unwrap();
            std::hint::black_box(v);
        });
        println!(
            "{depth:>5}  {:>5}  {acl:>6.0}  {value:>8.0}  {:>5.1}  {tried:>14}",
            payload.len(),
            acl / value
        );
    }
}
