//! The payments adapter over PayPal, against the fake PayPal of the test kit: the OAuth token,
//! Orders and Payments with the payer's approval, subscriptions, payouts, idempotency through
//! `PayPal-Request-Id`, faults, and webhooks verified through PayPal's verification API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integ_proto::common::v1::Money;
use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_proto::payments::v1::*;
use integ_testkit::fake::Fault;
use integ_testkit::fake_paypal::{CLIENT_ID, CLIENT_SECRET, FakePaypal, WEBHOOK_ID};
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::{assert_status, get_payment, headers, key, money, usd};

fn start(fake: &FakePaypal) -> Start {
    Start::new("payments")
        .env("INTEG_PAYMENTS_PROVIDERS", "paypal")
        .env("INTEG_PAYPAL_CLIENT_ID", CLIENT_ID)
        .env("INTEG_PAYPAL_CLIENT_SECRET", CLIENT_SECRET)
        .env("INTEG_PAYPAL_BASE_URL", fake.url())
}

async fn client(start: Start) -> (Running, PaymentsServiceClient<Channel>) {
    let adapter = start.spawn().await.unwrap();
    let client = PaymentsServiceClient::new(adapter.channel().await);
    (adapter, client)
}

fn payment(method: &str, capture: CaptureMethod, amount: Option<Money>) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount,
        capture_method: capture.into(),
        payment_method: method.into(),
        description: "order 42".into(),
        metadata: [("order".to_owned(), "42".to_owned())].into(),
        idempotency_key: key("pay"),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_approved_order_is_authorised_captured_in_part_and_refunded() {
    let fake = FakePaypal::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let mut request = payment("", CaptureMethod::Manual, usd(5000));
    request.return_url = "https://shop.example/back".into();
    let created = c.create_payment(request).await.unwrap().into_inner();
    let p = created.payment.unwrap();
    assert_eq!(created.provider, "paypal");
    assert_eq!(p.status(), PaymentStatus::RequiresAction);
    assert!(p.action_url.contains(&p.provider_id), "{p:?}");
    assert_eq!(p.metadata["order"], "42", "kept on integ's record");

    fake.approve(&p.provider_id);
    let approved = get_payment(&mut c, &p.id).await;
    assert_eq!(approved.status(), PaymentStatus::RequiresCapture);
    assert_eq!(approved.metadata["order"], "42");
    assert!(approved.action_url.is_empty());

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
            note: "sorry for the wait".into(),
            idempotency_key: key("refund"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert_eq!(
        (refund.payment_id.as_str(), refund.status()),
        (p.id.as_str(), RefundStatus::Succeeded)
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
    let read = c
        .get_refund(GetRefundRequest {
            id: refund.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert_eq!(
        (read.payment_id.as_str(), read.amount.clone()),
        (p.id.as_str(), usd(1000))
    );
    let after = get_payment(&mut c, &p.id).await;
    assert_eq!(
        (after.amount_captured, after.amount_refunded),
        (usd(3000), usd(1000))
    );

    let create = &fake.requests_to("POST", "/v2/checkout/orders")[0];
    assert_eq!(create.params["intent"], "AUTHORIZE");
    assert_eq!(
        create.params["purchase_units"][0]["amount"]["value"],
        "50.00"
    );
    assert_eq!(create.header("prefer"), Some("return=representation"));
    let request_id = create.header("paypal-request-id").unwrap();
    assert!(request_id.starts_with("integ-") && request_id.len() == 38);
    for r in fake.requests() {
        if r.path == "/v1/oauth2/token" {
            assert!(r.header("authorization").unwrap().starts_with("Basic "));
            continue;
        }
        assert!(
            r.header("authorization")
                .unwrap()
                .starts_with("Bearer A21AA")
        );
    }
    assert_eq!(fake.tokens_issued(), 1, "one token serves every call");
}

#[tokio::test]
async fn a_vaulted_method_pays_at_once_in_each_currencys_units() {
    let fake = FakePaypal::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let p = c
        .create_payment(payment(
            "vault_ok",
            CaptureMethod::Immediate,
            money(1050, "JPY"),
        ))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(
        (p.status(), p.amount_captured.clone()),
        (PaymentStatus::Succeeded, money(1050, "JPY"))
    );
    let sent = &fake.requests_to("POST", "/v2/checkout/orders")[0];
    assert_eq!(sent.params["purchase_units"][0]["amount"]["value"], "1050");
    assert_eq!(
        sent.params["payment_source"]["paypal"]["vault_id"],
        "vault_ok"
    );

    for (amount, field) in [
        (money(1234, "KWD"), "amount.currency"),
        (money(150_050, "HUF"), "amount.amount_minor"),
    ] {
        let err = c
            .create_payment(payment("vault_ok", CaptureMethod::Immediate, amount))
            .await
            .unwrap_err();
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        let violations = err.get_details_bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, field);
    }
    assert_eq!(
        fake.requests_to("POST", "/v2/checkout/orders").len(),
        1,
        "refused before anything was sent"
    );
}

#[tokio::test]
async fn a_decline_is_a_failed_precondition_sent_once() {
    let fake = FakePaypal::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let err = c
        .create_payment(payment(
            "card:vault_declined",
            CaptureMethod::Immediate,
            usd(100),
        ))
        .await
        .unwrap_err();
    assert_status(&err, Code::FailedPrecondition, "DECLINED");
    let info = err.get_details_error_info().unwrap();
    assert_eq!(info.metadata["provider_code"], "INSTRUMENT_DECLINED");
    assert_eq!(fake.requests_to("POST", "/v2/checkout/orders").len(), 1);
}

#[tokio::test]
async fn a_lost_answer_a_slow_one_and_an_unreadable_one_charge_once() {
    let fake = FakePaypal::start().await;
    let (_adapter, mut c) = client(start(&fake).env("INTEG_PAYPAL_TIMEOUT_MS", "500")).await;
    fake.inject_at("/v2/checkout/orders", 1, Fault::Drop);
    let p = c
        .create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(700)))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let sent = fake.requests_to("POST", "/v2/checkout/orders");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].header("paypal-request-id"),
        sent[1].header("paypal-request-id")
    );
    assert!(
        sent[1].replayed,
        "PayPal answered the retry from its saved answer"
    );
    assert!(fake.object(&p.provider_id).is_some());

    fake.inject_at(
        "/v2/checkout/orders",
        1,
        Fault::Slow(Duration::from_secs(2)),
    );
    let slow = c
        .create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(800)))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let sent = fake.requests_to("POST", "/v2/checkout/orders");
    assert_eq!(sent.len(), 4, "the timed-out attempt was sent again");
    assert!(sent[3].replayed);
    assert_eq!(slow.status(), PaymentStatus::Succeeded);

    fake.inject_at("/v2/checkout/orders", 1, Fault::Malformed);
    let request = payment("vault_ok", CaptureMethod::Immediate, usd(900));
    let err = c.create_payment(request.clone()).await.unwrap_err();
    assert_status(&err, Code::Internal, "PROVIDER_ERROR");
    // The caller may try again with the same key: PayPal's saved answer is the real order.
    let again = c
        .create_payment(request)
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(again.status(), PaymentStatus::Succeeded);
    let orders = fake
        .requests_to("POST", "/v2/checkout/orders")
        .into_iter()
        .filter(|r| !r.replayed)
        .count();
    assert_eq!(orders, 3, "three payments, three orders");
}

