//! The Standard Webhooks signature scheme (symmetric `v1`), which Svix also sends.
//!
//! Three headers travel with each request: `webhook-id`, `webhook-timestamp` (Unix seconds)
//! and `webhook-signature`; Svix's `svix-id`, `svix-timestamp` and `svix-signature` are read
//! when the standard names are absent. The signed content is `"{id}.{timestamp}.{raw body}"`,
//! signed with HMAC-SHA256 under a key given as `whsec_` plus base64 (a value without the
//! prefix is read as base64 too). The signature header is a space-separated list of
//! `<version>,<base64 tag>` entries; only `v1` entries count (`v1a`, the asymmetric ed25519
//! scheme, is ignored) and one match is enough.
//!
//! What it does not do: verify `v1a` signatures, or dedupe on `webhook-id`.

use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::scheme::{Inbound, Rejection, Scheme, SigningSecrets, unix_seconds, within};
use crate::secret::{Secret, SecretSource};

const ID: [&str; 2] = ["webhook-id", "svix-id"];
const TIMESTAMP: [&str; 2] = ["webhook-timestamp", "svix-timestamp"];
const SIGNATURE: [&str; 2] = ["webhook-signature", "svix-signature"];

/// How a symmetric secret is marked.
const SECRET_PREFIX: &str = "whsec_";

/// Length of an HMAC-SHA256 tag in bytes.
const TAG_LEN: usize = 32;

/// Standard base64 that takes its input with or without `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Verifies webhooks signed by the Standard Webhooks (or Svix) scheme for one endpoint.
#[derive(Debug, Clone)]
pub struct StandardWebhooks {
    secrets: SigningSecrets,
    tolerance: Duration,
}

/// A configured secret is not a usable Standard Webhooks key. Says which secret, never its value.
#[derive(Debug, thiserror::Error)]
#[error("webhook signing secret {origin:?} is not whsec_ followed by base64")]
pub struct InvalidSigningSecret {
    /// Which secret is wrong.
    pub origin: SecretSource,
}

impl StandardWebhooks {
    /// A verifier for the endpoint whose signing secret (`whsec_...`, or two of them while
    /// rotating) is `secret`, accepting timestamps within `tolerance` of our clock either way.
    /// Call [`check_secrets`](Self::check_secrets) at start-up to fail on a typo before serving.
    pub fn new(secret: Secret, tolerance: Duration) -> Self {
        Self {
            secrets: SigningSecrets::new(secret),
            tolerance,
        }
    }

    /// Whether every current secret decodes to a key. A secret that does not is skipped when
    /// verifying (and warned about), so without this check it would only show as rejections.
    pub fn check_secrets(&self) -> Result<(), InvalidSigningSecret> {
        let unusable = self
            .secrets
            .each(|one| signing_key(one).is_none().then_some(()));
        match unusable {
            Some(()) => Err(InvalidSigningSecret {
                origin: self.secrets.source().clone(),
            }),
            None => Ok(()),
        }
    }
}

impl Scheme for StandardWebhooks {
    fn verify(&self, inbound: &Inbound<'_>) -> Result<(), Rejection> {
        let id = inbound.header(&ID)?;
        let timestamp = inbound.header(&TIMESTAMP)?;
        let sent = v1_tags(inbound.header(&SIGNATURE)?)?;
        if !within(inbound.now, unix_seconds(timestamp)?, self.tolerance) {
            return Err(Rejection::StaleTimestamp);
        }

        let matched = self.secrets.each(|secret| {
            let Some(key) = signing_key(secret) else {
                // A configuration mistake, which `check_secrets` catches at start-up.
                let secret = self.secrets.source();
                tracing::warn!(?secret, "webhook signing secret is not base64; skipped");
                return None;
            };
            let tag = expected_tag(&key, id, timestamp, inbound.body);
            sent.iter()
                .any(|one| equal(tag.as_ref(), one))
                .then_some(())
        });
        matched.ok_or(Rejection::BadSignature)
    }
}

