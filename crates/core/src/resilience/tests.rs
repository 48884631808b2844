//! Behaviour of the policy and failover as a whole, on tokio's paused clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::error::{Error, Kind};

fn config() -> PolicyConfig {
    PolicyConfig {
        attempt_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(30),
        max_attempts: 4,
        backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).unwrap(),
        max_retry_after: Duration::from_secs(10),
        retry_budget_ratio: 1.0,
        breaker_failures: 3,
        breaker_open_for: Duration::from_secs(5),
        rate_limit: None,
    }
}

fn unavailable() -> Error {
    Error::new(Kind::Unavailable, "503")
}

#[tokio::test(start_paused = true)]
async fn retries_retryable_failures_with_bounded_jittered_backoff() {
    let policy = Policy::new("p", config());
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let served = policy
        .call(Deadline::NONE, Repeat::Safe, |_| async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(unavailable())
            } else {
                Ok(7)
            }
        })
        .await
        .unwrap();
    assert_eq!((served.value, served.attempts), (7, 3));
    // Two backoffs: at most 100 ms + 200 ms.
    assert!(
        start.elapsed() <= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn never_retries_declines_or_unsafe_operations() {
    let policy = Policy::new("p", config());
    let calls = AtomicU32::new(0);
    let err = policy
        .call(Deadline::NONE, Repeat::Safe, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::new(Kind::Declined, "card declined"))
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, calls.load(Ordering::SeqCst)),
        (Kind::Declined, 1)
    );

    let calls = AtomicU32::new(0);
    let _ = policy
        .call(Deadline::NONE, Repeat::Unsafe, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(unavailable())
        })
        .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a write without idempotency key is sent once"
    );
}

