//! A credential given through the environment or a mounted file never shows up in the
//! adapter's logs, its error replies or its metrics.

use integ_proto::payments::v1::GetPaymentRequest;
use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_testkit::postgres::TestDb;
use integ_testkit::{Running, Start, TempDir};

const CANARY: &str = "canary-pw-7f3e9a";

async fn exercise(adapter: &Running) {
    let mut c = PaymentsServiceClient::new(adapter.channel().await);
    let err = c
        .get_payment(GetPaymentRequest {
            id: "pay_x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(!format!("{err:?}").contains(CANARY));
    let metrics = adapter.metrics_text().await;
    assert!(metrics.contains("integ_rpc_total"), "metrics are served");
    assert!(!metrics.contains(CANARY));
    for line in adapter.logs() {
        assert!(!line.contains(CANARY), "secret in log line: {line}");
    }
}

#[tokio::test]
async fn database_password_from_env_or_file_never_leaks() {
    let db = TestDb::create().unwrap();
    let url = db.url_with_password(CANARY);

    let adapter = Start::new("payments")
        .env("INTEG_DATABASE_URL", url.clone())
        .env("INTEG_LOG", "debug")
        .spawn()
        .await
        .unwrap();
    exercise(&adapter).await;
    adapter.terminate().await;

    let dir = TempDir::new("secret");
    let file = dir.path().join("database-url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let adapter = Start::new("payments")
        .env("INTEG_DATABASE_URL_FILE", file.display().to_string())
        .env("INTEG_LOG", "debug")
        .spawn()
        .await
        .unwrap();
    exercise(&adapter).await;
    adapter.terminate().await;
}

#[tokio::test]
async fn a_refused_database_password_is_not_echoed() {
    let (code, stdout, stderr) = Start::new("payments")
        .env(
            "INTEG_DATABASE_URL",
            format!("postgres://postgres:{CANARY}@127.0.0.1:1/nowhere"),
        )
        .run_to_exit()
        .await
        .unwrap();
    assert_ne!(code, Some(0));
    assert!(
        !stdout.contains(CANARY) && !stderr.contains(CANARY),
        "{stdout}{stderr}"
    );
}

/// A provider key in a mounted file is rotated in place: the next calls use the new key, with
/// no restart, and neither key shows up anywhere.
#[tokio::test]
async fn a_rotated_key_file_is_used_without_a_restart_and_never_shown() {
    const OLD: &str = "sk_test_canary-pw-7f3e9a_old";
    const NEW: &str = "sk_test_canary-pw-7f3e9a_new";
    let fake = integ_testkit::fake_stripe::FakeStripe::start().await;
    let dir = TempDir::new("rotate");
    let file = dir.path().join("stripe-api-key");
    std::fs::write(&file, OLD).unwrap();
    let adapter = Start::new("payments")
        .env("INTEG_PAYMENTS_PROVIDERS", "stripe")
        .env("INTEG_STRIPE_API_KEY_FILE", file.display().to_string())
        .env("INTEG_STRIPE_BASE_URL", fake.url())
        .env("INTEG_LOG", "debug")
        .spawn()
        .await
        .unwrap();
    let mut c = PaymentsServiceClient::new(adapter.channel().await);
    let pay = |key: &str| integ_proto::payments::v1::CreatePaymentRequest {
        amount: Some(integ_proto::common::v1::Money {
            amount_minor: 100,
            currency: "USD".into(),
        }),
        capture_method: integ_proto::payments::v1::CaptureMethod::Immediate.into(),
        payment_method: "pm_card_visa".into(),
        idempotency_key: key.into(),
        ..Default::default()
    };
    c.create_payment(pay("rotate-1")).await.unwrap();
    // Rotation as a Secret volume does it: the file's content is replaced.
    std::fs::write(&file, NEW).unwrap();
    // A key file is looked at again at most once a second.
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    c.create_payment(pay("rotate-2")).await.unwrap();
    let keys: Vec<String> = fake
        .requests_to("POST", "/v1/payment_intents")
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(keys, [format!("Bearer {OLD}"), format!("Bearer {NEW}")]);
    exercise(&adapter).await;
}
