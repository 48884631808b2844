//! Settings of the payments adapter, validated before any port is bound.

use integ_core::config::{ConfigError, Env};
use integ_core::family::FamilyConfig;
use integ_core::server::Family;

/// The providers this build offers.
pub const KNOWN_PROVIDERS: &[&str] = &["sandbox"];

/// Validated settings of the payments adapter.
pub type Config = FamilyConfig;

/// Reads and validates every setting of the payments adapter.
pub fn load(env: &Env) -> Result<Config, ConfigError> {
    FamilyConfig::from_env(env, Family::Payments, KNOWN_PROVIDERS)
}
