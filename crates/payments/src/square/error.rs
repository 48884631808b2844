//! Square's error answers classified into the neutral [`Error`].
//!
//! Square answers `{"errors":[{"category","code","detail","field"}]}`. The first error of a
//! card decline wins if there is one, else the first error; it is classified by its
//! category, its code and the HTTP status:
//!
//! | Square answer | kind | retried |
//! |---|---|---|
//! | `PAYMENT_METHOD_ERROR` (`CARD_DECLINED`, `INSUFFICIENT_FUNDS`, …) | `Declined` | never |
//! | `AUTHENTICATION_ERROR`, 401, 403 | `ProviderAuth` | no |
//! | `RATE_LIMIT_ERROR`, 429 | `RateLimited`, after `Retry-After` | yes |
//! | `IDEMPOTENCY_KEY_REUSED` | `Conflict` | no |
//! | `API_ERROR`, `EXTERNAL_VENDOR_ERROR`, 5xx | `Unavailable` | yes |
//! | any error whose `field` is `location_id`, `LOCATION_MISMATCH` | `Internal` | no |
//! | 404, or `NOT_FOUND` without a field | `NotFound` | no |
//! | `REFUND_ERROR`, `MERCHANT_SUBSCRIPTION_ERROR`, a state code | `FailedPrecondition` | no |
//! | other `INVALID_REQUEST_ERROR` (`NOT_FOUND` of a field too) | `InvalidArgument` | no |
//! | a body that is not Square's | by status ([`integ_core::http::status_error`]) | per status |
//!
//! A decline's provider code is Square's code. `ProviderAuth` and `Internal` name the setting
//! to check (`INTEG_SQUARE_ACCESS_TOKEN`, `INTEG_SQUARE_LOCATION_ID`): they need an operator.
//! An `InvalidArgument` names our request field for Square's `field`. The state codes are
//! `DELAYED_TRANSACTION_*` (completing or canceling a payment that is no longer APPROVED) and
//! those of refunds and used card tokens listed in `STATE_CODES`.
//!
//! Square's `detail` is never passed on (it is not even read: see `wire.rs`): it may quote a
//! value that was sent. Our messages are fixed text plus Square's documented codes and field
//! names, and every error carries the provider and Square's code.

use integ_core::{Error, Kind};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::NAME;
use super::wire::{SquareError, SquareErrorBody};

/// Codes of `INVALID_REQUEST_ERROR` that mean the object's state forbids the action.
const STATE_CODES: &[&str] = &[
    "DELAYED_TRANSACTION_CANCELED",
    "DELAYED_TRANSACTION_CAPTURED",
    "DELAYED_TRANSACTION_EXPIRED",
    "DELAYED_TRANSACTION_FAILED",
    "PAYMENT_NOT_REFUNDABLE",
    "PAYMENT_NOT_REFUNDABLE_DUE_TO_DISPUTE",
    "REFUND_ALREADY_PENDING",
    "REFUND_AMOUNT_INVALID",
    "REFUND_ERROR_PAYMENT_NEEDS_COMPLETION",
    "CARD_TOKEN_USED",
    "CARD_TOKEN_EXPIRED",
    "SOURCE_EXPIRED",
    "CHECKOUT_EXPIRED",
];

/// Codes that name our configured location rather than anything the caller sent.
const LOCATION_CODES: &[&str] = &["LOCATION_MISMATCH"];

/// Classifies a non-2xx answer from its status, headers and body.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let retry_after = integ_core::http::retry_after(headers);
    let parsed = serde_json::from_slice::<SquareErrorBody>(body).ok();
    let first = parsed.as_ref().and_then(|b| {
        let declined = b
            .errors
            .iter()
            .find(|e| e.category == "PAYMENT_METHOD_ERROR");
        declined.or(b.errors.first())
    });
    let error = match first {
        Some(e) => from_error(status, e),
        None => integ_core::http::status_error(NAME, status, None),
    };
    match retry_after {
        Some(delay) => error.with_retry_after(delay),
        None => error,
    }
}

