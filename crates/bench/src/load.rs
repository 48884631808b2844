//! The load generator: open loop at a fixed rate, or closed loop at a fixed concurrency, with
//! latencies kept per call and summarised in HDR histograms.
//!
//! Open loop: call `i` is due at `t0 + i / rate` whatever happened to earlier calls. A plain OS
//! thread paces the calls with `nanosleep` (tens of µs of accuracy, where tokio's timer wheel
//! has 1 ms) and hands each one to the runtime as its own task, so a slow server never holds the
//! next call back; latency runs from the *scheduled* time, which charges any backlog to the
//! server (no coordinated omission).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_proto::payments::v1::{CaptureMethod, CreatePaymentRequest};
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// A payments client on one connection.
pub type Client = PaymentsServiceClient<Channel>;

/// The outcome of one call.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was due (open loop) or started (closed loop), from the run's start.
    pub at: Duration,
    /// From `at` to the answer.
    pub latency: Duration,
    /// The error, when it failed.
    pub error: Option<String>,
}

impl Sample {
    /// Whether it succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// When it was answered, from the run's start.
    pub fn end(&self) -> Duration {
        self.at + self.latency
    }
}

/// Every call of one run.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// One per call, in completion order.
    pub samples: Vec<Sample>,
    /// Calls that did not answer before the run gave up on them.
    pub lost: u64,
    /// From the first call's due time to the last answer.
    pub wall: Duration,
}

impl Run {
    /// Calls that failed or were lost.
    pub fn failed(&self) -> u64 {
        self.samples.iter().filter(|s| !s.ok()).count() as u64 + self.lost
    }

    /// The first error seen, for the report.
    pub fn first_error(&self) -> Option<String> {
        self.samples.iter().find_map(|s| s.error.clone())
    }

    /// Adds another run's calls (the rounds of one subject).
    pub fn extend(&mut self, other: Run) {
        self.samples.extend(other.samples);
        self.lost += other.lost;
        self.wall += other.wall;
    }

    /// The latencies of the successful calls.
    pub fn latencies(&self) -> Latencies {
        Latencies::of(self.samples.iter().filter(|s| s.ok()).map(|s| s.latency))
    }
}

/// An HDR histogram of latencies in microseconds (3 significant digits).
#[derive(Debug, Clone)]
pub struct Latencies(Option<Histogram<u64>>);

impl Latencies {
    /// The histogram of `latencies`.
    pub fn of(latencies: impl Iterator<Item = Duration>) -> Self {
        let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3) else {
            return Self(None);
        };
        for l in latencies {
            let us = u64::try_from(l.as_micros()).unwrap_or(u64::MAX).max(1);
            let _ = h.record(us.min(600_000_000));
        }
        Self(Some(h))
    }

    /// The `q` quantile in milliseconds, `None` when empty.
    pub fn ms(&self, q: f64) -> Option<f64> {
        let h = self.0.as_ref().filter(|h| !h.is_empty())?;
        Some(h.value_at_quantile(q) as f64 / 1000.0)
    }
}

/// A CreatePayment request with a fresh idempotency key (`tag`-`i`), as a caller sends it.
pub fn payment_request(tag: &str, i: u64) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount: Some(Money {
            amount_minor: 1000 + i64::try_from(i % 1000).unwrap_or(0),
            currency: "USD".to_owned(),
        }),
        capture_method: CaptureMethod::Immediate.into(),
        payment_method: "pm_card_visa".to_owned(),
        idempotency_key: format!("{tag}-{i}"),
        ..CreatePaymentRequest::default()
    }
}

/// Clients over `channels`, one per connection.
pub fn clients(channels: &[Channel]) -> Vec<Client> {
    channels
        .iter()
        .cloned()
        .map(PaymentsServiceClient::new)
        .collect()
}

