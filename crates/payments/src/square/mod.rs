//! Square: Payments, Refunds, Customers and Subscriptions over Square's REST API (JSON both
//! ways), and Square's webhooks.
//!
//! # Layout
//! - `config`: the `INTEG_SQUARE_*` settings.
//! - `client`: pure request builders and the one sender (headers, JSON bodies).
//! - `wire`: Square's objects, as read.
//! - `convert`: Square's objects in the contract's types.
//! - `error`: Square's error answers as neutral errors.
//! - `webhook`: Square's events in our normalised types.
//!
//! A payment is created at the configured location from the caller's card nonce or stored
//! card id, completed at once for IMMEDIATE capture (`autocomplete`) or held APPROVED for
//! MANUAL capture. The refund note is sent as Square's refund reason.
//!
//! What it does not do, because Square does not: partial capture, payouts, metadata (never
//! sent; the service keeps it on integ's record), subscription quantities above 1, or
//! canceling a subscription before the end of its period. Those answer `UNIMPLEMENTED` with
//! reason `UNSUPPORTED`, and the first two are false in [`Capabilities`]. `return_url` is
//! ignored. Retries, timeouts and the breaker wrap it from outside.

mod client;
mod config;
mod convert;
mod error;
mod webhook;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use integ_core::family::CallCtx;
use integ_core::webhook::Source;
use integ_core::webhook::square::SquareScheme;
use integ_core::{Error, Kind, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CreateCustomerRequest, CreatePaymentRequest, CreatePayoutRequest, CreateRefundRequest,
    CreateSubscriptionRequest, Customer, Payment, PaymentStatus, Payout, Refund, Subscription,
    SubscriptionStatus,
};

pub use config::{API_VERSION, SquareConfig, SquareWebhook};
pub use webhook::SquareEvents;

use crate::provider::{Capabilities, PaymentsProvider, settle};
use client::{SquareClient, SquareRequest};
use wire::{SquareCustomerBody, SquarePaymentBody, SquareRefundBody, SquareSubscriptionBody};

/// The provider's name.
pub const NAME: &str = "square";

/// How many "refund the rest" amounts are remembered for retries at most.
const REMEMBERED_REFUNDS: usize = 1024;

/// The Square provider for one seller and location.
#[derive(Debug, Clone)]
pub struct Square {
    client: SquareClient,
    /// The amount each full refund was sent with, by idempotency key, so that a retry after a
    /// lost answer sends the same body (Square would refuse the key with another amount).
    refund_amounts: Arc<Mutex<HashMap<String, Money>>>,
}

impl Square {
    /// A provider sending with `config`.
    pub fn new(config: SquareConfig) -> Self {
        Self {
            client: SquareClient::new(config),
            refund_amounts: Arc::default(),
        }
    }

    /// The webhook sources, by account, of every configured subscription: Square's signature
    /// over the subscription's notification URL and the body.
    pub fn webhook_sources(&self) -> Vec<(String, Source)> {
        let source = |w: &config::SquareWebhook| Source {
            scheme: Box::new(SquareScheme::new(w.signature_key.clone())),
            normaliser: Box::new(SquareEvents),
            notification_url: w.notification_url.clone(),
        };
        let webhooks = &self.client.config().webhooks;
        webhooks
            .iter()
            .map(|(account, webhook)| (account.clone(), source(webhook)))
            .collect()
    }

    fn location(&self) -> &str {
        &self.client.config().location_id
    }

    async fn payment(&self, ctx: &CallCtx, request: SquareRequest) -> Result<Payment> {
        let body: SquarePaymentBody = self.client.send(ctx, request).await?;
        Ok(convert::payment(body.payment))
    }

    /// Completes or cancels a payment. Neither call takes an idempotency key: a repeat after
    /// a lost answer finds the payment already `done`.
    async fn settle(
        &self,
        ctx: &CallCtx,
        request: SquareRequest,
        provider_id: &str,
        done: PaymentStatus,
    ) -> Result<Payment> {
        let error = match self.payment(ctx, request).await {
            Ok(payment) => return Ok(payment),
            Err(error) => error,
        };
        let read = || self.get_payment(ctx, provider_id);
        settle(ctx, error, read, |p| p.status() == done).await
    }

