//! `cargo run --release --manifest-path benches/overhead/Cargo.toml`
//!
//! The happy path with a no-op transport, measured in one run: acl's full pipeline
//! (limiter + breaker + retry bookkeeping + timeout + metrics/tracing) against the same
//! stack built from governor + failsafe + tokio's timeout. Prints ns/call, heap
//! allocations per call (a counting allocator), and `pipeline_ratio=<acl/peers>`.
//! Also ns per decision for the in-memory limiter (keyed, and with its key bound once as
//! the pipeline does) and, with `ACL_REDIS_URL`, the Redis one.
//!
//! `ACL_BENCH_PROFILE=1` runs only acl's loop (for `perf record`); `ACL_BENCH_ROUNDS=1`
//! prints every round.

use std::alloc::{GlobalAlloc, Layout, System as Sys};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker, Window};
use acl_runtime::resilience::clock::Clock;
use acl_runtime::resilience::classify::Idempotency;
use acl_runtime::resilience::pipeline::{AttemptError, Operation, System};
use acl_runtime::resilience::rate_limit::{Algorithm, RateLimiter};
use acl_runtime::resilience::retry::{Backoff, RetryBudget, RetryPolicy};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        Sys.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Sys.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 500_000;
const ROUNDS: usize = 5;

fn report(name: &str, ns: f64, allocs: f64) -> f64 {
    println!("{name:<40} {ns:>9.1} ns/call {allocs:>6.2} allocs/call");
    ns
}

/// Times `f` over `N` calls; the best of `ROUNDS` rounds (the least disturbed).
fn measure(name: &str, mut f: impl FnMut()) -> f64 {
    for _ in 0..10_000 {
        f();
    }
    let (mut best, mut allocs) = (f64::MAX, 0.0);
    for _ in 0..ROUNDS {
        let a0 = ALLOCS.load(Ordering::Relaxed);
        let t0 = Instant::now();
        for _ in 0..N {
            f();
        }
        best = best.min(t0.elapsed().as_nanos() as f64 / N as f64);
        allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / N as f64;
    }
    report(name, best, allocs)
}

/// Times `N` awaits of `f` inside one running runtime (as calls are made in a
/// service), best of `ROUNDS`.
fn measure_async<Fut: std::future::Future<Output = ()>>(
    rt: &tokio::runtime::Runtime,
    name: &str,
    mut f: impl FnMut() -> Fut,
) -> f64 {
    rt.block_on(async {
        for _ in 0..10_000 {
            f().await;
        }
        let (mut best, mut allocs) = (f64::MAX, 0.0);
        for _ in 0..ROUNDS {
            let a0 = ALLOCS.load(Ordering::Relaxed);
            let t0 = Instant::now();
            for _ in 0..N {
                f().await;
            }
            best = best.min(t0.elapsed().as_nanos() as f64 / N as f64);
            allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / N as f64;
        }
        report(name, best, allocs)
    })
}

/// Times `a` and `b` in alternating short rounds inside one runtime (a noisy neighbour
/// then hits both alike), best round of each. Also prints the median of the per-round
/// ratios, which a run spent entirely beside a noisy neighbour moves less than the best.
fn measure_pair_async<FA, FB, A, B>(
    rt: &tokio::runtime::Runtime,
    names: (&str, &str),
    mut a: A,
    mut b: B,
) -> (f64, f64)
where
    FA: std::future::Future<Output = ()>,
    FB: std::future::Future<Output = ()>,
    A: FnMut() -> FA,
    B: FnMut() -> FB,
{
    const PAIRS: usize = 40;
    const PER_ROUND: u64 = N / 10;
    // `ACL_BENCH_ROUNDS=1`: every round's figure on stderr. On the 2-vCPU VM we measure
    // on, episodes of 100-300 ms slow both sides together (acl from about 90 to 150 ns,
    // the peers from about 195 to 230). We have not found their cause: loops of TSC
    // reads, CAS, divisions and clock_gettime in another process show no such episodes.
    // Best rounds skip them; the median ratio shows how often they came.
    let show = std::env::var_os("ACL_BENCH_ROUNDS").is_some();
    rt.block_on(async {
        for _ in 0..10_000 {
            a().await;
            b().await;
        }
        let (mut best_a, mut best_b, mut alloc_a, mut alloc_b) = (f64::MAX, f64::MAX, 0.0, 0.0);
        let mut ratios = Vec::with_capacity(PAIRS);
        let started = Instant::now();
        for _ in 0..PAIRS {
            let a0 = ALLOCS.load(Ordering::Relaxed);
            let t0 = Instant::now();
            for _ in 0..PER_ROUND {
                a().await;
            }
            let ns_a = t0.elapsed().as_nanos() as f64 / PER_ROUND as f64;
            alloc_a = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / PER_ROUND as f64;
            let b0 = ALLOCS.load(Ordering::Relaxed);
            let t0 = Instant::now();
            for _ in 0..PER_ROUND {
                b().await;
            }
            let ns_b = t0.elapsed().as_nanos() as f64 / PER_ROUND as f64;
            alloc_b = (ALLOCS.load(Ordering::Relaxed) - b0) as f64 / PER_ROUND as f64;
            if show {
                let at = started.elapsed().as_millis();
                eprintln!("round at {at} ms: {} {ns_a:.1}, {} {ns_b:.1}", names.0, names.1);
            }
            best_a = best_a.min(ns_a);
            best_b = best_b.min(ns_b);
            ratios.push(ns_a / ns_b);
        }
        ratios.sort_by(f64::total_cmp);
        let result = (report(names.0, best_a, alloc_a), report(names.1, best_b, alloc_b));
        println!("(median of the {PAIRS} per-round ratios: {:.3})", ratios[PAIRS / 2]);
        result
    })
}

