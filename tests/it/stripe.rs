//! The payments adapter over Stripe, against the fake Stripe of the test kit: the whole wire
//! path (form encoding, headers, idempotency keys, error mapping, retries) through the real
//! binary, and Stripe's signed webhooks into the events service.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_proto::payments::v1::*;
use integ_testkit::fake_stripe::FakeStripe;
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::webhooks::sdk_sign;
use crate::{assert_status, get_payment, headers, key, usd};

const KEY: &str = "sk_test_51Integ0fakeStripeKey";
const ACCOUNT: &str = "acct_1IntegConnected";
const WEBHOOK_SECRET: &str = "whsec_integ_test_5Wq2Zr8pLx3N";

fn start(fake: &FakeStripe) -> Start {
    Start::new("payments")
        .env("INTEG_PAYMENTS_PROVIDERS", "stripe")
        .env("INTEG_STRIPE_API_KEY", KEY)
        .env("INTEG_STRIPE_BASE_URL", fake.url())
}

async fn client(start: Start) -> (Running, PaymentsServiceClient<Channel>) {
    let adapter = start.spawn().await.unwrap();
    let client = PaymentsServiceClient::new(adapter.channel().await);
    (adapter, client)
}

fn payment(method: &str, capture: CaptureMethod, amount: i64) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount: usd(amount),
        capture_method: capture.into(),
        payment_method: method.into(),
        description: "order 42".into(),
        metadata: [("order".to_owned(), "42".to_owned())].into(),
        idempotency_key: key("pay"),
        ..Default::default()
    }
}