    /// The amount of a refund: the caller's, else what remains of the payment, worked out
    /// once per idempotency key.
    async fn refund_amount(&self, ctx: &CallCtx, request: &CreateRefundRequest) -> Result<Money> {
        if let Some(amount) = &request.amount {
            return Ok(amount.clone());
        }
        if let Some(amount) = self.remembered(&ctx.idempotency_key) {
            return Ok(amount);
        }

        let read = client::get_payment_request(&request.payment_id)?;
        let payment: SquarePaymentBody = self.client.send(ctx, read).await?;
        let rest = convert::refundable(&payment.payment);
        if rest.amount_minor <= 0 {
            return Err(Error::new(
                Kind::FailedPrecondition,
                "the square payment has nothing left to refund",
            )
            .with_provider(NAME));
        }

        self.remember(&ctx.idempotency_key, &rest);
        Ok(rest)
    }

    fn amounts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Money>> {
        self.refund_amounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remembered(&self, key: &str) -> Option<Money> {
        self.amounts().get(key).cloned()
    }

    fn remember(&self, key: &str, amount: &Money) {
        let mut amounts = self.amounts();
        if amounts.len() >= REMEMBERED_REFUNDS {
            amounts.clear();
        }
        amounts.insert(key.to_owned(), amount.clone());
    }
}

/// What Square offers through the contract.
pub const CAPABILITIES: Capabilities = Capabilities {
    partial_capture: false,
    customers: true,
    subscriptions: true,
    payouts: false,
    payer_approval: false,
};

#[async_trait]
impl PaymentsProvider for Square {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn create_payment(
        &self,
        ctx: &CallCtx,
        request: &CreatePaymentRequest,
    ) -> Result<Payment> {
        let request =
            client::create_payment_request(request, self.location(), &ctx.idempotency_key)?;
        self.payment(ctx, request).await
    }

    async fn get_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        let request = client::get_payment_request(provider_id)?;
        self.payment(ctx, request).await
    }

    async fn capture_payment(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        amount: Option<&Money>,
    ) -> Result<Payment> {
        if amount.is_some() {
            return Err(Error::unsupported(NAME, "partial capture"));
        }
        let request = client::complete_payment_request(provider_id)?;
        self.settle(ctx, request, provider_id, PaymentStatus::Succeeded)
            .await
    }

