//! The seam between the payments service and its providers.
//!
//! A provider speaks its own wire protocol and answers in the contract's neutral types, with
//! ids in its own namespace (`provider_id`, and the provider's ids of related objects); the
//! service mints our ids and translates. Resilience wraps a provider from outside: nothing in
//! a provider retries, sleeps or fails over.

use std::future::Future;

use async_trait::async_trait;
use integ_core::family::CallCtx;
use integ_core::{Error, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CreateCustomerRequest, CreatePaymentRequest, CreatePayoutRequest, CreateRefundRequest,
    CreateSubscriptionRequest, Customer, Payment, Payout, Refund, Subscription,
};

/// What a provider offers; an operation it lacks answers `UNIMPLEMENTED` (reason UNSUPPORTED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Manual capture and capture of less than the authorised amount.
    pub partial_capture: bool,
    /// Customers.
    pub customers: bool,
    /// Subscriptions.
    pub subscriptions: bool,
    /// Payouts.
    pub payouts: bool,
    /// A payment may be created without a payment method: the payer chooses one when
    /// approving at the provider (PayPal's checkout).
    pub payer_approval: bool,
}

/// A payments provider. Requests carry provider ids where they refer to other objects.
#[async_trait]
pub trait PaymentsProvider: Send + Sync {
    /// The provider's name (`stripe`, `sandbox`).
    fn name(&self) -> &'static str;

    /// What the provider offers.
    fn capabilities(&self) -> Capabilities;

    /// Creates (and, for immediate capture, confirms) a payment.
    async fn create_payment(
        &self,
        ctx: &CallCtx,
        request: &CreatePaymentRequest,
    ) -> Result<Payment>;

    /// Reads a payment by the provider's id.
    async fn get_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment>;

    /// Captures an authorised payment, in full or for `amount`.
    async fn capture_payment(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        amount: Option<&Money>,
    ) -> Result<Payment>;

    /// Cancels a payment that is not captured.
    async fn cancel_payment(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payment>;

    /// Refunds a captured payment (`request.payment_id` is the provider's payment id).
    async fn create_refund(&self, ctx: &CallCtx, request: &CreateRefundRequest) -> Result<Refund>;

    /// Reads a refund.
    async fn get_refund(&self, ctx: &CallCtx, provider_id: &str) -> Result<Refund>;

    /// Creates a customer.
    async fn create_customer(
        &self,
        ctx: &CallCtx,
        request: &CreateCustomerRequest,
    ) -> Result<Customer>;

    /// Reads a customer.
    async fn get_customer(&self, ctx: &CallCtx, provider_id: &str) -> Result<Customer>;

    /// Subscribes a customer (`request.customer_id` is the provider's) to a price.
    async fn create_subscription(
        &self,
        ctx: &CallCtx,
        request: &CreateSubscriptionRequest,
    ) -> Result<Subscription>;

    /// Reads a subscription.
    async fn get_subscription(&self, ctx: &CallCtx, provider_id: &str) -> Result<Subscription>;

    /// Cancels a subscription now or at the end of its period.
    async fn cancel_subscription(
        &self,
        ctx: &CallCtx,
        provider_id: &str,
        at_period_end: bool,
    ) -> Result<Subscription>;

    /// Sends money to a destination.
    async fn create_payout(&self, ctx: &CallCtx, request: &CreatePayoutRequest) -> Result<Payout>;

    /// Reads a payout.
    async fn get_payout(&self, ctx: &CallCtx, provider_id: &str) -> Result<Payout>;
}

/// Settles a failed call that carried no idempotency key (the provider offers none for it).
///
/// When an earlier attempt's answer was lost, the provider refuses the repeat because the
/// object is already where the call would have put it, which is success: on a second or later
/// attempt, a refusal that is not worth retrying is checked by reading the object (`read`) and
/// asking `done` whether it is there. Anything else stays the error it was.
pub async fn settle<T, R>(
    ctx: &CallCtx,
    error: Error,
    read: impl FnOnce() -> R,
    done: impl FnOnce(&T) -> bool,
) -> Result<T>
where
    R: Future<Output = Result<T>>,
{
    if ctx.attempt > 1 && !error.retryable {
        let current = read().await?;
        if done(&current) {
            return Ok(current);
        }
    }
    Err(error)
}
