//! PayPal's error answers classified into the neutral [`Error`].
//!
//! PayPal answers `{name, message, debug_id, details: [{field, value, issue, description}]}`;
//! the OAuth endpoint answers `{error, error_description}`. The first detail's `issue` is the
//! provider code when there is one, else the `name`.
//!
//! | PayPal answer | kind | retried |
//! |---|---|---|
//! | 422 with a decline issue (`INSTRUMENT_DECLINED`, `TRANSACTION_REFUSED`, …) | `Declined` | never |
//! | 422 with a currency issue (`CURRENCY_NOT_SUPPORTED`, …) | `InvalidArgument` on `amount.currency` | no |
//! | other 422 (`ORDER_NOT_APPROVED`, `REFUND_AMOUNT_EXCEEDED`, …) | `FailedPrecondition` | no |
//! | 400 `INVALID_REQUEST` | `InvalidArgument` naming our field for the detail's `field` | no |
//! | 401 at `/v1/oauth2/token` (`invalid_client`) | `ProviderAuth`: our client id or secret | no |
//! | 401 elsewhere | `Unavailable`, not sent: the token is fetched again on retry | yes |
//! | 403 | `ProviderAuth`: the app lacks a permission | no |
//! | 404 | `NotFound` | no |
//! | 409 `PREVIOUS_REQUEST_IN_PROGRESS` | `InProgress` | yes |
//! | 429 `RATE_LIMIT_REACHED` | `RateLimited`, with `Retry-After` | yes |
//! | 5xx | `Unavailable` | yes |
//!
//! PayPal's `message`, `description` and `value` are never passed on: they may quote what we
//! sent (an email address, an amount). Our messages are fixed text plus PayPal's codes and
//! field names.

use integ_core::{Error, Kind};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::NAME;
use super::wire::PaypalErrorBody;

/// Issues that mean the payer's instrument or PayPal's risk checks refused the payment.
const DECLINES: &[&str] = &[
    "INSTRUMENT_DECLINED",
    "TRANSACTION_REFUSED",
    "PAYER_CANNOT_PAY",
    "CARD_EXPIRED",
    "PAYER_ACCOUNT_RESTRICTED",
    "PAYER_ACCOUNT_LOCKED_OR_CLOSED",
    "COMPLIANCE_VIOLATION",
    "REDIRECT_PAYER_FOR_ALTERNATE_FUNDING",
    "TRANSACTION_BLOCKED_BY_PAYEE",
];

/// Issues about the currency of the request.
const CURRENCY: &[&str] = &[
    "CURRENCY_NOT_SUPPORTED",
    "CURRENCY_NOT_SUPPORTED_FOR_COUNTRY",
    "CURRENCY_NOT_SUPPORTED_FOR_CARD_TYPE",
    "DECIMAL_PRECISION",
    "CANNOT_MIX_CURRENCIES",
];

/// Classifies a non-2xx answer of the REST APIs.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed = serde_json::from_slice::<PaypalErrorBody>(body).unwrap_or_default();
    let issue = parsed.details.first().map(|d| d.issue.as_str());
    let code = issue.or(parsed.name.as_deref()).unwrap_or_default();
    let error = match status.as_u16() {
        422 if DECLINES.contains(&code) => declined(code),
        422 | 400 if CURRENCY.contains(&code) => Error::invalid(
            "amount.currency",
            format!("paypal refused the amount's currency or precision ({code})"),
        ),
        422 => Error::new(
            Kind::FailedPrecondition,
            format!("paypal refused the action in the object's current state ({code})"),
        ),
        400 => invalid(
            code,
            parsed.details.first().and_then(|d| d.field.as_deref()),
        ),
        401 => Error::new(
            Kind::Unavailable,
            "paypal refused the access token; a new one is fetched for the next attempt",
        )
        .not_sent(),
        403 => Error::new(
            Kind::ProviderAuth,
            "the paypal app lacks a permission this call needs",
        ),
        404 => Error::new(Kind::NotFound, "paypal has no such object"),
        409 if code == "PREVIOUS_REQUEST_IN_PROGRESS" => Error::new(
            Kind::InProgress,
            "an earlier call with this request id is still running at paypal",
        ),
        429 => Error::new(Kind::RateLimited, "paypal is throttling requests"),
        500..=599 => Error::new(Kind::Unavailable, "paypal failed to process the request"),
        _ => integ_core::http::status_error(NAME, status, None),
    };
    finish(error, code, headers)
}

/// Classifies a non-2xx answer of the token endpoint.
pub fn classify_token(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed = serde_json::from_slice::<PaypalErrorBody>(body).unwrap_or_default();
    let code = parsed.error.or(parsed.name).unwrap_or_default();
    let error = match status.as_u16() {
        400 | 401 | 403 => Error::new(
            Kind::ProviderAuth,
            "paypal refused the client credentials; check INTEG_PAYPAL_CLIENT_ID and \
             INTEG_PAYPAL_CLIENT_SECRET",
        ),
        429 => Error::new(Kind::RateLimited, "paypal is throttling token requests"),
        500..=599 => Error::new(Kind::Unavailable, "paypal could not issue a token"),
        _ => integ_core::http::status_error(NAME, status, None),
    };
    finish(error, &code, headers)
}

