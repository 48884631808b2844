//! A circuit breaker per provider: closed, open, half-open.
//!
//! Closed: calls pass; `failure_threshold` consecutive failures open the breaker. Open: calls
//! fail at once with [`Kind::CircuitOpen`](crate::error::Kind) and are never sent, for
//! `open_for`. Half-open: one probe call passes; its success closes the breaker, its failure
//! opens it again. Only failures that say something about the provider's health count
//! (unavailable, timed out); a decline or a bad argument is a healthy answer.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The breaker's state, as exported in metrics (0, 1, 2) and by `GetProviderHealth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls fail fast without being sent.
    Open,
    /// One probe is allowed through.
    HalfOpen,
}

impl BreakerState {
    /// The gauge value of this state.
    pub fn as_gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

/// A circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    failure_threshold: u32,
    open_for: Duration,
    state: Mutex<Inner>,
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Permission to send one call; report its result with [`Breaker::record`]. A probe permit
/// dropped without a result (the caller gave up mid-call) lets the next call probe instead, so
/// that a cancelled probe cannot hold the breaker half-open for ever.
#[derive(Debug)]
#[must_use]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe
            && !self.recorded
            && let Inner::HalfOpen { probing } = &mut *self.breaker.lock()
        {
            *probing = false;
        }
    }
}

impl Breaker {
    /// A breaker that opens after `failure_threshold` consecutive failures for `open_for`.
    pub fn new(failure_threshold: u32, open_for: Duration) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            open_for,
            state: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        let mut inner = self.lock();
        Self::settle(&mut inner);
        match *inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Consecutive failures counted while closed.
    pub fn consecutive_failures(&self) -> u32 {
        match *self.lock() {
            Inner::Closed { failures } => failures,
            _ => self.failure_threshold,
        }
    }

    /// When an open breaker lets its next probe through.
    pub fn open_until(&self) -> Option<Instant> {
        match *self.lock() {
            Inner::Open { until } => Some(until),
            _ => None,
        }
    }

    /// Asks to send a call. `None` means the breaker is open (or a probe is already out).
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        Self::settle(&mut inner);
        match &mut *inner {
            Inner::Closed { .. } => Some(Permit {
                breaker: self,
                probe: false,
                recorded: false,
            }),
            Inner::Open { .. } => None,
            Inner::HalfOpen { probing } if !*probing => {
                *probing = true;
                Some(Permit {
                    breaker: self,
                    probe: true,
                    recorded: false,
                })
            }
            Inner::HalfOpen { .. } => None,
        }
    }

    /// Reports how a permitted call went: `healthy` is false only for failures that count.
    pub fn record(&self, mut permit: Permit<'_>, healthy: bool) {
        permit.recorded = true;
        let mut inner = self.lock();
        match (&mut *inner, healthy) {
            (Inner::Closed { failures }, true) => *failures = 0,
            (Inner::Closed { failures }, false) => {
                *failures += 1;
                if *failures >= self.failure_threshold {
                    *inner = Inner::Open {
                        until: Instant::now() + self.open_for,
                    };
                }
            }
            (Inner::HalfOpen { .. }, true) if permit.probe => {
                *inner = Inner::Closed { failures: 0 }
            }
            (Inner::HalfOpen { .. }, false) if permit.probe => {
                *inner = Inner::Open {
                    until: Instant::now() + self.open_for,
                };
            }
            // A call that started before the breaker opened: its result is stale.
            _ => {}
        }
    }

    fn settle(inner: &mut Inner) {
        if let Inner::Open { until } = inner
            && Instant::now() >= *until
        {
            *inner = Inner::HalfOpen { probing: false };
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_without_a_result_lets_the_next_call_probe() {
        let b = Breaker::new(1, Duration::from_secs(5));
        fail(&b);
        tokio::time::advance(Duration::from_secs(5)).await;
        let probe = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none());
        drop(probe);
        let next = b.try_acquire().expect("a cancelled probe frees the slot");
        b.record(next, true);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    fn fail(b: &Breaker) {
        let p = b.try_acquire().unwrap();
        b.record(p, false);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_then_half_opens_and_closes_on_a_good_probe() {
        let b = Breaker::new(3, Duration::from_secs(5));
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none());

        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none(), "one probe at a time");
        b.record(probe, true);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_probe_reopens_for_a_full_period() {
        let b = Breaker::new(1, Duration::from_secs(5));
        fail(&b);
        tokio::time::advance(Duration::from_secs(5)).await;
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_consecutive_count() {
        let b = Breaker::new(2, Duration::from_secs(5));
        fail(&b);
        let p = b.try_acquire().unwrap();
        b.record(p, true);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
