//! `integ.identity.v1.IdentityService`: the parts of OAuth 2.0 and OpenID Connect that are the
//! same for every provider, done once.
//!
//! - `CreateAuthorizationUrl` makes a one-time `state`, a `nonce` and a PKCE verifier, keeps
//!   them in the store for ten minutes, and returns the provider's URL with the S256 challenge.
//! - `ExchangeCode` consumes the state (once), sends the kept verifier, verifies the ID token
//!   and its nonce, and normalises the user. Its reply is kept sealed (AES-256-GCM) for replay
//!   under the idempotency key until the earlier of 24 hours and the token's expiry.
//! - `CreateMachineToken` caches tokens per provider, audience and scopes until a minute before
//!   they expire, and fetches once however many callers wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use integ_core::family::{self, CallCtx, Reply, provider_health, reply, required};
use integ_core::idempotent::{self, Keep};
use integ_core::resilience::{Deadline, Providers, Repeat};
use integ_core::seal::Sealer;
use integ_core::store::Store;
use integ_core::{Error, Kind, Result};
use integ_proto::identity::v1::identity_service_server::IdentityService;
use integ_proto::identity::v1::*;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tonic::{Request, Response, Status};

use crate::jwt;
use crate::provider::{AuthorizationParams, IdentityProvider};
use crate::sandbox::{random_token, s256};

const FAMILY: &str = "identity";
/// How long an authorization `state` stays usable.
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// What we remember about an authorization in progress.
#[derive(Debug, Serialize, Deserialize)]
struct PendingAuth {
    provider: String,
    redirect_uri: String,
    nonce: String,
    verifier: String,
    expires_ms: i64,
}

/// A cached machine token.
#[derive(Clone)]
struct Cached {
    reply: CreateMachineTokenResponse,
    refresh_at: SystemTime,
}

/// The identity service.
pub struct Identity {
    providers: Providers<dyn IdentityProvider>,
    store: Store,
    sealer: Sealer,
    machine_tokens: Mutex<HashMap<String, Arc<Mutex<Option<Cached>>>>>,
}

impl Identity {
    /// A service over `providers`, keeping states and replies in `store`, sealed by `sealer`.
    pub fn new(providers: Providers<dyn IdentityProvider>, store: Store, sealer: Sealer) -> Self {
        Self {
            providers,
            store,
            sealer,
            machine_tokens: Mutex::new(HashMap::new()),
        }
    }

    fn pick(&self, requested: &str) -> Result<String> {
        if !requested.is_empty() {
            return self.providers.get(requested).map(|e| e.name.clone());
        }
        self.providers
            .entries()
            .first()
            .map(|e| e.name.clone())
            .ok_or_else(|| Error::internal("no provider configured"))
    }

    async fn call<T, F, Fut>(
        &self,
        provider: &str,
        deadline: Deadline,
        key: &str,
        op: F,
    ) -> Result<T>
    where
        F: Fn(Arc<dyn IdentityProvider>, CallCtx) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let key = key.to_owned();
        let served = self
            .providers
            .call(provider, deadline, Repeat::Safe, |p, attempt| {
                op(
                    p,
                    CallCtx {
                        idempotency_key: key.clone(),
                        attempt,
                    },
                )
            })
            .await?;
        Ok(served.value)
    }

    async fn exchange(
        &self,
        deadline: Deadline,
        req: ExchangeCodeRequest,
    ) -> Result<ExchangeCodeResponse> {
        let records = self.store.records(FAMILY);
        let invalid_state = || {
            Error::new(
                Kind::AuthorizationStateInvalid,
                "the authorization state is unknown, expired or already used",
            )
        };
        let pending: PendingAuth = records
            .get("auth_state", &req.state)
            .await?
            .ok_or_else(invalid_state)?;
        if !req.provider.is_empty() && req.provider != pending.provider {
            return Err(Error::invalid(
                "provider",
                "the state was created for another provider",
            ));
        }
        if !records.delete("auth_state", &req.state).await?
            || pending.expires_ms < integ_core::store::now_ms()
        {
            return Err(invalid_state());
        }
        let provider = pending.provider.clone();
        let result = self
            .call(&provider, deadline, &req.idempotency_key, |p, ctx| {
                let (code, verifier, redirect) = (
                    req.code.clone(),
                    pending.verifier.clone(),
                    pending.redirect_uri.clone(),
                );
                async move { p.exchange_code(&ctx, &code, &verifier, &redirect).await }
            })
            .await;
        let tokens = match result {
            Ok(tokens) => tokens,
            Err(e) if e.retryable => {
                // The code was not used up: let the caller try again with the same state.
                records.put("auth_state", &req.state, &pending).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let user_info = if tokens.id_token.is_empty() {
            None
        } else {
            let (claims, _, raw) = self
                .verify_id_token(&provider, deadline, &tokens.id_token)
                .await?;
            if raw.get("nonce").and_then(|v| v.as_str()) != Some(pending.nonce.as_str()) {
                return Err(Error::new(
                    Kind::TokenInvalid,
                    "the ID token's nonce does not match this authorization",
                )
                .with_provider(&provider));
            }
            drop(claims);
            Some(jwt::user_info(&provider, &raw))
        };
        Ok(ExchangeCodeResponse {
            tokens: Some(tokens),
            user_info,
            provider,
        })
    }

    async fn verify_id_token(
        &self,
        provider: &str,
        deadline: Deadline,
        token: &str,
    ) -> Result<(
        TokenClaims,
        TokenKind,
        serde_json::Map<String, serde_json::Value>,
    )> {
        let (claims, kind) = self
            .call(provider, deadline, "", |p, ctx| {
                let token = token.to_owned();
                async move { p.verify_token(&ctx, &token, None, TokenKind::Id).await }
            })
            .await?;
        let raw = claims
            .claims
            .as_ref()
            .map(|s| {
                s.fields
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), value_json(v)?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok((claims, kind, raw))
    }
}

fn value_json(v: &prost_types::Value) -> Option<serde_json::Value> {
    use prost_types::value::Kind as K;
    Some(match v.kind.as_ref()? {
        K::NullValue(_) => serde_json::Value::Null,
        K::BoolValue(b) => serde_json::Value::Bool(*b),
        K::NumberValue(n) => serde_json::json!(n),
        K::StringValue(s) => serde_json::Value::String(s.clone()),
        K::ListValue(l) => {
            serde_json::Value::Array(l.values.iter().filter_map(value_json).collect())
        }
        K::StructValue(s) => serde_json::Value::Object(
            s.fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), value_json(v)?)))
                .collect(),
        ),
    })
}

