//! Square's webhook signature scheme.
//!
//! Square sends `x-square-hmacsha256-signature`: the base64 HMAC-SHA256 of the subscription's
//! notification URL followed directly by the raw body, keyed with the subscription's signature
//! key (its text, as UTF-8). The URL is the one registered with Square, byte for byte, so it
//! is configuration: a proxy that rewrites the host or path in front of us does not change
//! what Square signed.
//!
//! Square signs no timestamp, so there is no replay window here; a replayed notification
//! carries an `event_id` that the inbox has seen and is absorbed as a duplicate. The legacy
//! HMAC-SHA1 `x-square-signature` header is not accepted.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::scheme::{Inbound, Rejection, Scheme, SigningSecrets};
use crate::secret::Secret;

/// The header Square signs with.
const HEADER: &str = "x-square-hmacsha256-signature";

/// Length of an HMAC-SHA256 tag in bytes.
const TAG_LEN: usize = 32;

/// Verifies Square's webhooks for one subscription.
#[derive(Debug, Clone)]
pub struct SquareScheme {
    secrets: SigningSecrets,
}

impl SquareScheme {
    /// A verifier for the subscription whose signature key (or two while rotating) is
    /// `secret`. The notification URL comes with each request from its source.
    pub fn new(secret: Secret) -> Self {
        Self {
            secrets: SigningSecrets::new(secret),
        }
    }
}

impl Scheme for SquareScheme {
    fn verify(&self, inbound: &Inbound<'_>) -> Result<(), Rejection> {
        let sent = decode_tag(inbound.header(&[HEADER])?)?;
        if inbound.url.is_empty() {
            // A source without its notification URL can verify nothing.
            return Err(Rejection::BadSignature);
        }
        let matched = self.secrets.each(|secret| {
            let tag = expected_tag(secret, inbound.url, inbound.body);
            constant_time::verify_slices_are_equal(tag.as_ref(), &sent)
                .ok()
                .map(|_| ())
        });
        matched.ok_or(Rejection::BadSignature)
    }
}

fn decode_tag(text: &str) -> Result<[u8; TAG_LEN], Rejection> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| Rejection::Malformed)?;
    bytes.try_into().map_err(|_| Rejection::Malformed)
}

/// HMAC-SHA256 of the URL then the body, without copying the body.
fn expected_tag(secret: &str, url: &str, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(url.as_bytes());
    context.update(body);
    context.sign()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::SystemTime;

    use http::{HeaderMap, HeaderValue};

    use super::*;

    const KEY: &str = "sq0wss-canary-Hh2kP9x";
    const OTHER: &str = "sq0wss-other-3Jd8Qm";
    const URL: &str = "https://hooks.example.com/webhooks/square";
    const BODY: &[u8] = br#"{"merchant_id":"M1","type":"payment.updated","event_id":"e1"}"#;

    /// The signature as Square documents it, computed in one shot.
    fn sign(key: &str, url: &str, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
        let mut message = url.as_bytes().to_vec();
        message.extend_from_slice(body);
        STANDARD.encode(hmac::sign(&key, &message))
    }

    fn scheme(key: &str) -> SquareScheme {
        SquareScheme::new(Secret::from_env_value("SQUARE_KEY", key.to_owned()).unwrap())
    }

    fn check(
        scheme: &SquareScheme,
        header: Option<&str>,
        url: &str,
        body: &[u8],
    ) -> Result<(), Rejection> {
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
        }
        scheme.verify(&Inbound {
            headers: &headers,
            body,
            url,
            now: SystemTime::now(),
        })
    }

    #[test]
    fn a_valid_signature_is_accepted_and_anything_changed_is_not() {
        let scheme = scheme(KEY);
        let good = sign(KEY, URL, BODY);
        assert_eq!(check(&scheme, Some(&good), URL, BODY), Ok(()));
        let tampered = br#"{"merchant_id":"M1","type":"payment.updated","event_id":"e2"}"#;
        assert_eq!(
            check(&scheme, Some(&good), URL, tampered),
            Err(Rejection::BadSignature)
        );
        let elsewhere = "https://hooks.example.com/webhooks/square/";
        assert_eq!(
            check(&scheme, Some(&good), elsewhere, BODY),
            Err(Rejection::BadSignature),
            "the URL is signed too"
        );
        let wrong_key = sign(OTHER, URL, BODY);
        assert_eq!(
            check(&scheme, Some(&wrong_key), URL, BODY),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            check(&scheme, Some(&good), "", BODY),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let scheme = scheme(KEY);
        assert_eq!(
            check(&scheme, None, URL, BODY),
            Err(Rejection::MissingHeader)
        );
        let short = STANDARD.encode([0u8; 20]);
        for bad in ["not base64!", short.as_str(), ""] {
            assert_eq!(
                check(&scheme, Some(bad), URL, BODY),
                Err(Rejection::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn both_keys_are_accepted_while_rotating_and_debug_hides_them() {
        let scheme = scheme(&format!("{OTHER},{KEY}"));
        assert_eq!(
            check(&scheme, Some(&sign(KEY, URL, BODY)), URL, BODY),
            Ok(())
        );
        assert_eq!(
            check(&scheme, Some(&sign(OTHER, URL, BODY)), URL, BODY),
            Ok(())
        );
        assert!(!format!("{scheme:?}").contains("canary"));
    }
}
