//! A fake PayPal on loopback that speaks PayPal's REST wire format, for black-box tests.
//!
//! - `POST /v1/oauth2/token` takes HTTP Basic credentials ([`CLIENT_ID`], [`CLIENT_SECRET`])
//!   and `grant_type=client_credentials` form-encoded, and issues bearer tokens that live
//!   [`PaypalApi::token_lifetime`] seconds. Every other call needs a live token, else 401
//!   `invalid_token`. [`FakePaypal::tokens_issued`] counts tokens handed out.
//! - Bodies are JSON (`Content-Type: application/json`, else 415); PayPal's error bodies
//!   (`name`, `message`, `debug_id`, `details[{field, issue, description}]`) for refusals.
//! - `PayPal-Request-Id` on a POST replays the saved answer of the first request with that id
//!   on that path, as PayPal does.
//! - Orders, authorizations, captures and refunds follow PayPal's state machine (`orders.rs`);
//!   subscriptions and payouts are in `billing.rs`; webhooks are signed and verified with the
//!   real scheme, an RSA signature over `transmission_id|time|webhook_id|crc32(body)`
//!   (`webhook.rs`).
//! - Test payment methods: a vault id `vault_declined` (PayPal wallet or `card:` vault) is
//!   declined with `INSTRUMENT_DECLINED`; any other vault id pays at once. An order without
//!   one waits for the payer: [`FakePaypal::approve`] approves it as the payer would.
//! - A payout to `unregistered@example.com` fails with `RECEIVER_UNREGISTERED`.

mod billing;
mod orders;
mod webhook;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::fake::{Api, FakeServer, Reply, Request};

pub use webhook::crc32;

/// The client id the fake accepts.
pub const CLIENT_ID: &str = "AYfakeClientId0integ";
/// The client secret the fake accepts.
pub const CLIENT_SECRET: &str = "EOfakeClientSecret0integ";
/// The webhook id the fake's webhooks are sent to.
pub const WEBHOOK_ID: &str = "1JE4291016473214C";

/// A running fake PayPal.
pub type FakePaypal = FakeServer<PaypalApi>;

/// PayPal's behaviour: tokens, objects, idempotency and webhook signatures.
pub struct PaypalApi {
    /// How long issued tokens live, in seconds.
    pub token_lifetime: u64,
    tokens: HashMap<String, Instant>,
    issued: usize,
    saved: HashMap<(String, String), Reply>,
    objects: HashMap<String, Value>,
    seq: u64,
    signer: webhook::Signer,
    verifications: usize,
}

impl Default for PaypalApi {
    fn default() -> Self {
        Self {
            token_lifetime: 32_400,
            tokens: HashMap::new(),
            issued: 0,
            saved: HashMap::new(),
            objects: HashMap::new(),
            seq: 0,
            signer: webhook::Signer::new(),
            verifications: 0,
        }
    }
}

impl FakeServer<PaypalApi> {
    /// How many access tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        self.with_api(|api| api.issued)
    }

    /// Makes issued tokens live `secs` seconds from now on.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.with_api(|api| api.token_lifetime = secs);
    }

    /// Revokes every token, as PayPal does when it rotates them.
    pub fn revoke_tokens(&self) {
        self.with_api(|api| api.tokens.clear());
    }

    /// Approves an order as its payer would at the approval link.
    pub fn approve(&self, order_id: &str) {
        self.with_api(|api| api.approve(order_id));
    }

    /// Activates a subscription as its subscriber's approval would.
    pub fn activate(&self, subscription_id: &str) {
        self.with_api(|api| api.activate(subscription_id));
    }

    /// The PayPal object with this id (an order, capture, refund, subscription, payout).
    pub fn object(&self, id: &str) -> Option<Value> {
        self.with_api(|api| api.objects.get(id).cloned())
    }

    /// The headers PayPal sends with a webhook carrying `body`, signed for `webhook_id`, with
    /// the transmission time `time` (RFC 3339).
    pub fn sign_webhook(&self, body: &str, webhook_id: &str, time: &str) -> Vec<(String, String)> {
        self.with_api(|api| api.signer.sign(body, webhook_id, time))
    }

    /// How many webhook verifications were asked of the fake.
    pub fn verifications(&self) -> usize {
        self.with_api(|api| api.verifications)
    }
}

