//! Requests to Square: pure builders that say what to send, and one sender that sends it.
//!
//! Every request carries `Authorization: Bearer <token>` (a header marked sensitive) and
//! `Square-Version`; bodies are JSON. Square takes the idempotency key in the body, not in a
//! header, and only on the endpoints that create something: CreatePayment, RefundPayment,
//! CreateCustomer and CreateSubscription. The service derives the key once per caller, method
//! and key (38 characters; Square allows 45), so every retry sends the same one and Square
//! runs the operation at most once. CompletePayment, CancelPayment and CancelSubscription take
//! no key; `mod.rs` makes their retries safe by reading back.
//!
//! What it does not do: retry, time out or rate-limit. The family's policy wraps the provider.

use std::time::Instant;

use integ_core::family::CallCtx;
use integ_core::http::{client, join, sensitive, transport_error};
use integ_core::{Error, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CaptureMethod, CreateCustomerRequest, CreatePaymentRequest, CreateRefundRequest,
    CreateSubscriptionRequest,
};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::NAME;
use super::config::SquareConfig;
use super::convert::{reason_text, split_name};
use super::error;

/// Longest payment note Square accepts.
const NOTE_MAX: usize = 500;

/// Longest refund reason Square accepts.
const REASON_MAX: usize = 192;

/// One request to send: what, where, and the route template that is safe to log.
#[derive(Debug, Clone, PartialEq)]
pub struct SquareRequest {
    /// GET or POST.
    pub method: Method,
    /// The path with ids filled in.
    pub path: String,
    /// The path with `{id}` in place of ids, for logs and metrics.
    pub route: &'static str,
    /// The JSON body of a POST; `None` sends no body.
    pub body: Option<Value>,
}

fn request(
    method: Method,
    route: &'static str,
    id: Option<&str>,
    body: Option<Value>,
) -> Result<SquareRequest> {
    let path = match id {
        Some(id) => route.replace("{id}", segment(id)?),
        None => route.to_owned(),
    };
    Ok(SquareRequest {
        method,
        path,
        route,
        body,
    })
}

/// A Square id used as a path segment: letters, digits, `_` and `-` only, so that nothing
/// read from the store can change the path.
fn segment(id: &str) -> Result<&str> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if !id.is_empty() && id.len() <= 255 && id.bytes().all(safe) {
        Ok(id)
    } else {
        Err(Error::not_found("square object", "with a malformed id").with_provider(NAME))
    }
}

/// A JSON object built field by field; empty text is left out, as Square reads an empty
/// string as a value and not as "none".
#[derive(Debug, Default)]
struct Body(Map<String, Value>);

impl Body {
    fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    fn text(self, name: &str, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.with(name, value)
        }
    }

    fn done(self) -> Option<Value> {
        Some(Value::Object(self.0))
    }
}

