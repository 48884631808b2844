//! B3: webhook ingest. Many concurrent senders post signed events (every 16th a redelivery of
//! an earlier one) to the adapter, which verifies, deduplicates, stores durably and answers 2xx;
//! on SQLite and on PostgreSQL.
//!
//! Baselines, alternating with integ: the same rows inserted one transaction (one disk sync) per
//! request with the same durability by as many concurrent callers (SQLite in WAL mode with
//! `synchronous = FULL`; PostgreSQL with synchronous commit), and the raw rate of 4 KiB write +
//! `fdatasync` on the same file system. Events per sync come from the adapter's own metrics
//! (`integ_webhook_commit_events`: one sample per commit, valued at the events it carried).
//!
//! Events are signed for the Stripe source (`Stripe-Signature`) when the build has a Stripe
//! provider, else for the sandbox source (Standard Webhooks).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use integ_testkit::TempDir;
use integ_testkit::postgres::TestDb;
use sqlx::Executor;

use super::{Bench, rate_between};
use crate::fake::Fake;
use crate::load::{self, Run};
use crate::report::Row;
use crate::spawn::{Server, Spec, prometheus_sum};

/// The sandbox source's signing secret (Standard Webhooks: `whsec_` and base64).
const SANDBOX_SECRET: &str = "whsec_aW50ZWctYmVuY2gtc2FuZGJveC1zZWNyZXQtMDE=";

/// The `events` table exactly as integ's migration 0002 creates it.
const EVENTS_TABLE: &str = "CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    account TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    provider_type TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_provider_id TEXT NOT NULL,
    occur_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (provider, account, provider_event_id)
)";

const INSERT: &str = "INSERT INTO events (id, provider, account, provider_event_id, event_type, \
     provider_type, resource_kind, resource_id, resource_provider_id, occur_ms, received_ms, payload) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (provider, account, provider_event_id) DO NOTHING";

/// How events are signed.
#[derive(Clone)]
enum Signer {
    Stripe,
    Sandbox(Arc<hmac::Key>),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The event id of call `i`: every 16th call redelivers the event of 8 calls before.
fn event_id(tag: &str, i: u64) -> String {
    let n = if i % 16 == 15 { i - 8 } else { i };
    format!("evt_{tag}_{n}")
}

impl Signer {
    fn provider(&self) -> &'static str {
        match self {
            Signer::Stripe => "stripe",
            Signer::Sandbox(_) => "sandbox",
        }
    }

    /// The body and headers of event `id`.
    fn event(&self, id: &str, i: u64) -> (String, Vec<(&'static str, String)>) {
        let now = unix_now();
        match self {
            Signer::Stripe => {
                let body = serde_json::json!({
                    "id": id,
                    "object": "event",
                    "api_version": "2024-06-20",
                    "created": now,
                    "livemode": false,
                    "pending_webhooks": 1,
                    "type": "payment_intent.succeeded",
                    "data": {"object": {
                        "id": format!("pi_bench{i:08}"),
                        "object": "payment_intent",
                        "amount": 1000,
                        "currency": "usd",
                        "status": "succeeded",
                    }},
                })
                .to_string();
                let key =
                    hmac::Key::new(hmac::HMAC_SHA256, super::STRIPE_WEBHOOK_SECRET.as_bytes());
                let tag = hmac::sign(&key, format!("{now}.{body}").as_bytes());
                let header = format!("t={now},v1={}", hex::encode(tag.as_ref()));
                (body, vec![("stripe-signature", header)])
            }
            Signer::Sandbox(key) => {
                let body = serde_json::json!({
                    "type": "payment.succeeded",
                    "timestamp": now,
                    "data": {"object": "payment", "id": format!("sandbox_pi_{i}")},
                })
                .to_string();
                let tag = hmac::sign(key, format!("{id}.{now}.{body}").as_bytes());
                (
                    body,
                    vec![
                        ("webhook-id", id.to_owned()),
                        ("webhook-timestamp", now.to_string()),
                        (
                            "webhook-signature",
                            format!("v1,{}", B64.encode(tag.as_ref())),
                        ),
                    ],
                )
            }
        }
    }
}

/// Posts signed events to `server` from `senders` callers for `length`; its calls, and the
/// commits and events the adapter's metrics counted meanwhile.
async fn integ_window(
    server: &Server,
    signer: &Signer,
    http: &reqwest::Client,
    tag: &str,
    senders: usize,
    length: Duration,
) -> Result<(Run, f64, f64)> {
    let before = server.metrics_text().await?;
    let url = format!("http://{}/webhooks/{}", server.http, signer.provider());
    let (signer, http, tag) = (signer.clone(), http.clone(), tag.to_owned());
    let run = load::closed_loop(senders, length, Duration::from_secs(30), move |i| {
        let id = event_id(&tag, i);
        let (body, headers) = signer.event(&id, i);
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("HTTP {}", response.status().as_u16()))
            }
        }
    })
    .await?;
    let after = server.metrics_text().await?;
    let delta = |name: &str| prometheus_sum(&after, name) - prometheus_sum(&before, name);
    Ok((
        run,
        delta("integ_webhook_commit_events_count"),
        delta("integ_webhook_commit_events_sum"),
    ))
}