type Answer = (u16, Value);

/// PayPal's error body.
fn error(status: u16, name: &str, issue: Option<(&str, &str)>, message: &str) -> Answer {
    let mut body = json!({
        "name": name,
        "message": message,
        "debug_id": "f8a1c3b2e9d04",
        "links": [{"href": "https://developer.paypal.com/docs/api/orders/v2/", "rel": "information_link"}],
    });
    if let Some((field, issue)) = issue
        && let Some(map) = body.as_object_mut()
    {
        let detail = json!({"field": field, "location": "body", "issue": issue,
            "description": format!("{issue} at {field}.")});
        map.insert("details".into(), json!([detail]));
    }
    (status, body)
}

fn unprocessable(issue: &str) -> Answer {
    error(
        422,
        "UNPROCESSABLE_ENTITY",
        Some(("", issue)),
        "The requested action could not be performed, semantically incorrect, or failed \
         business validation.",
    )
}

fn invalid(field: &str, issue: &str) -> Answer {
    error(
        400,
        "INVALID_REQUEST",
        Some((field, issue)),
        "Request is not well-formed, syntactically incorrect, or violates schema.",
    )
}

fn missing(field: &str) -> Answer {
    invalid(field, "MISSING_REQUIRED_PARAMETER")
}

fn not_found() -> Answer {
    error(
        404,
        "RESOURCE_NOT_FOUND",
        Some(("", "INVALID_RESOURCE_ID")),
        "The specified resource does not exist.",
    )
}

impl Api for PaypalApi {
    fn handle(&mut self, request: &Request) -> Reply {
        let token_call = request.path == "/v1/oauth2/token";
        if !token_call
            && self.authorized(request)
            && let Some(saved) = self.replay(request)
        {
            return saved;
        }
        let (status, body) = self.answer(request);
        let reply = match body {
            Value::Null => Reply::empty(status),
            body => Reply::json(status, &body),
        };
        let reply = reply.with_header("paypal-debug-id", format!("fakedebug{}", self.seq));
        // PayPal keeps the answer of a request id, declines included; refused tokens and its
        // own failures do not use the id up.
        if let Some(id) = request.header("paypal-request-id")
            && request.method == "POST"
            && !token_call
            && status != 401
            && status < 500
        {
            let key = (request.path.clone(), id.to_owned());
            self.saved.insert(key, reply.clone());
        }
        reply
    }

    fn failure(&self, status: u16, _retry_after: Option<u64>) -> Reply {
        let (status, body) = match status {
            429 => error(
                429,
                "RATE_LIMIT_REACHED",
                None,
                "Too many requests. Blocked due to rate limiting.",
            ),
            503 => error(503, "SERVICE_UNAVAILABLE", None, "Service Unavailable."),
            other => error(
                other,
                "INTERNAL_SERVER_ERROR",
                None,
                "An internal server error occurred.",
            ),
        };
        Reply::json(status, &body)
    }

    fn params(&self, request: &Request) -> Value {
        request.json().unwrap_or_else(|| {
            let pairs = url::form_urlencoded::parse(request.body.as_ref());
            Value::Object(pairs.map(|(k, v)| (k.into_owned(), json!(v))).collect())
        })
    }
}

impl PaypalApi {
    fn replay(&mut self, request: &Request) -> Option<Reply> {
        let id = request.header("paypal-request-id")?;
        let saved = self.saved.get(&(request.path.clone(), id.to_owned()))?;
        let mut reply = saved.clone();
        reply.replayed = true;
        Some(reply)
    }

    fn answer(&mut self, request: &Request) -> Answer {
        self.seq += 1;
        let segments = request.segments();
        if segments == ["v1", "oauth2", "token"] && request.method == "POST" {
            return self.token(request);
        }
        if !self.authorized(request) {
            return (
                401,
                json!({"error": "invalid_token", "error_description": "Token signature verification failed"}),
            );
        }
        let body = match (request.method.as_str(), request.body.is_empty()) {
            ("POST", false) if request.header("content-type") != Some("application/json") => {
                return error(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    None,
                    "Unsupported media type.",
                );
            }
            ("POST", false) => match request.json() {
                Some(body) => body,
                None => return invalid("", "MALFORMED_REQUEST_JSON"),
            },
            _ => json!({}),
        };
        if segments.first() == Some(&"v1") && segments.get(1) == Some(&"notifications") {
            self.verifications += 1;
            return self.signer.verify(request);
        }
        let representation = request.header("prefer") == Some("return=representation");
        match self.route(&request.method, &segments, &body, representation) {
            Some(answer) => answer,
            None => error(
                404,
                "NOT_FOUND",
                None,
                "The specified resource does not exist.",
            ),
        }
    }