#[tokio::test]
async fn throttling_is_waited_out_and_a_revoked_token_is_replaced() {
    let fake = FakePaypal::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    fake.inject_at("/v2/checkout/orders", 1, Fault::RateLimited(1));
    let started = std::time::Instant::now();
    c.create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(100)))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );

    fake.revoke_tokens();
    c.create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(100)))
        .await
        .unwrap();
    assert_eq!(
        fake.tokens_issued(),
        2,
        "a refused token is fetched again once"
    );
}

#[tokio::test]
async fn concurrent_calls_share_one_token_that_is_refreshed_before_it_expires() {
    let fake = FakePaypal::start().await;
    fake.set_token_lifetime(2);
    let (_adapter, c) = client(start(&fake)).await;
    let calls = (0..8).map(|_| {
        let mut c = c.clone();
        async move {
            c.create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(100)))
                .await
                .unwrap();
        }
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(
        fake.tokens_issued(),
        1,
        "fetched once for every waiting call"
    );
    // A 2-second token is refreshed once half of its life is gone, before it expires.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut c = c.clone();
    c.create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(100)))
        .await
        .unwrap();
    assert_eq!(fake.tokens_issued(), 2);
    let refused = fake
        .requests()
        .into_iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(refused, 0, "no call went out with an expired token");
}

