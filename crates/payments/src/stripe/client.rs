//! Requests to Stripe: pure builders that say what to send, and one sender that sends it.
//!
//! Every request carries `Authorization: Bearer <key>` (a header marked sensitive),
//! `Stripe-Version`, and `Stripe-Account` when a connected account is configured. Every POST
//! carries the call's idempotency key as `Idempotency-Key`: the service derives it once per
//! caller, method and key, so every retry of a call sends the same one and Stripe runs the
//! operation at most once. Parameters are form-encoded with bracketed keys (see `form.rs`).
//!
//! What it does not do: retry, time out or rate-limit. The family's policy wraps the provider.

use std::time::Instant;

use integ_core::family::CallCtx;
use integ_core::http::{client, join, sensitive, transport_error};
use integ_core::{Error, Result};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::{
    CaptureMethod, CreateCustomerRequest, CreatePaymentRequest, CreatePayoutRequest,
    CreateRefundRequest, CreateSubscriptionRequest,
};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;

use super::NAME;
use super::config::StripeConfig;
use super::convert::{NOTE_KEY, refund_reason};
use super::error;
use super::form::Form;

/// Expanded on every PaymentIntent we read, for the amount refunded.
const EXPAND_CHARGE: &[&str] = &["latest_charge"];

/// Longest statement descriptor Stripe accepts on a payout.
const DESCRIPTOR_MAX: usize = 22;

/// One request to send: what, where, and the route template that is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRequest {
    /// GET, POST or DELETE.
    pub method: Method,
    /// The path with ids filled in.
    pub path: String,
    /// The path with `{id}` in place of ids, for logs and metrics.
    pub route: &'static str,
    /// The parameters: the body of a POST, the query of a GET or DELETE.
    pub form: Form,
}

fn request(
    method: Method,
    route: &'static str,
    id: Option<&str>,
    form: Form,
) -> Result<StripeRequest> {
    let path = match id {
        Some(id) => route.replace("{id}", segment(id)?),
        None => route.to_owned(),
    };
    Ok(StripeRequest {
        method,
        path,
        route,
        form,
    })
}

/// A Stripe id used as a path segment: letters, digits and underscores only, so that nothing
/// read from the store can change the path.
fn segment(id: &str) -> Result<&str> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(Error::not_found("stripe object", "with a malformed id").with_provider(NAME))
    }
}

/// `POST /v1/payment_intents`, confirmed at once with the given payment method.
pub fn create_payment_request(r: &CreatePaymentRequest) -> Result<StripeRequest> {
    let amount = r.amount.clone().unwrap_or_default();
    let capture = match r.capture_method() {
        CaptureMethod::Manual => "manual",
        _ => "automatic",
    };
    let form = Form::new()
        .with("amount", amount.amount_minor.to_string())
        .with("currency", amount.currency.to_ascii_lowercase())
        .with("confirm", "true")
        .with("capture_method", capture)
        .text("payment_method", &r.payment_method)
        .text("customer", &r.customer_id)
        .text("description", &r.description)
        .map("metadata", &r.metadata);
    // Confirming without a return URL is allowed only when no redirect can be needed; a card
    // that wants 3-D Secure then stays REQUIRES_ACTION without an action URL.
    let form = if r.return_url.is_empty() {
        form.at(&["automatic_payment_methods", "enabled"], "true")
            .at(&["automatic_payment_methods", "allow_redirects"], "never")
    } else {
        form.with("return_url", r.return_url.as_str())
    };
    request(
        Method::POST,
        "/v1/payment_intents",
        None,
        form.list("expand", EXPAND_CHARGE),
    )
}

/// `GET /v1/payment_intents/{id}`.
pub fn get_payment_request(id: &str) -> Result<StripeRequest> {
    let form = Form::new().list("expand", EXPAND_CHARGE);
    request(Method::GET, "/v1/payment_intents/{id}", Some(id), form)
}

/// `POST /v1/payment_intents/{id}/capture`, of `amount` or of everything authorised.
pub fn capture_payment_request(id: &str, amount: Option<&Money>) -> Result<StripeRequest> {
    let form = match amount {
        Some(m) => Form::new().with("amount_to_capture", m.amount_minor.to_string()),
        None => Form::new(),
    };
    let form = form.list("expand", EXPAND_CHARGE);
    request(
        Method::POST,
        "/v1/payment_intents/{id}/capture",
        Some(id),
        form,
    )
}

/// `POST /v1/payment_intents/{id}/cancel`.
pub fn cancel_payment_request(id: &str) -> Result<StripeRequest> {
    let form = Form::new().list("expand", EXPAND_CHARGE);
    request(
        Method::POST,
        "/v1/payment_intents/{id}/cancel",
        Some(id),
        form,
    )
}

