//! A client-side rate limit per provider and credential, on governor's GCRA.
//!
//! A call waits for a slot as long as the remaining deadline allows; when the wait would
//! outlive the deadline it fails at once as rate limited, without being sent. The clock is
//! tokio's, so tests run on a paused clock.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

/// governor's view of tokio's (pausable) clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        Instant::now().into_std()
    }
}

/// A rate limit of `per_second` calls with bursts of `burst`.
#[derive(Debug)]
pub struct Limiter {
    inner: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>,
}

impl Limiter {
    /// A limiter allowing `per_second` calls per second on average and `burst` at once.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            inner: RateLimiter::direct_with_clock(quota, TokioClock),
        }
    }

    /// Waits for a slot until `deadline`. Returns the time it would have had to wait when the
    /// deadline comes first.
    pub async fn acquire(&self, deadline: Instant) -> Result<(), Duration> {
        loop {
            let wait = match self.inner.check() {
                Ok(()) => return Ok(()),
                Err(not_until) => {
                    let now = TokioClock.now();
                    not_until.earliest_possible().duration_since(now)
                }
            };
            if Instant::now() + wait > deadline {
                return Err(wait);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces_at_the_configured_rate() {
        let limiter = Limiter::new(nz(10), nz(2));
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        for _ in 0..12 {
            limiter.acquire(far).await.unwrap();
        }
        // Two at once, then ten more at 100 ms each.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(990) && elapsed <= Duration::from_millis(1010),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_at_once_when_the_wait_outlives_the_deadline() {
        let limiter = Limiter::new(nz(1), nz(1));
        let now = Instant::now();
        limiter.acquire(now + Duration::from_secs(5)).await.unwrap();
        let wait = limiter
            .acquire(now + Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(wait > Duration::from_millis(900));
        assert_eq!(Instant::now(), now, "no time was spent waiting");
    }
}