#[tokio::test]
async fn refused_credentials_never_show_up_in_errors_or_logs() {
    const CANARY: &str = "EOcanary_wrong_secret_5Rt";
    let fake = FakePaypal::start().await;
    let start = start(&fake)
        .env("INTEG_PAYPAL_CLIENT_SECRET", CANARY)
        .env("INTEG_LOG", "debug");
    let (adapter, mut c) = client(start).await;
    let err = c
        .create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(100)))
        .await
        .unwrap_err();
    assert_status(&err, Code::Internal, "PROVIDER_AUTH");
    assert_eq!(fake.requests().len(), 1, "bad credentials are not retried");
    let shown = format!("{err:?} {}", String::from_utf8_lossy(err.details()));
    assert!(!shown.contains("canary"), "{shown}");
    for line in adapter.logs() {
        assert!(
            !line.contains("canary") && !line.contains("A21AA"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn subscriptions_wait_for_approval_and_cancel_at_once() {
    let fake = FakePaypal::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    let created = c
        .create_subscription(CreateSubscriptionRequest {
            price_id: "P-5ML4271244454362WXNWU5NQ".into(),
            quantity: 2,
            return_url: "https://shop.example/subscribed".into(),
            metadata: [("plan".to_owned(), "gold".to_owned())].into(),
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
            created.status(),
            created.quantity,
            created.customer_id.as_str()
        ),
        (SubscriptionStatus::Incomplete, 2, "")
    );
    assert!(created.action_url.contains("ba_token"));
    fake.activate(&created.provider_id);
    let read = c
        .get_subscription(GetSubscriptionRequest {
            id: created.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(read.status(), SubscriptionStatus::Active);
    assert_eq!(read.metadata["plan"], "gold");
    assert!(read.action_url.is_empty());

    let later = c
        .cancel_subscription(CancelSubscriptionRequest {
            id: created.id.clone(),
            at_period_end: true,
            idempotency_key: key("cancel"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&later, Code::Unimplemented, "UNSUPPORTED");
    fake.inject_at("/v1/billing/subscriptions", 1, Fault::Drop);
    let canceled = c
        .cancel_subscription(CancelSubscriptionRequest {
            id: created.id.clone(),
            idempotency_key: key("cancel"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(
        canceled.status(),
        SubscriptionStatus::Canceled,
        "a lost answer is settled"
    );

    let customers = c
        .create_customer(CreateCustomerRequest {
            email: "ada@example.com".into(),
            idempotency_key: key("customer"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&customers, Code::Unimplemented, "UNSUPPORTED");
}

#[tokio::test]
async fn payouts_go_to_an_email_and_report_failures() {
    let fake = FakePaypal::start().await;
    let (_adapter, mut c) = client(start(&fake)).await;
    for (receiver, status, failure) in [
        ("ada@example.com", PayoutStatus::Paid, ""),
        (
            "unregistered@example.com",
            PayoutStatus::Failed,
            "RECEIVER_UNREGISTERED",
        ),
    ] {
        let created = c
            .create_payout(CreatePayoutRequest {
                amount: usd(700),
                destination: receiver.into(),
                description: "Weekly payout".into(),
                idempotency_key: key("payout"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .payout
            .unwrap();
        assert_eq!(
            (
                created.status(),
                created.amount.clone(),
                created.destination.as_str()
            ),
            (PayoutStatus::Pending, usd(700), receiver)
        );
        let read = c
            .get_payout(GetPayoutRequest {
                id: created.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .payout
            .unwrap();
        assert_eq!(
            (read.status(), read.failure_code.as_str()),
            (status, failure)
        );
    }
    let sent = &fake.requests_to("POST", "/v1/payments/payouts")[0];
    let batch = sent.params["sender_batch_header"]["sender_batch_id"]
        .as_str()
        .unwrap();
    assert_eq!(Some(batch), sent.header("paypal-request-id"));
}

fn rfc3339(offset_secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    integ_core::time::format_rfc3339(now + offset_secs * 1000)
}

/// Signed as PayPal signs (RSA over id, time, webhook id and the body's CRC-32) by the fake,
/// and verified by the fake's verification API, which the adapter calls.
#[tokio::test]
async fn webhooks_are_verified_by_paypal_once_and_delivered() {
    let fake = FakePaypal::start().await;
    let (adapter, mut c) = client(start(&fake).env("INTEG_PAYPAL_WEBHOOK_ID", WEBHOOK_ID)).await;
    let p = c
        .create_payment(payment("vault_ok", CaptureMethod::Immediate, usd(900)))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let mut consumer =
        crate::events::consume(adapter.channel().await, "ledger", &["payment."], 30).await;
    let body = format!(
        r#"{{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_version":"1.0","create_time":"{}","resource_type":"capture","event_type":"PAYMENT.CAPTURE.COMPLETED","summary":"Payment completed for $ 9.0 USD","resource":{{"id":"42311647XV020574X","status":"COMPLETED","amount":{{"currency_code":"USD","value":"9.00"}},"supplementary_data":{{"related_ids":{{"order_id":"{}"}}}}}}}}"#,
        rfc3339(0),
        p.provider_id
    );
    let url = format!("http://{}/webhooks/paypal", adapter.http);
    let http = reqwest::Client::new();
    let post = |signed: Vec<(String, String)>, body: String| {
        let request = http
            .post(&url)
            .header("content-type", "application/json")
            .headers(headers(&signed))
            .body(body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let signed = fake.sign_webhook(&body, WEBHOOK_ID, &rfc3339(0));

    let tampered = body.replace("9.00", "90.00");
    assert_eq!(post(signed.clone(), tampered).await, 400);
    let other_hook = fake.sign_webhook(&body, "9XY00000000000000", &rfc3339(0));
    assert_eq!(post(other_hook, body.clone()).await, 400);
    let verified_so_far = fake.verifications();
    let stale = fake.sign_webhook(&body, WEBHOOK_ID, &rfc3339(-3600));
    assert_eq!(post(stale, body.clone()).await, 400);
    let mut missing = signed.clone();
    missing.retain(|(k, _)| k != "paypal-transmission-sig");
    assert_eq!(post(missing, body.clone()).await, 400);
    assert_eq!(
        fake.verifications(),
        verified_so_far,
        "refused locally, PayPal not asked"
    );

    fake.inject_at("/v1/notifications", 1, Fault::Status(503));
    assert_eq!(
        post(signed.clone(), body.clone()).await,
        503,
        "PayPal will send it again"
    );
    assert_eq!(post(signed.clone(), body.clone()).await, 200);
    let asked = fake.verifications();
    assert_eq!(
        post(signed.clone(), body.clone()).await,
        200,
        "a redelivery is absorbed"
    );
    assert_eq!(fake.verifications(), asked, "and not verified twice");

    let got = consumer.take(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let event = got[0].event.clone().unwrap();
    assert_eq!(
        (event.r#type.as_str(), event.provider.as_str()),
        ("payment.succeeded", "paypal")
    );
    let resource = event.resource.unwrap();
    assert_eq!(
        (resource.kind.as_str(), resource.id.as_str()),
        ("payment", p.id.as_str())
    );
    assert!(
        consumer.next(Duration::from_millis(500)).await.is_none(),
        "delivered once"
    );
    let verifications = fake.requests_to("POST", "/v1/notifications/verify-webhook-signature");
    let verify = verifications.last().unwrap();
    assert!(
        verify.body.contains(&format!(r#""webhook_event":{body}"#)),
        "the event is passed on byte for byte"
    );
}
