//! The sandbox identity provider: a small OpenID provider inside the adapter.
//!
//! It signs ES256 tokens with a key made on first start and kept in the store, serves an
//! auto-approving authorization endpoint at `GET /sandbox/authorize` on the adapter's HTTP
//! port (it redirects to `redirect_uri` with a one-time code), checks PKCE (S256) when the code
//! is exchanged, rotates refresh tokens, and verifies tokens like any provider: through its
//! key set. Who signs in is the `login_hint` (default `user@example.com`); a hint starting with
//! `denied` makes the authorization endpoint answer `error=access_denied`.
//!
//! Settings: `INTEG_SANDBOX_BASE_URL` (where authorization URLs point; default the adapter's
//! own HTTP address), `INTEG_SANDBOX_ISSUER`, `INTEG_SANDBOX_CLIENT_ID`,
//! `INTEG_SANDBOX_AUDIENCE` (the API audience of access tokens), `INTEG_SANDBOX_TOKEN_TTL_SECS`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use integ_core::config::{ConfigError, Env};
use integ_core::family::{CallCtx, OwnUrl, timestamp};
use integ_core::store::Store;
use integ_core::{Error, Kind, Result};
use integ_proto::identity::v1::{TokenClaims, TokenKind, Tokens, UserInfo};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::jwt::{self, Expect};
use crate::provider::{AuthorizationParams, Capabilities, IdentityProvider, MachineToken};

/// The provider's name.
pub const NAME: &str = "sandbox";
const FAMILY: &str = "identity";
const CODE_TTL: Duration = Duration::from_secs(60);

/// Settings of the sandbox provider.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where authorization URLs point (`INTEG_SANDBOX_BASE_URL`); unset means the adapter's
    /// own bound HTTP address.
    pub base_url: Option<url::Url>,
    /// The `iss` of its tokens.
    pub issuer: String,
    /// The client id (audience of ID tokens).
    pub client_id: String,
    /// The API audience of access tokens for signed-in users.
    pub audience: String,
    /// Lifetime of access and ID tokens.
    pub token_ttl: Duration,
}

impl SandboxConfig {
    /// Reads `INTEG_SANDBOX_*`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: env.optional_url("INTEG_SANDBOX_BASE_URL")?,
            issuer: env.string("INTEG_SANDBOX_ISSUER", "https://sandbox.integ.dev"),
            client_id: env.string("INTEG_SANDBOX_CLIENT_ID", "integ-sandbox-client"),
            audience: env.string("INTEG_SANDBOX_AUDIENCE", "integ-sandbox-api"),
            token_ttl: env.secs("INTEG_SANDBOX_TOKEN_TTL_SECS", Duration::from_secs(3600))?,
        })
    }
}

/// A pending authorization code.
#[derive(Debug, Serialize, Deserialize)]
struct CodeGrant {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    scopes: Vec<String>,
    email: String,
    expires_ms: i64,
}

/// A live refresh token.
#[derive(Debug, Serialize, Deserialize)]
struct RefreshGrant {
    email: String,
    scopes: Vec<String>,
}

/// The sandbox provider.
pub struct Sandbox {
    config: SandboxConfig,
    base_url: OwnUrl,
    store: Store,
    pkcs8: Vec<u8>,
    kid: String,
    keys: JwkSet,
}

