//! The sandbox payments provider: no account, no network, and the behaviour of a real one.
//!
//! Objects live in the store, so they survive restarts. Test payment methods (named after
//! Stripe's, which most engineers know) choose the outcome:
//!
//! | payment method | outcome |
//! |---|---|
//! | `pm_card_visa`, `pm_card_mastercard`, `tok_visa`, any other `pm_…`/`tok_…` | succeeds |
//! | `pm_card_chargeDeclined` | declined, provider code `card_declined` |
//! | `pm_card_chargeDeclinedInsufficientFunds` | declined, provider code `insufficient_funds` |
//! | `pm_card_authenticationRequired` | `REQUIRES_ACTION` with an action URL |
//! | `pm_card_processingError` | provider unavailable on every attempt (retryable) |
//! | `pm_card_flaky` | unavailable on the first attempt, succeeds when retried |
//!
//! Every change is also reported as a webhook (see `integ_core::webhook::sandbox`):
//! `payment.succeeded`, `payment.authorized`, `payment.canceled`, `payment.refunded`,
//! `subscription.created`, `subscription.updated`, `subscription.canceled`, `payout.paid`,
//! `payout.failed`.
//!
//! A payout to destination `ba_closed_account` fails with `account_closed`. A refund above what
//! remains captured fails with `amount_too_large`. Like real providers, the sandbox honours the
//! idempotency key it is given: the same key returns the object created first.

mod objects;

use async_trait::async_trait;
use integ_core::family::CallCtx;
use integ_core::store::Store;
use integ_core::webhook::sandbox::Emitter;
use integ_core::{Error, Kind, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CreateCustomerRequest, CreatePaymentRequest, CreatePayoutRequest, CreateRefundRequest,
    CreateSubscriptionRequest, Customer, Payment, Payout, Refund, Subscription,
};

use crate::provider::{Capabilities, PaymentsProvider};

/// The provider's name.
pub const NAME: &str = "sandbox";

/// The sandbox provider over a store.
#[derive(Debug, Clone)]
pub struct Sandbox {
    store: Store,
    events: Emitter,
}

impl Sandbox {
    /// A sandbox keeping its objects in `store` and reporting changes through `events`.
    pub fn new(store: Store, events: Emitter) -> Self {
        Self { store, events }
    }

    fn records(&self) -> integ_core::store::Records<'_> {
        self.store.records("payments")
    }

    /// The object an idempotency key already created, if any.
    async fn replay<M: prost::Message + Default>(
        &self,
        kind: &str,
        ctx: &CallCtx,
    ) -> Result<Option<M>> {
        if ctx.idempotency_key.is_empty() {
            return Ok(None);
        }
        let key = format!("{kind}:{}", ctx.idempotency_key);
        let Some(id) = self.records().get::<String>("idem", &key).await? else {
            return Ok(None);
        };
        self.records().get_message(kind, &id).await
    }

    async fn remember(&self, kind: &str, ctx: &CallCtx, id: &str) -> Result<()> {
        if ctx.idempotency_key.is_empty() {
            return Ok(());
        }
        let key = format!("{kind}:{}", ctx.idempotency_key);
        self.records().put("idem", &key, &id.to_owned()).await
    }

    async fn load<M: prost::Message + Default>(&self, kind: &str, id: &str) -> Result<M> {
        self.records().get_message(kind, id).await?.ok_or_else(|| {
            Error::not_found(kind, id)
                .with_provider(NAME)
                .with_provider_code("resource_missing")
        })
    }

    async fn save<M: prost::Message>(&self, kind: &str, id: &str, message: &M) -> Result<()> {
        self.records().put_message(kind, id, message).await
    }
}

fn declined(code: &str) -> Error {
    Error::new(Kind::Declined, "the card was declined")
        .with_provider(NAME)
        .with_provider_code(code)
}

pub(crate) fn refused(code: &str, message: &str) -> Error {
    Error::new(Kind::FailedPrecondition, message)
        .with_provider(NAME)
        .with_provider_code(code)
}

/// What the sandbox offers through the contract.
pub const CAPABILITIES: Capabilities = Capabilities {
    partial_capture: true,
    customers: true,
    subscriptions: true,
    payouts: true,
    payer_approval: false,
};

