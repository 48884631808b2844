//! Start-up, serving and graceful shutdown of one adapter.
//!
//! An adapter listens on three ports: gRPC (its family service, the events service, health and
//! reflection), HTTP (webhooks) and admin (`/metrics`). It reports SERVING on the health
//! service only once the store answers, follows the store's reachability afterwards, and on
//! SIGTERM or SIGINT goes NOT_SERVING at once, stops accepting, lets in-flight calls finish
//! within the grace period and logs the outcome once.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::{ConfigError, EXIT_CONFIG, Env};
use crate::store::{Store, StoreConfig};
use crate::telemetry::{self, TelemetryConfig};

/// The four provider families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Payments: Stripe, Square, PayPal.
    Payments,
    /// Messaging: email, SMS, voice and push.
    Messaging,
    /// Identity: OAuth 2.0 and OpenID Connect.
    Identity,
    /// Object storage.
    Storage,
}

impl Family {
    /// Every family, in port order.
    pub const ALL: [Family; 4] = [
        Family::Payments,
        Family::Messaging,
        Family::Identity,
        Family::Storage,
    ];

    /// The family's lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Payments => "payments",
            Family::Messaging => "messaging",
            Family::Identity => "identity",
            Family::Storage => "storage",
        }
    }

    /// The family's part of environment keys (`PAYMENTS`).
    pub fn env_name(self) -> &'static str {
        match self {
            Family::Payments => "PAYMENTS",
            Family::Messaging => "MESSAGING",
            Family::Identity => "IDENTITY",
            Family::Storage => "STORAGE",
        }
    }

    /// The full name of the family's gRPC service, as the health service knows it.
    pub fn service_name(self) -> &'static str {
        match self {
            Family::Payments => "integ.payments.v1.PaymentsService",
            Family::Messaging => "integ.messaging.v1.MessagingService",
            Family::Identity => "integ.identity.v1.IdentityService",
            Family::Storage => "integ.storage.v1.StorageService",
        }
    }

    fn offset(self) -> u16 {
        match self {
            Family::Payments => 1,
            Family::Messaging => 2,
            Family::Identity => 3,
            Family::Storage => 4,
        }
    }

    /// Default ports: gRPC 5005x, webhooks 808x, metrics 909x.
    pub fn default_ports(self) -> (u16, u16, u16) {
        (
            50050 + self.offset(),
            8080 + self.offset(),
            9090 + self.offset(),
        )
    }
}

/// The settings every adapter shares.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The adapter's family.
    pub family: Family,
    /// Address to bind all ports to (`INTEG_BIND_HOST`, default 127.0.0.1).
    pub bind: IpAddr,
    /// gRPC port (`INTEG_GRPC_PORT`).
    pub grpc_port: u16,
    /// Webhook HTTP port (`INTEG_HTTP_PORT`).
    pub http_port: u16,
    /// Metrics port (`INTEG_METRICS_PORT`).
    pub metrics_port: u16,
    /// How long in-flight work may take to finish after SIGTERM (`INTEG_SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace: Duration,
    /// Where local state lives: the SQLite file, sandbox objects (`INTEG_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The store.
    pub store: StoreConfig,
    /// Logs, metrics and traces.
    pub telemetry: TelemetryConfig,
    /// Largest webhook body accepted, in bytes (`INTEG_WEBHOOK_MAX_BODY_BYTES`).
    pub webhook_max_body: usize,
    /// The family's providers in order (`INTEG_<FAMILY>_PROVIDERS`, default `sandbox`).
    pub providers: Vec<String>,
    /// Whether a call may move to the next provider (`INTEG_<FAMILY>_FAILOVER`).
    pub failover: bool,
    /// Webhook events and their delivery.
    pub events: crate::events::EventsConfig,
}

