//! Square's settings, read and checked before any port is bound.
//!
//! - `INTEG_SQUARE_ACCESS_TOKEN` (or `INTEG_SQUARE_ACCESS_TOKEN_FILE`): the seller's access
//!   token (a personal token of the application, or an OAuth token). Required.
//! - `INTEG_SQUARE_BASE_URL`: default `https://connect.squareup.com`; the Sandbox is
//!   `https://connect.squareupsandbox.com`, and a proxy or a test double may stand in.
//! - `INTEG_SQUARE_API_VERSION`: sent as `Square-Version`; default [`API_VERSION`], the version
//!   the wire types are written against.
//! - `INTEG_SQUARE_LOCATION_ID`: the location payments and subscriptions belong to. Required.
//! - `INTEG_SQUARE_WEBHOOK_SIGNATURE_KEY` (or `…_FILE`): optional signature key of the webhook
//!   subscription, or two separated by a comma while rotating. Without it there is no
//!   `/webhooks/square` route.
//! - `INTEG_SQUARE_WEBHOOK_URL`: the subscription's notification URL exactly as registered
//!   with Square (Square signs it). Required with the signature key, refused without it.
//! - `INTEG_SQUARE_WEBHOOK_ACCOUNTS`: optional names of more subscriptions whose webhooks
//!   arrive at `/webhooks/square/<account>`, each with its own
//!   `INTEG_SQUARE_WEBHOOK_SIGNATURE_KEY_<ACCOUNT>` and `INTEG_SQUARE_WEBHOOK_URL_<ACCOUNT>`.
//!
//! Errors name the key and never the value.

use integ_core::config::{ConfigError, Env};
use integ_core::secret::Secret;
use url::Url;

/// The `Square-Version` the wire types are written against (the spec of 2025-08).
pub const API_VERSION: &str = "2025-08-20";

const TOKEN: &str = "INTEG_SQUARE_ACCESS_TOKEN";
const VERSION: &str = "INTEG_SQUARE_API_VERSION";
const LOCATION: &str = "INTEG_SQUARE_LOCATION_ID";
const SIGNATURE_KEY: &str = "INTEG_SQUARE_WEBHOOK_SIGNATURE_KEY";
const WEBHOOK_URL: &str = "INTEG_SQUARE_WEBHOOK_URL";

/// Validated Square settings.
#[derive(Debug, Clone)]
pub struct SquareConfig {
    /// The access token, sent as a bearer token.
    pub access_token: Secret,
    /// Where the API is.
    pub base_url: Url,
    /// The `Square-Version` sent on every request.
    pub api_version: String,
    /// The location payments and subscriptions are made at.
    pub location_id: String,
    /// The webhook subscriptions, by account ("" for `/webhooks/square`): their signature
    /// keys and notification URLs.
    pub webhooks: Vec<(String, SquareWebhook)>,
}

/// One webhook subscription at Square.
#[derive(Debug, Clone)]
pub struct SquareWebhook {
    /// The signature key, or two while rotating.
    pub signature_key: Secret,
    /// The notification URL as registered, which Square signs with the body.
    pub notification_url: String,
}

impl SquareConfig {
    /// Reads and checks the `INTEG_SQUARE_*` settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let access_token = env.required_secret(TOKEN)?;
        let token_ok =
            access_token.with_value(|t| t.bytes().all(|b| b.is_ascii_graphic()) && t.len() >= 8);
        if !token_ok {
            return Err(ConfigError::new(
                TOKEN,
                "must be a Square access token (printable ASCII without spaces)",
            ));
        }
        let api_version = env.string(VERSION, API_VERSION);
        if !is_date(&api_version) {
            return Err(ConfigError::new(
                VERSION,
                "must be a Square API version such as 2025-08-20",
            ));
        }
        let location_id = env.get(LOCATION).map(str::trim).unwrap_or_default();
        if !is_location(location_id) {
            return Err(ConfigError::new(
                LOCATION,
                "is required: the id of the Square location (letters and digits)",
            ));
        }
        Ok(Self {
            access_token,
            base_url: env.url("INTEG_SQUARE_BASE_URL", "https://connect.squareup.com")?,
            api_version,
            location_id: location_id.to_owned(),
            webhooks: webhooks(env)?,
        })
    }
}

