//! Secrets: credential values that can be used but never shown.
//!
//! A [`Secret`] comes from an environment variable or from a file (a Kubernetes secret mount,
//! named by the `*_FILE` variant of the key). A file-backed secret is re-read when the file
//! changes, so a rotated credential reaches the running process without a restart. Its `Debug`
//! and `Display` print `[redacted]` and it cannot be serialised, so a value cannot leak through
//! logs, error messages, metrics or panics by accident.
//!
//! What it does not do: encrypt memory or zero it on drop beyond what `secrecy` offers.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use secrecy::{ExposeSecret, SecretString};

/// How often a file-backed secret looks at its file's metadata at most.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// Where a secret's value comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value of an environment variable, read once at start-up.
    Env {
        /// The variable's name (not its value).
        key: String,
    },
    /// A file whose whole content (trailing newline trimmed) is the value.
    File {
        /// The path of the file.
        path: PathBuf,
    },
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env { key } => write!(f, "env:{key}"),
            SecretSource::File { path } => write!(f, "file:{}", path.display()),
        }
    }
}

/// A credential that can be exposed where it is used, and nowhere else.
#[derive(Clone)]
pub struct Secret {
    inner: Arc<Inner>,
}

struct Inner {
    source: SecretSource,
    state: Mutex<State>,
}

struct State {
    value: SecretString,
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

/// Why a secret could not be loaded. Never carries the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read secret file {path}: {reason}")]
    Unreadable {
        /// The file that failed.
        path: PathBuf,
        /// The operating system's reason, which never includes file content.
        reason: String,
    },
    /// The variable or file held nothing but whitespace.
    #[error("secret is empty")]
    Empty,
}

impl Secret {
    /// A secret held in memory: from an environment variable, or built by a test.
    pub fn from_env_value(key: impl Into<String>, value: String) -> Result<Self, SecretError> {
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self::new(
            SecretSource::Env { key: key.into() },
            value,
            None,
        ))
    }

    /// A secret read from a file now and again whenever the file changes.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, SecretError> {
        let path = path.into();
        let (value, stamp) = read_file(&path)?;
        Ok(Self::new(SecretSource::File { path }, value, stamp))
    }

    fn new(source: SecretSource, value: String, stamp: Option<(SystemTime, u64)>) -> Self {
        let state = State {
            value: SecretString::from(value),
            stamp,
            checked: Instant::now(),
        };
        Self {
            inner: Arc::new(Inner {
                source,
                state: Mutex::new(state),
            }),
        }
    }

    /// Where the value comes from; safe to log.
    pub fn source(&self) -> &SecretSource {
        &self.inner.source
    }

    /// Calls `f` with the current value. A file-backed secret is re-read first when the file
    /// changed since the last look; if the new content cannot be read, the last good value is
    /// kept and a warning names the file (never its content).
    pub fn with_value<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        let mut state = match self.inner.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let SecretSource::File { path } = &self.inner.source {
            refresh(path, &mut state);
        }
        f(state.value.expose_secret())
    }

    /// A copy of the current value, for APIs that need an owned string (an HTTP header).
    /// Keep the copy only as long as the request that needs it.
    pub fn expose(&self) -> String {
        self.with_value(str::to_owned)
    }
}

fn refresh(path: &PathBuf, state: &mut State) {
    if state.checked.elapsed() < RECHECK_EVERY {
        return;
    }
    state.checked = Instant::now();
    let stamp = file_stamp(path);
    if stamp.is_some() && stamp == state.stamp {
        return;
    }
    match read_file(path) {
        Ok((value, stamp)) => {
            state.value = SecretString::from(value);
            state.stamp = stamp;
            tracing::info!(path = %path.display(), "secret file changed; new value loaded");
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "secret file unreadable; keeping the last value");
        }
    }
}

fn file_stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn read_file(path: &PathBuf) -> Result<(String, Option<(SystemTime, u64)>), SecretError> {
    let unreadable = |e: std::io::Error| SecretError::Unreadable {
        path: path.clone(),
        reason: e.kind().to_string(),
    };
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|_| SecretError::Unreadable {
        path: path.clone(),
        reason: "not UTF-8".to_owned(),
    })?;
    let value = text.trim().to_owned();
    if value.is_empty() {
        return Err(SecretError::Empty);
    }
    Ok((value, file_stamp(path)))
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?}, [redacted])", self.inner.source)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CANARY: &str = "sk_test_canary_4f9d1c";

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::from_env_value("INTEG_STRIPE_API_KEY", CANARY.to_owned()).unwrap();
        assert!(!format!("{secret:?}").contains(CANARY));
        assert!(!format!("{secret}").contains(CANARY));
        assert!(format!("{secret:?}").contains("INTEG_STRIPE_API_KEY"));
        assert_eq!(secret.expose(), CANARY);
    }

    #[test]
    fn empty_values_are_refused() {
        assert!(matches!(
            Secret::from_env_value("K", "  \n".to_owned()),
            Err(SecretError::Empty)
        ));
    }

    #[test]
    fn file_secret_is_trimmed_and_rotates_when_the_file_changes() {
        let dir = std::env::temp_dir().join(format!("integ-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("api-key");
        std::fs::write(&path, format!("{CANARY}\n")).unwrap();
        let secret = Secret::from_file(&path).unwrap();
        assert_eq!(secret.expose(), CANARY);

        std::fs::write(&path, "sk_test_rotated_value_longer").unwrap();
        // Force the next access to look at the file again.
        secret.inner.state.lock().unwrap().checked = Instant::now() - RECHECK_EVERY * 2;
        assert_eq!(secret.expose(), "sk_test_rotated_value_longer");
        assert!(!format!("{secret:?}").contains("rotated"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unreadable_file_error_names_the_path_only() {
        let err = Secret::from_file("/nonexistent/integ/secret").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/integ/secret"));
    }
}
