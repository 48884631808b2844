//! PayPal's objects in the contract's types.
//!
//! A payment is an order. Its status comes from the order's and from its payments':
//!
//! | order | its payments | ours |
//! |---|---|---|
//! | `CREATED`, `PAYER_ACTION_REQUIRED` | | `REQUIRES_ACTION`, with the approval link |
//! | `APPROVED`, `SAVED` | | `REQUIRES_CAPTURE`: CapturePayment captures (or authorises and captures) |
//! | `VOIDED` | | `CANCELED` |
//! | `COMPLETED` | a capture `COMPLETED` or refunded | `SUCCEEDED` |
//! | `COMPLETED` | a capture `PENDING` | `PROCESSING` |
//! | `COMPLETED` | a capture `DECLINED` or `FAILED` | `FAILED`, with the reason |
//! | `COMPLETED` | an authorisation `CREATED` or `PENDING` | `REQUIRES_CAPTURE` |
//! | `COMPLETED` | an authorisation `VOIDED` or `EXPIRED` | `CANCELED` |
//!
//! Captured is the sum of captures that moved money; refunded is the sum of refunds that are
//! completed or pending. PayPal keeps no metadata: the service keeps the caller's.

use integ_core::family::timestamp_ms;
use integ_core::money;
use integ_core::time::parse_rfc3339;
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CaptureMethod, Payment, PaymentStatus, Payout, PayoutStatus, Refund, RefundStatus,
    Subscription, SubscriptionStatus,
};

use super::wire::{
    PaypalLink, PaypalMoney, PaypalOrder, PaypalPayoutBatch, PaypalPayoutMoney, PaypalSubscription,
    PaypalTransaction,
};

/// An amount in minor units; unreadable amounts are zero of the currency.
pub fn money(m: &PaypalMoney) -> Money {
    Money {
        amount_minor: money::from_decimal(&m.value, &m.currency_code).unwrap_or_default(),
        currency: m.currency_code.clone(),
    }
}

fn payout_money(m: &PaypalPayoutMoney) -> Money {
    money(&PaypalMoney {
        currency_code: m.currency.clone(),
        value: m.value.clone(),
    })
}

fn sum<'a>(currency: &str, items: impl Iterator<Item = &'a PaypalTransaction>) -> Money {
    let amount_minor = items
        .filter_map(|t| t.amount.as_ref())
        .map(|m| money(m).amount_minor)
        .sum();
    Money {
        amount_minor,
        currency: currency.to_owned(),
    }
}

fn time(text: Option<&String>) -> Option<prost_types::Timestamp> {
    text.and_then(|t| parse_rfc3339(t)).map(timestamp_ms)
}

/// The link where a payer or subscriber approves.
pub fn approval_link(links: &[PaypalLink]) -> String {
    links
        .iter()
        .find(|l| l.rel == "approve" || l.rel == "payer-action")
        .map(|l| l.href.clone())
        .unwrap_or_default()
}

/// An order as a payment.
pub fn payment(order: PaypalOrder) -> Payment {
    let unit = order.purchase_units.first().cloned().unwrap_or_default();
    let payments = unit.payments.unwrap_or_default();
    let amount = unit.amount.as_ref().map(money).unwrap_or_default();
    let moved = |t: &&PaypalTransaction| {
        matches!(
            t.status.as_str(),
            "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED"
        )
    };
    let captured = sum(&amount.currency, payments.captures.iter().filter(moved));
    let refunded = sum(
        &amount.currency,
        payments
            .refunds
            .iter()
            .filter(|r| matches!(r.status.as_str(), "COMPLETED" | "PENDING")),
    );
    let (status, failure) = payment_status(&order.status, &payments);
    let action_url = match status {
        PaymentStatus::RequiresAction => approval_link(&order.links),
        _ => String::new(),
    };
    let capture_method = match order.intent.as_str() {
        "AUTHORIZE" => CaptureMethod::Manual,
        _ => CaptureMethod::Immediate,
    };
    Payment {
        provider_id: order.id,
        status: status.into(),
        capture_method: capture_method.into(),
        amount: Some(amount),
        amount_captured: Some(captured),
        amount_refunded: Some(refunded),
        description: unit.description.unwrap_or_default(),
        action_url,
        failure_code: failure,
        create_time: time(order.create_time.as_ref()),
        update_time: time(order.update_time.as_ref().or(order.create_time.as_ref())),
        ..Default::default()
    }
}