/// `POST /v1/refunds` of a PaymentIntent; the note goes into metadata.
pub fn create_refund_request(r: &CreateRefundRequest) -> Result<StripeRequest> {
    let mut form = Form::new().with("payment_intent", segment(&r.payment_id)?);
    if let Some(amount) = &r.amount {
        form = form.with("amount", amount.amount_minor.to_string());
    }
    if let Some(reason) = refund_reason(r.reason()) {
        form = form.with("reason", reason);
    }
    if !r.note.is_empty() {
        form = form.at(&["metadata", NOTE_KEY], r.note.as_str());
    }
    request(Method::POST, "/v1/refunds", None, form)
}

/// `GET /v1/refunds/{id}`.
pub fn get_refund_request(id: &str) -> Result<StripeRequest> {
    request(Method::GET, "/v1/refunds/{id}", Some(id), Form::new())
}

/// `POST /v1/customers`.
pub fn create_customer_request(r: &CreateCustomerRequest) -> Result<StripeRequest> {
    let form = Form::new()
        .text("email", &r.email)
        .text("name", &r.name)
        .text("phone", &r.phone)
        .map("metadata", &r.metadata);
    request(Method::POST, "/v1/customers", None, form)
}

/// `GET /v1/customers/{id}`.
pub fn get_customer_request(id: &str) -> Result<StripeRequest> {
    request(Method::GET, "/v1/customers/{id}", Some(id), Form::new())
}

/// `POST /v1/subscriptions` with one item.
pub fn create_subscription_request(r: &CreateSubscriptionRequest) -> Result<StripeRequest> {
    let quantity = r.quantity.max(1).to_string();
    let form = Form::new()
        .with("customer", segment(&r.customer_id)?)
        .at(&["items", "0", "price"], r.price_id.as_str())
        .at(&["items", "0", "quantity"], quantity)
        .text("default_payment_method", &r.payment_method)
        .map("metadata", &r.metadata);
    request(Method::POST, "/v1/subscriptions", None, form)
}

/// `GET /v1/subscriptions/{id}`.
pub fn get_subscription_request(id: &str) -> Result<StripeRequest> {
    request(Method::GET, "/v1/subscriptions/{id}", Some(id), Form::new())
}

/// Cancels now (`DELETE /v1/subscriptions/{id}`) or at the period's end (`POST` with
/// `cancel_at_period_end=true`).
pub fn cancel_subscription_request(id: &str, at_period_end: bool) -> Result<StripeRequest> {
    if at_period_end {
        let form = Form::new().with("cancel_at_period_end", "true");
        request(Method::POST, "/v1/subscriptions/{id}", Some(id), form)
    } else {
        request(
            Method::DELETE,
            "/v1/subscriptions/{id}",
            Some(id),
            Form::new(),
        )
    }
}

/// `POST /v1/payouts`; the description doubles as the statement descriptor, cut to fit.
pub fn create_payout_request(r: &CreatePayoutRequest) -> Result<StripeRequest> {
    let amount = r.amount.clone().unwrap_or_default();
    let form = Form::new()
        .with("amount", amount.amount_minor.to_string())
        .with("currency", amount.currency.to_ascii_lowercase())
        .text("destination", &r.destination)
        .text("description", &r.description)
        .text(
            "statement_descriptor",
            &statement_descriptor(&r.description),
        );
    request(Method::POST, "/v1/payouts", None, form)
}

/// `GET /v1/payouts/{id}`.
pub fn get_payout_request(id: &str) -> Result<StripeRequest> {
    request(Method::GET, "/v1/payouts/{id}", Some(id), Form::new())
}

/// Stripe refuses `<>\'"*` in descriptors and wants at least one letter; empty means none.
fn statement_descriptor(description: &str) -> String {
    let kept: String = description
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '\\' | '\'' | '"' | '*'))
        .take(DESCRIPTOR_MAX)
        .collect();
    let kept = kept.trim().to_owned();
    if kept.chars().any(char::is_alphabetic) {
        kept
    } else {
        String::new()
    }
}

/// Sends requests to one Stripe account.
#[derive(Debug, Clone)]
pub struct StripeClient {
    config: StripeConfig,
    http: reqwest::Client,
}

impl StripeClient {
    /// A client with the shared HTTP pool.
    pub fn new(config: StripeConfig) -> Self {
        Self {
            config,
            http: client(),
        }
    }

