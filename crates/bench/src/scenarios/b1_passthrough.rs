//! B1: a CreatePayment through the adapter to a fake Stripe that answers at once, at a fixed
//! rate (open loop), against a bare tonic server making the same HTTP call and a tonic echo.
//!
//! Added latency is the latency at the client from the call's scheduled time (the provider
//! adds nothing here). CPU per call is the server process's own CPU time over the window
//! divided by the calls made in it.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::Bench;
use crate::fake::Fake;
use crate::load::{self, Run};
use crate::procfs::CpuMark;
use crate::report::Row;
use crate::spawn::{Server, Spec};

/// What one subject accumulated over the rounds.
#[derive(Default)]
struct Tally {
    run: Run,
    cpu: Duration,
    calls: u64,
}

impl Tally {
    fn cpu_us_per_call(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.cpu.as_secs_f64() * 1e6 / self.calls as f64)
    }
}

/// Runs `rate` calls per second at `server` for `window`; its calls and the server's CPU.
pub async fn window(
    server: &Server,
    clients: &[load::Client],
    tag: &str,
    rate: f64,
    window: Duration,
) -> Result<(Run, Duration)> {
    let clients = clients.to_vec();
    let tag = tag.to_owned();
    let mark = CpuMark::now(server.pid)?;
    let run = load::open_loop(
        Instant::now() + Duration::from_millis(2),
        rate,
        window,
        Duration::from_secs(10),
        move |i| load::create_payment(&clients, &tag, i, Duration::from_secs(10)),
    )
    .await;
    Ok((run, mark.elapsed()?))
}

pub async fn run(bench: &mut Bench) -> Result<Vec<Row>> {
    let rate = bench.pick(400.0, 100.0);
    let length = bench.secs(4.0, 0.4);
    let rounds = bench.pick(3, 1);
    let fake = Fake::start().await?;
    let integ = Bench::start(&Bench::stripe_adapter(&fake)?).await?;
    let pass = Spec::bare("pass", &fake.url)?.spawn().await?;
    let echo = Spec::bare("echo", &fake.url)?.spawn().await?;
    let subjects = [&integ, &pass, &echo];
    let mut clients = Vec::new();
    for s in subjects {
        clients.push(load::clients(&s.channels(4).await?));
    }
    // Warm-up: connections, pools, caches; not counted.
    for (s, c) in subjects.iter().zip(&clients) {
        window(
            s,
            c,
            &format!("b1-warm-{}", s.label()),
            rate,
            bench.secs(1.0, 0.2),
        )
        .await?;
    }
    let mut tallies: Vec<Tally> = subjects.iter().map(|_| Tally::default()).collect();
    for round in 0..rounds {
        for ((s, c), tally) in subjects.iter().zip(&clients).zip(tallies.iter_mut()) {
            let tag = format!("b1-{}-{round}", s.label());
            let (run, cpu) = window(s, c, &tag, rate, length).await?;
            tally.calls += run.samples.len() as u64 + run.lost;
            tally.cpu += cpu;
            tally.run.extend(run);
        }
    }
    let mut rows = Vec::new();
    let [t_integ, t_pass, t_echo] = tallies.as_slice() else {
        anyhow::bail!("three subjects expected");
    };
    let (li, lp, le) = (
        t_integ.run.latencies(),
        t_pass.run.latencies(),
        t_echo.run.latencies(),
    );
    let note = format!("{rate:.0}/s open loop");
    rows.push(
        Row::new("B1", "added latency p50", "ms")
            .integ(li.ms(0.5))
            .baseline("bare pass-through", lp.ms(0.5))
            .at_most(0.3)
            .note(note.clone()),
    );
    rows.push(
        Row::new("B1", "added latency p99", "ms")
            .integ(li.ms(0.99))
            .baseline("bare pass-through", lp.ms(0.99))
            .at_most(1.0)
            .note(note.clone()),
    );
    rows.push(
        Row::new("B1", "added latency p50", "ms")
            .integ(li.ms(0.5))
            .baseline("tonic echo", le.ms(0.5))
            .note(note.clone()),
    );
    rows.push(
        Row::new("B1", "added latency p99", "ms")
            .integ(li.ms(0.99))
            .baseline("tonic echo", le.ms(0.99))
            .note(note.clone()),
    );
    rows.push(
        Row::new("B1", "server CPU per call", "µs")
            .integ(t_integ.cpu_us_per_call())
            .baseline("bare pass-through", t_pass.cpu_us_per_call())
            .at_most(60.0)
            .note(note.clone()),
    );
    rows.push(
        Row::new("B1", "server CPU per call", "µs")
            .integ(t_integ.cpu_us_per_call())
            .baseline("tonic echo", t_echo.cpu_us_per_call())
            .note(note),
    );
    rows.push(
        Row::new("B1", "failed calls", "")
            .integ(Some(t_integ.run.failed() as f64))
            .baseline("bare pass-through", Some(t_pass.run.failed() as f64)),
    );
    for (s, t) in subjects.iter().zip(&tallies) {
        if let Some(e) = t.run.first_error() {
            bench.note(format!(
                "B1 {}: {} calls failed, first: {e}",
                s.label(),
                t.run.failed()
            ));
        }
    }
    bench.note(format!(
        "B1: {rounds} rounds of {:.1} s per subject at {rate:.0} calls/s (after a warm-up), \
         4 HTTP/2 connections, subjects alternating; fake Stripe answers at once; {} calls to \
         integ",
        length.as_secs_f64(),
        t_integ.calls
    ));
    for s in [integ, pass, echo] {
        s.stop().await;
    }
    Ok(rows)
}