fn from_error(status: StatusCode, e: &SquareError) -> Error {
    let code = e.code.as_str();
    let field = e.field.as_deref().unwrap_or_default();
    let error = match (status.as_u16(), e.category.as_str()) {
        (_, "PAYMENT_METHOD_ERROR") => declined(code),
        (401, _) | (_, "AUTHENTICATION_ERROR") if status != StatusCode::FORBIDDEN => Error::new(
            Kind::ProviderAuth,
            "square refused the access token; check INTEG_SQUARE_ACCESS_TOKEN",
        ),
        (403, _) => Error::new(
            Kind::ProviderAuth,
            "the square access token lacks a permission this call needs; \
             check INTEG_SQUARE_ACCESS_TOKEN",
        ),
        (429, _) | (_, "RATE_LIMIT_ERROR") => {
            Error::new(Kind::RateLimited, "square is throttling requests")
        }
        _ if code == "IDEMPOTENCY_KEY_REUSED" => Error::new(
            Kind::Conflict,
            "square saw this idempotency key with another request",
        ),
        (500..=599, _) | (_, "API_ERROR" | "EXTERNAL_VENDOR_ERROR") => {
            Error::new(Kind::Unavailable, "square failed to process the request")
        }
        _ if LOCATION_CODES.contains(&code) || field == "location_id" => Error::new(
            Kind::Internal,
            format!("square refused the location ({code}); check INTEG_SQUARE_LOCATION_ID"),
        )
        .retryable(false),
        (404, _) => Error::new(Kind::NotFound, "square has no such object"),
        _ if code == "NOT_FOUND" && field.is_empty() => {
            Error::new(Kind::NotFound, "square has no such object")
        }
        (_, "REFUND_ERROR" | "MERCHANT_SUBSCRIPTION_ERROR") => precondition(code),
        _ if STATE_CODES.contains(&code) => precondition(code),
        (_, "INVALID_REQUEST_ERROR") => invalid(code, field),
        _ => integ_core::http::status_error(NAME, status, None),
    };
    let error = error.with_provider(NAME);
    match (error.provider_code.is_some(), code.is_empty()) {
        (false, false) => error.with_provider_code(code),
        _ => error,
    }
}

fn declined(code: &str) -> Error {
    let code = if code.is_empty() {
        "CARD_DECLINED"
    } else {
        code
    };
    Error::new(
        Kind::Declined,
        format!("square declined the payment ({code})"),
    )
    .with_provider_code(code)
    .retryable(false)
}

fn precondition(code: &str) -> Error {
    Error::new(
        Kind::FailedPrecondition,
        format!("square refused the action in the object's current state ({code})"),
    )
}

fn invalid(code: &str, field: &str) -> Error {
    let message = if field.is_empty() {
        format!("square refused the request ({code})")
    } else {
        format!("square refused field {field} ({code})")
    };
    Error::invalid(our_field(field), message)
}

/// Our request field for a Square field; an unknown one is named as Square names it.
fn our_field(field: &str) -> &str {
    match field {
        "" => "request",
        "amount_money" | "amount_money.amount" => "amount",
        "amount_money.currency" => "amount.currency",
        "source_id" | "card_id" => "payment_method",
        "customer_id" => "customer_id",
        "payment_id" => "payment_id",
        "note" => "description",
        "reason" => "note",
        "plan_variation_id" => "price_id",
        "email_address" => "email",
        "phone_number" => "phone",
        "given_name" | "family_name" => "name",
        "idempotency_key" => "idempotency_key",
        f => f,
    }
}

