//! What every family service shares: building its providers from configuration, reading a
//! request's deadline, reporting provider health, and converting times.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integ_proto::common::v1::{BreakerState as PbBreakerState, FailureKind, ProviderHealth};

use crate::config::{ConfigError, Env};
use crate::error::{Error, Kind, Result};
use crate::resilience::{BreakerState, Deadline, Entry, Policy, PolicyConfig, Providers};

use crate::server::ServerConfig;

/// What a provider learns about the call it serves.
#[derive(Debug, Clone, Default)]
pub struct CallCtx {
    /// The caller's idempotency key (empty when none), to pass on as the provider's own.
    pub idempotency_key: String,
    /// The attempt number, from 1.
    pub attempt: u32,
}

/// The environment prefix of a provider's settings: `INTEG_STRIPE`.
pub fn provider_prefix(provider: &str) -> String {
    format!("INTEG_{}", provider.to_ascii_uppercase().replace('-', "_"))
}

/// Validated settings of one family's adapter: the shared server settings and the providers.
#[derive(Debug, Clone)]
pub struct FamilyConfig {
    /// Ports, store, telemetry and the provider order.
    pub server: ServerConfig,
    /// The providers in order, with their resilience policies.
    pub providers: ProviderPlan,
    /// The sandbox's webhook secret.
    pub sandbox_webhook: crate::webhook::sandbox::SandboxWebhook,
}

impl FamilyConfig {
    /// Reads and validates the settings of `family`, whose build offers `known` providers.
    pub fn from_env(
        env: &Env,
        family: crate::server::Family,
        known: &[&str],
    ) -> Result<Self, ConfigError> {
        let server = ServerConfig::from_env(env, family)?;
        let providers = ProviderPlan::from_env(env, &server, known)?;
        let sandbox_webhook = crate::webhook::sandbox::SandboxWebhook::from_env(env)?;
        Ok(Self {
            server,
            providers,
            sandbox_webhook,
        })
    }

    /// The adapter over `store` (its gRPC service is set by the family), with the sandbox's
    /// webhook source registered when the sandbox is configured; returns the sandbox's emitter.
    pub fn adapter(
        &self,
        store: crate::store::Store,
    ) -> (crate::server::Adapter, crate::webhook::sandbox::Emitter) {
        let routes = tonic::service::Routes::builder().routes();
        let mut adapter = crate::server::Adapter::new(routes, store);
        let tolerance = self.server.events.tolerance;
        let (emitter, source) = self
            .sandbox_webhook
            .build(adapter.http_addr.clone(), tolerance);
        if self.providers.names().any(|n| n == "sandbox") {
            adapter.webhooks.add("sandbox", "", source);
        }
        (adapter, emitter)
    }
}

impl AsRef<ServerConfig> for FamilyConfig {
    fn as_ref(&self) -> &ServerConfig {
        &self.server
    }
}

/// The family's providers in the configured order with their validated policies, before the
/// providers themselves exist (they may need the store, which opens after validation).
#[derive(Debug, Clone)]
pub struct ProviderPlan {
    entries: Vec<(String, PolicyConfig)>,
    failover: bool,
}

impl ProviderPlan {
    /// Validates `INTEG_<FAMILY>_PROVIDERS` against the names this build offers, and each
    /// provider's policy settings.
    pub fn from_env(env: &Env, server: &ServerConfig, known: &[&str]) -> Result<Self, ConfigError> {
        let key = format!("INTEG_{}_PROVIDERS", server.family.env_name());
        let mut entries: Vec<(String, PolicyConfig)> = Vec::new();
        for name in &server.providers {
            if !known.contains(&name.as_str()) {
                return Err(ConfigError::new(
                    &key,
                    format!(
                        "unknown provider {name:?}; this build offers {}",
                        known.join(", ")
                    ),
                ));
            }
            if entries.iter().any(|(n, _)| n == name) {
                return Err(ConfigError::new(
                    &key,
                    format!("provider {name:?} is listed twice"),
                ));
            }
            entries.push((
                name.clone(),
                PolicyConfig::from_env(env, &provider_prefix(name))?,
            ));
        }
        Ok(Self {
            entries,
            failover: server.failover,
        })
    }

