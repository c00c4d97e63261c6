//! The Redis rate-limit store against a real `redis-server`. These tests are ignored by
//! default (they need a server): `.ci/run` starts one and runs them with
//! `--include-ignored`; by hand, start `redis-server` and set `ACL_REDIS_URL` (default
//! `redis://127.0.0.1:6379`), then `cargo test -p acl-runtime --test redis_store --
//! --include-ignored`. Run without a server, they fail: none passes having done nothing.
#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use acl_runtime::resilience::rate_limit::redis::RedisStore;
use acl_runtime::resilience::rate_limit::{decide, Algorithm, Decision, KeyState, RateLimiter};
use proptest::prelude::*;

const NEEDS: &str = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)";

fn url() -> String {
    let url = std::env::var("ACL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    if let Err(e) = RedisStore::connect(&url, "acl-probe", Duration::from_secs(1)) {
        panic!("{NEEDS}; no server at {url}: {e}");
    }
    url
}

fn unique(prefix: &str) -> String {
    format!(
        "acl-test-{prefix}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    )
}

fn algorithms() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        (1u32..20, 1u32..5).prop_map(|(r, b)| Algorithm::TokenBucket {
            rate: r as f64,
            burst: b
        }),
        (1u32..20, 1u32..5).prop_map(|(r, c)| Algorithm::LeakyBucket {
            rate: r as f64,
            capacity: c
        }),
        (1u32..5, 1u64..3).prop_map(|(l, w)| Algorithm::FixedWindow {
            limit: l,
            window: Duration::from_secs(w)
        }),
        (1u32..5, 1u64..3).prop_map(|(l, w)| Algorithm::SlidingWindow {
            limit: l,
            window: Duration::from_secs(w)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// On the same arrivals, Redis and the in-memory arithmetic make the same decisions.
    #[test]
    #[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
    fn redis_and_memory_agree(alg in algorithms(), mut arrivals in proptest::collection::vec(0u64..4_000, 1..60)) {
        let url = url();
        arrivals.sort_unstable();
        let epoch = Instant::now();
        let store = RedisStore::connect(&url, unique("agree"), Duration::from_secs(30)).unwrap().with_client_clock(epoch);
        let mut state = KeyState { b: 0.0, ..KeyState::default() };
        for ms in arrivals {
            let at = epoch + Duration::from_millis(ms);
            let in_redis = store.try_decide("k", &alg, at).unwrap();
            let in_memory = decide(&alg, &mut state, ms as f64 / 1000.0);
            prop_assert_eq!(in_redis == Decision::Allow, in_memory == Decision::Allow, "at {} ms", ms);
        }
    }
}

#[test]
#[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
fn the_server_clock_decides_and_instances_share_the_limit() {
    let url = url();
    let prefix = unique("shared");
    // Two "instances" of a service, each with its own connection, one limit.
    let a = RateLimiter::with_store(
        Algorithm::TokenBucket {
            rate: 1.0,
            burst: 2,
        },
        RedisStore::connect(&url, prefix.clone(), Duration::from_secs(30)).unwrap(),
    )
    .unwrap();
    let b = RateLimiter::with_store(
        Algorithm::TokenBucket {
            rate: 1.0,
            burst: 2,
        },
        RedisStore::connect(&url, prefix, Duration::from_secs(30)).unwrap(),
    )
    .unwrap();
    // The client's `now` is ignored: the server's clock is used.
    let now = Instant::now();
    assert_eq!(a.check("vendor", now), Decision::Allow);
    assert_eq!(b.check("vendor", now), Decision::Allow);
    match a.check("vendor", now + Duration::from_secs(3600)) {
        Decision::Deny { retry_after } => assert!(retry_after <= Duration::from_secs(1)),
        d => panic!("the third call within the burst window must wait: {d:?}"),
    }
}

#[test]
#[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
fn idle_keys_expire() {
    let url = url();
    let prefix = unique("idle");
    let store = RedisStore::connect(&url, prefix.clone(), Duration::from_millis(50)).unwrap();
    store
        .try_decide(
            "k",
            &Algorithm::FixedWindow {
                limit: 1,
                window: Duration::from_secs(60),
            },
            Instant::now(),
        )
        .unwrap();
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}:k"))
        .query(&mut conn)
        .unwrap();
    assert!(ttl > 0 && ttl <= 50, "{ttl}");
}

/// Two instances of a service (two `System`s) share one outbound limit through Redis:
/// together they get the burst, and the next call fails fast with the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
async fn the_pipeline_shares_a_limit_across_instances_through_redis() {
    use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker};
    use acl_runtime::resilience::classify::Idempotency;
    use acl_runtime::resilience::pipeline::{
        AttemptError, CallError, Operation, System, WhenLimited,
    };
    use acl_runtime::resilience::retry::{Backoff, RetryBudget, RetryPolicy};
    use std::sync::Arc;

    let url = url();
    let prefix = unique("pipeline");
    let instance = || {
        let store = RedisStore::connect(&url, prefix.clone(), Duration::from_secs(60)).unwrap();
        let limiter = RateLimiter::with_store(
            Algorithm::TokenBucket {
                rate: 0.1,
                burst: 3,
            },
            store,
        )
        .unwrap();
        let system = Arc::new(
            System::new(
                "vendor",
                CircuitBreaker::new(BreakerConfig::default()).unwrap(),
                RetryBudget::new(Duration::from_secs(10), 0.2, 10).unwrap(),
            )
            .rate_limited_shared(limiter),
        );
        Operation::new(
            "op",
            system,
            Duration::from_secs(1),
            Duration::from_secs(5),
            RetryPolicy::new(
                1,
                Duration::from_secs(5),
                Backoff::fixed(Duration::from_millis(10)),
            )
            .unwrap(),
            Idempotency::Idempotent,
        )
        .unwrap()
        .when_limited(WhenLimited::FailFast)
    };
    let (a, b) = (instance(), instance());
    let ok = || async { Ok::<_, AttemptError<()>>(()) };
    assert!(a.call(|_| ok()).await.is_ok());
    assert!(b.call(|_| ok()).await.is_ok());
    assert!(a.call(|_| ok()).await.is_ok());
    match b.call(|_| ok()).await {
        Err(CallError::RateLimited { retry_after, .. }) => {
            assert!(retry_after > Duration::from_secs(5), "{retry_after:?}")
        }
        other => panic!("the fourth call of the shared burst of 3 went through: {other:?}"),
    }
}

