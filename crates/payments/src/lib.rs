//! The payments adapter: `integ.payments.v1.PaymentsService` over Stripe, Square, PayPal and
//! the sandbox.
//!
//! # Layout
//! - [`config`]: settings, validated before start-up.
//! - [`provider`]: the family trait every provider implements, and its capabilities.
//! - [`sandbox`]: the provider that needs no account.
//! - [`stripe`]: Stripe's REST API and webhooks.
//! - [`square`]: Square's REST API and webhooks.
//! - `service`: the gRPC service: validation, idempotency, id translation.
//!
//! Which providers this build offers is [`config::KNOWN_PROVIDERS`]; the README lists what
//! each one supports.

pub mod config;
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
    let stripe = config.stripe.clone().map(stripe::Stripe::new);
    if let Some(source) = stripe
        .as_ref()
        .and_then(|s| s.webhook_source(config.server.events.tolerance))
    {
        adapter.webhooks.add(stripe::NAME, "", source);
    }
    let stripe: Option<Arc<dyn PaymentsProvider>> =
        stripe.map(|s| Arc::new(s) as Arc<dyn PaymentsProvider>);
    let square = config.square.clone().map(square::Square::new);
    if let Some(source) = square.as_ref().and_then(square::Square::webhook_source) {
        adapter.webhooks.add(square::NAME, "", source);
    }
    let square: Option<Arc<dyn PaymentsProvider>> =
        square.map(|s| Arc::new(s) as Arc<dyn PaymentsProvider>);
    // `load` reads a provider's settings whenever it is configured, so the fallback is never
    // taken for stripe or square; every other name is the sandbox.
    let providers = config
        .providers
        .build(|name| match (name, &stripe, &square) {
            (stripe::NAME, Some(stripe), _) => stripe.clone(),
            (square::NAME, _, Some(square)) => square.clone(),
            _ => sandbox.clone(),
        });
    adapter.grpc = adapter
        .grpc
        .add_service(PaymentsServiceServer::new(Payments::new(providers, store)));
    serve(&config.server, adapter, shutdown).await
}
