//! Webhooks: providers' signed notifications, received on `POST /webhooks/{provider}` (or
//! `/webhooks/{provider}/{account}` for a provider with several accounts).
//!
//! Each request is checked in this order, and nothing slow runs before the answer:
//! 1. the provider (and account) is known, else 404;
//! 2. the body is read up to the configured limit, else 413;
//! 3. the signature is verified on the raw bytes, in constant time, with the timestamp
//!    window where the scheme has one; every failure gets the same 400 body (503 when the
//!    provider's verification service, which only PayPal's scheme needs, cannot answer);
//! 4. the payload is normalised (provider event id, type, resource);
//! 5. the event is handed to the [`Inbox`](crate::events::inbox::Inbox) and the answer (200,
//!    also for a duplicate) waits for the durable commit; a store failure is 503, so the
//!    provider sends it again.
//!
//! The raw payload is never logged; rejections are counted by reason.
//!
//! A provider with several accounts (two Stripe accounts, two Square subscriptions) names them
//! in `INTEG_<PROVIDER>_WEBHOOK_ACCOUNTS`; see [`accounts`]. Each event records its account.

pub mod sandbox;
pub mod scheme;
pub mod square;
pub mod standard;
pub mod stripe;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::config::{ConfigError, Env};
use crate::events::NewEvent;
use crate::events::inbox::{Inbox, Stored};
use scheme::{Inbound, Rejection, Scheme};

/// What a normaliser reads out of a verified payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The provider's id of the event.
    pub provider_event_id: String,
    /// The provider's type.
    pub provider_type: String,
    /// Our normalised type.
    pub event_type: String,
    /// The kind of resource it concerns.
    pub resource_kind: String,
    /// The provider's id of that resource.
    pub resource_provider_id: String,
    /// When it happened, in ms since the epoch.
    pub occur_ms: i64,
}

/// Reads a provider's payload into a [`Parsed`]; `None` when it is not an event we can use.
pub trait Normaliser: Send + Sync {
    /// Parses a verified request.
    fn parse(&self, headers: &HeaderMap, body: &[u8]) -> Option<Parsed>;
}

/// How one provider account's webhooks are verified and read.
pub struct Source {
    /// The signature scheme, with its secrets.
    pub scheme: Box<dyn Scheme>,
    /// Reads verified payloads.
    pub normaliser: Box<dyn Normaliser>,
    /// The public URL the provider posts to, for schemes that sign it (Square, Twilio).
    pub notification_url: String,
}

/// The webhook sources of one adapter, by provider and account ("" is the default account).
#[derive(Default)]
pub struct Webhooks {
    sources: HashMap<(String, String), Source>,
}

impl Webhooks {
    /// No sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the source of `provider`'s `account` ("" for the default one).
    pub fn add(&mut self, provider: &str, account: &str, source: Source) {
        self.sources
            .insert((provider.to_owned(), account.to_owned()), source);
    }

    /// Whether any source is configured for `provider`.
    pub fn knows(&self, provider: &str) -> bool {
        self.sources.keys().any(|(p, _)| p == provider)
    }
}

/// One account of a provider whose webhooks arrive at a path of their own: the default account
/// at `/webhooks/{provider}`, and each account named in `INTEG_<PROVIDER>_WEBHOOK_ACCOUNTS` at
/// `/webhooks/{provider}/{account}`, with its own webhook settings (keys ending `_<ACCOUNT>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's name in the path and in events ("" for the default account).
    pub name: String,
    suffix: String,
}

impl Account {
    /// The default account.
    pub fn default_account() -> Self {
        Self {
            name: String::new(),
            suffix: String::new(),
        }
    }

    /// The key of setting `base` for this account: `base` for the default account,
    /// `base_EU` for the account `eu` (`-` becomes `_`).
    pub fn key(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    /// Whether this is the default account, whose webhook settings are optional.
    pub fn is_default(&self) -> bool {
        self.name.is_empty()
    }
}

/// The default account and those named in `<prefix>_WEBHOOK_ACCOUNTS` (comma-separated names
/// of 1 to 32 of `a-z 0-9 -`, starting with a letter or digit), in that order.
pub fn accounts(env: &Env, prefix: &str) -> Result<Vec<Account>, ConfigError> {
    let key = format!("{prefix}_WEBHOOK_ACCOUNTS");
    let mut accounts = vec![Account::default_account()];
    for name in env.list(&key, &[]) {
        let valid = name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(ConfigError::new(
                &key,
                "must list account names of 1 to 32 of a-z, 0-9 and -",
            ));
        }
        if accounts.iter().any(|a| a.name == name) {
            return Err(ConfigError::new(&key, format!("names {name:?} twice")));
        }
        let suffix = format!("_{}", name.to_ascii_uppercase().replace('-', "_"));
        accounts.push(Account { name, suffix });
    }
    Ok(accounts)
}

