//! The resilience policy around every outbound call to one provider.
//!
//! [`Policy::call`] runs an operation under, in this order: the overall deadline (the caller's,
//! capped by the provider's own), the circuit breaker, the client-side rate limit, a timeout per
//! attempt, and retries. A failure is retried only when it is retryable *and* the operation is
//! safe to repeat (idempotent, or carrying a provider idempotency key), while the retry budget
//! lasts and the next attempt can still finish before the deadline. The wait between attempts is
//! the provider's `Retry-After` when it gave one (clamped), else full-jitter backoff.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{Backoff, Breaker, BreakerState, Deadline, Limiter, RetryBudget};
use crate::config::{ConfigError, Env};
use crate::error::{Error, Kind, Result};

/// Settings of one provider's policy, from `INTEG_<PROVIDER>_*`.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// Timeout of one attempt (`_TIMEOUT_MS`).
    pub attempt_timeout: Duration,
    /// Longest a whole call may take when the caller set no deadline (`_DEADLINE_MS`).
    pub deadline: Duration,
    /// Attempts per call, first included (`_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Backoff between attempts (`_BACKOFF_BASE_MS`, `_BACKOFF_MAX_MS`).
    pub backoff: Backoff,
    /// Longest `Retry-After` honoured; a longer one ends the retries (`_MAX_RETRY_AFTER_MS`).
    pub max_retry_after: Duration,
    /// Retries allowed per first attempt over ten seconds (`_RETRY_BUDGET_RATIO`).
    pub retry_budget_ratio: f64,
    /// Consecutive failures that open the breaker (`_BREAKER_FAILURES`).
    pub breaker_failures: u32,
    /// How long the breaker stays open (`_BREAKER_OPEN_MS`).
    pub breaker_open_for: Duration,
    /// Calls per second allowed and their burst (`_RATE_LIMIT_PER_SEC`, `_RATE_LIMIT_BURST`).
    pub rate_limit: Option<(NonZeroU32, NonZeroU32)>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_attempts: 3,
            backoff: Backoff::default(),
            max_retry_after: Duration::from_secs(30),
            retry_budget_ratio: 0.2,
            breaker_failures: 5,
            breaker_open_for: Duration::from_secs(10),
            rate_limit: None,
        }
    }
}

impl PolicyConfig {
    /// Reads the settings of the provider whose keys start with `prefix` (`INTEG_STRIPE`).
    pub fn from_env(env: &Env, prefix: &str) -> Result<Self, ConfigError> {
        let d = Self::default();
        let key = |s: &str| format!("{prefix}_{s}");
        let base = env.millis(&key("BACKOFF_BASE_MS"), Duration::from_millis(100))?;
        let max = env.millis(&key("BACKOFF_MAX_MS"), Duration::from_secs(5))?;
        let backoff = Backoff::new(base, max)
            .map_err(|e| ConfigError::new(key("BACKOFF_BASE_MS"), e.to_string()))?;
        let ratio: f64 = env.parse(
            &key("RETRY_BUDGET_RATIO"),
            d.retry_budget_ratio,
            "a number between 0 and 10",
        )?;
        if !(0.0..=10.0).contains(&ratio) {
            return Err(ConfigError::new(
                key("RETRY_BUDGET_RATIO"),
                "must be between 0 and 10",
            ));
        }
        let rate_limit = match env.get(&key("RATE_LIMIT_PER_SEC")) {
            None => None,
            Some(_) => {
                let rate = env.count(&key("RATE_LIMIT_PER_SEC"), 1)?;
                let burst = env.count(&key("RATE_LIMIT_BURST"), rate)?;
                NonZeroU32::new(rate).zip(NonZeroU32::new(burst))
            }
        };
        Ok(Self {
            attempt_timeout: env.millis(&key("TIMEOUT_MS"), d.attempt_timeout)?,
            deadline: env.millis(&key("DEADLINE_MS"), d.deadline)?,
            max_attempts: env.count(&key("MAX_ATTEMPTS"), d.max_attempts)?,
            backoff,
            max_retry_after: env.millis(&key("MAX_RETRY_AFTER_MS"), d.max_retry_after)?,
            retry_budget_ratio: ratio,
            breaker_failures: env.count(&key("BREAKER_FAILURES"), d.breaker_failures)?,
            breaker_open_for: env.millis(&key("BREAKER_OPEN_MS"), d.breaker_open_for)?,
            rate_limit,
        })
    }
}

