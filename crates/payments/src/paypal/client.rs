//! Requests to PayPal: pure builders that say what to send, and one sender that sends it.
//!
//! Every request carries the app's bearer token (see `auth.rs`, a header marked sensitive);
//! bodies are JSON. A POST that PayPal makes idempotent carries `PayPal-Request-Id`: the
//! call's idempotency key, with a suffix where one call makes several such POSTs, so that a
//! retry after a lost answer gets PayPal's saved answer instead of a second charge. Orders and
//! Payments calls ask for the whole object back (`Prefer: return=representation`).
//!
//! Amounts are decimal strings: minor units are converted with the currency's ISO 4217
//! exponent, and a currency PayPal does not take is refused here, before anything is sent.
//!
//! What it does not do: retry, time out or rate-limit. The family's policy wraps the provider.

use std::time::Instant;

use integ_core::family::CallCtx;
use integ_core::http::{join, transport_error};
use integ_core::{Error, Result, money};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CaptureMethod, CreatePaymentRequest, CreatePayoutRequest, CreateRefundRequest,
    CreateSubscriptionRequest, RefundReason,
};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::NAME;
use super::auth::Tokens;
use super::config::PaypalConfig;
use super::error;

/// Currencies PayPal's REST APIs take.
const CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY",
    "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
];

/// Currencies PayPal takes in whole units only, although ISO 4217 gives them cents.
const WHOLE_UNITS: &[&str] = &["HUF", "TWD"];

/// Longest purchase-unit description PayPal keeps.
const DESCRIPTION_MAX: usize = 127;

/// Longest note PayPal takes on a refund or a payout item.
const NOTE_MAX: usize = 255;

/// One request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PaypalRequest {
    /// GET or POST.
    pub method: Method,
    /// The path with ids filled in.
    pub path: String,
    /// The path with `{id}` in place of ids, for logs and metrics.
    pub route: &'static str,
    /// The JSON body of a POST.
    pub body: Option<String>,
    /// The `PayPal-Request-Id` suffix, for a POST that PayPal makes idempotent: `Some("")` for
    /// the call's key as it is.
    pub request_id: Option<&'static str>,
    /// Whether to ask for the whole object back.
    pub representation: bool,
}

fn request(method: Method, route: &'static str, id: Option<&str>) -> Result<PaypalRequest> {
    let path = match id {
        Some(id) => route.replace("{id}", segment(id)?),
        None => route.to_owned(),
    };
    Ok(PaypalRequest {
        method,
        path,
        route,
        body: None,
        request_id: None,
        representation: false,
    })
}

impl PaypalRequest {
    fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self
    }

    fn idempotent(mut self, suffix: &'static str) -> Self {
        self.request_id = Some(suffix);
        self
    }

    fn represented(mut self) -> Self {
        self.representation = true;
        self
    }
}

/// A PayPal id used as a path segment: letters, digits, `-` and `_` only, so that nothing read
/// from the store can change the path.
fn segment(id: &str) -> Result<&str> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !id.is_empty() && id.bytes().all(ok) {
        Ok(id)
    } else {
        Err(Error::not_found("paypal object", "with a malformed id").with_provider(NAME))
    }
}

/// An amount as PayPal's Orders and Payments APIs take it, or why PayPal cannot take it.
pub fn amount(m: &Money) -> Result<Value> {
    let value = decimal(m)?;
    Ok(json!({ "currency_code": m.currency, "value": value }))
}