fn payment_status(order: &str, p: &super::wire::PaypalPayments) -> (PaymentStatus, String) {
    let capture = p.captures.last().map(|c| c.status.as_str());
    let authorization = p.authorizations.last().map(|a| a.status.as_str());
    let reason = || {
        p.captures
            .last()
            .and_then(|c| c.status_details.as_ref())
            .and_then(|d| d.reason.clone())
            .unwrap_or_else(|| capture.unwrap_or_default().to_owned())
    };
    let status = match (order, capture, authorization) {
        ("CREATED" | "PAYER_ACTION_REQUIRED", _, _) => PaymentStatus::RequiresAction,
        ("APPROVED" | "SAVED", _, _) => PaymentStatus::RequiresCapture,
        ("VOIDED", _, _) => PaymentStatus::Canceled,
        (_, Some("COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED"), _) => PaymentStatus::Succeeded,
        (_, Some("PENDING"), _) => PaymentStatus::Processing,
        (_, Some("DECLINED" | "FAILED"), _) => return (PaymentStatus::Failed, reason()),
        (_, None, Some("CREATED" | "PENDING" | "PARTIALLY_CAPTURED")) => {
            PaymentStatus::RequiresCapture
        }
        (_, None, Some("VOIDED" | "EXPIRED" | "DENIED")) => PaymentStatus::Canceled,
        _ => PaymentStatus::Processing,
    };
    (status, String::new())
}

/// The id of an order's authorisation that can still be captured or voided.
pub fn open_authorization(order: &PaypalOrder) -> Option<String> {
    let unit = order.purchase_units.first()?;
    let payments = unit.payments.as_ref()?;
    payments
        .authorizations
        .iter()
        .rev()
        .find(|a| matches!(a.status.as_str(), "CREATED" | "PENDING"))
        .map(|a| a.id.clone())
}

/// The id of an order's capture that can be refunded.
pub fn refundable_capture(order: &PaypalOrder) -> Option<String> {
    let unit = order.purchase_units.first()?;
    let payments = unit.payments.as_ref()?;
    payments
        .captures
        .iter()
        .rev()
        .find(|c| matches!(c.status.as_str(), "COMPLETED" | "PARTIALLY_REFUNDED"))
        .map(|c| c.id.clone())
}

/// The capture a refund belongs to, from its `up` link.
pub fn refunded_capture(refund: &PaypalTransaction) -> Option<String> {
    refund
        .links
        .iter()
        .find(|l| l.rel == "up" && l.href.contains("/captures/"))
        .and_then(|l| l.href.rsplit('/').next())
        .map(str::to_owned)
}

/// A refund of the order `order_id`.
pub fn refund(t: PaypalTransaction, order_id: &str) -> Refund {
    let status = match t.status.as_str() {
        "COMPLETED" => RefundStatus::Succeeded,
        "PENDING" => RefundStatus::Pending,
        "FAILED" => RefundStatus::Failed,
        "CANCELLED" => RefundStatus::Canceled,
        _ => RefundStatus::Pending,
    };
    let failure = match status {
        RefundStatus::Failed => t
            .status_details
            .as_ref()
            .and_then(|d| d.reason.clone())
            .unwrap_or_else(|| "FAILED".to_owned()),
        _ => String::new(),
    };
    Refund {
        provider_id: t.id,
        payment_id: order_id.to_owned(),
        status: status.into(),
        amount: t.amount.as_ref().map(money),
        note: t.note_to_payer.unwrap_or_default(),
        failure_code: failure,
        create_time: time(t.create_time.as_ref()),
        update_time: time(t.update_time.as_ref().or(t.create_time.as_ref())),
        ..Default::default()
    }
}

