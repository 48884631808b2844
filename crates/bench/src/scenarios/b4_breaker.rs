//! B4: the fake Stripe answers 503 for a while, then recovers, under a steady open-loop load.
//! The adapter runs its default resilience policy (in a quick run the failure lasts 1 s, so the
//! breaker's open time is shortened to fit).
//!
//! Measured: provider calls ÷ client calls while failing and while the breaker is open (the
//! fake counts what reaches it), the time from the first 503 to the breaker opening (polled on
//! `GetProviderHealth` every 5 ms), the latency of the calls failed fast while open, and the
//! time from the provider's recovery to the first successful call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use integ_proto::common::v1::BreakerState;
use integ_proto::payments::v1::GetProviderHealthRequest;
use tokio::sync::Mutex;

use super::{Bench, ms};
use crate::fake::Fake;
use crate::load::{self, Latencies};
use crate::report::Row;

/// When the breaker was seen open, from the run's start, and how many provider calls the fake
/// had counted by then.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    opened: Option<(Duration, u64)>,
    closed_after: Option<Duration>,
}

pub async fn run(bench: &mut Bench) -> Result<Vec<Row>> {
    let rate = bench.pick(200.0, 100.0);
    let healthy = bench.secs(2.0, 0.5);
    let failing = bench.secs(10.0, 1.0);
    let after = bench.secs(12.0, 2.0);
    let fake = Fake::start().await?;
    let mut spec = Bench::stripe_adapter(&fake)?;
    if bench.quick {
        spec = spec.env("INTEG_STRIPE_BREAKER_OPEN_MS", "500");
    }
    let integ = Bench::start(&spec).await?;
    let channels = integ.channels(4).await?;
    let clients = load::clients(&channels);
    // Warm-up.
    {
        let c = clients.clone();
        load::open_loop(
            Instant::now(),
            rate,
            bench.secs(0.5, 0.2),
            Duration::from_secs(10),
            move |i| load::create_payment(&c, "b4-warm", i, Duration::from_secs(10)),
        )
        .await;
    }

    let t0 = Instant::now() + Duration::from_millis(5);
    let fail_from = healthy;
    let fail_to = healthy + failing;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Mutex::new((0u64, 0u64)));

    // The provider: healthy, failing, healthy again.
    let control = {
        let (fake, counts) = (fake.clone(), counts.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until((t0 + fail_from).into()).await;
            fake.set_failing(true);
            counts.lock().await.0 = fake.requests();
            tokio::time::sleep_until((t0 + fail_to).into()).await;
            fake.set_failing(false);
            counts.lock().await.1 = fake.requests();
        })
    };
    // The breaker, as the adapter reports it.
    let watch = {
        let (mut client, fake, seen, done) = (
            integ_proto::payments::v1::payments_service_client::PaymentsServiceClient::new(
                channels
                    .first()
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no channel"))?,
            ),
            fake.clone(),
            seen.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let health = client
                    .get_provider_health(GetProviderHealthRequest::default())
                    .await
                    .ok()
                    .map(|r| r.into_inner());
                let open = health.is_some_and(|h| {
                    h.providers
                        .iter()
                        .any(|p| p.breaker_state() == BreakerState::Open)
                });
                let now = t0.elapsed();
                let mut s = seen.lock().await;
                if open && s.opened.is_none() && now >= fail_from {
                    s.opened = Some((now, fake.requests()));
                } else if !open && s.opened.is_some() && s.closed_after.is_none() {
                    s.closed_after = Some(now);
                }
                drop(s);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let c = clients.clone();
    let run = load::open_loop(
        t0,
        rate,
        healthy + failing + after,
        Duration::from_secs(35),
        move |i| load::create_payment(&c, "b4", i, Duration::from_secs(30)),
    )
    .await;
    done.store(true, Ordering::SeqCst);
    let _ = control.await;
    let _ = watch.await;
    let seen = *seen.lock().await;
    let (at_fail, at_recover) = *counts.lock().await;

    let client_calls = |from: Duration, to: Duration| {
        run.samples
            .iter()
            .filter(|s| s.at >= from && s.at < to)
            .count() as f64
    };
    let mut rows = Vec::new();
    rows.push(
        Row::new("B4", "provider calls while failing", "")
            .integ(Some(at_recover.saturating_sub(at_fail) as f64))
            .baseline("client calls", Some(client_calls(fail_from, fail_to)))
            .note("ratio = amplification"),
    );
    match seen.opened {
        Some((opened, at_open)) if opened < fail_to => {
            rows.push(
                Row::new("B4", "provider calls while breaker open", "")
                    .integ(Some(at_recover.saturating_sub(at_open) as f64))
                    .baseline("client calls", Some(client_calls(opened, fail_to)))
                    .ratio_at_most(1.1)
                    .note("ratio = amplification"),
            );
            rows.push(
                Row::new("B4", "time to breaker open", "ms")
                    .integ(Some(ms(opened.saturating_sub(fail_from))))
                    .at_most(1000.0),
            );
            let fast = Latencies::of(
                run.samples
                    .iter()
                    .filter(|s| {
                        !s.ok() && s.at >= opened + Duration::from_millis(10) && s.at < fail_to
                    })
                    .map(|s| s.latency),
            );
            rows.push(Row::new("B4", "fail-fast latency p50", "ms").integ(fast.ms(0.5)));
            rows.push(
                Row::new("B4", "fail-fast latency p99", "ms")
                    .integ(fast.ms(0.99))
                    .at_most(1.0),
            );
        }
        _ => {
            rows.push(
                Row::new("B4", "time to breaker open", "ms")
                    .at_most(1000.0)
                    .note("the breaker did not open while the provider failed"),
            );
            rows.push(
                Row::new("B4", "fail-fast latency p99", "ms")
                    .at_most(1.0)
                    .note("never open"),
            );
        }
    }
    let recovered = run
        .samples
        .iter()
        .filter(|s| s.ok() && s.at >= fail_to)
        .map(|s| s.end())
        .min();
    rows.push(
        Row::new("B4", "recovery time", "ms")
            .integ(recovered.map(|r| ms(r.saturating_sub(fail_to))))
            .note("provider healthy → first successful call"),
    );
    bench.note(format!(
        "B4: {rate:.0} calls/s open loop; provider healthy {:.1} s, 503 for {:.1} s, then \
         healthy for {:.1} s; breaker seen open at {:?}, closed again at {:?} (from the start); \
         {} of {} calls failed overall; default policy{}",
        healthy.as_secs_f64(),
        failing.as_secs_f64(),
        after.as_secs_f64(),
        seen.opened.map(|(t, _)| t),
        seen.closed_after,
        run.failed(),
        run.samples.len() as u64 + run.lost,
        if bench.quick {
            " except INTEG_STRIPE_BREAKER_OPEN_MS=500"
        } else {
            ""
        }
    ));
    integ.stop().await;
    Ok(rows)
}
