//! Stripe's settings, read and checked before any port is bound.
//!
//! - `INTEG_STRIPE_API_KEY` (or `INTEG_STRIPE_API_KEY_FILE`): a secret (`sk_…`) or restricted
//!   (`rk_…`) key. Required.
//! - `INTEG_STRIPE_BASE_URL`: default `https://api.stripe.com`; a proxy or a test double may
//!   stand in.
//! - `INTEG_STRIPE_API_VERSION`: sent as `Stripe-Version`; default [`API_VERSION`], the version
//!   the wire types are written against.
//! - `INTEG_STRIPE_ACCOUNT`: optional connected account (`acct_…`), sent as `Stripe-Account`.
//! - `INTEG_STRIPE_WEBHOOK_SECRET` (or `…_FILE`): optional endpoint signing secret
//!   (`whsec_…`), or two separated by a comma while rotating. Without it there is no
//!   `/webhooks/stripe` route.
//! - `INTEG_STRIPE_WEBHOOK_ACCOUNTS`: optional names of more Stripe accounts whose webhooks
//!   arrive at `/webhooks/stripe/<account>`, each with `INTEG_STRIPE_WEBHOOK_SECRET_<ACCOUNT>`.
//!
//! Errors name the key and never the value.

use integ_core::config::{ConfigError, Env};
use integ_core::secret::Secret;
use url::Url;

/// The API version the wire types are written against.
pub const API_VERSION: &str = "2023-08-16";

const KEY: &str = "INTEG_STRIPE_API_KEY";
const WEBHOOK_SECRET: &str = "INTEG_STRIPE_WEBHOOK_SECRET";

/// Validated Stripe settings.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// The API key.
    pub api_key: Secret,
    /// Where the API is.
    pub base_url: Url,
    /// The `Stripe-Version` sent on every request.
    pub api_version: String,
    /// The connected account every request acts for, if any.
    pub account: Option<String>,
    /// The webhook endpoints' signing secrets, by account ("" for `/webhooks/stripe`); no
    /// webhook route for an account without one.
    pub webhooks: Vec<(String, Secret)>,
}

impl StripeConfig {
    /// Reads and checks the `INTEG_STRIPE_*` settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let api_key = env.required_secret(KEY)?;
        let key_ok = api_key.with_value(|k| {
            ["sk_", "rk_"].iter().any(|p| k.starts_with(p)) && k.is_ascii() && !k.contains(' ')
        });
        if !key_ok {
            return Err(ConfigError::new(
                KEY,
                "must be a Stripe secret key (sk_…) or restricted key (rk_…)",
            ));
        }
        let api_version = env.string("INTEG_STRIPE_API_VERSION", API_VERSION);
        if !looks_like_version(&api_version) {
            return Err(ConfigError::new(
                "INTEG_STRIPE_API_VERSION",
                "must be a Stripe API version such as 2023-08-16",
            ));
        }
        let account = env.get("INTEG_STRIPE_ACCOUNT").map(|a| a.trim().to_owned());
        if account.as_deref().is_some_and(|a| !is_account_id(a)) {
            return Err(ConfigError::new(
                "INTEG_STRIPE_ACCOUNT",
                "must be a connected account id (acct_…)",
            ));
        }
        Ok(Self {
            api_key,
            base_url: env.url("INTEG_STRIPE_BASE_URL", "https://api.stripe.com")?,
            api_version,
            account,
            webhooks: webhooks(env)?,
        })
    }
}

/// The signing secret of each webhook account: optional for the default one, required for
/// each account `INTEG_STRIPE_WEBHOOK_ACCOUNTS` names (`INTEG_STRIPE_WEBHOOK_SECRET_<ACCOUNT>`).
fn webhooks(env: &Env) -> Result<Vec<(String, Secret)>, ConfigError> {
    let mut found = Vec::new();
    for account in integ_core::webhook::accounts(env, "INTEG_STRIPE")? {
        let key = account.key(WEBHOOK_SECRET);
        match webhook_secret(env, &key)? {
            Some(secret) => found.push((account.name, secret)),
            None if account.is_default() => {}
            None => {
                return Err(ConfigError::new(
                    &key,
                    "is required: INTEG_STRIPE_WEBHOOK_ACCOUNTS names this account",
                ));
            }
        }
    }
    Ok(found)
}