/// A subscription.
pub fn subscription(s: PaypalSubscription) -> Subscription {
    let status = match s.status.as_str() {
        "APPROVAL_PENDING" | "APPROVED" => SubscriptionStatus::Incomplete,
        "ACTIVE" => SubscriptionStatus::Active,
        "SUSPENDED" => SubscriptionStatus::PastDue,
        "CANCELLED" | "EXPIRED" => SubscriptionStatus::Canceled,
        _ => SubscriptionStatus::Incomplete,
    };
    let billing = s.billing_info.clone().unwrap_or_default();
    let period_start = billing
        .last_payment
        .and_then(|p| p.time)
        .or_else(|| s.start_time.clone());
    let action_url = match status {
        SubscriptionStatus::Incomplete => approval_link(&s.links),
        _ => String::new(),
    };
    let ended = status == SubscriptionStatus::Canceled;
    Subscription {
        provider_id: s.id,
        price_id: s.plan_id,
        quantity: s.quantity.and_then(|q| q.parse().ok()).unwrap_or(1),
        status: status.into(),
        cancel_at_period_end: false,
        current_period_start_time: time(period_start.as_ref()),
        current_period_end_time: time(billing.next_billing_time.as_ref()),
        cancel_time: if ended {
            time(s.status_update_time.as_ref())
        } else {
            None
        },
        create_time: time(s.create_time.as_ref()),
        action_url,
        ..Default::default()
    }
}

