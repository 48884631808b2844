//! The identity adapter: `integ.identity.v1.IdentityService` for OAuth 2.0 and OpenID Connect.
//!
//! # Layout
//! - [`config`]: settings, validated before start-up.
//! - [`provider`]: the family trait.
//! - [`jwt`]: token verification against a key set, shared by every OpenID provider.
//! - [`sandbox`]: a small OpenID provider inside the adapter.
//! - `service`: state, nonce and PKCE; idempotent, sealed replies; the machine-token cache.

pub mod config;
pub mod jwt;
pub mod provider;
pub mod sandbox;
mod service;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use integ_core::family::OwnUrl;
use integ_core::server::{ServeError, serve};
use integ_core::store::Store;
use integ_proto::identity::v1::identity_service_server::IdentityServiceServer;

pub use config::Config;
pub use service::Identity;

use crate::provider::IdentityProvider;

/// Opens the store, builds the providers and serves until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let startup = |e: integ_core::Error| ServeError::Startup(e.to_string());
    let store = Store::open(&config.family.server.store)
        .await
        .map_err(startup)?;
    let (mut adapter, _emitter) = config.family.adapter(store.clone());
    let own = OwnUrl::new(config.sandbox.base_url.clone(), adapter.http_addr.clone());
    let sandbox = Arc::new(
        sandbox::Sandbox::open(config.sandbox.clone(), own, store.clone())
            .await
            .map_err(startup)?,
    );
    let provider: Arc<dyn IdentityProvider> = sandbox.clone();
    let providers = config.family.providers.build(|_| provider.clone());
    let service = Identity::new(providers, store, config.sealer);
    adapter.grpc = adapter
        .grpc
        .add_service(IdentityServiceServer::new(service));
    adapter.http = axum::Router::new()
        .route("/sandbox/authorize", axum::routing::get(authorize))
        .with_state(sandbox);
    serve(&config.family.server, adapter, shutdown).await
}

/// The sandbox's authorization endpoint: approves at once and redirects with a code.
async fn authorize(
    State(sandbox): State<Arc<sandbox::Sandbox>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match sandbox.authorize(&query).await {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.message).into_response(),
    }
}