impl Sandbox {
    /// Loads (or makes, the first time) the signing key from the store.
    pub async fn open(config: SandboxConfig, base_url: OwnUrl, store: Store) -> Result<Self> {
        let records = store.records(FAMILY);
        let pkcs8 = match records.get::<String>("signing_key", "default").await? {
            Some(b64) => STANDARD
                .decode(b64)
                .map_err(|_| Error::internal("stored signing key is corrupt"))?,
            None => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| Error::internal("cannot make a signing key"))?;
                records
                    .put("signing_key", "default", &STANDARD.encode(doc.as_ref()))
                    .await?;
                doc.as_ref().to_vec()
            }
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|_| Error::internal("stored signing key is unusable"))?;
        let point = pair.public_key().as_ref();
        let (x, y) = point
            .get(1..33)
            .zip(point.get(33..65))
            .ok_or_else(|| Error::internal("unexpected public key"))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, point);
        let kid = hex::encode(digest.as_ref().get(..8).unwrap_or_default());
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y), "kid": kid, "alg": "ES256", "use": "sig"});
        let keys: JwkSet = serde_json::from_value(json!({ "keys": [jwk] }))
            .map_err(|_| Error::internal("cannot build the key set"))?;
        Ok(Self {
            config,
            base_url,
            store,
            pkcs8,
            kid,
            keys,
        })
    }

    /// The public key set (what a JWKS endpoint would serve).
    pub fn key_set(&self) -> &JwkSet {
        &self.keys
    }

    /// The configured settings.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    fn sign(&self, claims: serde_json::Value) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .map_err(|_| Error::internal("cannot sign a token"))
    }

    /// Signs a token with the given lifetime offset (negative makes an expired one; tests).
    pub fn token_for(
        &self,
        email: &str,
        audience: &str,
        kind: TokenKind,
        lifetime_secs: i64,
    ) -> Result<String> {
        let now = unix_now();
        let token_use = if kind == TokenKind::Id {
            "id"
        } else {
            "access"
        };
        self.sign(json!({"iss": self.config.issuer, "sub": subject(email), "aud": audience, "iat": now, "exp": now + lifetime_secs, "token_use": token_use, "email": email}))
    }

    /// Handles the authorization endpoint: returns where to redirect the browser.
    pub async fn authorize(
        &self,
        query: &std::collections::HashMap<String, String>,
    ) -> Result<String> {
        let get = |k: &str| query.get(k).map(String::as_str).unwrap_or_default();
        let redirect = get("redirect_uri");
        let mut target = url::Url::parse(redirect)
            .map_err(|_| Error::invalid("redirect_uri", "redirect_uri must be an absolute URL"))?;
        if get("client_id") != self.config.client_id {
            return Err(Error::invalid("client_id", "unknown client"));
        }
        if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
            return Err(Error::invalid(
                "code_challenge",
                "PKCE with S256 is required",
            ));
        }
        let email = Some(get("login_hint"))
            .filter(|h| !h.is_empty())
            .unwrap_or("user@example.com")
            .to_owned();
        if email.starts_with("denied") {
            target
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("state", get("state"));
            return Ok(target.into());
        }
        let code = random_token(24)?;
        let grant = CodeGrant {
            redirect_uri: redirect.to_owned(),
            challenge: get("code_challenge").to_owned(),
            nonce: get("nonce").to_owned(),
            scopes: get("scope").split_whitespace().map(str::to_owned).collect(),
            email,
            expires_ms: integ_core::store::now_ms() + CODE_TTL.as_millis() as i64,
        };
        self.store
            .records(FAMILY)
            .put("code", &code, &grant)
            .await?;
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", get("state"));
        Ok(target.into())
    }

    fn tokens(
        &self,
        email: &str,
        scopes: &[String],
        nonce: Option<&str>,
        refresh: String,
    ) -> Result<Tokens> {
        let now = unix_now();
        let ttl = self.config.token_ttl.as_secs() as i64;
        let sub = subject(email);
        let name = email.split('@').next().unwrap_or_default();
        let access = self.sign(json!({"iss": self.config.issuer, "sub": sub, "aud": self.config.audience, "iat": now, "exp": now + ttl, "token_use": "access", "scope": scopes.join(" "), "client_id": self.config.client_id, "email": email}))?;
        let id_token = match nonce {
            Some(nonce) if scopes.iter().any(|s| s == "openid") => self.sign(json!({
                "iss": self.config.issuer, "sub": sub, "aud": self.config.client_id, "iat": now, "exp": now + ttl,
                "token_use": "id", "nonce": nonce, "email": email, "email_verified": true, "name": name, "locale": "en"
            }))?,
            _ => String::new(),
        };
        Ok(Tokens {
            access_token: access,
            id_token,
            refresh_token: refresh,
            token_type: "Bearer".to_owned(),
            expire_time: Some(timestamp(SystemTime::now() + self.config.token_ttl)),
            scopes: scopes.to_vec(),
        })
    }

    async fn new_refresh(&self, email: &str, scopes: &[String]) -> Result<String> {
        let token = random_token(32)?;
        let grant = RefreshGrant {
            email: email.to_owned(),
            scopes: scopes.to_vec(),
        };
        self.store
            .records(FAMILY)
            .put("refresh", &hash(&token), &grant)
            .await?;
        Ok(token)
    }

    fn expect(&self, audience: Option<&str>, kind: TokenKind) -> Expect<'_> {
        let audiences = match audience {
            Some(a) => vec![a.to_owned()],
            None => vec![self.config.client_id.clone(), self.config.audience.clone()],
        };
        Expect {
            issuer: &self.config.issuer,
            audiences,
            leeway_secs: 60,
            kind,
        }
    }
}

fn grant_invalid(message: &str) -> Error {
    Error::new(Kind::GrantInvalid, message)
        .with_provider(NAME)
        .with_provider_code("invalid_grant")
}

fn subject(email: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        email.to_ascii_lowercase().as_bytes(),
    );
    format!(
        "sbx|{}",
        hex::encode(digest.as_ref().get(..12).unwrap_or_default())
    )
}