/// The decimal value of `m` in PayPal's terms.
fn decimal(m: &Money) -> Result<String> {
    if !CURRENCIES.contains(&m.currency.as_str()) {
        return Err(Error::invalid(
            "amount.currency",
            format!("paypal does not take {}", m.currency),
        )
        .with_provider(NAME));
    }
    if WHOLE_UNITS.contains(&m.currency.as_str()) {
        if m.amount_minor % 100 != 0 {
            return Err(Error::invalid(
                "amount.amount_minor",
                format!("paypal takes {} in whole units only", m.currency),
            )
            .with_provider(NAME));
        }
        return Ok((m.amount_minor / 100).to_string());
    }
    money::to_decimal(m.amount_minor, &m.currency)
        .ok_or_else(|| Error::invalid("amount.currency", "unknown currency"))
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `POST /v2/checkout/orders` with one purchase unit. With a vaulted payment method PayPal
/// charges (or authorises) at once; without one the payer approves at the returned link.
pub fn create_order_request(r: &CreatePaymentRequest) -> Result<PaypalRequest> {
    let money = r.amount.clone().unwrap_or_default();
    let intent = match r.capture_method() {
        CaptureMethod::Manual => "AUTHORIZE",
        _ => "CAPTURE",
    };
    let mut unit = Map::new();
    unit.insert("amount".into(), amount(&money)?);
    if !r.description.is_empty() {
        unit.insert(
            "description".into(),
            json!(cut(&r.description, DESCRIPTION_MAX)),
        );
    }
    let mut body = Map::new();
    body.insert("intent".into(), json!(intent));
    body.insert("purchase_units".into(), json!([unit]));
    if let Some(source) = payment_source(&r.payment_method, &r.return_url) {
        body.insert("payment_source".into(), source);
    }
    let body = Value::Object(body);
    let request = request(Method::POST, "/v2/checkout/orders", None)?;
    Ok(request.json(&body).idempotent("").represented())
}

/// `card:<vault id>` pays with a vaulted card, any other non-empty value is a vaulted PayPal
/// wallet; without one, the wallet flow with the return URL if there is one.
fn payment_source(method: &str, return_url: &str) -> Option<Value> {
    let context = (!return_url.is_empty()).then(
        || json!({ "return_url": return_url, "cancel_url": return_url, "user_action": "PAY_NOW" }),
    );
    match (method.strip_prefix("card:"), method.is_empty(), context) {
        (Some(card), _, _) => Some(json!({ "card": { "vault_id": card } })),
        (None, false, _) => Some(json!({ "paypal": { "vault_id": method } })),
        (None, true, Some(context)) => Some(json!({ "paypal": { "experience_context": context } })),
        (None, true, None) => None,
    }
}

/// `GET /v2/checkout/orders/{id}`.
pub fn get_order_request(id: &str) -> Result<PaypalRequest> {
    request(Method::GET, "/v2/checkout/orders/{id}", Some(id))
}

/// `POST /v2/checkout/orders/{id}/capture` of an approved order with intent CAPTURE.
pub fn capture_order_request(id: &str) -> Result<PaypalRequest> {
    let request = request(Method::POST, "/v2/checkout/orders/{id}/capture", Some(id))?;
    Ok(request.json(&json!({})).idempotent("").represented())
}

/// `POST /v2/checkout/orders/{id}/authorize` of an approved order with intent AUTHORIZE.
pub fn authorize_order_request(id: &str) -> Result<PaypalRequest> {
    let request = request(Method::POST, "/v2/checkout/orders/{id}/authorize", Some(id))?;
    Ok(request
        .json(&json!({}))
        .idempotent("-authorize")
        .represented())
}

/// `POST /v2/payments/authorizations/{id}/capture`, of `amount` or of everything; the rest of
/// the authorisation is released.
pub fn capture_authorization_request(id: &str, money: Option<&Money>) -> Result<PaypalRequest> {
    let mut body = Map::new();
    body.insert("final_capture".into(), json!(true));
    if let Some(m) = money {
        body.insert("amount".into(), amount(m)?);
    }
    let body = Value::Object(body);
    let route = "/v2/payments/authorizations/{id}/capture";
    let request = request(Method::POST, route, Some(id))?;
    Ok(request.json(&body).idempotent("").represented())
}

/// `POST /v2/payments/authorizations/{id}/void`. PayPal takes no request id here.
pub fn void_authorization_request(id: &str) -> Result<PaypalRequest> {
    let request = request(
        Method::POST,
        "/v2/payments/authorizations/{id}/void",
        Some(id),
    )?;
    Ok(request.represented())
}

/// `POST /v2/payments/captures/{id}/refund`, of `amount` or of what remains; the note (or the
/// reason) goes to the payer.
pub fn refund_capture_request(capture: &str, r: &CreateRefundRequest) -> Result<PaypalRequest> {
    let mut body = Map::new();
    if let Some(m) = &r.amount {
        body.insert("amount".into(), amount(m)?);
    }
    let note = match (r.note.as_str(), r.reason()) {
        ("", RefundReason::Duplicate) => "Duplicate charge",
        ("", RefundReason::Fraudulent) => "Fraudulent charge",
        ("", RefundReason::RequestedByCustomer) => "Refund you asked for",
        (note, _) => note,
    };
    if !note.is_empty() {
        body.insert("note_to_payer".into(), json!(cut(note, NOTE_MAX)));
    }
    let body = Value::Object(body);
    let route = "/v2/payments/captures/{id}/refund";
    let request = request(Method::POST, route, Some(capture))?;
    Ok(request.json(&body).idempotent("").represented())
}

/// `GET /v2/payments/refunds/{id}`.
pub fn get_refund_request(id: &str) -> Result<PaypalRequest> {
    request(Method::GET, "/v2/payments/refunds/{id}", Some(id))
}

/// `GET /v2/payments/captures/{id}`.
pub fn get_capture_request(id: &str) -> Result<PaypalRequest> {
    request(Method::GET, "/v2/payments/captures/{id}", Some(id))
}

/// `POST /v1/billing/subscriptions` to a plan; the subscriber approves at the returned link.
pub fn create_subscription_request(r: &CreateSubscriptionRequest) -> Result<PaypalRequest> {
    segment(&r.price_id).map_err(|_| Error::invalid("price_id", "not a paypal plan id"))?;
    let mut body = Map::new();
    body.insert("plan_id".into(), json!(r.price_id));
    if r.quantity > 1 {
        body.insert("quantity".into(), json!(r.quantity.to_string()));
    }
    if !r.return_url.is_empty() {
        let context = json!({ "return_url": r.return_url, "cancel_url": r.return_url });
        body.insert("application_context".into(), context);
    }
    let body = Value::Object(body);
    let request = request(Method::POST, "/v1/billing/subscriptions", None)?;
    Ok(request.json(&body).idempotent("").represented())
}

/// `GET /v1/billing/subscriptions/{id}`.
pub fn get_subscription_request(id: &str) -> Result<PaypalRequest> {
    request(Method::GET, "/v1/billing/subscriptions/{id}", Some(id))
}

/// `POST /v1/billing/subscriptions/{id}/cancel`, answered 204.
pub fn cancel_subscription_request(id: &str) -> Result<PaypalRequest> {
    let route = "/v1/billing/subscriptions/{id}/cancel";
    let body = json!({ "reason": "Canceled through integ" });
    Ok(request(Method::POST, route, Some(id))?.json(&body))
}

/// `POST /v1/payments/payouts` of one item. The idempotency key is also the sender batch id,
/// which PayPal refuses to pay twice within 30 days.
pub fn create_payout_request(r: &CreatePayoutRequest, key: &str) -> Result<PaypalRequest> {
    if r.destination.trim().is_empty() {
        return Err(Error::invalid(
            "destination",
            "destination is required at paypal: the receiver's email address or payer id",
        ));
    }
    let money = r.amount.clone().unwrap_or_default();
    let value = decimal(&money)?;
    let recipient = if r.destination.contains('@') {
        "EMAIL"
    } else {
        "PAYPAL_ID"
    };
    let mut item = Map::new();
    item.insert("recipient_type".into(), json!(recipient));
    item.insert(
        "amount".into(),
        json!({ "value": value, "currency": money.currency }),
    );
    item.insert("receiver".into(), json!(r.destination));
    item.insert("sender_item_id".into(), json!(key));
    if !r.description.is_empty() {
        item.insert("note".into(), json!(cut(&r.description, NOTE_MAX)));
    }
    let body = json!({
        "sender_batch_header": { "sender_batch_id": key, "email_subject": "You have a payout" },
        "items": [item],
    });
    let request = request(Method::POST, "/v1/payments/payouts", None)?;
    Ok(request.json(&body).idempotent(""))
}

/// `GET /v1/payments/payouts/{id}`.
pub fn get_payout_request(id: &str) -> Result<PaypalRequest> {
    request(Method::GET, "/v1/payments/payouts/{id}", Some(id))
}

/// Sends requests for one PayPal app.
#[derive(Debug)]
pub struct PaypalClient {
    config: PaypalConfig,
    http: reqwest::Client,
    tokens: Tokens,
}

impl PaypalClient {
    /// A client with the shared HTTP pool and no token yet.
    pub fn new(config: PaypalConfig) -> Self {
        let http = integ_core::http::client();
        Self {
            tokens: Tokens::new(config.clone(), http.clone()),
            config,
            http,
        }
    }

    /// The settings it sends with.
    pub fn config(&self) -> &PaypalConfig {
        &self.config
    }

    /// Sends `request` and reads the answer as `T`, or classifies the failure.
    pub async fn send<T: DeserializeOwned>(
        &self,
        ctx: &CallCtx,
        request: PaypalRequest,
    ) -> Result<T> {
        let (status, body) = self.exchange(ctx, &request).await?;
        serde_json::from_slice(&body).map_err(|_| error::unreadable(status))
    }

    /// Sends `request`, whose answer has no body we need (a 204).
    pub async fn send_empty(&self, ctx: &CallCtx, request: PaypalRequest) -> Result<()> {
        self.exchange(ctx, &request).await.map(|_| ())
    }

    async fn exchange(
        &self,
        ctx: &CallCtx,
        request: &PaypalRequest,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes)> {
        let token = self.tokens.get().await?;
        let url = join(&self.config.base_url, &request.path)?;
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, token.header()?)
            .header(ACCEPT, "application/json");
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(suffix) = request
            .request_id
            .filter(|_| !ctx.idempotency_key.is_empty())
        {
            builder = builder.header(
                "paypal-request-id",
                format!("{}{suffix}", ctx.idempotency_key),
            );
        }
        if request.representation {
            builder = builder.header("prefer", "return=representation");
        }
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
            debug_id = header(&headers, "paypal-debug-id"),
            attempt = ctx.attempt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "paypal answered"
        );
        if status == reqwest::StatusCode::UNAUTHORIZED {
            self.tokens.invalidate(&token).await;
        }
        if !status.is_success() {
            return Err(error::classify(status, &headers, &body));
        }
        Ok((status, body))
    }

    /// Asks PayPal whether a webhook's signature is its own: `Ok(true)` for SUCCESS,
    /// `Ok(false)` for FAILURE. The event is embedded exactly as it arrived, because PayPal
    /// checks a CRC32 of those bytes.
    pub async fn verify_webhook(&self, fields: &VerifyFields<'_>, event: &[u8]) -> Result<bool> {
        let body = fields.body(event)?;
        let request = PaypalRequest {
            body: Some(body),
            ..request(
                Method::POST,
                "/v1/notifications/verify-webhook-signature",
                None,
            )?
        };
        let verdict: super::wire::PaypalVerification =
            self.send(&CallCtx::default(), request).await?;
        Ok(verdict.verification_status == "SUCCESS")
    }
}

