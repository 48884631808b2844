//! Stripe: PaymentIntents, Refunds, Customers, Subscriptions and Payouts over Stripe's REST API
//! (form-encoded requests, JSON answers), and Stripe's webhooks.
//!
//! # Layout
//! - `config`: the `INTEG_STRIPE_*` settings.
//! - `client`: pure request builders and the one sender (headers, idempotency key).
//! - `form`: Stripe's bracketed form encoding.
//! - `wire`: Stripe's objects, as read.
//! - `convert`: Stripe's objects in the contract's types.
//! - `error`: Stripe's error answers as neutral errors.
//! - `webhook`: Stripe's events in our normalised types.
//!
//! A payment is a PaymentIntent created and confirmed in one call, with the caller's payment
//! method (`pm_…`). Without a `return_url` it is confirmed with redirects disallowed, so a
//! card that needs 3-D Secure comes back `REQUIRES_ACTION` with no action URL; pass a
//! `return_url` to get one. The refund note is kept in the refund's metadata.
//!
//! What it does not do: Stripe Checkout, SetupIntents, saving payment methods, or any method
//! that is not a `pm_…` id. Retries, timeouts and the breaker wrap it from outside.

mod client;
mod config;
mod convert;
mod error;
mod form;
mod webhook;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use integ_core::family::CallCtx;
use integ_core::webhook::Source;
use integ_core::webhook::stripe::StripeScheme;
use integ_core::{Error, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CreateCustomerRequest, CreatePaymentRequest, CreatePayoutRequest, CreateRefundRequest,
    CreateSubscriptionRequest, Customer, Payment, Payout, Refund, Subscription, SubscriptionStatus,
};

pub use config::{API_VERSION, StripeConfig};
pub use webhook::StripeEvents;

use crate::provider::{Capabilities, PaymentsProvider, settle};
use client::StripeClient;
use wire::{StripeCustomer, StripePaymentIntent, StripePayout, StripeRefund, StripeSubscription};

/// The provider's name.
pub const NAME: &str = "stripe";

/// The Stripe provider for one account (and, optionally, one connected account).
#[derive(Debug, Clone)]
pub struct Stripe {
    client: StripeClient,
}

impl Stripe {
    /// A provider sending with `config`.
    pub fn new(config: StripeConfig) -> Self {
        Self {
            client: StripeClient::new(config),
        }
    }

    /// The webhook sources, by account, of every account with a signing secret: Stripe's
    /// signature scheme with timestamps accepted within `tolerance` either way.
    pub fn webhook_sources(&self, tolerance: Duration) -> Vec<(String, Source)> {
        let webhooks = &self.client.config().webhooks;
        let source = |secret: &integ_core::secret::Secret| Source {
            scheme: Box::new(StripeScheme::new(secret.clone(), tolerance)),
            normaliser: Box::new(StripeEvents),
            notification_url: String::new(),
        };
        webhooks
            .iter()
            .map(|(account, secret)| (account.clone(), source(secret)))
            .collect()
    }
}

/// What Stripe offers through the contract.
pub const CAPABILITIES: Capabilities = Capabilities {
    partial_capture: true,
    customers: true,
    subscriptions: true,
    payouts: true,
    payer_approval: false,
};

#[async_trait]
impl PaymentsProvider for Stripe {
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
        let request = client::create_payment_request(request)?;
        let pi: StripePaymentIntent = self.client.send(ctx, request).await?;
        Ok(convert::payment(pi))
    }

    async fn get_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        let request = client::get_payment_request(provider_id)?;
        let pi: StripePaymentIntent = self.client.send(ctx, request).await?;
        Ok(convert::payment(pi))
    }

    async fn capture_payment(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        amount: Option<&Money>,
    ) -> Result<Payment> {
        let request = client::capture_payment_request(provider_id, amount)?;
        let pi: StripePaymentIntent = self.client.send(ctx, request).await?;
        Ok(convert::payment(pi))
    }

    async fn cancel_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        let request = client::cancel_payment_request(provider_id)?;
        let pi: StripePaymentIntent = self.client.send(ctx, request).await?;
        Ok(convert::payment(pi))
    }

    async fn create_refund(&self, ctx: &CallCtx, request: &CreateRefundRequest) -> Result<Refund> {
        let request = client::create_refund_request(request)?;
        let refund: StripeRefund = self.client.send(ctx, request).await?;
        Ok(convert::refund(refund))
    }

    async fn get_refund(&self, ctx: &CallCtx, provider_id: &str) -> Result<Refund> {
        let request = client::get_refund_request(provider_id)?;
        let refund: StripeRefund = self.client.send(ctx, request).await?;
        Ok(convert::refund(refund))
    }

    async fn create_customer(
        &self,
        ctx: &CallCtx,
        request: &CreateCustomerRequest,
    ) -> Result<Customer> {
        let request = client::create_customer_request(request)?;
        let customer: StripeCustomer = self.client.send(ctx, request).await?;
        Ok(convert::customer(customer))
    }

    async fn get_customer(&self, ctx: &CallCtx, provider_id: &str) -> Result<Customer> {
        let request = client::get_customer_request(provider_id)?;
        let customer: StripeCustomer = self.client.send(ctx, request).await?;
        if customer.deleted {
            return Err(Error::not_found("customer", provider_id)
                .with_provider(NAME)
                .with_provider_code("customer_deleted"));
        }
        Ok(convert::customer(customer))
    }

    async fn create_subscription(
        &self,
        ctx: &CallCtx,
        request: &CreateSubscriptionRequest,
    ) -> Result<Subscription> {
        let request = client::create_subscription_request(request)?;
        let subscription: StripeSubscription = self.client.send(ctx, request).await?;
        Ok(convert::subscription(subscription))
    }

    async fn get_subscription(&self, ctx: &CallCtx, provider_id: &str) -> Result<Subscription> {
        let request = client::get_subscription_request(provider_id)?;
        let subscription: StripeSubscription = self.client.send(ctx, request).await?;
        Ok(convert::subscription(subscription))
    }

    async fn cancel_subscription(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        at_period_end: bool,
    ) -> Result<Subscription> {
        let request = client::cancel_subscription_request(provider_id, at_period_end)?;
        let error = match self.client.send::<StripeSubscription>(ctx, request).await {
            Ok(subscription) => return Ok(convert::subscription(subscription)),
            Err(error) if at_period_end => return Err(error),
            Err(error) => error,
        };
        // A DELETE carries no idempotency key: a repeat after a lost answer finds it canceled.
        let read = || self.get_subscription(ctx, provider_id);
        settle(ctx, error, read, |s| {
            s.status() == SubscriptionStatus::Canceled
        })
        .await
    }

    async fn create_payout(&self, ctx: &CallCtx, request: &CreatePayoutRequest) -> Result<Payout> {
        let request = client::create_payout_request(request)?;
        let payout: StripePayout = self.client.send(ctx, request).await?;
        Ok(convert::payout(payout))
    }

    async fn get_payout(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payout> {
        let request = client::get_payout_request(provider_id)?;
        let payout: StripePayout = self.client.send(ctx, request).await?;
        Ok(convert::payout(payout))
    }
}
