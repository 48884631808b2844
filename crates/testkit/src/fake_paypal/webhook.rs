//! PayPal's webhook signatures, made and checked as PayPal does: SHA256withRSA over
//! `transmission_id|transmission_time|webhook_id|crc32`, where crc32 is the decimal CRC-32
//! (IEEE) of the body's bytes, with the signing certificate named by URL.
//!
//! The fake signs with an RSA key of its own (PayPal's private key is PayPal's), and its
//! `verify-webhook-signature` endpoint checks the signature against that key, the event exactly
//! as embedded in the request (so a client that re-serialises the event fails, as at PayPal),
//! and the certificate URL it gave out.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::{Answer, invalid};
use crate::fake::Request;

/// The URL the fake names as its certificate's.
const CERT_URL: &str =
    "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-fake0001";

/// The CRC-32 (IEEE 802.3, as zlib computes it) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The fake's signing key.
pub struct Signer {
    key: RsaKeyPair,
    sent: u64,
}

#[derive(Deserialize)]
struct VerifyRequest<'a> {
    auth_algo: Option<String>,
    cert_url: Option<String>,
    transmission_id: Option<String>,
    transmission_sig: Option<String>,
    transmission_time: Option<String>,
    webhook_id: Option<String>,
    #[serde(borrow)]
    webhook_event: Option<&'a RawValue>,
}

impl Signer {
    /// A fresh RSA-2048 key.
    pub fn new() -> Self {
        Self {
            key: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            sent: 0,
        }
    }

    fn message(id: &str, time: &str, webhook_id: &str, body: &[u8]) -> String {
        format!("{id}|{time}|{webhook_id}|{}", crc32(body))
    }

    /// The `PAYPAL-*` headers of a webhook carrying `body` to `webhook_id`, sent at `time`.
    pub fn sign(&mut self, body: &str, webhook_id: &str, time: &str) -> Vec<(String, String)> {
        self.sent += 1;
        let id = format!("b2384410-f8d2-11eb-8487-{:012x}", self.sent);
        let message = Self::message(&id, time, webhook_id, body.as_bytes());
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .unwrap();
        [
            ("paypal-transmission-id", id),
            ("paypal-transmission-time", time.to_owned()),
            ("paypal-transmission-sig", STANDARD.encode(signature)),
            ("paypal-cert-url", CERT_URL.to_owned()),
            ("paypal-auth-algo", "SHA256withRSA".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// `POST /v1/notifications/verify-webhook-signature`.
    pub fn verify(&self, request: &Request) -> Answer {
        let Ok(text) = std::str::from_utf8(&request.body) else {
            return invalid("", "MALFORMED_REQUEST_JSON");
        };
        let Ok(asked) = serde_json::from_str::<VerifyRequest<'_>>(text) else {
            return invalid("", "MALFORMED_REQUEST_JSON");
        };
        let fields = [
            ("auth_algo", &asked.auth_algo),
            ("cert_url", &asked.cert_url),
            ("transmission_id", &asked.transmission_id),
            ("transmission_sig", &asked.transmission_sig),
            ("transmission_time", &asked.transmission_time),
            ("webhook_id", &asked.webhook_id),
        ];
        for (name, value) in fields {
            if value.as_deref().unwrap_or_default().is_empty() {
                return invalid(&format!("/{name}"), "MISSING_REQUIRED_PARAMETER");
            }
        }
        let Some(event) = asked.webhook_event else {
            return invalid("/webhook_event", "MISSING_REQUIRED_PARAMETER");
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let message = Self::message(
            &text(&asked.transmission_id),
            &text(&asked.transmission_time),
            &text(&asked.webhook_id),
            event.get().as_bytes(),
        );
        let signature = STANDARD
            .decode(text(&asked.transmission_sig))
            .unwrap_or_default();
        let public =
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.key.public_key().as_ref());
        let ok = text(&asked.auth_algo) == "SHA256withRSA"
            && text(&asked.cert_url) == CERT_URL
            && public.verify(message.as_bytes(), &signature).is_ok();
        let status = if ok { "SUCCESS" } else { "FAILURE" };
        (200, json!({ "verification_status": status }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_values() {
        // The check value of CRC-32/ISO-HDLC, and zlib's crc32 of the empty input and of
        // "The quick brown fox jumps over the lazy dog".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }
}