/// The signature headers of a PayPal webhook and our webhook id, as the verification API takes
/// them.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct VerifyFields<'a> {
    /// `PAYPAL-AUTH-ALGO`.
    pub auth_algo: &'a str,
    /// `PAYPAL-CERT-URL`.
    pub cert_url: &'a str,
    /// `PAYPAL-TRANSMISSION-ID`.
    pub transmission_id: &'a str,
    /// `PAYPAL-TRANSMISSION-SIG`.
    pub transmission_sig: &'a str,
    /// `PAYPAL-TRANSMISSION-TIME`.
    pub transmission_time: &'a str,
    /// Our webhook's id at PayPal.
    pub webhook_id: &'a str,
}

impl VerifyFields<'_> {
    /// The request body, with the event's raw bytes as `webhook_event`.
    fn body(&self, event: &[u8]) -> Result<String> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(flatten)]
            fields: &'a VerifyFields<'a>,
            webhook_event: &'a serde_json::value::RawValue,
        }
        let text = std::str::from_utf8(event)
            .map_err(|_| Error::invalid("webhook", "the event is not UTF-8"))?;
        let raw: &serde_json::value::RawValue = serde_json::from_str(text)
            .map_err(|_| Error::invalid("webhook", "the event is not JSON"))?;
        serde_json::to_string(&Body {
            fields: self,
            webhook_event: raw,
        })
        .map_err(|_| Error::internal("the verification request could not be written"))
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
    use super::*;

    fn money(amount_minor: i64, currency: &str) -> Money {
        Money {
            amount_minor,
            currency: currency.into(),
        }
    }

    fn body(r: &PaypalRequest) -> Value {
        serde_json::from_str(r.body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn amounts_follow_each_currencys_exponent_and_paypals_list() {
        assert_eq!(amount(&money(1050, "USD")).unwrap()["value"], "10.50");
        assert_eq!(amount(&money(1050, "JPY")).unwrap()["value"], "1050");
        assert_eq!(amount(&money(150_000, "HUF")).unwrap()["value"], "1500");
        let e = amount(&money(150_050, "HUF")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("amount.amount_minor"));
        let e = amount(&money(1234, "KWD")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("amount.currency"));
        assert!(e.message.contains("KWD"));
    }

    #[test]
    fn an_order_carries_intent_amount_and_source() {
        let r = create_order_request(&CreatePaymentRequest {
            amount: Some(money(5000, "EUR")),
            capture_method: CaptureMethod::Manual.into(),
            payment_method: "8kk8451t".into(),
            description: "x".repeat(200),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (r.method.clone(), r.path.as_str()),
            (Method::POST, "/v2/checkout/orders")
        );
        assert_eq!((r.request_id, r.representation), (Some(""), true));
        let b = body(&r);
        assert_eq!(b["intent"], "AUTHORIZE");
        assert_eq!(b["purchase_units"][0]["amount"]["value"], "50.00");
        assert_eq!(
            b["purchase_units"][0]["description"]
                .as_str()
                .unwrap()
                .len(),
            127
        );
        assert_eq!(b["payment_source"]["paypal"]["vault_id"], "8kk8451t");
        let card = create_order_request(&CreatePaymentRequest {
            amount: Some(money(5000, "EUR")),
            capture_method: CaptureMethod::Immediate.into(),
            payment_method: "card:9dn3jk".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(body(&card)["payment_source"]["card"]["vault_id"], "9dn3jk");
        assert_eq!(body(&card)["intent"], "CAPTURE");
        let approval = create_order_request(&CreatePaymentRequest {
            amount: Some(money(5000, "EUR")),
            capture_method: CaptureMethod::Immediate.into(),
            return_url: "https://shop.example/back".into(),
            ..Default::default()
        })
        .unwrap();
        let context = &body(&approval)["payment_source"]["paypal"]["experience_context"];
        assert_eq!(context["return_url"], "https://shop.example/back");
        let bare = create_order_request(&CreatePaymentRequest {
            amount: Some(money(5000, "EUR")),
            capture_method: CaptureMethod::Immediate.into(),
            ..Default::default()
        })
        .unwrap();
        assert!(body(&bare).get("payment_source").is_none());
    }

    #[test]
    fn follow_up_calls_name_their_object_and_refuse_odd_ids() {
        let r =
            capture_authorization_request("0VF52814937998046", Some(&money(300, "USD"))).unwrap();
        assert_eq!(
            r.path,
            "/v2/payments/authorizations/0VF52814937998046/capture"
        );
        assert_eq!(r.route, "/v2/payments/authorizations/{id}/capture");
        assert_eq!(body(&r)["amount"]["value"], "3.00");
        assert_eq!(body(&r)["final_capture"], true);
        assert_eq!(
            authorize_order_request("5O1").unwrap().request_id,
            Some("-authorize")
        );
        assert_eq!(void_authorization_request("A1").unwrap().request_id, None);
        assert!(get_order_request("5O1/../../v1/oauth2/token").is_err());
        assert!(get_refund_request("").is_err());
    }

    #[test]
    fn refunds_subscriptions_and_payouts() {
        let r = refund_capture_request(
            "2GG",
            &CreateRefundRequest {
                amount: Some(money(100, "USD")),
                reason: RefundReason::Duplicate.into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            body(&r),
            json!({"amount": {"currency_code": "USD", "value": "1.00"},
            "note_to_payer": "Duplicate charge"})
        );
        let s = create_subscription_request(&CreateSubscriptionRequest {
            price_id: "P-5ML4271244454362WXNWU5NQ".into(),
            quantity: 2,
            return_url: "https://shop.example/subscribed".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(body(&s)["quantity"], "2");
        assert_eq!(
            body(&s)["application_context"]["return_url"],
            "https://shop.example/subscribed"
        );
        let p = create_payout_request(
            &CreatePayoutRequest {
                amount: Some(money(700, "USD")),
                destination: "ada@example.com".into(),
                description: "Weekly payout".into(),
                ..Default::default()
            },
            "integ-abc",
        )
        .unwrap();
        let b = body(&p);
        assert_eq!(b["sender_batch_header"]["sender_batch_id"], "integ-abc");
        assert_eq!(b["items"][0]["recipient_type"], "EMAIL");
        assert_eq!(
            b["items"][0]["amount"],
            json!({"value": "7.00", "currency": "USD"})
        );
        let nowhere = CreatePayoutRequest {
            amount: Some(money(700, "USD")),
            ..Default::default()
        };
        let e = create_payout_request(&nowhere, "integ-abc").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("destination"));
    }

    #[test]
    fn the_verification_body_embeds_the_event_byte_for_byte() {
        let fields = VerifyFields {
            auth_algo: "SHA256withRSA",
            cert_url: "https://api.paypal.com/v1/notifications/certs/CERT-1",
            transmission_id: "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
            transmission_sig: "c2ln",
            transmission_time: "2016-02-18T20:01:35Z",
            webhook_id: "1JE4291016473214C",
        };
        let event = br#"{ "id" : "WH-1",   "event_type":"PAYMENT.CAPTURE.COMPLETED" }"#;
        let written = fields.body(event).unwrap();
        assert!(written.contains(
            r#""webhook_event":{ "id" : "WH-1",   "event_type":"PAYMENT.CAPTURE.COMPLETED" }"#
        ));
        assert!(written.contains(r#""webhook_id":"1JE4291016473214C""#));
        assert!(fields.body(b"not json").is_err());
        assert!(fields.body(br#"{"a":1} trailing"#).is_err());
    }
}