#[async_trait]
impl PaymentsProvider for Sandbox {
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
        if let Some(existing) = self.replay("payment", ctx).await? {
            return Ok(existing);
        }
        match request.payment_method.as_str() {
            "pm_card_chargeDeclined" => return Err(declined("card_declined")),
            "pm_card_chargeDeclinedInsufficientFunds" => {
                return Err(declined("insufficient_funds"));
            }
            "pm_card_processingError" => {
                return Err(Error::new(Kind::Unavailable, "the card processor failed")
                    .with_provider(NAME)
                    .with_provider_code("processing_error"));
            }
            "pm_card_flaky" if ctx.attempt <= 1 => {
                return Err(Error::new(Kind::Unavailable, "transient sandbox failure")
                    .with_provider(NAME)
                    .with_provider_code("flaky"));
            }
            _ => {}
        }
        if let Some(customer) = Some(request.customer_id.as_str()).filter(|c| !c.is_empty()) {
            self.load::<Customer>("customer", customer)
                .await
                .map_err(|_| {
                    Error::invalid("customer_id", "no such customer").with_provider(NAME)
                })?;
        }
        let payment = objects::new_payment(request);
        self.save("payment", &payment.provider_id, &payment).await?;
        self.remember("payment", ctx, &payment.provider_id).await?;
        if let Some(event) = objects::payment_event(&payment) {
            self.events.emit(event, "payment", &payment.provider_id);
        }
        Ok(payment)
    }

    async fn get_payment(&self, _ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        self.load("payment", provider_id).await
    }

    async fn capture_payment(
        &self,
        _ctx: &CallCtx,
        provider_id: &str,
        amount: Option<&Money>,
    ) -> Result<Payment> {
        let mut payment: Payment = self.load("payment", provider_id).await?;
        objects::capture(&mut payment, amount)?;
        self.save("payment", provider_id, &payment).await?;
        self.events
            .emit("payment.succeeded", "payment", provider_id);
        Ok(payment)
    }

    async fn cancel_payment(&self, _ctx: &CallCtx, provider_id: &str) -> Result<Payment> {
        let mut payment: Payment = self.load("payment", provider_id).await?;
        objects::cancel(&mut payment)?;
        self.save("payment", provider_id, &payment).await?;
        self.events.emit("payment.canceled", "payment", provider_id);
        Ok(payment)
    }

    async fn create_refund(&self, ctx: &CallCtx, request: &CreateRefundRequest) -> Result<Refund> {
        if let Some(existing) = self.replay("refund", ctx).await? {
            return Ok(existing);
        }
        let mut payment: Payment = self.load("payment", &request.payment_id).await?;
        let refund = objects::refund(&mut payment, request)?;
        self.save("payment", &request.payment_id, &payment).await?;
        self.save("refund", &refund.provider_id, &refund).await?;
        self.remember("refund", ctx, &refund.provider_id).await?;
        self.events
            .emit("payment.refunded", "payment", &request.payment_id);
        Ok(refund)
    }

    async fn get_refund(&self, _ctx: &CallCtx, provider_id: &str) -> Result<Refund> {
        self.load("refund", provider_id).await
    }

    async fn create_customer(
        &self,
        ctx: &CallCtx,
        request: &CreateCustomerRequest,
    ) -> Result<Customer> {
        if let Some(existing) = self.replay("customer", ctx).await? {
            return Ok(existing);
        }
        let customer = objects::new_customer(request);
        self.save("customer", &customer.provider_id, &customer)
            .await?;
        self.remember("customer", ctx, &customer.provider_id)
            .await?;
        Ok(customer)
    }

    async fn get_customer(&self, _ctx: &CallCtx, provider_id: &str) -> Result<Customer> {
        self.load("customer", provider_id).await
    }

    async fn create_subscription(
        &self,
        ctx: &CallCtx,
        request: &CreateSubscriptionRequest,
    ) -> Result<Subscription> {
        if let Some(existing) = self.replay("subscription", ctx).await? {
            return Ok(existing);
        }
        self.load::<Customer>("customer", &request.customer_id)
            .await
            .map_err(|_| Error::invalid("customer_id", "no such customer").with_provider(NAME))?;
        let subscription = objects::new_subscription(request)?;
        self.save("subscription", &subscription.provider_id, &subscription)
            .await?;
        self.remember("subscription", ctx, &subscription.provider_id)
            .await?;
        self.events.emit(
            "subscription.created",
            "subscription",
            &subscription.provider_id,
        );
        Ok(subscription)
    }

    async fn get_subscription(&self, _ctx: &CallCtx, provider_id: &str) -> Result<Subscription> {
        self.load("subscription", provider_id).await
    }

    async fn cancel_subscription(
        &self,
        _ctx: &CallCtx,
        provider_id: &str,
        at_period_end: bool,
    ) -> Result<Subscription> {
        let mut subscription: Subscription = self.load("subscription", provider_id).await?;
        objects::cancel_subscription(&mut subscription, at_period_end)?;
        self.save("subscription", provider_id, &subscription)
            .await?;
        let event = if at_period_end {
            "subscription.updated"
        } else {
            "subscription.canceled"
        };
        self.events.emit(event, "subscription", provider_id);
        Ok(subscription)
    }

    async fn create_payout(&self, ctx: &CallCtx, request: &CreatePayoutRequest) -> Result<Payout> {
        if let Some(existing) = self.replay("payout", ctx).await? {
            return Ok(existing);
        }
        let payout = objects::new_payout(request);
        self.save("payout", &payout.provider_id, &payout).await?;
        self.remember("payout", ctx, &payout.provider_id).await?;
        let event = if payout.failure_code.is_empty() {
            "payout.paid"
        } else {
            "payout.failed"
        };
        self.events.emit(event, "payout", &payout.provider_id);
        Ok(payout)
    }

    async fn get_payout(&self, _ctx: &CallCtx, provider_id: &str) -> Result<Payout> {
        self.load("payout", provider_id).await
    }
}