/// A 2xx answer whose body we could not read. Not retried: a replay returns the same body.
pub fn unreadable(status: StatusCode) -> Error {
    Error::new(
        Kind::ProviderError,
        format!(
            "square answered HTTP {} with a body we could not read",
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

    fn one(category: &str, code: &str, field: Option<&str>) -> String {
        let field = field
            .map(|f| format!(r#","field":"{f}""#))
            .unwrap_or_default();
        format!(
            r#"{{"errors":[{{"category":"{category}","code":"{code}",
                "detail":"canary detail"{field}}}]}}"#
        )
    }

    /// The table in the module doc, row by row.
    #[test]
    fn the_classification_table() {
        let rows: [(u16, &str, &str, Kind, bool); 15] = [
            (
                400,
                "PAYMENT_METHOD_ERROR",
                "CARD_DECLINED",
                Kind::Declined,
                false,
            ),
            (
                402,
                "PAYMENT_METHOD_ERROR",
                "INSUFFICIENT_FUNDS",
                Kind::Declined,
                false,
            ),
            (
                401,
                "AUTHENTICATION_ERROR",
                "UNAUTHORIZED",
                Kind::ProviderAuth,
                false,
            ),
            (
                401,
                "AUTHENTICATION_ERROR",
                "ACCESS_TOKEN_EXPIRED",
                Kind::ProviderAuth,
                false,
            ),
            (
                403,
                "AUTHENTICATION_ERROR",
                "INSUFFICIENT_SCOPES",
                Kind::ProviderAuth,
                false,
            ),
            (
                429,
                "RATE_LIMIT_ERROR",
                "RATE_LIMITED",
                Kind::RateLimited,
                true,
            ),
            (
                400,
                "INVALID_REQUEST_ERROR",
                "IDEMPOTENCY_KEY_REUSED",
                Kind::Conflict,
                false,
            ),
            (
                500,
                "API_ERROR",
                "INTERNAL_SERVER_ERROR",
                Kind::Unavailable,
                true,
            ),
            (
                503,
                "API_ERROR",
                "SERVICE_UNAVAILABLE",
                Kind::Unavailable,
                true,
            ),
            (
                404,
                "INVALID_REQUEST_ERROR",
                "NOT_FOUND",
                Kind::NotFound,
                false,
            ),
            (
                400,
                "REFUND_ERROR",
                "REFUND_AMOUNT_INVALID",
                Kind::FailedPrecondition,
                false,
            ),
            (
                400,
                "INVALID_REQUEST_ERROR",
                "DELAYED_TRANSACTION_CANCELED",
                Kind::FailedPrecondition,
                false,
            ),
            (
                400,
                "INVALID_REQUEST_ERROR",
                "LOCATION_MISMATCH",
                Kind::Internal,
                false,
            ),
            (
                400,
                "INVALID_REQUEST_ERROR",
                "VALUE_TOO_LONG",
                Kind::InvalidArgument,
                false,
            ),
            (
                502,
                "EXTERNAL_VENDOR_ERROR",
                "BAD_GATEWAY",
                Kind::Unavailable,
                true,
            ),
        ];
        for (status, category, code, kind, retryable) in rows {
            let e = check(status, &one(category, code, None));
            assert_eq!(
                (e.kind, e.retryable),
                (kind, retryable),
                "{category} {code}"
            );
            assert_eq!(e.provider.as_deref(), Some("square"));
            assert_eq!(e.provider_code.as_deref(), Some(code));
            assert!(
                !format!("{e:?} {e}").contains("canary"),
                "detail is never passed on"
            );
        }
    }

    #[test]
    fn a_decline_wins_over_other_errors_and_names_its_code() {
        let e = check(
            400,
            r#"{"errors":[{"category":"INVALID_REQUEST_ERROR","code":"BAD_REQUEST"},
                {"category":"PAYMENT_METHOD_ERROR","code":"CVV_FAILURE"}],"payment":{"id":"P1"}}"#,
        );
        assert_eq!(
            (e.kind, e.provider_code.as_deref()),
            (Kind::Declined, Some("CVV_FAILURE"))
        );
        assert!(e.message.contains("CVV_FAILURE"));
    }

    #[test]
    fn invalid_requests_name_our_field() {
        for (field, ours) in [
            ("amount_money.amount", "amount"),
            ("amount_money.currency", "amount.currency"),
            ("source_id", "payment_method"),
            ("plan_variation_id", "price_id"),
            ("reason", "note"),
            ("shipping_address.locality", "shipping_address.locality"),
        ] {
            let e = check(
                400,
                &one("INVALID_REQUEST_ERROR", "INVALID_VALUE", Some(field)),
            );
            assert_eq!(
                (e.kind, e.field.as_deref()),
                (Kind::InvalidArgument, Some(ours))
            );
        }
        let e = check(
            400,
            &one(
                "INVALID_REQUEST_ERROR",
                "NOT_FOUND",
                Some("plan_variation_id"),
            ),
        );
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (Kind::InvalidArgument, Some("price_id"))
        );
        let e = check(400, &one("INVALID_REQUEST_ERROR", "BAD_REQUEST", None));
        assert_eq!(e.field.as_deref(), Some("request"));
        let e = check(
            400,
            &one(
                "INVALID_REQUEST_ERROR",
                "INVALID_VALUE",
                Some("location_id"),
            ),
        );
        assert_eq!(e.kind, Kind::Internal);
        assert!(e.message.contains("INTEG_SQUARE_LOCATION_ID"));
    }

    #[test]
    fn a_refused_token_names_the_setting_and_never_quotes_square() {
        let e = check(
            401,
            r#"{"errors":[{"category":"AUTHENTICATION_ERROR","code":"UNAUTHORIZED",
                "detail":"This request could not be authorized: EAAA_canary"}]}"#,
        );
        assert!(e.message.contains("INTEG_SQUARE_ACCESS_TOKEN"));
        assert!(!format!("{e:?} {e}").contains("canary"));
    }

    #[test]
    fn rate_limits_wait_and_unknown_bodies_fall_back_to_the_status() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            one("RATE_LIMIT_ERROR", "RATE_LIMITED", None).as_bytes(),
        );
        assert_eq!(
            (e.kind, e.retry_after),
            (Kind::RateLimited, Some(Duration::from_secs(3)))
        );
        let e = check(502, "<html>bad gateway</html>");
        assert_eq!((e.kind, e.retryable), (Kind::Unavailable, true));
        assert_eq!(e.provider_code.as_deref(), Some("502"));
        let e = check(404, r#"{"errors":[]}"#);
        assert_eq!(e.kind, Kind::NotFound);
        let e = unreadable(StatusCode::OK);
        assert_eq!((e.kind, e.retryable), (Kind::ProviderError, false));
    }
}