fn webhook_secret(env: &Env, key: &str) -> Result<Option<Secret>, ConfigError> {
    let Some(secret) = env.secret(key)? else {
        return Ok(None);
    };
    let all_whsec = secret.with_value(|v| {
        v.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .all(|s| s.starts_with("whsec_"))
    });
    if !all_whsec {
        return Err(ConfigError::new(
            key,
            "must be a Stripe signing secret (whsec_…), or two separated by a comma",
        ));
    }
    Ok(Some(secret))
}

/// `YYYY-MM-DD`, optionally followed by a release name (`2024-09-30.acacia`).
fn looks_like_version(v: &str) -> bool {
    let date = v.split('.').next().unwrap_or_default();
    let shape: Vec<usize> = date.split('-').map(str::len).collect();
    shape == [4, 2, 2] && date.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

fn is_account_id(a: &str) -> bool {
    a.strip_prefix("acct_")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CANARY: &str = "sk_test_canary_51Hx";

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn defaults_and_optional_settings() {
        let c = StripeConfig::from_env(&env(&[(KEY, CANARY)])).unwrap();
        assert_eq!(c.base_url.as_str(), "https://api.stripe.com/");
        assert_eq!(c.api_version, API_VERSION);
        assert!(c.account.is_none() && c.webhooks.is_empty());
        let c = StripeConfig::from_env(&env(&[
            (KEY, CANARY),
            ("INTEG_STRIPE_ACCOUNT", "acct_1032D82eZvKYlo2C"),
            ("INTEG_STRIPE_API_VERSION", "2024-09-30.acacia"),
            (WEBHOOK_SECRET, "whsec_old,whsec_new"),
        ]))
        .unwrap();
        assert_eq!(c.account.as_deref(), Some("acct_1032D82eZvKYlo2C"));
        assert_eq!(c.webhooks.len(), 1);
        let accounts = StripeConfig::from_env(&env(&[
            (KEY, CANARY),
            ("INTEG_STRIPE_WEBHOOK_ACCOUNTS", "eu"),
            ("INTEG_STRIPE_WEBHOOK_SECRET_EU", "whsec_eu"),
        ]))
        .unwrap();
        let names: Vec<&str> = accounts.webhooks.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, ["eu"], "the default account needs no secret");
        let err = StripeConfig::from_env(&env(&[
            (KEY, CANARY),
            ("INTEG_STRIPE_WEBHOOK_ACCOUNTS", "eu,us"),
            ("INTEG_STRIPE_WEBHOOK_SECRET_EU", "whsec_eu"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, "INTEG_STRIPE_WEBHOOK_SECRET_US");
        assert!(!format!("{c:?}").contains("canary"));
    }

    #[test]
    fn bad_values_name_the_key_and_never_echo_a_secret() {
        let err = StripeConfig::from_env(&Env::default()).unwrap_err();
        assert_eq!(err.key, KEY);
        let err = StripeConfig::from_env(&env(&[(KEY, "pk_test_canary_publishable")])).unwrap_err();
        assert_eq!(err.key, KEY);
        assert!(!err.to_string().contains("canary"));
        let err =
            StripeConfig::from_env(&env(&[(KEY, CANARY), (WEBHOOK_SECRET, "canary")])).unwrap_err();
        assert_eq!(err.key, WEBHOOK_SECRET);
        assert!(!err.to_string().contains("canary"));
        for (key, value) in [
            ("INTEG_STRIPE_ACCOUNT", "1032D82"),
            ("INTEG_STRIPE_API_VERSION", "latest"),
            ("INTEG_STRIPE_BASE_URL", "api.stripe.com"),
        ] {
            let err = StripeConfig::from_env(&env(&[(KEY, CANARY), (key, value)])).unwrap_err();
            assert_eq!(err.key, key);
        }
    }
}