fn hash(token: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A URL-safe random token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| Error::internal("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The PKCE S256 challenge of `verifier`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

#[async_trait]
impl IdentityProvider for Sandbox {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            id_tokens: true,
            refresh: true,
            machine_tokens: true,
        }
    }

    fn authorization_url(&self, p: &AuthorizationParams) -> Result<String> {
        let mut url = integ_core::http::join(&self.base_url.get()?, "/sandbox/authorize")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", &p.redirect_uri)
                .append_pair("scope", &p.scopes.join(" "))
                .append_pair("state", &p.state)
                .append_pair("nonce", &p.nonce)
                .append_pair("code_challenge", &p.code_challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = &p.login_hint {
                q.append_pair("login_hint", hint);
            }
        }
        Ok(url.into())
    }

    async fn exchange_code(
        &self,
        _ctx: &CallCtx,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens> {
        let records = self.store.records(FAMILY);
        let grant: CodeGrant = records
            .get("code", code)
            .await?
            .ok_or_else(|| grant_invalid("the code is unknown or was already used"))?;
        if !records.delete("code", code).await? {
            return Err(grant_invalid("the code was already used"));
        }
        if grant.expires_ms < integ_core::store::now_ms() {
            return Err(grant_invalid("the code has expired"));
        }
        if grant.redirect_uri != redirect_uri || s256(verifier) != grant.challenge {
            return Err(grant_invalid(
                "the code was issued for another redirect or PKCE verifier",
            ));
        }
        let refresh = self.new_refresh(&grant.email, &grant.scopes).await?;
        self.tokens(&grant.email, &grant.scopes, Some(&grant.nonce), refresh)
    }

    async fn verify_token(
        &self,
        _ctx: &CallCtx,
        token: &str,
        audience: Option<&str>,
        expected: TokenKind,
    ) -> Result<(TokenClaims, TokenKind)> {
        let (claims, kind, _) = jwt::verify(token, &self.keys, &self.expect(audience, expected))
            .map_err(|e| e.with_provider(NAME))?;
        Ok((claims, kind))
    }

    async fn refresh(
        &self,
        _ctx: &CallCtx,
        refresh_token: &str,
        scopes: &[String],
    ) -> Result<Tokens> {
        let records = self.store.records(FAMILY);
        let key = hash(refresh_token);
        let grant: RefreshGrant = records
            .get("refresh", &key)
            .await?
            .ok_or_else(|| grant_invalid("the refresh token is unknown, used or revoked"))?;
        if !records.delete("refresh", &key).await? {
            return Err(grant_invalid("the refresh token was already used"));
        }
        if let Some(extra) = scopes.iter().find(|s| !grant.scopes.contains(s)) {
            return Err(Error::invalid(
                "scopes",
                format!("scope {extra:?} was not granted originally"),
            )
            .with_provider(NAME));
        }
        let scopes = if scopes.is_empty() {
            grant.scopes.clone()
        } else {
            scopes.to_vec()
        };
        let rotated = self.new_refresh(&grant.email, &grant.scopes).await?;
        let mut tokens = self.tokens(&grant.email, &scopes, None, rotated)?;
        tokens.id_token.clear();
        Ok(tokens)
    }

    async fn user_info(&self, _ctx: &CallCtx, access_token: &str) -> Result<UserInfo> {
        let expect = self.expect(Some(&self.config.audience), TokenKind::Access);
        let (claims, _, _) =
            jwt::verify(access_token, &self.keys, &expect).map_err(|e| e.with_provider(NAME))?;
        let email = claims
            .claims
            .as_ref()
            .and_then(|s| s.fields.get("email"))
            .and_then(|v| match &v.kind {
                Some(prost_types::value::Kind::StringValue(s)) => Some(s.clone()),
                _ => None,
            });
        // The sandbox's access tokens carry the email, which stands in for a user directory.
        let mut info = UserInfo {
            subject: claims.subject.clone(),
            provider: NAME.to_owned(),
            ..UserInfo::default()
        };
        if let Some(email) = email {
            info.name = email.split('@').next().unwrap_or_default().to_owned();
            info.email = email;
            info.email_verified = true;
        }
        info.locale = "en".to_owned();
        Ok(info)
    }

    async fn machine_token(
        &self,
        _ctx: &CallCtx,
        audience: &str,
        scopes: &[String],
    ) -> Result<MachineToken> {
        let now = unix_now();
        let ttl = self.config.token_ttl.as_secs();
        let token = self.sign(json!({
            "iss": self.config.issuer, "sub": format!("{}@clients", self.config.client_id), "aud": audience,
            "iat": now, "exp": now + ttl as i64, "token_use": "access", "scope": scopes.join(" "), "gty": "client-credentials"
        }))?;
        Ok(MachineToken {
            access_token: token,
            token_type: "Bearer".to_owned(),
            expires_in: ttl,
            scopes: scopes.to_vec(),
        })
    }
}
