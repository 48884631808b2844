//! The identity contract through the sandbox OpenID provider: the whole authorization code
//! flow over HTTP and gRPC, token verification, refresh rotation, user info, machine tokens.

use integ_proto::identity::v1::identity_service_client::IdentityServiceClient;
use integ_proto::identity::v1::*;
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel;

use crate::assert_status;

const REDIRECT: &str = "https://app.example.com/callback";

async fn client() -> (Running, IdentityServiceClient<Channel>) {
    let adapter = Start::new("identity").spawn().await.unwrap();
    let client = IdentityServiceClient::new(adapter.channel().await);
    (adapter, client)
}

/// Starts a sign-in for `hint` and follows the authorization URL like a browser would, up to
/// the redirect back to the application; returns the state and the redirect's query pairs.
async fn sign_in(
    c: &mut IdentityServiceClient<Channel>,
    hint: &str,
) -> (String, Vec<(String, String)>) {
    let started = c
        .create_authorization_url(CreateAuthorizationUrlRequest {
            redirect_uri: REDIRECT.into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            login_hint: Some(hint.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let url = reqwest::Url::parse(&started.url).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(param("state").as_deref(), Some(started.state.as_str()));
    assert_eq!(
        param("code_challenge_method").as_deref(),
        Some("S256"),
        "PKCE is always used"
    );
    assert!(param("nonce").is_some_and(|n| n.len() >= 16));
    assert_eq!(param("response_type").as_deref(), Some("code"));

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let back = reqwest::Url::parse(&location).unwrap();
    (started.state, back.query_pairs().into_owned().collect())
}

fn pick(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_verify_refresh_and_user_info() {
    let (_adapter, mut c) = client().await;
    let (state, back) = sign_in(&mut c, "ana@example.com").await;
    assert_eq!(pick(&back, "state"), state);
    let code = pick(&back, "code");
    assert!(!code.is_empty(), "{back:?}");

    let exchanged = c
        .exchange_code(ExchangeCodeRequest {
            state: state.clone(),
            code: code.clone(),
            idempotency_key: "x-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let tokens = exchanged.tokens.unwrap();
    let user = exchanged.user_info.unwrap();
    assert_eq!(
        (user.email.as_str(), user.provider.as_str()),
        ("ana@example.com", "sandbox")
    );
    assert!(!tokens.id_token.is_empty() && !tokens.refresh_token.is_empty());

    let replayed = c
        .exchange_code(ExchangeCodeRequest {
            state: state.clone(),
            code: code.clone(),
            idempotency_key: "x-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        replayed.tokens.unwrap().access_token,
        tokens.access_token,
        "a retried exchange returns the same tokens"
    );
    let reused = c
        .exchange_code(ExchangeCodeRequest {
            state,
            code,
            idempotency_key: "x-2".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        reused.code(),
        Code::FailedPrecondition,
        "a state is used once: {reused:?}"
    );

    let verified = c
        .verify_token(VerifyTokenRequest {
            token: tokens.id_token.clone(),
            expected_kind: TokenKind::Id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.kind(), TokenKind::Id);
    assert_eq!(verified.claims.unwrap().subject, user.subject);

    let access = c
        .verify_token(VerifyTokenRequest {
            token: tokens.access_token.clone(),
            expected_kind: TokenKind::Access.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(access.kind(), TokenKind::Access);

    let mut forged = tokens.id_token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let err = c
        .verify_token(VerifyTokenRequest {
            token: forged,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::Unauthenticated, "TOKEN_INVALID");
    let wrong_kind = c
        .verify_token(VerifyTokenRequest {
            token: tokens.id_token.clone(),
            expected_kind: TokenKind::Access.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(wrong_kind.code(), Code::Unauthenticated);

    let info = c
        .get_user_info(GetUserInfoRequest {
            access_token: tokens.access_token.clone(),
            provider: "sandbox".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user_info
        .unwrap();
    assert_eq!(info.subject, user.subject);

    let refreshed = c
        .refresh_token(RefreshTokenRequest {
            refresh_token: tokens.refresh_token.clone(),
            idempotency_key: "r-1".into(),
            provider: "sandbox".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(
        refreshed.refresh_token, tokens.refresh_token,
        "refresh tokens rotate"
    );
    let stale = c
        .refresh_token(RefreshTokenRequest {
            refresh_token: tokens.refresh_token.clone(),
            idempotency_key: "r-2".into(),
            provider: "sandbox".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(&stale, Code::FailedPrecondition, "GRANT_INVALID");
}

#[tokio::test]
async fn denied_sign_ins_unknown_states_and_bad_redirects_are_refused() {
    let (_adapter, mut c) = client().await;
    let (_, back) = sign_in(&mut c, "denied@example.com").await;
    assert_eq!(pick(&back, "error"), "access_denied");
    assert!(pick(&back, "code").is_empty());

    let err = c
        .exchange_code(ExchangeCodeRequest {
            state: "never-issued".into(),
            code: "whatever".into(),
            idempotency_key: "x-9".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        "AUTHORIZATION_STATE_INVALID",
    );

    let err = c
        .create_authorization_url(CreateAuthorizationUrlRequest {
            redirect_uri: "not a url".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn machine_tokens_are_cached_and_verifiable() {
    let (_adapter, mut c) = client().await;
    let request = CreateMachineTokenRequest {
        audience: "https://reports.internal".into(),
        scopes: vec!["reports:read".into()],
        ..Default::default()
    };
    let first = c
        .create_machine_token(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = c.create_machine_token(request).await.unwrap().into_inner();
    assert_eq!(
        first.access_token, second.access_token,
        "served from the cache"
    );
    assert_eq!(first.token_type, "Bearer");
    let verified = c
        .verify_token(VerifyTokenRequest {
            token: first.access_token,
            audience: Some("https://reports.internal".into()),
            expected_kind: TokenKind::Access.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        verified
            .claims
            .unwrap()
            .scopes
            .contains(&"reports:read".to_owned())
    );
}