    /// The provider names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// Creates the providers with `make` and wraps each in its policy.
    pub fn build<P: ?Sized>(&self, make: impl Fn(&str) -> Arc<P>) -> Providers<P> {
        let entries = self
            .entries
            .iter()
            .map(|(name, config)| Entry {
                name: name.clone(),
                provider: make(name),
                policy: Policy::new(name.clone(), config.clone()),
            })
            .collect();
        Providers::new(entries, self.failover)
    }
}

/// The deadline of a gRPC request.
pub fn deadline<T>(request: &tonic::Request<T>) -> Deadline {
    Deadline::from_metadata(request.metadata())
}

/// Health of the family's providers, or of the one named by `filter`.
pub fn provider_health<P: ?Sized>(
    providers: &Providers<P>,
    filter: &str,
) -> Result<Vec<ProviderHealth>> {
    if !filter.is_empty() {
        providers.get(filter)?;
    }
    let report = providers
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.is_empty() || e.name == filter)
        .map(|(position, e)| health_of(position, &e.policy))
        .collect();
    Ok(report)
}

fn health_of(position: usize, policy: &Policy) -> ProviderHealth {
    let snapshot = policy.health();
    let breaker = policy.breaker();
    let state = match breaker.state() {
        BreakerState::Closed => PbBreakerState::Closed,
        BreakerState::Open => PbBreakerState::Open,
        BreakerState::HalfOpen => PbBreakerState::HalfOpen,
    };
    let next_probe = breaker.open_until().map(|until| {
        SystemTime::now() + until.saturating_duration_since(tokio::time::Instant::now())
    });
    ProviderHealth {
        provider: policy.provider().to_owned(),
        // Counted from 1, as operators number their providers.
        position: i32::try_from(position + 1).unwrap_or(i32::MAX),
        breaker_state: state.into(),
        next_probe_time: next_probe.map(timestamp),
        consecutive_failures: i32::try_from(breaker.consecutive_failures()).unwrap_or(i32::MAX),
        last_failure_kind: snapshot
            .last_failure
            .map_or(FailureKind::Unspecified, failure_kind)
            .into(),
        last_failure_time: snapshot.last_failure_time.map(timestamp),
        last_success_time: snapshot.last_success_time.map(timestamp),
        last_call_latency: snapshot.last_latency.and_then(duration),
        p50_latency: snapshot.p50_latency().and_then(duration),
    }
}

fn failure_kind(kind: Kind) -> FailureKind {
    match kind {
        Kind::DeadlineExceeded => FailureKind::Timeout,
        Kind::RateLimited => FailureKind::RateLimited,
        Kind::Unavailable => FailureKind::ServerError,
        Kind::ProviderAuth => FailureKind::Auth,
        Kind::ProviderError => FailureKind::InvalidResponse,
        _ => FailureKind::Other,
    }
}

/// A protobuf timestamp.
pub fn timestamp(at: SystemTime) -> prost_types::Timestamp {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: since.as_secs() as i64,
        nanos: since.subsec_nanos() as i32,
    }
}

/// A protobuf timestamp from milliseconds since the epoch.
pub fn timestamp_ms(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds since the epoch of a protobuf timestamp.
pub fn timestamp_to_ms(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(ts.nanos) / 1_000_000)
}

/// A protobuf duration.
pub fn duration(d: Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(d).ok()
}

/// A protobuf duration as a std one; negative or missing is an invalid argument on `field`.
pub fn std_duration(field: &str, d: Option<&prost_types::Duration>) -> Result<Option<Duration>> {
    match d {
        None => Ok(None),
        Some(d) => Duration::try_from(*d)
            .map(Some)
            .map_err(|_| Error::invalid(field, format!("{field} must not be negative"))),
    }
}

