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
