//! The webhook endpoint over HTTP: requests signed by the Standard Webhooks reference library
//! are stored and delivered once; everything else gets a generic answer and is never stored.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integ_proto::events::v1::ReplayEventsRequest;
use integ_proto::events::v1::events_service_client::EventsServiceClient;
use integ_testkit::{Running, Start};

use crate::events::consume;

/// The sandbox source's secret in these tests: `whsec_` and base64 of 24 bytes.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_q83vEjRK5yWmP0Xl2s4gT7bN1cHdJaVuYiZoKfLeCwM=";

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The headers the official SDK of `scheme` ("standard" or "stripe") sends for `body`.
pub fn sdk_sign(scheme: &str, secret: &str, body: &str, timestamp: u64) -> Vec<(String, String)> {
    signer(&[scheme, secret], body, &timestamp.to_string())
}

/// The `x-square-hmacsha256-signature` header for `body` sent to `notification_url`, checked
/// by Square's own SDK (`WebhooksHelper.verifySignature`) before it is returned.
pub fn square_sign(key: &str, notification_url: &str, body: &str) -> Vec<(String, String)> {
    signer(&["square", key], body, notification_url)
}

/// Runs `tests/signers/sign.mjs <args…> <body file> <last>` and reads the headers it prints.
fn signer(args: &[&str], body: &str, last: &str) -> Vec<(String, String)> {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let status = Command::new("bash")
            .arg("scripts/node-tools.sh")
            .current_dir(repo_root())
            .status()
            .expect("bash runs scripts/node-tools.sh");
        assert!(status.success(), "scripts/node-tools.sh failed");
    });
    let file = tempfile_with(body);
    let output = Command::new("node")
        .arg("tests/signers/sign.mjs")
        .args(args)
        .arg(&file)
        .arg(last)
        .current_dir(repo_root())
        .output()
        .expect("node runs the official signers");
    std::fs::remove_file(&file).unwrap();
    assert!(
        output.status.success(),
        "sign.mjs: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap();
    headers
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
        .collect()
}

fn tempfile_with(body: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("integ-it-body-{}-{n}", std::process::id()));
    std::fs::write(&path, body).unwrap();
    path
}

async fn post(
    adapter: &Running,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}{path}", adapter.http))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn adapter() -> Running {
    Start::new("payments")
        .env("INTEG_SANDBOX_WEBHOOK_SECRET", SECRET)
        .env("INTEG_WEBHOOK_MAX_BODY_BYTES", "4096")
        .spawn()
        .await
        .unwrap()
}

fn sandbox_event(event_type: &str, resource: &str, occurred: u64, note: &str) -> String {
    serde_json::json!({
        "type": event_type,
        "timestamp": occurred,
        "data": { "object": "payment", "id": resource, "note": note },
    })
    .to_string()
}

/// Creates the consumer group "census", which sees every event stored from now on.
async fn census(adapter: &Running) {
    drop(consume(adapter.channel().await, "census", &[], 30).await);
}

/// How many events are stored: replaying "census" from the epoch counts them all.
async fn stored_events(adapter: &Running) -> i64 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let mut events = EventsServiceClient::new(adapter.channel().await);
    events
        .replay_events(ReplayEventsRequest {
            consumer_group: "census".into(),
            start_time: Some(prost_types::Timestamp::default()),
            idempotency_key: format!("census-{}", SEQ.fetch_add(1, Ordering::Relaxed)),
        })
        .await
        .unwrap()
        .into_inner()
        .replayed_count
}

