//! One behaviour suite for the payments family, run against every provider through the real
//! binary: the sandbox, and Stripe, Square and PayPal through their fakes. Each check is gated
//! on the capabilities the provider declares (`integ_payments::<provider>::CAPABILITIES`): what
//! a provider offers must work, and what it does not offer must answer `UNIMPLEMENTED` with
//! reason `UNSUPPORTED`, never something else.
//!
//! A provider's entry ([`Subject`]) says how to start it and which of its inputs make it
//! succeed, decline, or pay out; the checks are the same for all.

use std::time::Duration;

use integ_payments::provider::Capabilities;
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_proto::payments::v1::*;
use integ_testkit::fake::{Api, FakeServer, Fault, Recorded};
use integ_testkit::fake_paypal::{self, FakePaypal};
use integ_testkit::fake_square::{self, FakeSquare};
use integ_testkit::fake_stripe::FakeStripe;
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::{assert_status, get_payment, key, usd};

/// What the suite needs of a fake provider, whatever its type.
trait Fake: Send + Sync {
    fn inject_at(&self, prefix: &str, n: usize, fault: Fault);
    fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded>;
}

impl<A: Api> Fake for FakeServer<A> {
    fn inject_at(&self, prefix: &str, n: usize, fault: Fault) {
        FakeServer::inject_at(self, prefix, n, fault);
    }

    fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        FakeServer::requests_to(self, method, path)
    }
}

/// One provider under test.
struct Subject {
    name: &'static str,
    capabilities: Capabilities,
    /// A payment method that pays at once, and one that is declined with `decline_code`.
    pay: &'static str,
    declined: &'static str,
    decline_code: &'static str,
    /// A price a subscription can be made to, and which cancellations the provider offers.
    price: &'static str,
    cancels_now: bool,
    cancels_at_period_end: bool,
    /// A payout destination.
    destination: &'static str,
    /// Where a payment is created at the fake, and how a request there carries its
    /// idempotency key.
    create_path: &'static str,
    key_of: fn(&Recorded) -> Option<String>,
}

fn stripe_key(r: &Recorded) -> Option<String> {
    r.header("idempotency-key").map(str::to_owned)
}

fn square_key(r: &Recorded) -> Option<String> {
    r.params["idempotency_key"].as_str().map(str::to_owned)
}

fn paypal_key(r: &Recorded) -> Option<String> {
    r.header("paypal-request-id").map(str::to_owned)
}

const SUBJECTS: &[Subject] = &[
    Subject {
        name: "sandbox",
        capabilities: integ_payments::sandbox::CAPABILITIES,
        pay: "pm_card_visa",
        declined: "pm_card_chargeDeclined",
        decline_code: "card_declined",
        price: "price_gold",
        cancels_now: true,
        cancels_at_period_end: true,
        destination: "ba_default",
        create_path: "",
        key_of: stripe_key,
    },
    Subject {
        name: "stripe",
        capabilities: integ_payments::stripe::CAPABILITIES,
        pay: "pm_card_visa",
        declined: "pm_card_chargeDeclined",
        decline_code: "generic_decline",
        price: "price_gold",
        cancels_now: true,
        cancels_at_period_end: true,
        destination: "ba_default",
        create_path: "/v1/payment_intents",
        key_of: stripe_key,
    },
    Subject {
        name: "square",
        capabilities: integ_payments::square::CAPABILITIES,
        pay: "cnon:card-nonce-ok",
        declined: "cnon:card-nonce-declined",
        decline_code: "CARD_DECLINED",
        price: fake_square::PLAN_VARIATION_ID,
        cancels_now: false,
        cancels_at_period_end: true,
        destination: "",
        create_path: "/v2/payments",
        key_of: square_key,
    },
    Subject {
        name: "paypal",
        capabilities: integ_payments::paypal::CAPABILITIES,
        pay: "vault_ok",
        declined: "vault_declined",
        decline_code: "INSTRUMENT_DECLINED",
        price: "P-5ML4271244454362WXNWU5NQ",
        cancels_now: true,
        cancels_at_period_end: false,
        destination: "ada@example.com",
        create_path: "/v2/checkout/orders",
        key_of: paypal_key,
    },
];