/// The rows one event makes, bound to an insert.
fn bind_event<'q, DB: sqlx::Database>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    provider: &'q str,
    id: String,
    event_id: String,
    i: u64,
    payload: String,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let now_ms = i64::try_from(unix_now()).unwrap_or(0) * 1000;
    query
        .bind(id)
        .bind(provider)
        .bind("")
        .bind(event_id)
        .bind("payment.succeeded")
        .bind("payment_intent.succeeded")
        .bind("payment")
        .bind("")
        .bind(format!("pi_bench{i:08}"))
        .bind(now_ms)
        .bind(now_ms)
        .bind(payload)
}

/// One of the one-sync-per-request baselines.
#[derive(Clone)]
enum Direct {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Direct {
    async fn sqlite(dir: &TempDir) -> Result<Self> {
        use sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("direct.db").display()
        );
        let options = SqliteConnectOptions::from_str(&url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        // As many connections as the adapter's SQLite pool.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        pool.execute(EVENTS_TABLE).await?;
        Ok(Self::Sqlite(pool))
    }

    async fn postgres(url: &str) -> Result<Self> {
        // As many connections as the adapter's default pool.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await?;
        pool.execute(EVENTS_TABLE).await?;
        Ok(Self::Postgres(pool))
    }

    async fn window(
        &self,
        signer: &Signer,
        tag: &str,
        senders: usize,
        length: Duration,
    ) -> Result<Run> {
        let (this, signer, tag) = (self.clone(), signer.clone(), tag.to_owned());
        load::closed_loop(senders, length, Duration::from_secs(30), move |i| {
            let this = this.clone();
            let event_id = event_id(&tag, i);
            let (body, _) = signer.event(&event_id, i);
            let provider = signer.provider();
            let id = format!("evt_{tag}_row{i}");
            async move {
                let payload = B64.encode(body.as_bytes());
                let result = match &this {
                    Direct::Sqlite(pool) => {
                        bind_event(sqlx::query(INSERT), provider, id, event_id, i, payload)
                            .execute(pool)
                            .await
                            .map(drop)
                    }
                    Direct::Postgres(pool) => {
                        bind_event(sqlx::query(INSERT), provider, id, event_id, i, payload)
                            .execute(pool)
                            .await
                            .map(drop)
                    }
                };
                result.map_err(|e| e.to_string())
            }
        })
        .await
    }
}

/// 4 KiB write + `fdatasync` in a loop for `length`: syncs per second.
async fn fsync_rate(dir: &TempDir, length: Duration) -> Result<f64> {
    use std::os::unix::fs::FileExt;
    let path = dir.path().join("fsync.bin");
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        let block = [0x5au8; 4096];
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < length {
            file.write_at(&block, (n % 256) * 4096)?;
            file.sync_data()?;
            n += 1;
        }
        anyhow::Ok(n as f64 / start.elapsed().as_secs_f64())
    })
    .await?
}

/// The line of an error that says why (a start-up failure carries the adapter's output).
fn first_reason(error: &str) -> &str {
    error
        .lines()
        .find(|l| l.contains("unknown provider"))
        .or_else(|| error.lines().next())
        .unwrap_or_default()
}

/// What one subject accumulated.
#[derive(Default)]
struct Tally {
    run: Run,
    rate: f64,
    commits: f64,
    events: f64,
}

impl Tally {
    fn add(&mut self, run: Run, length: Duration, rounds: usize) {
        self.rate += rate_between(&run, Duration::ZERO, length).unwrap_or(0.0) / rounds as f64;
        self.run.extend(run);
    }

    fn per_sync(&self) -> Option<f64> {
        (self.commits > 0.0).then(|| self.events / self.commits)
    }
}

