//! B2: the fake Stripe answers after 50 ms; callers keep a fixed number of calls in flight
//! (closed loop). The ceiling is in-flight ÷ 50 ms; the bare pass-through server runs the same
//! load, alternating, for context. Added latency is the latency beyond the provider's 50 ms.

use std::time::Duration;

use anyhow::Result;

use super::{Bench, rate_between};
use crate::fake::Fake;
use crate::load::{self, Latencies, Run};
use crate::report::Row;
use crate::spawn::{Server, Spec};

const DELAY: Duration = Duration::from_millis(50);

async fn window(
    clients: &[load::Client],
    tag: &str,
    in_flight: usize,
    length: Duration,
) -> Result<Run> {
    let clients = clients.to_vec();
    let tag = tag.to_owned();
    load::closed_loop(in_flight, length, Duration::from_secs(30), move |i| {
        load::create_payment(&clients, &tag, i, Duration::from_secs(20))
    })
    .await
}

fn added(run: &Run) -> Latencies {
    Latencies::of(
        run.samples
            .iter()
            .filter(|s| s.ok())
            .map(|s| s.latency.saturating_sub(DELAY)),
    )
}

pub async fn run(bench: &mut Bench) -> Result<Vec<Row>> {
    let levels: Vec<usize> = bench.pick(vec![200, 2000], vec![20]);
    let length = bench.secs(4.0, 0.5);
    let rounds = bench.pick(2, 1);
    // The first 100 ms of a window are ramp-up (no call can finish before 50 ms).
    let steady = Duration::from_millis(100);
    let fake = Fake::start().await?;
    fake.set_delay(DELAY);
    let integ = Bench::start(&Bench::stripe_adapter(&fake)?).await?;
    let pass = Spec::bare("pass", &fake.url)?.spawn().await?;
    let subjects: [&Server; 2] = [&integ, &pass];
    let mut rows = Vec::new();
    for &level in &levels {
        let connections = (level / 100).clamp(4, 32);
        let mut clients = Vec::new();
        for s in subjects {
            clients.push(load::clients(&s.channels(connections).await?));
        }
        let mut runs = [Run::default(), Run::default()];
        let mut rates = [0.0f64, 0.0f64];
        for round in 0..rounds {
            for ((s, c), (run, rate)) in subjects
                .iter()
                .zip(&clients)
                .zip(runs.iter_mut().zip(rates.iter_mut()))
            {
                let tag = format!("b2-{}-{level}-{round}", s.label());
                let r = window(c, &tag, level, length).await?;
                *rate += rate_between(&r, steady, length).unwrap_or(0.0) / rounds as f64;
                run.extend(r);
            }
        }
        let [r_integ, r_pass] = &runs;
        let [rate_integ, rate_pass] = rates;
        let theory = level as f64 / DELAY.as_secs_f64();
        let note = format!("{level} in flight");
        rows.push(
            Row::new("B2", "throughput", "calls/s")
                .integ(Some(rate_integ))
                .baseline("in-flight ÷ 50 ms", Some(theory))
                .ratio_at_least(0.95)
                .note(note.clone()),
        );
        rows.push(
            Row::new("B2", "throughput", "calls/s")
                .integ(Some(rate_integ))
                .baseline("bare pass-through", Some(rate_pass))
                .note(note.clone()),
        );
        let (ai, ap) = (added(r_integ), added(r_pass));
        rows.push(
            Row::new("B2", "added latency p50", "ms")
                .integ(ai.ms(0.5))
                .baseline("bare pass-through", ap.ms(0.5))
                .note(note.clone()),
        );
        rows.push(
            Row::new("B2", "added latency p99", "ms")
                .integ(ai.ms(0.99))
                .baseline("bare pass-through", ap.ms(0.99))
                .at_most(5.0)
                .note(note.clone()),
        );
        rows.push(
            Row::new("B2", "failed calls", "")
                .integ(Some(r_integ.failed() as f64))
                .baseline("bare pass-through", Some(r_pass.failed() as f64))
                .note(note),
        );
        for (s, r) in subjects.iter().zip(&runs) {
            if let Some(e) = r.first_error() {
                bench.note(format!(
                    "B2 {} at {level} in flight: {} calls failed, first: {e}",
                    s.label(),
                    r.failed()
                ));
            }
        }
    }
    bench.note(format!(
        "B2: fake Stripe answers after 50 ms; closed loop at {levels:?} calls in flight, \
         {rounds} rounds of {:.1} s per subject and level, alternating; throughput counts calls \
         answered after the first 100 ms",
        length.as_secs_f64()
    ));
    integ.stop().await;
    pass.stop().await;
    Ok(rows)
}