/// Requires a non-empty string field.
pub fn required<'a>(field: &str, value: &'a str) -> Result<&'a str> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, format!("{field} is required")));
    }
    Ok(value)
}

/// Checks a metadata map: at most 50 keys of at most 40 characters, values of at most 500.
pub fn validate_metadata(
    field: &str,
    metadata: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    if metadata.len() > 50 {
        return Err(Error::invalid(
            field,
            format!("{field} holds at most 50 keys"),
        ));
    }
    for (k, v) in metadata {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(Error::invalid(
                field,
                format!("{field} keys must be 1 to 40 characters"),
            ));
        }
        if v.chars().count() > 500 {
            return Err(Error::invalid(
                field,
                format!("{field} values must be at most 500 characters"),
            ));
        }
    }
    Ok(())
}

/// Requires a non-empty idempotency key of a sensible shape.
pub fn idempotency_key(key: &str) -> Result<&str> {
    required("idempotency_key", key)?;
    crate::idempotent::validate_key(key)?;
    Ok(key)
}

/// The reply of a gRPC method.
pub type Reply<T> = std::result::Result<tonic::Response<T>, tonic::Status>;

/// Maps the outcome of an operation to a gRPC reply.
pub async fn reply<T>(result: impl Future<Output = Result<T>>) -> Reply<T> {
    result
        .await
        .map(tonic::Response::new)
        .map_err(tonic::Status::from)
}

/// Runs a mutating RPC once per idempotency key (required) and maps errors to statuses.
///
/// `key` reads the caller's key from the request and `set_key` replaces it: the operation sees
/// the provider's key (see [`crate::idempotent::provider_key`]) in place of the caller's, so the
/// provider deduplicates per caller and method too.
pub async fn mutate<Req, Resp, F, Fut>(
    store: &crate::store::Store,
    request: tonic::Request<Req>,
    method: &str,
    key: impl Fn(&Req) -> &str,
    set_key: impl Fn(&mut Req, String),
    op: F,
) -> Reply<Resp>
where
    Req: prost::Message + Clone,
    Resp: prost::Message + Default,
    F: FnOnce(Deadline, Req) -> Fut,
    Fut: Future<Output = Result<Resp>>,
{
    let deadline = deadline(&request);
    let scope = crate::idempotent::scope(request.metadata(), method);
    let mut req = request.into_inner();
    let caller_key = idempotency_key(key(&req))
        .map_err(tonic::Status::from)?
        .to_owned();
    let snapshot = req.clone();
    set_key(
        &mut req,
        crate::idempotent::provider_key(&scope, &caller_key),
    );
    let run = crate::idempotent::once(store, &scope, &caller_key, &snapshot, || op(deadline, req));
    reply(run).await
}

/// Our ids for one family's provider objects.
#[derive(Debug, Clone, Copy)]
pub struct Ids<'a> {
    store: &'a crate::store::Store,
    family: &'static str,
}

impl<'a> Ids<'a> {
    /// The ids of `family`.
    pub fn new(store: &'a crate::store::Store, family: &'static str) -> Self {
        Self { store, family }
    }

    /// Where our id `id` (request field `field`) of `kind` lives, checked against a provider
    /// the caller may have named.
    pub async fn locate(
        &self,
        field: &str,
        kind: &str,
        id: &str,
        requested: &str,
    ) -> Result<crate::store::Resource> {
        let found = self
            .store
            .resources(self.family)
            .get(field, kind, id)
            .await?;
        if !requested.is_empty() && requested != found.provider {
            return Err(Error::invalid(
                "provider",
                format!("{kind} {id} belongs to provider {}", found.provider),
            ));
        }
        Ok(found)
    }

    /// Our id for `provider`'s object, minted with `prefix` the first time it is seen.
    pub async fn mint(
        &self,
        prefix: &str,
        kind: &str,
        provider: &str,
        provider_id: &str,
    ) -> Result<String> {
        let (id, _) = self
            .mint_labelled(prefix, kind, provider, provider_id, None)
            .await?;
        Ok(id)
    }

