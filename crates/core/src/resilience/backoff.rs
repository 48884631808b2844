//! Exponential backoff with full jitter.
//!
//! The delay before retry `n` (1-based) is drawn uniformly from `[0, min(max, base * 2^(n-1))]`.
//! Full jitter spreads the retries of many clients that failed together, so that a recovering
//! provider is not hit by synchronised waves.

use std::time::Duration;

use rand::Rng;

/// A validated backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

/// Why a backoff schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    /// The base delay was zero.
    #[error("backoff base must be above zero")]
    ZeroBase,
    /// The base delay was above the cap.
    #[error("backoff base must not exceed its maximum")]
    BaseAboveMax,
}

impl Backoff {
    /// A schedule starting at `base` and never exceeding `max`.
    pub fn new(base: Duration, max: Duration) -> Result<Self, BackoffError> {
        if base.is_zero() {
            return Err(BackoffError::ZeroBase);
        }
        if base > max {
            return Err(BackoffError::BaseAboveMax);
        }
        Ok(Self { base, max })
    }

    /// The upper bound of the delay before retry `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << shift).min(self.max)
    }

    /// A delay drawn with full jitter for retry `retry`.
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, &mut rand::rng())
    }

    /// Like [`Backoff::delay`], with the caller's random source.
    pub fn delay_with(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry).as_nanos() as u64;
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nonsense_schedules_are_refused() {
        assert_eq!(
            Backoff::new(Duration::ZERO, Duration::from_secs(1)),
            Err(BackoffError::ZeroBase)
        );
        assert_eq!(
            Backoff::new(Duration::from_secs(2), Duration::from_secs(1)),
            Err(BackoffError::BaseAboveMax)
        );
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000)).unwrap();
        let ceilings: Vec<_> = (1..=6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_spreads_over_the_whole_range() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10)).unwrap();
        let delays: Vec<_> = (0..2000).map(|_| b.delay(4)).collect();
        let ceiling = b.ceiling(4);
        assert!(delays.iter().all(|d| *d <= ceiling));
        assert!(
            delays.iter().any(|d| *d < ceiling / 4),
            "full jitter reaches low delays"
        );
        assert!(
            delays.iter().any(|d| *d > ceiling * 3 / 4),
            "full jitter reaches high delays"
        );
    }

    proptest! {
        #[test]
        fn delay_never_exceeds_the_ceiling(base in 1u64..10_000, extra in 0u64..100_000, n in 1u32..64) {
            let b = Backoff::new(Duration::from_micros(base), Duration::from_micros(base + extra)).unwrap();
            let d = b.delay(n);
            prop_assert!(d <= b.ceiling(n));
            prop_assert!(b.ceiling(n) <= Duration::from_micros(base + extra));
        }
    }
}
