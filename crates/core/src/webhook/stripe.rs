//! Stripe's webhook signature scheme.
//!
//! Stripe sends `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`. Each `v1` is the
//! lowercase hex HMAC-SHA256 of `"{t}.{raw body}"`, keyed with the endpoint's signing secret
//! used as it is: the whole `whsec_...` string's bytes, not a decoding of it. Keys may come in
//! any order; `v0` (test mode's legacy scheme) and unknown keys are ignored. Several `v1`
//! entries appear while Stripe rolls a secret, and one match is enough.
//!
//! What it does not do: dedupe redeliveries (a redelivery carries the same event id) or parse
//! the event. Stripe's own libraries only refuse timestamps that are too old; this one also
//! refuses ones too far in the future, as every scheme here does.

use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};

use super::scheme::{Inbound, Rejection, Scheme, SigningSecrets, unix_seconds, within};
use crate::secret::Secret;

/// The header Stripe signs with (header names are case-insensitive).
const HEADER: &str = "stripe-signature";

/// Length of an HMAC-SHA256 tag in bytes.
const TAG_LEN: usize = 32;

/// Verifies webhooks signed by Stripe for one endpoint.
#[derive(Debug, Clone)]
pub struct StripeScheme {
    secrets: SigningSecrets,
    tolerance: Duration,
}

impl StripeScheme {
    /// A verifier for the endpoint whose signing secret (`whsec_...`, or two of them while
    /// rotating) is `secret`, accepting timestamps within `tolerance` of our clock either way.
    /// Stripe recommends five minutes.
    pub fn new(secret: Secret, tolerance: Duration) -> Self {
        Self {
            secrets: SigningSecrets::new(secret),
            tolerance,
        }
    }
}

impl Scheme for StripeScheme {
    fn verify(&self, inbound: &Inbound<'_>) -> Result<(), Rejection> {
        let header = StripeSignatureHeader::parse(inbound.header(&[HEADER])?)?;
        if !within(inbound.now, header.timestamp, self.tolerance) {
            return Err(Rejection::StaleTimestamp);
        }

        let matched = self.secrets.each(|secret| {
            let tag = expected_tag(secret, header.t, inbound.body);
            header
                .v1
                .iter()
                .any(|sent| equal(tag.as_ref(), sent))
                .then_some(())
        });
        matched.ok_or(Rejection::BadSignature)
    }
}

/// The parts of a `Stripe-Signature` header this scheme uses.
struct StripeSignatureHeader<'a> {
    /// The timestamp exactly as sent: it is what Stripe signed.
    t: &'a str,
    timestamp: i64,
    v1: Vec<[u8; TAG_LEN]>,
}

impl<'a> StripeSignatureHeader<'a> {
    fn parse(value: &'a str) -> Result<Self, Rejection> {
        let mut t = None;
        let mut v1 = Vec::new();
        for item in value.split(',') {
            let Some((key, value)) = item.trim().split_once('=') else {
                continue;
            };
            match key {
                "t" if t.is_some() => return Err(Rejection::Malformed),
                "t" => t = Some(value),
                "v1" => v1.push(decode_tag(value)?),
                _ => {}
            }
        }

        let t = t.ok_or(Rejection::Malformed)?;
        let timestamp = unix_seconds(t)?;
        if v1.is_empty() {
            return Err(Rejection::Malformed);
        }
        Ok(Self { t, timestamp, v1 })
    }
}

fn decode_tag(hex_text: &str) -> Result<[u8; TAG_LEN], Rejection> {
    let mut tag = [0; TAG_LEN];
    hex::decode_to_slice(hex_text, &mut tag).map_err(|_| Rejection::Malformed)?;
    Ok(tag)
}

/// HMAC-SHA256 of `"{t}.{body}"` keyed with the secret string's bytes, without copying the body.
fn expected_tag(secret: &str, t: &str, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(t.as_bytes());
    context.update(b".");
    context.update(body);
    context.sign()
}

