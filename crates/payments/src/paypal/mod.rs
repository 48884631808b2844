//! PayPal: Orders v2 and Payments v2 for payments and refunds, Subscriptions v1, Payouts v1,
//! and PayPal's webhooks, over PayPal's REST API (JSON, OAuth 2.0 client credentials).
//!
//! # Layout
//! - `config`: the `INTEG_PAYPAL_*` settings.
//! - `auth`: the access token, cached and refreshed before it expires.
//! - `client`: pure request builders and the one sender (token, `PayPal-Request-Id`).
//! - `wire`: PayPal's objects, as read.
//! - `convert`: PayPal's objects in the contract's types.
//! - `error`: PayPal's error answers as neutral errors.
//! - `webhook`: signature checks through PayPal's API, and events in our types.
//!
//! # How the contract maps
//! A payment is an order with one purchase unit (intent CAPTURE for immediate capture,
//! AUTHORIZE for manual). With a vaulted payment method (`payment_method`, or `card:<id>` for a
//! vaulted card) PayPal charges or authorises at once. Without one the order waits for the
//! payer at `action_url` (REQUIRES_ACTION); once approved it is REQUIRES_CAPTURE, and
//! CapturePayment captures it (for intent AUTHORIZE it first authorises, then captures the
//! authorisation, in part if an amount is given). CancelPayment voids an authorisation; PayPal
//! has no way to cancel an order the payer has not approved (it expires unused), so that fails
//! with FAILED_PRECONDITION. A refund refunds the order's capture. PayPal has no customers;
//! a subscription is to a billing plan and waits for the subscriber's approval at its
//! `action_url`. A payout is a batch of one item, to an email address or a PayPal payer id.
//!
//! What it does not do: several purchase units, shipping, items, or cards entered in full
//! (card numbers never pass through integ). Retries, timeouts and the breaker wrap it from
//! outside.

mod auth;
mod client;
mod config;
mod convert;
mod error;
mod webhook;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use integ_core::family::CallCtx;
use integ_core::webhook::Source;
use integ_core::{Error, Kind, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CreateCustomerRequest, CreatePaymentRequest, CreatePayoutRequest, CreateRefundRequest,
    CreateSubscriptionRequest, Customer, Payment, PaymentStatus, Payout, Refund, Subscription,
    SubscriptionStatus,
};

pub use config::PaypalConfig;
pub use webhook::{PaypalEvents, PaypalScheme};

use crate::provider::{Capabilities, PaymentsProvider, settle};
use client::PaypalClient;
use wire::{PaypalOrder, PaypalPayoutBatch, PaypalSubscription, PaypalTransaction};

/// The provider's name.
pub const NAME: &str = "paypal";

/// The PayPal provider for one REST app.
#[derive(Debug, Clone)]
pub struct Paypal {
    client: Arc<PaypalClient>,
}

impl Paypal {
    /// A provider sending with `config`.
    pub fn new(config: PaypalConfig) -> Self {
        Self {
            client: Arc::new(PaypalClient::new(config)),
        }
    }

    /// The webhook sources, by account, of every configured webhook id, with transmission
    /// times accepted within `tolerance` either way.
    pub fn webhook_sources(&self, tolerance: Duration) -> Vec<(String, Source)> {
        let source = |webhook_id: &str| Source {
            scheme: Box::new(PaypalScheme::new(
                self.client.clone(),
                webhook_id.to_owned(),
                tolerance,
            )),
            normaliser: Box::new(PaypalEvents),
            notification_url: String::new(),
        };
        let webhooks = &self.client.config().webhooks;
        webhooks
            .iter()
            .map(|(account, id)| (account.clone(), source(id)))
            .collect()
    }

    async fn order(&self, ctx: &CallCtx, id: &str) -> Result<PaypalOrder> {
        self.client.send(ctx, client::get_order_request(id)?).await
    }

    async fn authorize_then_capture(
        &self,
        ctx: &CallCtx,
        order: PaypalOrder,
        amount: Option<&Money>,
    ) -> Result<()> {
        let order = match convert::open_authorization(&order) {
            Some(_) => order,
            None => {
                let request = client::authorize_order_request(&order.id)?;
                self.client.send(ctx, request).await?
            }
        };
        let authorization = convert::open_authorization(&order).ok_or_else(|| {
            Error::new(
                Kind::FailedPrecondition,
                "paypal has no open authorisation for this order",
            )
            .with_provider(NAME)
        })?;
        let request = client::capture_authorization_request(&authorization, amount)?;
        let _: PaypalTransaction = self.client.send(ctx, request).await?;
        Ok(())
    }
}

fn not_now(what: &str) -> Error {
    Error::new(
        Kind::FailedPrecondition,
        format!("paypal cannot {what} this order in its current state"),
    )
    .with_provider(NAME)
}

/// What PayPal offers through the contract.
pub const CAPABILITIES: Capabilities = Capabilities {
    partial_capture: true,
    customers: false,
    subscriptions: true,
    payouts: true,
    payer_approval: true,
};

