//! Consumer groups and delivery state.
//!
//! A delivery row per (group, event) moves `pending` → `leased` (out on a stream until its
//! deadline) → `acked`, or back to `pending` when a stream ends or a deadline passes, or to
//! `dead` after the configured number of attempts. Taking a lease is a conditional update, so
//! two streams (or replicas) never hold the same event for a group at once.

use std::time::Duration;

use base64::Engine;
use sqlx::Row;

use super::{NewEvent, StoredEvent};
use crate::error::{Error, Kind, Result};
use crate::store::{Store, now_ms, store_error};

/// A consumer group and its filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Type prefixes; empty matches every type.
    pub type_prefixes: Vec<String>,
    /// Providers; empty matches every provider.
    pub providers: Vec<String>,
}

impl Group {
    /// Whether an event of `event_type` from `provider` belongs to this group.
    pub fn matches(&self, event_type: &str, provider: &str) -> bool {
        let type_ok = self.type_prefixes.is_empty()
            || self
                .type_prefixes
                .iter()
                .any(|p| event_type.starts_with(p.as_str()));
        let provider_ok = self.providers.is_empty() || self.providers.iter().any(|p| p == provider);
        type_ok && provider_ok
    }
}

/// One event leased to a stream.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The id to acknowledge it with.
    pub ack_id: String,
    /// The event.
    pub event: StoredEvent,
    /// Which delivery this is, from 1.
    pub attempt: i32,
}

/// A dead letter.
#[derive(Debug, Clone)]
pub struct Dead {
    /// The event.
    pub event: StoredEvent,
    /// Deliveries made.
    pub attempts: i32,
    /// When it was last delivered.
    pub last_delivery_ms: i64,
    /// When it became a dead letter.
    pub dead_ms: i64,
}

pub(super) async fn load_groups<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    executor: E,
) -> Result<Vec<Group>> {
    let rows = sqlx::query("SELECT name, type_prefixes, providers FROM consumer_groups")
        .fetch_all(executor)
        .await
        .map_err(|e| store_error("groups", &e))?;
    rows.iter().map(group_of).collect()
}

fn group_of(row: &sqlx::any::AnyRow) -> Result<Group> {
    let get =
        |i: usize| -> Result<String> { row.try_get(i).map_err(|e| store_error("groups", &e)) };
    let list = |s: String| -> Vec<String> { serde_json::from_str(&s).unwrap_or_default() };
    Ok(Group {
        name: get(0)?,
        type_prefixes: list(get(1)?),
        providers: list(get(2)?),
    })
}

/// The queue over a store.
#[derive(Debug, Clone)]
pub struct Queue {
    store: Store,
    max_attempts: i32,
}