/// Constant-time equality of two tags.
fn equal(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use http::{HeaderMap, HeaderValue};

    use super::*;

    const SECRET: &str = "whsec_test_5Wq2Zr8pLx3NvK7c";
    const OTHER: &str = "whsec_test_other_Hd83kQp1";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const NOW: u64 = 1_700_000_000;

    /// Stripe's v1 signature, computed here with one-shot HMAC and hex, not the code above.
    fn v1(secret: &str, t: u64, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let mut message = format!("{t}.").into_bytes();
        message.extend_from_slice(body);
        hex::encode(hmac::sign(&key, &message))
    }

    fn scheme(secret: &str) -> StripeScheme {
        let secret = Secret::from_env_value("STRIPE_WEBHOOK_SECRET", secret.to_owned()).unwrap();
        StripeScheme::new(secret, Duration::from_secs(300))
    }

    fn check(scheme: &StripeScheme, header: Option<&str>, body: &[u8]) -> Result<(), Rejection> {
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert("Stripe-Signature", HeaderValue::from_str(value).unwrap());
        }
        scheme.verify(&Inbound {
            headers: &headers,
            body,
            url: "https://hooks.example.test/stripe",
            now: UNIX_EPOCH + Duration::from_secs(NOW),
        })
    }

    fn signed(secret: &str, t: u64) -> String {
        format!("t={t},v1={}", v1(secret, t, BODY))
    }

    #[test]
    fn a_valid_signature_is_accepted() {
        assert_eq!(
            check(&scheme(SECRET), Some(&signed(SECRET, NOW)), BODY),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_is_rejected() {
        let tampered = br#"{"id":"evt_1","type":"payment_intent.failed"}"#;
        let header = signed(SECRET, NOW);
        assert_eq!(
            check(&scheme(SECRET), Some(&header), tampered),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_wrong_secret_is_rejected() {
        let header = signed(OTHER, NOW);
        assert_eq!(
            check(&scheme(SECRET), Some(&header), BODY),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn timestamps_outside_the_window_are_rejected_both_ways() {
        let scheme = scheme(SECRET);
        for t in [NOW - 301, NOW + 301] {
            let header = signed(SECRET, t);
            assert_eq!(
                check(&scheme, Some(&header), BODY),
                Err(Rejection::StaleTimestamp)
            );
        }
        for t in [NOW - 300, NOW + 300] {
            assert_eq!(check(&scheme, Some(&signed(SECRET, t)), BODY), Ok(()));
        }
    }

    #[test]
    fn a_missing_header_is_rejected() {
        assert_eq!(
            check(&scheme(SECRET), None, BODY),
            Err(Rejection::MissingHeader)
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let good = v1(SECRET, NOW, BODY);
        let cases = [
            format!("v1={good}"),
            format!("t={NOW}"),
            format!("t={NOW},v0={good}"),
            format!("t=soon,v1={good}"),
            format!("t=-{NOW},v1={good}"),
            format!("t={NOW},t={NOW},v1={good}"),
            format!("t={NOW},v1=zz{}", &good[2..]),
            format!("t={NOW},v1={}", &good[..62]),
            String::new(),
        ];
        let scheme = scheme(SECRET);
        for header in cases {
            assert_eq!(
                check(&scheme, Some(&header), BODY),
                Err(Rejection::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn both_secrets_are_accepted_during_rotation() {
        let scheme = scheme(&format!("{SECRET} {OTHER}"));
        assert_eq!(check(&scheme, Some(&signed(SECRET, NOW)), BODY), Ok(()));
        assert_eq!(check(&scheme, Some(&signed(OTHER, NOW)), BODY), Ok(()));
        let comma = self::scheme(&format!("{OTHER},{SECRET}"));
        assert_eq!(check(&comma, Some(&signed(SECRET, NOW)), BODY), Ok(()));
    }

    #[test]
    fn any_v1_entry_may_match_in_any_order() {
        let wrong = v1(OTHER, NOW, BODY);
        let right = v1(SECRET, NOW, BODY);
        let header = format!("v0={wrong},v1={wrong}, v1={right},scheme=x,t={NOW}");
        assert_eq!(check(&scheme(SECRET), Some(&header), BODY), Ok(()));
    }

    #[test]
    fn the_signed_timestamp_is_the_one_checked() {
        // A valid signature for one timestamp does not carry over to another.
        let header = format!("t={},v1={}", NOW + 1, v1(SECRET, NOW, BODY));
        assert_eq!(
            check(&scheme(SECRET), Some(&header), BODY),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", scheme(SECRET)).contains("5Wq2Zr8p"));
    }

    #[test]
    fn now_before_the_epoch_rejects_rather_than_panics() {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&signed(SECRET, NOW)).unwrap();
        headers.insert(HEADER, value);
        let inbound = Inbound {
            headers: &headers,
            body: BODY,
            url: "",
            now: SystemTime::UNIX_EPOCH - Duration::from_secs(5),
        };
        assert_eq!(
            scheme(SECRET).verify(&inbound),
            Err(Rejection::StaleTimestamp)
        );
    }
}