#[async_trait]
impl PaymentsProvider for Paypal {
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
        let request = client::create_order_request(request)?;
        let order: PaypalOrder = self.client.send(ctx, request).await?;
        Ok(convert::payment(order))
    }

    async fn get_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        Ok(convert::payment(self.order(ctx, provider_id).await?))
    }

    async fn capture_payment(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        amount: Option<&Money>,
    ) -> Result<Payment> {
        let order = self.order(ctx, provider_id).await?;
        let status = convert::payment(order.clone()).status();
        match (status, order.intent.as_str()) {
            // A retry after a lost answer finds the work done.
            (PaymentStatus::Succeeded | PaymentStatus::Processing, _) if ctx.attempt > 1 => {}
            (PaymentStatus::RequiresCapture, "CAPTURE") if amount.is_some() => {
                return Err(Error::unsupported(
                    NAME,
                    "partial capture of an order with immediate capture",
                ));
            }
            (PaymentStatus::RequiresCapture, "CAPTURE") => {
                let request = client::capture_order_request(provider_id)?;
                let _: PaypalOrder = self.client.send(ctx, request).await?;
            }
            (PaymentStatus::RequiresCapture, _) => {
                self.authorize_then_capture(ctx, order, amount).await?;
            }
            _ => return Err(not_now("capture")),
        }
        self.get_payment(ctx, provider_id).await
    }

    async fn cancel_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        let order = self.order(ctx, provider_id).await?;
        let status = convert::payment(order.clone()).status();
        match (status, convert::open_authorization(&order)) {
            (PaymentStatus::Canceled, _) if ctx.attempt > 1 => {}
            (PaymentStatus::RequiresCapture, Some(authorization)) => {
                let request = client::void_authorization_request(&authorization)?;
                self.client.send_empty(ctx, request).await?;
            }
            _ => return Err(not_now("cancel")),
        }
        self.get_payment(ctx, provider_id).await
    }

    async fn create_refund(&self, ctx: &CallCtx, request: &CreateRefundRequest) -> Result<Refund> {
        let order = self.order(ctx, &request.payment_id).await?;
        let capture = convert::refundable_capture(&order).ok_or_else(|| not_now("refund"))?;
        let call = client::refund_capture_request(&capture, request)?;
        let refund: PaypalTransaction = self.client.send(ctx, call).await?;
        Ok(convert::refund(refund, &request.payment_id))
    }

    async fn get_refund(&self, ctx: &CallCtx, provider_id: &str) -> Result<Refund> {
        let refund: PaypalTransaction = self
            .client
            .send(ctx, client::get_refund_request(provider_id)?)
            .await?;
        // The refund names its capture; the capture names its order, which is our payment.
        let order = match convert::refunded_capture(&refund) {
            Some(capture) => {
                let capture: PaypalTransaction = self
                    .client
                    .send(ctx, client::get_capture_request(&capture)?)
                    .await?;
                capture
                    .supplementary_data
                    .and_then(|s| s.related_ids.order_id)
                    .unwrap_or_default()
            }
            None => String::new(),
        };
        Ok(convert::refund(refund, &order))
    }

    async fn create_customer(
        &self,
        _ctx: &CallCtx,
        _request: &CreateCustomerRequest,
    ) -> Result<Customer> {
        Err(Error::unsupported(NAME, "customers"))
    }

    async fn get_customer(&self, _ctx: &CallCtx, _provider_id: &str) -> Result<Customer> {
        Err(Error::unsupported(NAME, "customers"))
    }

    async fn create_subscription(
        &self,
        ctx: &CallCtx,
        request: &CreateSubscriptionRequest,
    ) -> Result<Subscription> {
        let request = client::create_subscription_request(request)?;
        let subscription: PaypalSubscription = self.client.send(ctx, request).await?;
        Ok(convert::subscription(subscription))
    }

    async fn get_subscription(&self, ctx: &CallCtx, provider_id: &str) -> Result<Subscription> {
        let request = client::get_subscription_request(provider_id)?;
        let subscription: PaypalSubscription = self.client.send(ctx, request).await?;
        Ok(convert::subscription(subscription))
    }

    async fn cancel_subscription(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        at_period_end: bool,
    ) -> Result<Subscription> {
        if at_period_end {
            return Err(Error::unsupported(NAME, "cancellation at the period's end"));
        }
        let request = client::cancel_subscription_request(provider_id)?;
        let error = match self.client.send_empty(ctx, request).await {
            Ok(()) => return self.get_subscription(ctx, provider_id).await,
            Err(error) => error,
        };
        // The cancel carries no request id: a repeat after a lost answer finds it cancelled.
        let read = || self.get_subscription(ctx, provider_id);
        settle(ctx, error, read, |s| {
            s.status() == SubscriptionStatus::Canceled
        })
        .await
    }

    async fn create_payout(&self, ctx: &CallCtx, request: &CreatePayoutRequest) -> Result<Payout> {
        let call = client::create_payout_request(request, &ctx.idempotency_key)?;
        let batch: PaypalPayoutBatch = self.client.send(ctx, call).await?;
        let mut payout = convert::payout(batch, request.amount.as_ref());
        if payout.destination.is_empty() {
            payout.destination = request.destination.clone();
            payout.description = request.description.clone();
        }
        Ok(payout)
    }

    async fn get_payout(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payout> {
        let request = client::get_payout_request(provider_id)?;
        let batch: PaypalPayoutBatch = self.client.send(ctx, request).await?;
        Ok(convert::payout(batch, None))
    }
}