fn finish(error: Error, code: &str, headers: &HeaderMap) -> Error {
    let mut error = error.with_provider(NAME);
    if error.provider_code.is_none() && !code.is_empty() {
        error = error.with_provider_code(code);
    }
    match integ_core::http::retry_after(headers) {
        Some(delay) => error.with_retry_after(delay),
        None => error,
    }
}

fn declined(code: &str) -> Error {
    Error::new(
        Kind::Declined,
        format!("paypal declined the payment ({code})"),
    )
    .with_provider_code(code)
    .retryable(false)
}

fn invalid(code: &str, pointer: Option<&str>) -> Error {
    let pointer = pointer.unwrap_or_default();
    let message = match (code.is_empty(), pointer.is_empty()) {
        (false, false) => format!("paypal refused field {pointer} ({code})"),
        (false, true) => format!("paypal refused the request ({code})"),
        _ => "paypal refused the request".to_owned(),
    };
    Error::invalid(our_field(pointer), message)
}

/// Our request field for the JSON pointer PayPal names; an unknown one is named as PayPal
/// names it.
fn our_field(pointer: &str) -> &str {
    let has = |part: &str| pointer.contains(part);
    match pointer {
        "" => "request",
        _ if has("currency") => "amount.currency",
        _ if has("amount") || has("value") => "amount",
        _ if has("payment_source") || has("vault_id") => "payment_method",
        _ if has("return_url") || has("cancel_url") => "return_url",
        _ if has("plan_id") => "price_id",
        _ if has("quantity") => "quantity",
        _ if has("receiver") || has("recipient") => "destination",
        _ if has("description") || has("note") => "description",
        p => p,
    }
}

/// A 2xx answer whose body we could not read. Not retried: a replay returns the same body.
pub fn unreadable(status: StatusCode) -> Error {
    Error::new(
        Kind::ProviderError,
        format!(
            "paypal answered HTTP {} with a body we could not read",
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
    fn declines_are_never_retried_and_carry_the_issue() {
        let e = check(
            422,
            r#"{"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"INSTRUMENT_DECLINED",
                "description":"The instrument presented was declined."}]}"#,
        );
        assert_eq!(
            (e.kind, e.retryable, e.provider_code.as_deref()),
            (Kind::Declined, false, Some("INSTRUMENT_DECLINED"))
        );
        assert_eq!(e.provider.as_deref(), Some("paypal"));
    }

    #[test]
    fn states_currencies_and_fields() {
        let e = check(
            422,
            r#"{"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"ORDER_NOT_APPROVED"}]}"#,
        );
        assert_eq!(e.kind, Kind::FailedPrecondition);
        let e = check(
            422,
            r#"{"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"CURRENCY_NOT_SUPPORTED"}]}"#,
        );
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (Kind::InvalidArgument, Some("amount.currency"))
        );
        let e = check(
            400,
            r#"{"name":"INVALID_REQUEST","details":[{"field":"/purchase_units/@reference_id=='default'/amount/value",
                "value":"ada@example.com","issue":"INVALID_PARAMETER_SYNTAX"}]}"#,
        );
        assert_eq!(
            (e.kind, e.field.as_deref(), e.provider_code.as_deref()),
            (
                Kind::InvalidArgument,
                Some("amount"),
                Some("INVALID_PARAMETER_SYNTAX")
            )
        );
        assert!(!e.message.contains("ada@"), "PayPal's value is not quoted");
    }

    #[test]
    fn a_refused_token_is_retried_with_a_new_one_but_bad_credentials_are_not() {
        let e = check(401, r#"{"error":"invalid_token"}"#);
        assert_eq!(
            (e.kind, e.retryable, e.not_sent),
            (Kind::Unavailable, true, true)
        );
        let e = classify_token(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            br#"{"error":"invalid_client","error_description":"Client Authentication failed"}"#,
        );
        assert_eq!((e.kind, e.retryable), (Kind::ProviderAuth, false));
        assert_eq!(e.provider_code.as_deref(), Some("invalid_client"));
        assert!(e.message.contains("INTEG_PAYPAL_CLIENT_SECRET"));
    }

    #[test]
    fn throttling_outages_and_missing_objects() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"name":"RATE_LIMIT_REACHED"}"#,
        );
        assert_eq!(
            (e.kind, e.retry_after),
            (Kind::RateLimited, Some(Duration::from_secs(2)))
        );
        let e = check(503, "<html>down</html>");
        assert_eq!((e.kind, e.retryable), (Kind::Unavailable, true));
        let e = check(
            404,
            r#"{"name":"RESOURCE_NOT_FOUND","details":[{"issue":"INVALID_RESOURCE_ID"}]}"#,
        );
        assert_eq!(
            (e.kind, e.provider_code.as_deref()),
            (Kind::NotFound, Some("INVALID_RESOURCE_ID"))
        );
        let e = check(
            409,
            r#"{"name":"RESOURCE_CONFLICT","details":[{"issue":"PREVIOUS_REQUEST_IN_PROGRESS"}]}"#,
        );
        assert_eq!((e.kind, e.retryable), (Kind::InProgress, true));
    }
}
