//! B5: memory. Resident memory of the server idle (after start-up and a few calls), then with
//! many CreatePayment calls held at a fake Stripe that answers only when released; the bare
//! pass-through server under the same load. Bytes per in-flight call are the growth divided by
//! the calls the fake holds.
//!
//! The adapter's per-attempt timeout and deadline are raised (`INTEG_STRIPE_TIMEOUT_MS`,
//! `INTEG_STRIPE_DEADLINE_MS`) so that no call gives up while held; the fake closes each
//! connection after its answer so that thousands of idle pooled connections do not outlive a
//! subject.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::Bench;
use crate::fake::Fake;
use crate::load;
use crate::procfs::rss_bytes;
use crate::report::Row;
use crate::spawn::Spec;

const MIB: f64 = 1024.0 * 1024.0;

/// What one subject measured.
#[derive(Debug, Default, Clone, Copy)]
struct Memory {
    idle: Option<f64>,
    loaded: Option<f64>,
    held: i64,
}

impl Memory {
    fn per_call_kib(&self) -> Option<f64> {
        let (idle, loaded) = (self.idle?, self.loaded?);
        (self.held > 0).then(|| (loaded - idle) / self.held as f64 / 1024.0)
    }
}

/// The median of three readings, 100 ms apart.
async fn rss(pid: u32) -> Result<f64> {
    let mut v = Vec::new();
    for _ in 0..3 {
        v.push(rss_bytes(pid)? as f64);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    v.sort_by(f64::total_cmp);
    Ok(v.get(1).copied().unwrap_or_default())
}

async fn measure(bench: &mut Bench, fake: &Fake, spec: &Spec, calls: usize) -> Result<Memory> {
    let mut server = Bench::start(spec).await?;
    let clients = load::clients(&server.channels((calls / 200).clamp(4, 64)).await?);
    fake.release();
    for i in 0..20 {
        load::create_payment(&clients, "b5-warm", i, Duration::from_secs(10))
            .await
            .map_err(|e| anyhow::anyhow!("{}: warm-up call failed: {e}", server.label()))?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss(server.pid).await?;

    fake.hold();
    let base = fake.in_flight();
    let ramp = bench.secs(4.0, 0.3);
    let rate = calls as f64 / ramp.as_secs_f64();
    let c = clients.clone();
    let load = tokio::spawn(load::open_loop(
        Instant::now(),
        rate,
        ramp,
        Duration::from_secs(120),
        move |i| load::create_payment(&c, "b5", i, Duration::from_secs(150)),
    ));
    let target = i64::try_from(calls).unwrap_or(i64::MAX);
    let deadline = Instant::now() + ramp + bench.secs(40.0, 10.0);
    while fake.in_flight() - base < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = fake.in_flight() - base;
    let loaded = rss(server.pid).await?;
    server.alive()?;
    fake.release();
    let run = load.await?;
    if held < target {
        bench.note(format!(
            "B5 {}: only {held} of {calls} calls reached the fake while it held them",
            server.label()
        ));
    }
    if let Some(e) = run.first_error() {
        bench.note(format!(
            "B5 {}: {} calls failed, first: {e}",
            server.label(),
            run.failed()
        ));
    }
    server.stop().await;
    Ok(Memory {
        idle: Some(idle),
        loaded: Some(loaded),
        held,
    })
}

pub async fn run(bench: &mut Bench) -> Result<Vec<Row>> {
    let calls = bench.pick(10_000, 300);
    let fake = Fake::start().await?;
    fake.set_close(true);
    let integ = Bench::stripe_adapter(&fake)?
        .env("INTEG_STRIPE_TIMEOUT_MS", "180000")
        .env("INTEG_STRIPE_DEADLINE_MS", "180000");
    let bare = Spec::bare("pass", &fake.url)?;
    let mi = measure(bench, &fake, &integ, calls).await?;
    let mb = measure(bench, &fake, &bare, calls).await?;
    let note = format!("{calls} calls in flight");
    let rows = vec![
        Row::new("B5", "RSS idle", "MiB")
            .integ(mi.idle.map(|b| b / MIB))
            .baseline("bare pass-through", mb.idle.map(|b| b / MIB))
            .at_most(20.0),
        Row::new("B5", "RSS loaded", "MiB")
            .integ(mi.loaded.map(|b| b / MIB))
            .baseline("bare pass-through", mb.loaded.map(|b| b / MIB))
            .note(note.clone()),
        Row::new("B5", "memory per in-flight call", "KiB")
            .integ(mi.per_call_kib())
            .baseline("bare pass-through", mb.per_call_kib())
            .at_most(16.0)
            .note(note),
    ];
    bench.note(format!(
        "B5: {calls} CreatePayment calls opened over {:.1} s and held at the fake (integ held \
         {}, bare {}); RSS is the median of three VmRSS readings",
        bench.secs(4.0, 0.3).as_secs_f64(),
        mi.held,
        mb.held
    ));
    Ok(rows)
}
