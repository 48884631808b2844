//! Idempotency records: the same key with the same request returns the first result.
//!
//! A caller's key is claimed before the provider is called (state `started`) and the encoded
//! response is stored when the call succeeds (state `finished`). A retry of a finished request
//! gets the stored response without touching the provider: this is what keeps a call whose
//! response was lost from charging twice. The same key with a different request (another
//! fingerprint) is a conflict. A failed call releases its claim so that the caller can retry;
//! the provider's own idempotency key covers the case where the provider acted anyway. A claim
//! left `started` by a crashed process can be taken over after a lease.

use sqlx::Row;

use super::{Store, now_ms, store_error};
use crate::error::{Error, Kind, Result};

/// How long keys are remembered.
pub const KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a `started` claim blocks others before it is presumed abandoned.
pub const LEASE_MS: i64 = 60 * 1000;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: call the provider, then [`Idempotency::finish`] or release.
    New,
    /// The same request already finished: here is its encoded response.
    Replay(Vec<u8>),
}

/// Access to idempotency records.
#[derive(Debug)]
pub struct Idempotency<'a> {
    store: &'a Store,
}

impl<'a> Idempotency<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Claims `key` in `scope` for a request with `fingerprint`.
    ///
    /// Fails with [`Kind::Conflict`] when the key was used for another request, and with
    /// [`Kind::InProgress`] when the same request is still in progress elsewhere.
    pub async fn claim(&self, scope: &str, key: &str, fingerprint: &str) -> Result<Claim> {
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO idempotency (scope, idem_key, fingerprint, state, response, created_ms, expires_ms) \
             VALUES ($1, $2, $3, 'started', NULL, $4, $5) ON CONFLICT (scope, idem_key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .bind(now + KEY_TTL_MS)
        .execute(self.store.pool())
        .await
        .map_err(|e| store_error("idempotency claim", &e))?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::New);
        }
        let row = sqlx::query("SELECT fingerprint, state, response, created_ms, expires_ms FROM idempotency WHERE scope = $1 AND idem_key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| store_error("idempotency read", &e))?;
        let Some(row) = row else {
            // Deleted between the two statements (a release or expiry): try once more.
            return Box::pin(self.claim(scope, key, fingerprint)).await;
        };
        let stored: String = row
            .try_get(0)
            .map_err(|e| store_error("idempotency read", &e))?;
        let state: String = row
            .try_get(1)
            .map_err(|e| store_error("idempotency read", &e))?;
        let response: Option<String> = row
            .try_get(2)
            .map_err(|e| store_error("idempotency read", &e))?;
        let created: i64 = row
            .try_get(3)
            .map_err(|e| store_error("idempotency read", &e))?;
        let expires: i64 = row
            .try_get(4)
            .map_err(|e| store_error("idempotency read", &e))?;
        if expires <= now {
            self.release(scope, key).await?;
            return Box::pin(self.claim(scope, key, fingerprint)).await;
        }
        if stored != fingerprint {
            return Err(Error::new(
                Kind::Conflict,
                "idempotency key was already used with a different request",
            )
            .retryable(false));
        }
        match (state.as_str(), response) {
            ("finished", Some(body)) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .map_err(|_| Error::internal("stored idempotent response is corrupt"))?;
                Ok(Claim::Replay(bytes))
            }
            _ if now - created > LEASE_MS => self.take_over(scope, key, created).await,
            _ => Err(Error::new(
                Kind::InProgress,
                "a request with this idempotency key is still in progress",
            )
            .with_retry_after(std::time::Duration::from_secs(1))),
        }
    }

    async fn take_over(&self, scope: &str, key: &str, created: i64) -> Result<Claim> {
        let updated = sqlx::query("UPDATE idempotency SET created_ms = $1 WHERE scope = $2 AND idem_key = $3 AND created_ms = $4 AND state = 'started'")
            .bind(now_ms())
            .bind(scope)
            .bind(key)
            .bind(created)
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("idempotency take over", &e))?;
        if updated.rows_affected() == 1 {
            return Ok(Claim::New);
        }
        Err(Error::new(
            Kind::InProgress,
            "a request with this idempotency key is still in progress",
        ))
    }

    /// Stores the encoded response of a claimed key, kept for `ttl` when that is shorter than
    /// the usual 24 hours.
    pub async fn finish(
        &self,
        scope: &str,
        key: &str,
        response: &[u8],
        ttl: Option<std::time::Duration>,
    ) -> Result<()> {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(response);
        let ttl_ms = ttl.map_or(KEY_TTL_MS, |t| {
            i64::try_from(t.as_millis())
                .unwrap_or(KEY_TTL_MS)
                .min(KEY_TTL_MS)
        });
        sqlx::query("UPDATE idempotency SET state = 'finished', response = $1, expires_ms = $2 WHERE scope = $3 AND idem_key = $4")
            .bind(body)
            .bind(now_ms() + ttl_ms)
            .bind(scope)
            .bind(key)
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("idempotency finish", &e))?;
        Ok(())
    }

    /// Forgets a claim, so that the same key can be tried again.
    pub async fn release(&self, scope: &str, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency WHERE scope = $1 AND idem_key = $2")
            .bind(scope)
            .bind(key)
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("idempotency release", &e))?;
        Ok(())
    }

    /// Deletes expired records; returns how many.
    pub async fn prune(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM idempotency WHERE expires_ms <= $1")
            .bind(now_ms())
            .execute(self.store.pool())
            .await
            .map_err(|e| store_error("idempotency prune", &e))?;
        Ok(done.rows_affected())
    }
}
