//! Stripe's error answers classified into the neutral [`Error`].
//!
//! | Stripe answer | kind | retried |
//! |---|---|---|
//! | `card_error` (402) | `Declined`, provider code = `decline_code`, else `code` | never |
//! | 429 (`rate_limit`, `lock_timeout`) | `RateLimited`, with `Retry-After` | yes |
//! | `invalid_request_error` 404 | `NotFound` | no |
//! | `invalid_request_error` with a state code | `FailedPrecondition` | no |
//! | other `invalid_request_error` | `InvalidArgument` naming our field for `param` | no |
//! | 401, 403 | `ProviderAuth`: our key is wrong or lacks a permission | no |
//! | `idempotency_error` | `Conflict` | no |
//! | `idempotency_error`, `idempotency_key_in_use` | `InProgress`: the first call runs on | yes |
//! | `api_error`, 5xx | `Unavailable` | yes |
//!
//! A `Stripe-Should-Retry` header, when present, overrides the retryable flag: Stripe sets it
//! to `false` on an answer its idempotency layer saved and would only replay.
//!
//! Stripe's `message` is never passed on: it may quote a parameter's value or part of the API
//! key. Our messages are fixed text plus Stripe's documented codes and parameter names.

use integ_core::{Error, Kind};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::NAME;
use super::wire::{StripeApiError, StripeErrorBody};

/// `invalid_request_error` codes that mean the object's state forbids the action.
const STATE_CODES: &[&str] = &[
    "amount_too_large",
    "amount_too_small",
    "balance_insufficient",
    "charge_already_captured",
    "charge_already_refunded",
    "charge_disputed",
    "charge_expired_for_capture",
    "charge_not_refundable",
    "payment_intent_unexpected_state",
    "payouts_not_allowed",
    "refund_disputed_payment",
    "resource_already_exists",
];

/// Classifies a non-2xx answer from its status, headers and body.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let retry_after = integ_core::http::retry_after(headers);
    let error = match serde_json::from_slice::<StripeErrorBody>(body) {
        Ok(parsed) => from_body(status, &parsed.error),
        Err(_) => integ_core::http::status_error(NAME, status, None),
    };
    let error = match retry_after {
        Some(delay) => error.with_retry_after(delay),
        None => error,
    };
    match should_retry(headers) {
        Some(flag) => error.retryable(flag),
        None => error,
    }
}

fn from_body(status: StatusCode, e: &StripeApiError) -> Error {
    let code = e.code.as_deref().unwrap_or_default();
    let error = match (status.as_u16(), e.kind.as_str()) {
        (_, "card_error") => declined(e),
        (401, _) => Error::new(
            Kind::ProviderAuth,
            "stripe refused the API key; check INTEG_STRIPE_API_KEY",
        ),
        (403, _) => Error::new(
            Kind::ProviderAuth,
            "the stripe API key lacks a permission this call needs",
        ),
        (429, _) => Error::new(Kind::RateLimited, "stripe is throttling requests"),
        (_, "idempotency_error") if code == "idempotency_key_in_use" => Error::new(
            Kind::InProgress,
            "an earlier call with this idempotency key is still running at stripe",
        ),
        (_, "idempotency_error") => Error::new(
            Kind::Conflict,
            "stripe saw this idempotency key with other parameters",
        ),
        (500..=599, _) | (_, "api_error") => {
            Error::new(Kind::Unavailable, "stripe failed to process the request")
        }
        (404, _) => Error::new(Kind::NotFound, "stripe has no such object"),
        (_, "invalid_request_error") if STATE_CODES.contains(&code) => Error::new(
            Kind::FailedPrecondition,
            format!("stripe refused the action in the object's current state ({code})"),
        ),
        (_, "invalid_request_error") => invalid(e),
        _ => integ_core::http::status_error(NAME, status, None),
    };
    let error = error.with_provider(NAME);
    match (error.provider_code.is_some(), e.code.as_deref()) {
        (false, Some(code)) => error.with_provider_code(code),
        _ => error,
    }
}

fn declined(e: &StripeApiError) -> Error {
    let code = e
        .decline_code
        .as_deref()
        .or(e.code.as_deref())
        .unwrap_or("card_declined");
    Error::new(
        Kind::Declined,
        format!("stripe declined the payment ({code})"),
    )
    .with_provider_code(code)
    .retryable(false)
}

fn invalid(e: &StripeApiError) -> Error {
    let param = e.param.as_deref().unwrap_or_default();
    let field = our_field(param);
    let message = match e.code.as_deref() {
        Some(code) if !param.is_empty() => format!("stripe refused parameter {param} ({code})"),
        Some(code) => format!("stripe refused the request ({code})"),
        None if !param.is_empty() => format!("stripe refused parameter {param}"),
        None => "stripe refused the request".to_owned(),
    };
    Error::invalid(field, message)
}

