//! The scenarios, one module each, and what they share: the scale of a quick or full run, and
//! how to start the payments adapter against the fake provider.

mod b1_passthrough;
mod b2_slow_provider;
mod b3_webhooks;
mod b4_breaker;
mod b5_memory;
mod b6_cold_start;

use std::time::Duration;

use anyhow::{Result, bail};

use crate::fake::Fake;
use crate::report::Row;
use crate::spawn::{Server, Spec};

/// One scenario.
#[derive(Debug, Clone, Copy)]
pub enum Scenario {
    /// Pass-through latency and CPU at a fixed rate.
    B1,
    /// Throughput against a slow provider.
    B2,
    /// Webhook ingest.
    B3,
    /// A failing provider and the circuit breaker.
    B4,
    /// Memory, idle and loaded.
    B5,
    /// Cold start.
    B6,
}

/// Every scenario, in report order.
pub const ALL: &[(&str, Scenario)] = &[
    ("B1", Scenario::B1),
    ("B2", Scenario::B2),
    ("B3", Scenario::B3),
    ("B4", Scenario::B4),
    ("B5", Scenario::B5),
    ("B6", Scenario::B6),
];

impl Scenario {
    /// Runs the scenario; its rows.
    pub async fn run(self, bench: &mut Bench) -> Result<Vec<Row>> {
        match self {
            Scenario::B1 => b1_passthrough::run(bench).await,
            Scenario::B2 => b2_slow_provider::run(bench).await,
            Scenario::B3 => b3_webhooks::run(bench).await,
            Scenario::B4 => b4_breaker::run(bench).await,
            Scenario::B5 => b5_memory::run(bench).await,
            Scenario::B6 => b6_cold_start::run(bench).await,
        }
    }
}

/// State shared by the scenarios of one run.
#[derive(Debug)]
pub struct Bench {
    /// Whether this is the quick run.
    pub quick: bool,
    /// Notes for the report.
    pub notes: Vec<String>,
}

/// The Stripe test key the adapter is given (the fake accepts any).
pub const STRIPE_KEY: &str = "sk_test_integbench0000000000000000";

/// The Stripe webhook signing secret the adapter is given.
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_integbench0000000000000000000000";

impl Bench {
    /// A run, quick or full.
    pub fn new(quick: bool) -> Self {
        Self {
            quick,
            notes: Vec::new(),
        }
    }

    /// `full` in a full run, `quick` in a quick one.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// Seconds, scaled for the run.
    pub fn secs(&self, full: f64, quick: f64) -> Duration {
        Duration::from_secs_f64(self.pick(full, quick))
    }

    /// Adds a note to the report.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The payments adapter with Stripe as its only provider, pointed at `fake`, otherwise with
    /// its defaults (SQLite store, JSON logs at INFO, default resilience policy).
    pub fn stripe_adapter(fake: &Fake) -> Result<Spec> {
        Ok(Spec::adapter("payments")?
            .env("INTEG_PAYMENTS_PROVIDERS", "stripe")
            .env("INTEG_STRIPE_BASE_URL", fake.url.clone())
            .env("INTEG_STRIPE_API_KEY", STRIPE_KEY)
            .env("INTEG_STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET))
    }

    /// Starts `spec`, explaining a build that has no Stripe provider yet.
    pub async fn start(spec: &Spec) -> Result<Server> {
        match spec.spawn().await {
            Ok(server) => Ok(server),
            Err(error) if format!("{error:#}").contains("unknown provider") => {
                bail!(
                    "this build of integ-payments has no stripe provider, which the scenario \
                     drives against the fake: {error:#}"
                )
            }
            Err(error) => Err(error),
        }
    }
}

/// Calls per second of `run`'s successful calls answered between `from` and `to` (offsets from
/// its start).
pub fn rate_between(run: &crate::load::Run, from: Duration, to: Duration) -> Option<f64> {
    let span = to.checked_sub(from)?.as_secs_f64();
    if span <= 0.0 {
        return None;
    }
    let n = run
        .samples
        .iter()
        .filter(|s| s.ok() && s.end() >= from && s.end() < to)
        .count();
    Some(n as f64 / span)
}

/// Milliseconds in a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
