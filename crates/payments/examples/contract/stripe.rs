//! Stripe, against `stripe-spec3.payments-subset.json` (API version 2023-08-16).
//!
//! One adaptation: Prism cannot read arrays of objects in a form body (`items[0][price]=…`,
//! which is how Stripe and its libraries send them) and answers 415. The proxy rewrites such
//! groups into the JSON array Prism reads; the rest of the body is checked as sent. Prism then
//! accepts the items without checking their fields, which the unit tests of the request
//! builders and the black-box tests against the fake Stripe cover instead.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use integ_core::config::Env;
use integ_payments::provider::PaymentsProvider;
use integ_payments::stripe::{Stripe, StripeConfig};
use integ_proto::payments::v1::*;
use serde_json::Value;

use crate::proxy::{Check, Routes, ctx, usd};

/// Checks every operation of the Stripe provider against the Prism at `prism`; the failures.
pub async fn check(prism: &str) -> Result<usize> {
    let routes = Routes {
        rewrite: prism_form,
        ..Routes::one(prism)
    };
    let mut check = Check::start(routes).await?;
    let env = Env::from_pairs([
        ("INTEG_STRIPE_API_KEY", "sk_test_contract_check".to_owned()),
        ("INTEG_STRIPE_BASE_URL", check.url.clone()),
        ("INTEG_STRIPE_ACCOUNT", "acct_1ContractCheck".to_owned()),
    ]);
    let config = StripeConfig::from_env(&env).context("Stripe settings")?;
    all(&mut check, &Stripe::new(config)).await;
    Ok(check.failures)
}

async fn all(check: &mut Check, s: &Stripe) {
    let metadata = BTreeMap::from([("order".to_owned(), "42".to_owned())]);
    let payment = CreatePaymentRequest {
        amount: usd(5000),
        capture_method: CaptureMethod::Manual.into(),
        payment_method: "pm_card_visa".into(),
        customer_id: "cus_contract".into(),
        description: "order 42".into(),
        metadata: metadata.clone(),
        ..Default::default()
    };
    check
        .op("create payment", s.create_payment(&ctx("pay"), &payment))
        .await;
    let redirecting = CreatePaymentRequest {
        capture_method: CaptureMethod::Immediate.into(),
        return_url: "https://shop.example/return".into(),
        customer_id: String::new(),
        ..payment
    };
    check
        .op(
            "create payment, return URL",
            s.create_payment(&ctx("pay2"), &redirecting),
        )
        .await;
    check
        .op("get payment", s.get_payment(&ctx(""), "pi_contract"))
        .await;
    let part = usd(3000);
    check
        .op(
            "capture payment",
            s.capture_payment(&ctx("capture"), "pi_contract", part.as_ref()),
        )
        .await;
    check
        .op(
            "capture payment, in full",
            s.capture_payment(&ctx("capture2"), "pi_contract", None),
        )
        .await;
    check
        .op(
            "cancel payment",
            s.cancel_payment(&ctx("cancel"), "pi_contract"),
        )
        .await;
    let refund = CreateRefundRequest {
        payment_id: "pi_contract".into(),
        amount: usd(1000),
        reason: RefundReason::RequestedByCustomer.into(),
        note: "asked nicely".into(),
        ..Default::default()
    };
    check
        .op("create refund", s.create_refund(&ctx("refund"), &refund))
        .await;
    check
        .op("get refund", s.get_refund(&ctx(""), "re_contract"))
        .await;
    let customer = CreateCustomerRequest {
        email: "ada@example.com".into(),
        name: "Ada Lovelace".into(),
        phone: "+15555550100".into(),
        metadata: metadata.clone(),
        ..Default::default()
    };
    check
        .op(
            "create customer",
            s.create_customer(&ctx("customer"), &customer),
        )
        .await;
    check
        .op("get customer", s.get_customer(&ctx(""), "cus_contract"))
        .await;
    let subscription = CreateSubscriptionRequest {
        customer_id: "cus_contract".into(),
        price_id: "price_contract".into(),
        quantity: 2,
        payment_method: "pm_card_visa".into(),
        metadata,
        ..Default::default()
    };
    check
        .op(
            "create subscription",
            s.create_subscription(&ctx("sub"), &subscription),
        )
        .await;
    check
        .op(
            "get subscription",
            s.get_subscription(&ctx(""), "sub_contract"),
        )
        .await;
    check
        .op(
            "cancel subscription, at period end",
            s.cancel_subscription(&ctx("sub-end"), "sub_contract", true),
        )
        .await;
    check
        .op(
            "cancel subscription, now",
            s.cancel_subscription(&ctx("sub-now"), "sub_contract", false),
        )
        .await;
    let payout = CreatePayoutRequest {
        amount: usd(700),
        destination: "ba_contract".into(),
        description: "Weekly payout".into(),
        ..Default::default()
    };
    check
        .op("create payout", s.create_payout(&ctx("payout"), &payout))
        .await;
    check
        .op("get payout", s.get_payout(&ctx(""), "po_contract"))
        .await;
}

/// The body with `name[N][field]=v` groups turned into `name=<JSON array>`, which is how Prism
/// reads arrays of objects in a form; everything else is passed as sent.
fn prism_form(body: &[u8]) -> Vec<u8> {
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    let mut arrays: BTreeMap<String, BTreeMap<usize, serde_json::Map<String, Value>>> =
        BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        match object_in_array(&key) {
            Some((name, index, field)) => {
                arrays
                    .entry(name)
                    .or_default()
                    .entry(index)
                    .or_default()
                    .insert(field, Value::String(value.into_owned()));
            }
            None => {
                kept.append_pair(&key, &value);
            }
        }
    }
    for (name, items) in arrays {
        let list: Vec<Value> = items.into_values().map(Value::Object).collect();
        kept.append_pair(&name, &Value::Array(list).to_string());
    }
    kept.finish().into_bytes()
}

/// `items[0][price]` as `("items", 0, "price")`.
fn object_in_array(key: &str) -> Option<(String, usize, String)> {
    let (name, rest) = key.split_once('[')?;
    let (index, rest) = rest.split_once("][")?;
    let field = rest.strip_suffix(']')?;
    let index = index.parse().ok()?;
    (!field.contains('[')).then(|| (name.to_owned(), index, field.to_owned()))
}