fn money(m: &Money) -> Value {
    json!({ "amount": m.amount_minor, "currency": m.currency })
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `POST /v2/payments`: completed at once for IMMEDIATE capture, held APPROVED for MANUAL.
pub fn create_payment_request(
    r: &CreatePaymentRequest,
    location_id: &str,
    key: &str,
) -> Result<SquareRequest> {
    let amount = r.amount.clone().unwrap_or_default();
    let customer = match r.customer_id.as_str() {
        "" => "",
        id => segment(id)?,
    };
    let body = Body::default()
        .with("idempotency_key", key)
        .with("source_id", r.payment_method.as_str())
        .with("amount_money", money(&amount))
        .with("autocomplete", r.capture_method() != CaptureMethod::Manual)
        .with("location_id", location_id)
        .text("customer_id", customer)
        .text("note", &cut(&r.description, NOTE_MAX));
    request(Method::POST, "/v2/payments", None, body.done())
}

/// `GET /v2/payments/{id}`.
pub fn get_payment_request(id: &str) -> Result<SquareRequest> {
    request(Method::GET, "/v2/payments/{id}", Some(id), None)
}

/// `POST /v2/payments/{id}/complete`: captures everything approved.
pub fn complete_payment_request(id: &str) -> Result<SquareRequest> {
    let body = Body::default().done();
    request(Method::POST, "/v2/payments/{id}/complete", Some(id), body)
}

/// `POST /v2/payments/{id}/cancel`, which takes no body.
pub fn cancel_payment_request(id: &str) -> Result<SquareRequest> {
    request(Method::POST, "/v2/payments/{id}/cancel", Some(id), None)
}

/// `POST /v2/refunds` of `amount` (Square needs one; `mod.rs` works out "the rest"). The
/// reason is the note, else our text for the reason code.
pub fn create_refund_request(
    r: &CreateRefundRequest,
    amount: &Money,
    key: &str,
) -> Result<SquareRequest> {
    let reason = match r.note.as_str() {
        "" => reason_text(r.reason()).unwrap_or_default(),
        note => note,
    };
    let body = Body::default()
        .with("idempotency_key", key)
        .with("payment_id", segment(&r.payment_id)?)
        .with("amount_money", money(amount))
        .text("reason", &cut(reason, REASON_MAX));
    request(Method::POST, "/v2/refunds", None, body.done())
}

/// `GET /v2/refunds/{id}`.
pub fn get_refund_request(id: &str) -> Result<SquareRequest> {
    request(Method::GET, "/v2/refunds/{id}", Some(id), None)
}

/// `POST /v2/customers`, the name split into given and family name at its first space.
pub fn create_customer_request(r: &CreateCustomerRequest, key: &str) -> Result<SquareRequest> {
    let (given, family) = split_name(&r.name);
    let body = Body::default()
        .with("idempotency_key", key)
        .text("given_name", given)
        .text("family_name", family)
        .text("email_address", &r.email)
        .text("phone_number", &r.phone);
    request(Method::POST, "/v2/customers", None, body.done())
}

/// `GET /v2/customers/{id}`.
pub fn get_customer_request(id: &str) -> Result<SquareRequest> {
    request(Method::GET, "/v2/customers/{id}", Some(id), None)
}

/// `POST /v2/subscriptions` to a plan variation, billing the given card if any. Square
/// subscriptions have no quantity: more than one unit is refused before anything is sent.
pub fn create_subscription_request(
    r: &CreateSubscriptionRequest,
    location_id: &str,
    key: &str,
) -> Result<SquareRequest> {
    if r.quantity > 1 {
        return Err(Error::unsupported(NAME, "subscription quantities above 1"));
    }
    let body = Body::default()
        .with("idempotency_key", key)
        .with("location_id", location_id)
        .with("plan_variation_id", r.price_id.as_str())
        .with("customer_id", segment(&r.customer_id)?)
        .text("card_id", &r.payment_method);
    request(Method::POST, "/v2/subscriptions", None, body.done())
}

/// `GET /v2/subscriptions/{id}`.
pub fn get_subscription_request(id: &str) -> Result<SquareRequest> {
    request(Method::GET, "/v2/subscriptions/{id}", Some(id), None)
}

/// `POST /v2/subscriptions/{id}/cancel`: Square ends it at the end of the paid period, which
/// is the only cancellation it offers, so an immediate one is refused before anything is sent.
pub fn cancel_subscription_request(id: &str, at_period_end: bool) -> Result<SquareRequest> {
    if !at_period_end {
        return Err(Error::unsupported(
            NAME,
            "canceling a subscription before the end of its period",
        ));
    }
    request(
        Method::POST,
        "/v2/subscriptions/{id}/cancel",
        Some(id),
        None,
    )
}

/// Sends requests for one Square seller.
#[derive(Debug, Clone)]
pub struct SquareClient {
    config: SquareConfig,
    http: reqwest::Client,
}

impl SquareClient {
    /// A client with the shared HTTP pool.
    pub fn new(config: SquareConfig) -> Self {
        Self {
            config,
            http: client(),
        }
    }

    /// The settings it sends with.
    pub fn config(&self) -> &SquareConfig {
        &self.config
    }

    /// Sends `request` and reads the answer as `T`, or classifies the failure.
    pub async fn send<T: DeserializeOwned>(
        &self,
        ctx: &CallCtx,
        request: SquareRequest,
    ) -> Result<T> {
        let builder = self.builder(&request)?;
        let started = Instant::now();
        let response = builder
            .send()
            .await
            .map_err(|e| transport_error(NAME, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(NAME, &e))?;
        tracing::debug!(
            route = request.route,
            method = %request.method,
            status = status.as_u16(),
            request_id = header(&headers, "square-request-id"),
            attempt = ctx.attempt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "square answered"
        );
        if !status.is_success() {
            return Err(error::classify(status, &headers, &body));
        }
        serde_json::from_slice(&body).map_err(|_| error::unreadable(status))
    }

    fn builder(&self, request: &SquareRequest) -> Result<reqwest::RequestBuilder> {
        let url = join(&self.config.base_url, &request.path)?;
        let authorization = self
            .config
            .access_token
            .with_value(|token| sensitive(&format!("Bearer {token}")))
            .map_err(|e| e.with_provider(NAME))?;
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, authorization)
            .header("square-version", &self.config.api_version)
            .header(ACCEPT, "application/json");
        if let Some(body) = &request.body {
            let bytes = serde_json::to_vec(body)
                .map_err(|_| Error::internal("a square request body did not serialise"))?;
            builder = builder.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        Ok(builder)
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use integ_core::Kind;
    use integ_proto::payments::v1::RefundReason;

    use super::*;

    const KEY: &str = "integ-0123456789abcdef0123456789abcdef";

    fn usd(n: i64) -> Option<Money> {
        Some(Money {
            amount_minor: n,
            currency: "USD".into(),
        })
    }

    #[test]
    fn a_payment_carries_its_key_location_and_capture_in_the_body() {
        let r = create_payment_request(
            &CreatePaymentRequest {
                amount: usd(5000),
                capture_method: CaptureMethod::Manual.into(),
                payment_method: "cnon:card-nonce-ok".into(),
                customer_id: "W92WH6P11H4Z77CTET0RNTGFW8".into(),
                description: "x".repeat(600),
                return_url: "https://shop.example/back".into(),
                ..Default::default()
            },
            "L1",
            KEY,
        )
        .unwrap();
        assert_eq!(
            (r.method.clone(), r.path.as_str()),
            (Method::POST, "/v2/payments")
        );
        let body = r.body.unwrap();
        assert_eq!(
            body,
            json!({
                "idempotency_key": KEY, "source_id": "cnon:card-nonce-ok",
                "amount_money": {"amount": 5000, "currency": "USD"}, "autocomplete": false,
                "location_id": "L1", "customer_id": "W92WH6P11H4Z77CTET0RNTGFW8",
                "note": "x".repeat(500),
            })
        );
        let immediate = create_payment_request(
            &CreatePaymentRequest {
                amount: usd(1),
                capture_method: CaptureMethod::Immediate.into(),
                payment_method: "ccof:customer-card-id-ok".into(),
                ..Default::default()
            },
            "L1",
            KEY,
        )
        .unwrap()
        .body
        .unwrap();
        assert_eq!(immediate["autocomplete"], true);
        assert!(immediate.get("customer_id").is_none() && immediate.get("note").is_none());
    }

    #[test]
    fn ids_fill_the_route_and_odd_ids_are_refused() {
        let r = complete_payment_request("R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY").unwrap();
        assert_eq!(
            (r.path.as_str(), r.route, r.body),
            (
                "/v2/payments/R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY/complete",
                "/v2/payments/{id}/complete",
                Some(json!({}))
            )
        );
        assert_eq!(cancel_payment_request("p-1_a").unwrap().body, None);
        assert!(get_payment_request("p1/../../v2/customers").is_err());
        assert!(get_refund_request("").is_err());
        assert!(get_customer_request("a?b").is_err());
    }

    #[test]
    fn refunds_take_the_note_or_a_text_for_the_reason() {
        let mut r = CreateRefundRequest {
            payment_id: "pay1".into(),
            reason: RefundReason::Duplicate.into(),
            ..Default::default()
        };
        let body = create_refund_request(&r, &usd(100).unwrap(), KEY)
            .unwrap()
            .body
            .unwrap();
        assert_eq!(
            body,
            json!({"idempotency_key": KEY, "payment_id": "pay1",
                "amount_money": {"amount": 100, "currency": "USD"}, "reason": "Duplicate charge"})
        );
        r.note = "é".repeat(300);
        let body = create_refund_request(&r, &usd(1).unwrap(), KEY)
            .unwrap()
            .body
            .unwrap();
        assert_eq!(body["reason"].as_str().unwrap().chars().count(), 192);
        r.reason = RefundReason::Unspecified.into();
        r.note.clear();
        let body = create_refund_request(&r, &usd(1).unwrap(), KEY)
            .unwrap()
            .body
            .unwrap();
        assert!(body.get("reason").is_none());
    }

    #[test]
    fn customers_and_subscriptions() {
        let body = create_customer_request(
            &CreateCustomerRequest {
                name: "Ada King Lovelace".into(),
                email: "ada@example.com".into(),
                ..Default::default()
            },
            KEY,
        )
        .unwrap()
        .body
        .unwrap();
        assert_eq!(
            body,
            json!({"idempotency_key": KEY, "given_name": "Ada",
                "family_name": "King Lovelace", "email_address": "ada@example.com"})
        );
        let mut s = CreateSubscriptionRequest {
            customer_id: "CUS1".into(),
            price_id: "PLANVAR1".into(),
            payment_method: "ccof:card1".into(),
            quantity: 1,
            ..Default::default()
        };
        let body = create_subscription_request(&s, "L1", KEY)
            .unwrap()
            .body
            .unwrap();
        assert_eq!(
            body,
            json!({"idempotency_key": KEY, "location_id": "L1", "plan_variation_id": "PLANVAR1",
                "customer_id": "CUS1", "card_id": "ccof:card1"})
        );
        s.quantity = 2;
        let e = create_subscription_request(&s, "L1", KEY).unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported);
        let e = cancel_subscription_request("SUB1", false).unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported);
        let r = cancel_subscription_request("SUB1", true).unwrap();
        assert_eq!(
            (r.path.as_str(), r.body),
            ("/v2/subscriptions/SUB1/cancel", None)
        );
    }
}
