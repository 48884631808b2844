//! Pure state changes of sandbox objects, kept apart from storage so they are easy to test.

use std::time::{Duration, SystemTime};

use integ_core::family::timestamp;
use integ_core::ids::new_id;
use integ_core::{Error, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CaptureMethod, CreateCustomerRequest, CreatePaymentRequest, CreatePayoutRequest,
    CreateRefundRequest, CreateSubscriptionRequest, Customer, Payment, PaymentStatus, Payout,
    PayoutStatus, Refund, RefundStatus, Subscription, SubscriptionStatus,
};

use super::{NAME, refused as refusal};

const PERIOD: Duration = Duration::from_secs(30 * 24 * 3600);

fn now() -> Option<prost_types::Timestamp> {
    Some(timestamp(SystemTime::now()))
}

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: currency.to_owned(),
    })
}

pub(super) fn new_payment(request: &CreatePaymentRequest) -> Payment {
    let amount = request.amount.clone().unwrap_or_default();
    let manual = request.capture_method() == CaptureMethod::Manual;
    let needs_action = request.payment_method == "pm_card_authenticationRequired";
    let provider_id = new_id("pi_sbx");
    let status = match (needs_action, manual) {
        (true, _) => PaymentStatus::RequiresAction,
        (false, true) => PaymentStatus::RequiresCapture,
        (false, false) => PaymentStatus::Succeeded,
    };
    let captured = if status == PaymentStatus::Succeeded {
        amount.amount_minor
    } else {
        0
    };
    Payment {
        provider: NAME.to_owned(),
        action_url: if needs_action {
            format!("https://sandbox.integ.dev/authenticate/{provider_id}")
        } else {
            String::new()
        },
        provider_id,
        status: status.into(),
        capture_method: request.capture_method,
        amount_captured: money(captured, &amount.currency),
        amount_refunded: money(0, &amount.currency),
        amount: Some(amount),
        customer_id: request.customer_id.clone(),
        description: request.description.clone(),
        metadata: request.metadata.clone(),
        create_time: now(),
        update_time: now(),
        ..Payment::default()
    }
}

/// The event a new payment reports, if any.
pub(super) fn payment_event(payment: &Payment) -> Option<&'static str> {
    match payment.status() {
        PaymentStatus::Succeeded => Some("payment.succeeded"),
        PaymentStatus::RequiresCapture => Some("payment.authorized"),
        _ => None,
    }
}

pub(super) fn capture(payment: &mut Payment, amount: Option<&Money>) -> Result<()> {
    if payment.status() != PaymentStatus::RequiresCapture {
        return Err(refusal(
            "payment_intent_unexpected_state",
            "only a payment awaiting capture can be captured",
        ));
    }
    let authorised = payment.amount.clone().unwrap_or_default();
    let take = amount.map_or(authorised.amount_minor, |m| m.amount_minor);
    if take > authorised.amount_minor {
        return Err(refusal(
            "amount_too_large",
            "capture amount exceeds the authorised amount",
        ));
    }
    payment.amount_captured = money(take, &authorised.currency);
    payment.set_status(PaymentStatus::Succeeded);
    payment.update_time = now();
    Ok(())
}

pub(super) fn cancel(payment: &mut Payment) -> Result<()> {
    if !matches!(
        payment.status(),
        PaymentStatus::RequiresCapture | PaymentStatus::RequiresAction
    ) {
        return Err(refusal(
            "payment_intent_unexpected_state",
            "only a payment that is not captured can be canceled",
        ));
    }
    payment.set_status(PaymentStatus::Canceled);
    payment.update_time = now();
    Ok(())
}

pub(super) fn refund(payment: &mut Payment, request: &CreateRefundRequest) -> Result<Refund> {
    if payment.status() != PaymentStatus::Succeeded {
        return Err(refusal(
            "charge_not_refundable",
            "only a captured payment can be refunded",
        ));
    }
    let captured = payment.amount_captured.clone().unwrap_or_default();
    let refunded = payment
        .amount_refunded
        .as_ref()
        .map_or(0, |m| m.amount_minor);
    let remaining = captured.amount_minor - refunded;
    let amount = request
        .amount
        .as_ref()
        .map_or(remaining, |m| m.amount_minor);
    if let Some(m) = &request.amount
        && m.currency != captured.currency
    {
        return Err(Error::invalid(
            "amount.currency",
            "refund currency must match the payment's",
        )
        .with_provider(NAME));
    }
    if amount <= 0 || amount > remaining {
        return Err(refusal(
            "amount_too_large",
            "refund amount exceeds what remains captured",
        ));
    }
    payment.amount_refunded = money(refunded + amount, &captured.currency);
    payment.update_time = now();
    Ok(Refund {
        provider: NAME.to_owned(),
        provider_id: new_id("re_sbx"),
        payment_id: payment.provider_id.clone(),
        status: RefundStatus::Succeeded.into(),
        amount: money(amount, &captured.currency),
        reason: request.reason,
        note: request.note.clone(),
        create_time: now(),
        update_time: now(),
        ..Refund::default()
    })
}

