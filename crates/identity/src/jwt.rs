//! JSON Web Token verification against a key set, shared by every OpenID provider.
//!
//! Checks, in order: the algorithm is an asymmetric one we allow (never `none`, never an HMAC
//! algorithm a public key could be abused with), the key id names a key in the set, the
//! signature, the issuer, the audience, expiry and not-before with a clock-skew leeway, and the
//! token's kind. Every failure is `TOKEN_INVALID` except expiry, which is `TOKEN_EXPIRED`; the
//! message never quotes the token.

use std::collections::BTreeMap;

use integ_core::family::timestamp;
use integ_core::{Error, Kind, Result};
use integ_proto::identity::v1::{TokenClaims, TokenKind, UserInfo};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Asymmetric algorithms a provider may sign with.
pub const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
];

/// What a verification expects.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The issuer (`iss`) the provider uses.
    pub issuer: &'a str,
    /// Audiences of which the token must name at least one.
    pub audiences: Vec<String>,
    /// Allowed clock skew, in seconds.
    pub leeway_secs: u64,
    /// The kind the caller expects; unspecified accepts either.
    pub kind: TokenKind,
}

fn invalid(message: &str) -> Error {
    Error::new(Kind::TokenInvalid, message)
}

/// Verifies `token` against `keys` and returns its claims and kind.
pub fn verify(
    token: &str,
    keys: &JwkSet,
    expect: &Expect<'_>,
) -> Result<(TokenClaims, TokenKind, serde_json::Map<String, Value>)> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| invalid("token is not a well-formed JWT"))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(invalid(
            "token is signed with an algorithm that is not allowed",
        ));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| invalid("token is signed with an unknown key"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("provider key cannot be used"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(&expect.audiences);
    validation.leeway = expect.leeway_secs;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                Error::new(Kind::TokenExpired, "token has expired")
            }
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => invalid("token has the wrong issuer"),
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                invalid("token has the wrong audience")
            }
            jsonwebtoken::errors::ErrorKind::ImmatureSignature => invalid("token is not valid yet"),
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                invalid("token signature does not verify")
            }
            _ => invalid("token is invalid"),
        })?;
    let kind = kind_of(header.typ.as_deref(), &data.claims);
    if expect.kind != TokenKind::Unspecified && expect.kind != kind {
        return Err(invalid("token is not of the expected kind"));
    }
    Ok((claims_of(&data.claims), kind, data.claims))
}

/// An ID or access token, from `token_use` (Cognito, sandbox), the `at+jwt` type, or scopes.
fn kind_of(typ: Option<&str>, claims: &serde_json::Map<String, Value>) -> TokenKind {
    match claims.get("token_use").and_then(Value::as_str) {
        Some("id") => return TokenKind::Id,
        Some("access") => return TokenKind::Access,
        _ => {}
    }
    if typ.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
        || claims.contains_key("scope")
        || claims.contains_key("scp")
    {
        TokenKind::Access
    } else {
        TokenKind::Id
    }
}

fn claims_of(c: &serde_json::Map<String, Value>) -> TokenClaims {
    let text = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let time = |k: &str| {
        c.get(k)
            .and_then(Value::as_i64)
            .map(|s| integ_core::family::timestamp_ms(s.saturating_mul(1000)))
    };
    let audiences = match c.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let scopes = match (c.get("scope"), c.get("scp")) {
        (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
        (_, Some(Value::Array(a))) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    TokenClaims {
        subject: text("sub"),
        issuer: text("iss"),
        audiences,
        expire_time: time("exp"),
        issue_time: time("iat"),
        scopes,
        claims: Some(to_struct(c)),
    }
}

/// The normalised user of an ID token's (or a userinfo reply's) claims.
pub fn user_info(provider: &str, c: &serde_json::Map<String, Value>) -> UserInfo {
    let text = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let verified = match c.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    UserInfo {
        subject: text("sub"),
        email: text("email"),
        email_verified: verified,
        name: text("name"),
        given_name: text("given_name"),
        family_name: text("family_name"),
        picture_url: text("picture"),
        locale: text("locale"),
        provider: provider.to_owned(),
    }
}

/// A JSON object as a protobuf `Struct`.
pub fn to_struct(map: &serde_json::Map<String, Value>) -> prost_types::Struct {
    let fields: BTreeMap<String, prost_types::Value> =
        map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect();
    prost_types::Struct { fields }
}

fn to_value(v: &Value) -> prost_types::Value {
    use prost_types::value::Kind as K;
    let kind = match v {
        Value::Null => K::NullValue(0),
        Value::Bool(b) => K::BoolValue(*b),
        Value::Number(n) => K::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => K::StringValue(s.clone()),
        Value::Array(a) => K::ListValue(prost_types::ListValue {
            values: a.iter().map(to_value).collect(),
        }),
        Value::Object(o) => K::StructValue(to_struct(o)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Now, as a protobuf timestamp.
pub fn now() -> Option<prost_types::Timestamp> {
    Some(timestamp(std::time::SystemTime::now()))
}
