//! Square, against `square-api.local.json` (the Connect API of 2025-08, `Square-Version`
//! 2025-08-20).
//!
//! No adaptation: requests go to Prism as sent, JSON bodies included. Prism answers with the
//! spec's examples, so each operation reads an example object back; the refund without an
//! amount first reads the example payment to work out what remains.
//!
//! A Prism limitation: the spec's own example payment lacks `risk_evaluation.status`, which
//! its schema requires, so Prism flags its answers to CreatePayment and CancelPayment. Those
//! violations are about Prism's answer, not our request, and the proxy leaves them out.
//!
//! What the spec cannot check here: the `Square-Version` header (the spec lists it as an
//! additional header of its security scheme, which Prism does not validate), idempotency, and
//! the operations the provider answers itself without a request (partial capture, payouts,
//! subscription quantities above 1, canceling a subscription now): they are unit-tested and
//! black-box-tested against the fake Square instead.

use anyhow::{Context, Result};
use integ_core::config::Env;
use integ_payments::provider::PaymentsProvider;
use integ_payments::square::{Square, SquareConfig};
use integ_proto::payments::v1::*;

use crate::proxy::{Check, Routes, ctx, usd};

/// Checks every operation of the Square provider against the Prism at `prism`; the failures.
pub async fn check(prism: &str) -> Result<usize> {
    let mut check = Check::start(Routes::one(prism)).await?;
    let env = Env::from_pairs([
        (
            "INTEG_SQUARE_ACCESS_TOKEN",
            "EAAAl_contract_check".to_owned(),
        ),
        ("INTEG_SQUARE_BASE_URL", check.url.clone()),
        ("INTEG_SQUARE_LOCATION_ID", "L88917AVBK2S5".to_owned()),
    ]);
    let config = SquareConfig::from_env(&env).context("Square settings")?;
    all(&mut check, &Square::new(config)).await;
    Ok(check.failures)
}

async fn all(check: &mut Check, s: &Square) {
    payments(check, s).await;
    refunds(check, s).await;
    customers_and_subscriptions(check, s).await;
}

async fn payments(check: &mut Check, s: &Square) {
    let payment = CreatePaymentRequest {
        amount: usd(5000),
        capture_method: CaptureMethod::Manual.into(),
        payment_method: "cnon:card-nonce-ok".into(),
        customer_id: "W92WH6P11H4Z77CTET0RNTGFW8".into(),
        description: "order 42".into(),
        ..Default::default()
    };
    check
        .op("create payment", s.create_payment(&ctx("pay"), &payment))
        .await;
    let immediate = CreatePaymentRequest {
        capture_method: CaptureMethod::Immediate.into(),
        customer_id: String::new(),
        description: String::new(),
        ..payment
    };
    check
        .op(
            "create payment, immediate",
            s.create_payment(&ctx("pay2"), &immediate),
        )
        .await;
    let id = "R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY";
    check.op("get payment", s.get_payment(&ctx(""), id)).await;
    check
        .op(
            "capture payment",
            s.capture_payment(&ctx("capture"), id, None),
        )
        .await;
    check
        .op("cancel payment", s.cancel_payment(&ctx("cancel"), id))
        .await;
}

async fn refunds(check: &mut Check, s: &Square) {
    let refund = CreateRefundRequest {
        payment_id: "R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY".into(),
        amount: usd(1000),
        reason: RefundReason::RequestedByCustomer.into(),
        note: "asked nicely".into(),
        ..Default::default()
    };
    check
        .op("create refund", s.create_refund(&ctx("refund"), &refund))
        .await;
    let rest = CreateRefundRequest {
        amount: None,
        note: String::new(),
        ..refund
    };
    check
        .op(
            "create refund, of the rest",
            s.create_refund(&ctx("refund2"), &rest),
        )
        .await;
    check
        .op(
            "get refund",
            s.get_refund(
                &ctx(""),
                "UNOFPDZdpVMjgDvRW5JN3q6VWVq3C_OtjfuYnN0j7sFeBNBHVuYqiXGq",
            ),
        )
        .await;
}

async fn customers_and_subscriptions(check: &mut Check, s: &Square) {
    let customer = CreateCustomerRequest {
        email: "ada@example.com".into(),
        name: "Ada Lovelace".into(),
        phone: "+15555550100".into(),
        ..Default::default()
    };
    check
        .op(
            "create customer",
            s.create_customer(&ctx("customer"), &customer),
        )
        .await;
    check
        .op(
            "get customer",
            s.get_customer(&ctx(""), "JDKYHBWT1D4F8MFH63DBMEN8Y4"),
        )
        .await;
    let subscription = CreateSubscriptionRequest {
        customer_id: "CHFGVKYY8RSV93M5KCYTG4PN0G".into(),
        price_id: "6JHXF3B2CW3YKHDV4XEM674H".into(),
        quantity: 1,
        payment_method: "ccof:qy5x8hHGYsgLrp4Q4GB".into(),
        ..Default::default()
    };
    check
        .op(
            "create subscription",
            s.create_subscription(&ctx("sub"), &subscription),
        )
        .await;
    let sub = "56214fb2-cc85-47a1-93bc-44f3766bb56f";
    check
        .op("get subscription", s.get_subscription(&ctx(""), sub))
        .await;
    check
        .op(
            "cancel subscription, at period end",
            s.cancel_subscription(&ctx("sub-end"), sub, true),
        )
        .await;
}
