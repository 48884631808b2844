//! The ids we mint for provider objects (`pay_…` for a Stripe `pi_…`), and where each lives.
//!
//! A `Get` or follow-up call (capture, refund) names our id; this table says which provider holds
//! the object and under which id, so that the call goes there whatever the family's order is.

use sqlx::Row;

use super::{Store, now_ms, store_error};
use crate::error::{Error, Result};

/// Where one of our ids lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Our id.
    pub id: String,
    /// The kind of object (`payment`, `refund`).
    pub kind: String,
    /// The provider holding it.
    pub provider: String,
    /// The provider's id for it.
    pub provider_id: String,
}

/// Access to the id table of one family.
#[derive(Debug)]
pub struct Resources<'a> {
    store: &'a Store,
    family: &'static str,
}

impl<'a> Resources<'a> {
    pub(super) fn new(store: &'a Store, family: &'static str) -> Self {
        Self { store, family }
    }

    /// Records `id` for `provider`'s `provider_id` unless that object has an id already, in
    /// one statement (the usual case on a create: a new object); whether it was recorded.
    pub async fn put_new(
        &self,
        id: &str,
        kind: &str,
        provider: &str,
        provider_id: &str,
        labels: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO resources (id, family, kind, provider, provider_id, created_ms, labels) \
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM resources \
             WHERE provider = $8 AND provider_id = $9 AND family = $10)",
        )
        .bind(id)
        .bind(self.family)
        .bind(kind)
        .bind(provider)
        .bind(provider_id)
        .bind(now_ms())
        .bind(labels)
        .bind(provider)
        .bind(provider_id)
        .bind(self.family)
        .execute(self.store.pool())
        .await
        .map_err(|e| store_error("resource put", &e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Our id for `provider`'s `provider_id` and the labels kept with it, if we minted one.
    pub async fn find_by_provider_id(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT id, labels FROM resources \
             WHERE provider = $1 AND provider_id = $2 AND family = $3",
        )
        .bind(provider)
        .bind(provider_id)
        .bind(self.family)
        .fetch_optional(self.store.pool())
        .await
        .map_err(|e| store_error("resource find", &e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id = row
            .try_get(0)
            .map_err(|e| store_error("resource find", &e))?;
        let labels = row
            .try_get(1)
            .map_err(|e| store_error("resource find", &e))?;
        Ok(Some((id, labels)))
    }

    /// Where `id` of `kind` lives; `NotFound` naming `field` when we never minted it.
    pub async fn get(&self, field: &str, kind: &str, id: &str) -> Result<Resource> {
        if id.is_empty() {
            return Err(Error::invalid(field, format!("{field} is required")));
        }
        let row = sqlx::query(
            "SELECT kind, provider, provider_id FROM resources WHERE id = $1 AND family = $2",
        )
        .bind(id)
        .bind(self.family)
        .fetch_optional(self.store.pool())
        .await
        .map_err(|e| store_error("resource get", &e))?;
        let Some(row) = row else {
            return Err(Error::not_found(kind, id));
        };
        let get = |i: usize| -> Result<String> {
            row.try_get(i).map_err(|e| store_error("resource get", &e))
        };
        let found = Resource {
            id: id.to_owned(),
            kind: get(0)?,
            provider: get(1)?,
            provider_id: get(2)?,
        };
        if found.kind != kind {
            return Err(Error::not_found(kind, id));
        }
        Ok(found)
    }
}