#[tokio::test(start_paused = true)]
async fn unsafe_operations_are_retried_when_certainly_not_sent() {
    let policy = Policy::new("p", config());
    let calls = AtomicU32::new(0);
    let served = policy
        .call(Deadline::NONE, Repeat::Unsafe, |_| async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(unavailable().not_sent())
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
    assert_eq!(served.attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_an_excessive_one_stops_retrying() {
    let policy = Policy::new("p", config());
    let start = Instant::now();
    let calls = AtomicU32::new(0);
    policy
        .call(Deadline::NONE, Repeat::Safe, |_| async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(Error::new(Kind::RateLimited, "429").with_retry_after(Duration::from_secs(3)))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(3));

    let calls = AtomicU32::new(0);
    let err = policy
        .call(Deadline::NONE, Repeat::Safe, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(
                Error::new(Kind::RateLimited, "429").with_retry_after(Duration::from_secs(60)),
            )
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, calls.load(Ordering::SeqCst)),
        (Kind::RateLimited, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_callers_deadline_bounds_attempts_and_sleeps() {
    let policy = Policy::new("p", config());
    let start = Instant::now();
    let err = policy
        .call(
            Deadline::after(Duration::from_millis(500)),
            Repeat::Safe,
            |_| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, Kind::DeadlineExceeded);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(500),
        "the attempt was cut at the caller's deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_is_retried_when_safe() {
    let policy = Policy::new("p", config());
    let calls = AtomicU32::new(0);
    let served = policy
        .call(Deadline::NONE, Repeat::Safe, |_| async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(served.attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_retries_during_an_outage() {
    let mut cfg = config();
    cfg.retry_budget_ratio = 0.0;
    cfg.breaker_failures = 1000;
    let policy = Policy::new("p", cfg);
    let calls = Arc::new(AtomicU32::new(0));
    for _ in 0..50 {
        let calls = calls.clone();
        let _ = policy
            .call(Deadline::NONE, Repeat::Safe, move |_| {
                let calls = calls.clone();
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(unavailable())
                }
            })
            .await;
    }
    // 50 first attempts plus the floor of 10 retries per window, not 50 * 4.
    assert_eq!(calls.load(Ordering::SeqCst), 60);
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_fails_fast_then_probes_and_closes() {
    let mut cfg = config();
    cfg.max_attempts = 1;
    let policy = Policy::new("p", cfg);
    let sent = AtomicU32::new(0);
    let fail = || async {
        sent.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(unavailable())
    };
    for _ in 0..3 {
        let _ = policy.call(Deadline::NONE, Repeat::Safe, |_| fail()).await;
    }
    assert_eq!(policy.breaker_state(), BreakerState::Open);
    let err = policy
        .call(Deadline::NONE, Repeat::Safe, |_| fail())
        .await
        .unwrap_err();
    assert_eq!(err.kind, Kind::CircuitOpen);
    assert!(err.not_sent);
    assert_eq!(
        sent.load(Ordering::SeqCst),
        3,
        "an open breaker sends nothing"
    );
    assert_eq!(err.to_status().code(), tonic::Code::Unavailable);

    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(policy.breaker_state(), BreakerState::HalfOpen);
    policy
        .call(Deadline::NONE, Repeat::Safe, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(policy.breaker_state(), BreakerState::Closed);
    assert_eq!(policy.health().last_failure, Some(Kind::CircuitOpen));
}

#[tokio::test(start_paused = true)]
async fn healthy_refusals_do_not_open_the_breaker() {
    let policy = Policy::new("p", config());
    for _ in 0..10 {
        let _ = policy
            .call(Deadline::NONE, Repeat::Safe, |_| async {
                Err::<(), _>(Error::new(Kind::Declined, "no"))
            })
            .await;
    }
    assert_eq!(policy.breaker_state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_paces_calls_and_refuses_past_the_deadline() {
    let mut cfg = config();
    cfg.rate_limit = NonZeroU32::new(2).zip(NonZeroU32::new(1));
    let policy = Policy::new("p", cfg);
    let start = Instant::now();
    for _ in 0..3 {
        policy
            .call(Deadline::NONE, Repeat::Safe, |_| async { Ok(()) })
            .await
            .unwrap();
    }
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "2 per second after a burst of 1"
    );

    let mut cfg = config();
    cfg.rate_limit = NonZeroU32::new(1).zip(NonZeroU32::new(1));
    cfg.max_attempts = 1;
    let policy = Policy::new("p", cfg);
    policy
        .call(Deadline::NONE, Repeat::Safe, |_| async { Ok(()) })
        .await
        .unwrap();
    let err = policy
        .call(
            Deadline::after(Duration::from_millis(10)),
            Repeat::Safe,
            |_| async { Ok(()) },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, Kind::RateLimited);
    assert!(err.not_sent && err.retry_after.is_some());
}

trait Named: Send + Sync {
    fn name(&self) -> &'static str;
}
struct A;
struct B;
impl Named for A {
    fn name(&self) -> &'static str {
        "a"
    }
}
impl Named for B {
    fn name(&self) -> &'static str {
        "b"
    }
}

fn family(failover: bool) -> Providers<dyn Named> {
    let mut cfg = config();
    cfg.max_attempts = 1;
    let entry = |name: &str, provider: Arc<dyn Named>| Entry {
        name: name.to_owned(),
        provider,
        policy: Policy::new(name, cfg.clone()),
    };
    Providers::new(
        vec![entry("a", Arc::new(A)), entry("b", Arc::new(B))],
        failover,
    )
}

#[tokio::test(start_paused = true)]
async fn failover_moves_on_only_when_the_first_certainly_did_nothing() {
    let providers = family(true);
    let served = providers
        .call("", Deadline::NONE, Repeat::Unsafe, |p, _| async move {
            if p.name() == "a" {
                Err(unavailable().not_sent())
            } else {
                Ok(p.name())
            }
        })
        .await
        .unwrap();
    assert_eq!((served.value, served.provider.as_str()), ("b", "b"));

    let err = providers
        .call("", Deadline::NONE, Repeat::Unsafe, |p, _| async move {
            if p.name() == "a" {
                Err(unavailable())
            } else {
                Ok(p.name())
            }
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.provider.as_deref(),
        Some("a"),
        "a provider that may have acted is not bypassed"
    );
}

#[tokio::test(start_paused = true)]
async fn no_failover_when_off_or_when_a_provider_is_named() {
    let providers = family(false);
    let err = providers
        .call("", Deadline::NONE, Repeat::Safe, |_, _| async {
            Err::<(), _>(unavailable().not_sent())
        })
        .await
        .unwrap_err();
    assert_eq!(err.provider.as_deref(), Some("a"));

    let providers = family(true);
    let served = providers
        .call("b", Deadline::NONE, Repeat::Safe, |p, _| async move {
            Ok(p.name())
        })
        .await
        .unwrap();
    assert_eq!(served.provider, "b");
    let err = providers
        .call("zz", Deadline::NONE, Repeat::Safe, |_, _| async { Ok(()) })
        .await
        .unwrap_err();
    assert_eq!(err.kind, Kind::UnknownProvider);
}

/// Three failed calls to `name`: its breaker opens.
async fn fail(providers: &Providers<dyn Named>, name: &str) {
    for _ in 0..3 {
        let _ = providers
            .call(name, Deadline::NONE, Repeat::Safe, |_, _| async {
                Err::<(), _>(unavailable())
            })
            .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_is_refused_up_front_only_when_every_provider_it_may_use_is_open() {
    let providers = family(true);
    assert!(providers.refuses("").is_none());
    fail(&providers, "a").await;
    assert!(providers.refuses("").is_none(), "b may still take it");
    let refused = providers.refuses("a").unwrap();
    assert_eq!((refused.kind, refused.not_sent), (Kind::CircuitOpen, true));
    assert!(refused.retry_after.is_some());
    fail(&providers, "b").await;
    assert_eq!(providers.refuses("").unwrap().kind, Kind::CircuitOpen);
    // Once the open period is over a probe may go, so nothing is refused up front.
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(providers.refuses("").is_none());

    let without_failover = family(false);
    fail(&without_failover, "a").await;
    assert!(
        without_failover.refuses("").is_some(),
        "only a is used without failover"
    );
}
