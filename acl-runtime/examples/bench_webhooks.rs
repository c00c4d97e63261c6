//! `cargo run --release -p acl-runtime --features webhooks,sqlite --example bench_webhooks`
//!
//! Verification throughput of a Standard Webhooks `v1` delivery (headers parsed, base64
//! decoded, timestamp checked, HMAC-SHA256 over `id.timestamp.body`, constant-time
//! compare) against plain HMAC-SHA256 of the same bytes with ring, in the same run, for
//! 1 KB and 1 MB bodies; the ratio is acl / plain. Then inbox acknowledgements per
//! second on a SQLite file (verify + dedupe + durable insert, `synchronous=FULL`).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::webhook::{Receiver, Scheme, Signer, Verifier};
use ring::hmac;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn best_of(rounds: usize, iters: u64, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters.min(100) {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / iters as f64);
    }
    best
}

fn main() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let verifier = Verifier::new(Scheme::Standard, [SECRET]).unwrap();
    let signer = Signer::new(Scheme::Standard, SECRET).unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    println!(
        "{:<28} {:>14} {:>10} {:>14} {:>10} {:>7}",
        "body", "acl verify/s", "acl MB/s", "plain HMAC/s", "HMAC MB/s", "ratio"
    );
    for (label, size, iters) in [("1 KB", 1024usize, 200_000u64), ("1 MB", 1 << 20, 300)] {
        let body: Vec<u8> = (0..size)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz{}\":,"[i % 31])
            .collect();
        let headers = signer
            .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", now, &body)
            .unwrap();
        assert!(verifier.verify_at(&headers, &body, now).is_ok());
        let acl = best_of(5, iters, || {
            std::hint::black_box(
                verifier
                    .verify_at(&headers, std::hint::black_box(&body), now)
                    .is_ok(),
            );
        });
        let plain = best_of(5, iters, || {
            std::hint::black_box(hmac::sign(&key, std::hint::black_box(&body)));
        });
        let mb = size as f64 / 1e6;
        println!(
            "{label:<28} {:>14.0} {:>10.1} {:>14.0} {:>10.1} {:>7.3}",
            1.0 / acl,
            mb / acl,
            1.0 / plain,
            mb / plain,
            acl / plain
        );
        println!(
            "verify_ratio_{}={:.3}",
            label.replace(' ', "").to_lowercase(),
            acl / plain
        );
    }

    // Inbox acknowledgements: each one verified, deduplicated and committed to disk.
    let path = std::env::temp_dir().join(format!("acl-bench-inbox-{}.sqlite", std::process::id()));
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let body = br#"{"type":"invoice.paid","id":"in_1","amount":1200}"#;
    let n: u32 = 2_000;
    let deliveries: Vec<_> = (0..n)
        .map(|i| signer.sign(&format!("msg_{i}"), now, body).unwrap())
        .collect();
    let (first, second) = deliveries.split_at(n as usize / 2);
    let two_phase = Receiver::new(
        "bench",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
        store.clone(),
    );
    let t = Instant::now();
    for h in first {
        two_phase.receive(h, body).unwrap();
    }
    let took = t.elapsed();
    println!(
        "inbox acks, separate idempotency store (3 commits): {:.0}/s ({:?} per ack)",
        first.len() as f64 / took.as_secs_f64(),
        took / first.len() as u32
    );
    let receiver = Receiver::with_inbox_dedupe("bench", verifier, store.clone());
    let t = Instant::now();
    for h in second {
        receiver.receive(h, body).unwrap();
    }
    let took = t.elapsed();
    println!(
        "inbox acks, inbox dedupe (1 commit, synchronous=FULL): {:.0}/s ({:?} per ack)",
        second.len() as f64 / took.as_secs_f64(),
        took / second.len() as u32
    );
    let dup = Instant::now();
    for h in &deliveries[..500] {
        receiver.receive(h, body).unwrap();
    }
    println!(
        "duplicate acks (answered from the idempotency table): {:.0}/s",
        500.0 / dup.elapsed().as_secs_f64()
    );
    drop((receiver, two_phase));
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
