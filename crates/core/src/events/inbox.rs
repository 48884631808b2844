//! The durable inbox with group commit.
//!
//! One writer task owns all inserts. A request hands its event to the writer and waits; the
//! writer takes everything that queued up while it was busy, writes the lot in one transaction
//! (events, and a delivery row for every consumer group whose filter matches), commits it
//! (durably: SQLite in WAL mode with `synchronous = FULL`, PostgreSQL with synchronous commit)
//! and only then answers each request. Under load a commit carries many events, so ingest is
//! not bounded by one disk sync per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Row;
use tokio::sync::{Notify, mpsc, oneshot};

use super::NewEvent;
use super::queue::load_groups;
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::store::{Store, now_ms, store_error};

/// Most events written in one transaction.
pub const MAX_BATCH: usize = 512;

/// What storing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A new event, stored under this id.
    New(String),
    /// The provider sent this event before; it is stored under this id.
    Duplicate(String),
}

type Job = (NewEvent, oneshot::Sender<Result<Stored>>);

/// A handle to the inbox writer.
#[derive(Debug, Clone)]
pub struct Inbox {
    tx: mpsc::Sender<Job>,
    notify: Arc<Notify>,
    commits: Arc<AtomicU64>,
}

impl Inbox {
    /// Starts the writer over `store`. `notify` wakes waiting consumers after each commit.
    pub fn start(store: Store, notify: Arc<Notify>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        let commits = Arc::new(AtomicU64::new(0));
        tokio::spawn(writer(store, rx, notify.clone(), commits.clone()));
        Self {
            tx,
            notify,
            commits,
        }
    }

    /// How many transactions the writer has committed: fewer than events stored when
    /// concurrent submissions share commits.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Stores `event` durably; returns once it is committed.
    pub async fn submit(&self, event: NewEvent) -> Result<Stored> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| Error::internal("inbox is closed").retryable(true))?;
        answer
            .await
            .map_err(|_| Error::internal("inbox writer stopped").retryable(true))?
    }

    /// The signal consumers wait on for new events.
    pub fn notify(&self) -> Arc<Notify> {
        self.notify.clone()
    }
}

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Job>,
    notify: Arc<Notify>,
    commits: Arc<AtomicU64>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("integ_webhook_commit_events").record(batch.len() as f64);
        let events: Vec<&NewEvent> = batch.iter().map(|(e, _)| e).collect();
        match write(&store, &events).await {
            Ok(results) => {
                commits.fetch_add(1, Ordering::Relaxed);
                notify.notify_waiters();
                for ((event, reply), result) in batch.into_iter().zip(results) {
                    let label = if matches!(result, Stored::New(_)) {
                        "stored"
                    } else {
                        "duplicate"
                    };
                    metrics::counter!("integ_webhook_events_total", "provider" => event.provider.clone(), "outcome" => label).increment(1);
                    let _ = reply.send(Ok(result));
                }
            }
            Err(error) => {
                for (_, reply) in batch {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

async fn write(store: &Store, events: &[&NewEvent]) -> Result<Vec<Stored>> {
    // The 2xx that follows tells the provider the events are ours: they must survive a power
    // cut, so this commit waits for the disk (see the store's notes on durability).
    let mut durable = store.durable().await?;
    let result = write_on(&mut durable, events).await;
    durable.done().await;
    result
}

async fn write_on(
    durable: &mut crate::store::Durable,
    events: &[&NewEvent],
) -> Result<Vec<Stored>> {
    let mut tx = durable.begin().await?;
    let groups = load_groups(&mut *tx).await?;
    let received = now_ms();
    let mut results = Vec::with_capacity(events.len());
    for event in events {
        let id = new_id("evt");
        let resource_id = resource_id(&mut tx, event).await?;
        let payload = base64_encode(&event.payload);
        let inserted = sqlx::query(
            "INSERT INTO events (id, provider, account, provider_event_id, event_type, provider_type, resource_kind, resource_id, \
             resource_provider_id, occur_ms, received_ms, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (provider, account, provider_event_id) DO NOTHING",
        )
        .bind(&id)
        .bind(&event.provider)
        .bind(&event.account)
        .bind(&event.provider_event_id)
        .bind(&event.event_type)
        .bind(&event.provider_type)
        .bind(&event.resource_kind)
        .bind(&resource_id)
        .bind(&event.resource_provider_id)
        .bind(event.occur_ms)
        .bind(received)
        .bind(payload)
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error("inbox insert", &e))?;
        if inserted.rows_affected() == 0 {
            let row = sqlx::query("SELECT id FROM events WHERE provider = $1 AND account = $2 AND provider_event_id = $3")
                .bind(&event.provider)
                .bind(&event.account)
                .bind(&event.provider_event_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| store_error("inbox duplicate", &e))?;
            results.push(Stored::Duplicate(
                row.try_get(0)
                    .map_err(|e| store_error("inbox duplicate", &e))?,
            ));
            continue;
        }
        for group in groups
            .iter()
            .filter(|g| g.matches(&event.event_type, &event.provider))
        {
            insert_delivery(&mut tx, &group.name, &id, event, received).await?;
        }
        results.push(Stored::New(id));
    }
    tx.commit()
        .await
        .map_err(|e| store_error("inbox commit", &e))?;
    Ok(results)
}

/// Our id of the event's resource, when we minted one for that provider object.
async fn resource_id(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &NewEvent,
) -> Result<String> {
    if event.resource_provider_id.is_empty() {
        return Ok(String::new());
    }
    let row = sqlx::query("SELECT id FROM resources WHERE provider = $1 AND provider_id = $2")
        .bind(&event.provider)
        .bind(&event.resource_provider_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| store_error("inbox resource", &e))?;
    Ok(row
        .and_then(|r| r.try_get::<String, _>(0).ok())
        .unwrap_or_default())
}

/// The key that orders a group's events: one resource's events go out in order. A resource
/// belongs to one account of one provider.
pub(super) fn resource_key(event_id: &str, event: &NewEvent) -> String {
    if event.resource_provider_id.is_empty() {
        event_id.to_owned()
    } else {
        format!(
            "{}\n{}\n{}\n{}",
            event.provider, event.account, event.resource_kind, event.resource_provider_id
        )
    }
}

pub(super) async fn insert_delivery(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    group: &str,
    id: &str,
    event: &NewEvent,
    received: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO deliveries (group_name, event_id, provider, resource_key, occur_ms, received_ms, state, attempts, lease_token, \
         lease_until_ms, last_delivery_ms, dead_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, NULL, 0, 0, 0) \
         ON CONFLICT (group_name, event_id) DO UPDATE SET state = 'pending', attempts = 0, lease_token = NULL, lease_until_ms = 0",
    )
    .bind(group)
    .bind(id)
    .bind(&event.provider)
    .bind(resource_key(id, event))
    .bind(event.occur_ms)
    .bind(received)
    .execute(&mut **tx)
    .await
    .map_err(|e| store_error("delivery insert", &e))?;
    Ok(())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
