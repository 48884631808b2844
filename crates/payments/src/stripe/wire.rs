//! Stripe's objects as they come over the wire (API version 2023-08-16), with only the fields
//! we read. Unknown fields are ignored and most fields default when absent, so that an object
//! from a newer API version or a trimmed fixture still reads; statuses stay strings and are
//! mapped in `convert.rs`, where an unknown one has a defined meaning.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A field Stripe returns either as an id or, when expanded, as the object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StripeExpandable<T> {
    /// Not expanded: the object's id.
    Id(String),
    /// Expanded.
    Object(Box<T>),
}

/// A PaymentIntent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripePaymentIntent {
    /// `pi_…`.
    pub id: String,
    /// Minor units requested.
    pub amount: i64,
    /// Minor units captured so far.
    pub amount_received: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// `automatic`, `automatic_async` or `manual`.
    pub capture_method: String,
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`, `processing`,
    /// `requires_capture`, `canceled` or `succeeded`.
    pub status: String,
    /// The customer's id.
    pub customer: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// String labels.
    pub metadata: BTreeMap<String, String>,
    /// What the payer must do next.
    pub next_action: Option<StripeNextAction>,
    /// Why the last confirmation failed.
    pub last_payment_error: Option<StripeApiError>,
    /// The charge that moved the money; we expand it to read refunds.
    pub latest_charge: Option<StripeExpandable<StripeCharge>>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds, when canceled.
    pub canceled_at: Option<i64>,
}

/// The next step of a PaymentIntent that requires action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeNextAction {
    /// `redirect_to_url`, `use_stripe_sdk`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Set for `redirect_to_url`.
    pub redirect_to_url: Option<StripeRedirect>,
}

/// Where to send the payer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeRedirect {
    /// The page the payer completes the step on.
    pub url: Option<String>,
}

/// The part of a Charge we read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeCharge {
    /// `ch_…`.
    pub id: String,
    /// Minor units refunded so far.
    pub amount_refunded: i64,
}

/// A Refund.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeRefund {
    /// `re_…`.
    pub id: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// The refunded PaymentIntent.
    pub payment_intent: Option<String>,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: Option<String>,
    /// `duplicate`, `fraudulent`, `requested_by_customer`, `expired_uncaptured_charge`.
    pub reason: Option<String>,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// String labels (our note lives here).
    pub metadata: Option<BTreeMap<String, String>>,
    /// Unix seconds.
    pub created: i64,
}

/// A Customer, or the stub left after one was deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeCustomer {
    /// `cus_…`.
    pub id: String,
    /// True for a deleted customer: the other fields are absent.
    pub deleted: bool,
    /// Personal data.
    pub email: Option<String>,
    /// Personal data.
    pub name: Option<String>,
    /// Personal data.
    pub phone: Option<String>,
    /// String labels.
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds.
    pub created: i64,
}

/// A Subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeSubscription {
    /// `sub_…`.
    pub id: String,
    /// The customer's id.
    pub customer: String,
    /// `incomplete`, `incomplete_expired`, `trialing`, `active`, `past_due`, `canceled`,
    /// `unpaid` or `paused`.
    pub status: String,
    /// The subscription's items; we create exactly one.
    pub items: StripeList<StripeSubscriptionItem>,
    /// Ends at the period's end instead of renewing.
    pub cancel_at_period_end: bool,
    /// Unix seconds.
    pub current_period_start: i64,
    /// Unix seconds.
    pub current_period_end: i64,
    /// Unix seconds: when it will end, if scheduled.
    pub cancel_at: Option<i64>,
    /// Unix seconds: when it was canceled.
    pub canceled_at: Option<i64>,
    /// Unix seconds: when it ended.
    pub ended_at: Option<i64>,
    /// String labels.
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds.
    pub created: i64,
}

/// A Stripe list object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeList<T> {
    /// The page of objects.
    pub data: Vec<T>,
}

impl<T> Default for StripeList<T> {
    fn default() -> Self {
        Self { data: Vec::new() }
    }
}

/// One item of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeSubscriptionItem {
    /// The item's price.
    pub price: StripePrice,
    /// Units billed per period.
    pub quantity: Option<i64>,
}

/// The part of a Price we read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripePrice {
    /// `price_…`.
    pub id: String,
}

/// A Payout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripePayout {
    /// `po_…`.
    pub id: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// `pending`, `in_transit`, `paid`, `failed` or `canceled`.
    pub status: String,
    /// The bank account or card id.
    pub destination: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Why it failed, when it did.
    pub failure_code: Option<String>,
    /// Unix seconds: expected arrival.
    pub arrival_date: Option<i64>,
    /// Unix seconds.
    pub created: i64,
}

/// The body of every Stripe error answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StripeErrorBody {
    /// The error.
    pub error: StripeApiError,
}

/// A Stripe error. `message` is read but never passed on: it may quote what was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeApiError {
    /// `api_error`, `card_error`, `idempotency_error` or `invalid_request_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short machine-readable code (`card_declined`, `resource_missing`).
    pub code: Option<String>,
    /// The issuer's reason for a card decline (`insufficient_funds`).
    pub decline_code: Option<String>,
    /// The request parameter at fault.
    pub param: Option<String>,
}

/// A webhook event: only the envelope and the object's id and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeEvent {
    /// `evt_…`.
    pub id: String,
    /// `payment_intent.succeeded`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// The object the event is about.
    pub data: StripeEventData,
}

/// The `data` of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeEventData {
    /// The object, as of the event.
    pub object: StripeEventObject,
}

/// The identity of an event's object, and the one field some mappings look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StripeEventObject {
    /// The object's id.
    pub id: String,
    /// Its kind: `payment_intent`, `charge`, `refund`, `subscription`, …
    pub object: String,
    /// Its status, where it has one.
    pub status: Option<String>,
    /// The PaymentIntent a charge belongs to.
    pub payment_intent: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn expandable_reads_an_id_or_an_object() {
        let id: StripePaymentIntent =
            serde_json::from_str(r#"{"id":"pi_1","latest_charge":"ch_1"}"#).unwrap();
        assert_eq!(
            id.latest_charge,
            Some(StripeExpandable::Id("ch_1".to_owned()))
        );
        let object: StripePaymentIntent = serde_json::from_str(
            r#"{"id":"pi_1","latest_charge":{"id":"ch_1","amount_refunded":250}}"#,
        )
        .unwrap();
        let Some(StripeExpandable::Object(charge)) = object.latest_charge else {
            panic!("expanded charge expected");
        };
        assert_eq!(charge.amount_refunded, 250);
    }

    #[test]
    fn nulls_and_unknown_fields_are_tolerated() {
        let pi: StripePaymentIntent = serde_json::from_str(
            r#"{"id":"pi_1","customer":null,"next_action":null,"new_field":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!((pi.id.as_str(), pi.customer), ("pi_1", None));
    }
}