    /// The settings it sends with.
    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    /// Sends `request` and reads the answer as `T`, or classifies the failure.
    pub async fn send<T: DeserializeOwned>(
        &self,
        ctx: &CallCtx,
        request: StripeRequest,
    ) -> Result<T> {
        let builder = self.builder(ctx, &request)?;
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
            request_id = header(&headers, "request-id"),
            replayed = header(&headers, "idempotent-replayed") == "true",
            attempt = ctx.attempt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "stripe answered"
        );
        if !status.is_success() {
            return Err(error::classify(status, &headers, &body));
        }
        serde_json::from_slice(&body).map_err(|_| error::unreadable(status))
    }

    fn builder(&self, ctx: &CallCtx, request: &StripeRequest) -> Result<reqwest::RequestBuilder> {
        let mut url = join(&self.config.base_url, &request.path)?;
        let authorization = self
            .config
            .api_key
            .with_value(|key| sensitive(&format!("Bearer {key}")))
            .map_err(|e| e.with_provider(NAME))?;
        if request.method != Method::POST && !request.form.is_empty() {
            url.set_query(Some(&request.form.encode()));
        }
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, authorization)
            .header("stripe-version", &self.config.api_version);
        if let Some(account) = &self.config.account {
            builder = builder.header("stripe-account", account);
        }
        if request.method == Method::POST {
            builder = builder
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(request.form.encode());
            if !ctx.idempotency_key.is_empty() {
                builder = builder.header("idempotency-key", &ctx.idempotency_key);
            }
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
    use std::collections::BTreeMap;

    use super::*;

    fn usd(n: i64) -> Option<Money> {
        Some(Money {
            amount_minor: n,
            currency: "USD".into(),
        })
    }

    fn params(r: &StripeRequest) -> Vec<(&str, &str)> {
        r.form
            .pairs()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn a_payment_is_confirmed_with_lower_case_currency_and_metadata() {
        let r = create_payment_request(&CreatePaymentRequest {
            amount: usd(5000),
            capture_method: CaptureMethod::Manual.into(),
            payment_method: "pm_card_visa".into(),
            customer_id: "cus_1".into(),
            metadata: BTreeMap::from([("order".into(), "42".into())]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (r.method.clone(), r.path.as_str()),
            (Method::POST, "/v1/payment_intents")
        );
        assert_eq!(
            params(&r),
            [
                ("amount", "5000"),
                ("currency", "usd"),
                ("confirm", "true"),
                ("capture_method", "manual"),
                ("payment_method", "pm_card_visa"),
                ("customer", "cus_1"),
                ("metadata[order]", "42"),
                ("automatic_payment_methods[enabled]", "true"),
                ("automatic_payment_methods[allow_redirects]", "never"),
                ("expand[0]", "latest_charge"),
            ]
        );
        let with_return = create_payment_request(&CreatePaymentRequest {
            amount: usd(1),
            capture_method: CaptureMethod::Immediate.into(),
            return_url: "https://shop.example/back".into(),
            ..Default::default()
        })
        .unwrap();
        assert!(params(&with_return).contains(&("return_url", "https://shop.example/back")));
        assert!(params(&with_return).contains(&("capture_method", "automatic")));
    }

    #[test]
    fn ids_fill_the_route_and_odd_ids_are_refused() {
        let r = capture_payment_request("pi_123", usd(300).as_ref()).unwrap();
        assert_eq!(
            (r.path.as_str(), r.route),
            (
                "/v1/payment_intents/pi_123/capture",
                "/v1/payment_intents/{id}/capture"
            )
        );
        assert_eq!(params(&r)[0], ("amount_to_capture", "300"));
        assert!(get_payment_request("pi_1/../../v1/payouts").is_err());
        assert!(get_refund_request("").is_err());
    }

    #[test]
    fn subscriptions_refunds_and_payouts() {
        let r = create_subscription_request(&CreateSubscriptionRequest {
            customer_id: "cus_1".into(),
            price_id: "price_1".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            params(&r),
            [
                ("customer", "cus_1"),
                ("items[0][price]", "price_1"),
                ("items[0][quantity]", "1")
            ]
        );
        let now = cancel_subscription_request("sub_1", false).unwrap();
        assert_eq!(now.method, Method::DELETE);
        let later = cancel_subscription_request("sub_1", true).unwrap();
        assert_eq!(
            (later.method.clone(), params(&later)),
            (Method::POST, vec![("cancel_at_period_end", "true")])
        );
        let r = create_refund_request(&CreateRefundRequest {
            payment_id: "pi_1".into(),
            amount: usd(100),
            reason: integ_proto::payments::v1::RefundReason::Duplicate.into(),
            note: "charged twice".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            params(&r),
            [
                ("payment_intent", "pi_1"),
                ("amount", "100"),
                ("reason", "duplicate"),
                ("metadata[integ_note]", "charged twice")
            ]
        );
        assert_eq!(
            statement_descriptor("Payout for \"March\" 2024 <ok>"),
            "Payout for March 2024"
        );
        assert_eq!(statement_descriptor("12345"), "");
    }
}
