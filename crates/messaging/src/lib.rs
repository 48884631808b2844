//! The messaging adapter: `integ.messaging.v1.MessagingService` for email, SMS, voice and push.
//!
//! # Layout
//! - [`config`]: settings, validated before start-up.
//! - [`provider`]: the family trait and capabilities per channel.
//! - [`sandbox`]: the provider that needs no account.
//! - `service`: the gRPC service: validation, idempotency, ids.

pub mod config;
pub mod provider;
pub mod sandbox;
mod service;

use std::future::Future;
use std::sync::Arc;

use integ_core::server::{ServeError, serve};
use integ_core::store::Store;
use integ_proto::messaging::v1::messaging_service_server::MessagingServiceServer;

pub use config::Config;
pub use service::Messaging;

use crate::provider::MessagingProvider;

/// Opens the store, builds the providers and serves until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let store = Store::open(&config.server.store)
        .await
        .map_err(|e| ServeError::Startup(e.to_string()))?;
    let (mut adapter, emitter) = config.adapter(store.clone());
    let sandbox: Arc<dyn MessagingProvider> =
        Arc::new(sandbox::Sandbox::new(store.clone(), emitter));
    let providers = config.providers.build(|_| sandbox.clone());
    adapter.grpc = adapter.grpc.add_service(
        MessagingServiceServer::new(Messaging::new(providers, store))
            // Attachments may total 7 MiB; the contract accepts messages up to 8 MiB.
            .max_decoding_message_size(8 << 20),
    );
    serve(&config.server, adapter, shutdown).await
}
