//! A fake Square on loopback that speaks Square's wire format, for black-box tests.
//!
//! - Every request must carry `Authorization: Bearer EAAA…` (Square's access tokens start
//!   so); anything else gets Square's 401 `AUTHENTICATION_ERROR`/`UNAUTHORIZED` body. Unlike
//!   Square, its `detail` quotes the whole token, so a client that passes `detail` on leaks it
//!   in tests.
//! - Every request must carry `Square-Version: YYYY-MM-DD`. Square itself falls back to the
//!   application's default version; the fake refuses (400 `INVALID_SQUARE_VERSION_FORMAT`) so
//!   that a client that forgets the header is caught.
//! - Bodies are JSON (`Content-Type: application/json`, else 400 `INVALID_CONTENT_TYPE`; a
//!   body that is not a JSON object is 400 `EXPECTED_JSON_BODY`). Answers are Square-shaped:
//!   `{"payment": …}`, `{"refund": …}`, and `{"errors": [{category, code, detail, field}]}`.
//! - Idempotency as Square does it, on the endpoints that take a key (CreatePayment,
//!   RefundPayment, CreateCustomer, CreateSubscription): the `idempotency_key` of the body,
//!   sent again to the same endpoint with the same body, replays the saved answer (declines
//!   included); with another body it is 400 `IDEMPOTENCY_KEY_REUSED`. A key over 45
//!   characters is 400 `VALUE_TOO_LONG`; a missing required field is 400
//!   `MISSING_REQUIRED_PARAMETER` naming the field.
//! - Faults come from the shared server ([`crate::fake`]): injected answers carry Square's
//!   `API_ERROR` (`INTERNAL_SERVER_ERROR`, `SERVICE_UNAVAILABLE`, …) and `RATE_LIMIT_ERROR`
//!   (`RATE_LIMITED`) bodies.
//!
//! Test payment sources, modelled on Square's Sandbox test tokens (see `api.rs` for the
//! objects and state rules):
//!
//! | `source_id` | outcome |
//! |---|---|
//! | `cnon:card-nonce-ok`, any `ccof:…` stored card | succeeds |
//! | `cnon:card-nonce-declined` | 400 `PAYMENT_METHOD_ERROR` `CARD_DECLINED`, FAILED payment |
//! | `cnon:card-nonce-insufficient-funds` | the same with `INSUFFICIENT_FUNDS` (fake only) |
//! | `cnon:card-nonce-rejected-cvv` | the same with `CVV_FAILURE` |
//! | anything else | 400 `INVALID_REQUEST_ERROR` `INVALID_CARD_DATA` on `source_id` |

mod api;

use std::collections::HashMap;

use serde_json::Value;

pub use api::{LOCATION_ID, MERCHANT_ID, PLAN_VARIATION_ID};

use crate::fake::{Api, FakeServer, Reply, Request};

/// A running fake Square.
pub type FakeSquare = FakeServer<SquareApi>;

/// Longest idempotency key Square accepts.
const KEY_MAX: usize = 45;

#[derive(Debug, Clone, PartialEq)]
struct Saved {
    body: Value,
    reply: (u16, Value),
}

/// Square's behaviour: its objects and its idempotency layer.
#[derive(Debug, Default)]
pub struct SquareApi {
    book: api::Book,
    saved: HashMap<(String, String), Saved>,
    answered: u64,
}

impl FakeServer<SquareApi> {
    /// How many payments were created: each one is a charge attempt.
    pub fn payments_created(&self) -> usize {
        self.with_api(|api| api.book.payments_created)
    }

    /// Completes every PENDING refund, as Square does once the card network confirms it.
    pub fn complete_refunds(&self) {
        self.with_api(|api| api.book.complete_refunds());
    }

    /// A webhook event of `kind` (`payment.updated`) about the stored object `id`, as Square
    /// sends it: `{merchant_id, type, event_id, created_at, data: {type, id, object}}`.
    pub fn event(&self, kind: &str, id: &str) -> Option<String> {
        self.with_api(|api| api.book.event(kind, id))
            .map(|v| v.to_string())
    }
}

impl Api for SquareApi {
    fn handle(&mut self, request: &Request) -> Reply {
        self.answered += 1;
        let (replayed, (status, body)) = self.answer(request);
        let mut reply = Reply::json(status, &body)
            .with_header("square-request-id", format!("fake-{:016x}", self.answered));
        reply.replayed = replayed;
        reply
    }

