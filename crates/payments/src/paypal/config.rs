//! PayPal's settings, read and checked before any port is bound.
//!
//! - `INTEG_PAYPAL_CLIENT_ID`: the REST app's client id. Required. Not a secret on its own.
//! - `INTEG_PAYPAL_CLIENT_SECRET` (or `INTEG_PAYPAL_CLIENT_SECRET_FILE`): the app's secret.
//!   Required.
//! - `INTEG_PAYPAL_BASE_URL`: default `https://api-m.paypal.com`; the sandbox is
//!   `https://api-m.sandbox.paypal.com`, and a proxy or a test double may stand in.
//! - `INTEG_PAYPAL_WEBHOOK_ID`: optional id of the webhook registered for our endpoint, as
//!   PayPal's dashboard shows it. Without it there is no `/webhooks/paypal` route: PayPal's
//!   verification needs the id.
//! - `INTEG_PAYPAL_WEBHOOK_ACCOUNTS`: optional names of more webhooks (of the same app) whose
//!   events arrive at `/webhooks/paypal/<account>`, each with `INTEG_PAYPAL_WEBHOOK_ID_<ACCOUNT>`.
//!
//! Errors name the key and never the value.

use integ_core::config::{ConfigError, Env};
use integ_core::secret::Secret;
use url::Url;

const CLIENT_ID: &str = "INTEG_PAYPAL_CLIENT_ID";
const WEBHOOK_ID: &str = "INTEG_PAYPAL_WEBHOOK_ID";

/// Validated PayPal settings.
#[derive(Debug, Clone)]
pub struct PaypalConfig {
    /// The REST app's client id.
    pub client_id: String,
    /// The REST app's secret.
    pub client_secret: Secret,
    /// Where the API is.
    pub base_url: Url,
    /// The webhooks' ids at PayPal, by account ("" for `/webhooks/paypal`); no webhook route
    /// for an account without one.
    pub webhooks: Vec<(String, String)>,
}

impl PaypalConfig {
    /// Reads and checks the `INTEG_PAYPAL_*` settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let client_id = env
            .get(CLIENT_ID)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::new(CLIENT_ID, "is required"))?;
        if !client_id.bytes().all(|b| b.is_ascii_graphic()) || client_id.contains(':') {
            return Err(ConfigError::new(
                CLIENT_ID,
                "must be a PayPal client id: visible ASCII without ':'",
            ));
        }
        let client_secret = env.required_secret("INTEG_PAYPAL_CLIENT_SECRET")?;
        Ok(Self {
            client_id,
            client_secret,
            base_url: env.url("INTEG_PAYPAL_BASE_URL", "https://api-m.paypal.com")?,
            webhooks: webhooks(env)?,
        })
    }
}

/// The webhook id of each account: optional for the default one, required for each account
/// `INTEG_PAYPAL_WEBHOOK_ACCOUNTS` names.
fn webhooks(env: &Env) -> Result<Vec<(String, String)>, ConfigError> {
    let mut found = Vec::new();
    for account in integ_core::webhook::accounts(env, "INTEG_PAYPAL")? {
        let key = account.key(WEBHOOK_ID);
        let id = env.get(&key).map(|v| v.trim().to_owned());
        match id {
            Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                found.push((account.name, id));
            }
            Some(_) => {
                return Err(ConfigError::new(
                    &key,
                    "must be the webhook id PayPal shows (letters and digits)",
                ));
            }
            None if account.is_default() => {}
            None => {
                return Err(ConfigError::new(
                    &key,
                    "is required: INTEG_PAYPAL_WEBHOOK_ACCOUNTS names this account",
                ));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &str = "EOcanary_paypal_secret_7Yq";

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn defaults_and_the_webhook_id() {
        let c = PaypalConfig::from_env(&env(&[
            (CLIENT_ID, "AYclient"),
            ("INTEG_PAYPAL_CLIENT_SECRET", SECRET),
        ]))
        .unwrap();
        assert_eq!(c.base_url.as_str(), "https://api-m.paypal.com/");
        assert!(c.webhooks.is_empty());
        assert!(!format!("{c:?}").contains("canary"));
        let c = PaypalConfig::from_env(&env(&[
            (CLIENT_ID, "AYclient"),
            ("INTEG_PAYPAL_CLIENT_SECRET", SECRET),
            (WEBHOOK_ID, "8PT597110X687430LKGECATA"),
            ("INTEG_PAYPAL_BASE_URL", "https://api-m.sandbox.paypal.com"),
        ]))
        .unwrap();
        assert_eq!(
            c.webhooks,
            [(String::new(), "8PT597110X687430LKGECATA".to_owned())]
        );
        assert_eq!(c.base_url.host_str(), Some("api-m.sandbox.paypal.com"));
    }

    #[test]
    fn bad_values_name_the_key_and_never_echo_the_secret() {
        let err = PaypalConfig::from_env(&env(&[("INTEG_PAYPAL_CLIENT_SECRET", SECRET)]));
        assert_eq!(err.unwrap_err().key, CLIENT_ID);
        let err = PaypalConfig::from_env(&env(&[(CLIENT_ID, "AYclient")])).unwrap_err();
        assert_eq!(err.key, "INTEG_PAYPAL_CLIENT_SECRET");
        for (key, value) in [
            (CLIENT_ID, "has:colon"),
            (WEBHOOK_ID, "not an id"),
            ("INTEG_PAYPAL_BASE_URL", "api-m.paypal.com"),
        ] {
            let mut pairs = vec![
                (CLIENT_ID, "AYclient"),
                ("INTEG_PAYPAL_CLIENT_SECRET", SECRET),
            ];
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let err = PaypalConfig::from_env(&env(&pairs)).unwrap_err();
            assert_eq!(err.key, key);
            assert!(!err.to_string().contains("canary"));
        }
    }
}