/// A CreatePayment call on the `i % n`th of `clients`, with a deadline of `timeout`.
pub fn create_payment(
    clients: &[Client],
    tag: &str,
    i: u64,
    timeout: Duration,
) -> impl Future<Output = Result<(), String>> + Send + 'static + use<> {
    let n = clients.len().max(1);
    let client = clients.get(usize::try_from(i).unwrap_or(0) % n).cloned();
    let mut request = tonic::Request::new(payment_request(tag, i));
    request.set_timeout(timeout);
    async move {
        let mut client = client.ok_or_else(|| "no client".to_owned())?;
        client
            .create_payment(request)
            .await
            .map(drop)
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    }
}

/// Calls `call(i)` for `i` in `0..rate*duration`, call `i` due at `t0 + i / rate` seconds, and
/// waits at most `grace` after the last one is due for the stragglers.
pub async fn open_loop<F, Fut>(
    t0: Instant,
    rate: f64,
    duration: Duration,
    grace: Duration,
    call: F,
) -> Run
where
    F: Fn(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let n = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let handle = tokio::runtime::Handle::current();
    let pacer = std::thread::spawn(move || {
        for i in 0..n {
            let at = Duration::from_secs_f64(i as f64 / rate);
            let due = t0 + at;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let fut = call(i);
            let tx = tx.clone();
            handle.spawn(async move {
                let result = fut.await;
                let latency = Instant::now().saturating_duration_since(due);
                let _ = tx.send(Sample {
                    at,
                    latency,
                    error: result.err(),
                });
            });
        }
    });
    let mut run = Run::default();
    let give_up = tokio::time::Instant::from_std(t0 + duration + grace);
    while (run.samples.len() as u64) < n {
        match tokio::time::timeout_at(give_up, rx.recv()).await {
            Ok(Some(sample)) => run.samples.push(sample),
            Ok(None) | Err(_) => break,
        }
    }
    let _ = tokio::task::spawn_blocking(move || pacer.join()).await;
    run.lost = n.saturating_sub(run.samples.len() as u64);
    run.wall = run
        .samples
        .iter()
        .map(Sample::end)
        .max()
        .unwrap_or_default();
    run
}

/// Runs `concurrency` callers, each calling `call(i)` back to back, for `duration`; calls under
/// way at the end are waited for (at most `grace`) and kept.
pub async fn closed_loop<F, Fut>(
    concurrency: usize,
    duration: Duration,
    grace: Duration,
    call: F,
) -> Result<Run>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let stop = t0 + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let call = call.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < stop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let start = Instant::now();
                let result = call(i).await;
                samples.push(Sample {
                    at: start - t0,
                    latency: start.elapsed(),
                    error: result.err(),
                });
            }
            samples
        });
    }
    let mut run = Run::default();
    let collected = tokio::time::timeout(duration + grace, async {
        let mut all = Vec::new();
        while let Some(joined) = workers.join_next().await {
            all.extend(joined.context("a load worker panicked")?);
        }
        anyhow::Ok(all)
    })
    .await;
    match collected {
        Ok(samples) => run.samples = samples?,
        Err(_) => {
            run.lost = concurrency as u64;
            workers.abort_all();
        }
    }
    run.wall = t0.elapsed();
    Ok(run)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_keeps_its_rate_and_counts_every_call() {
        let t0 = Instant::now();
        let run = open_loop(
            t0,
            2000.0,
            Duration::from_millis(200),
            Duration::from_secs(1),
            |i| async move {
                if i % 10 == 0 {
                    Err("no".to_owned())
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert_eq!(run.samples.len(), 400);
        assert_eq!(run.failed(), 40);
        let last = run.samples.iter().map(|s| s.at).max().unwrap();
        assert!(last >= Duration::from_millis(199));
        // Pacing is far finer than tokio's millisecond timer.
        assert!(run.latencies().ms(0.5).unwrap() < 1.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_loop_keeps_its_concurrency() {
        let run = closed_loop(
            10,
            Duration::from_millis(200),
            Duration::from_secs(1),
            |_| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(())
            },
        )
        .await
        .unwrap();
        // 10 callers, 20 ms each, 200 ms: about 100 calls.
        assert!(
            (80..=120).contains(&run.samples.len()),
            "{}",
            run.samples.len()
        );
        assert!(run.latencies().ms(0.5).unwrap() >= 20.0);
    }
}
