//! Square's webhook events in our normalised types.
//!
//! The signature is checked before this runs (`integ_core::webhook::square::SquareScheme`,
//! over the notification URL and the raw body); here the verified payload is only read. An
//! event is `{merchant_id, type, event_id, created_at, data: {type, id, object: {<type>:
//! {…}}}}`: the event id is `event_id` (redeliveries share it), the time is `created_at`, and
//! the resource is `data` (its `id`, and its kind from `data.type`).
//!
//! | Square type | ours |
//! |---|---|
//! | `payment.created` / `.updated`, status `COMPLETED` | `payment.succeeded` |
//! | the same, status `FAILED` | `payment.failed` |
//! | the same, status `CANCELED` | `payment.canceled` |
//! | the same, status `APPROVED` | `payment.authorized` |
//! | `refund.created` / `.updated`, status `COMPLETED` | `payment.refunded`, about the payment |
//! | the same, status `FAILED` or `REJECTED` | `refund.failed` |
//! | `dispute.created` | `dispute.opened` |
//! | `subscription.created` | `subscription.created` |
//! | `subscription.updated` | `subscription.updated`, or `subscription.canceled` once `CANCELED` |
//! | `payout.paid` / `.failed` | `payout.paid` / `.failed` |
//! | anything else (other statuses too) | `square.<type>`, so a consumer can filter on `square.` |
//!
//! Resource kinds are ours where we have one (`payment`, `refund`, `subscription`,
//! `customer`, `payout`); other objects keep Square's name prefixed with `square.`. A
//! completed refund stands for its payment, so `payment.refunded` names the payment as it does
//! from the other providers.
//!
//! What it does not do: read the object's other fields, or trust anything before the
//! signature passed. A payload without `event_id`, `type` or a readable `created_at` is refused.

use axum::http::HeaderMap;
use integ_core::time::parse_rfc3339;
use integ_core::webhook::{Normaliser, Parsed};

use super::wire::{SquareEvent, SquareEventObject};

/// Reads Square event payloads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SquareEvents;

impl Normaliser for SquareEvents {
    fn parse(&self, _headers: &HeaderMap, body: &[u8]) -> Option<Parsed> {
        let event: SquareEvent = serde_json::from_slice(body).ok()?;
        if event.event_id.is_empty() || event.kind.is_empty() {
            return None;
        }
        let occur_ms = parse_rfc3339(&event.created_at)?;

        let data = &event.data;
        let object = object_of(&event);
        let ours = event_type(&event.kind, object.status.as_deref());
        let (kind, id) = match (ours.as_str(), &object.payment_id) {
            ("payment.refunded", Some(payment)) => ("payment".to_owned(), payment.clone()),
            _ => (resource_kind(&data.kind), data.id.clone()),
        };

        Some(Parsed {
            event_type: ours,
            resource_kind: kind,
            resource_provider_id: id,
            occur_ms,
            provider_type: event.kind,
            provider_event_id: event.event_id,
        })
    }
}

/// The fields the mapping reads of `data.object.<data.type>`; empty when absent.
fn object_of(event: &SquareEvent) -> SquareEventObject {
    event
        .data
        .object
        .get(&event.data.kind)
        .and_then(|o| serde_json::from_value(o.clone()).ok())
        .unwrap_or_default()
}

/// Our type for Square's `kind`; `status` is the object's, for types that depend on it.
pub fn event_type(kind: &str, status: Option<&str>) -> String {
    let ours = match (kind, status) {
        ("payment.created" | "payment.updated", Some("COMPLETED")) => "payment.succeeded",
        ("payment.created" | "payment.updated", Some("FAILED")) => "payment.failed",
        ("payment.created" | "payment.updated", Some("CANCELED")) => "payment.canceled",
        ("payment.created" | "payment.updated", Some("APPROVED")) => "payment.authorized",
        ("refund.created" | "refund.updated", Some("COMPLETED")) => "payment.refunded",
        ("refund.created" | "refund.updated", Some("FAILED" | "REJECTED")) => "refund.failed",
        ("dispute.created", _) => "dispute.opened",
        ("subscription.created", _) => "subscription.created",
        ("subscription.updated", Some("CANCELED")) => "subscription.canceled",
        ("subscription.updated", _) => "subscription.updated",
        ("payout.paid", _) => "payout.paid",
        ("payout.failed", _) => "payout.failed",
        _ => return format!("square.{kind}"),
    };
    ours.to_owned()
}