/// How long a token reply is kept for replay: until the access token expires, at most a day.
fn token_ttl(expire: Option<&prost_types::Timestamp>) -> Duration {
    let left = expire
        .map(|t| family::timestamp_to_ms(t) - integ_core::store::now_ms())
        .unwrap_or_default();
    Duration::from_millis(u64::try_from(left).unwrap_or_default())
}

fn redirect_uri(value: &str) -> Result<()> {
    let url = url::Url::parse(value)
        .map_err(|_| Error::invalid("redirect_uri", "redirect_uri must be an absolute URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() {
        return Err(Error::invalid(
            "redirect_uri",
            "redirect_uri must be http(s) without a fragment",
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl IdentityService for Identity {
    async fn create_authorization_url(
        &self,
        request: Request<CreateAuthorizationUrlRequest>,
    ) -> Reply<CreateAuthorizationUrlResponse> {
        let req = request.into_inner();
        reply(async {
            redirect_uri(&req.redirect_uri)?;
            let provider = self.pick(&req.provider)?;
            let entry = self.providers.get(&provider)?;
            let (state, nonce, verifier) =
                (random_token(24)?, random_token(24)?, random_token(48)?);
            let mut scopes = req.scopes.clone();
            if scopes.is_empty() {
                scopes = vec!["openid".into(), "email".into(), "profile".into()];
            }
            let params = AuthorizationParams {
                redirect_uri: req.redirect_uri.clone(),
                scopes,
                state: state.clone(),
                nonce: nonce.clone(),
                code_challenge: s256(&verifier),
                login_hint: req.login_hint.clone(),
            };
            let url = entry.provider.authorization_url(&params)?;
            let expires = SystemTime::now() + STATE_TTL;
            let pending = PendingAuth {
                provider: provider.clone(),
                redirect_uri: req.redirect_uri.clone(),
                nonce,
                verifier,
                expires_ms: family::timestamp_to_ms(&family::timestamp(expires)),
            };
            self.store
                .records(FAMILY)
                .put("auth_state", &state, &pending)
                .await?;
            Ok(CreateAuthorizationUrlResponse {
                url,
                state,
                expire_time: Some(family::timestamp(expires)),
                provider,
            })
        })
        .await
    }

    async fn exchange_code(
        &self,
        request: Request<ExchangeCodeRequest>,
    ) -> Reply<ExchangeCodeResponse> {
        let deadline = family::deadline(&request);
        let scope = idempotent::scope(request.metadata(), "ExchangeCode");
        let req = request.into_inner();
        reply(async {
            let key = family::idempotency_key(&req.idempotency_key)?.to_owned();
            required("state", &req.state)?;
            required("code", &req.code)?;
            let keep = Keep {
                sealer: Some(&self.sealer),
                ttl: Some(|r: &ExchangeCodeResponse| {
                    token_ttl(r.tokens.as_ref().and_then(|t| t.expire_time.as_ref()))
                }),
            };
            let mut inner = req.clone();
            inner.idempotency_key = idempotent::provider_key(&scope, &key);
            idempotent::once_with(&self.store, &scope, &key, &req, &keep, || {
                self.exchange(deadline, inner)
            })
            .await
        })
        .await
    }

    async fn verify_token(
        &self,
        request: Request<VerifyTokenRequest>,
    ) -> Reply<VerifyTokenResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        reply(async {
            required("token", &req.token)?;
            let provider = self.pick(&req.provider)?;
            let (claims, kind) = self
                .call(&provider, deadline, "", |p, ctx| {
                    let (token, audience) = (req.token.clone(), req.audience.clone());
                    let expected = req.expected_kind();
                    async move {
                        p.verify_token(&ctx, &token, audience.as_deref(), expected)
                            .await
                    }
                })
                .await?;
            Ok(VerifyTokenResponse {
                claims: Some(claims),
                kind: kind.into(),
                provider,
            })
        })
        .await
    }

    async fn refresh_token(
        &self,
        request: Request<RefreshTokenRequest>,
    ) -> Reply<RefreshTokenResponse> {
        let deadline = family::deadline(&request);
        let scope = idempotent::scope(request.metadata(), "RefreshToken");
        let req = request.into_inner();
        reply(async {
            let key = family::idempotency_key(&req.idempotency_key)?.to_owned();
            required("refresh_token", &req.refresh_token)?;
            required("provider", &req.provider)?;
            let provider = self.pick(&req.provider)?;
            let keep = Keep {
                sealer: Some(&self.sealer),
                ttl: Some(|r: &RefreshTokenResponse| {
                    token_ttl(r.tokens.as_ref().and_then(|t| t.expire_time.as_ref()))
                }),
            };
            let provider_key = idempotent::provider_key(&scope, &key);
            idempotent::once_with(&self.store, &scope, &key, &req, &keep, || async {
                let tokens = self
                    .call(&provider, deadline, &provider_key, |p, ctx| {
                        let (token, scopes) = (req.refresh_token.clone(), req.scopes.clone());
                        async move {
                            if !p.capabilities().refresh {
                                return Err(Error::unsupported(p.name(), "refresh tokens"));
                            }
                            p.refresh(&ctx, &token, &scopes).await
                        }
                    })
                    .await?;
                Ok(RefreshTokenResponse {
                    tokens: Some(tokens),
                    provider: provider.clone(),
                })
            })
            .await
        })
        .await
    }

    async fn get_user_info(
        &self,
        request: Request<GetUserInfoRequest>,
    ) -> Reply<GetUserInfoResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        reply(async {
            required("access_token", &req.access_token)?;
            required("provider", &req.provider)?;
            let provider = self.pick(&req.provider)?;
            let user_info = self
                .call(&provider, deadline, "", |p, ctx| {
                    let token = req.access_token.clone();
                    async move { p.user_info(&ctx, &token).await }
                })
                .await?;
            Ok(GetUserInfoResponse {
                user_info: Some(user_info),
                provider,
            })
        })
        .await
    }

    async fn create_machine_token(
        &self,
        request: Request<CreateMachineTokenRequest>,
    ) -> Reply<CreateMachineTokenResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        reply(async {
            required("audience", &req.audience)?;
            let provider = self.pick(&req.provider)?;
            let mut scopes = req.scopes.clone();
            scopes.sort();
            scopes.dedup();
            let key = format!("{provider}\n{}\n{}", req.audience, scopes.join(" "));
            let slot = self
                .machine_tokens
                .lock()
                .await
                .entry(key)
                .or_default()
                .clone();
            // Holding the slot's lock while fetching makes concurrent callers wait for one fetch.
            let mut cached = slot.lock().await;
            if let Some(c) = cached.as_ref().filter(|c| c.refresh_at > SystemTime::now()) {
                return Ok(c.reply.clone());
            }
            let token = self
                .call(&provider, deadline, "", |p, ctx| {
                    let (audience, scopes) = (req.audience.clone(), scopes.clone());
                    async move {
                        if !p.capabilities().machine_tokens {
                            return Err(Error::unsupported(p.name(), "machine tokens"));
                        }
                        p.machine_token(&ctx, &audience, &scopes).await
                    }
                })
                .await?;
            let expires = SystemTime::now() + Duration::from_secs(token.expires_in);
            let reply = CreateMachineTokenResponse {
                access_token: token.access_token,
                token_type: token.token_type,
                expire_time: Some(family::timestamp(expires)),
                scopes: token.scopes,
                provider,
            };
            let refresh_at = expires
                .checked_sub(Duration::from_secs(60))
                .unwrap_or(expires);
            *cached = Some(Cached {
                reply: reply.clone(),
                refresh_at,
            });
            Ok(reply)
        })
        .await
    }

    async fn get_provider_health(
        &self,
        request: Request<GetProviderHealthRequest>,
    ) -> Reply<GetProviderHealthResponse> {
        let providers =
            provider_health(&self.providers, &request.get_ref().provider).map_err(Status::from)?;
        Ok(Response::new(GetProviderHealthResponse { providers }))
    }
}