/// A running adapter over one provider, its fake (none for the sandbox) and a client.
struct Run {
    subject: &'static Subject,
    fake: Option<Box<dyn Fake>>,
    _adapter: Running,
    c: PaymentsServiceClient<Channel>,
}

async fn run(subject: &'static Subject) -> Run {
    let start = Start::new("payments").env("INTEG_PAYMENTS_PROVIDERS", subject.name);
    let (start, fake): (Start, Option<Box<dyn Fake>>) = match subject.name {
        "stripe" => {
            let fake = FakeStripe::start().await;
            let start = start
                .env("INTEG_STRIPE_API_KEY", "sk_test_conformance")
                .env("INTEG_STRIPE_BASE_URL", fake.url());
            (start, Some(Box::new(fake)))
        }
        "square" => {
            let fake = FakeSquare::start().await;
            let start = start
                .env("INTEG_SQUARE_ACCESS_TOKEN", "EAAAl_conformance")
                .env("INTEG_SQUARE_LOCATION_ID", fake_square::LOCATION_ID)
                .env("INTEG_SQUARE_BASE_URL", fake.url());
            (start, Some(Box::new(fake)))
        }
        "paypal" => {
            let fake = FakePaypal::start().await;
            let start = start
                .env("INTEG_PAYPAL_CLIENT_ID", fake_paypal::CLIENT_ID)
                .env("INTEG_PAYPAL_CLIENT_SECRET", fake_paypal::CLIENT_SECRET)
                .env("INTEG_PAYPAL_BASE_URL", fake.url());
            (start, Some(Box::new(fake)))
        }
        _ => (start, None),
    };
    let adapter = start.spawn().await.unwrap();
    let c = PaymentsServiceClient::new(adapter.channel().await);
    Run {
        subject,
        fake,
        _adapter: adapter,
        c,
    }
}

impl Run {
    fn payment(&self, method: &str, capture: CaptureMethod, amount: i64) -> CreatePaymentRequest {
        CreatePaymentRequest {
            amount: usd(amount),
            capture_method: capture.into(),
            payment_method: method.into(),
            description: "conformance".into(),
            metadata: [("suite".to_owned(), "conformance".to_owned())].into(),
            idempotency_key: key("pay"),
            ..Default::default()
        }
    }

    async fn pay(&mut self, capture: CaptureMethod, amount: i64) -> Payment {
        let request = self.payment(self.subject.pay, capture, amount);
        let created = self.c.create_payment(request).await.unwrap().into_inner();
        assert_eq!(created.provider, self.subject.name);
        created.payment.unwrap()
    }

