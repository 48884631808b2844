//! Logs, metrics and traces.
//!
//! Logs are JSON lines (or human text for local runs), filtered by `INTEG_LOG`. Every RPC ends
//! with exactly one INFO line, written by [`RpcLogLayer`]: method, provider, outcome, gRPC
//! code, attempts and latency; never a request or response body. Metrics are Prometheus, kept
//! in one recorder installed at start-up and rendered on the admin port's `/metrics`. Traces
//! are exported over OTLP/gRPC when `INTEG_OTLP_ENDPOINT` is set.

use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::future::BoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{ConfigError, Env};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default).
    Json,
    /// Human-readable text.
    Text,
}

/// Telemetry settings.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// The log filter (`INTEG_LOG`, default `info`), in `tracing` env-filter syntax.
    pub filter: String,
    /// The log format (`INTEG_LOG_FORMAT`: `json` or `text`).
    pub format: LogFormat,
    /// Where to export traces over OTLP/gRPC (`INTEG_OTLP_ENDPOINT`), if anywhere.
    pub otlp_endpoint: Option<url::Url>,
}

impl TelemetryConfig {
    /// Reads the telemetry settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let format = match env.string("INTEG_LOG_FORMAT", "json").as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            _ => return Err(ConfigError::new("INTEG_LOG_FORMAT", "must be json or text")),
        };
        let filter = env.string("INTEG_LOG", "info");
        if EnvFilter::try_new(&filter).is_err() {
            return Err(ConfigError::new(
                "INTEG_LOG",
                "must be a tracing filter such as info or integ_core=debug",
            ));
        }
        let otlp_endpoint = env.optional_url("INTEG_OTLP_ENDPOINT")?;
        // The exporter is built without TLS: a collector is reached over plain gRPC, as a
        // sidecar or an in-cluster service is.
        if otlp_endpoint.as_ref().is_some_and(|u| u.scheme() != "http") {
            return Err(ConfigError::new(
                "INTEG_OTLP_ENDPOINT",
                "must be an http:// URL of an OTLP/gRPC collector (TLS is not supported)",
            ));
        }
        Ok(Self {
            filter,
            format,
            otlp_endpoint,
        })
    }
}

/// Installs the global log subscriber (and the OTLP exporter when configured). Call once.
pub fn init(config: &TelemetryConfig, service: &'static str) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let otel = config
        .otlp_endpoint
        .as_ref()
        .and_then(|endpoint| otlp_layer(endpoint, service));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let result = match config.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
    };
    // A second init (tests starting several servers in one process) keeps the first subscriber.
    drop(result);
}

fn otlp_layer<S>(
    endpoint: &url::Url,
    service: &'static str,
) -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.as_str())
        .build()
        .ok()?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    let tracer = provider.tracer(service);
    let _ = TRACER_PROVIDER.set(provider.clone());
    opentelemetry::global::set_tracer_provider(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// The trace pipeline, when OTLP export is on, so that [`shutdown`] can flush it.
static TRACER_PROVIDER: OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = OnceLock::new();

/// Sends the spans still buffered and stops the trace pipeline; a no-op without OTLP.
pub fn shutdown() {
    if let Some(provider) = TRACER_PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        tracing::warn!(%error, "traces could not be flushed at shutdown");
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only when another recorder is installed; then ours stays local.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// What the handler of one RPC learnt about it: which provider served and how many attempts.
#[derive(Debug, Default, Clone)]
pub struct CallInfo {
    /// The provider that served (or failed) the call.
    pub provider: Option<String>,
    /// Attempts made.
    pub attempts: u32,
}

tokio::task_local! {
    static CALL: Arc<Mutex<CallInfo>>;
}

/// Records the provider and attempts of the current RPC for its completion line.
pub fn note_call(provider: &str, attempts: u32) {
    let _ = CALL.try_with(|call| {
        if let Ok(mut c) = call.lock() {
            c.provider = Some(provider.to_owned());
            c.attempts = attempts;
        }
    });
}

/// A tower layer writing one completion line and RPC metrics per gRPC call.
#[derive(Debug, Clone, Copy)]
pub struct RpcLogLayer;

impl<S> tower::Layer<S> for RpcLogLayer {
    type Service = RpcLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcLog { inner }
    }
}

/// The service made by [`RpcLogLayer`].
#[derive(Debug, Clone)]
pub struct RpcLog<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for RpcLog<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let info = Arc::new(Mutex::new(CallInfo::default()));
        let future = CALL.scope(info.clone(), self.inner.call(request));
        Box::pin(async move {
            let started = Instant::now();
            let result = future.await;
            let code = match &result {
                Ok(response) => grpc_code(response.headers()),
                Err(_) => "UNKNOWN",
            };
            let call = info.lock().map(|c| c.clone()).unwrap_or_default();
            log_completion(&method, code, &call, started.elapsed());
            result
        })
    }
}

fn grpc_code(headers: &http::HeaderMap) -> &'static str {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
        tonic::Code::Unknown => "UNKNOWN",
    }
}

fn log_completion(method: &str, code: &'static str, call: &CallInfo, latency: std::time::Duration) {
    let outcome = if code == "OK" { "ok" } else { "error" };
    let provider = call.provider.as_deref().unwrap_or("");
    let latency_ms = latency.as_secs_f64() * 1000.0;
    tracing::info!(
        method,
        provider,
        outcome,
        code,
        attempts = call.attempts,
        latency_ms,
        "rpc finished"
    );
    metrics::counter!("integ_rpc_total", "method" => method.to_owned(), "code" => code)
        .increment(1);
    metrics::histogram!("integ_rpc_seconds", "method" => method.to_owned())
        .record(latency.as_secs_f64());
}