    fn failure(&self, status: u16, _retry_after: Option<u64>) -> Reply {
        let (category, code) = match status {
            429 => ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
            502 => ("API_ERROR", "BAD_GATEWAY"),
            503 => ("API_ERROR", "SERVICE_UNAVAILABLE"),
            504 => ("API_ERROR", "GATEWAY_TIMEOUT"),
            _ => ("API_ERROR", "INTERNAL_SERVER_ERROR"),
        };
        let (status, body) = api::error(status, category, code, None, "Please try again.");
        Reply::json(status, &body)
    }

    fn params(&self, request: &Request) -> Value {
        request.json().unwrap_or(Value::Null)
    }
}

impl SquareApi {
    /// Checks the headers and body, replays or runs a request; whether it is a replay.
    fn answer(&mut self, request: &Request) -> (bool, (u16, Value)) {
        if let Err(refused) = check(request) {
            return (false, refused);
        }
        let body = match parse_body(request) {
            Ok(body) => body,
            Err(refused) => return (false, refused),
        };
        let takes_key = request.method == "POST"
            && matches!(
                request.path.as_str(),
                "/v2/payments" | "/v2/refunds" | "/v2/customers" | "/v2/subscriptions"
            );
        let key = match (takes_key, body.get("idempotency_key")) {
            (false, _) | (true, None) => None,
            (true, Some(Value::String(k))) if k.is_empty() => {
                return (false, api::missing("idempotency_key"));
            }
            (true, Some(Value::String(k))) if k.chars().count() > KEY_MAX => {
                return (false, api::too_long("idempotency_key", KEY_MAX));
            }
            (true, Some(Value::String(k))) => Some((request.path.clone(), k.clone())),
            (true, Some(_)) => return (false, api::expected("idempotency_key", "a string")),
        };
        if let Some(saved) = key.as_ref().and_then(|k| self.saved.get(k)) {
            if saved.body == body {
                return (true, saved.reply.clone());
            }
            let reused = api::error(
                400,
                "INVALID_REQUEST_ERROR",
                "IDEMPOTENCY_KEY_REUSED",
                Some("idempotency_key"),
                "The idempotency key can only be retried with the same request data.",
            );
            return (false, reused);
        }
        let reply = self
            .book
            .handle(&request.method, &request.segments(), &body);
        if let Some(key) = key {
            let saved = Saved {
                body,
                reply: reply.clone(),
            };
            self.saved.insert(key, saved);
        }
        (false, reply)
    }
}

/// The bearer token and the version header.
fn check(request: &Request) -> Result<(), (u16, Value)> {
    let authorization = request.header("authorization").unwrap_or_default();
    let token = authorization.strip_prefix("Bearer ").unwrap_or_default();
    if !token.starts_with("EAAA") {
        let detail = format!("This request could not be authorized. Token given: {authorization}");
        return Err(api::error(
            401,
            "AUTHENTICATION_ERROR",
            "UNAUTHORIZED",
            None,
            &detail,
        ));
    }
    let version = request.header("square-version").unwrap_or_default();
    let is_date = version.len() == 10
        && version.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !is_date {
        return Err(api::error(
            400,
            "INVALID_REQUEST_ERROR",
            "INVALID_SQUARE_VERSION_FORMAT",
            None,
            "Square-Version must be a date such as 2025-08-20.",
        ));
    }
    Ok(())
}

/// The JSON object of a POST (`{}` when it has no body), `Null` for a GET.
fn parse_body(request: &Request) -> Result<Value, (u16, Value)> {
    if request.method != "POST" {
        return Ok(Value::Null);
    }
    if request.body.is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let content_type = request.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(api::error(
            400,
            "INVALID_REQUEST_ERROR",
            "INVALID_CONTENT_TYPE",
            None,
            "Content-Type must be application/json.",
        ));
    }
    match request.json() {
        Some(body @ Value::Object(_)) => Ok(body),
        _ => Err(api::error(
            400,
            "INVALID_REQUEST_ERROR",
            "EXPECTED_JSON_BODY",
            None,
            "The body must be a JSON object.",
        )),
    }
}
