//! Settings of the identity adapter, validated before any port is bound.

use integ_core::config::{ConfigError, Env};
use integ_core::family::FamilyConfig;
use integ_core::seal::Sealer;
use integ_core::server::{Family, ServerConfig};

use crate::sandbox::SandboxConfig;

/// The providers this build offers.
pub const KNOWN_PROVIDERS: &[&str] = &["sandbox"];

/// Validated settings of the identity adapter.
#[derive(Debug)]
pub struct Config {
    /// The shared settings and the provider order.
    pub family: FamilyConfig,
    /// The sandbox provider's settings.
    pub sandbox: SandboxConfig,
    /// Seals stored token replies (`INTEG_RECORD_KEY`).
    pub sealer: Sealer,
}

/// Reads and validates every setting of the identity adapter.
pub fn load(env: &Env) -> Result<Config, ConfigError> {
    let family = FamilyConfig::from_env(env, Family::Identity, KNOWN_PROVIDERS)?;
    let sandbox = SandboxConfig::from_env(env)?;
    Ok(Config {
        family,
        sandbox,
        sealer: Sealer::from_env(env)?,
    })
}

impl AsRef<ServerConfig> for Config {
    fn as_ref(&self) -> &ServerConfig {
        &self.family.server
    }
}