/// Whether an operation may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, deletes by id, and writes carrying a provider idempotency key.
    Safe,
    /// Writes the provider cannot deduplicate: never retried once they may have been sent.
    Unsafe,
}

/// What a finished call reports besides its value.
#[derive(Debug, Clone)]
pub struct Served<T> {
    /// The operation's result.
    pub value: T,
    /// The provider that served it.
    pub provider: String,
    /// Attempts made, first included.
    pub attempts: u32,
}

/// A provider's recent health, for `GetProviderHealth` and metrics.
#[derive(Debug, Clone, Default)]
pub struct HealthSnapshot {
    /// The kind of the last failure, if any.
    pub last_failure: Option<Kind>,
    /// When the last failure happened.
    pub last_failure_time: Option<SystemTime>,
    /// When the last call succeeded.
    pub last_success_time: Option<SystemTime>,
    /// Latency of the last completed attempt.
    pub last_latency: Option<Duration>,
    /// Latencies of the last attempts (at most [`LATENCY_WINDOW`]), oldest first.
    pub recent_latencies: std::collections::VecDeque<Duration>,
    /// Calls made since start.
    pub calls: u64,
    /// Calls that failed since start.
    pub failures: u64,
}

/// How many recent attempt latencies a [`HealthSnapshot`] keeps.
pub const LATENCY_WINDOW: usize = 64;

impl HealthSnapshot {
    /// The median of the recent attempt latencies.
    pub fn p50_latency(&self) -> Option<Duration> {
        let mut sorted: Vec<_> = self.recent_latencies.iter().copied().collect();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied()
    }
}

/// The policy of one provider: shared by every call to it.
#[derive(Debug)]
pub struct Policy {
    provider: String,
    config: PolicyConfig,
    breaker: Breaker,
    budget: RetryBudget,
    limiter: Option<Limiter>,
    health: Mutex<HealthSnapshot>,
}

impl Policy {
    /// A policy for `provider` with `config`.
    pub fn new(provider: impl Into<String>, config: PolicyConfig) -> Arc<Self> {
        let limiter = config
            .rate_limit
            .map(|(rate, burst)| Limiter::new(rate, burst));
        Arc::new(Self {
            provider: provider.into(),
            breaker: Breaker::new(config.breaker_failures, config.breaker_open_for),
            budget: RetryBudget::new(config.retry_budget_ratio, 10, Duration::from_secs(10)),
            limiter,
            config,
            health: Mutex::new(HealthSnapshot::default()),
        })
    }

