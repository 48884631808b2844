//! One neutral error for every provider of every family, and its one mapping to gRPC.
//!
//! A provider classifies its own HTTP status and error body into an [`Error`]: a [`Kind`], a
//! retryable flag, the provider's name and its own code. The resilience layer reads only the
//! flag (and `retry_after`); the gRPC layer reads only the kind. The message is for humans and
//! must never carry a credential, a token, card data or personal data: providers build it from
//! the provider's documented code and a fixed text, not from the raw body.

use std::fmt;
use std::time::Duration;

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every `ErrorInfo` we send.
pub const ERROR_DOMAIN: &str = "integ.dev";

/// The class of a failure, independent of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The caller sent a value we or the provider refused. Not retryable as is.
    InvalidArgument,
    /// The resource does not exist (at the provider or here). Not retryable.
    NotFound,
    /// An idempotency key was reused with a different request. Not retryable.
    Conflict,
    /// The provider declined (a card decline, a blocked recipient). Never retried.
    Declined,
    /// The resource's state forbids the action (capture of a cancelled payment). Not retryable.
    FailedPrecondition,
    /// The provider or our client-side limit throttled the call. Retryable after a delay.
    RateLimited,
    /// The provider failed or could not be reached. Retryable.
    Unavailable,
    /// The provider's circuit breaker is open: the call was not sent. Retryable later.
    CircuitOpen,
    /// The deadline passed before an answer. Retryable by the caller with a new deadline.
    DeadlineExceeded,
    /// The `provider` field names a provider this family has not configured. Not retryable.
    UnknownProvider,
    /// A call with the same idempotency key is still running. Retryable after a moment.
    InProgress,
    /// A token given to us for verification is malformed or has a bad signature, issuer,
    /// audience or kind. Not retryable.
    TokenInvalid,
    /// A token given to us for verification has expired. Not retryable; refresh it.
    TokenExpired,
    /// An authorization `state` is unknown, expired or already used. Not retryable.
    AuthorizationStateInvalid,
    /// The provider refused an authorization code or refresh token. Not retryable.
    GrantInvalid,
    /// A byte range starts past the end of the object. Not retryable.
    OutOfRange,
    /// The provider answered in a way we could not understand. Retryable per the flag.
    ProviderError,
    /// The provider refused our credentials: the server is misconfigured. Operator action.
    ProviderAuth,
    /// The provider or the family does not offer this operation. Not retryable.
    Unsupported,
    /// A fault of our own (an unexpected provider body, a store failure). Maybe retryable.
    Internal,
}

impl Kind {
    /// The stable, machine-readable reason sent in `ErrorInfo.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Kind::InvalidArgument => "INVALID_ARGUMENT",
            Kind::NotFound => "NOT_FOUND",
            Kind::Conflict => "CONFLICT",
            Kind::Declined => "DECLINED",
            Kind::FailedPrecondition => "PRECONDITION_FAILED",
            Kind::RateLimited => "RATE_LIMITED",
            Kind::Unavailable => "PROVIDER_UNAVAILABLE",
            Kind::CircuitOpen => "CIRCUIT_OPEN",
            Kind::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Kind::UnknownProvider => "UNKNOWN_PROVIDER",
            Kind::InProgress => "IN_PROGRESS",
            Kind::TokenInvalid => "TOKEN_INVALID",
            Kind::TokenExpired => "TOKEN_EXPIRED",
            Kind::AuthorizationStateInvalid => "AUTHORIZATION_STATE_INVALID",
            Kind::GrantInvalid => "GRANT_INVALID",
            Kind::OutOfRange => "OUT_OF_RANGE",
            Kind::ProviderError => "PROVIDER_ERROR",
            Kind::ProviderAuth => "PROVIDER_AUTH",
            Kind::Unsupported => "UNSUPPORTED",
            Kind::Internal => "INTERNAL",
        }
    }

    /// The gRPC status code for this class.
    pub fn code(self) -> Code {
        match self {
            Kind::InvalidArgument | Kind::UnknownProvider => Code::InvalidArgument,
            Kind::NotFound => Code::NotFound,
            Kind::Conflict => Code::AlreadyExists,
            Kind::Declined
            | Kind::FailedPrecondition
            | Kind::AuthorizationStateInvalid
            | Kind::GrantInvalid => Code::FailedPrecondition,
            Kind::InProgress => Code::Aborted,
            Kind::OutOfRange => Code::OutOfRange,
            Kind::RateLimited => Code::ResourceExhausted,
            Kind::Unavailable | Kind::CircuitOpen => Code::Unavailable,
            Kind::DeadlineExceeded => Code::DeadlineExceeded,
            Kind::TokenInvalid | Kind::TokenExpired => Code::Unauthenticated,
            Kind::ProviderAuth | Kind::Internal | Kind::ProviderError => Code::Internal,
            Kind::Unsupported => Code::Unimplemented,
        }
    }

    /// Whether this class is worth retrying by default.
    pub fn retryable_by_default(self) -> bool {
        matches!(
            self,
            Kind::RateLimited
                | Kind::Unavailable
                | Kind::CircuitOpen
                | Kind::DeadlineExceeded
                | Kind::InProgress
        )
    }
}

