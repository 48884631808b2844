//! The payments contract through the sandbox provider: every RPC, idempotency, error mapping.

use integ_proto::common::v1::Money;
use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_proto::payments::v1::*;
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::assert_status;

fn usd(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "USD".into(),
    })
}

fn key() -> String {
    format!("key-{}", integ_core_free_id())
}

fn integ_core_free_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn client() -> (Running, PaymentsServiceClient<Channel>) {
    let adapter = Start::new("payments").spawn().await.unwrap();
    let client = PaymentsServiceClient::new(adapter.channel().await);
    (adapter, client)
}

fn payment(method: &str, capture: CaptureMethod, amount: i64) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount: usd(amount),
        capture_method: capture.into(),
        payment_method: method.into(),
        description: "order 42".into(),
        idempotency_key: key(),
        ..Default::default()
    }
}

#[tokio::test]
async fn payment_lifecycle_capture_refund_and_reads() {
    let (_adapter, mut c) = client().await;
    let created = c
        .create_payment(payment("pm_card_visa", CaptureMethod::Manual, 5000))
        .await
        .unwrap()
        .into_inner();
    let p = created.payment.unwrap();
    assert_eq!(created.provider, "sandbox");
    assert!(
        p.id.starts_with("pay_") && p.provider_id.starts_with("pi_sbx_"),
        "{p:?}"
    );
    assert_eq!(p.status(), PaymentStatus::RequiresCapture);

    let captured = c
        .capture_payment(CapturePaymentRequest {
            id: p.id.clone(),
            amount: usd(3000),
            idempotency_key: key(),
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
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .refund
        .unwrap();
    assert!(refund.id.starts_with("re_"));
    assert_eq!(
        (refund.payment_id.as_str(), refund.status()),
        (p.id.as_str(), RefundStatus::Succeeded)
    );

    let too_much = c
        .create_refund(CreateRefundRequest {
            payment_id: p.id.clone(),
            amount: usd(2001),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&too_much, Code::FailedPrecondition, "PRECONDITION_FAILED");
    assert_eq!(
        too_much.get_details_error_info().unwrap().metadata["provider_code"],
        "amount_too_large"
    );

    let read = c
        .get_payment(GetPaymentRequest {
            id: p.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(read.amount_refunded, usd(1000));
    let read = c
        .get_refund(GetRefundRequest {
            id: refund.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.refund.unwrap().amount, usd(1000));

    let missing = c
        .get_payment(GetPaymentRequest {
            id: "pay_000000000000000000000000".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&missing, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn cancel_customers_subscriptions_and_payouts() {
    let (_adapter, mut c) = client().await;
    let p = c
        .create_payment(payment("pm_card_visa", CaptureMethod::Manual, 700))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let canceled = c
        .cancel_payment(CancelPaymentRequest {
            id: p.id.clone(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(canceled.payment.unwrap().status(), PaymentStatus::Canceled);

    let customer = c
        .create_customer(CreateCustomerRequest {
            email: "ada@example.com".into(),
            name: "Ada".into(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert!(customer.id.starts_with("cus_"));
    let read = c
        .get_customer(GetCustomerRequest {
            id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.customer.unwrap().email, "ada@example.com");

    let sub = c
        .create_subscription(CreateSubscriptionRequest {
            customer_id: customer.id.clone(),
            price_id: "price_monthly".into(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(
        (sub.customer_id.as_str(), sub.status()),
        (customer.id.as_str(), SubscriptionStatus::Active)
    );
    let sub = c
        .cancel_subscription(CancelSubscriptionRequest {
            id: sub.id.clone(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(sub.status(), SubscriptionStatus::Canceled);
    let read = c
        .get_subscription(GetSubscriptionRequest {
            id: sub.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        read.subscription.unwrap().status(),
        SubscriptionStatus::Canceled
    );

    let payout = c
        .create_payout(CreatePayoutRequest {
            amount: usd(100),
            destination: "ba_123".into(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payout
        .unwrap();
    assert_eq!(payout.status(), PayoutStatus::Paid);
    let read = c
        .get_payout(GetPayoutRequest {
            id: payout.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.payout.unwrap().id, payout.id);
    let failed = c
        .create_payout(CreatePayoutRequest {
            amount: usd(100),
            destination: "ba_closed_account".into(),
            idempotency_key: key(),
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
async fn same_key_replays_and_a_different_request_conflicts() {
    let (_adapter, mut c) = client().await;
    let request = payment("pm_card_visa", CaptureMethod::Immediate, 1234);
    let first = c
        .create_payment(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = c
        .create_payment(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first, again,
        "the same key and request return the first result"
    );

    let mut different = request.clone();
    different.amount = usd(9999);
    let conflict = c.create_payment(different).await.unwrap_err();
    assert_status(&conflict, Code::AlreadyExists, "CONFLICT");

    let mut other_caller = tonic::Request::new(request);
    other_caller
        .metadata_mut()
        .insert("integ-caller", "billing".parse().unwrap());
    let theirs = c.create_payment(other_caller).await.unwrap().into_inner();
    assert_ne!(
        theirs.payment.unwrap().id,
        first.payment.unwrap().id,
        "keys are scoped by caller"
    );
}

#[tokio::test]
async fn declines_are_failed_preconditions_and_transient_failures_are_retried() {
    let (_adapter, mut c) = client().await;
    let declined = c
        .create_payment(payment(
            "pm_card_chargeDeclinedInsufficientFunds",
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
        ("sandbox", "insufficient_funds")
    );
    assert_eq!(info.metadata["retryable"], "false");

    let flaky = c
        .create_payment(payment("pm_card_flaky", CaptureMethod::Immediate, 100))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        flaky.payment.unwrap().status(),
        PaymentStatus::Succeeded,
        "the second attempt succeeded"
    );

    let down = c
        .create_payment(payment(
            "pm_card_processingError",
            CaptureMethod::Immediate,
            100,
        ))
        .await
        .unwrap_err();
    assert_status(&down, Code::Unavailable, "PROVIDER_UNAVAILABLE");
    assert!(down.get_details_retry_info().is_some());

    let action = c
        .create_payment(payment(
            "pm_card_authenticationRequired",
            CaptureMethod::Immediate,
            100,
        ))
        .await
        .unwrap()
        .into_inner();
    let action = action.payment.unwrap();
    assert_eq!(action.status(), PaymentStatus::RequiresAction);
    assert!(!action.action_url.is_empty());
}

#[tokio::test]
async fn invalid_requests_name_the_field() {
    let (_adapter, mut c) = client().await;
    let mut bad = payment("pm_card_visa", CaptureMethod::Immediate, 100);
    bad.amount = Some(Money {
        amount_minor: 100,
        currency: "usd".into(),
    });
    let err = c.create_payment(bad).await.unwrap_err();
    assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "amount.currency"
    );

    let mut bad = payment("pm_card_visa", CaptureMethod::Immediate, -5);
    bad.idempotency_key = key();
    assert_status(
        &c.create_payment(bad).await.unwrap_err(),
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );

    let mut bad = payment("pm_card_visa", CaptureMethod::Unspecified, 5);
    bad.idempotency_key = key();
    assert_status(
        &c.create_payment(bad).await.unwrap_err(),
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );

    let mut bad = payment("pm_card_visa", CaptureMethod::Immediate, 5);
    bad.idempotency_key.clear();
    let err = c.create_payment(bad).await.unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "idempotency_key"
    );

    let mut bad = payment("pm_card_visa", CaptureMethod::Immediate, 5);
    bad.provider = "stripe".into();
    assert_status(
        &c.create_payment(bad).await.unwrap_err(),
        Code::InvalidArgument,
        "UNKNOWN_PROVIDER",
    );
}

#[tokio::test]
async fn provider_health_reports_the_sandbox() {
    let (_adapter, mut c) = client().await;
    c.create_payment(payment("pm_card_visa", CaptureMethod::Immediate, 100))
        .await
        .unwrap();
    let health = c
        .get_provider_health(GetProviderHealthRequest::default())
        .await
        .unwrap()
        .into_inner();
    let sandbox = &health.providers[0];
    assert_eq!(sandbox.provider, "sandbox");
    assert_eq!(
        sandbox.breaker_state(),
        integ_proto::common::v1::BreakerState::Closed
    );
    assert!(sandbox.last_success_time.is_some() && sandbox.last_call_latency.is_some());
}
