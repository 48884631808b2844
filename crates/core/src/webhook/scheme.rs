//! The seam between an inbound webhook request and a provider's signature check.
//!
//! A [`Scheme`] looks at an [`Inbound`] request (headers, raw body, public URL, the time it
//! arrived) and either accepts it or names one [`Rejection`]. The signing secrets behind a
//! scheme are [`SigningSecrets`]: one value, or two while a secret is being rotated.
//!
//! What it does not do: parse the payload, dedupe redeliveries, store events or answer HTTP.
//! Those happen after a request passes, elsewhere in [`crate::webhook`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::secret::{Secret, SecretSource};

/// One webhook request as it arrived, before anything in it is trusted.
#[derive(Clone, Copy)]
pub struct Inbound<'a> {
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The body exactly as received: signatures cover these bytes, not a re-serialisation.
    pub body: &'a [u8],
    /// The full public notification URL the provider posted to (some schemes sign it).
    pub url: &'a str,
    /// When the request arrived; timestamp windows are measured from here.
    pub now: SystemTime,
}

impl<'a> Inbound<'a> {
    /// The first of `names` present, as text. Absent everywhere is [`Rejection::MissingHeader`];
    /// a value that is not visible ASCII is [`Rejection::Malformed`].
    pub fn header(&self, names: &[&str]) -> Result<&'a str, Rejection> {
        let value = names
            .iter()
            .find_map(|name| self.headers.get(*name))
            .ok_or(Rejection::MissingHeader)?;
        value.to_str().map_err(|_| Rejection::Malformed)
    }
}

// Hand-written so that a stray `{:?}` can never print a body, a signature or a URL with a
// token in its query.
impl fmt::Debug for Inbound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbound")
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Why a webhook request was refused. The sender only ever sees one generic answer; the
/// variant is for our metrics and logs. None of them is worth retrying with the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A header the scheme needs is absent: not a request from the provider, or a proxy
    /// dropped it.
    #[error("webhook rejected: missing_header")]
    MissingHeader,
    /// A signature header is present but cannot be read: no timestamp, no signature of the
    /// expected version, a timestamp that is not a number, or a signature that does not decode.
    #[error("webhook rejected: malformed")]
    Malformed,
    /// Well formed, but no signature matches any configured secret: a forgery, a tampered body,
    /// or our secret is not the provider's (check the configured secret).
    #[error("webhook rejected: bad_signature")]
    BadSignature,
    /// The signed timestamp is further from our clock than the tolerance, in either direction:
    /// a replay, or one of the two clocks is wrong.
    #[error("webhook rejected: stale_timestamp")]
    StaleTimestamp,
    /// The signature could not be checked now: the provider's verification service (PayPal's)
    /// failed or did not answer. The request is answered 503, so the provider sends it again.
    #[error("webhook rejected: unverifiable")]
    Unverifiable,
}

impl Rejection {
    /// A short fixed label for metrics (bounded cardinality) and logs.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::MissingHeader => "missing_header",
            Rejection::Malformed => "malformed",
            Rejection::BadSignature => "bad_signature",
            Rejection::StaleTimestamp => "stale_timestamp",
            Rejection::Unverifiable => "unverifiable",
        }
    }
}

/// A provider's way of signing webhooks.
///
/// `verify` runs on the raw bytes before anything in the request is parsed or trusted, and
/// compares signatures in constant time so that response timing reveals nothing about how
/// close a forgery came. It does no I/O beyond reading the current secret.
///
/// A scheme whose signatures only the provider can check (PayPal's verification API) does its
/// local checks in `verify` and asks the provider in `confirm`, which runs only for requests
/// that passed `verify`. Every other scheme keeps the default `confirm`, which accepts.
#[async_trait::async_trait]
pub trait Scheme: Send + Sync {
    /// Accepts the request, or says why not.
    fn verify(&self, inbound: &Inbound<'_>) -> Result<(), Rejection>;

    /// Checks with the provider what `verify` could not check alone.
    async fn confirm(&self, _inbound: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(())
    }
}

/// The signing secrets of one webhook endpoint.
///
/// The underlying [`Secret`] holds one value, or two separated by whitespace or a comma while
/// the provider rotates its secret: both are accepted until the old one is removed from the
/// secret. A file-backed secret picks such an edit up without a restart.
#[derive(Clone)]
pub struct SigningSecrets {
    secret: Secret,
}

impl SigningSecrets {
    /// Wraps the secret holding the endpoint's signing secret(s).
    pub fn new(secret: Secret) -> Self {
        Self { secret }
    }

    /// Where the secrets come from; safe to log.
    pub fn source(&self) -> &SecretSource {
        self.secret.source()
    }

