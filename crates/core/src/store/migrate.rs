//! A small migration runner: numbered SQL files embedded in the binary, applied in order, each
//! in its own transaction, recorded in `integ_migrations`. On PostgreSQL an advisory lock keeps
//! replicas that start together from applying the same migration twice.

use sqlx::{Connection, Executor};

use super::{Backend, Store, now_ms, store_error};
use crate::error::Result;

/// (version, name, SQL), in order. Append only: never edit a released migration.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "core", include_str!("../../migrations/0001_core.sql")),
    (
        2,
        "events",
        include_str!("../../migrations/0002_events.sql"),
    ),
    (
        3,
        "resource labels",
        include_str!("../../migrations/0003_resource_labels.sql"),
    ),
];

/// The PostgreSQL advisory lock key that serialises migrations ("integ" in ASCII).
const LOCK_KEY: i64 = 0x0069_6e74_6567;

pub(super) async fn run(store: &Store, schema: &str) -> Result<()> {
    let mut conn = store
        .pool()
        .acquire()
        .await
        .map_err(|e| store_error("migrate", &e))?;
    if store.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await
            .map_err(|e| store_error("migrate lock", &e))?;
        // Under the lock, so replicas starting together do not race to create it.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .execute(&mut *conn)
        .await
        .map_err(|e| store_error("create schema", &e))?;
    }
    let result = apply(&mut conn).await;
    if store.backend() == Backend::Postgres {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await;
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS integ_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .await
    .map_err(|e| store_error("migrate", &e))?;
    for (version, name, sql) in MIGRATIONS {
        let applied: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM integ_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| store_error("migrate", &e))?;
        if applied.is_some() {
            continue;
        }
        let mut tx = conn.begin().await.map_err(|e| store_error("migrate", &e))?;
        tx.execute(*sql)
            .await
            .map_err(|e| store_error("migrate", &e))?;
        sqlx::query("INSERT INTO integ_migrations (version, name, applied_ms) VALUES ($1, $2, $3)")
            .bind(*version)
            .bind(*name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error("migrate", &e))?;
        tx.commit().await.map_err(|e| store_error("migrate", &e))?;
        tracing::info!(version, name, "migration applied");
    }
    Ok(())
}
