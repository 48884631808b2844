//! The sandbox providers' webhooks: signed with the Standard Webhooks scheme and posted to the
//! adapter's own `/webhooks/sandbox`, so that locally the whole path (signature, store,
//! delivery) runs as it does for a real provider.
//!
//! The signing secret is `INTEG_SANDBOX_WEBHOOK_SECRET` (a `whsec_…` value), or a random one
//! made at start-up. An event is posted from a background task and retried a few times; one
//! still not accepted when the process stops is lost (it is a sandbox).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::standard::StandardWebhooks;
use super::{Normaliser, Parsed, Source};
use crate::config::{ConfigError, Env};
use crate::secret::Secret;

/// The sandbox's webhook sender and the matching source to register.
#[derive(Clone)]
pub struct Emitter {
    key: Arc<Vec<u8>>,
    target: Arc<OnceLock<SocketAddr>>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Emitter([redacted])")
    }
}

/// The sandbox's webhook signing secret, read and checked before start-up.
#[derive(Debug, Clone)]
pub struct SandboxWebhook {
    secret: Secret,
    key: Arc<Vec<u8>>,
}

impl SandboxWebhook {
    /// Reads `INTEG_SANDBOX_WEBHOOK_SECRET`, or makes a random secret.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (secret, key) = secret_and_key(env)?;
        Ok(Self {
            secret,
            key: Arc::new(key),
        })
    }

    /// The emitter posting to `target` (filled once the HTTP port is bound) and the source that
    /// verifies what it posts.
    pub fn build(
        &self,
        target: Arc<OnceLock<SocketAddr>>,
        tolerance: Duration,
    ) -> (Emitter, Source) {
        let source = Source {
            scheme: Box::new(StandardWebhooks::new(self.secret.clone(), tolerance)),
            normaliser: Box::new(SandboxEvents),
            notification_url: String::new(),
        };
        (
            Emitter {
                key: self.key.clone(),
                target,
            },
            source,
        )
    }
}

fn secret_and_key(env: &Env) -> Result<(Secret, Vec<u8>), ConfigError> {
    let secret = match env.secret("INTEG_SANDBOX_WEBHOOK_SECRET")? {
        Some(s) => s,
        None => {
            let mut key = [0u8; 24];
            SystemRandom::new()
                .fill(&mut key)
                .map_err(|_| ConfigError::new("INTEG_SANDBOX_WEBHOOK_SECRET", "no randomness"))?;
            Secret::from_env_value(
                "INTEG_SANDBOX_WEBHOOK_SECRET",
                format!("whsec_{}", STANDARD.encode(key)),
            )
            .map_err(|e| ConfigError::new("INTEG_SANDBOX_WEBHOOK_SECRET", e.to_string()))?
        }
    };
    let key = secret
        .with_value(|v| {
            let first = v
                .split([' ', ','])
                .find(|s| !s.is_empty())
                .unwrap_or_default();
            STANDARD.decode(first.trim_start_matches("whsec_"))
        })
        .map_err(|_| {
            ConfigError::new(
                "INTEG_SANDBOX_WEBHOOK_SECRET",
                "must be whsec_ followed by base64",
            )
        })?;
    Ok((secret, key))
}

impl Emitter {
    /// Sends an event of `event_type` about the `kind` object `provider_id`, in the background.
    pub fn emit(&self, event_type: &str, kind: &str, provider_id: &str) {
        let this = self.clone();
        let body = json!({
            "type": event_type,
            "timestamp": unix_now(),
            "data": { "object": kind, "id": provider_id },
        })
        .to_string();
        tokio::spawn(async move { this.deliver(body).await });
    }

    async fn deliver(&self, body: String) {
        let id = crate::ids::new_id("msg");
        let mut delay = Duration::from_millis(100);
        for _ in 0..8 {
            if let Some(addr) = self.target.get() {
                let ts = unix_now().to_string();
                let tag = hmac::sign(
                    &hmac::Key::new(hmac::HMAC_SHA256, &self.key),
                    format!("{id}.{ts}.{body}").as_bytes(),
                );
                let sent = crate::http::client()
                    .post(format!("http://{addr}/webhooks/sandbox"))
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", &ts)
                    .header(
                        "webhook-signature",
                        format!("v1,{}", STANDARD.encode(tag.as_ref())),
                    )
                    .body(body.clone())
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        tracing::warn!("sandbox webhook was not accepted after retries; dropped");
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Reads the sandbox's payloads: `{"type", "timestamp", "data": {"object", "id"}}`, with the
/// event id in the `webhook-id` header.
pub struct SandboxEvents;

impl Normaliser for SandboxEvents {
    fn parse(&self, headers: &HeaderMap, body: &[u8]) -> Option<Parsed> {
        let id = headers
            .get("webhook-id")
            .or_else(|| headers.get("svix-id"))?
            .to_str()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let event_type = v.get("type")?.as_str()?;
        let ts = v
            .get("timestamp")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_else(unix_now);
        let data = v.get("data");
        let text = |k: &str| {
            data.and_then(|d| d.get(k))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Some(Parsed {
            provider_event_id: id.to_owned(),
            provider_type: event_type.to_owned(),
            event_type: event_type.to_owned(),
            resource_kind: text("object"),
            resource_provider_id: text("id"),
            occur_ms: ts.saturating_mul(1000),
        })
    }
}
