//! Settings of the storage adapter, validated before any port is bound.

use integ_core::config::{ConfigError, Env};
use integ_core::family::FamilyConfig;
use integ_core::server::{Family, ServerConfig};

use crate::sandbox::SandboxConfig;

/// The providers this build offers.
pub const KNOWN_PROVIDERS: &[&str] = &["sandbox"];

/// Validated settings of the storage adapter.
#[derive(Debug, Clone)]
pub struct Config {
    /// The shared settings and the provider order.
    pub family: FamilyConfig,
    /// The sandbox provider's settings.
    pub sandbox: SandboxConfig,
}

/// Reads and validates every setting of the storage adapter.
pub fn load(env: &Env) -> Result<Config, ConfigError> {
    let family = FamilyConfig::from_env(env, Family::Storage, KNOWN_PROVIDERS)?;
    let sandbox = SandboxConfig::from_env(env, &family.server.data_dir)?;
    Ok(Config { family, sandbox })
}

impl AsRef<ServerConfig> for Config {
    fn as_ref(&self) -> &ServerConfig {
        &self.family.server
    }
}
