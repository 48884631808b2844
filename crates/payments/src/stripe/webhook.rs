//! Stripe's webhook events in our normalised types.
//!
//! The signature is checked before this runs (`integ_core::webhook::stripe::StripeScheme`);
//! here the verified payload is only read. The event id is Stripe's `id` (redeliveries share
//! it), the resource is `data.object` (its `id`, and its kind from `object`), and the time is
//! `created`.
//!
//! | Stripe type | ours |
//! |---|---|
//! | `payment_intent.succeeded` | `payment.succeeded` |
//! | `payment_intent.payment_failed` | `payment.failed` |
//! | `payment_intent.canceled` | `payment.canceled` |
//! | `payment_intent.amount_capturable_updated` | `payment.authorized` |
//! | `charge.refunded` | `payment.refunded` |
//! | `refund.failed`, `charge.refund.updated` with status `failed` | `refund.failed` |
//! | `charge.dispute.created` | `dispute.opened` |
//! | `customer.subscription.created` | `subscription.created` |
//! | `customer.subscription.updated` | `subscription.updated` |
//! | `customer.subscription.deleted` | `subscription.canceled` |
//! | `payout.paid` / `.failed` | `payout.paid` / `.failed` |
//! | anything else | `stripe.<type>`, so a consumer can still filter on the `stripe.` prefix |
//!
//! Resource kinds are ours where we have one (`payment_intent` is `payment`, `payout` is
//! `payout`); other objects keep Stripe's name prefixed with `stripe.`. A charge that belongs
//! to a PaymentIntent stands for that payment, so `payment.refunded` names the payment as it
//! does from the sandbox.

use axum::http::HeaderMap;
use integ_core::webhook::{Normaliser, Parsed};

use super::wire::StripeEvent;

/// Reads Stripe event payloads.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripeEvents;

impl Normaliser for StripeEvents {
    fn parse(&self, _headers: &HeaderMap, body: &[u8]) -> Option<Parsed> {
        let event: StripeEvent = serde_json::from_slice(body).ok()?;
        if event.id.is_empty() || event.kind.is_empty() {
            return None;
        }
        let object = &event.data.object;
        let (kind, id) = match (object.object.as_str(), &object.payment_intent) {
            ("charge", Some(pi)) => ("payment".to_owned(), pi.clone()),
            (kind, _) => (resource_kind(kind), object.id.clone()),
        };
        Some(Parsed {
            event_type: event_type(&event.kind, object.status.as_deref()),
            resource_kind: kind,
            resource_provider_id: id,
            occur_ms: event.created.saturating_mul(1000),
            provider_type: event.kind,
            provider_event_id: event.id,
        })
    }
}

/// Our type for Stripe's `kind`; `status` is the object's, for types that depend on it.
pub fn event_type(kind: &str, status: Option<&str>) -> String {
    let ours = match (kind, status) {
        ("payment_intent.succeeded", _) => "payment.succeeded",
        ("payment_intent.payment_failed", _) => "payment.failed",
        ("payment_intent.canceled", _) => "payment.canceled",
        ("payment_intent.amount_capturable_updated", _) => "payment.authorized",
        ("charge.refunded", _) => "payment.refunded",
        ("refund.failed", _) | ("charge.refund.updated", Some("failed")) => "refund.failed",
        ("charge.dispute.created", _) => "dispute.opened",
        ("customer.subscription.created", _) => "subscription.created",
        ("customer.subscription.updated", _) => "subscription.updated",
        ("customer.subscription.deleted", _) => "subscription.canceled",
        ("payout.paid", _) => "payout.paid",
        ("payout.failed", _) => "payout.failed",
        _ => return format!("stripe.{kind}"),
    };
    ours.to_owned()
}

fn resource_kind(object: &str) -> String {
    match object {
        "payment_intent" => "payment".to_owned(),
        "refund" | "customer" | "subscription" | "payout" => object.to_owned(),
        "" => String::new(),
        other => format!("stripe.{other}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Option<Parsed> {
        StripeEvents.parse(&HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn a_payment_event_is_normalised() {
        let p = parse(
            r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,
                "data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":100}}}"#,
        )
        .unwrap();
        assert_eq!(
            p,
            Parsed {
                provider_event_id: "evt_1".into(),
                provider_type: "payment_intent.succeeded".into(),
                event_type: "payment.succeeded".into(),
                resource_kind: "payment".into(),
                resource_provider_id: "pi_1".into(),
                occur_ms: 1_700_000_000_000,
            }
        );
    }

    #[test]
    fn types_map_and_unknown_ones_pass_through_prefixed() {
        assert_eq!(
            event_type("charge.refund.updated", Some("failed")),
            "refund.failed"
        );
        assert_eq!(
            event_type("charge.refund.updated", Some("succeeded")),
            "stripe.charge.refund.updated"
        );
        assert_eq!(
            event_type("customer.subscription.deleted", None),
            "subscription.canceled"
        );
        assert_eq!(event_type("charge.dispute.created", None), "dispute.opened");
        assert_eq!(event_type("invoice.paid", None), "stripe.invoice.paid");
        let p = parse(
            r#"{"id":"evt_2","type":"charge.refunded","created":1,"data":{"object":{"id":"ch_1","object":"charge"}}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.event_type.as_str(), p.resource_kind.as_str()),
            ("payment.refunded", "stripe.charge")
        );
        let p = parse(
            r#"{"id":"evt_3","type":"charge.refunded","created":1,
                "data":{"object":{"id":"ch_1","object":"charge","payment_intent":"pi_9"}}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.resource_kind.as_str(), p.resource_provider_id.as_str()),
            ("payment", "pi_9")
        );
    }

    #[test]
    fn payloads_without_an_id_or_type_are_refused() {
        assert!(parse("not json").is_none());
        assert!(parse(r#"{"type":"payment_intent.succeeded"}"#).is_none());
        assert!(parse(r#"{"id":"evt_4"}"#).is_none());
    }
}