/// One generic body for every rejected signature, so that nothing tells which check failed.
const REJECTED: &str = "invalid webhook request\n";

struct Ingest {
    webhooks: Webhooks,
    inbox: Inbox,
    max_body: usize,
}

/// The webhook routes, storing accepted events through `inbox`.
pub fn router(webhooks: Webhooks, inbox: Inbox, max_body: usize) -> axum::Router {
    let state = Arc::new(Ingest {
        webhooks,
        inbox,
        max_body,
    });
    axum::Router::new()
        .route("/webhooks/{provider}", post(default_account))
        .route("/webhooks/{provider}/{account}", post(named_account))
        .with_state(state)
}

async fn default_account(
    State(ingest): State<Arc<Ingest>>,
    Path(provider): Path<String>,
    request: Request,
) -> Response {
    receive(&ingest, provider, String::new(), request).await
}

async fn named_account(
    State(ingest): State<Arc<Ingest>>,
    Path((provider, account)): Path<(String, String)>,
    request: Request,
) -> Response {
    receive(&ingest, provider, account, request).await
}

fn rejected(provider: &str, reason: &'static str) {
    metrics::counter!("integ_webhook_rejected_total", "provider" => provider.to_owned(), "reason" => reason).increment(1);
}

async fn receive(ingest: &Ingest, provider: String, account: String, request: Request) -> Response {
    let Some(source) = ingest
        .webhooks
        .sources
        .get(&(provider.clone(), account.clone()))
    else {
        rejected("unknown", "unknown_provider");
        return StatusCode::NOT_FOUND.into_response();
    };
    metrics::counter!("integ_webhook_received_total", "provider" => provider.clone()).increment(1);
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(Body::new(body), ingest.max_body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            rejected(&provider, "too_large");
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        }
    };
    let inbound = Inbound {
        headers: &parts.headers,
        body: &body,
        url: &source.notification_url,
        now: SystemTime::now(),
    };
    let verdict = match source.scheme.verify(&inbound) {
        Ok(()) => source.scheme.confirm(&inbound).await,
        Err(rejection) => Err(rejection),
    };
    if let Err(rejection) = verdict {
        rejected(&provider, rejection.reason());
        tracing::info!(
            provider,
            account,
            reason = rejection.reason(),
            "webhook rejected"
        );
        let status = match rejection {
            Rejection::Unverifiable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        return (status, REJECTED).into_response();
    }
    let Some(parsed) = source.normaliser.parse(&parts.headers, &body) else {
        rejected(&provider, "unparseable");
        return (StatusCode::BAD_REQUEST, REJECTED).into_response();
    };
    let event = NewEvent {
        provider: provider.clone(),
        account,
        provider_event_id: parsed.provider_event_id,
        event_type: parsed.event_type,
        provider_type: parsed.provider_type,
        resource_kind: parsed.resource_kind,
        resource_provider_id: parsed.resource_provider_id,
        occur_ms: parsed.occur_ms,
        payload: body.to_vec(),
    };
    match ingest.inbox.submit(event).await {
        Ok(Stored::New(id)) => {
            tracing::info!(provider, event_id = %id, "webhook stored");
            StatusCode::OK.into_response()
        }
        Ok(Stored::Duplicate(id)) => {
            tracing::info!(provider, event_id = %id, "webhook duplicate absorbed");
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::error!(
                provider,
                reason = e.kind.reason(),
                "webhook could not be stored; the provider will send it again"
            );
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_the_default_one_and_those_listed() {
        let env = Env::from_pairs([("INTEG_STRIPE_WEBHOOK_ACCOUNTS", "eu, us-east")]);
        let accounts = accounts(&env, "INTEG_STRIPE").unwrap();
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["", "eu", "us-east"]);
        assert!(accounts[0].is_default() && !accounts[1].is_default());
        assert_eq!(
            accounts[0].key("INTEG_STRIPE_WEBHOOK_SECRET"),
            "INTEG_STRIPE_WEBHOOK_SECRET"
        );
        assert_eq!(
            accounts[2].key("INTEG_STRIPE_WEBHOOK_SECRET"),
            "INTEG_STRIPE_WEBHOOK_SECRET_US_EAST"
        );
        let none = crate::webhook::accounts(&Env::default(), "INTEG_STRIPE").unwrap();
        assert_eq!(none, [Account::default_account()]);
    }

    #[test]
    fn bad_account_lists_name_the_key() {
        for bad in ["eu,eu", "-eu", "a/b", &"x".repeat(33)] {
            let env = Env::from_pairs([("INTEG_SQUARE_WEBHOOK_ACCOUNTS", bad)]);
            let err = accounts(&env, "INTEG_SQUARE").unwrap_err();
            assert_eq!(err.key, "INTEG_SQUARE_WEBHOOK_ACCOUNTS", "{bad}");
        }
    }
}