    fn route(&mut self, method: &str, path: &[&str], body: &Value, full: bool) -> Option<Answer> {
        let answer = match (method, path) {
            ("POST", ["v2", "checkout", "orders"]) => self.create_order(body, full),
            ("GET", ["v2", "checkout", "orders", id]) => self.read(id, "order"),
            ("POST", ["v2", "checkout", "orders", id, "capture"]) => self.capture_order(id),
            ("POST", ["v2", "checkout", "orders", id, "authorize"]) => self.authorize_order(id),
            ("GET", ["v2", "payments", "authorizations", id]) => self.read(id, "authorization"),
            ("POST", ["v2", "payments", "authorizations", id, "capture"]) => {
                self.capture_authorization(id, body)
            }
            ("POST", ["v2", "payments", "authorizations", id, "void"]) => self.void(id, full),
            ("GET", ["v2", "payments", "captures", id]) => self.read(id, "capture"),
            ("POST", ["v2", "payments", "captures", id, "refund"]) => self.refund(id, body),
            ("GET", ["v2", "payments", "refunds", id]) => self.read(id, "refund"),
            ("POST", ["v1", "billing", "subscriptions"]) => self.subscribe(body),
            ("GET", ["v1", "billing", "subscriptions", id]) => self.read(id, "subscription"),
            ("POST", ["v1", "billing", "subscriptions", id, "cancel"]) => self.unsubscribe(id),
            ("POST", ["v1", "payments", "payouts"]) => self.payout(body),
            ("GET", ["v1", "payments", "payouts", id]) => self.read(id, "payout"),
            _ => return None,
        };
        Some(answer)
    }

    fn token(&mut self, request: &Request) -> Answer {
        let expected = STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        let sent = request
            .header("authorization")
            .and_then(|h| h.strip_prefix("Basic "));
        if sent != Some(expected.as_str()) {
            let refusal = json!({"error": "invalid_client",
                "error_description": "Client Authentication failed"});
            return (401, refusal);
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(request.body.as_ref())
            .into_owned()
            .collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            let refusal = json!({"error": "unsupported_grant_type",
                "error_description": "Grant Type is NULL"});
            return (400, refusal);
        }
        self.issued += 1;
        let token = format!("A21AAfake{:08}token{}", self.issued, self.seq);
        let life = Duration::from_secs(self.token_lifetime);
        self.tokens.insert(token.clone(), Instant::now() + life);
        (
            200,
            json!({"scope": "https://uri.paypal.com/services/payments/payment",
                "access_token": token, "token_type": "Bearer", "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_lifetime, "nonce": "2024-05-01T12:00:00Zfake"}),
        )
    }

    fn authorized(&self, request: &Request) -> bool {
        let token = request
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "));
        token
            .and_then(|t| self.tokens.get(t))
            .is_some_and(|until| Instant::now() < *until)
    }

    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:015}", self.seq)
    }

    fn read(&self, id: &str, kind: &str) -> Answer {
        match self.objects.get(id).filter(|o| o["kind"] == kind) {
            Some(_) if kind == "order" => (200, self.order_view(id)),
            Some(object) => (200, public(object)),
            None => not_found(),
        }
    }

    fn put(&mut self, object: Value) {
        if let Some(id) = object["id"].as_str() {
            self.objects.insert(id.to_owned(), object);
        }
    }
}

/// An object as PayPal shows it: without the fake's own bookkeeping.
fn public(object: &Value) -> Value {
    let mut shown = object.clone();
    if let Some(map) = shown.as_object_mut() {
        for bookkeeping in ["kind", "seq", "order_id", "capture_id"] {
            map.remove(bookkeeping);
        }
    }
    shown
}

fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    integ_core::time::format_rfc3339(ms)
}