/// A failure of an integ operation, with what a caller and an operator need to act on it.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// The class of failure.
    pub kind: Kind,
    /// Human text: fixed wording plus safe identifiers, never secrets or personal data.
    pub message: String,
    /// The provider that failed, when one did.
    pub provider: Option<String>,
    /// The provider's own error code (`card_declined`, `INSUFFICIENT_FUNDS`).
    pub provider_code: Option<String>,
    /// The request field at fault, for invalid arguments.
    pub field: Option<String>,
    /// Whether retrying the same request may succeed.
    pub retryable: bool,
    /// How long to wait before a retry, when the provider said or we know.
    pub retry_after: Option<Duration>,
    /// True when the request certainly never reached the provider (connection refused, breaker
    /// open, client-side limit), so that another provider may safely take the call.
    pub not_sent: bool,
}

impl Error {
    /// An error of `kind` with its default retryability.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            provider: None,
            provider_code: None,
            field: None,
            retryable: kind.retryable_by_default(),
            retry_after: None,
            not_sent: false,
        }
    }

    /// An invalid argument naming the request field at fault.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(Kind::InvalidArgument, message);
        e.field = Some(field.to_owned());
        e
    }

    /// A missing resource.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(Kind::NotFound, format!("{what} {id} not found"))
    }

    /// Our own fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }

    /// An operation this provider does not offer.
    pub fn unsupported(provider: &str, operation: &str) -> Self {
        Self::new(
            Kind::Unsupported,
            format!("{provider} does not support {operation}"),
        )
        .with_provider(provider)
    }

    /// Names the provider that failed.
    pub fn with_provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_owned());
        self
    }

    /// Records the provider's own code.
    pub fn with_provider_code(mut self, code: impl Into<String>) -> Self {
        self.provider_code = Some(code.into());
        self
    }

    /// Overrides retryability.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Sets the delay a retry should wait.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Marks the request as certainly not sent.
    pub fn not_sent(mut self) -> Self {
        self.not_sent = true;
        self
    }

    /// The gRPC status, with `ErrorInfo`, `RetryInfo` and `BadRequest` details.
    pub fn to_status(&self) -> tonic::Status {
        let mut details = ErrorDetails::new();
        let mut metadata = std::collections::HashMap::new();
        metadata.insert("retryable".to_owned(), self.retryable.to_string());
        if let Some(p) = &self.provider {
            metadata.insert("provider".to_owned(), p.clone());
        }
        if let Some(c) = &self.provider_code {
            metadata.insert("provider_code".to_owned(), c.clone());
        }
        details.set_error_info(self.kind.reason(), ERROR_DOMAIN, metadata);
        if self.retryable {
            details.set_retry_info(Some(self.retry_after.unwrap_or(Duration::ZERO)));
        }
        if let Some(field) = &self.field {
            details.add_bad_request_violation(field.clone(), self.message.clone());
        }
        tonic::Status::with_error_details(self.kind.code(), self.message.clone(), details)
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        e.to_status()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("provider", &self.provider)
            .field("provider_code", &self.provider_code)
            .field("retryable", &self.retryable)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{} ({p}): {}", self.kind.reason(), self.message),
            None => write!(f, "{}: {}", self.kind.reason(), self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Results of integ operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decline_maps_to_failed_precondition_with_provider_code() {
        let status = Error::new(Kind::Declined, "card declined")
            .with_provider("stripe")
            .with_provider_code("insufficient_funds")
            .to_status();
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "DECLINED");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(info.metadata["provider"], "stripe");
        assert_eq!(info.metadata["provider_code"], "insufficient_funds");
        assert_eq!(info.metadata["retryable"], "false");
        assert!(details.retry_info().is_none());
    }

    #[test]
    fn rate_limit_carries_retry_info() {
        let status = Error::new(Kind::RateLimited, "slow down")
            .with_retry_after(Duration::from_secs(2))
            .to_status();
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn invalid_argument_names_the_field() {
        let status = Error::invalid("amount.currency", "unknown currency").to_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().unwrap();
        assert_eq!(bad.field_violations[0].field, "amount.currency");
    }

    /// The reasons are the contract's `integ.common.v1.ErrorReason` names without the prefix.
    #[test]
    fn every_reason_is_in_the_contract() {
        use integ_proto::common::v1::ErrorReason;
        for kind in ALL {
            let name = format!("ERROR_REASON_{}", kind.reason());
            assert!(
                ErrorReason::from_str_name(&name).is_some(),
                "{name} missing from common.proto"
            );
        }
    }

    #[test]
    fn every_kind_has_a_distinct_reason() {
        let reasons: std::collections::HashSet<_> = ALL.iter().map(|k| k.reason()).collect();
        assert_eq!(reasons.len(), ALL.len());
    }

    use Kind::*;
    const ALL: [Kind; 20] = [
        InvalidArgument,
        NotFound,
        Conflict,
        Declined,
        FailedPrecondition,
        RateLimited,
        Unavailable,
        CircuitOpen,
        DeadlineExceeded,
        ProviderAuth,
        Unsupported,
        Internal,
        UnknownProvider,
        InProgress,
        TokenInvalid,
        TokenExpired,
        AuthorizationStateInvalid,
        GrantInvalid,
        OutOfRange,
        ProviderError,
    ];
}
