//! PayPal's OAuth 2.0 access token (client credentials): fetched on first use, kept until
//! shortly before it expires, and fetched once however many calls wait for it.
//!
//! `POST /v1/oauth2/token` with `grant_type=client_credentials`, form-encoded, and the client
//! id and secret as HTTP Basic credentials. PayPal answers a bearer token and its lifetime
//! (about nine hours). The token is refreshed when five minutes of its life are left (or half
//! of it, for a short-lived one), so that no call goes out with a token about to expire; while
//! a refresh fails, calls keep the old token until it really expires.
//!
//! A call that PayPal answers 401 hands its token back with [`Tokens::invalidate`]: the next
//! call fetches a new one. The token is a secret: `Debug` never shows it, and it goes into a
//! header marked sensitive.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use integ_core::http::{join, sensitive, transport_error};
use integ_core::{Error, Kind, Result};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::NAME;
use super::config::PaypalConfig;
use super::error;
use super::wire::PaypalToken;

/// Refresh when this much of a token's life is left.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A bearer token. Cheap to clone; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// The `Authorization` header value, marked sensitive.
    pub fn header(&self) -> Result<reqwest::header::HeaderValue> {
        sensitive(&format!("Bearer {}", self.0)).map_err(|e| e.with_provider(NAME))
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The token of one PayPal app, shared by every call of the provider.
pub struct Tokens {
    config: PaypalConfig,
    http: reqwest::Client,
    // Held across a fetch, so that calls arriving meanwhile wait for that one fetch.
    current: Mutex<Option<Cached>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").finish_non_exhaustive()
    }
}

impl Tokens {
    /// No token yet; the first call fetches one.
    pub fn new(config: PaypalConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            current: Mutex::new(None),
        }
    }

    /// A token that is good for now.
    pub async fn get(&self) -> Result<AccessToken> {
        let mut slot = self.current.lock().await;
        let now = Instant::now();
        if let Some(cached) = slot.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(cached.token.clone());
        }
        match self.fetch().await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *slot = Some(fresh);
                Ok(token)
            }
            Err(error) => match slot.as_ref().filter(|c| now < c.expires_at) {
                Some(old) => {
                    tracing::warn!(
                        reason = error.kind.reason(),
                        "paypal token refresh failed; the current token is used until it expires"
                    );
                    Ok(old.token.clone())
                }
                None => Err(error),
            },
        }
    }

    /// Forgets `token` after PayPal refused it, unless a newer one replaced it already.
    pub async fn invalidate(&self, token: &AccessToken) {
        let mut slot = self.current.lock().await;
        if slot.as_ref().is_some_and(|c| &c.token == token) {
            *slot = None;
        }
    }

    async fn fetch(&self) -> Result<Cached> {
        let url = join(&self.config.base_url, "/v1/oauth2/token")?;
        let basic = self.config.client_secret.with_value(|secret| {
            let pair = format!("{}:{secret}", self.config.client_id);
            sensitive(&format!("Basic {}", STANDARD.encode(pair)))
        });
        let basic = basic.map_err(|e| e.with_provider(NAME))?;
        let response = self
            .http
            .post(url)
            .header(AUTHORIZATION, basic)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|e| transport_error(NAME, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(NAME, &e))?;
        if !status.is_success() {
            return Err(error::classify_token(status, &headers, &body));
        }
        let token: PaypalToken =
            serde_json::from_slice(&body).map_err(|_| error::unreadable(status))?;
        if token.access_token.is_empty() {
            return Err(
                Error::new(Kind::ProviderError, "paypal answered an empty token")
                    .with_provider(NAME),
            );
        }
        tracing::debug!(expires_in = token.expires_in, "paypal token fetched");
        let life = Duration::from_secs(token.expires_in);
        let margin = REFRESH_MARGIN.min(life / 2);
        let now = Instant::now();
        Ok(Cached {
            token: AccessToken(token.access_token.into()),
            refresh_at: now + life.saturating_sub(margin),
            expires_at: now + life,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_shows_in_debug() {
        let token = AccessToken("A21AAcanary".into());
        assert!(!format!("{token:?}").contains("canary"));
        assert!(!format!("{:?}", token.header()).contains("canary"));
    }
}