#[tokio::test]
async fn sdk_signed_webhooks_are_stored_once_and_forgeries_get_one_generic_answer() {
    let adapter = adapter().await;
    census(&adapter).await;
    let mut consumer = consume(adapter.channel().await, "hooks", &["payment."], 30).await;
    let body = sandbox_event(
        "payment.succeeded",
        "pi_ext_1",
        unix_now(),
        "secret-payload-marker",
    );
    let signed = sdk_sign("standard", SECRET, &body, unix_now());

    let (status, _) = post(&adapter, "/webhooks/sandbox", &signed, &body).await;
    assert_eq!(status, 200, "a valid request is stored and answered 200");
    let (status, _) = post(&adapter, "/webhooks/sandbox", &signed, &body).await;
    assert_eq!(status, 200, "a redelivery is answered 200");

    let got = consumer.take(2, Duration::from_secs(3)).await;
    assert_eq!(got.len(), 1, "the redelivery is absorbed: {got:?}");
    let event = got[0].event.as_ref().unwrap();
    assert_eq!(event.r#type, "payment.succeeded");
    assert_eq!(event.resource.as_ref().unwrap().provider_id, "pi_ext_1");
    consumer.ack(&got).await;

    let tampered = body.replace("pi_ext_1", "pi_ext_2");
    let wrong_secret = sdk_sign("standard", OTHER_SECRET, &body, unix_now());
    let stale = sdk_sign("standard", SECRET, &body, unix_now() - 600);
    let future = sdk_sign("standard", SECRET, &body, unix_now() + 600);
    let missing: Vec<_> = signed
        .iter()
        .filter(|(k, _)| k != "webhook-signature")
        .cloned()
        .collect();
    let mut answers = Vec::new();
    for (headers, body) in [
        (&signed, &tampered),
        (&wrong_secret, &body),
        (&stale, &body),
        (&future, &body),
        (&missing, &body),
    ] {
        answers.push(post(&adapter, "/webhooks/sandbox", headers, body).await);
    }
    for (status, text) in &answers {
        assert_eq!(*status, 400, "{answers:?}");
        assert_eq!(text, &answers[0].1, "one body for every rejection");
    }
    assert_eq!(
        stored_events(&adapter).await,
        1,
        "rejected requests are never stored"
    );

    let metrics = adapter.metrics_text().await;
    for reason in ["bad_signature", "stale_timestamp", "missing_header"] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "rejections are counted by reason: {reason}\n{metrics}"
        );
    }
    assert!(
        !adapter.logs().join("\n").contains("secret-payload-marker"),
        "the raw payload is never logged"
    );
}

#[tokio::test]
async fn unknown_providers_wrong_methods_and_big_bodies_are_refused() {
    let adapter = adapter().await;
    census(&adapter).await;
    let (status, _) = post(&adapter, "/webhooks/nosuch", &[], "{}").await;
    assert_eq!(status, 404);

    let get = reqwest::get(format!("http://{}/webhooks/sandbox", adapter.http))
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);

    let big = sandbox_event("payment.succeeded", "pi_big", unix_now(), &"x".repeat(5000));
    let signed = sdk_sign("standard", SECRET, &big, unix_now());
    let (status, _) = post(&adapter, "/webhooks/sandbox", &signed, &big).await;
    assert_eq!(status, 413, "over INTEG_WEBHOOK_MAX_BODY_BYTES");
    assert_eq!(stored_events(&adapter).await, 0);
}

#[tokio::test]
async fn events_about_one_resource_arrive_in_the_order_the_provider_made_them() {
    let adapter = adapter().await;
    let channel = adapter.channel().await;
    drop(consume(channel.clone(), "ordered", &[], 30).await);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Three events about one payment arrive newest first; one about another payment too.
    let base = unix_now() - 100;
    let sends = [
        ("payment.refunded", "pi_a", base + 3),
        ("payment.captured", "pi_a", base + 2),
        ("payment.created", "pi_a", base + 1),
        ("payment.created", "pi_b", base + 5),
    ];
    for (event_type, resource, occurred) in sends {
        let body = sandbox_event(event_type, resource, occurred, "");
        let signed = sdk_sign("standard", SECRET, &body, unix_now());
        assert_eq!(
            post(&adapter, "/webhooks/sandbox", &signed, &body).await.0,
            200
        );
    }

    let mut consumer = consume(channel, "ordered", &[], 30).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let batch = consumer.take(1, Duration::from_secs(5)).await;
        let more = consumer
            .next(Duration::from_millis(300))
            .await
            .unwrap_or_default();
        let batch: Vec<_> = batch.into_iter().chain(more).collect();
        let of_a: Vec<_> = batch
            .iter()
            .map(|r| r.event.as_ref().unwrap())
            .filter(|e| e.resource.as_ref().unwrap().provider_id == "pi_a")
            .map(|e| e.r#type.clone())
            .collect();
        assert!(
            of_a.len() <= 1,
            "one event of a resource outstanding at a time: {of_a:?}"
        );
        seen.extend(batch.iter().map(|r| {
            let e = r.event.as_ref().unwrap();
            (
                e.resource.as_ref().unwrap().provider_id.clone(),
                e.r#type.clone(),
            )
        }));
        consumer.ack(&batch).await;
    }
    let of_a: Vec<_> = seen
        .iter()
        .filter(|(r, _)| r == "pi_a")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        of_a,
        ["payment.created", "payment.captured", "payment.refunded"]
    );
    assert!(seen.iter().any(|(r, _)| r == "pi_b"), "{seen:?}");
}