#[tokio::test]
async fn payment_lifecycle_over_stripe_with_its_headers() {
    let fake = FakeStripe::start().await;
    let (_adapter, mut c) = client(start(&fake).env("INTEG_STRIPE_ACCOUNT", ACCOUNT)).await;
    let created = c
        .create_payment(payment("pm_card_visa", CaptureMethod::Manual, 5000))
        .await
        .unwrap()
        .into_inner();
    let p = created.payment.unwrap();
    assert_eq!(created.provider, "stripe");
    assert!(
        p.id.starts_with("pay_") && p.provider_id.starts_with("pi_"),
        "{p:?}"
    );
    assert_eq!(p.status(), PaymentStatus::RequiresCapture);
    assert_eq!(
        (p.amount.clone(), p.metadata["order"].as_str()),
        (usd(5000), "42")
    );

    let captured = c
        .capture_payment(CapturePaymentRequest {
            id: p.id.clone(),
            amount: usd(3000),
            idempotency_key: key("capture"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(
        (captured.status(), captured.amount_captured.clone()),
        (PaymentStatus::Succeeded, usd(3000))
    );

    let refund = c
        .create_refund(CreateRefundRequest {
            payment_id: p.id.clone(),
            amount: usd(1000),
            reason: RefundReason::RequestedByCustomer.into(),
            note: "asked nicely".into(),
            idempotency_key: key("refund"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert!(refund.id.starts_with("re_") && refund.provider_id.starts_with("re_"));
    assert_eq!(
        (
            refund.payment_id.as_str(),
            refund.status(),
            refund.note.as_str()
        ),
        (p.id.as_str(), RefundStatus::Succeeded, "asked nicely")
    );
    let too_much = c
        .create_refund(CreateRefundRequest {
            payment_id: p.id.clone(),
            amount: usd(2001),
            idempotency_key: key("refund"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&too_much, Code::FailedPrecondition, "PRECONDITION_FAILED");

    let read = get_payment(&mut c, &p.id).await;
    assert_eq!(
        (read.amount_captured, read.amount_refunded),
        (usd(3000), usd(1000))
    );
    let read = c
        .get_refund(GetRefundRequest {
            id: refund.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.refund.unwrap().amount, usd(1000));

    let requests = fake.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.header("stripe-version"), Some("2023-08-16"), "{r:?}");
        assert_eq!(r.header("stripe-account"), Some(ACCOUNT));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(
            r.header("idempotency-key").is_some(),
            r.method == "POST",
            "POSTs and only POSTs carry a key: {r:?}"
        );
    }
    let create = &fake.requests_to("POST", "/v1/payment_intents")[0];
    assert_eq!(create.params["currency"], "usd");
    assert_eq!(create.params["metadata"]["order"], "42");
    assert_eq!(create.params["confirm"], "true");
}

#[tokio::test]
async fn customers_subscriptions_cancellation_and_payouts() {
    let fake = FakeStripe::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let customer = c
        .create_customer(CreateCustomerRequest {
            email: "ada@example.com".into(),
            name: "Ada".into(),
            idempotency_key: key("customer"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert!(customer.id.starts_with("cus_") && customer.provider_id.starts_with("cus_"));
    let read = c
        .get_customer(GetCustomerRequest {
            id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.customer.unwrap().email, "ada@example.com");

    let p = c
        .create_payment(CreatePaymentRequest {
            customer_id: customer.id.clone(),
            ..payment("pm_card_visa", CaptureMethod::Manual, 700)
        })
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(
        p.customer_id, customer.id,
        "the customer comes back as our id"
    );
    let canceled = c
        .cancel_payment(CancelPaymentRequest {
            id: p.id.clone(),
            idempotency_key: key("cancel"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(canceled.payment.unwrap().status(), PaymentStatus::Canceled);

    let sub = c
        .create_subscription(CreateSubscriptionRequest {
            customer_id: customer.id.clone(),
            price_id: "price_monthly".into(),
            quantity: 2,
            idempotency_key: key("sub"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(
        (
            sub.customer_id.as_str(),
            sub.status(),
            sub.quantity,
            sub.price_id.as_str()
        ),
        (
            customer.id.as_str(),
            SubscriptionStatus::Active,
            2,
            "price_monthly"
        )
    );
    let at_end = c
        .cancel_subscription(CancelSubscriptionRequest {
            id: sub.id.clone(),
            at_period_end: true,
            idempotency_key: key("sub-cancel"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert!(at_end.cancel_at_period_end && at_end.status() == SubscriptionStatus::Active);
    // The DELETE carries no idempotency key: its lost answer is recovered by reading back.
    fake.drop_next(1);
    let now = c
        .cancel_subscription(CancelSubscriptionRequest {
            id: sub.id.clone(),
            idempotency_key: key("sub-cancel"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(now.status(), SubscriptionStatus::Canceled);
    let deletes = fake.requests_to("DELETE", &format!("/v1/subscriptions/{}", sub.provider_id));
    assert_eq!(
        deletes.iter().map(|r| r.status).collect::<Vec<_>>(),
        [0, 404],
        "the first answer was lost; the retry found it already canceled"
    );
    let bad_price = c
        .create_subscription(CreateSubscriptionRequest {
            customer_id: customer.id.clone(),
            price_id: "monthly".into(),
            idempotency_key: key("sub"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&bad_price, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(
        bad_price
            .get_details_bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "price_id",
        "Stripe's items[0][price] is our price_id"
    );

    let payout = c
        .create_payout(CreatePayoutRequest {
            amount: usd(100),
            destination: "ba_123".into(),
            description: "Weekly payout".into(),
            idempotency_key: key("payout"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payout
        .unwrap();
    assert_eq!(payout.status(), PayoutStatus::InTransit);
    let read = c
        .get_payout(GetPayoutRequest {
            id: payout.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.payout.unwrap().provider_id, payout.provider_id);
    let failed = c
        .create_payout(CreatePayoutRequest {
            amount: usd(100),
            destination: "ba_closed_account".into(),
            idempotency_key: key("payout"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payout
        .unwrap();
    assert_eq!(
        (failed.status(), failed.failure_code.as_str()),
        (PayoutStatus::Failed, "account_closed")
    );
}

#[tokio::test]
async fn a_decline_is_a_failed_precondition_sent_once() {
    let fake = FakeStripe::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let declined = c
        .create_payment(payment(
            "pm_card_chargeDeclined",
            CaptureMethod::Immediate,
            100,
        ))
        .await
        .unwrap_err();
    assert_status(&declined, Code::FailedPrecondition, "DECLINED");
    let info = declined.get_details_error_info().unwrap();
    assert_eq!(
        (
            info.metadata["provider"].as_str(),
            info.metadata["provider_code"].as_str()
        ),
        ("stripe", "generic_decline")
    );
    assert_eq!(info.metadata["retryable"], "false");
    assert_eq!(
        fake.requests_to("POST", "/v1/payment_intents").len(),
        1,
        "a decline is never retried"
    );
}

#[tokio::test]
async fn a_503_is_retried_with_the_same_idempotency_key() {
    let fake = FakeStripe::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    fake.fail_next(1, 503);
    let p = c
        .create_payment(payment("pm_card_visa", CaptureMethod::Immediate, 1200))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(p.status(), PaymentStatus::Succeeded);
    let sent = fake.requests_to("POST", "/v1/payment_intents");
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 200]
    );
    let keys: Vec<_> = sent.iter().map(|r| r.header("idempotency-key")).collect();
    assert!(keys[0].is_some_and(|k| k.starts_with("integ-")), "{keys:?}");
    assert_eq!(keys[0], keys[1]);
    assert_eq!(fake.payment_intents_created(), 1);
}

#[tokio::test]
async fn a_lost_response_charges_once_and_returns_the_same_payment() {
    let fake = FakeStripe::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    fake.drop_next(1);
    let request = payment("pm_card_visa", CaptureMethod::Immediate, 4200);
    let p = c
        .create_payment(request.clone())
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let sent = fake.requests_to("POST", "/v1/payment_intents");
    assert_eq!(sent.len(), 2, "the lost answer was retried: {sent:?}");
    assert_eq!((sent[0].status, sent[1].replayed), (0, true));
    assert_eq!(
        sent[0].header("idempotency-key"),
        sent[1].header("idempotency-key")
    );
    assert_eq!(fake.payment_intents_created(), 1, "charged once");

    let again = c.create_payment(request).await.unwrap().into_inner();
    assert_eq!(
        again.payment.unwrap(),
        p,
        "the caller's retry gets the same payment"
    );
    assert_eq!(fake.requests_to("POST", "/v1/payment_intents").len(), 2);
}

#[tokio::test]
async fn a_refused_api_key_never_shows_up_in_errors_or_logs() {
    const CANARY: &str = "sk_live_canary_7f3e9a5Qx";
    let fake = FakeStripe::start().await;
    let start = Start::new("payments")
        .env("INTEG_PAYMENTS_PROVIDERS", "stripe")
        .env("INTEG_STRIPE_API_KEY", CANARY)
        .env("INTEG_STRIPE_BASE_URL", fake.url())
        .env("INTEG_LOG", "debug");
    let (adapter, mut c) = client(start).await;
    let err = c
        .create_payment(payment("pm_card_visa", CaptureMethod::Immediate, 100))
        .await
        .unwrap_err();
    assert_status(&err, Code::Internal, "PROVIDER_AUTH");
    assert_eq!(fake.requests().len(), 1, "a refused key is not retried");
    let shown = format!("{err:?} {}", String::from_utf8_lossy(err.details()));
    assert!(!shown.contains("canary"), "{shown}");
    // The fake's 401 body quoted the whole key; none of it may travel further.
    assert_eq!(fake.requests()[0].status, 401);
    for line in adapter.logs() {
        assert!(!line.contains("canary"), "key in log line: {line}");
    }
}

/// Signed by Stripe's own Node library (`tests/signers/sign.mjs stripe`), not by our code.
#[tokio::test]
async fn a_signed_stripe_webhook_is_stored_and_delivered_as_a_payment_event() {
    let fake = FakeStripe::start().await;
    let (adapter, mut c) =
        client(start(&fake).env("INTEG_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)).await;
    let p = c
        .create_payment(payment("pm_card_visa", CaptureMethod::Immediate, 900))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let mut consumer =
        crate::events::consume(adapter.channel().await, "ledger", &["payment."], 30).await;

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = format!(
        r#"{{"id":"evt_1IntegTest","object":"event","type":"payment_intent.succeeded","created":{now},"api_version":"2023-08-16","data":{{"object":{{"id":"{}","object":"payment_intent","status":"succeeded"}}}}}}"#,
        p.provider_id
    );
    let url = format!("http://{}/webhooks/stripe", adapter.http);
    let http = reqwest::Client::new();
    let forged = http
        .post(&url)
        .headers(headers(&sdk_sign(
            "stripe",
            "whsec_not_ours_9f3a",
            &body,
            now,
        )))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let sent = http
        .post(&url)
        .header("content-type", "application/json")
        .headers(headers(&sdk_sign("stripe", WEBHOOK_SECRET, &body, now)))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);

    let got = consumer.take(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let event = got[0].event.clone().unwrap();
    assert_eq!(
        (
            event.r#type.as_str(),
            event.provider.as_str(),
            event.provider_type.as_str()
        ),
        ("payment.succeeded", "stripe", "payment_intent.succeeded")
    );
    assert_eq!(event.provider_event_id, "evt_1IntegTest");
    let resource = event.resource.unwrap();
    assert_eq!(
        (
            resource.kind.as_str(),
            resource.id.as_str(),
            resource.provider_id.as_str()
        ),
        ("payment", p.id.as_str(), p.provider_id.as_str())
    );
    assert_eq!(event.occur_time.unwrap().seconds, now as i64);
    assert_eq!(event.payload, body.as_bytes());
}

/// A second Stripe account's webhooks arrive at their own path, checked with its own secret,
/// and its events say which account they came from.
#[tokio::test]
async fn each_webhook_account_has_its_own_path_and_secret() {
    const EU_SECRET: &str = "whsec_integ_eu_account_7Hq2Lm";
    let fake = FakeStripe::start().await;
    let (adapter, _c) = client(
        start(&fake)
            .env("INTEG_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("INTEG_STRIPE_WEBHOOK_ACCOUNTS", "eu")
            .env("INTEG_STRIPE_WEBHOOK_SECRET_EU", EU_SECRET),
    )
    .await;
    let mut consumer =
        crate::events::consume(adapter.channel().await, "accounts", &["payment."], 30).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = format!(
        r#"{{"id":"evt_1IntegAccounts","object":"event","type":"payment_intent.succeeded","created":{now},"data":{{"object":{{"id":"pi_1Accounts","object":"payment_intent","status":"succeeded"}}}}}}"#
    );
    let http = reqwest::Client::new();
    let post = |path: &str, secret: &str| {
        let request = http
            .post(format!("http://{}{path}", adapter.http))
            .headers(headers(&sdk_sign("stripe", secret, &body, now)))
            .body(body.clone());
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        post("/webhooks/stripe", EU_SECRET).await,
        400,
        "the default account's secret differs"
    );
    assert_eq!(
        post("/webhooks/stripe/us", EU_SECRET).await,
        404,
        "no such account"
    );
    assert_eq!(post("/webhooks/stripe/eu", EU_SECRET).await, 200);
    // The same event id from another account is another event.
    assert_eq!(post("/webhooks/stripe", WEBHOOK_SECRET).await, 200);

    let got = consumer.take(2, Duration::from_secs(10)).await;
    let mut accounts: Vec<String> = got
        .iter()
        .map(|r| r.event.clone().unwrap().account)
        .collect();
    accounts.sort();
    assert_eq!(accounts, ["", "eu"]);
}
