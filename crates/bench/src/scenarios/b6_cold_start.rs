//! B6: cold start, from `exec` to SERVING for the payments service on `grpc.health.v1`, polled
//! every millisecond; the adapter (default configuration: sandbox provider, a fresh SQLite data
//! directory each time, so migrations included) alternating with the bare tonic server.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{Bench, ms};
use crate::bare::SERVICE;
use crate::load::Latencies;
use crate::report::Row;
use crate::spawn::{Spec, free_port};

/// Starts `spec` on `port` and waits for SERVING; the time it took.
async fn start_once(spec: &Spec, port: u16, bare: bool) -> Result<Duration> {
    let spec = if bare {
        spec.clone()
    } else {
        spec.clone().env("INTEG_GRPC_PORT", port.to_string())
    };
    let (mut cmd, _data) = spec.command();
    if bare {
        cmd.args(["--port", &port.to_string()]);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let uri = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start the server")?;
    let give_up = started + Duration::from_secs(20);
    let result = loop {
        if Instant::now() > give_up {
            break Err(anyhow::anyhow!("{} not SERVING after 20 s", spec.label()));
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(anyhow::anyhow!(
                "{} exited during start-up: {status}",
                spec.label()
            ));
        }
        let endpoint = tonic::transport::Endpoint::from_shared(uri.clone())?
            .connect_timeout(Duration::from_millis(100));
        if let Ok(channel) = endpoint.connect().await {
            let mut health = HealthClient::new(channel);
            let serving = health
                .check(HealthCheckRequest {
                    service: SERVICE.to_owned(),
                })
                .await
                .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving);
            if serving {
                break Ok(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}

pub async fn run(bench: &mut Bench) -> Result<Vec<Row>> {
    let starts = bench.pick(20, 3);
    let integ = Spec::adapter("payments")?;
    let bare = Spec::bare("echo", "")?;
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..starts {
        for (k, (spec, is_bare)) in [(&integ, false), (&bare, true)].into_iter().enumerate() {
            let t = start_once(spec, free_port()?, is_bare).await?;
            if let Some(v) = times.get_mut(k) {
                v.push(t);
            }
        }
    }
    let [ti, tb] = &times;
    if ti.is_empty() || tb.is_empty() {
        bail!("no start measured");
    }
    let (li, lb) = (
        Latencies::of(ti.iter().copied()),
        Latencies::of(tb.iter().copied()),
    );
    bench.note(format!(
        "B6: {starts} starts each, alternating; integ-payments with its defaults (sandbox \
         provider, fresh SQLite data directory: migrations included); fastest integ start {:.1} ms",
        ti.iter().copied().min().map(ms).unwrap_or_default()
    ));
    Ok(vec![
        Row::new("B6", "cold start p50", "ms")
            .integ(li.ms(0.5))
            .baseline("bare tonic server", lb.ms(0.5)),
        Row::new("B6", "cold start p95", "ms")
            .integ(li.ms(0.95))
            .baseline("bare tonic server", lb.ms(0.95))
            .at_most(100.0),
    ])
}