#[allow(clippy::too_many_lines)]
pub async fn run(bench: &mut Bench) -> Result<Vec<Row>> {
    let senders = bench.pick(64, 8);
    let length = bench.secs(4.0, 0.5);
    let rounds = bench.pick(2, 1);
    let fake = Fake::start().await?;
    let stripe = Bench::stripe_adapter(&fake)?;
    let (signer, sqlite_spec) = match Bench::start(&stripe).await {
        Ok(server) => {
            server.stop().await;
            (Signer::Stripe, stripe)
        }
        Err(error) => {
            bench.note(format!(
                "B3 signed events for the sandbox source (Standard Webhooks) instead of Stripe: \
                 {}",
                first_reason(&format!("{error:#}"))
            ));
            let key = B64
                .decode(SANDBOX_SECRET.trim_start_matches("whsec_"))
                .context("sandbox secret")?;
            let spec =
                Spec::adapter("payments")?.env("INTEG_SANDBOX_WEBHOOK_SECRET", SANDBOX_SECRET);
            (
                Signer::Sandbox(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, &key))),
                spec,
            )
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(senders)
        .tcp_nodelay(true)
        .build()?;
    let scratch = TempDir::new("bench-b3");

    // PostgreSQL, when the server is there.
    let databases = tokio::task::spawn_blocking(|| -> Result<(TestDb, TestDb)> {
        Ok((TestDb::create()?, TestDb::create()?))
    })
    .await?;
    let (pg_integ, pg_direct, dbs) = match databases {
        Ok((a, b)) => {
            let server =
                Bench::start(&sqlite_spec.clone().env("INTEG_DATABASE_URL", a.url())).await?;
            let direct = Direct::postgres(&b.url()).await?;
            (Some(server), Some(direct), Some((a, b)))
        }
        Err(error) => {
            bench.note(format!("B3 PostgreSQL skipped: {error:#}"));
            (None, None, None)
        }
    };
    let sqlite_integ = Bench::start(&sqlite_spec).await?;
    let sqlite_direct = Direct::sqlite(&scratch).await?;

    // Warm-up.
    integ_window(
        &sqlite_integ,
        &signer,
        &http,
        "warm",
        senders,
        bench.secs(0.5, 0.1),
    )
    .await?;
    if let Some(s) = &pg_integ {
        integ_window(s, &signer, &http, "warm", senders, bench.secs(0.5, 0.1)).await?;
    }

    let mut t = [
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    ];
    let [si, sd, pi, pd] = &mut t;
    let mut fsync = 0.0;
    for round in 0..rounds {
        let tag = format!("r{round}");
        let (run, commits, events) =
            integ_window(&sqlite_integ, &signer, &http, &tag, senders, length).await?;
        si.add(run, length, rounds);
        si.commits += commits;
        si.events += events;
        sd.add(
            sqlite_direct.window(&signer, &tag, senders, length).await?,
            length,
            rounds,
        );
        if let (Some(server), Some(direct)) = (&pg_integ, &pg_direct) {
            let (run, commits, events) =
                integ_window(server, &signer, &http, &tag, senders, length).await?;
            pi.add(run, length, rounds);
            pi.commits += commits;
            pi.events += events;
            pd.add(
                direct.window(&signer, &tag, senders, length).await?,
                length,
                rounds,
            );
        }
        fsync += fsync_rate(&scratch, bench.secs(1.0, 0.2)).await? / rounds as f64;
    }

    let mut rows = Vec::new();
    let one_sync = "one sync per request";
    for (name, integ, direct, min_rate, present) in [
        ("SQLite", &*si, &*sd, 5000.0, true),
        ("PostgreSQL", &*pi, &*pd, 3000.0, pg_integ.is_some()),
    ] {
        if !present {
            continue;
        }
        rows.push(
            Row::new("B3", &format!("{name} accepted"), "/s")
                .integ(Some(integ.rate))
                .baseline(one_sync, Some(direct.rate))
                .at_least(min_rate),
        );
        rows.push(
            Row::new("B3", &format!("{name} latency p99"), "ms")
                .integ(integ.run.latencies().ms(0.99))
                .baseline(one_sync, direct.run.latencies().ms(0.99)),
        );
        rows.push(
            Row::new("B3", &format!("{name} events per sync"), "")
                .integ(integ.per_sync())
                .baseline(one_sync, Some(1.0))
                .at_least(5.0),
        );
        rows.push(
            Row::new("B3", &format!("{name} failed requests"), "")
                .integ(Some(integ.run.failed() as f64))
                .baseline(one_sync, Some(direct.run.failed() as f64)),
        );
        for (who, r) in [("integ", &integ.run), (one_sync, &direct.run)] {
            if let Some(e) = r.first_error() {
                bench.note(format!(
                    "B3 {name} {who}: {} failed, first: {e}",
                    r.failed()
                ));
            }
        }
    }
    rows.push(
        Row::new("B3", "SQLite accepted vs raw disk syncs", "/s")
            .integ(Some(si.rate))
            .baseline("4 KiB write + fdatasync", Some(fsync)),
    );
    bench.note(format!(
        "B3: {senders} concurrent senders (HTTP/1.1 keep-alive), {rounds} rounds of {:.1} s per \
         subject, alternating; every 16th event is a redelivery; source: {}",
        length.as_secs_f64(),
        signer.provider()
    ));
    sqlite_integ.stop().await;
    if let Some(s) = pg_integ {
        s.stop().await;
    }
    drop(pg_direct);
    drop(dbs);
    Ok(rows)
}
