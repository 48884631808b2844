//! The payments adapter: `integ.payments.v1.PaymentsService` over Stripe, Square, PayPal and
//! the sandbox.
//!
//! # Layout
//! - [`config`]: settings, validated before start-up.
//! - [`provider`]: the family trait every provider implements, and its capabilities.
//! - [`sandbox`]: the provider that needs no account.
//! - [`stripe`]: Stripe's REST API and webhooks.
//! - [`square`]: Square's REST API and webhooks.
//! - [`paypal`]: PayPal's REST APIs (Orders, Payments, Subscriptions, Payouts) and webhooks.
//! - `service`: the gRPC service: validation, idempotency, id translation.
//!
//! Which providers this build offers is [`config::KNOWN_PROVIDERS`]; the README lists what
//! each one supports.

pub mod config;
pub mod paypal;
pub mod provider;
pub mod sandbox;
mod service;
pub mod square;
pub mod stripe;

use std::future::Future;
use std::sync::Arc;

use integ_core::server::{ServeError, serve};
use integ_core::store::Store;
use integ_proto::payments::v1::payments_service_server::PaymentsServiceServer;

pub use config::Config;
pub use service::Payments;

use crate::provider::PaymentsProvider;

/// Opens the store, builds the providers and serves until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let store = Store::open(&config.server.store)
        .await
        .map_err(|e| ServeError::Startup(e.to_string()))?;
    let (mut adapter, emitter) = config.adapter(store.clone());
    let sandbox: Arc<dyn PaymentsProvider> =
        Arc::new(sandbox::Sandbox::new(store.clone(), emitter));
    let tolerance = config.server.events.tolerance;
    let mut offered: Vec<Arc<dyn PaymentsProvider>> = Vec::new();
    if let Some(stripe) = config.stripe.clone().map(stripe::Stripe::new) {
        for (account, source) in stripe.webhook_sources(tolerance) {
            adapter.webhooks.add(stripe::NAME, &account, source);
        }
        offered.push(Arc::new(stripe));
    }
    if let Some(square) = config.square.clone().map(square::Square::new) {
        for (account, source) in square.webhook_sources() {
            adapter.webhooks.add(square::NAME, &account, source);
        }
        offered.push(Arc::new(square));
    }
    if let Some(paypal) = config.paypal.clone().map(paypal::Paypal::new) {
        for (account, source) in paypal.webhook_sources(tolerance) {
            adapter.webhooks.add(paypal::NAME, &account, source);
        }
        offered.push(Arc::new(paypal));
    }
    // `load` reads a provider's settings whenever it is configured, so every configured name
    // other than the sandbox is in `offered`.
    let providers = config.providers.build(|name| {
        offered
            .iter()
            .find(|p| p.name() == name)
            .cloned()
            .unwrap_or_else(|| sandbox.clone())
    });
    adapter.grpc = adapter
        .grpc
        .add_service(PaymentsServiceServer::new(Payments::new(providers, store)));
    serve(&config.server, adapter, shutdown).await
}