    async fn cancel_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        let request = client::cancel_payment_request(provider_id)?;
        self.settle(ctx, request, provider_id, PaymentStatus::Canceled)
            .await
    }

    async fn create_refund(&self, ctx: &CallCtx, request: &CreateRefundRequest) -> Result<Refund> {
        let amount = self.refund_amount(ctx, request).await?;
        let send = client::create_refund_request(request, &amount, &ctx.idempotency_key)?;
        let body: SquareRefundBody = self.client.send(ctx, send).await?;
        self.amounts().remove(&ctx.idempotency_key);
        Ok(convert::refund(body.refund))
    }

    async fn get_refund(&self, ctx: &CallCtx, provider_id: &str) -> Result<Refund> {
        let request = client::get_refund_request(provider_id)?;
        let body: SquareRefundBody = self.client.send(ctx, request).await?;
        Ok(convert::refund(body.refund))
    }

    async fn create_customer(
        &self,
        ctx: &CallCtx,
        request: &CreateCustomerRequest,
    ) -> Result<Customer> {
        let request = client::create_customer_request(request, &ctx.idempotency_key)?;
        let body: SquareCustomerBody = self.client.send(ctx, request).await?;
        Ok(convert::customer(body.customer))
    }

    async fn get_customer(&self, ctx: &CallCtx, provider_id: &str) -> Result<Customer> {
        let request = client::get_customer_request(provider_id)?;
        let body: SquareCustomerBody = self.client.send(ctx, request).await?;
        Ok(convert::customer(body.customer))
    }

    async fn create_subscription(
        &self,
        ctx: &CallCtx,
        request: &CreateSubscriptionRequest,
    ) -> Result<Subscription> {
        let request =
            client::create_subscription_request(request, self.location(), &ctx.idempotency_key)?;
        let body: SquareSubscriptionBody = self.client.send(ctx, request).await?;
        Ok(convert::subscription(body.subscription))
    }

    async fn get_subscription(&self, ctx: &CallCtx, provider_id: &str) -> Result<Subscription> {
        let request = client::get_subscription_request(provider_id)?;
        let body: SquareSubscriptionBody = self.client.send(ctx, request).await?;
        Ok(convert::subscription(body.subscription))
    }

    async fn cancel_subscription(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        at_period_end: bool,
    ) -> Result<Subscription> {
        let request = client::cancel_subscription_request(provider_id, at_period_end)?;
        let error = match self
            .client
            .send::<SquareSubscriptionBody>(ctx, request)
            .await
        {
            Ok(body) => return Ok(convert::subscription(body.subscription)),
            Err(error) => error,
        };
        // No idempotency key here either: a repeat after a lost answer finds the cancellation
        // already scheduled.
        let read = || self.get_subscription(ctx, provider_id);
        let done =
            |s: &Subscription| s.cancel_at_period_end || s.status() == SubscriptionStatus::Canceled;
        settle(ctx, error, read, done).await
    }

    async fn create_payout(
        &self,
        _ctx: &CallCtx,
        _request: &CreatePayoutRequest,
    ) -> Result<Payout> {
        Err(Error::unsupported(NAME, "payouts"))
    }

    async fn get_payout(&self, _ctx: &CallCtx, _provider_id: &str) -> Result<Payout> {
        Err(Error::unsupported(NAME, "payouts"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use integ_core::config::Env;

    use super::*;

    fn square(pairs: &[(&str, &str)]) -> Square {
        let mut env = Env::from_pairs([
            ("INTEG_SQUARE_ACCESS_TOKEN", "EAAAl_test_token_1"),
            ("INTEG_SQUARE_LOCATION_ID", "L1"),
        ]);
        for (k, v) in pairs {
            env.set(*k, *v);
        }
        Square::new(SquareConfig::from_env(&env).unwrap())
    }

    #[test]
    fn capabilities_and_the_webhook_source() {
        let s = square(&[]);
        assert_eq!(
            s.capabilities(),
            Capabilities {
                partial_capture: false,
                customers: true,
                subscriptions: true,
                payouts: false,
                payer_approval: false,
            }
        );
        assert!(s.webhook_sources().is_empty());
        let s = square(&[
            ("INTEG_SQUARE_WEBHOOK_SIGNATURE_KEY", "sig_key_1"),
            (
                "INTEG_SQUARE_WEBHOOK_URL",
                "https://hooks.example.com/webhooks/square",
            ),
        ]);
        let sources = s.webhook_sources();
        assert_eq!(
            (
                sources[0].0.as_str(),
                sources[0].1.notification_url.as_str()
            ),
            ("", "https://hooks.example.com/webhooks/square")
        );
    }

    #[tokio::test]
    async fn unsupported_operations_send_nothing() {
        let s = square(&[("INTEG_SQUARE_BASE_URL", "http://127.0.0.1:9")]);
        let ctx = CallCtx::default();
        let money = Money {
            amount_minor: 1,
            currency: "USD".into(),
        };
        let e = s
            .capture_payment(&ctx, "P1", Some(&money))
            .await
            .unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported);
        let e = s
            .create_payout(&ctx, &CreatePayoutRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported);
        let e = s.get_payout(&ctx, "PO1").await.unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported);
        let e = s.cancel_subscription(&ctx, "S1", false).await.unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported);
    }

    #[test]
    fn full_refund_amounts_are_remembered_per_key() {
        let s = square(&[]);
        let usd = Money {
            amount_minor: 750,
            currency: "USD".into(),
        };
        s.remember("k1", &usd);
        assert_eq!(s.remembered("k1"), Some(usd));
        assert_eq!(s.remembered("k2"), None);
    }
}
