//! Stripe's objects in the contract's neutral types, with Stripe's ids.
//!
//! Amounts keep their minor units; currencies become upper case. Stripe reports no "updated"
//! time, so `update_time` is the latest time Stripe does report for the object (its cancel
//! time, else its creation). A status this code does not know maps to the state that asks the
//! caller to look again (`PROCESSING`, `PENDING`) rather than to a final one.

use integ_core::family::timestamp_ms;
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CaptureMethod, Customer, Payment, PaymentStatus, Payout, PayoutStatus, Refund, RefundReason,
    RefundStatus, Subscription, SubscriptionStatus,
};

use super::NAME;
use super::wire::{
    StripeCustomer, StripeExpandable, StripePaymentIntent, StripePayout, StripeRefund,
    StripeSubscription,
};

/// The refund metadata key our refund note is kept under.
pub const NOTE_KEY: &str = "integ_note";

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: currency.to_ascii_uppercase(),
    })
}

fn time(unix_secs: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp_ms(unix_secs.saturating_mul(1000)))
}

/// A PaymentIntent as a payment.
pub fn payment(pi: StripePaymentIntent) -> Payment {
    let status = payment_status(&pi);
    let refunded = match &pi.latest_charge {
        Some(StripeExpandable::Object(charge)) => charge.amount_refunded,
        _ => 0,
    };
    let failure_code = match (status, &pi.last_payment_error) {
        (PaymentStatus::Failed, Some(e)) => e
            .decline_code
            .clone()
            .or_else(|| e.code.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let action_url = match (status, &pi.next_action) {
        (PaymentStatus::RequiresAction, Some(next)) => next
            .redirect_to_url
            .as_ref()
            .and_then(|r| r.url.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let capture = match pi.capture_method.as_str() {
        "manual" => CaptureMethod::Manual,
        _ => CaptureMethod::Immediate,
    };
    Payment {
        provider: NAME.to_owned(),
        status: status.into(),
        capture_method: capture.into(),
        amount: money(pi.amount, &pi.currency),
        amount_captured: money(pi.amount_received, &pi.currency),
        amount_refunded: money(refunded, &pi.currency),
        customer_id: pi.customer.unwrap_or_default(),
        description: pi.description.unwrap_or_default(),
        metadata: pi.metadata.into_iter().collect(),
        action_url,
        failure_code,
        create_time: time(pi.created),
        update_time: time(pi.canceled_at.unwrap_or(pi.created)),
        provider_id: pi.id,
        ..Payment::default()
    }
}

fn payment_status(pi: &StripePaymentIntent) -> PaymentStatus {
    match pi.status.as_str() {
        // A PaymentIntent sent back for a new payment method after a failed attempt.
        "requires_payment_method" if pi.last_payment_error.is_some() => PaymentStatus::Failed,
        "requires_payment_method" | "requires_confirmation" | "requires_action" => {
            PaymentStatus::RequiresAction
        }
        "requires_capture" => PaymentStatus::RequiresCapture,
        "succeeded" => PaymentStatus::Succeeded,
        "canceled" => PaymentStatus::Canceled,
        _ => PaymentStatus::Processing,
    }
}

/// A Refund.
pub fn refund(r: StripeRefund) -> Refund {
    let status = match r.status.as_deref() {
        Some("succeeded") => RefundStatus::Succeeded,
        Some("failed") => RefundStatus::Failed,
        Some("canceled") => RefundStatus::Canceled,
        _ => RefundStatus::Pending,
    };
    let reason = match r.reason.as_deref() {
        Some("duplicate") => RefundReason::Duplicate,
        Some("fraudulent") => RefundReason::Fraudulent,
        Some("requested_by_customer") => RefundReason::RequestedByCustomer,
        _ => RefundReason::Unspecified,
    };
    let failure_code = match status {
        RefundStatus::Failed => r.failure_reason.unwrap_or_default(),
        _ => String::new(),
    };
    Refund {
        provider: NAME.to_owned(),
        payment_id: r.payment_intent.unwrap_or_default(),
        status: status.into(),
        amount: money(r.amount, &r.currency),
        reason: reason.into(),
        note: r
            .metadata
            .and_then(|mut m| m.remove(NOTE_KEY))
            .unwrap_or_default(),
        failure_code,
        create_time: time(r.created),
        update_time: time(r.created),
        provider_id: r.id,
        ..Refund::default()
    }
}

/// Stripe's refund reason for ours, if it has one.
pub fn refund_reason(reason: RefundReason) -> Option<&'static str> {
    match reason {
        RefundReason::Unspecified => None,
        RefundReason::Duplicate => Some("duplicate"),
        RefundReason::Fraudulent => Some("fraudulent"),
        RefundReason::RequestedByCustomer => Some("requested_by_customer"),
    }
}

/// A Customer.
pub fn customer(c: StripeCustomer) -> Customer {
    Customer {
        provider: NAME.to_owned(),
        email: c.email.unwrap_or_default(),
        name: c.name.unwrap_or_default(),
        phone: c.phone.unwrap_or_default(),
        metadata: c.metadata.into_iter().collect(),
        create_time: time(c.created),
        provider_id: c.id,
        ..Customer::default()
    }
}

/// A Subscription (its first item gives the price and quantity).
pub fn subscription(s: StripeSubscription) -> Subscription {
    let status = match s.status.as_str() {
        "trialing" => SubscriptionStatus::Trialing,
        "active" => SubscriptionStatus::Active,
        "past_due" | "unpaid" => SubscriptionStatus::PastDue,
        "canceled" | "incomplete_expired" => SubscriptionStatus::Canceled,
        // `paused`: a trial ended without a payment method, so nothing has been paid yet.
        _ => SubscriptionStatus::Incomplete,
    };
    let item = s.items.data.first();
    let cancel = s.canceled_at.or(s.ended_at).or(s.cancel_at);
    Subscription {
        provider: NAME.to_owned(),
        customer_id: s.customer,
        price_id: item.map(|i| i.price.id.clone()).unwrap_or_default(),
        quantity: item
            .and_then(|i| i.quantity)
            .and_then(|q| i32::try_from(q).ok())
            .unwrap_or(1),
        status: status.into(),
        cancel_at_period_end: s.cancel_at_period_end,
        current_period_start_time: time(s.current_period_start),
        current_period_end_time: time(s.current_period_end),
        cancel_time: cancel.and_then(time),
        metadata: s.metadata.into_iter().collect(),
        create_time: time(s.created),
        provider_id: s.id,
        ..Subscription::default()
    }
}

/// A Payout.
pub fn payout(p: StripePayout) -> Payout {
    let status = match p.status.as_str() {
        "in_transit" => PayoutStatus::InTransit,
        "paid" => PayoutStatus::Paid,
        "failed" => PayoutStatus::Failed,
        "canceled" => PayoutStatus::Canceled,
        _ => PayoutStatus::Pending,
    };
    Payout {
        provider: NAME.to_owned(),
        status: status.into(),
        amount: money(p.amount, &p.currency),
        destination: p.destination.unwrap_or_default(),
        description: p.description.unwrap_or_default(),
        failure_code: match status {
            PayoutStatus::Failed => p.failure_code.unwrap_or_default(),
            _ => String::new(),
        },
        expected_arrival_time: p.arrival_date.and_then(time),
        create_time: time(p.created),
        update_time: time(p.created),
        provider_id: p.id,
        ..Payout::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pi(json: &str) -> Payment {
        payment(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn payment_intent_statuses_and_amounts() {
        let p = pi(
            r#"{"id":"pi_1","amount":5000,"amount_received":3000,"currency":"usd",
                "capture_method":"manual","status":"succeeded","created":1700000000,
                "latest_charge":{"id":"ch_1","amount_refunded":1000},"metadata":{"order":"42"}}"#,
        );
        assert_eq!(p.status(), PaymentStatus::Succeeded);
        assert_eq!(p.capture_method(), CaptureMethod::Manual);
        assert_eq!(p.amount_captured, money(3000, "USD"));
        assert_eq!(p.amount_refunded, money(1000, "USD"));
        assert_eq!(p.metadata["order"], "42");
        assert_eq!(p.create_time.unwrap().seconds, 1_700_000_000);

        let p = pi(r#"{"id":"pi_2","status":"requires_payment_method",
                "last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds"}}"#);
        assert_eq!(
            (p.status(), p.failure_code.as_str()),
            (PaymentStatus::Failed, "insufficient_funds")
        );
        let p = pi(r#"{"id":"pi_3","status":"requires_action",
                "next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3ds"}}}"#);
        assert_eq!(
            (p.status(), p.action_url.as_str()),
            (
                PaymentStatus::RequiresAction,
                "https://hooks.stripe.com/3ds"
            )
        );
        assert_eq!(
            pi(r#"{"status":"processing"}"#).status(),
            PaymentStatus::Processing
        );
        assert_eq!(
            pi(r#"{"status":"something_new"}"#).status(),
            PaymentStatus::Processing
        );
        assert_eq!(
            pi(r#"{"status":"canceled","created":1,"canceled_at":9}"#)
                .update_time
                .unwrap()
                .seconds,
            9
        );
    }

    #[test]
    fn refunds_subscriptions_and_payouts() {
        let r = refund(
            serde_json::from_str(
                r#"{"id":"re_1","amount":100,"currency":"eur","payment_intent":"pi_1",
                    "status":"failed","failure_reason":"expired_or_canceled_card",
                    "reason":"duplicate","metadata":{"integ_note":"double"}}"#,
            )
            .unwrap(),
        );
        assert_eq!(r.status(), RefundStatus::Failed);
        assert_eq!(
            (r.failure_code.as_str(), r.note.as_str(), r.reason()),
            (
                "expired_or_canceled_card",
                "double",
                RefundReason::Duplicate
            )
        );
        assert_eq!(r.amount, money(100, "EUR"));

        let s = subscription(
            serde_json::from_str(
                r#"{"id":"sub_1","customer":"cus_1","status":"past_due",
                    "items":{"object":"list","data":[{"price":{"id":"price_1"},"quantity":3}]},
                    "cancel_at_period_end":true,"cancel_at":1800000000}"#,
            )
            .unwrap(),
        );
        assert_eq!(
            (s.status(), s.price_id.as_str(), s.quantity),
            (SubscriptionStatus::PastDue, "price_1", 3)
        );
        assert_eq!(s.cancel_time.unwrap().seconds, 1_800_000_000);

        let p = payout(
            serde_json::from_str(
                r#"{"id":"po_1","amount":500,"currency":"usd","status":"in_transit",
                    "failure_code":null,"arrival_date":1700086400}"#,
            )
            .unwrap(),
        );
        assert_eq!(p.status(), PayoutStatus::InTransit);
        assert!(p.failure_code.is_empty() && p.expected_arrival_time.is_some());
    }
}
