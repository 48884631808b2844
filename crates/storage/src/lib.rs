//! The storage adapter: `integ.storage.v1.StorageService` over object stores.
//!
//! # Layout
//! - [`config`]: settings, validated before start-up.
//! - [`provider`]: the family trait, with streamed bodies.
//! - [`sandbox`]: objects as local files, with presigned URLs served by the adapter itself.
//! - `service`: validation, streaming, pagination and idempotency.
//! - `presigned`: the HTTP handler that serves the sandbox's presigned URLs.

pub mod config;
mod presigned;
pub mod provider;
pub mod sandbox;
mod service;

use std::future::Future;
use std::sync::Arc;

use integ_core::family::OwnUrl;
use integ_core::server::{ServeError, serve};
use integ_core::store::Store;
use integ_proto::storage::v1::storage_service_server::StorageServiceServer;

pub use config::Config;
pub use service::Storage;

use crate::provider::StorageProvider;

/// Opens the store, builds the providers and serves until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let startup = |e: integ_core::Error| ServeError::Startup(e.to_string());
    let store = Store::open(&config.family.server.store)
        .await
        .map_err(startup)?;
    let (mut adapter, emitter) = config.family.adapter(store.clone());
    let sandbox = Arc::new(
        sandbox::Sandbox::open(
            &config.sandbox,
            OwnUrl::new(config.sandbox.base_url.clone(), adapter.http_addr.clone()),
            store.clone(),
            emitter,
        )
        .await
        .map_err(startup)?,
    );
    let provider: Arc<dyn StorageProvider> = sandbox.clone();
    let providers = config.family.providers.build(|_| provider.clone());
    let service = StorageServiceServer::new(Storage::new(providers, store))
        .max_decoding_message_size(2 << 20)
        .max_encoding_message_size(2 << 20);
    adapter.grpc = adapter.grpc.add_service(service);
    adapter.http = presigned::router(sandbox);
    serve(&config.family.server, adapter, shutdown).await
}