/// Webhook deduplication in Redis: the same two phases as the SQLite and memory stores,
/// and one winner among many instances claiming the same id at once.
#[test]
#[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
fn redis_idempotency_walks_the_two_phases_and_has_one_winner() {
    use acl_runtime::store::redis::RedisIdempotency;
    use acl_runtime::store::{Claim, IdempotencyStore};
    let url = url();
    let prefix = unique("idem");
    let s = RedisIdempotency::connect(&url, &prefix).unwrap();
    let (a, b) = ([1u8; 32], [2u8; 32]);
    let lease = Duration::from_millis(300);
    assert_eq!(s.begin("x", &a, lease, 0).unwrap(), Claim::New);
    assert_eq!(s.begin("x", &a, lease, 0).unwrap(), Claim::InProgress);
    assert_eq!(s.begin("x", &b, lease, 0).unwrap(), Claim::Conflict);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        s.begin("x", &a, lease, 0).unwrap(),
        Claim::New,
        "a lapsed lease frees the id"
    );
    s.commit("x", &a, Duration::from_secs(60), 0).unwrap();
    assert_eq!(s.begin("x", &a, lease, 0).unwrap(), Claim::Duplicate);
    s.abort("x").unwrap();
    assert_eq!(
        s.begin("x", &a, lease, 0).unwrap(),
        Claim::Duplicate,
        "abort never drops a committed id"
    );
    assert_eq!(s.begin("y", &a, lease, 0).unwrap(), Claim::New);
    s.abort("y").unwrap();
    assert_eq!(s.begin("y", &a, lease, 0).unwrap(), Claim::New);

    // Eight "instances" (connections) race for one id 25 times each: one New.
    let wins = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let s = RedisIdempotency::connect(&url, &prefix).unwrap();
                for _ in 0..25 {
                    if s.begin("race", &a, Duration::from_secs(30), 0).unwrap() == Claim::New {
                        wins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(wins.into_inner(), 1);
}