/// A payout batch of one item; `sent` is the amount asked for when the answer (a create) has
/// no amount yet.
pub fn payout(batch: PaypalPayoutBatch, sent: Option<&Money>) -> Payout {
    let header = batch.batch_header;
    let item = batch.items.into_iter().next();
    let item_status = item.as_ref().map(|i| i.transaction_status.as_str());
    let status = match (header.batch_status.as_str(), item_status) {
        ("DENIED", _) => PayoutStatus::Failed,
        ("CANCELED", _) => PayoutStatus::Canceled,
        (_, Some("SUCCESS")) => PayoutStatus::Paid,
        (_, Some("FAILED" | "RETURNED" | "BLOCKED" | "DENIED" | "REFUNDED" | "REVERSED")) => {
            PayoutStatus::Failed
        }
        (_, Some("UNCLAIMED")) => PayoutStatus::InTransit,
        ("PROCESSING", _) => PayoutStatus::InTransit,
        _ => PayoutStatus::Pending,
    };
    let failure = match status {
        PayoutStatus::Failed => item
            .as_ref()
            .and_then(|i| i.errors.as_ref())
            .and_then(|e| e.name.clone())
            .or_else(|| item_status.map(str::to_owned))
            .unwrap_or_else(|| header.batch_status.clone()),
        _ => String::new(),
    };
    let asked = item.as_ref().and_then(|i| i.payout_item.clone());
    let amount = asked
        .as_ref()
        .and_then(|a| a.amount.as_ref())
        .or(header.amount.as_ref())
        .map(payout_money)
        .or_else(|| sent.cloned());
    Payout {
        provider_id: header.payout_batch_id,
        status: status.into(),
        amount,
        destination: asked
            .as_ref()
            .and_then(|a| a.receiver.clone())
            .unwrap_or_default(),
        description: asked.and_then(|a| a.note).unwrap_or_default(),
        failure_code: failure,
        create_time: time(header.time_created.as_ref()),
        update_time: time(
            header
                .time_completed
                .as_ref()
                .or(header.time_created.as_ref()),
        ),
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn order(json: &str) -> PaypalOrder {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_order_waiting_for_the_payer_links_to_the_approval() {
        let p = payment(order(
            r#"{"id":"5O1","intent":"CAPTURE","status":"PAYER_ACTION_REQUIRED",
                "purchase_units":[{"amount":{"currency_code":"JPY","value":"1050"}}],
                "links":[{"href":"https://www.paypal.com/checkoutnow?token=5O1","rel":"payer-action"}],
                "create_time":"2024-05-01T12:00:00Z"}"#,
        ));
        assert_eq!(p.status(), PaymentStatus::RequiresAction);
        assert_eq!(p.action_url, "https://www.paypal.com/checkoutnow?token=5O1");
        assert_eq!(p.amount.unwrap().amount_minor, 1050);
        assert_eq!(p.create_time.unwrap().seconds, 1_714_564_800);
    }

    #[test]
    fn captures_authorisations_and_refunds_decide_the_status_and_sums() {
        let p = payment(order(
            r#"{"id":"5O2","intent":"CAPTURE","status":"COMPLETED",
                "purchase_units":[{"amount":{"currency_code":"USD","value":"10.00"},
                "payments":{"captures":[{"id":"C1","status":"PARTIALLY_REFUNDED",
                "amount":{"currency_code":"USD","value":"10.00"}}],
                "refunds":[{"id":"R1","status":"COMPLETED","amount":{"currency_code":"USD","value":"2.50"}},
                           {"id":"R2","status":"FAILED","amount":{"currency_code":"USD","value":"1.00"}}]}}]}"#,
        ));
        assert_eq!(p.status(), PaymentStatus::Succeeded);
        assert_eq!(p.amount_captured.unwrap().amount_minor, 1000);
        assert_eq!(p.amount_refunded.unwrap().amount_minor, 250);
        let authorised = order(
            r#"{"id":"5O3","intent":"AUTHORIZE","status":"COMPLETED",
                "purchase_units":[{"amount":{"currency_code":"USD","value":"10.00"},
                "payments":{"authorizations":[{"id":"A1","status":"CREATED"}]}}]}"#,
        );
        assert_eq!(open_authorization(&authorised).as_deref(), Some("A1"));
        let p = payment(authorised);
        assert_eq!(
            (p.status(), p.capture_method()),
            (PaymentStatus::RequiresCapture, CaptureMethod::Manual)
        );
        let declined = payment(order(
            r#"{"id":"5O4","status":"COMPLETED","purchase_units":[{"payments":{"captures":[
                {"id":"C2","status":"DECLINED","status_details":{"reason":"RISK"}}]}}]}"#,
        ));
        assert_eq!(
            (declined.status(), declined.failure_code.as_str()),
            (PaymentStatus::Failed, "RISK")
        );
        assert_eq!(
            payment(order(r#"{"status":"VOIDED"}"#)).status(),
            PaymentStatus::Canceled
        );
        assert_eq!(
            payment(order(r#"{"status":"APPROVED"}"#)).status(),
            PaymentStatus::RequiresCapture
        );
    }

    #[test]
    fn refunds_name_their_capture_and_order() {
        let t: PaypalTransaction = serde_json::from_str(
            r#"{"id":"1JU","status":"COMPLETED","amount":{"currency_code":"USD","value":"1.00"},
                "links":[{"href":"https://api-m.paypal.com/v2/payments/captures/2GG279541U471931P","rel":"up"}]}"#,
        )
        .unwrap();
        assert_eq!(refunded_capture(&t).as_deref(), Some("2GG279541U471931P"));
        let r = refund(t, "5O1");
        assert_eq!(
            (r.status(), r.payment_id.as_str()),
            (RefundStatus::Succeeded, "5O1")
        );
    }

    #[test]
    fn subscriptions_and_payouts() {
        let s: PaypalSubscription = serde_json::from_str(
            r#"{"id":"I-BW452GLLEP1G","plan_id":"P-5ML","status":"APPROVAL_PENDING","quantity":"2",
                "links":[{"href":"https://www.paypal.com/webapps/billing/subscriptions?ba_token=BA-1","rel":"approve"}]}"#,
        )
        .unwrap();
        let s = subscription(s);
        assert_eq!(
            (s.status(), s.quantity),
            (SubscriptionStatus::Incomplete, 2)
        );
        assert!(s.action_url.contains("ba_token"));
        let batch: PaypalPayoutBatch = serde_json::from_str(
            r#"{"batch_header":{"payout_batch_id":"5UX","batch_status":"SUCCESS"},
                "items":[{"transaction_status":"FAILED","errors":{"name":"RECEIVER_UNREGISTERED"},
                "payout_item":{"amount":{"currency":"USD","value":"7.00"},"receiver":"a@b.c"}}]}"#,
        )
        .unwrap();
        let p = payout(batch, None);
        assert_eq!(
            (
                p.status(),
                p.failure_code.as_str(),
                p.amount.unwrap().amount_minor
            ),
            (PayoutStatus::Failed, "RECEIVER_UNREGISTERED", 700)
        );
    }
}
