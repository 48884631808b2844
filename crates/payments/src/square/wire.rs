//! Square's objects as they come over the wire (`Square-Version` 2025-08-20), with only the
//! fields we read. Unknown fields are ignored and every field defaults when absent (Square
//! leaves out empty ones), so a trimmed answer or a newer version still reads. Statuses stay
//! strings and are mapped in `convert.rs`, where an unknown one has a defined meaning.
//!
//! What it does not read: an error's `detail`. It is human text that may quote what was sent,
//! so it is not even deserialised and cannot be passed on by mistake.

use serde::Deserialize;

/// An amount in the currency's smallest unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareMoney {
    /// Minor units.
    pub amount: i64,
    /// Upper-case ISO 4217 code.
    pub currency: String,
}

/// A Payment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquarePayment {
    /// Square's id.
    pub id: String,
    /// `APPROVED`, `PENDING`, `COMPLETED`, `CANCELED` or `FAILED`.
    pub status: String,
    /// The amount asked for, without a tip.
    pub amount_money: SquareMoney,
    /// The amount with any tip.
    pub total_money: Option<SquareMoney>,
    /// Refunded so far.
    pub refunded_money: Option<SquareMoney>,
    /// Set on payments made with `autocomplete: false`: what happens when the delay is over.
    pub delay_action: Option<String>,
    /// Set on payments made with `autocomplete: false`: when the delay is over.
    pub delayed_until: Option<String>,
    /// The customer's id.
    pub customer_id: Option<String>,
    /// Our description.
    pub note: Option<String>,
    /// The location the payment was taken at.
    pub location_id: Option<String>,
    /// Card details, with the errors of a failed card payment.
    pub card_details: Option<SquareCardDetails>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: Option<String>,
}

/// The part of a payment's card details we read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareCardDetails {
    /// `AUTHORIZED`, `CAPTURED`, `VOIDED` or `FAILED`.
    pub status: Option<String>,
    /// Why the card payment failed.
    pub errors: Vec<SquareError>,
}

/// A PaymentRefund.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareRefund {
    /// Square's id.
    pub id: String,
    /// `PENDING`, `COMPLETED`, `REJECTED` or `FAILED`.
    pub status: String,
    /// The amount refunded.
    pub amount_money: SquareMoney,
    /// The refunded payment's id.
    pub payment_id: Option<String>,
    /// Free text: our note, or our text for the reason.
    pub reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: Option<String>,
}

/// A Customer. Names, email and phone are personal data: never logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareCustomer {
    /// Square's id.
    pub id: String,
    /// First name(s).
    pub given_name: Option<String>,
    /// Last name.
    pub family_name: Option<String>,
    /// Email address.
    pub email_address: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// A Subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareSubscription {
    /// Square's id.
    pub id: String,
    /// The subscribed plan variation.
    pub plan_variation_id: String,
    /// The subscriber.
    pub customer_id: String,
    /// `PENDING`, `ACTIVE`, `CANCELED`, `DEACTIVATED` or `PAUSED`.
    pub status: String,
    /// `YYYY-MM-DD`: when it starts (or started).
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`: when it ends, once a cancellation is scheduled.
    pub canceled_date: Option<String>,
    /// `YYYY-MM-DD`: up to when the subscriber is invoiced.
    pub charged_through_date: Option<String>,
    /// The card billed.
    pub card_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// `{"payment": …}`, the answer of the payment endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SquarePaymentBody {
    /// The payment.
    pub payment: SquarePayment,
}

/// `{"refund": …}`, the answer of the refund endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SquareRefundBody {
    /// The refund.
    pub refund: SquareRefund,
}

/// `{"customer": …}`, the answer of the customer endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SquareCustomerBody {
    /// The customer.
    pub customer: SquareCustomer,
}

/// `{"subscription": …}`, the answer of the subscription endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SquareSubscriptionBody {
    /// The subscription.
    pub subscription: SquareSubscription,
}

/// The body of every Square error answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareErrorBody {
    /// One or more errors; the first of the most telling category is classified.
    pub errors: Vec<SquareError>,
}

/// One Square error. Its `detail` is deliberately not read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareError {
    /// `API_ERROR`, `AUTHENTICATION_ERROR`, `INVALID_REQUEST_ERROR`, `RATE_LIMIT_ERROR`,
    /// `PAYMENT_METHOD_ERROR`, `REFUND_ERROR`, …
    pub category: String,
    /// The specific code (`CARD_DECLINED`, `NOT_FOUND`, `VALUE_TOO_LONG`).
    pub code: String,
    /// The request field at fault, in Square's terms (`amount_money.amount`).
    pub field: Option<String>,
}

/// A webhook event: the envelope and the identity of its object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareEvent {
    /// The seller the event is about.
    pub merchant_id: String,
    /// `payment.updated`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Square's id of the event; redeliveries share it.
    pub event_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// The object the event is about.
    pub data: SquareEventData,
}

/// The `data` of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareEventData {
    /// The object's kind (`payment`, `refund`, `dispute`, …), also its key in `object`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The object's id.
    pub id: String,
    /// `{"<kind>": {…}}`: the object as of the event, read further in `webhook.rs`.
    pub object: serde_json::Value,
}

/// The fields of an event's object that the mapping looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SquareEventObject {
    /// Its status, where it has one.
    pub status: Option<String>,
    /// The payment a refund belongs to.
    pub payment_id: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn absent_null_and_unknown_fields_are_tolerated() {
        let body: SquarePaymentBody = serde_json::from_str(
            r#"{"payment":{"id":"R2B3","status":"APPROVED","amount_money":{"amount":100,
                "currency":"USD"},"customer_id":null,"risk_evaluation":{"risk_level":"NORMAL"}}}"#,
        )
        .unwrap();
        assert_eq!(
            (body.payment.id.as_str(), body.payment.amount_money.amount),
            ("R2B3", 100)
        );
        assert_eq!(body.payment.customer_id, None);
    }

    #[test]
    fn errors_are_read_without_their_detail() {
        let body: SquareErrorBody = serde_json::from_str(
            r#"{"errors":[{"category":"PAYMENT_METHOD_ERROR","code":"CVV_FAILURE",
                "detail":"Authorization error: 'CVV_FAILURE'"}],"payment":{"id":"x"}}"#,
        )
        .unwrap();
        assert_eq!(body.errors[0].code, "CVV_FAILURE");
        assert!(!format!("{body:?}").contains("Authorization error"));
    }
}