impl ServerConfig {
    /// Reads the shared settings of `family`'s adapter.
    pub fn from_env(env: &Env, family: Family) -> Result<Self, ConfigError> {
        let (grpc, http, metrics) = family.default_ports();
        let data_dir = env.path("INTEG_DATA_DIR", "data");
        let store = StoreConfig::from_env(
            env,
            &data_dir.join(format!("{}.db", family.name())),
            &format!("integ_{}", family.name()),
        )?;
        let providers_key = format!("INTEG_{}_PROVIDERS", family.env_name());
        let providers = env.list(&providers_key, &["sandbox"]);
        if providers.is_empty() {
            return Err(ConfigError::new(
                providers_key,
                "must name at least one provider",
            ));
        }
        let failover_default = family == Family::Messaging;
        Ok(Self {
            family,
            bind: env.ip("INTEG_BIND_HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?,
            grpc_port: env.port("INTEG_GRPC_PORT", grpc)?,
            http_port: env.port("INTEG_HTTP_PORT", http)?,
            metrics_port: env.port("INTEG_METRICS_PORT", metrics)?,
            shutdown_grace: env.secs("INTEG_SHUTDOWN_GRACE_SECS", Duration::from_secs(20))?,
            data_dir,
            store,
            telemetry: TelemetryConfig::from_env(env)?,
            webhook_max_body: env.parse(
                "INTEG_WEBHOOK_MAX_BODY_BYTES",
                1 << 20,
                "a number of bytes",
            )?,
            providers,
            failover: env.flag(
                &format!("INTEG_{}_FAILOVER", family.env_name()),
                failover_default,
            )?,
            events: crate::events::EventsConfig::from_env(env)?,
        })
    }
}

/// What a family hands to [`serve`].
pub struct Adapter {
    /// The family's gRPC service; [`serve`] adds the events service, health and reflection.
    pub grpc: tonic::service::Routes,
    /// Extra HTTP routes (a sandbox's endpoints); [`serve`] adds the webhook routes.
    pub http: axum::Router,
    /// The webhook sources of the family's providers.
    pub webhooks: crate::webhook::Webhooks,
    /// The store, pinged for readiness.
    pub store: Store,
    /// Filled with the HTTP port's address once it is bound (the sandbox posts its webhooks
    /// there).
    pub http_addr: Arc<OnceLock<SocketAddr>>,
}

impl Adapter {
    /// An adapter serving `grpc` over `store`, with no extra routes and no webhook source yet.
    pub fn new(grpc: tonic::service::Routes, store: Store) -> Self {
        Self {
            grpc,
            http: axum::Router::new(),
            webhooks: crate::webhook::Webhooks::new(),
            store,
            http_addr: Arc::default(),
        }
    }
}

/// Why an adapter stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A port could not be bound.
    #[error("cannot bind {what} port {addr}: {source}")]
    Bind {
        /// Which port.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    /// Start-up failed.
    #[error("start-up failed: {0}")]
    Startup(String),
}

async fn bind(what: &'static str, ip: IpAddr, port: u16) -> Result<TcpListener, ServeError> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { what, addr, source })
}

/// Serves `adapter` until `shutdown` resolves, then drains within the grace period.
pub async fn serve(
    config: &ServerConfig,
    adapter: Adapter,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let grpc = bind("gRPC", config.bind, config.grpc_port).await?;
    let http = bind("HTTP", config.bind, config.http_port).await?;
    let admin = bind("metrics", config.bind, config.metrics_port).await?;
    let addr = |l: &TcpListener| l.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(
        family = config.family.name(),
        grpc = %addr(&grpc), http = %addr(&http), metrics = %addr(&admin),
        providers = %config.providers.join(","),
        "integ listening"
    );

    let (reporter, health) = tonic_health::server::health_reporter();
    let service = config.family.service_name();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let readiness = tokio::spawn(follow_store(
        adapter.store.clone(),
        reporter.clone(),
        service,
        stop_rx.clone(),
    ));

    if let Ok(addr) = http.local_addr() {
        let _ = adapter.http_addr.set(addr);
    }
    let notify = Arc::new(tokio::sync::Notify::new());
    let inbox = crate::events::inbox::Inbox::start(adapter.store.clone(), notify.clone());
    let queue = crate::events::queue::Queue::new(adapter.store.clone(), config.events.max_attempts);
    let upkeep = tokio::spawn(upkeep(
        queue.clone(),
        config.events.retention,
        stop_rx.clone(),
    ));
    let events = crate::events::service::Events::new(queue, notify, stop_rx.clone());
    let grpc_routes = adapter.grpc.add_service(
        integ_proto::events::v1::events_service_server::EventsServiceServer::new(events),
    );
    let reflection_v1 = reflection_v1()?;
    let reflection_v1alpha = reflection_v1alpha()?;
    let grpc_server = tonic::transport::Server::builder()
        .layer(telemetry::RpcLogLayer)
        .add_routes(grpc_routes)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(TcpListenerStream::new(grpc), stopped(stop_rx.clone()));
    let http_router = adapter.http.merge(crate::webhook::router(
        adapter.webhooks,
        inbox,
        config.webhook_max_body,
    ));
    let http_server =
        axum::serve(http, http_router).with_graceful_shutdown(stopped(stop_rx.clone()));
    let handle = telemetry::metrics_handle();
    let admin_router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || std::future::ready(handle.render())),
    );
    let admin_server =
        axum::serve(admin, admin_router).with_graceful_shutdown(stopped(stop_rx.clone()));

    let servers = async {
        tokio::join!(
            grpc_server,
            http_server.into_future(),
            admin_server.into_future()
        )
    };
    tokio::pin!(servers);
    let outcome = tokio::select! {
        results = &mut servers => Some(results),
        () = shutdown => None,
    };
    let results = match outcome {
        Some(results) => results,
        None => {
            tracing::info!(
                grace_secs = config.shutdown_grace.as_secs(),
                "shutdown requested: NOT_SERVING, draining"
            );
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
            reporter
                .set_service_status(service, ServingStatus::NotServing)
                .await;
            let _ = stop_tx.send(true);
            match tokio::time::timeout(config.shutdown_grace, &mut servers).await {
                Ok(results) => {
                    tracing::info!("drained: every in-flight call finished");
                    results
                }
                Err(_) => {
                    tracing::warn!("grace period ended with calls still in flight; they were cut");
                    (Ok(()), Ok(()), Ok(()))
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    readiness.abort();
    upkeep.abort();
    adapter.store.close().await;
    results.0?;
    results
        .1
        .map_err(|e| ServeError::Startup(format!("HTTP server failed: {e}")))?;
    results
        .2
        .map_err(|e| ServeError::Startup(format!("metrics server failed: {e}")))?;
    Ok(())
}

/// Prunes expired events and idempotency records, and exports the delivery backlog.
async fn upkeep(
    queue: crate::events::queue::Queue,
    retention: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks: u64 = 0;
    // Providers with a backlog at the last look: when theirs empties, their gauges go to 0.
    let mut backlogged: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        if ticks.is_multiple_of(40) {
            let cutoff = crate::store::now_ms()
                - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX / 2);
            match queue.prune(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(events = n, "pruned events past retention"),
                Ok(_) => {}
                Err(e) => tracing::warn!(reason = e.kind.reason(), "pruning events failed"),
            }
            let _ = queue.store().idempotency().prune().await;
        }
        if let Ok(backlog) = queue.backlog().await {
            let now = crate::store::now_ms();
            let mut current = std::collections::HashSet::new();
            for (provider, depth, oldest) in backlog {
                metrics::gauge!("integ_events_queue_depth", "provider" => provider.clone())
                    .set(depth as f64);
                metrics::gauge!("integ_events_oldest_age_seconds", "provider" => provider.clone())
                    .set((now - oldest).max(0) as f64 / 1000.0);
                current.insert(provider);
            }
            for provider in backlogged.difference(&current) {
                metrics::gauge!("integ_events_queue_depth", "provider" => provider.clone())
                    .set(0.0);
                metrics::gauge!("integ_events_oldest_age_seconds", "provider" => provider.clone())
                    .set(0.0);
            }
            backlogged = current;
        }
        ticks += 1;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Keeps the family service's health in step with the store: SERVING while it answers.
async fn follow_store(
    store: Store,
    reporter: HealthReporter,
    service: &'static str,
    mut stop: watch::Receiver<bool>,
) {
    let mut last = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let status = match store.ping().await {
            Ok(()) => ServingStatus::Serving,
            Err(_) => ServingStatus::NotServing,
        };
        if last != Some(status) {
            if status == ServingStatus::NotServing {
                tracing::warn!("store unreachable: family service NOT_SERVING");
            }
            if *stop.borrow() {
                return;
            }
            reporter.set_service_status(service, status).await;
            last = Some(status);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    }
}

fn reflection_v1() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    ServeError,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(integ_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Startup(format!("reflection: {e}")))
}

fn reflection_v1alpha() -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    ServeError,
> {
    // grpcurl 1.8 speaks only v1alpha.
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(integ_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServeError::Startup(format!("reflection: {e}")))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The whole `main` of an adapter binary: read configuration (exit 64 on a bad value, before
/// any port is bound), start telemetry and the runtime, run until a signal, drain.
pub fn main<C, F, Fut>(
    family: Family,
    load: impl FnOnce(&Env) -> Result<C, ConfigError>,
    run: F,
) -> ExitCode
where
    C: AsRef<ServerConfig>,
    F: FnOnce(C, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = anyhow_like::Result>,
{
    let env = Env::from_process();
    let config = match load(&env) {
        Ok(config) => config,
        Err(error) => {
            report_config_error(family, &error);
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            report_startup_error(family, &error);
            return ExitCode::FAILURE;
        }
    };
    // Inside the runtime: the OTLP exporter spawns its connection and batching tasks.
    runtime.block_on(async { telemetry::init(&config.as_ref().telemetry, family.name()) });
    let code = match runtime.block_on(run(config, Box::pin(shutdown_signal()))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "adapter stopped with an error");
            ExitCode::FAILURE
        }
    };
    runtime.block_on(async { telemetry::shutdown() });
    code
}

#[allow(clippy::print_stderr)] // Logging is not set up yet.
fn report_startup_error(family: Family, error: &std::io::Error) {
    eprintln!(
        "integ-{}: cannot start the async runtime: {error}",
        family.name()
    );
}

#[allow(clippy::print_stderr)] // Before logging exists, stderr is the only channel.
fn report_config_error(family: Family, error: &ConfigError) {
    eprintln!("integ-{}: {error}", family.name());
}

/// The error type adapters return from `run`.
pub mod anyhow_like {
    /// A boxed error that can be displayed.
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    /// The result of an adapter's `run`.
    pub type Result = std::result::Result<(), Error>;
}

impl AsRef<ServerConfig> for ServerConfig {
    fn as_ref(&self) -> &ServerConfig {
        self
    }
}
