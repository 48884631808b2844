//! JSON records kept by the sandbox providers, by family, kind and id.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use super::{Store, now_ms, store_error};
use crate::error::{Error, Result};

/// The records of one family.
#[derive(Debug)]
pub struct Records<'a> {
    store: &'a Store,
    family: &'static str,
}

impl<'a> Records<'a> {
    pub(super) fn new(store: &'a Store, family: &'static str) -> Self {
        Self { store, family }
    }

    /// Inserts or replaces the record `kind`/`id`.
    pub async fn put<T: Serialize>(&self, kind: &str, id: &str, value: &T) -> Result<()> {
        let body = serde_json::to_string(value)
            .map_err(|_| Error::internal("record cannot be encoded"))?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sandbox_records (family, kind, id, body, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (family, kind, id) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
        )
        .bind(self.family)
        .bind(kind)
        .bind(id)
        .bind(body)
        .bind(now)
        .execute(self.store.pool())
        .await
        .map_err(|e| store_error("record put", &e))?;
        Ok(())
    }

    /// The record `kind`/`id`, if it exists.
    pub async fn get<T: DeserializeOwned>(&self, kind: &str, id: &str) -> Result<Option<T>> {
        let row = sqlx::query(
            "SELECT body FROM sandbox_records WHERE family = $1 AND kind = $2 AND id = $3",
        )
        .bind(self.family)
        .bind(kind)
        .bind(id)
        .fetch_optional(self.store.pool())
        .await
        .map_err(|e| store_error("record get", &e))?;
        let Some(row) = row else { return Ok(None) };
        let body: String = row.try_get(0).map_err(|e| store_error("record get", &e))?;
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|_| Error::internal("stored record is corrupt"))
    }

    /// Inserts or replaces a protobuf message as the record `kind`/`id`.
    pub async fn put_message<M: prost::Message>(
        &self,
        kind: &str,
        id: &str,
        message: &M,
    ) -> Result<()> {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(message.encode_to_vec());
        self.put(kind, id, &encoded).await
    }

    /// The protobuf message stored as `kind`/`id`, if any.
    pub async fn get_message<M: prost::Message + Default>(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<M>> {
        use base64::Engine;
        let Some(encoded) = self.get::<String>(kind, id).await? else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| Error::internal("stored record is corrupt"))?;
        M::decode(bytes.as_slice())
            .map(Some)
            .map_err(|_| Error::internal("stored record is corrupt"))
    }

    /// Deletes the record `kind`/`id`; true when it existed.
    pub async fn delete(&self, kind: &str, id: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM sandbox_records WHERE family = $1 AND kind = $2 AND id = $3")
                .bind(self.family)
                .bind(kind)
                .bind(id)
                .execute(self.store.pool())
                .await
                .map_err(|e| store_error("record delete", &e))?;
        Ok(done.rows_affected() == 1)
    }
}
