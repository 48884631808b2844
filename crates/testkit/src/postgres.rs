//! A throw-away database on the PostgreSQL server at 127.0.0.1:5432, dropped afterwards.

use anyhow::{Context, Result};

/// The server tests use, overridable with `INTEG_TEST_POSTGRES` (a URL without database).
pub fn server() -> String {
    std::env::var("INTEG_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A fresh database with a random name; dropped when this is dropped (best effort).
pub struct TestDb {
    /// The database's name.
    pub name: String,
}

impl TestDb {
    /// Creates the database (with `psql`, which ships with the server).
    pub fn create() -> Result<Self> {
        let name = format!("integ_test_{:x}", super::rand_u64());
        psql(&format!("CREATE DATABASE {name}"))
            .context("cannot create a test database on 127.0.0.1:5432")?;
        Ok(Self { name })
    }

    /// The database's URL, with an optional password in it (trust auth ignores it).
    pub fn url_with_password(&self, password: &str) -> String {
        let server = server();
        let rest = server.trim_start_matches("postgres://");
        let (user, host) = rest.split_once('@').unwrap_or(("postgres", rest));
        let user = user.split(':').next().unwrap_or("postgres");
        format!("postgres://{user}:{password}@{host}/{}", self.name)
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn psql(sql: &str) -> Result<()> {
    let out = std::process::Command::new("psql")
        .arg(format!("{}/postgres", server()))
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("psql not found")?;
    anyhow::ensure!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