impl Queue {
    /// A queue that dead-letters after `max_attempts` deliveries.
    pub fn new(store: Store, max_attempts: u32) -> Self {
        Self {
            store,
            max_attempts: i32::try_from(max_attempts).unwrap_or(i32::MAX),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Creates `group` with its filter, or checks that an existing one has the same filter.
    pub async fn ensure_group(&self, group: &Group) -> Result<()> {
        let mut prefixes = group.type_prefixes.clone();
        prefixes.sort();
        prefixes.dedup();
        let mut providers = group.providers.clone();
        providers.sort();
        providers.dedup();
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned());
        sqlx::query("INSERT INTO consumer_groups (name, type_prefixes, providers, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(&group.name)
            .bind(json(&prefixes))
            .bind(json(&providers))
            .bind(now_ms())
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("group create", &e))?;
        let existing = self.group(&group.name).await?;
        let mut existing_prefixes = existing.type_prefixes.clone();
        existing_prefixes.sort();
        let mut existing_providers = existing.providers.clone();
        existing_providers.sort();
        if existing_prefixes != prefixes || existing_providers != providers {
            return Err(Error::new(
                Kind::FailedPrecondition,
                "the consumer group exists with another filter",
            ));
        }
        Ok(())
    }

    /// The group named `name`; `NOT_FOUND` when it does not exist.
    pub async fn group(&self, name: &str) -> Result<Group> {
        let row = sqlx::query(
            "SELECT name, type_prefixes, providers FROM consumer_groups WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.store.pool())
        .await
        .map_err(|e| store_error("group", &e))?;
        row.as_ref()
            .map(group_of)
            .transpose()?
            .ok_or_else(|| Error::not_found("consumer group", name))
    }

    /// Leases up to `limit` events of `group` for `deadline`, oldest first, never an event
    /// whose resource has an earlier event still outstanding.
    pub async fn lease(&self, group: &str, limit: usize, deadline: Duration) -> Result<Vec<Lease>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let candidates = sqlx::query(
            "SELECT d.event_id, d.attempts FROM deliveries d WHERE d.group_name = $1 \
             AND (d.state = 'pending' OR (d.state = 'leased' AND d.lease_until_ms <= $2)) \
             AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.group_name = d.group_name AND e.resource_key = d.resource_key \
               AND e.state IN ('pending', 'leased') AND (e.occur_ms < d.occur_ms OR (e.occur_ms = d.occur_ms \
               AND (e.received_ms < d.received_ms OR (e.received_ms = d.received_ms AND e.event_id < d.event_id))))) \
             ORDER BY d.occur_ms, d.received_ms, d.event_id LIMIT $3",
        )
        .bind(group)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(1000))
        .fetch_all(self.store.pool())
        .await
        .map_err(|e| store_error("lease", &e))?;
        let mut leases = Vec::new();
        for row in candidates {
            let event_id: String = row.try_get(0).map_err(|e| store_error("lease", &e))?;
            let attempts: i32 = row
                .try_get::<i64, _>(1)
                .map(|a| a as i32)
                .or_else(|_| row.try_get::<i32, _>(1))
                .map_err(|e| store_error("lease", &e))?;
            if attempts >= self.max_attempts {
                self.bury(group, &event_id, now).await?;
                continue;
            }
            let token = crate::ids::new_id("ack");
            let until = now + i64::try_from(deadline.as_millis()).unwrap_or(i64::MAX / 2);
            let taken = sqlx::query(
                "UPDATE deliveries SET state = 'leased', attempts = attempts + 1, lease_token = $1, lease_until_ms = $2, last_delivery_ms = $3 \
                 WHERE group_name = $4 AND event_id = $5 AND (state = 'pending' OR (state = 'leased' AND lease_until_ms <= $3))",
            )
            .bind(&token)
            .bind(until)
            .bind(now)
            .bind(group)
            .bind(&event_id)
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("lease", &e))?;
            if taken.rows_affected() != 1 {
                continue;
            }
            let Some(event) = self.event(&event_id).await? else {
                continue;
            };
            let provider = event.event.provider.clone();
            metrics::counter!("integ_events_delivered_total", "provider" => provider.clone())
                .increment(1);
            if attempts > 0 {
                metrics::counter!("integ_events_redelivered_total", "provider" => provider)
                    .increment(1);
            }
            leases.push(Lease {
                ack_id: format!("{event_id}.{token}"),
                event,
                attempt: attempts + 1,
            });
        }
        Ok(leases)
    }

    async fn bury(&self, group: &str, event_id: &str, now: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE deliveries SET state = 'dead', dead_ms = $1, lease_token = NULL WHERE group_name = $2 AND event_id = $3 \
             AND (state = 'pending' OR (state = 'leased' AND lease_until_ms <= $1))",
        )
        .bind(now)
        .bind(group)
        .bind(event_id)
        .execute(self.store.pool())
        .await
        .map_err(|e| store_error("dead letter", &e))?;
        if done.rows_affected() == 1 {
            tracing::warn!(
                group,
                event_id,
                "event moved to dead letters after its last attempt"
            );
            // Rare enough that reading the event for its provider costs nothing that matters.
            let provider = match self.event(event_id).await {
                Ok(Some(stored)) => stored.event.provider,
                _ => String::new(),
            };
            metrics::counter!("integ_events_dead_lettered_total", "provider" => provider)
                .increment(1);
        }
        Ok(())
    }

    /// Acknowledges deliveries; unknown or stale ack ids are ignored (acknowledging is
    /// idempotent). Returns how many were acknowledged now.
    pub async fn ack(&self, group: &str, ack_ids: &[String]) -> Result<u64> {
        let mut done = 0;
        for ack_id in ack_ids {
            let Some((event_id, token)) = ack_id.split_once('.') else {
                continue;
            };
            let r = sqlx::query("UPDATE deliveries SET state = 'acked', lease_token = NULL WHERE group_name = $1 AND event_id = $2 AND lease_token = $3 AND state = 'leased'")
                .bind(group)
                .bind(event_id)
                .bind(token)
                .execute(self.store.pool())
                .await
                .map_err(|e| store_error("ack", &e))?;
            done += r.rows_affected();
        }
        Ok(done)
    }

    /// Moves an outstanding delivery's deadline to `deadline` from now.
    pub async fn extend(&self, group: &str, ack_id: &str, deadline: Duration) -> Result<()> {
        let Some((event_id, token)) = ack_id.split_once('.') else {
            return Ok(());
        };
        let until = now_ms() + i64::try_from(deadline.as_millis()).unwrap_or(0);
        sqlx::query("UPDATE deliveries SET lease_until_ms = $1 WHERE group_name = $2 AND event_id = $3 AND lease_token = $4 AND state = 'leased'")
            .bind(until)
            .bind(group)
            .bind(event_id)
            .bind(token)
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("extend", &e))?;
        Ok(())
    }

    /// Hands back outstanding deliveries of a stream that ended, for immediate redelivery.
    pub async fn release(&self, group: &str, ack_ids: &[String]) -> Result<()> {
        for ack_id in ack_ids {
            let Some((event_id, token)) = ack_id.split_once('.') else {
                continue;
            };
            sqlx::query("UPDATE deliveries SET state = 'pending', lease_token = NULL, lease_until_ms = 0 WHERE group_name = $1 AND event_id = $2 AND lease_token = $3 AND state = 'leased'")
                .bind(group)
                .bind(event_id)
                .bind(token)
                .execute(self.store.pool())
                .await
                .map_err(|e| store_error("release", &e))?;
        }
        Ok(())
    }

    /// One stored event.
    pub async fn event(&self, id: &str) -> Result<Option<StoredEvent>> {
        let row = sqlx::query(
            "SELECT id, provider, account, provider_event_id, event_type, provider_type, resource_kind, resource_id, resource_provider_id, \
             occur_ms, received_ms, payload FROM events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await
        .map_err(|e| store_error("event", &e))?;
        row.as_ref().map(event_of).transpose()
    }

    /// A page of `group`'s dead letters, oldest first, after offset `offset`.
    pub async fn dead_letters(
        &self,
        group: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Dead>> {
        let rows = sqlx::query(
            "SELECT event_id, attempts, last_delivery_ms, dead_ms FROM deliveries WHERE group_name = $1 AND state = 'dead' \
             ORDER BY dead_ms, event_id LIMIT $2 OFFSET $3",
        )
        .bind(group)
        .bind(i64::try_from(limit).unwrap_or(1000))
        .bind(i64::try_from(offset).unwrap_or(0))
        .fetch_all(self.store.pool())
        .await
        .map_err(|e| store_error("dead letters", &e))?;
        let mut out = Vec::new();
        for row in rows {
            let id: String = row
                .try_get(0)
                .map_err(|e| store_error("dead letters", &e))?;
            let attempts = row
                .try_get::<i64, _>(1)
                .map(|a| a as i32)
                .or_else(|_| row.try_get::<i32, _>(1))
                .map_err(|e| store_error("dead letters", &e))?;
            let last: i64 = row
                .try_get(2)
                .map_err(|e| store_error("dead letters", &e))?;
            let dead: i64 = row
                .try_get(3)
                .map_err(|e| store_error("dead letters", &e))?;
            if let Some(event) = self.event(&id).await? {
                out.push(Dead {
                    event,
                    attempts,
                    last_delivery_ms: last,
                    dead_ms: dead,
                });
            }
        }
        Ok(out)
    }

    /// Moves dead letters back to pending with a fresh attempt count: the listed ones, or all.
    pub async fn requeue(&self, group: &str, event_ids: Option<&[String]>) -> Result<u64> {
        const ALL: &str = "UPDATE deliveries SET state = 'pending', attempts = 0, lease_token = NULL, lease_until_ms = 0 \
                           WHERE group_name = $1 AND state = 'dead'";
        const ONE: &str = "UPDATE deliveries SET state = 'pending', attempts = 0, lease_token = NULL, lease_until_ms = 0 \
                           WHERE group_name = $1 AND state = 'dead' AND event_id = $2";
        let pool = self.store.pool();
        let count = match event_ids {
            None => sqlx::query(ALL)
                .bind(group)
                .execute(pool)
                .await
                .map_err(|e| store_error("requeue", &e))?
                .rows_affected(),
            Some(ids) => {
                let mut n = 0;
                for id in ids {
                    n += sqlx::query(ONE)
                        .bind(group)
                        .bind(id)
                        .execute(pool)
                        .await
                        .map_err(|e| store_error("requeue", &e))?
                        .rows_affected();
                }
                n
            }
        };
        Ok(count)
    }

    /// The receive time of the oldest event kept, if any.
    pub async fn oldest_received_ms(&self) -> Result<Option<i64>> {
        let row: (Option<i64>,) = sqlx::query_as("SELECT MIN(received_ms) FROM events")
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| store_error("replay", &e))?;
        Ok(row.0)
    }

    /// Delivers again to `group` every matching event received since `since_ms`.
    pub async fn replay(&self, group: &Group, since_ms: i64) -> Result<u64> {
        let rows = sqlx::query(
            "SELECT id, provider, account, provider_event_id, event_type, provider_type, resource_kind, resource_id, resource_provider_id, \
             occur_ms, received_ms, payload FROM events WHERE received_ms >= $1 ORDER BY received_ms",
        )
        .bind(since_ms)
        .fetch_all(self.store.pool())
        .await
        .map_err(|e| store_error("replay", &e))?;
        let mut tx = self.store.begin_write().await?;
        let mut count = 0;
        for row in &rows {
            let stored = event_of(row)?;
            if !group.matches(&stored.event.event_type, &stored.event.provider) {
                continue;
            }
            super::inbox::insert_delivery(
                &mut tx,
                &group.name,
                &stored.id,
                &stored.event,
                stored.received_ms,
            )
            .await?;
            count += 1;
        }
        tx.commit().await.map_err(|e| store_error("replay", &e))?;
        Ok(count)
    }

    /// Deletes events (and their deliveries) received before `before_ms`; returns how many.
    pub async fn prune(&self, before_ms: i64) -> Result<u64> {
        sqlx::query("DELETE FROM deliveries WHERE event_id IN (SELECT id FROM events WHERE received_ms < $1)")
            .bind(before_ms)
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("prune", &e))?;
        let done = sqlx::query("DELETE FROM events WHERE received_ms < $1")
            .bind(before_ms)
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("prune", &e))?;
        Ok(done.rows_affected())
    }

    /// Per provider: deliveries not yet acknowledged or dead, and the oldest one's arrival.
    pub async fn backlog(&self) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query("SELECT provider, COUNT(*), MIN(received_ms) FROM deliveries WHERE state IN ('pending', 'leased') GROUP BY provider")
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| store_error("backlog", &e))?;
        rows.iter()
            .map(|r| {
                let provider: String = r.try_get(0).map_err(|e| store_error("backlog", &e))?;
                let count: i64 = r.try_get(1).map_err(|e| store_error("backlog", &e))?;
                let oldest: i64 = r.try_get(2).map_err(|e| store_error("backlog", &e))?;
                Ok((provider, count, oldest))
            })
            .collect()
    }
}

fn event_of(row: &sqlx::any::AnyRow) -> Result<StoredEvent> {
    let text =
        |i: usize| -> Result<String> { row.try_get(i).map_err(|e| store_error("event", &e)) };
    let num = |i: usize| -> Result<i64> { row.try_get(i).map_err(|e| store_error("event", &e)) };
    let payload = base64::engine::general_purpose::STANDARD
        .decode(text(11)?)
        .map_err(|_| Error::internal("stored payload is corrupt"))?;
    Ok(StoredEvent {
        id: text(0)?,
        event: NewEvent {
            provider: text(1)?,
            account: text(2)?,
            provider_event_id: text(3)?,
            event_type: text(4)?,
            provider_type: text(5)?,
            resource_kind: text(6)?,
            resource_provider_id: text(8)?,
            occur_ms: num(9)?,
            payload,
        },
        resource_id: text(7)?,
        received_ms: num(10)?,
    })
}