/// The subscription of each webhook account: optional for the default one, required for each
/// account `INTEG_SQUARE_WEBHOOK_ACCOUNTS` names.
fn webhooks(env: &Env) -> Result<Vec<(String, SquareWebhook)>, ConfigError> {
    let mut found = Vec::new();
    for account in integ_core::webhook::accounts(env, "INTEG_SQUARE")? {
        let (key, url) = (account.key(SIGNATURE_KEY), account.key(WEBHOOK_URL));
        match webhook(env, &key, &url)? {
            Some(webhook) => found.push((account.name, webhook)),
            None if account.is_default() => {}
            None => {
                return Err(ConfigError::new(
                    &key,
                    "is required: INTEG_SQUARE_WEBHOOK_ACCOUNTS names this account",
                ));
            }
        }
    }
    Ok(found)
}

fn webhook(
    env: &Env,
    key_name: &str,
    url_name: &str,
) -> Result<Option<SquareWebhook>, ConfigError> {
    let key = env.secret(key_name)?;
    let url = env.optional_url(url_name)?;
    match (key, url) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            url_name,
            format!("is required with {key_name}: the notification URL as registered with Square"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            key_name,
            format!("is required with {url_name}, or unset both"),
        )),
        (Some(signature_key), Some(url)) => Ok(Some(SquareWebhook {
            signature_key,
            notification_url: env
                .get(url_name)
                .map(str::trim)
                .unwrap_or(url.as_str())
                .to_owned(),
        })),
    }
}

/// `YYYY-MM-DD`, a real calendar date.
fn is_date(v: &str) -> bool {
    integ_core::time::parse_date(v).is_some()
}

fn is_location(id: &str) -> bool {
    !id.is_empty() && id.len() <= 50 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CANARY: &str = "EAAAl_canary_9xQ2-token";

    fn env(pairs: &[(&str, &str)]) -> Env {
        let base = [(TOKEN, CANARY), (LOCATION, "L88917AVBK2S5")];
        let mut env = Env::from_pairs(base);
        for (k, v) in pairs {
            env.set(*k, *v);
        }
        env
    }

    #[test]
    fn defaults_and_the_webhook_subscription() {
        let c = SquareConfig::from_env(&env(&[])).unwrap();
        assert_eq!(c.base_url.as_str(), "https://connect.squareup.com/");
        assert_eq!(
            (c.api_version.as_str(), c.location_id.as_str()),
            (API_VERSION, "L88917AVBK2S5")
        );
        assert!(c.webhooks.is_empty());
        let c = SquareConfig::from_env(&env(&[
            (SIGNATURE_KEY, "canary_old,canary_new"),
            (WEBHOOK_URL, "https://hooks.example.com/webhooks/square"),
            (VERSION, "2024-10-17"),
            (
                "INTEG_SQUARE_BASE_URL",
                "https://connect.squareupsandbox.com",
            ),
        ]))
        .unwrap();
        let (account, webhook) = c.webhooks[0].clone();
        assert_eq!(account, "");
        assert_eq!(
            webhook.notification_url, "https://hooks.example.com/webhooks/square",
            "kept byte for byte, without a trailing slash added"
        );
        assert!(!format!("{c:?}").contains("canary"));
    }

    #[test]
    fn bad_values_name_the_key_and_never_echo_a_secret() {
        let err = SquareConfig::from_env(&Env::default()).unwrap_err();
        assert_eq!(err.key, TOKEN);
        let err = SquareConfig::from_env(&env(&[(TOKEN, "has canary space")])).unwrap_err();
        assert_eq!(err.key, TOKEN);
        assert!(!err.to_string().contains("canary"));
        let err = SquareConfig::from_env(&Env::from_pairs([(TOKEN, CANARY)])).unwrap_err();
        assert_eq!(err.key, LOCATION);
        let err = SquareConfig::from_env(&env(&[(SIGNATURE_KEY, "canary_key")])).unwrap_err();
        assert_eq!(err.key, WEBHOOK_URL);
        assert!(!err.to_string().contains("canary"));
        for (key, value) in [
            (VERSION, "latest"),
            (VERSION, "2025-02-30"),
            (LOCATION, "L8/../x"),
            ("INTEG_SQUARE_BASE_URL", "connect.squareup.com"),
            (WEBHOOK_URL, "/webhooks/square"),
        ] {
            let err = SquareConfig::from_env(&env(&[(key, value)])).unwrap_err();
            assert_eq!(err.key, key, "{value}");
        }
        let err = SquareConfig::from_env(&env(&[(
            WEBHOOK_URL,
            "https://hooks.example.com/webhooks/square",
        )]))
        .unwrap_err();
        assert_eq!(err.key, SIGNATURE_KEY);
    }
}
