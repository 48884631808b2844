//! Settings of the payments adapter, validated before any port is bound.

use std::ops::Deref;

use integ_core::config::{ConfigError, Env};
use integ_core::family::FamilyConfig;
use integ_core::server::{Family, ServerConfig};

use crate::paypal::PaypalConfig;
use crate::square::SquareConfig;
use crate::stripe::StripeConfig;

/// The providers this build offers.
pub const KNOWN_PROVIDERS: &[&str] = &["sandbox", "stripe", "square", "paypal"];

/// Validated settings of the payments adapter: the family's, and each configured provider's.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server, store, provider order and policies, sandbox webhooks.
    pub family: FamilyConfig,
    /// Stripe's settings, when `stripe` is one of `INTEG_PAYMENTS_PROVIDERS`.
    pub stripe: Option<StripeConfig>,
    /// Square's settings, when `square` is one of `INTEG_PAYMENTS_PROVIDERS`.
    pub square: Option<SquareConfig>,
    /// PayPal's settings, when `paypal` is one of `INTEG_PAYMENTS_PROVIDERS`.
    pub paypal: Option<PaypalConfig>,
}

/// Reads and validates every setting of the payments adapter. A provider's own settings are
/// read only when it is configured, and then its required ones must be present.
pub fn load(env: &Env) -> Result<Config, ConfigError> {
    let family = FamilyConfig::from_env(env, Family::Payments, KNOWN_PROVIDERS)?;
    let configured = |name: &str| family.providers.names().any(|n| n == name);
    let stripe = if configured(crate::stripe::NAME) {
        Some(StripeConfig::from_env(env)?)
    } else {
        None
    };
    let square = if configured(crate::square::NAME) {
        Some(SquareConfig::from_env(env)?)
    } else {
        None
    };
    let paypal = if configured(crate::paypal::NAME) {
        Some(PaypalConfig::from_env(env)?)
    } else {
        None
    };
    Ok(Config {
        family,
        stripe,
        square,
        paypal,
    })
}

// The payments config reads as the family's (`config.server`, `config.providers`) with the
// providers' own settings beside it.
impl Deref for Config {
    type Target = FamilyConfig;

    fn deref(&self) -> &FamilyConfig {
        &self.family
    }
}

impl AsRef<ServerConfig> for Config {
    fn as_ref(&self) -> &ServerConfig {
        &self.family.server
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn provider_settings_are_read_only_when_the_provider_is_configured() {
        let sandbox = Env::from_pairs([("INTEG_DATA_DIR", "/tmp/integ-config-test")]);
        assert!(load(&sandbox).unwrap().stripe.is_none());
        let mut env = sandbox.clone();
        env.set("INTEG_PAYMENTS_PROVIDERS", "stripe,sandbox");
        assert_eq!(load(&env).unwrap_err().key, "INTEG_STRIPE_API_KEY");
        env.set("INTEG_STRIPE_API_KEY", "sk_test_config");
        let config = load(&env).unwrap();
        assert!(config.stripe.is_some());
        assert_eq!(
            config.providers.names().collect::<Vec<_>>(),
            ["stripe", "sandbox"]
        );
        assert!(config.paypal.is_none());
        env.set("INTEG_PAYMENTS_PROVIDERS", "paypal");
        assert_eq!(load(&env).unwrap_err().key, "INTEG_PAYPAL_CLIENT_ID");
        env.set("INTEG_PAYPAL_CLIENT_ID", "AYclient");
        env.set("INTEG_PAYPAL_CLIENT_SECRET", "EOsecret");
        assert!(load(&env).unwrap().paypal.is_some());
    }

    #[test]
    fn square_settings_are_read_only_when_square_is_configured() {
        let mut env = Env::from_pairs([("INTEG_DATA_DIR", "/tmp/integ-config-test")]);
        env.set("INTEG_SQUARE_ACCESS_TOKEN", "EAAAl-config-token");
        assert!(load(&env).unwrap().square.is_none());
        env.set("INTEG_PAYMENTS_PROVIDERS", "square,stripe");
        env.set("INTEG_STRIPE_API_KEY", "sk_test_config");
        assert_eq!(load(&env).unwrap_err().key, "INTEG_SQUARE_LOCATION_ID");
        env.set("INTEG_SQUARE_LOCATION_ID", "L88917AVBK2S5");
        let config = load(&env).unwrap();
        assert_eq!(config.square.unwrap().location_id, "L88917AVBK2S5");
        assert!(config.stripe.is_some());
    }
}