/// The `v1` tags of a signature header. Other versions are skipped; a `v1` entry that does not
/// decode to a tag, or no `v1` entry at all, is malformed.
fn v1_tags(header: &str) -> Result<Vec<[u8; TAG_LEN]>, Rejection> {
    let mut tags = Vec::new();
    for entry in header.split_ascii_whitespace() {
        if let Some(("v1", encoded)) = entry.split_once(',') {
            tags.push(decode_tag(encoded)?);
        }
    }
    if tags.is_empty() {
        return Err(Rejection::Malformed);
    }
    Ok(tags)
}

fn decode_tag(encoded: &str) -> Result<[u8; TAG_LEN], Rejection> {
    let bytes = BASE64.decode(encoded).map_err(|_| Rejection::Malformed)?;
    bytes.try_into().map_err(|_| Rejection::Malformed)
}

/// The HMAC key a secret stands for, or `None` when it is not base64 or decodes to nothing.
fn signing_key(secret: &str) -> Option<hmac::Key> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let raw = BASE64.decode(encoded).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(hmac::Key::new(hmac::HMAC_SHA256, &raw))
}

/// HMAC-SHA256 of `"{id}.{timestamp}.{body}"`, without copying the body.
fn expected_tag(key: &hmac::Key, id: &str, timestamp: &str, body: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(key);
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
        context.update(part);
    }
    context.sign()
}