    /// Calls `f` with each configured secret in turn and returns the first `Some`.
    pub fn each<R>(&self, mut f: impl FnMut(&str) -> Option<R>) -> Option<R> {
        self.secret.with_value(|value| {
            value
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|one| !one.is_empty())
                .find_map(&mut f)
        })
    }
}

impl fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningSecrets({:?})", self.secret)
    }
}

/// Whether `ts_secs` (Unix seconds) lies within `tolerance` of `now`, in the past or in the
/// future. Both bounds are inclusive.
pub fn within(now: SystemTime, ts_secs: i64, tolerance: Duration) -> bool {
    let now_secs = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::from(after.as_secs()),
        Err(before) => -i128::from(before.duration().as_secs()),
    };
    let distance = (now_secs - i128::from(ts_secs)).abs();
    distance <= i128::from(tolerance.as_secs())
}

/// Whether `text` is a non-empty run of ASCII digits that fits an `i64`, and its value.
/// Schemes use it for timestamps so that signs, spaces and `+` are refused, not guessed at.
pub fn unix_seconds(text: &str) -> Result<i64, Rejection> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::Malformed);
    }
    text.parse().map_err(|_| Rejection::Malformed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn within_accepts_the_window_both_ways_and_nothing_beyond() {
        let tolerance = Duration::from_secs(300);
        let now = at(T0);
        let t0 = T0 as i64;
        assert!(within(now, t0, tolerance));
        assert!(within(now, t0 - 300, tolerance));
        assert!(within(now, t0 + 300, tolerance));
        assert!(!within(now, t0 - 301, tolerance));
        assert!(!within(now, t0 + 301, tolerance));
        assert!(!within(now, i64::MIN, tolerance));
        assert!(!within(now, i64::MAX, tolerance));
    }

    #[test]
    fn unix_seconds_takes_digits_only() {
        assert_eq!(unix_seconds("1700000000"), Ok(1_700_000_000));
        for bad in ["", "-1", "+1", " 1", "1.5", "12a", "99999999999999999999"] {
            assert_eq!(unix_seconds(bad), Err(Rejection::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn reasons_are_fixed_labels() {
        assert_eq!(Rejection::MissingHeader.reason(), "missing_header");
        assert_eq!(Rejection::Malformed.reason(), "malformed");
        assert_eq!(Rejection::BadSignature.reason(), "bad_signature");
        assert_eq!(Rejection::StaleTimestamp.reason(), "stale_timestamp");
        assert_eq!(Rejection::Unverifiable.reason(), "unverifiable");
    }

    #[test]
    fn each_tries_every_secret_split_on_whitespace_or_commas() {
        let secret = Secret::from_env_value("K", "old_one, new_one\nthird".to_owned()).unwrap();
        let secrets = SigningSecrets::new(secret);
        let mut seen = Vec::new();
        let found: Option<()> = secrets.each(|one| {
            seen.push(one.to_owned());
            None
        });
        assert_eq!(found, None);
        assert_eq!(seen, ["old_one", "new_one", "third"]);
        assert_eq!(secrets.each(|one| (one == "new_one").then_some(7)), Some(7));
    }

    #[test]
    fn debug_shows_no_secret_body_or_url() {
        let secret = Secret::from_env_value("WH_KEY", "whsec_canary_9f3a".to_owned()).unwrap();
        let shown = format!("{:?}", SigningSecrets::new(secret));
        assert!(!shown.contains("canary"));
        assert!(shown.contains("WH_KEY"));

        let headers = http::HeaderMap::new();
        let inbound = Inbound {
            headers: &headers,
            body: b"body_canary",
            url: "https://example.test/hook?token=url_canary",
            now: at(T0),
        };
        let shown = format!("{inbound:?}");
        assert!(!shown.contains("canary"));
    }

    #[test]
    fn header_prefers_the_first_name_present() {
        let mut headers = http::HeaderMap::new();
        headers.insert("svix-id", http::HeaderValue::from_static("b"));
        let inbound = Inbound {
            headers: &headers,
            body: b"",
            url: "",
            now: at(T0),
        };
        assert_eq!(inbound.header(&["webhook-id", "svix-id"]), Ok("b"));
        assert_eq!(
            inbound.header(&["webhook-id"]),
            Err(Rejection::MissingHeader)
        );
        headers.insert(
            "webhook-id",
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        let inbound = Inbound {
            headers: &headers,
            body: b"",
            url: "",
            now: at(T0),
        };
        assert_eq!(
            inbound.header(&["webhook-id", "svix-id"]),
            Err(Rejection::Malformed)
        );
    }
}
