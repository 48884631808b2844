//! The one outbound HTTP client, shared by every provider.
//!
//! One pooled reqwest client (rustls on aws-lc-rs, HTTP/2 when the server offers it) per
//! process. Each provider has its own configurable base URL, so that a sandbox, a proxy or a
//! test peer can stand in for it. Credentials go into headers marked sensitive, which keeps them
//! out of reqwest's and hyper's debug output. Transport failures are classified here, once.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use reqwest::StatusCode;
use url::Url;

use crate::error::{Error, Kind};

/// The shared client. Timeouts are set per attempt by the resilience policy, not here.
pub fn client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("integ/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(5))
                .pool_idle_timeout(Duration::from_secs(60))
                .tcp_nodelay(true)
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}

/// A header value that must never be shown (an API key, a bearer token).
pub fn sensitive(value: &str) -> Result<HeaderValue, Error> {
    let mut header = HeaderValue::from_str(value)
        .map_err(|_| Error::new(Kind::ProviderAuth, "credential is not a valid header value"))?;
    header.set_sensitive(true);
    Ok(header)
}

/// `base` joined with `path` (which may start with `/`), keeping any path prefix of `base`.
pub fn join(base: &Url, path: &str) -> Result<Url, Error> {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
    Ok(url)
}

/// Classifies a transport failure: refused connections were certainly not sent.
pub fn transport_error(provider: &str, error: &reqwest::Error) -> Error {
    let e = if error.is_connect() {
        Error::new(Kind::Unavailable, "cannot connect to provider").not_sent()
    } else if error.is_timeout() {
        Error::new(Kind::DeadlineExceeded, "provider did not answer in time")
    } else if error.is_decode() || error.is_body() {
        Error::new(
            Kind::Unavailable,
            "provider response was cut off or unreadable",
        )
    } else {
        Error::new(Kind::Unavailable, "provider connection failed")
    };
    e.with_provider(provider)
}

/// The default classification of an HTTP status a provider answered with, for statuses its
/// error body does not explain better.
pub fn status_error(provider: &str, status: StatusCode, retry_after: Option<Duration>) -> Error {
    let kind = match status.as_u16() {
        400 | 422 => Kind::InvalidArgument,
        401 | 403 => Kind::ProviderAuth,
        404 => Kind::NotFound,
        409 => Kind::Conflict,
        429 => Kind::RateLimited,
        408 | 500..=599 => Kind::Unavailable,
        _ => Kind::Internal,
    };
    let mut e = Error::new(kind, format!("provider answered HTTP {}", status.as_u16()))
        .with_provider(provider)
        .with_provider_code(status.as_u16().to_string());
    if let Some(delay) = retry_after {
        e = e.with_retry_after(delay);
    }
    e
}

/// The delay of a `Retry-After` header: seconds, or an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_the_base_path() {
        let base = Url::parse("http://127.0.0.1:9000/proxy/").unwrap();
        assert_eq!(
            join(&base, "/v1/refunds").unwrap().as_str(),
            "http://127.0.0.1:9000/proxy/v1/refunds"
        );
        let base = Url::parse("https://api.stripe.com").unwrap();
        assert_eq!(
            join(&base, "v1/refunds").unwrap().as_str(),
            "https://api.stripe.com/v1/refunds"
        );
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_str(&later).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(110) && d <= Duration::from_secs(120));
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("soon"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn statuses_map_to_kinds_and_retryability() {
        let e = status_error("stripe", StatusCode::SERVICE_UNAVAILABLE, None);
        assert_eq!((e.kind, e.retryable), (Kind::Unavailable, true));
        let e = status_error("stripe", StatusCode::UNAUTHORIZED, None);
        assert_eq!((e.kind, e.retryable), (Kind::ProviderAuth, false));
        let e = status_error(
            "stripe",
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
        );
        assert_eq!(
            (e.kind, e.retry_after),
            (Kind::RateLimited, Some(Duration::from_secs(2)))
        );
    }

    #[test]
    fn sensitive_headers_hide_their_value_in_debug() {
        let h = sensitive("Bearer sk_live_canary").unwrap();
        assert!(!format!("{h:?}").contains("canary"));
    }
}