    /// Our id for `provider`'s object, as [`Ids::mint`], and the labels kept with it.
    ///
    /// `created` is `Some(labels)` when this call created the object at the provider: its id is
    /// minted in one statement (nothing can have seen it yet), keeping `labels` (the caller's
    /// metadata, for a provider that keeps none) so that later reads show them. `None` is for an
    /// object read back or changed: its id is looked up first, so that a read takes no write
    /// lock, and minted only if it was never seen.
    pub async fn mint_labelled(
        &self,
        prefix: &str,
        kind: &str,
        provider: &str,
        provider_id: &str,
        created: Option<&BTreeMap<String, String>>,
    ) -> Result<(String, BTreeMap<String, String>)> {
        let resources = self.store.resources(self.family);
        if created.is_none()
            && let Some((id, kept)) = resources.find_by_provider_id(provider, provider_id).await?
        {
            return Ok((id, serde_json::from_str(&kept).unwrap_or_default()));
        }
        let labels = created.cloned().unwrap_or_default();
        let encoded = if labels.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&labels).unwrap_or_default()
        };
        let id = crate::ids::new_id(prefix);
        if resources
            .put_new(&id, kind, provider, provider_id, &encoded)
            .await?
        {
            return Ok((id, labels));
        }
        // Seen after all: a repeated create answered by the provider's replay, or a race.
        match resources.find_by_provider_id(provider, provider_id).await? {
            Some((id, kept)) => Ok((id, serde_json::from_str(&kept).unwrap_or_default())),
            None => Err(Error::internal("an id was neither minted nor found")),
        }
    }

    /// Our id for `provider`'s object, or empty when we never minted one.
    pub async fn ours(&self, provider: &str, provider_id: &str) -> Result<String> {
        if provider_id.is_empty() {
            return Ok(String::new());
        }
        let found = self
            .store
            .resources(self.family)
            .find_by_provider_id(provider, provider_id)
            .await?;
        Ok(found.map(|(id, _)| id).unwrap_or_default())
    }
}

/// Where a sandbox's own HTTP endpoints (authorization page, presigned URLs) are reached: the
/// configured `INTEG_SANDBOX_BASE_URL`, or else the address the adapter's HTTP port was bound
/// to. The bound address is known only after start-up, so a configured port of 0 works too.
#[derive(Debug, Clone)]
pub struct OwnUrl {
    explicit: Option<url::Url>,
    bound: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
}

impl OwnUrl {
    /// `explicit` when set, else the address in `bound` once the server fills it.
    pub fn new(
        explicit: Option<url::Url>,
        bound: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
    ) -> Self {
        Self { explicit, bound }
    }

    /// The base URL. A wildcard bind address is reached through loopback.
    pub fn get(&self) -> Result<url::Url> {
        if let Some(url) = &self.explicit {
            return Ok(url.clone());
        }
        let addr = self
            .bound
            .get()
            .ok_or_else(|| Error::new(Kind::Unavailable, "the HTTP port is not bound yet"))?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        url::Url::parse(&format!("http://{host}:{}", addr.port()))
            .map_err(|_| Error::internal("the bound HTTP address is not a URL"))
    }
}

#[cfg(test)]
mod own_url_tests {
    use super::*;

    #[test]
    fn explicit_wins_and_wildcards_become_loopback() {
        let bound = Arc::new(std::sync::OnceLock::new());
        let own = OwnUrl::new(None, bound.clone());
        assert!(own.get().is_err(), "unknown before the port is bound");
        bound.set("0.0.0.0:8083".parse().unwrap()).unwrap();
        assert_eq!(own.get().unwrap().as_str(), "http://127.0.0.1:8083/");
        let explicit = url::Url::parse("https://auth.example.com/base/").unwrap();
        let own = OwnUrl::new(Some(explicit.clone()), bound);
        assert_eq!(own.get().unwrap(), explicit);
    }
}