/// Our request field for a Stripe parameter; an unknown one is named as Stripe names it.
fn our_field(param: &str) -> &str {
    match param {
        "" => "request",
        "amount" | "amount_to_capture" => "amount",
        "currency" => "amount.currency",
        "payment_method" | "default_payment_method" => "payment_method",
        "customer" => "customer_id",
        "payment_intent" => "payment_id",
        "return_url" => "return_url",
        "destination" => "destination",
        p if p.starts_with("items") => "price_id",
        p if p.starts_with("metadata") => "metadata",
        p => p,
    }
}

fn should_retry(headers: &HeaderMap) -> Option<bool> {
    match headers.get("stripe-should-retry")?.to_str().ok()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A 2xx answer whose body we could not read. Not retried: a replay returns the same body.
pub fn unreadable(status: StatusCode) -> Error {
    Error::new(
        Kind::ProviderError,
        format!(
            "stripe answered HTTP {} with a body we could not read",
            status.as_u16()
        ),
    )
    .with_provider(NAME)
    .retryable(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use reqwest::header::HeaderValue;

    use super::*;

    fn check(status: u16, body: &str) -> Error {
        classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn card_errors_are_declines_with_the_decline_code_and_never_retried() {
        let e = check(
            402,
            r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}"#,
        );
        assert_eq!(e.kind, Kind::Declined);
        assert_eq!(e.provider_code.as_deref(), Some("generic_decline"));
        assert_eq!(e.provider.as_deref(), Some("stripe"));
        assert!(!e.retryable);
        let e = check(
            402,
            r#"{"error":{"type":"card_error","code":"expired_card"}}"#,
        );
        assert_eq!(e.provider_code.as_deref(), Some("expired_card"));
    }

    #[test]
    fn rate_limits_are_retryable_after_the_given_delay() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"error":{"type":"invalid_request_error","code":"rate_limit"}}"#,
        );
        assert_eq!(
            (e.kind, e.retryable, e.retry_after),
            (Kind::RateLimited, true, Some(Duration::from_secs(3)))
        );
        assert_eq!(e.provider_code.as_deref(), Some("rate_limit"));
    }

    #[test]
    fn invalid_requests_name_our_field() {
        let e = check(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer","param":"amount","message":"Invalid integer: abc"}}"#,
        );
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (Kind::InvalidArgument, Some("amount"))
        );
        assert!(!e.message.contains("abc"), "Stripe's message is not quoted");
        let e = check(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"items[0][price]"}}"#,
        );
        assert_eq!(e.field.as_deref(), Some("price_id"));
        let e = check(
            400,
            r#"{"error":{"type":"invalid_request_error","param":"shipping[address]"}}"#,
        );
        assert_eq!(e.field.as_deref(), Some("shipping[address]"));
    }

    #[test]
    fn state_codes_are_failed_preconditions_and_404_is_not_found() {
        let e = check(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state"}}"#,
        );
        assert_eq!(e.kind, Kind::FailedPrecondition);
        let e = check(
            404,
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"intent"}}"#,
        );
        assert_eq!(
            (e.kind, e.provider_code.as_deref()),
            (Kind::NotFound, Some("resource_missing"))
        );
    }

    #[test]
    fn a_refused_key_is_provider_auth_and_never_quotes_stripe() {
        let e = check(
            401,
            r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_canary"}}"#,
        );
        assert_eq!((e.kind, e.retryable), (Kind::ProviderAuth, false));
        assert!(!e.message.contains("canary") && !format!("{e:?}").contains("canary"));
    }

    #[test]
    fn idempotency_errors_conflict_unless_the_first_call_still_runs() {
        let e = check(
            400,
            r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}"#,
        );
        assert_eq!((e.kind, e.retryable), (Kind::Conflict, false));
        let e = check(
            409,
            r#"{"error":{"type":"idempotency_error","code":"idempotency_key_in_use"}}"#,
        );
        assert_eq!((e.kind, e.retryable), (Kind::InProgress, true));
    }

    #[test]
    fn server_errors_are_retryable_unless_stripe_says_otherwise() {
        let e = check(500, r#"{"error":{"type":"api_error"}}"#);
        assert_eq!((e.kind, e.retryable), (Kind::Unavailable, true));
        let e = check(503, "<html>upstream unavailable</html>");
        assert_eq!((e.kind, e.retryable), (Kind::Unavailable, true));
        let mut headers = HeaderMap::new();
        headers.insert("stripe-should-retry", HeaderValue::from_static("false"));
        let e = classify(
            StatusCode::INTERNAL_SERVER_ERROR,
            &headers,
            br#"{"error":{"type":"api_error"}}"#,
        );
        assert_eq!((e.kind, e.retryable), (Kind::Unavailable, false));
    }
}