pub(super) fn new_customer(request: &CreateCustomerRequest) -> Customer {
    Customer {
        provider: NAME.to_owned(),
        provider_id: new_id("cus_sbx"),
        email: request.email.clone(),
        name: request.name.clone(),
        phone: request.phone.clone(),
        metadata: request.metadata.clone(),
        create_time: now(),
        ..Customer::default()
    }
}

pub(super) fn new_subscription(request: &CreateSubscriptionRequest) -> Result<Subscription> {
    if !request.price_id.starts_with("price_") {
        return Err(Error::invalid(
            "price_id",
            "no such price; sandbox prices start with price_",
        )
        .with_provider(NAME));
    }
    let declined = matches!(
        request.payment_method.as_str(),
        "pm_card_chargeDeclined" | "pm_card_chargeDeclinedInsufficientFunds"
    );
    let start = SystemTime::now();
    Ok(Subscription {
        provider: NAME.to_owned(),
        provider_id: new_id("sub_sbx"),
        customer_id: request.customer_id.clone(),
        price_id: request.price_id.clone(),
        quantity: request.quantity.max(1),
        status: if declined {
            SubscriptionStatus::Incomplete
        } else {
            SubscriptionStatus::Active
        }
        .into(),
        current_period_start_time: Some(timestamp(start)),
        current_period_end_time: Some(timestamp(start + PERIOD)),
        metadata: request.metadata.clone(),
        create_time: Some(timestamp(start)),
        ..Subscription::default()
    })
}

pub(super) fn cancel_subscription(
    subscription: &mut Subscription,
    at_period_end: bool,
) -> Result<()> {
    if subscription.status() == SubscriptionStatus::Canceled {
        return Err(refusal(
            "subscription_canceled",
            "the subscription is already canceled",
        ));
    }
    if at_period_end {
        subscription.cancel_at_period_end = true;
        subscription.cancel_time = subscription.current_period_end_time;
    } else {
        subscription.set_status(SubscriptionStatus::Canceled);
        subscription.cancel_time = now();
    }
    Ok(())
}

pub(super) fn new_payout(request: &CreatePayoutRequest) -> Payout {
    let failed = request.destination == "ba_closed_account";
    Payout {
        id: String::new(),
        provider: NAME.to_owned(),
        provider_id: new_id("po_sbx"),
        status: if failed {
            PayoutStatus::Failed
        } else {
            PayoutStatus::Paid
        }
        .into(),
        amount: request.amount.clone(),
        destination: request.destination.clone(),
        description: request.description.clone(),
        failure_code: if failed {
            "account_closed".to_owned()
        } else {
            String::new()
        },
        expected_arrival_time: now(),
        create_time: now(),
        update_time: now(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn usd(n: i64) -> Option<Money> {
        money(n, "USD")
    }

    fn manual(amount: i64) -> Payment {
        new_payment(&CreatePaymentRequest {
            amount: usd(amount),
            capture_method: CaptureMethod::Manual.into(),
            payment_method: "pm_card_visa".into(),
            ..Default::default()
        })
    }

    #[test]
    fn partial_capture_then_refunds_up_to_what_was_captured() {
        let mut p = manual(1000);
        assert_eq!(p.status(), PaymentStatus::RequiresCapture);
        capture(&mut p, usd(600).as_ref()).unwrap();
        assert_eq!(p.amount_captured, usd(600));
        let r = refund(
            &mut p,
            &CreateRefundRequest {
                amount: usd(400),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.amount, usd(400));
        let err = refund(
            &mut p,
            &CreateRefundRequest {
                amount: usd(201),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.provider_code.as_deref(), Some("amount_too_large"));
        let rest = refund(&mut p, &CreateRefundRequest::default()).unwrap();
        assert_eq!(rest.amount, usd(200), "no amount refunds what remains");
    }

    #[test]
    fn capture_above_authorised_and_cancel_after_capture_are_refused() {
        let mut p = manual(1000);
        assert!(capture(&mut p, usd(1001).as_ref()).is_err());
        capture(&mut p, None).unwrap();
        assert!(capture(&mut p, None).is_err());
        assert!(cancel(&mut p).is_err());
    }

    #[test]
    fn subscriptions_cancel_now_or_at_period_end() {
        let req = CreateSubscriptionRequest {
            price_id: "price_basic".into(),
            ..Default::default()
        };
        let mut s = new_subscription(&req).unwrap();
        assert_eq!((s.status(), s.quantity), (SubscriptionStatus::Active, 1));
        cancel_subscription(&mut s, true).unwrap();
        assert!(s.cancel_at_period_end && s.status() == SubscriptionStatus::Active);
        cancel_subscription(&mut s, false).unwrap();
        assert_eq!(s.status(), SubscriptionStatus::Canceled);
        assert!(
            new_subscription(&CreateSubscriptionRequest {
                price_id: "basic".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}
