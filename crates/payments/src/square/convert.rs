//! Square's objects in the contract's neutral types, with Square's ids.
//!
//! Amounts keep their minor units and Square's upper-case currency. Times are RFC 3339
//! (`created_at`, `updated_at`) or calendar dates (a subscription's `YYYY-MM-DD` dates, read
//! as midnight UTC). Square has no metadata, so every object comes back with none; the
//! service keeps the caller's metadata on integ's own record and shows it.
//!
//! | Square payment | ours |
//! |---|---|
//! | `APPROVED` | `REQUIRES_CAPTURE` |
//! | `PENDING` | `PROCESSING` |
//! | `COMPLETED` | `SUCCEEDED` (captured = `total_money`) |
//! | `CANCELED` | `CANCELED` |
//! | `FAILED` | `FAILED`, failure code from the card's errors |
//!
//! | Square subscription | ours |
//! |---|---|
//! | `PENDING` (starts on a later date) | `INCOMPLETE`: nothing billed yet |
//! | `ACTIVE` | `ACTIVE`, with `cancel_at_period_end` once a cancellation is scheduled |
//! | `PAUSED` | `PAST_DUE`: not billing, not ended, may resume |
//! | `CANCELED`, `DEACTIVATED` | `CANCELED` (deactivated: Square gave up billing) |
//!
//! A subscription's period ends at `charged_through_date`; Square reports no period start, so
//! that field stays unset. A status this code does not know maps to the state that asks the
//! caller to look again (`PROCESSING`, `PENDING`, `INCOMPLETE`) rather than to a final one.

use integ_core::family::timestamp_ms;
use integ_core::time::{parse_date, parse_rfc3339};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CaptureMethod, Customer, Payment, PaymentStatus, Refund, RefundReason, RefundStatus,
    Subscription, SubscriptionStatus,
};

use super::NAME;
use super::wire::{SquareCustomer, SquareMoney, SquarePayment, SquareRefund, SquareSubscription};

fn money(m: &SquareMoney) -> Option<Money> {
    Some(Money {
        amount_minor: m.amount,
        currency: m.currency.to_ascii_uppercase(),
    })
}

/// `amount` in the currency of `like`.
fn same_currency(amount: i64, like: &SquareMoney) -> Option<Money> {
    money(&SquareMoney {
        amount,
        currency: like.currency.clone(),
    })
}

fn time(rfc3339: &str) -> Option<prost_types::Timestamp> {
    parse_rfc3339(rfc3339).map(timestamp_ms)
}

fn date(text: Option<&str>) -> Option<prost_types::Timestamp> {
    text.and_then(parse_date).map(timestamp_ms)
}

