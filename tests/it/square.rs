//! The payments adapter over Square, against the fake Square of the test kit: the whole wire
//! path (JSON bodies, headers, idempotency keys in the body, error mapping, retries, reading
//! back where Square takes no key) through the real binary, and Square's signed webhooks into
//! the events service.

use std::time::{Duration, Instant};

use integ_proto::common::v1::Money;
use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_proto::payments::v1::*;
use integ_testkit::fake::{Fault, Recorded};
use integ_testkit::fake_square::{FakeSquare, LOCATION_ID, PLAN_VARIATION_ID};
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::webhooks::square_sign;
use crate::{assert_status, get_payment, key, usd};

const TOKEN: &str = "EAAAl_integ_fake_square_token_5Wq2";
const SIGNATURE_KEY: &str = "integ-square-signature-key-8Hq3Zp";
const NOTIFICATION_URL: &str = "https://hooks.integ.test/webhooks/square";

fn start(fake: &FakeSquare) -> Start {
    Start::new("payments")
        .env("INTEG_PAYMENTS_PROVIDERS", "square")
        .env("INTEG_SQUARE_ACCESS_TOKEN", TOKEN)
        .env("INTEG_SQUARE_LOCATION_ID", LOCATION_ID)
        .env("INTEG_SQUARE_BASE_URL", fake.url())
}

async fn client(start: Start) -> (Running, PaymentsServiceClient<Channel>) {
    let adapter = start.spawn().await.unwrap();
    let client = PaymentsServiceClient::new(adapter.channel().await);
    (adapter, client)
}

fn payment(source: &str, capture: CaptureMethod, amount: i64) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount: usd(amount),
        capture_method: capture.into(),
        payment_method: source.into(),
        description: "order 42".into(),
        metadata: [("order".to_owned(), "42".to_owned())].into(),
        idempotency_key: key("pay"),
        ..Default::default()
    }
}

async fn create(c: &mut PaymentsServiceClient<Channel>, r: CreatePaymentRequest) -> Payment {
    c.create_payment(r)
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap()
}