/// Constant-time equality of two tags.
fn equal(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::UNIX_EPOCH;

    use base64::engine::general_purpose::STANDARD as B64;
    use http::{HeaderMap, HeaderValue};

    use super::*;

    /// `whsec_` plus base64 of 24 bytes, the shape Svix hands out.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OTHER_KEY: &[u8] = b"another-endpoint-key-0123456789ab";
    const BODY: &[u8] = br#"{"type":"invoice.paid","data":{"id":"inv_1"}}"#;
    const ID_VALUE: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
    const NOW: u64 = 1_700_000_000;

    fn other_secret() -> String {
        format!("whsec_{}", B64.encode(OTHER_KEY))
    }

    /// A `v1,<base64>` entry, computed here with one-shot HMAC over a built message.
    fn v1(raw_key: &[u8], id: &str, t: u64, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, raw_key);
        let mut message = format!("{id}.{t}.").into_bytes();
        message.extend_from_slice(body);
        format!("v1,{}", B64.encode(hmac::sign(&key, &message)))
    }

    fn raw(secret: &str) -> Vec<u8> {
        B64.decode(secret.trim_start_matches("whsec_")).unwrap()
    }

    fn scheme(secret: &str) -> StandardWebhooks {
        let secret = Secret::from_env_value("WH_SECRET", secret.to_owned()).unwrap();
        let scheme = StandardWebhooks::new(secret, Duration::from_secs(300));
        scheme.check_secrets().unwrap();
        scheme
    }

    fn headers(prefix: &str, t: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [("id", ID_VALUE), ("timestamp", t), ("signature", signature)] {
            let name = http::HeaderName::try_from(format!("{prefix}-{name}")).unwrap();
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn check(scheme: &StandardWebhooks, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        scheme.verify(&Inbound {
            headers,
            body,
            url: "https://hooks.example.test/standard",
            now: UNIX_EPOCH + Duration::from_secs(NOW),
        })
    }

    fn signed(secret_raw: &[u8], t: u64) -> HeaderMap {
        headers(
            "webhook",
            &t.to_string(),
            &v1(secret_raw, ID_VALUE, t, BODY),
        )
    }

    #[test]
    fn a_valid_signature_is_accepted() {
        assert_eq!(
            check(&scheme(SECRET), &signed(&raw(SECRET), NOW), BODY),
            Ok(())
        );
    }

    #[test]
    fn svix_header_names_are_accepted() {
        let signature = v1(&raw(SECRET), ID_VALUE, NOW, BODY);
        let svix = headers("svix", &NOW.to_string(), &signature);
        assert_eq!(check(&scheme(SECRET), &svix, BODY), Ok(()));
    }

    #[test]
    fn a_secret_without_the_prefix_is_base64_too() {
        let bare = SECRET.trim_start_matches("whsec_");
        assert_eq!(
            check(&scheme(bare), &signed(&raw(SECRET), NOW), BODY),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_is_rejected() {
        let headers = signed(&raw(SECRET), NOW);
        let tampered = br#"{"type":"invoice.paid","data":{"id":"inv_2"}}"#;
        assert_eq!(
            check(&scheme(SECRET), &headers, tampered),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_tampered_id_is_rejected() {
        let mut headers = signed(&raw(SECRET), NOW);
        headers.insert("webhook-id", HeaderValue::from_static("msg_other"));
        assert_eq!(
            check(&scheme(SECRET), &headers, BODY),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_wrong_secret_is_rejected() {
        let headers = signed(OTHER_KEY, NOW);
        assert_eq!(
            check(&scheme(SECRET), &headers, BODY),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn the_secret_string_itself_is_not_the_key() {
        // A signer that forgot to decode the secret must not pass.
        let headers = signed(SECRET.as_bytes(), NOW);
        assert_eq!(
            check(&scheme(SECRET), &headers, BODY),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn timestamps_outside_the_window_are_rejected_both_ways() {
        let scheme = scheme(SECRET);
        for t in [NOW - 301, NOW + 301] {
            let headers = signed(&raw(SECRET), t);
            assert_eq!(
                check(&scheme, &headers, BODY),
                Err(Rejection::StaleTimestamp)
            );
        }
        for t in [NOW - 300, NOW + 300] {
            assert_eq!(check(&scheme, &signed(&raw(SECRET), t), BODY), Ok(()));
        }
    }

    #[test]
    fn each_missing_header_is_rejected() {
        let scheme = scheme(SECRET);
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut headers = signed(&raw(SECRET), NOW);
            headers.remove(name);
            assert_eq!(
                check(&scheme, &headers, BODY),
                Err(Rejection::MissingHeader),
                "{name}"
            );
        }
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let good = v1(&raw(SECRET), ID_VALUE, NOW, BODY);
        let t = NOW.to_string();
        let cases = [
            (t.as_str(), "v1a,c2lnbmF0dXJl"),
            (t.as_str(), "v2,c2lnbmF0dXJl"),
            (t.as_str(), "v1,not*base64"),
            (t.as_str(), "v1,c2hvcnQ="),
            (t.as_str(), good.trim_start_matches("v1,")),
            ("soon", good.as_str()),
            ("-1", good.as_str()),
        ];
        let scheme = scheme(SECRET);
        for (t, signature) in cases {
            let headers = headers("webhook", t, signature);
            assert_eq!(
                check(&scheme, &headers, BODY),
                Err(Rejection::Malformed),
                "{signature}"
            );
        }
    }

    #[test]
    fn both_secrets_are_accepted_during_rotation() {
        let scheme = scheme(&format!("{SECRET}, {}", other_secret()));
        assert_eq!(check(&scheme, &signed(&raw(SECRET), NOW), BODY), Ok(()));
        assert_eq!(check(&scheme, &signed(OTHER_KEY, NOW), BODY), Ok(()));
    }

    #[test]
    fn only_the_second_entry_matching_is_enough() {
        let wrong = v1(OTHER_KEY, ID_VALUE, NOW, BODY);
        let right = v1(&raw(SECRET), ID_VALUE, NOW, BODY);
        let list = format!("v1a,c2lnbmF0dXJl {wrong} {right}");
        let headers = headers("webhook", &NOW.to_string(), &list);
        assert_eq!(check(&scheme(SECRET), &headers, BODY), Ok(()));
    }

    #[test]
    fn an_undecodable_secret_is_reported_without_showing_it() {
        let secret = Secret::from_env_value("WH_SECRET", "whsec_not*base64!".to_owned()).unwrap();
        let scheme = StandardWebhooks::new(secret, Duration::from_secs(300));
        let shown = scheme.check_secrets().unwrap_err().to_string();
        assert!(shown.contains("WH_SECRET"));
        assert!(!shown.contains("not*base64"));
        let headers = signed(&raw(SECRET), NOW);
        assert_eq!(check(&scheme, &headers, BODY), Err(Rejection::BadSignature));
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", scheme(SECRET)).contains("MfKQ9r8G"));
    }
}
