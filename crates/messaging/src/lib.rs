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

use integ_core::server::{Adapter, ServeError, serve};
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
    let sandbox: Arc<dyn MessagingProvider> = Arc::new(sandbox::Sandbox::new(store.clone()));
    let providers = config.providers.build(|_| sandbox.clone());
    let mut routes = tonic::service::Routes::builder();
    routes.add_service(MessagingServiceServer::new(Messaging::new(
        providers,
        store.clone(),
    )));
    let adapter = Adapter {
        grpc: routes.routes(),
        http: axum::Router::new(),
        store,
    };
    serve(&config.server, adapter, shutdown).await
}