async fn capture(c: &mut PaymentsServiceClient<Channel>, id: &str) -> Payment {
    c.capture_payment(CapturePaymentRequest {
        id: id.to_owned(),
        idempotency_key: key("capture"),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .payment
    .unwrap()
}

fn statuses(requests: &[Recorded]) -> Vec<u16> {
    requests.iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn square_payment_lifecycle_with_its_headers_and_body() {
    let fake = FakeSquare::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let p = create(
        &mut c,
        payment("cnon:card-nonce-ok", CaptureMethod::Manual, 5000),
    )
    .await;
    assert!(p.id.starts_with("pay_") && p.provider == "square", "{p:?}");
    assert_eq!(
        (p.status(), p.capture_method(), p.amount.clone()),
        (
            PaymentStatus::RequiresCapture,
            CaptureMethod::Manual,
            usd(5000)
        )
    );
    let sent = &fake.requests_to("POST", "/v2/payments")[0];
    let sent_key = sent.params["idempotency_key"].as_str().unwrap();
    assert!(
        sent_key.starts_with("integ-") && sent_key.len() <= 45,
        "{sent_key}"
    );
    assert_eq!(sent.params["autocomplete"], false);
    assert_eq!(sent.params["location_id"], LOCATION_ID);
    assert_eq!(sent.params["source_id"], "cnon:card-nonce-ok");
    assert_eq!(sent.params["amount_money"]["currency"], "USD");
    assert_eq!(sent.params["note"], "order 42");
    assert!(
        sent.params.get("metadata").is_none(),
        "Square has no metadata"
    );
    assert_eq!(p.metadata["order"], "42", "kept on integ's record");

    let partial = c
        .capture_payment(CapturePaymentRequest {
            id: p.id.clone(),
            amount: usd(100),
            idempotency_key: key("capture"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&partial, Code::Unimplemented, "UNSUPPORTED");
    let captured = capture(&mut c, &p.id).await;
    assert_eq!(
        (captured.status(), captured.amount_captured),
        (PaymentStatus::Succeeded, usd(5000))
    );

    let refund = |amount: Option<Money>, note: &str| CreateRefundRequest {
        payment_id: p.id.clone(),
        amount,
        reason: RefundReason::RequestedByCustomer.into(),
        note: note.into(),
        idempotency_key: key("refund"),
        ..Default::default()
    };
    let part = c
        .create_refund(refund(usd(1000), "asked nicely"))
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert_eq!(
        (part.payment_id.as_str(), part.status(), part.note.as_str()),
        (p.id.as_str(), RefundStatus::Pending, "asked nicely")
    );
    let rest = c
        .create_refund(refund(None, ""))
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert_eq!(
        (rest.amount.clone(), rest.reason()),
        (usd(4000), RefundReason::RequestedByCustomer),
        "no amount refunds what remains"
    );
    let too_much = c.create_refund(refund(usd(1), "")).await.unwrap_err();
    assert_status(&too_much, Code::FailedPrecondition, "PRECONDITION_FAILED");

    fake.complete_refunds();
    let read = c
        .get_refund(GetRefundRequest {
            id: part.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert_eq!(read.status(), RefundStatus::Succeeded);
    let read = get_payment(&mut c, &p.id).await;
    assert_eq!(read.amount_refunded, usd(5000));
    assert_eq!(read.metadata["order"], "42");

    let complete = &fake.requests_to("POST", &format!("/v2/payments/{}/complete", p.provider_id));
    assert_eq!(complete[0].body, "{}");
    let refunds = fake.requests_to("POST", "/v2/refunds");
    assert_eq!(refunds[0].params["reason"], "asked nicely");
    assert_eq!(refunds[1].params["amount_money"]["amount"], 4000);
    assert_eq!(refunds[1].params["reason"], "Requested by customer");
    for r in fake.requests() {
        assert_eq!(r.header("square-version"), Some("2025-08-20"), "{r:?}");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(
            r.header("idempotency-key"),
            None,
            "Square takes keys in the body"
        );
        let json = r.header("content-type") == Some("application/json");
        assert_eq!(json, !r.body.is_empty(), "{r:?}");
    }
}

#[tokio::test]
async fn square_customers_subscriptions_and_what_square_does_not_offer() {
    let fake = FakeSquare::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let customer = c
        .create_customer(CreateCustomerRequest {
            email: "ada@example.com".into(),
            name: "Ada Lovelace".into(),
            phone: "+15555550100".into(),
            idempotency_key: key("customer"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let sent = &fake.requests_to("POST", "/v2/customers")[0];
    assert_eq!(
        (&sent.params["given_name"], &sent.params["family_name"]),
        (&"Ada".into(), &"Lovelace".into())
    );
    assert!(sent.params["idempotency_key"].is_string());
    let read = c
        .get_customer(GetCustomerRequest {
            id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(
        (read.name.as_str(), read.email.as_str()),
        ("Ada Lovelace", "ada@example.com")
    );

    let p = create(
        &mut c,
        CreatePaymentRequest {
            customer_id: customer.id.clone(),
            ..payment("ccof:customer-card-id-ok", CaptureMethod::Manual, 700)
        },
    )
    .await;
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
    let late = c
        .capture_payment(CapturePaymentRequest {
            id: p.id.clone(),
            idempotency_key: key("capture"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&late, Code::FailedPrecondition, "PRECONDITION_FAILED");

    let subscribe = |quantity: i32, price: &str| CreateSubscriptionRequest {
        customer_id: customer.id.clone(),
        price_id: price.into(),
        quantity,
        payment_method: "ccof:customer-card-id-ok".into(),
        idempotency_key: key("sub"),
        ..Default::default()
    };
    let two = c
        .create_subscription(subscribe(2, PLAN_VARIATION_ID))
        .await
        .unwrap_err();
    assert_status(&two, Code::Unimplemented, "UNSUPPORTED");
    let bad_price = c
        .create_subscription(subscribe(1, "NOPLAN"))
        .await
        .unwrap_err();
    assert_status(&bad_price, Code::InvalidArgument, "INVALID_ARGUMENT");
    let violations = bad_price
        .get_details_bad_request()
        .unwrap()
        .field_violations;
    assert_eq!(violations[0].field, "price_id");
    let sub = c
        .create_subscription(subscribe(0, PLAN_VARIATION_ID))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(
        (
            sub.status(),
            sub.quantity,
            sub.customer_id.as_str(),
            sub.price_id.as_str()
        ),
        (
            SubscriptionStatus::Active,
            1,
            customer.id.as_str(),
            PLAN_VARIATION_ID
        )
    );
    let sent = &fake.requests_to("POST", "/v2/subscriptions")[1];
    assert_eq!(sent.params["card_id"], "ccof:customer-card-id-ok");
    assert_eq!(sent.params["location_id"], LOCATION_ID);

    let cancel = |at_period_end: bool| CancelSubscriptionRequest {
        id: sub.id.clone(),
        at_period_end,
        idempotency_key: key("sub-cancel"),
        ..Default::default()
    };
    let now = c.cancel_subscription(cancel(false)).await.unwrap_err();
    assert_status(&now, Code::Unimplemented, "UNSUPPORTED");
    // Square's cancel takes no idempotency key: its lost answer is recovered by reading back.
    let path = format!("/v2/subscriptions/{}/cancel", sub.provider_id);
    fake.inject_at(&path, 1, Fault::Drop);
    let at_end = c
        .cancel_subscription(cancel(true))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert!(at_end.cancel_at_period_end && at_end.status() == SubscriptionStatus::Active);
    assert_eq!(at_end.cancel_time, at_end.current_period_end_time);
    assert_eq!(statuses(&fake.requests_to("POST", &path)), [0, 400]);

    let payout = c
        .create_payout(CreatePayoutRequest {
            amount: usd(100),
            destination: "bank-1".into(),
            idempotency_key: key("payout"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&payout, Code::Unimplemented, "UNSUPPORTED");
    assert!(fake.requests().iter().all(|r| !r.path.contains("payout")));
}

#[tokio::test]
async fn a_square_decline_is_a_failed_precondition_sent_once() {
    let fake = FakeSquare::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    for (source, code) in [
        ("cnon:card-nonce-declined", "CARD_DECLINED"),
        ("cnon:card-nonce-insufficient-funds", "INSUFFICIENT_FUNDS"),
    ] {
        let declined = c
            .create_payment(payment(source, CaptureMethod::Immediate, 100))
            .await
            .unwrap_err();
        assert_status(&declined, Code::FailedPrecondition, "DECLINED");
        let info = declined.get_details_error_info().unwrap();
        assert_eq!(
            (
                info.metadata["provider"].as_str(),
                info.metadata["provider_code"].as_str(),
                info.metadata["retryable"].as_str()
            ),
            ("square", code, "false")
        );
    }
    assert_eq!(
        statuses(&fake.requests_to("POST", "/v2/payments")),
        [400, 400],
        "a decline is never retried"
    );
}

#[tokio::test]
async fn a_square_503_is_retried_with_the_same_idempotency_key() {
    let fake = FakeSquare::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    fake.fail_next(1, 503);
    let p = create(
        &mut c,
        payment("cnon:card-nonce-ok", CaptureMethod::Immediate, 1200),
    )
    .await;
    assert_eq!(p.status(), PaymentStatus::Succeeded);
    let sent = fake.requests_to("POST", "/v2/payments");
    assert_eq!(statuses(&sent), [503, 200]);
    assert_eq!(
        sent[0].params["idempotency_key"],
        sent[1].params["idempotency_key"]
    );
    assert_eq!(fake.payments_created(), 1);
}

#[tokio::test]
async fn a_square_429_is_retried_after_its_retry_after() {
    let fake = FakeSquare::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    fake.inject(1, Fault::RateLimited(1));
    let started = Instant::now();
    let p = create(
        &mut c,
        payment("cnon:card-nonce-ok", CaptureMethod::Immediate, 300),
    )
    .await;
    assert_eq!(p.status(), PaymentStatus::Succeeded);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        statuses(&fake.requests_to("POST", "/v2/payments")),
        [429, 200]
    );
}

#[tokio::test]
async fn a_lost_square_answer_charges_once_and_completes_once() {
    let fake = FakeSquare::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    fake.inject_at("/v2/payments", 1, Fault::Drop);
    let request = payment("cnon:card-nonce-ok", CaptureMethod::Manual, 4200);
    let p = create(&mut c, request.clone()).await;
    let sent = fake.requests_to("POST", "/v2/payments");
    assert_eq!((sent[0].status, sent[1].replayed), (0, true), "{sent:?}");
    assert_eq!(fake.payments_created(), 1, "charged once");
    assert_eq!(
        create(&mut c, request).await,
        p,
        "the caller's retry gets the same payment"
    );

    // CompletePayment takes no idempotency key: the retry finds it COMPLETED, which is success.
    let path = format!("/v2/payments/{}/complete", p.provider_id);
    fake.inject_at(&path, 1, Fault::Drop);
    let captured = capture(&mut c, &p.id).await;
    assert_eq!(captured.status(), PaymentStatus::Succeeded);
    assert_eq!(statuses(&fake.requests_to("POST", &path)), [0, 400]);

    // A full refund whose answer was lost is sent again with the same amount.
    fake.inject_at("/v2/refunds", 1, Fault::Drop);
    let refund = c
        .create_refund(CreateRefundRequest {
            payment_id: p.id.clone(),
            idempotency_key: key("refund"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert_eq!(refund.amount, usd(4200));
    let sent = fake.requests_to("POST", "/v2/refunds");
    assert_eq!((sent[0].status, sent[1].replayed), (0, true), "{sent:?}");
}

#[tokio::test]
async fn a_refused_square_token_never_shows_up_in_errors_or_logs() {
    const CANARY: &str = "sq0atp-canary_7f3e9a5Qx";
    let fake = FakeSquare::start().await;
    let start = start(&fake)
        .env("INTEG_SQUARE_ACCESS_TOKEN", CANARY)
        .env("INTEG_LOG", "debug");
    let (adapter, mut c) = client(start).await;
    let err = c
        .create_payment(payment("cnon:card-nonce-ok", CaptureMethod::Immediate, 100))
        .await
        .unwrap_err();
    assert_status(&err, Code::Internal, "PROVIDER_AUTH");
    assert!(
        err.message().contains("INTEG_SQUARE_ACCESS_TOKEN"),
        "{err:?}"
    );
    assert_eq!(
        statuses(&fake.requests()),
        [401],
        "a refused token is not retried"
    );
    // The fake's 401 detail quoted the whole token; none of it may travel further.
    let shown = format!("{err:?} {}", String::from_utf8_lossy(err.details()));
    assert!(!shown.contains("canary"), "{shown}");
    for line in adapter.logs() {
        assert!(!line.contains("canary"), "token in log line: {line}");
    }
}

async fn post(adapter: &Running, headers: &[(String, String)], body: &str) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/webhooks/square", adapter.http))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (k, v) in headers {
        request = request.header(k, v);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Signed as Square signs (checked by Square's own SDK in `tests/signers/sign.mjs square`).
#[tokio::test]
async fn a_signed_square_webhook_is_stored_and_delivered_as_a_payment_event() {
    let fake = FakeSquare::start().await;
    let start = start(&fake)
        .env("INTEG_SQUARE_WEBHOOK_SIGNATURE_KEY", SIGNATURE_KEY)
        .env("INTEG_SQUARE_WEBHOOK_URL", NOTIFICATION_URL);
    let (adapter, mut c) = client(start).await;
    let p = create(
        &mut c,
        payment("cnon:card-nonce-ok", CaptureMethod::Immediate, 900),
    )
    .await;
    let mut consumer =
        crate::events::consume(adapter.channel().await, "ledger", &["payment."], 30).await;

    let body = fake.event("payment.updated", &p.provider_id).unwrap();
    let signed = square_sign(SIGNATURE_KEY, NOTIFICATION_URL, &body);
    let tampered = body.replace("COMPLETED", "CANCELED");
    assert_eq!(
        post(&adapter, &signed, &tampered).await,
        400,
        "tampered body"
    );
    let elsewhere = square_sign(
        SIGNATURE_KEY,
        "https://other.integ.test/webhooks/square",
        &body,
    );
    assert_eq!(
        post(&adapter, &elsewhere, &body).await,
        400,
        "another URL was signed"
    );
    let wrong_key = square_sign("not-our-signature-key", NOTIFICATION_URL, &body);
    assert_eq!(post(&adapter, &wrong_key, &body).await, 400, "wrong key");
    assert_eq!(post(&adapter, &[], &body).await, 400, "no signature header");
    assert_eq!(post(&adapter, &signed, &body).await, 200);
    assert_eq!(
        post(&adapter, &signed, &body).await,
        200,
        "a redelivery is answered 200"
    );

    let got = consumer.take(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "the redelivery is absorbed: {got:?}");
    let event = got[0].event.clone().unwrap();
    assert_eq!(
        (
            event.r#type.as_str(),
            event.provider.as_str(),
            event.provider_type.as_str()
        ),
        ("payment.succeeded", "square", "payment.updated")
    );
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        event.provider_event_id,
        parsed["event_id"].as_str().unwrap()
    );
    let resource = event.resource.unwrap();
    assert_eq!(
        (
            resource.kind.as_str(),
            resource.id.as_str(),
            resource.provider_id.as_str()
        ),
        ("payment", p.id.as_str(), p.provider_id.as_str())
    );
    assert_eq!(event.payload, body.as_bytes());
}