    /// Every provider: an immediate payment succeeds, shows our metadata, and is refunded in
    /// part and then in full.
    async fn payments_and_refunds(&mut self) {
        let p = self.pay(CaptureMethod::Immediate, 5000).await;
        let who = self.subject.name;
        assert!(p.id.starts_with("pay_"), "{who}: {p:?}");
        assert_eq!(p.status(), PaymentStatus::Succeeded, "{who}");
        assert_eq!(p.metadata["suite"], "conformance", "{who}");
        for amount in [usd(1500), None] {
            let refund = self
                .c
                .create_refund(CreateRefundRequest {
                    payment_id: p.id.clone(),
                    amount,
                    idempotency_key: key("refund"),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .refund
                .unwrap();
            assert_eq!(refund.payment_id, p.id, "{who}");
            assert!(
                matches!(
                    refund.status(),
                    RefundStatus::Succeeded | RefundStatus::Pending
                ),
                "{who}: {refund:?}"
            );
            let read = self
                .c
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
                (read.id, read.payment_id),
                (refund.id, p.id.clone()),
                "{who}"
            );
        }
        let read = get_payment(&mut self.c, &p.id).await;
        assert_eq!(read.metadata["suite"], "conformance", "{who}");
    }

    /// Every provider: manual capture, in part where the provider offers it; cancellation
    /// of an uncaptured payment.
    async fn manual_capture_and_cancel(&mut self) {
        let who = self.subject.name;
        let p = self.pay(CaptureMethod::Manual, 5000).await;
        assert_eq!(p.status(), PaymentStatus::RequiresCapture, "{who}");
        let capture = |amount: Option<Money>| CapturePaymentRequest {
            id: p.id.clone(),
            amount,
            idempotency_key: key("capture"),
            ..Default::default()
        };
        let part = self.c.capture_payment(capture(usd(3000))).await;
        let expected = if self.subject.capabilities.partial_capture {
            let captured = part.unwrap().into_inner().payment.unwrap();
            assert_eq!(captured.status(), PaymentStatus::Succeeded, "{who}");
            usd(3000)
        } else {
            assert_status(&part.unwrap_err(), Code::Unimplemented, "UNSUPPORTED");
            let full = self.c.capture_payment(capture(None)).await.unwrap();
            assert_eq!(
                full.into_inner().payment.unwrap().status(),
                PaymentStatus::Succeeded
            );
            usd(5000)
        };
        let read = get_payment(&mut self.c, &p.id).await;
        assert_eq!(read.amount_captured, expected, "{who}");

        let other = self.pay(CaptureMethod::Manual, 700).await;
        let canceled = self
            .c
            .cancel_payment(CancelPaymentRequest {
                id: other.id.clone(),
                idempotency_key: key("cancel"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .payment
            .unwrap();
        assert_eq!(canceled.status(), PaymentStatus::Canceled, "{who}");
    }

    /// Every provider: a decline is FAILED_PRECONDITION/DECLINED with the provider's code,
    /// sent once; the same key replays, and with another request conflicts.
    async fn declines_and_idempotency(&mut self) {
        let who = self.subject.name;
        let sent = |fake: &Option<Box<dyn Fake>>| {
            fake.as_ref()
                .map(|f| f.requests_to("POST", self.subject.create_path).len())
        };
        let before = sent(&self.fake);
        let declined = self.payment(self.subject.declined, CaptureMethod::Immediate, 100);
        let err = self.c.create_payment(declined).await.unwrap_err();
        assert_status(&err, Code::FailedPrecondition, "DECLINED");
        let info = err.get_details_error_info().unwrap();
        assert_eq!(
            info.metadata["provider_code"], self.subject.decline_code,
            "{who}"
        );
        if let (Some(before), Some(after)) = (before, sent(&self.fake)) {
            assert_eq!(after - before, 1, "{who}: a decline is never retried");
        }

        let request = self.payment(self.subject.pay, CaptureMethod::Immediate, 900);
        let first = self.c.create_payment(request.clone()).await.unwrap();
        let again = self.c.create_payment(request.clone()).await.unwrap();
        let (first, again) = (first.into_inner().payment, again.into_inner().payment);
        assert_eq!(first.unwrap().id, again.unwrap().id, "{who}");
        let changed = CreatePaymentRequest {
            amount: usd(901),
            ..request
        };
        let err = self.c.create_payment(changed).await.unwrap_err();
        assert_status(&err, Code::AlreadyExists, "CONFLICT");
    }

    /// Providers with a fake: a 503 is retried with the same key, and a lost answer is
    /// answered from the provider's idempotency, so one payment is made each time.
    async fn faults(&mut self) {
        let who = self.subject.name;
        let Some(fake) = &self.fake else {
            return;
        };
        let path = self.subject.create_path;
        let count = |fake: &dyn Fake| fake.requests_to("POST", path).len();
        for fault in [Fault::Status(503), Fault::Drop] {
            let before = count(fake.as_ref());
            fake.inject_at(path, 1, fault.clone());
            let request = self.payment(self.subject.pay, CaptureMethod::Immediate, 1200);
            let p = self.c.create_payment(request).await.unwrap();
            let p = p.into_inner().payment.unwrap();
            assert_eq!(p.status(), PaymentStatus::Succeeded, "{who} {fault:?}");
            let sent = fake.requests_to("POST", path);
            let sent = &sent[before..];
            assert_eq!(sent.len(), 2, "{who} {fault:?}: sent twice");
            let keys: Vec<_> = sent.iter().map(self.subject.key_of).collect();
            assert!(keys[0].is_some() && keys[0] == keys[1], "{who}: {keys:?}");
            if fault == Fault::Drop {
                assert!(
                    sent[1].replayed,
                    "{who}: the provider replayed, nothing charged twice"
                );
            }
        }
    }

    /// Customers where offered, UNSUPPORTED elsewhere.
    async fn customers(&mut self) -> Option<Customer> {
        let who = self.subject.name;
        let created = self
            .c
            .create_customer(CreateCustomerRequest {
                email: "ada@example.com".into(),
                name: "Ada Lovelace".into(),
                idempotency_key: key("customer"),
                ..Default::default()
            })
            .await;
        if !self.subject.capabilities.customers {
            assert_status(&created.unwrap_err(), Code::Unimplemented, "UNSUPPORTED");
            return None;
        }
        let customer = created.unwrap().into_inner().customer.unwrap();
        let read = self
            .c
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
            (read.id.as_str(), read.email.as_str()),
            (customer.id.as_str(), "ada@example.com"),
            "{who}"
        );
        Some(customer)
    }

    /// Subscriptions where offered (to a customer where the provider has customers), and the
    /// cancellations the provider offers; UNSUPPORTED for the others.
    async fn subscriptions(&mut self, customer: Option<Customer>) {
        let who = self.subject.name;
        let created = self
            .c
            .create_subscription(CreateSubscriptionRequest {
                customer_id: customer.map(|c| c.id).unwrap_or_default(),
                price_id: self.subject.price.into(),
                idempotency_key: key("sub"),
                ..Default::default()
            })
            .await;
        if !self.subject.capabilities.subscriptions {
            assert_status(&created.unwrap_err(), Code::Unimplemented, "UNSUPPORTED");
            return;
        }
        let s = created.unwrap().into_inner().subscription.unwrap();
        assert!(s.id.starts_with("sub_"), "{who}");
        let cancel = |at_period_end| CancelSubscriptionRequest {
            id: s.id.clone(),
            at_period_end,
            idempotency_key: key("cancel"),
            ..Default::default()
        };
        let later = self.c.cancel_subscription(cancel(true)).await;
        match (self.subject.cancels_at_period_end, later) {
            (true, Ok(r)) => assert!(r.into_inner().subscription.unwrap().cancel_at_period_end),
            (false, Err(e)) => assert_status(&e, Code::Unimplemented, "UNSUPPORTED"),
            (_, other) => panic!("{who}: cancel at period end: {other:?}"),
        }
        let now = self.c.cancel_subscription(cancel(false)).await;
        match (self.subject.cancels_now, now) {
            (true, Ok(r)) => assert_eq!(
                r.into_inner().subscription.unwrap().status(),
                SubscriptionStatus::Canceled
            ),
            (false, Err(e)) => assert_status(&e, Code::Unimplemented, "UNSUPPORTED"),
            (_, other) => panic!("{who}: cancel now: {other:?}"),
        }
    }

    /// Payouts where offered, UNSUPPORTED elsewhere.
    async fn payouts(&mut self) {
        let who = self.subject.name;
        let created = self
            .c
            .create_payout(CreatePayoutRequest {
                amount: usd(700),
                destination: self.subject.destination.into(),
                description: "Weekly payout".into(),
                idempotency_key: key("payout"),
                ..Default::default()
            })
            .await;
        if !self.subject.capabilities.payouts {
            assert_status(&created.unwrap_err(), Code::Unimplemented, "UNSUPPORTED");
            return;
        }
        let payout = created.unwrap().into_inner().payout.unwrap();
        let read = self
            .c
            .get_payout(GetPayoutRequest {
                id: payout.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .payout
            .unwrap();
        assert_eq!((read.id, read.amount), (payout.id, usd(700)), "{who}");
    }
}

async fn suite(subject: &'static Subject) {
    let mut run = run(subject).await;
    tokio::time::timeout(Duration::from_secs(60), async {
        run.payments_and_refunds().await;
        run.manual_capture_and_cancel().await;
        run.declines_and_idempotency().await;
        run.faults().await;
        let customer = run.customers().await;
        run.subscriptions(customer).await;
        run.payouts().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn sandbox_conforms() {
    suite(&SUBJECTS[0]).await;
}

#[tokio::test]
async fn stripe_conforms() {
    suite(&SUBJECTS[1]).await;
}

#[tokio::test]
async fn square_conforms() {
    suite(&SUBJECTS[2]).await;
}

#[tokio::test]
async fn paypal_conforms() {
    suite(&SUBJECTS[3]).await;
}
