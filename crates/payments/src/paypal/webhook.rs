//! PayPal's webhooks: how their signatures are checked, and their events in our types.
//!
//! # Signatures
//! PayPal signs `transmission_id|transmission_time|webhook_id|crc32(body)` with a key whose
//! certificate it names in `PAYPAL-CERT-URL`. We do not fetch certificates: PayPal's
//! `verify-webhook-signature` API checks the signature for us, given the five
//! `PAYPAL-*` headers, our webhook id (configuration) and the event exactly as it arrived.
//! Before asking, [`PaypalScheme::verify`] checks locally what it can: the headers are there
//! and the transmission time is within the tolerance of our clock, either way. The answer is
//! cached by a digest of everything PayPal judged, so that a redelivery of the same
//! transmission is not sent to PayPal twice, and a forgery that reuses a real transmission id
//! cannot poison the cache. When the API fails or does not answer, the webhook is refused with
//! 503, so PayPal delivers it again.
//!
//! # Events
//! The event id is PayPal's `id` (redeliveries share it), the time its `create_time`.
//!
//! | PayPal type | ours | resource |
//! |---|---|---|
//! | `CHECKOUT.ORDER.APPROVED` | `payment.authorized` (ready for CapturePayment) | the order |
//! | `PAYMENT.AUTHORIZATION.CREATED` | `payment.authorized` | its order |
//! | `PAYMENT.AUTHORIZATION.VOIDED` | `payment.canceled` | its order |
//! | `PAYMENT.CAPTURE.COMPLETED` | `payment.succeeded` | its order |
//! | `PAYMENT.CAPTURE.DENIED`, `.DECLINED` | `payment.failed` | its order |
//! | `PAYMENT.CAPTURE.REFUNDED` | `payment.refunded` | the refund's capture |
//! | `CUSTOMER.DISPUTE.CREATED` | `dispute.opened` | the dispute |
//! | `BILLING.SUBSCRIPTION.CREATED` | `subscription.created` | the subscription |
//! | `BILLING.SUBSCRIPTION.ACTIVATED`, `.UPDATED`, `.SUSPENDED`, `.RE-ACTIVATED` | `subscription.updated` | the subscription |
//! | `BILLING.SUBSCRIPTION.CANCELLED`, `.EXPIRED` | `subscription.canceled` | the subscription |
//! | `PAYMENT.PAYOUTSBATCH.SUCCESS`, `PAYMENT.PAYOUTS-ITEM.SUCCEEDED` | `payout.paid` | the batch |
//! | `PAYMENT.PAYOUTSBATCH.DENIED`, `PAYMENT.PAYOUTS-ITEM.FAILED` (and returned, blocked, denied) | `payout.failed` | the batch |
//! | anything else | `paypal.<type in lower case>` | as PayPal names it |

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use axum::http::HeaderMap;
use integ_core::time::parse_rfc3339;
use integ_core::webhook::scheme::{Inbound, Rejection, Scheme, within};
use integ_core::webhook::{Normaliser, Parsed};
use serde_json::Value;

use super::client::{PaypalClient, VerifyFields};
use super::wire::PaypalEvent;

const ID: &str = "paypal-transmission-id";
const TIME: &str = "paypal-transmission-time";
const SIG: &str = "paypal-transmission-sig";
const CERT: &str = "paypal-cert-url";
const ALGO: &str = "paypal-auth-algo";

/// How long PayPal's verdict on one transmission is kept.
const CACHE_FOR: Duration = Duration::from_secs(3600);

/// At most this many verdicts are kept; the oldest go first.
const CACHE_MAX: usize = 10_000;

/// How long a verification call may take before the webhook is refused with 503.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Verifies PayPal's webhooks for one webhook id through PayPal's API.
pub struct PaypalScheme {
    client: Arc<PaypalClient>,
    webhook_id: String,
    tolerance: Duration,
    verdicts: Mutex<HashMap<[u8; 32], (bool, Instant)>>,
}

impl PaypalScheme {
    /// A verifier asking PayPal through `client` about webhooks sent to `webhook_id`, with
    /// transmission times accepted within `tolerance` of our clock either way.
    pub fn new(client: Arc<PaypalClient>, webhook_id: String, tolerance: Duration) -> Self {
        Self {
            client,
            webhook_id,
            tolerance,
            verdicts: Mutex::new(HashMap::new()),
        }
    }

    fn fields<'a>(&'a self, inbound: &Inbound<'a>) -> Result<VerifyFields<'a>, Rejection> {
        Ok(VerifyFields {
            auth_algo: inbound.header(&[ALGO])?,
            cert_url: inbound.header(&[CERT])?,
            transmission_id: inbound.header(&[ID])?,
            transmission_sig: inbound.header(&[SIG])?,
            transmission_time: inbound.header(&[TIME])?,
            webhook_id: &self.webhook_id,
        })
    }

    fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        let verdicts = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
        verdicts
            .get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_FOR)
            .map(|(ok, _)| *ok)
    }

    fn remember(&self, key: [u8; 32], ok: bool) {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
        if verdicts.len() >= CACHE_MAX {
            verdicts.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
        }
        if verdicts.len() >= CACHE_MAX {
            let oldest = verdicts
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                verdicts.remove(&oldest);
            }
        }
        verdicts.insert(key, (ok, Instant::now()));
    }
}

/// A digest of everything PayPal judges: the headers, our webhook id and the body.
fn cache_key(fields: &VerifyFields<'_>, body: &[u8]) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in [
        fields.auth_algo,
        fields.cert_url,
        fields.transmission_id,
        fields.transmission_sig,
        fields.transmission_time,
        fields.webhook_id,
    ] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    context.update(body);
    let mut key = [0; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

#[async_trait::async_trait]
impl Scheme for PaypalScheme {
    fn verify(&self, inbound: &Inbound<'_>) -> Result<(), Rejection> {
        let fields = self.fields(inbound)?;
        let sent = parse_rfc3339(fields.transmission_time).ok_or(Rejection::Malformed)?;
        if !within(inbound.now, sent.div_euclid(1000), self.tolerance) {
            return Err(Rejection::StaleTimestamp);
        }
        match serde_json::from_slice::<Value>(inbound.body) {
            Ok(Value::Object(_)) => Ok(()),
            _ => Err(Rejection::Malformed),
        }
    }

    async fn confirm(&self, inbound: &Inbound<'_>) -> Result<(), Rejection> {
        let fields = self.fields(inbound)?;
        let key = cache_key(&fields, inbound.body);
        let ok = match self.cached(&key) {
            Some(ok) => ok,
            None => {
                let asked = self.client.verify_webhook(&fields, inbound.body);
                let ok = match tokio::time::timeout(VERIFY_TIMEOUT, asked).await {
                    Ok(Ok(ok)) => ok,
                    Ok(Err(error)) => {
                        tracing::warn!(
                            reason = error.kind.reason(),
                            code = error.provider_code.as_deref().unwrap_or_default(),
                            "paypal could not verify a webhook; it will be sent again"
                        );
                        return Err(Rejection::Unverifiable);
                    }
                    Err(_) => {
                        tracing::warn!("paypal's webhook verification timed out");
                        return Err(Rejection::Unverifiable);
                    }
                };
                self.remember(key, ok);
                ok
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }
}

/// Reads PayPal event payloads.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaypalEvents;

impl Normaliser for PaypalEvents {
    fn parse(&self, _headers: &HeaderMap, body: &[u8]) -> Option<Parsed> {
        let event: PaypalEvent = serde_json::from_slice(body).ok()?;
        if event.id.is_empty() || event.event_type.is_empty() {
            return None;
        }
        let (kind, id) = resource(&event);
        Some(Parsed {
            event_type: event_type(&event.event_type),
            resource_kind: kind,
            resource_provider_id: id,
            occur_ms: event
                .create_time
                .as_deref()
                .and_then(parse_rfc3339)
                .unwrap_or_default(),
            provider_type: event.event_type,
            provider_event_id: event.id,
        })
    }
}

/// Our type for PayPal's.
pub fn event_type(kind: &str) -> String {
    let ours = match kind {
        "CHECKOUT.ORDER.APPROVED" | "PAYMENT.AUTHORIZATION.CREATED" => "payment.authorized",
        "PAYMENT.AUTHORIZATION.VOIDED" => "payment.canceled",
        "PAYMENT.CAPTURE.COMPLETED" => "payment.succeeded",
        "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED" => "payment.failed",
        "PAYMENT.CAPTURE.REFUNDED" => "payment.refunded",
        "CUSTOMER.DISPUTE.CREATED" => "dispute.opened",
        "BILLING.SUBSCRIPTION.CREATED" => "subscription.created",
        "BILLING.SUBSCRIPTION.ACTIVATED"
        | "BILLING.SUBSCRIPTION.UPDATED"
        | "BILLING.SUBSCRIPTION.SUSPENDED"
        | "BILLING.SUBSCRIPTION.RE-ACTIVATED" => "subscription.updated",
        "BILLING.SUBSCRIPTION.CANCELLED" | "BILLING.SUBSCRIPTION.EXPIRED" => {
            "subscription.canceled"
        }
        "PAYMENT.PAYOUTSBATCH.SUCCESS" | "PAYMENT.PAYOUTS-ITEM.SUCCEEDED" => "payout.paid",
        "PAYMENT.PAYOUTSBATCH.DENIED"
        | "PAYMENT.PAYOUTS-ITEM.FAILED"
        | "PAYMENT.PAYOUTS-ITEM.RETURNED"
        | "PAYMENT.PAYOUTS-ITEM.BLOCKED"
        | "PAYMENT.PAYOUTS-ITEM.DENIED" => "payout.failed",
        _ => return format!("paypal.{}", kind.to_ascii_lowercase()),
    };
    ours.to_owned()
}

/// The resource an event concerns: our kind where we have one, and PayPal's id of it.
fn resource(event: &PaypalEvent) -> (String, String) {
    let r = &event.resource;
    let text = |pointer: &str| {
        r.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let order = text("/supplementary_data/related_ids/order_id");
    let kind = event.resource_type.as_deref().unwrap_or_default();
    match kind {
        "checkout-order" => ("payment".to_owned(), text("/id")),
        "capture" | "authorization" if !order.is_empty() => ("payment".to_owned(), order),
        "refund" => {
            let up = r
                .get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|l| l["rel"] == "up")
                .and_then(|l| l["href"].as_str())
                .and_then(|h| h.rsplit('/').next())
                .unwrap_or_default()
                .to_owned();
            ("paypal.capture".to_owned(), up)
        }
        "subscription" => ("subscription".to_owned(), text("/id")),
        "payouts" => ("payout".to_owned(), text("/batch_header/payout_batch_id")),
        "payouts_item" => ("payout".to_owned(), text("/payout_batch_id")),
        "" => (String::new(), text("/id")),
        other => (format!("paypal.{other}"), text("/id")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Option<Parsed> {
        PaypalEvents.parse(&HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn a_capture_event_is_about_its_order() {
        let p = parse(
            r#"{"id":"WH-58D329510W468432D-8HN650336L201105X","event_type":"PAYMENT.CAPTURE.COMPLETED",
                "create_time":"2019-02-14T21:50:07.940Z","resource_type":"capture",
                "resource":{"id":"42311647XV020574X","status":"COMPLETED",
                "supplementary_data":{"related_ids":{"order_id":"5O190127TN364715T"}}}}"#,
        )
        .unwrap();
        assert_eq!(
            p,
            Parsed {
                provider_event_id: "WH-58D329510W468432D-8HN650336L201105X".into(),
                provider_type: "PAYMENT.CAPTURE.COMPLETED".into(),
                event_type: "payment.succeeded".into(),
                resource_kind: "payment".into(),
                resource_provider_id: "5O190127TN364715T".into(),
                occur_ms: 1_550_181_007_940,
            }
        );
    }

    #[test]
    fn types_map_and_the_rest_pass_through_prefixed() {
        assert_eq!(event_type("CHECKOUT.ORDER.APPROVED"), "payment.authorized");
        assert_eq!(
            event_type("BILLING.SUBSCRIPTION.CANCELLED"),
            "subscription.canceled"
        );
        assert_eq!(event_type("PAYMENT.PAYOUTS-ITEM.FAILED"), "payout.failed");
        assert_eq!(
            event_type("CHECKOUT.ORDER.COMPLETED"),
            "paypal.checkout.order.completed"
        );
        let p = parse(
            r#"{"id":"WH-2","event_type":"PAYMENT.CAPTURE.REFUNDED","resource_type":"refund",
                "resource":{"id":"1JU","links":[{"rel":"up",
                "href":"https://api.paypal.com/v2/payments/captures/2GG279541U471931P"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.resource_kind.as_str(), p.resource_provider_id.as_str()),
            ("paypal.capture", "2GG279541U471931P")
        );
        let p = parse(
            r#"{"id":"WH-3","event_type":"CHECKOUT.ORDER.APPROVED","resource_type":"checkout-order",
                "resource":{"id":"5O1"}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.resource_kind.as_str(), p.resource_provider_id.as_str()),
            ("payment", "5O1")
        );
    }

    #[test]
    fn payloads_without_an_id_or_type_are_refused() {
        assert!(parse("[]").is_none());
        assert!(parse(r#"{"event_type":"PAYMENT.CAPTURE.COMPLETED"}"#).is_none());
        assert!(parse(r#"{"id":"WH-4"}"#).is_none());
    }

    #[test]
    fn the_cache_key_covers_every_judged_part() {
        let fields = VerifyFields {
            auth_algo: "SHA256withRSA",
            cert_url: "https://api.paypal.com/cert",
            transmission_id: "t1",
            transmission_sig: "sig",
            transmission_time: "2024-05-01T12:00:00Z",
            webhook_id: "W1",
        };
        let base = cache_key(&fields, b"{}");
        assert_ne!(base, cache_key(&fields, b"{ }"));
        let forged = VerifyFields {
            transmission_sig: "other",
            ..fields
        };
        assert_ne!(base, cache_key(&forged, b"{}"));
        // Length prefixes keep "ab"+"c" apart from "a"+"bc".
        let shifted = VerifyFields {
            auth_algo: "SHA256withRSAh",
            cert_url: "ttps://api.paypal.com/cert",
            ..fields
        };
        assert_ne!(base, cache_key(&shifted, b"{}"));
    }
}
