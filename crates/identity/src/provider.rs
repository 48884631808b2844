//! The seam between the identity service and its providers (OAuth 2.0 / OpenID Connect).
//!
//! The service owns what is the same for every provider: state, nonce and PKCE generation and
//! their one-time use, nonce checks, idempotency and the machine-token cache. A provider owns
//! its endpoints, its token formats and its verification keys.

use async_trait::async_trait;
use integ_core::Result;
use integ_core::family::CallCtx;
use integ_proto::identity::v1::{TokenClaims, TokenKind, Tokens, UserInfo};

/// What a provider offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Issues ID tokens (OpenID Connect).
    pub id_tokens: bool,
    /// Refresh tokens.
    pub refresh: bool,
    /// Machine-to-machine tokens (client credentials).
    pub machine_tokens: bool,
}

/// What the authorization URL carries, generated and remembered by the service.
#[derive(Debug, Clone)]
pub struct AuthorizationParams {
    /// Where the provider sends the user back.
    pub redirect_uri: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// Our one-time state.
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE S256 challenge of the verifier we keep.
    pub code_challenge: String,
    /// A hint of who signs in.
    pub login_hint: Option<String>,
}

/// A machine token and its lifetime.
#[derive(Debug, Clone)]
pub struct MachineToken {
    /// The access token.
    pub access_token: String,
    /// Usually `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Scopes granted.
    pub scopes: Vec<String>,
}

/// An identity provider.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// The provider's name.
    fn name(&self) -> &'static str;

    /// What it offers.
    fn capabilities(&self) -> Capabilities;

    /// The provider's authorization URL for `params` (pure: no network).
    fn authorization_url(&self, params: &AuthorizationParams) -> Result<String>;

    /// Exchanges an authorization code, sending the PKCE verifier.
    async fn exchange_code(
        &self,
        ctx: &CallCtx,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens>;

    /// Verifies a token's signature, issuer, audience, expiry (with skew) and kind.
    async fn verify_token(
        &self,
        ctx: &CallCtx,
        token: &str,
        audience: Option<&str>,
        expected: TokenKind,
    ) -> Result<(TokenClaims, TokenKind)>;

    /// Uses a refresh token.
    async fn refresh(
        &self,
        ctx: &CallCtx,
        refresh_token: &str,
        scopes: &[String],
    ) -> Result<Tokens>;

    /// The signed-in user, normalised.
    async fn user_info(&self, ctx: &CallCtx, access_token: &str) -> Result<UserInfo>;

    /// A machine-to-machine token for `audience`.
    async fn machine_token(
        &self,
        ctx: &CallCtx,
        audience: &str,
        scopes: &[String],
    ) -> Result<MachineToken>;
}