fn resource_kind(kind: &str) -> String {
    match kind {
        "payment" | "refund" | "customer" | "subscription" | "payout" => kind.to_owned(),
        "" => String::new(),
        other => format!("square.{other}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Option<Parsed> {
        SquareEvents.parse(&HeaderMap::new(), body.as_bytes())
    }

    fn event(kind: &str, data_type: &str, id: &str, object: &str) -> String {
        format!(
            r#"{{"merchant_id":"ML1","type":"{kind}",
                "event_id":"6a8f5f28-54a1-4eb0-a98a-3111513fd4fc",
                "created_at":"2023-11-14T22:13:20.000Z",
                "data":{{"type":"{data_type}","id":"{id}","object":{{"{data_type}":{object}}}}}}}"#
        )
    }

    #[test]
    fn a_payment_event_is_normalised_by_its_status() {
        let p = parse(&event(
            "payment.updated",
            "payment",
            "P1",
            r#"{"id":"P1","status":"COMPLETED","amount_money":{"amount":100,"currency":"USD"}}"#,
        ))
        .unwrap();
        assert_eq!(
            p,
            Parsed {
                provider_event_id: "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc".into(),
                provider_type: "payment.updated".into(),
                event_type: "payment.succeeded".into(),
                resource_kind: "payment".into(),
                resource_provider_id: "P1".into(),
                occur_ms: 1_700_000_000_000,
            }
        );
        for (status, ours) in [
            ("FAILED", "payment.failed"),
            ("CANCELED", "payment.canceled"),
            ("APPROVED", "payment.authorized"),
            ("PENDING", "square.payment.created"),
        ] {
            assert_eq!(event_type("payment.created", Some(status)), ours);
        }
    }

    #[test]
    fn a_completed_refund_is_about_its_payment() {
        let p = parse(&event(
            "refund.updated",
            "refund",
            "R1",
            r#"{"id":"R1","status":"COMPLETED","payment_id":"P9"}"#,
        ))
        .unwrap();
        assert_eq!(
            (
                p.event_type.as_str(),
                p.resource_kind.as_str(),
                p.resource_provider_id.as_str()
            ),
            ("payment.refunded", "payment", "P9")
        );
        let p = parse(&event(
            "refund.updated",
            "refund",
            "R2",
            r#"{"id":"R2","status":"REJECTED","payment_id":"P9"}"#,
        ))
        .unwrap();
        assert_eq!(
            (
                p.event_type.as_str(),
                p.resource_kind.as_str(),
                p.resource_provider_id.as_str()
            ),
            ("refund.failed", "refund", "R2")
        );
        let p = parse(&event(
            "refund.created",
            "refund",
            "R3",
            r#"{"status":"PENDING"}"#,
        ))
        .unwrap();
        assert_eq!(p.event_type, "square.refund.created");
    }

    #[test]
    fn other_types_map_or_pass_through_prefixed() {
        let p = parse(&event(
            "dispute.created",
            "dispute",
            "D1",
            r#"{"state":"INQUIRY_EVIDENCE_REQUIRED"}"#,
        ))
        .unwrap();
        assert_eq!(
            (p.event_type.as_str(), p.resource_kind.as_str()),
            ("dispute.opened", "square.dispute")
        );
        let p = parse(&event(
            "subscription.updated",
            "subscription",
            "S1",
            r#"{"status":"CANCELED"}"#,
        ))
        .unwrap();
        assert_eq!(
            (p.event_type.as_str(), p.resource_kind.as_str()),
            ("subscription.canceled", "subscription")
        );
        assert_eq!(
            event_type("subscription.updated", Some("ACTIVE")),
            "subscription.updated"
        );
        assert_eq!(
            event_type("subscription.created", None),
            "subscription.created"
        );
        assert_eq!(event_type("payout.paid", None), "payout.paid");
        assert_eq!(event_type("payout.failed", None), "payout.failed");
        let p = parse(&event("customer.created", "customer", "C1", "{}")).unwrap();
        assert_eq!(
            (p.event_type.as_str(), p.resource_kind.as_str()),
            ("square.customer.created", "customer")
        );
    }

    #[test]
    fn payloads_without_an_id_type_or_time_are_refused() {
        assert!(parse("not json").is_none());
        assert!(
            parse(r#"{"type":"payment.updated","created_at":"2023-11-14T22:13:20Z"}"#).is_none()
        );
        assert!(parse(r#"{"event_id":"e1","created_at":"2023-11-14T22:13:20Z"}"#).is_none());
        assert!(parse(r#"{"event_id":"e1","type":"payment.updated"}"#).is_none());
        let odd = r#"{"event_id":"e1","type":"payment.updated","created_at":"2023-11-14T22:13:20Z",
            "data":{"type":"payment","id":"P1","object":{"payment":"not an object"}}}"#;
        assert_eq!(parse(odd).unwrap().event_type, "square.payment.updated");
    }
}
