//! Our webhook verifiers against requests signed by the providers' official SDKs.
//!
//! Each request is signed by `tests/signers/sign.mjs`, which calls Stripe's Node library or the
//! Standard Webhooks reference library, so a misreading of a scheme shared by our own test
//! signer and our verifier cannot pass here. Node and the pinned packages are required: the
//! test installs the packages with `scripts/node-tools.sh` and fails, never skips, without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A test fails by panicking.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use integ_core::secret::Secret;
use integ_core::webhook::scheme::{Inbound, Rejection, Scheme};
use integ_core::webhook::standard::StandardWebhooks;
use integ_core::webhook::stripe::StripeScheme;

const TOLERANCE: Duration = Duration::from_secs(300);
const TEN_MINUTES: u64 = 600;

/// A JSON body with a non-ASCII character, so that both sides must agree on UTF-8 bytes.
const BODY: &str = r#"{"id":"evt_1Q2w3E","type":"charge.succeeded","data":{"note":"café €5"}}"#;
const TAMPERED: &str = r#"{"id":"evt_1Q2w3E","type":"charge.succeeded","data":{"note":"café €6"}}"#;

const STRIPE_SECRET: &str = "whsec_3b1f9d0c7e6a5b4d2c1f0e9d8c7b6a5f";
const STRIPE_OTHER: &str = "whsec_9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
/// `whsec_` and base64 of 24 and of 32 bytes, the shapes Standard Webhooks secrets take.
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STANDARD_OTHER: &str = "whsec_q83vEjRK5yWmP0Xl2s4gT7bN1cHdJaVuYiZoKfLeCwM=";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Installs tools/ once per test binary; the script itself serialises concurrent installs.
fn node_tools() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let status = Command::new("bash")
            .arg("scripts/node-tools.sh")
            .current_dir(repo_root())
            .status()
            .expect("bash runs scripts/node-tools.sh");
        assert!(
            status.success(),
            "scripts/node-tools.sh failed ({status}); see its output"
        );
    });
}

/// The headers the official SDK sends for `body`, signed with `secret` at `timestamp`.
fn sdk_sign(scheme: &str, secret: &str, body: &str, timestamp: u64) -> HeaderMap {
    node_tools();
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("integ-signers-{}-{n}.json", std::process::id()));
    std::fs::write(&file, body).unwrap();
    let output = Command::new("node")
        .arg("tests/signers/sign.mjs")
        .args([scheme, secret])
        .arg(&file)
        .arg(timestamp.to_string())
        .current_dir(repo_root())
        .output();
    std::fs::remove_file(&file).unwrap();

    let output = output.expect("node must be installed to run the official webhook signers");
    assert!(
        output.status.success(),
        "sign.mjs {scheme} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    to_headers(&output.stdout)
}

fn to_headers(json: &[u8]) -> HeaderMap {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json).unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in object {
        let value = value.as_str().expect("header values are strings");
        headers.insert(
            HeaderName::try_from(name).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn check(scheme: &dyn Scheme, headers: &HeaderMap, body: &str) -> Result<(), Rejection> {
    scheme.verify(&Inbound {
        headers,
        body: body.as_bytes(),
        url: "https://hooks.example.test/webhooks/provider",
        now: SystemTime::now(),
    })
}

fn secret(value: &str) -> Secret {
    Secret::from_env_value("WEBHOOK_SIGNING_SECRET", value.to_owned()).unwrap()
}

/// The cases both schemes must pass: `ours` verifies with the first of `secrets`, `rotating`
/// with both of them.
fn conformance(name: &str, ours: &dyn Scheme, rotating: &dyn Scheme, secrets: [&str; 2]) {
    let [mine, other] = secrets;
    let now = now_secs();

    let valid = sdk_sign(name, mine, BODY, now);
    assert_eq!(check(ours, &valid, BODY), Ok(()), "SDK-signed request");
    assert_eq!(
        check(ours, &valid, BODY),
        Ok(()),
        "a redelivery verifies again"
    );
    assert_eq!(
        check(ours, &valid, TAMPERED),
        Err(Rejection::BadSignature),
        "tampered"
    );

    let foreign = sdk_sign(name, other, BODY, now);
    assert_eq!(
        check(ours, &foreign, BODY),
        Err(Rejection::BadSignature),
        "wrong secret"
    );

    let old = sdk_sign(name, mine, BODY, now - TEN_MINUTES);
    assert_eq!(
        check(ours, &old, BODY),
        Err(Rejection::StaleTimestamp),
        "10 minutes old"
    );
    let ahead = sdk_sign(name, mine, BODY, now + TEN_MINUTES);
    assert_eq!(
        check(ours, &ahead, BODY),
        Err(Rejection::StaleTimestamp),
        "10 minutes ahead"
    );

    let none = HeaderMap::new();
    assert_eq!(
        check(ours, &none, BODY),
        Err(Rejection::MissingHeader),
        "no headers"
    );

    assert_eq!(
        check(rotating, &valid, BODY),
        Ok(()),
        "rotation: current secret"
    );
    assert_eq!(
        check(rotating, &foreign, BODY),
        Ok(()),
        "rotation: other secret"
    );
}

#[test]
fn stripe_sdk_signatures() {
    let ours = StripeScheme::new(secret(STRIPE_SECRET), TOLERANCE);
    let both = secret(&format!("{STRIPE_SECRET} {STRIPE_OTHER}"));
    let rotating = StripeScheme::new(both, TOLERANCE);
    conformance("stripe", &ours, &rotating, [STRIPE_SECRET, STRIPE_OTHER]);

    let mut headers = sdk_sign("stripe", STRIPE_SECRET, BODY, now_secs());
    headers.remove("stripe-signature");
    assert_eq!(check(&ours, &headers, BODY), Err(Rejection::MissingHeader));
}

#[test]
fn standard_webhooks_sdk_signatures() {
    let ours = StandardWebhooks::new(secret(STANDARD_SECRET), TOLERANCE);
    ours.check_secrets().unwrap();
    let both = secret(&format!("{STANDARD_SECRET},{STANDARD_OTHER}"));
    let rotating = StandardWebhooks::new(both, TOLERANCE);
    rotating.check_secrets().unwrap();
    conformance(
        "standard",
        &ours,
        &rotating,
        [STANDARD_SECRET, STANDARD_OTHER],
    );

    let signed = sdk_sign("standard", STANDARD_SECRET, BODY, now_secs());
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut headers = signed.clone();
        headers.remove(name);
        assert_eq!(
            check(&ours, &headers, BODY),
            Err(Rejection::MissingHeader),
            "{name}"
        );
    }

    // The same request under Svix's header names.
    let mut svix = HeaderMap::new();
    for (name, value) in &signed {
        let alias = name.as_str().replacen("webhook-", "svix-", 1);
        svix.insert(HeaderName::try_from(alias).unwrap(), value.clone());
    }
    assert_eq!(check(&ours, &svix, BODY), Ok(()), "svix- aliases");
}
