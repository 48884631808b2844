//! The store: SQLite (a file in WAL mode) by default, PostgreSQL when `INTEG_DATABASE_URL` is
//! a `postgres://` URL.
//!
//! Both run the same migrations at start-up, written in the SQL the two share; queries use
//! `$1, $2, …` placeholders in ascending order, which both accept. Idempotency records, the id
//! map, sandbox objects, webhook events and their deliveries live here.
//!
//! # Durability
//! A webhook event is committed with a sync to disk before its 2xx goes out ([`Durable`]:
//! SQLite `synchronous = FULL`, PostgreSQL `synchronous_commit = on`); the provider was told
//! it is ours. Every other commit returns once it is in the database's log, without waiting for
//! the disk (SQLite `synchronous = NORMAL` in WAL mode, PostgreSQL `synchronous_commit = off`):
//! a crash of the adapter or of the database process loses nothing; a power cut may lose the
//! last moments of idempotency records, ids and deliveries. Those are covered elsewhere: the
//! provider's own idempotency key answers a repeated call, and an event whose delivery state is
//! lost is delivered again. A sync per call would cost every call a disk flush.

mod idempotency;
mod migrate;
mod records;
mod resources;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};

use crate::config::{ConfigError, Env};
use crate::error::{Error, Result};
use crate::secret::Secret;

pub use idempotency::{Claim, Idempotency};
pub use records::Records;
pub use resources::{Resource, Resources};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// A shared PostgreSQL server.
    Postgres,
}

/// Where the store lives: `INTEG_DATABASE_URL` (or `_FILE`), else a SQLite file in the data dir.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    url: Secret,
    backend: Backend,
    /// Largest number of pooled connections (`INTEG_DATABASE_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// The PostgreSQL schema holding this adapter's tables (`INTEG_DATABASE_SCHEMA`), so that
    /// families sharing one database never share events, consumer groups or idempotency keys.
    pub schema: String,
}

impl StoreConfig {
    /// Reads the store settings; `default_file` is the SQLite file used when no URL is set and
    /// `default_schema` the PostgreSQL schema used when none is configured.
    pub fn from_env(
        env: &Env,
        default_file: &Path,
        default_schema: &str,
    ) -> Result<Self, ConfigError> {
        let url = match env.secret("INTEG_DATABASE_URL")? {
            Some(url) => url,
            None => {
                let url = format!("sqlite://{}?mode=rwc", default_file.display());
                Secret::from_env_value("INTEG_DATA_DIR", url)
                    .map_err(|e| ConfigError::new("INTEG_DATA_DIR", e.to_string()))?
            }
        };
        let backend = url.with_value(|u| {
            if u.starts_with("sqlite:") {
                Ok(Backend::Sqlite)
            } else if u.starts_with("postgres://") || u.starts_with("postgresql://") {
                Ok(Backend::Postgres)
            } else {
                Err(ConfigError::new(
                    "INTEG_DATABASE_URL",
                    "must start with sqlite:, postgres:// or postgresql://",
                ))
            }
        })?;
        let max_connections = env.count("INTEG_DATABASE_MAX_CONNECTIONS", 8)?;
        let schema = env.string("INTEG_DATABASE_SCHEMA", default_schema);
        let valid = schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(ConfigError::new(
                "INTEG_DATABASE_SCHEMA",
                "must be 1 to 63 of a-z, 0-9 and _, not starting with a digit",
            ));
        }
        Ok(Self {
            url,
            backend,
            max_connections,
            schema,
        })
    }

    /// A store at `url` (tests).
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        Self::from_env(
            &Env::from_pairs([("INTEG_DATABASE_URL", url)]),
            Path::new(""),
            "integ",
        )
    }

    /// The backend the URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// A connection pool plus the backend it talks to.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects, applies the SQLite durability settings, and runs the migrations.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = config.url.expose();
        if config.backend == Backend::Sqlite {
            create_parent_dir(&url)?;
        }
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|_| Error::internal("database URL is malformed"))?;
        drop(url);
        let backend = config.backend;
        // Validated to [a-z0-9_], so it is safe to splice into the statement.
        let search_path = format!("SET search_path TO {}", config.schema);
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { config.max_connections.min(4) } else { config.max_connections })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;").await?;
                    } else {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(search_path.clone()))
                            .execute(&mut *conn)
                            .await?;
                        conn.execute("SET synchronous_commit = off").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| store_error("connect", &e))?;
        let store = Self { pool, backend };
        migrate::run(&store, &config.schema).await?;
        Ok(store)
    }

    /// The pool, for modules that keep their own tables.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that writes. On SQLite it takes the write lock when it begins
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads before it writes cannot wait for
    /// a writer that commits in between, and fails at once with "database is locked", while
    /// this one waits for the lock like any write (`busy_timeout`).
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let begun = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        begun.map_err(|e| store_error("begin", &e))
    }

    /// A connection whose commits are synced to disk before they return, for writes that must
    /// survive a power cut (webhook events). Hand it back with [`Durable::done`].
    pub async fn durable(&self) -> Result<Durable> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| store_error("acquire", &e))?;
        if self.backend == Backend::Sqlite {
            conn.execute("PRAGMA synchronous = FULL")
                .await
                .map_err(|e| store_error("durable", &e))?;
        }
        Ok(Durable {
            conn,
            backend: self.backend,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| store_error("ping", &e))?;
        Ok(())
    }

    /// Idempotency records.
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency::new(self)
    }

    /// Sandbox records of `family`.
    pub fn records(&self, family: &'static str) -> Records<'_> {
        Records::new(self, family)
    }

    /// The id table of `family`.
    pub fn resources(&self, family: &'static str) -> Resources<'_> {
        Resources::new(self, family)
    }

    /// Closes the pool, waiting for connections to return.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_parent_dir(url: &str) -> Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::internal(format!("cannot create data directory: {}", e.kind())))?;
    }
    Ok(())
}

/// A pooled connection on which commits wait for the disk; see [`Store::durable`].
pub struct Durable {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    backend: Backend,
}

impl Durable {
    /// Begins a write transaction: it takes SQLite's write lock at once (see
    /// [`Store::begin_write`]), and on PostgreSQL it commits with `synchronous_commit = on`.
    pub async fn begin(&mut self) -> Result<sqlx::Transaction<'_, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self
                .conn
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| store_error("begin", &e)),
            Backend::Postgres => {
                let mut tx = self
                    .conn
                    .begin()
                    .await
                    .map_err(|e| store_error("begin", &e))?;
                tx.execute("SET LOCAL synchronous_commit = on")
                    .await
                    .map_err(|e| store_error("begin", &e))?;
                Ok(tx)
            }
        }
    }

    /// Returns the connection to the pool with the usual settings; one that cannot be reset
    /// is closed instead, so that no other write pays for a sync it did not ask for.
    pub async fn done(mut self) {
        if self.backend == Backend::Sqlite
            && self
                .conn
                .execute("PRAGMA synchronous = NORMAL")
                .await
                .is_err()
        {
            self.conn.close_on_drop();
        }
    }
}

/// A store failure as an internal, retryable error that never carries SQL or values.
pub(crate) fn store_error(operation: &str, error: &sqlx::Error) -> Error {
    tracing::error!(operation, error = %error, "store operation failed");
    Error::internal(format!("store {operation} failed")).retryable(true)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
