//! PayPal, against two specs at once: `paypal-checkout_orders_v2.local.json` (Orders v2) and
//! `paypal-payments_payment_v2.local.json` (Payments v2), one Prism each; the proxy sends
//! `/v2/checkout/` to the first and `/v2/payments/` to the second.
//!
//! Adaptations: the OAuth token endpoint is in neither spec, so the proxy answers it itself.
//! Operations that start by reading an order (capture, cancel, refund) need the order in a
//! given state, which Prism's single example is not always in; for those the proxy answers the
//! read with an order in that state, and only the writes that follow go to Prism (the read
//! itself is checked on its own, as "get payment").
//!
//! What the specs cannot check here: Subscriptions v1, Payouts v1 and the webhook
//! verification API (no spec in ../shared/specs covers them), and `PayPal-Request-Id` replay.
//! They are unit-tested and black-box-tested against the fake PayPal instead.

use anyhow::{Context, Result};
use integ_core::config::Env;
use integ_payments::paypal::{Paypal, PaypalConfig};
use integ_payments::provider::PaymentsProvider;
use integ_proto::payments::v1::*;
use serde_json::{Value, json};

use crate::proxy::{Check, Routes, ctx, usd};

const ORDER: &str = "5O190127TN364715T";

/// Checks the PayPal provider against the Orders Prism and the Payments Prism; the failures.
pub async fn check(orders: &str, payments: &str) -> Result<usize> {
    let token = json!({"access_token": "A21AAcontractcheck", "token_type": "Bearer",
        "expires_in": 32400});
    let routes = Routes {
        prisms: vec![
            ("/v2/checkout/".to_owned(), orders.to_owned()),
            ("/v2/payments/".to_owned(), payments.to_owned()),
        ],
        canned: vec![("/v1/oauth2/token".to_owned(), 200, token)],
        rewrite: <[u8]>::to_vec,
    };
    let mut check = Check::start(routes).await?;
    let env = Env::from_pairs([
        ("INTEG_PAYPAL_CLIENT_ID", "AYcontractcheck".to_owned()),
        ("INTEG_PAYPAL_CLIENT_SECRET", "EOcontractcheck".to_owned()),
        ("INTEG_PAYPAL_BASE_URL", check.url.clone()),
    ]);
    let config = PaypalConfig::from_env(&env).context("PayPal settings")?;
    all(&mut check, &Paypal::new(config)).await;
    Ok(check.failures)
}

/// An order as PayPal answers a read, with `payments` in its purchase unit.
fn order(intent: &str, status: &str, payments: Value) -> Value {
    json!({"id": ORDER, "intent": intent, "status": status,
        "purchase_units": [{"reference_id": "default",
            "amount": {"currency_code": "USD", "value": "50.00"}, "payments": payments}],
        "create_time": "2024-05-01T12:00:00Z"})
}

async fn all(check: &mut Check, p: &Paypal) {
    let payment = |method: &str, capture: CaptureMethod, return_url: &str| CreatePaymentRequest {
        amount: usd(5000),
        capture_method: capture.into(),
        payment_method: method.into(),
        description: "order 42".into(),
        return_url: return_url.into(),
        ..Default::default()
    };
    let approval = payment("", CaptureMethod::Immediate, "https://shop.example/return");
    check
        .op(
            "create payment, payer approval",
            p.create_payment(&ctx("pay1"), &approval),
        )
        .await;
    let vaulted = payment("8kk8451t", CaptureMethod::Manual, "");
    check
        .op(
            "create payment, vaulted wallet",
            p.create_payment(&ctx("pay2"), &vaulted),
        )
        .await;
    let card = payment("card:9dn3jk", CaptureMethod::Immediate, "");
    check
        .op(
            "create payment, vaulted card",
            p.create_payment(&ctx("pay3"), &card),
        )
        .await;
    check
        .op("get payment", p.get_payment(&ctx(""), ORDER))
        .await;

    let path = format!("/v2/checkout/orders/{ORDER}");
    check.answer(&path, 200, order("CAPTURE", "APPROVED", json!({})));
    check
        .op(
            "capture payment, intent capture",
            p.capture_payment(&ctx("cap1"), ORDER, None),
        )
        .await;
    check.answer(&path, 200, order("AUTHORIZE", "APPROVED", json!({})));
    let part = usd(3000);
    check
        .op(
            "capture payment, authorise then capture in part",
            p.capture_payment(&ctx("cap2"), ORDER, part.as_ref()),
        )
        .await;
    let authorised = json!({"authorizations": [{"id": "0VF52814937998046", "status": "CREATED",
        "amount": {"currency_code": "USD", "value": "50.00"}}]});
    check.answer(&path, 200, order("AUTHORIZE", "COMPLETED", authorised));
    check
        .op(
            "cancel payment (void)",
            p.cancel_payment(&ctx("void"), ORDER),
        )
        .await;

    let captured = json!({"captures": [{"id": "2GG279541U471931P", "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "50.00"}}]});
    check.answer(&path, 200, order("CAPTURE", "COMPLETED", captured));
    let refund = CreateRefundRequest {
        payment_id: ORDER.into(),
        amount: usd(1000),
        note: "asked nicely".into(),
        ..Default::default()
    };
    check
        .op("create refund", p.create_refund(&ctx("refund"), &refund))
        .await;
    check
        .op(
            "get refund (and its capture)",
            p.get_refund(&ctx(""), "1JU08902781691411"),
        )
        .await;
}