/// A Payment.
pub fn payment(p: SquarePayment) -> Payment {
    let status = payment_status(&p.status);
    let captured = match (status, &p.total_money) {
        (PaymentStatus::Succeeded, Some(total)) => total.amount,
        (PaymentStatus::Succeeded, None) => p.amount_money.amount,
        _ => 0,
    };
    let refunded = p.refunded_money.as_ref().map_or(0, |m| m.amount);
    let delayed = p.delay_action.is_some() || p.delayed_until.is_some();
    let capture = match (status, delayed) {
        (PaymentStatus::RequiresCapture, _) | (_, true) => CaptureMethod::Manual,
        _ => CaptureMethod::Immediate,
    };
    let failure_code = match (status, &p.card_details) {
        (PaymentStatus::Failed, Some(card)) => card
            .errors
            .first()
            .map(|e| e.code.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    Payment {
        provider: NAME.to_owned(),
        status: status.into(),
        capture_method: capture.into(),
        amount: money(&p.amount_money),
        amount_captured: same_currency(captured, &p.amount_money),
        amount_refunded: same_currency(refunded, &p.amount_money),
        customer_id: p.customer_id.unwrap_or_default(),
        description: p.note.unwrap_or_default(),
        failure_code,
        create_time: time(&p.created_at),
        update_time: time(p.updated_at.as_deref().unwrap_or(&p.created_at)),
        provider_id: p.id,
        ..Payment::default()
    }
}

/// Our status for a Square payment status.
pub fn payment_status(status: &str) -> PaymentStatus {
    match status {
        "APPROVED" => PaymentStatus::RequiresCapture,
        "COMPLETED" => PaymentStatus::Succeeded,
        "CANCELED" => PaymentStatus::Canceled,
        "FAILED" => PaymentStatus::Failed,
        _ => PaymentStatus::Processing,
    }
}

/// What is left to refund of a payment: its total less what was refunded.
pub fn refundable(p: &SquarePayment) -> Money {
    let total = p.total_money.as_ref().unwrap_or(&p.amount_money);
    let refunded = p.refunded_money.as_ref().map_or(0, |m| m.amount);
    Money {
        amount_minor: total.amount.saturating_sub(refunded),
        currency: total.currency.to_ascii_uppercase(),
    }
}

/// The text sent as a refund's reason when the caller gave a reason but no note.
pub fn reason_text(reason: RefundReason) -> Option<&'static str> {
    match reason {
        RefundReason::Unspecified => None,
        RefundReason::Duplicate => Some("Duplicate charge"),
        RefundReason::Fraudulent => Some("Fraudulent charge"),
        RefundReason::RequestedByCustomer => Some("Requested by customer"),
    }
}

/// A PaymentRefund. A reason that is one of our texts reads back as that reason; any other
/// is the caller's note.
pub fn refund(r: SquareRefund) -> Refund {
    let status = match r.status.as_str() {
        "COMPLETED" => RefundStatus::Succeeded,
        "FAILED" | "REJECTED" => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    };
    let text = r.reason.unwrap_or_default();
    let reason = [
        RefundReason::Duplicate,
        RefundReason::Fraudulent,
        RefundReason::RequestedByCustomer,
    ]
    .into_iter()
    .find(|reason| reason_text(*reason) == Some(text.as_str()));
    let failure_code = match status {
        RefundStatus::Failed => r.status.clone(),
        _ => String::new(),
    };
    Refund {
        provider: NAME.to_owned(),
        payment_id: r.payment_id.unwrap_or_default(),
        status: status.into(),
        amount: money(&r.amount_money),
        reason: reason.unwrap_or(RefundReason::Unspecified).into(),
        note: if reason.is_some() {
            String::new()
        } else {
            text
        },
        failure_code,
        create_time: time(&r.created_at),
        update_time: time(r.updated_at.as_deref().unwrap_or(&r.created_at)),
        provider_id: r.id,
        ..Refund::default()
    }
}

/// The contract's one name as Square's given and family name, split at the first space.
pub fn split_name(name: &str) -> (&str, &str) {
    let name = name.trim();
    match name.split_once(' ') {
        Some((given, family)) => (given, family.trim_start()),
        None => (name, ""),
    }
}

/// A Customer, its name the given and family names joined by a space.
pub fn customer(c: SquareCustomer) -> Customer {
    let parts = [
        c.given_name.unwrap_or_default(),
        c.family_name.unwrap_or_default(),
    ];
    let name = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Customer {
        provider: NAME.to_owned(),
        email: c.email_address.unwrap_or_default(),
        name,
        phone: c.phone_number.unwrap_or_default(),
        create_time: time(&c.created_at),
        provider_id: c.id,
        ..Customer::default()
    }
}

/// A Subscription, always of quantity 1.
pub fn subscription(s: SquareSubscription) -> Subscription {
    let status = match s.status.as_str() {
        "ACTIVE" => SubscriptionStatus::Active,
        "PAUSED" => SubscriptionStatus::PastDue,
        "CANCELED" | "DEACTIVATED" => SubscriptionStatus::Canceled,
        _ => SubscriptionStatus::Incomplete,
    };
    let scheduled = s.canceled_date.is_some() && status != SubscriptionStatus::Canceled;
    Subscription {
        provider: NAME.to_owned(),
        customer_id: s.customer_id,
        price_id: s.plan_variation_id,
        quantity: 1,
        status: status.into(),
        cancel_at_period_end: scheduled,
        current_period_start_time: None,
        current_period_end_time: date(s.charged_through_date.as_deref()),
        cancel_time: date(s.canceled_date.as_deref()),
        create_time: time(&s.created_at),
        provider_id: s.id,
        ..Subscription::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn usd(n: i64) -> Option<Money> {
        Some(Money {
            amount_minor: n,
            currency: "USD".into(),
        })
    }

    fn pay(json: &str) -> Payment {
        payment(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn payment_statuses_amounts_and_capture() {
        let p = pay(
            r#"{"id":"P1","status":"COMPLETED","amount_money":{"amount":5000,"currency":"USD"},
                "total_money":{"amount":5500,"currency":"USD"},
                "refunded_money":{"amount":1000,"currency":"USD"},"delay_action":"CANCEL",
                "note":"order 42","created_at":"2023-11-14T22:13:20Z",
                "updated_at":"2023-11-14T22:13:30.5Z"}"#,
        );
        assert_eq!(
            (p.status(), p.capture_method()),
            (PaymentStatus::Succeeded, CaptureMethod::Manual)
        );
        assert_eq!(
            (p.amount, p.amount_captured, p.amount_refunded),
            (usd(5000), usd(5500), usd(1000))
        );
        assert_eq!(p.description, "order 42");
        assert_eq!(p.create_time.unwrap().seconds, 1_700_000_000);
        assert_eq!(p.update_time.unwrap().nanos, 500_000_000);
        assert!(p.metadata.is_empty());

        let p =
            pay(r#"{"id":"P2","status":"APPROVED","amount_money":{"amount":7,"currency":"USD"}}"#);
        assert_eq!(
            (p.status(), p.capture_method(), p.amount_captured),
            (
                PaymentStatus::RequiresCapture,
                CaptureMethod::Manual,
                usd(0)
            )
        );
        let p = pay(
            r#"{"id":"P3","status":"FAILED","amount_money":{"amount":7,"currency":"USD"},
                "card_details":{"status":"FAILED","errors":[{"category":"PAYMENT_METHOD_ERROR",
                "code":"INSUFFICIENT_FUNDS"}]}}"#,
        );
        assert_eq!(
            (p.status(), p.failure_code.as_str(), p.capture_method()),
            (
                PaymentStatus::Failed,
                "INSUFFICIENT_FUNDS",
                CaptureMethod::Immediate
            )
        );
        assert_eq!(payment_status("PENDING"), PaymentStatus::Processing);
        assert_eq!(payment_status("CANCELED"), PaymentStatus::Canceled);
        assert_eq!(payment_status("NEW_ONE"), PaymentStatus::Processing);
    }

    #[test]
    fn the_refundable_rest_and_refunds() {
        let p: SquarePayment = serde_json::from_str(
            r#"{"amount_money":{"amount":900,"currency":"USD"},
                "total_money":{"amount":1000,"currency":"USD"},
                "refunded_money":{"amount":250,"currency":"USD"}}"#,
        )
        .unwrap();
        assert_eq!(Some(refundable(&p)), usd(750));

        let r = refund(
            serde_json::from_str(
                r#"{"id":"R1","status":"COMPLETED","amount_money":{"amount":100,"currency":"USD"},
                    "payment_id":"P1","reason":"Duplicate charge",
                    "created_at":"2023-11-14T22:13:20Z"}"#,
            )
            .unwrap(),
        );
        assert_eq!(
            (
                r.status(),
                r.reason(),
                r.note.as_str(),
                r.payment_id.as_str()
            ),
            (RefundStatus::Succeeded, RefundReason::Duplicate, "", "P1")
        );
        let r = refund(
            serde_json::from_str(r#"{"id":"R2","status":"REJECTED","reason":"asked nicely"}"#)
                .unwrap(),
        );
        assert_eq!(
            (
                r.status(),
                r.reason(),
                r.note.as_str(),
                r.failure_code.as_str()
            ),
            (
                RefundStatus::Failed,
                RefundReason::Unspecified,
                "asked nicely",
                "REJECTED"
            )
        );
        let r = refund(serde_json::from_str(r#"{"id":"R3","status":"PENDING"}"#).unwrap());
        assert_eq!(r.status(), RefundStatus::Pending);
    }

    #[test]
    fn names_split_and_join() {
        assert_eq!(split_name(" Ada  King Lovelace "), ("Ada", "King Lovelace"));
        assert_eq!(split_name("Ada"), ("Ada", ""));
        let c = customer(
            serde_json::from_str(
                r#"{"id":"C1","given_name":"Ada","family_name":"King Lovelace",
                    "email_address":"ada@example.com","created_at":"2023-11-14T22:13:20Z"}"#,
            )
            .unwrap(),
        );
        assert_eq!(
            (c.name.as_str(), c.email.as_str()),
            ("Ada King Lovelace", "ada@example.com")
        );
        let c = customer(serde_json::from_str(r#"{"id":"C2","family_name":"Lovelace"}"#).unwrap());
        assert_eq!(c.name, "Lovelace");
    }

    #[test]
    fn subscription_statuses_and_dates() {
        let s = subscription(
            serde_json::from_str(
                r#"{"id":"S1","customer_id":"C1","plan_variation_id":"V1","status":"ACTIVE",
                    "start_date":"2023-11-14","charged_through_date":"2023-12-14",
                    "canceled_date":"2023-12-14","created_at":"2023-11-14T22:13:20Z"}"#,
            )
            .unwrap(),
        );
        assert_eq!(
            (
                s.status(),
                s.cancel_at_period_end,
                s.quantity,
                s.price_id.as_str()
            ),
            (SubscriptionStatus::Active, true, 1, "V1")
        );
        assert_eq!(s.current_period_end_time.unwrap().seconds, 1_702_512_000);
        assert_eq!(s.cancel_time, s.current_period_end_time);
        assert!(s.current_period_start_time.is_none());
        for (status, ours) in [
            ("PENDING", SubscriptionStatus::Incomplete),
            ("PAUSED", SubscriptionStatus::PastDue),
            ("CANCELED", SubscriptionStatus::Canceled),
            ("DEACTIVATED", SubscriptionStatus::Canceled),
            ("SOMETHING_NEW", SubscriptionStatus::Incomplete),
        ] {
            let json = format!(r#"{{"id":"S","status":"{status}","canceled_date":"2023-12-14"}}"#);
            let s = subscription(serde_json::from_str(&json).unwrap());
            assert_eq!(s.status(), ours, "{status}");
            assert_eq!(s.cancel_at_period_end, ours != SubscriptionStatus::Canceled);
        }
    }
}