/// The operation every acl line measures: a breaker, a retry budget, an in-memory token
/// bucket that never refuses, a 5 s timeout, a 30 s deadline, three attempts.
fn operation(breaker: BreakerConfig, clock: Clock) -> Operation {
    let system = System::new("vendor", CircuitBreaker::new(breaker).unwrap(), RetryBudget::new(Duration::from_secs(10), 0.2, 10).unwrap())
        .rate_limited(RateLimiter::in_memory(Algorithm::TokenBucket { rate: 1e12, burst: 1_000_000 }).unwrap())
        .clock(clock);
    let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2)).unwrap();
    Operation::new(
        "op",
        Arc::new(system),
        Duration::from_secs(5),
        Duration::from_secs(30),
        RetryPolicy::new(3, Duration::from_secs(30), backoff).unwrap(),
        Idempotency::Idempotent,
    )
    .unwrap()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();

    // acl: the whole pipeline.
    let op = operation(BreakerConfig::default(), Clock::Tsc);
    // Peers: governor (rate limit) + failsafe (breaker) + tokio timeout.
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap()).allow_burst(NonZeroU32::new(1_000_000).unwrap());
    let gov = governor::RateLimiter::direct(quota);
    let fs = failsafe::Config::new().build();
    use failsafe::futures::CircuitBreaker as _;
    println!(
        "(size of one call's future: acl {} bytes)",
        std::mem::size_of_val(&op.call(|_| async { Ok::<u32, AttemptError<()>>(1) }))
    );
    // `ACL_BENCH_PROFILE=1`: only acl's pipeline, in a loop, for `perf record`.
    if std::env::var_os("ACL_BENCH_PROFILE").is_some() {
        measure_async(&rt, "acl pipeline (TSC clock)", || async {
            op.call(|_| async { Ok::<u32, AttemptError<()>>(1) }).await.unwrap();
        });
        return;
    }
    let (acl_ns, peer_ns) = measure_pair_async(
        &rt,
        ("acl pipeline (TSC clock)", "governor + failsafe + tokio timeout"),
        || async {
            op.call(|_| async { Ok::<u32, AttemptError<()>>(1) }).await.unwrap();
        },
        || async {
            gov.check().unwrap();
            tokio::time::timeout(Duration::from_secs(5), fs.call(async { Ok::<u32, ()>(1) })).await.unwrap().unwrap();
        },
    );
    let op_tokio = operation(BreakerConfig::default(), Clock::Tokio);
    measure_async(&rt, "acl pipeline (tokio clock, the default)", || async {
        op_tokio.call(|_| async { Ok::<u32, AttemptError<()>>(1) }).await.unwrap();
    });
    // The same with a time-based breaker window (successes counted lock-free per bucket).
    let op_timed = operation(BreakerConfig { window: Window::Time(Duration::from_secs(60)), ..BreakerConfig::default() }, Clock::Tsc);
    measure_async(&rt, "acl pipeline, time-window breaker (TSC)", || async {
        op_timed.call(|_| async { Ok::<u32, AttemptError<()>>(1) }).await.unwrap();
    });

    // What any pipeline with a per-attempt timer and a measured latency pays at least.
    measure("floor: one monotonic clock read", || {
        std::hint::black_box(Instant::now());
    });
    let tsc = quanta::Clock::new();
    measure("floor: one TSC clock read (quanta)", || {
        std::hint::black_box(tsc.raw());
    });
    measure_async(&rt, "floor: tokio timeout on a ready future", || async {
        tokio::time::timeout(Duration::from_secs(5), async { 1u32 }).await.unwrap();
    });

    let acl_limiter = RateLimiter::in_memory(Algorithm::TokenBucket { rate: 1e12, burst: 1_000_000 }).unwrap();
    let now = Instant::now();
    measure("acl in-memory limiter decision", || {
        std::hint::black_box(acl_limiter.check("vendor", now));
    });
    let slot = acl_limiter.slot("vendor");
    measure("acl in-memory limiter, key bound once", || {
        std::hint::black_box(slot.check(now));
    });
    measure("governor direct check", || {
        let _ = std::hint::black_box(gov.check());
    });
    // The shared limiter: one round trip to Redis per decision (when one is running,
    // as under `.ci/run`: ACL_REDIS_URL).
    match std::env::var("ACL_REDIS_URL") {
        Ok(url) => match acl_runtime::resilience::rate_limit::redis::RedisStore::connect(&url, "acl-bench", Duration::from_secs(60)) {
            Ok(store) => {
                let redis = RateLimiter::with_store(Algorithm::TokenBucket { rate: 1e9, burst: 1_000_000 }, store).unwrap();
                let n = 20_000u64;
                let a0 = ALLOCS.load(Ordering::Relaxed);
                let t0 = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(redis.check("vendor", Instant::now()));
                }
                let ns = t0.elapsed().as_nanos() as f64 / n as f64;
                let allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / n as f64;
                report("acl Redis limiter decision (loopback)", ns, allocs);
            }
            Err(e) => println!("acl Redis limiter decision: no Redis at {url}: {e}"),
        },
        Err(_) => println!("acl Redis limiter decision: skipped (set ACL_REDIS_URL)"),
    }
    println!("pipeline_ratio={:.3}", acl_ns / peer_ns);

    // OpenTelemetry: the operation as a generated client builds it (HTTP attributes on its
    // spans and labels), and each attempt injecting `traceparent` into its request's
    // headers as the client does. First with no subscriber (what a service that does not
    // trace pays), then with tracing-opentelemetry's layer and an SDK tracer that samples
    // every span and exports nowhere (what tracing every call costs).
    use acl_runtime::resilience::pipeline::HttpTarget;
    let target = HttpTarget {
        method: "GET".into(),
        url_template: "/v1/charges/{chargeId}".into(),
        server_address: "api.example.com".into(),
        server_port: Some(443),
    };
    let op_http = operation(BreakerConfig::default(), Clock::Tsc).http(target);
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let call_http = || async {
        op_http
            .call(|_| async {
                let mut headers = http::HeaderMap::new();
                acl_runtime::otel::inject(&tracing::Span::current(), &mut headers);
                std::hint::black_box(&headers);
                Ok::<u32, AttemptError<()>>(1)
            })
            .await
            .unwrap();
    };
    let (otel_off, plain) = measure_pair_async(
        &rt,
        ("acl + HTTP attributes + injection, no subscriber", "acl pipeline (TSC clock), again"),
        call_http,
        || async {
            op.call(|_| async { Ok::<u32, AttemptError<()>>(1) }).await.unwrap();
        },
    );
    println!("otel_off_ratio={:.3} (goal <= 1.3)", otel_off / plain);
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    let traced = tracing::subscriber::with_default(subscriber, || {
        measure_async(&rt, "acl + OTel layer, every span sampled", || async {
            op_http
                .call(|_| async {
                    let mut headers = http::HeaderMap::new();
                    acl_runtime::otel::inject(&tracing::Span::current(), &mut headers);
                    std::hint::black_box(&headers);
                    Ok::<u32, AttemptError<()>>(1)
                })
                .await
                .unwrap();
        })
    });
    println!(
        "otel_traced_ratio={:.3} (each call records two spans in the SDK; informational)",
        traced / plain
    );
}
