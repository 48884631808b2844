//! Typed configuration from environment variables and mounted files.
//!
//! Every setting is read through [`Env`], a snapshot of the process environment taken once at
//! start-up (tests build their own snapshot instead of mutating the process). Keys follow one
//! scheme: `INTEG_<SETTING>` for the server, `INTEG_<FAMILY>_PROVIDERS` for the ordered list of
//! providers of a family and `INTEG_<PROVIDER>_<SETTING>` for a provider. A secret setting is
//! read from `KEY` or from the file named by `KEY_FILE`, never both.
//!
//! Errors name the key and the problem and never echo the value, which may be a secret.
//! Binaries turn a [`ConfigError`] into exit status 64 (`EX_USAGE`) before binding any port.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::secret::{Secret, SecretError};

/// Exit status for bad configuration (`EX_USAGE` in sysexits.h).
pub const EXIT_CONFIG: i32 = 64;

/// A configuration value that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {key}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub key: String,
    /// What is wrong with it, in words that never include the value.
    pub problem: String,
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// A snapshot of environment variables.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: show the keys only.
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// The process environment, read once. Variables that are not UTF-8 are skipped.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs, for tests and embedding.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Sets one variable in the snapshot (not in the process).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(key.into(), value.into());
    }

    /// The raw value of `key`; an empty value counts as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The value of `key`, or `default`.
    pub fn string(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).trim().to_owned()
    }

    /// `key` parsed as `T`, or `default` when unset. `what` describes the expected form.
    pub fn parse<T: FromStr>(&self, key: &str, default: T, what: &str) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| ConfigError::new(key, format!("must be {what}"))),
        }
    }

    /// A TCP port (0 asks the operating system for a free one).
    pub fn port(&self, key: &str, default: u16) -> Result<u16, ConfigError> {
        self.parse(key, default, "a port number between 0 and 65535")
    }

    /// An IP address to bind to.
    pub fn ip(&self, key: &str, default: IpAddr) -> Result<IpAddr, ConfigError> {
        self.parse(key, default, "an IP address such as 127.0.0.1 or 0.0.0.0")
    }

    /// A positive count.
    pub fn count(&self, key: &str, default: u32) -> Result<u32, ConfigError> {
        let value: u32 = self.parse(key, default, "a whole number")?;
        if value == 0 {
            return Err(ConfigError::new(key, "must be at least 1"));
        }
        Ok(value)
    }

    /// A yes/no flag: true/false, 1/0, yes/no, on/off.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(_) => Err(ConfigError::new(key, "must be true or false")),
        }
    }

    /// A duration given in milliseconds by a key ending in `_MS`.
    pub fn millis(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        let ms: u64 = self.parse(
            key,
            default.as_millis() as u64,
            "a whole number of milliseconds",
        )?;
        Ok(Duration::from_millis(ms))
    }

    /// A duration given in seconds by a key ending in `_SECS`.
    pub fn secs(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        let s: u64 = self.parse(key, default.as_secs(), "a whole number of seconds")?;
        Ok(Duration::from_secs(s))
    }

    /// An absolute `http` or `https` URL.
    pub fn url(&self, key: &str, default: &str) -> Result<Url, ConfigError> {
        let raw = self.string(key, default);
        let url = Url::parse(&raw).map_err(|_| ConfigError::new(key, "must be an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError::new(
                key,
                "must be an http:// or https:// URL with a host",
            ));
        }
        Ok(url)
    }

    /// An optional URL: `None` when unset.
    pub fn optional_url(&self, key: &str) -> Result<Option<Url>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.url(key, "").map(Some),
        }
    }

    /// A comma-separated list, lower-cased and trimmed, empty items dropped.
    pub fn list(&self, key: &str, default: &[&str]) -> Vec<String> {
        match self.get(key) {
            None => default.iter().map(|s| (*s).to_owned()).collect(),
            Some(raw) => raw
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// A path.
    pub fn path(&self, key: &str, default: &str) -> PathBuf {
        PathBuf::from(self.string(key, default))
    }

    /// A secret from `key` or from the file named by `key_FILE`; `None` when neither is set.
    pub fn secret(&self, key: &str) -> Result<Option<Secret>, ConfigError> {
        let file_key = format!("{key}_FILE");
        match (self.get(key), self.get(&file_key)) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                key,
                format!("set either {key} or {file_key}, not both"),
            )),
            (Some(value), None) => Secret::from_env_value(key, value.to_owned())
                .map(Some)
                .map_err(|e| secret_error(key, e)),
            (None, Some(path)) => Secret::from_file(path.trim())
                .map(Some)
                .map_err(|e| secret_error(&file_key, e)),
            (None, None) => Ok(None),
        }
    }

    /// A secret that must be present.
    pub fn required_secret(&self, key: &str) -> Result<Secret, ConfigError> {
        self.secret(key)?.ok_or_else(|| {
            ConfigError::new(key, format!("is required (or {key}_FILE naming a file)"))
        })
    }
}

fn secret_error(key: &str, error: SecretError) -> ConfigError {
    ConfigError::new(key, error.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn malformed_values_name_the_key_and_hide_the_value() {
        let env = Env::from_pairs([
            ("INTEG_GRPC_PORT", "eighty"),
            ("INTEG_X_BASE_URL", "s3cr3t-not-a-url"),
        ]);
        let err = env.port("INTEG_GRPC_PORT", 1).unwrap_err();
        assert_eq!(err.key, "INTEG_GRPC_PORT");
        assert!(!err.to_string().contains("eighty"));
        let err = env.url("INTEG_X_BASE_URL", "http://x").unwrap_err();
        assert!(err.to_string().contains("INTEG_X_BASE_URL"));
        assert!(!err.to_string().contains("s3cr3t"));
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        let env = Env::from_pairs([("A", "ftp://example.com"), ("B", "http://127.0.0.1:9/v1")]);
        assert!(env.url("A", "").is_err());
        assert_eq!(env.url("B", "").unwrap().as_str(), "http://127.0.0.1:9/v1");
        assert_eq!(
            env.url("C", "https://api.stripe.com").unwrap().host_str(),
            Some("api.stripe.com")
        );
    }

    #[test]
    fn secret_from_env_or_file_but_not_both() {
        let env = Env::from_pairs([("K", "v1"), ("K_FILE", "/tmp/x")]);
        assert!(env.secret("K").unwrap_err().problem.contains("not both"));
        let env = Env::from_pairs([("K_FILE", "/nonexistent/integ-secret")]);
        assert_eq!(env.secret("K").unwrap_err().key, "K_FILE");
        assert!(Env::default().secret("K").unwrap().is_none());
        assert!(Env::default().required_secret("K").is_err());
    }

    #[test]
    fn lists_flags_and_durations() {
        let env = Env::from_pairs([
            ("L", " Stripe , ,sandbox"),
            ("F", "yes"),
            ("D_MS", "250"),
            ("Z", "0"),
        ]);
        assert_eq!(env.list("L", &[]), ["stripe", "sandbox"]);
        assert_eq!(env.list("M", &["sandbox"]), ["sandbox"]);
        assert!(env.flag("F", false).unwrap());
        assert_eq!(
            env.millis("D_MS", Duration::ZERO).unwrap(),
            Duration::from_millis(250)
        );
        assert!(env.count("Z", 3).is_err());
    }

    #[test]
    fn debug_shows_keys_only() {
        let env = Env::from_pairs([("INTEG_STRIPE_API_KEY", "sk_live_canary")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("INTEG_STRIPE_API_KEY") && !shown.contains("canary"));
    }
}