    /// The error of a call refused by the open breaker: not sent, retry after the probe.
    pub fn circuit_open(&self) -> Error {
        // Open: until the probe may go. Half-open with the probe out: its answer is near.
        let wait = self
            .breaker
            .open_until()
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|| self.config.breaker_open_for.min(Duration::from_secs(1)));
        Error::new(Kind::CircuitOpen, "provider circuit is open; call not sent")
            .with_provider(&self.provider)
            .with_retry_after(wait)
            .not_sent()
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// The breaker itself, for health reports.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The provider's recent health.
    pub fn health(&self) -> HealthSnapshot {
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Runs `op` (given the attempt number, from 1) under this policy.
    pub async fn call<T, F, Fut>(
        &self,
        deadline: Deadline,
        repeat: Repeat,
        mut op: F,
    ) -> Result<Served<T>>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let until = deadline.capped(self.config.deadline);
        self.budget.deposit();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.attempt(until, attempt, &mut op).await {
                Ok(value) => {
                    self.finish(attempt, None);
                    return Ok(Served {
                        value,
                        provider: self.provider.clone(),
                        attempts: attempt,
                    });
                }
                Err(e) => e,
            };
            if let Some(delay) = self.retry_delay(&error, attempt, repeat, until) {
                metrics::counter!("integ_provider_retries_total", "provider" => self.provider.clone()).increment(1);
                tokio::time::sleep(delay).await;
                continue;
            }
            self.finish(attempt, Some(error.kind));
            return Err(error);
        }
    }

    async fn attempt<T, F, Fut>(&self, until: Instant, attempt: u32, op: &mut F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let provider = self.provider.as_str();
        if Instant::now() >= until {
            return Err(Error::new(
                Kind::DeadlineExceeded,
                "deadline passed before the call was sent",
            )
            .with_provider(provider)
            .not_sent());
        }
        let Some(permit) = self.breaker.try_acquire() else {
            return Err(self.circuit_open());
        };
        if let Some(limiter) = &self.limiter
            && let Err(wait) = limiter.acquire(until).await
        {
            // Never sent, so it says nothing about the provider; a probe slot is freed.
            drop(permit);
            return Err(Error::new(
                Kind::RateLimited,
                "client-side rate limit for this provider reached",
            )
            .with_provider(provider)
            .with_retry_after(wait)
            .not_sent());
        }
        let started = Instant::now();
        let budget = until
            .saturating_duration_since(started)
            .min(self.config.attempt_timeout);
        let result = match tokio::time::timeout(budget, op(attempt)).await {
            Ok(result) => result,
            Err(_) => Err(
                Error::new(Kind::DeadlineExceeded, "provider did not answer in time")
                    .with_provider(provider),
            ),
        };
        self.note_latency(started.elapsed());
        let healthy = !matches!(&result, Err(e) if counts_against_health(e));
        self.breaker.record(permit, healthy);
        result.map_err(|e| {
            if e.provider.is_none() {
                e.with_provider(provider)
            } else {
                e
            }
        })
    }

    fn retry_delay(
        &self,
        error: &Error,
        attempt: u32,
        repeat: Repeat,
        until: Instant,
    ) -> Option<Duration> {
        let repeatable = repeat == Repeat::Safe || error.not_sent;
        if !error.retryable || !repeatable || attempt >= self.config.max_attempts {
            return None;
        }
        if error.kind == Kind::CircuitOpen {
            return None;
        }
        let delay = match error.retry_after {
            Some(d) if d > self.config.max_retry_after => return None,
            Some(d) => d,
            None => self.config.backoff.delay(attempt),
        };
        if Instant::now() + delay >= until {
            return None;
        }
        if !self.budget.withdraw() {
            tracing::warn!(provider = %self.provider, "retry budget spent; failing without retry");
            metrics::counter!("integ_provider_retry_budget_exhausted_total", "provider" => self.provider.clone()).increment(1);
            return None;
        }
        Some(delay)
    }

    fn note_latency(&self, latency: Duration) {
        if let Ok(mut h) = self.health.lock() {
            h.last_latency = Some(latency);
            if h.recent_latencies.len() == LATENCY_WINDOW {
                h.recent_latencies.pop_front();
            }
            h.recent_latencies.push_back(latency);
        }
        metrics::histogram!("integ_provider_attempt_seconds", "provider" => self.provider.clone())
            .record(latency.as_secs_f64());
    }

    fn finish(&self, attempts: u32, failure: Option<Kind>) {
        if let Ok(mut h) = self.health.lock() {
            h.calls += 1;
            if failure.is_none() {
                h.last_success_time = Some(SystemTime::now());
            }
            if let Some(kind) = failure {
                h.failures += 1;
                h.last_failure = Some(kind);
                h.last_failure_time = Some(SystemTime::now());
            }
        }
        let outcome = failure.map_or("ok", Kind::reason);
        let provider = self.provider.clone();
        metrics::counter!("integ_provider_calls_total", "provider" => provider.clone(), "outcome" => outcome).increment(1);
        metrics::counter!("integ_provider_attempts_total", "provider" => provider.clone())
            .increment(u64::from(attempts));
        metrics::gauge!("integ_provider_breaker_state", "provider" => provider)
            .set(self.breaker.state().as_gauge());
    }
}

/// Failures that say the provider is unhealthy (as opposed to a healthy refusal).
fn counts_against_health(e: &Error) -> bool {
    matches!(e.kind, Kind::Unavailable | Kind::DeadlineExceeded)
        || (e.kind == Kind::Internal && e.retryable)
}
