//! Bad configuration: a clear message naming the key, no secret echoed, exit status 64, and
//! no port bound.

use integ_testkit::Start;

async fn refused(start: Start, key: &str) -> String {
    let (code, stdout, stderr) = start.run_to_exit().await.unwrap();
    assert_eq!(code, Some(64), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains(key), "{stderr}");
    assert!(
        !stdout.contains("integ listening"),
        "no port may be bound: {stdout}"
    );
    stderr
}

#[tokio::test]
async fn malformed_values_exit_64_naming_the_key() {
    refused(
        Start::new("payments").env("INTEG_GRPC_PORT", "not-a-port"),
        "INTEG_GRPC_PORT",
    )
    .await;
    refused(
        Start::new("messaging").env("INTEG_LOG_FORMAT", "xml"),
        "INTEG_LOG_FORMAT",
    )
    .await;
    refused(
        Start::new("identity").env("INTEG_BIND_HOST", "localhost:1"),
        "INTEG_BIND_HOST",
    )
    .await;
    refused(
        Start::new("storage").env("INTEG_SANDBOX_MAX_ATTEMPTS", "0"),
        "INTEG_SANDBOX_MAX_ATTEMPTS",
    )
    .await;
    refused(
        Start::new("payments").env("INTEG_PAYMENTS_PROVIDERS", "nonesuch"),
        "INTEG_PAYMENTS_PROVIDERS",
    )
    .await;
}

#[tokio::test]
async fn malformed_urls_exit_64_without_echoing_them() {
    let secret_ish = "postgres-typo://admin:hunter2-canary@db";
    let stderr = refused(
        Start::new("payments").env("INTEG_DATABASE_URL", secret_ish),
        "INTEG_DATABASE_URL",
    )
    .await;
    assert!(!stderr.contains("hunter2-canary"), "{stderr}");
    let stderr = refused(
        Start::new("payments").env("INTEG_OTLP_ENDPOINT", "not a url canary-9"),
        "INTEG_OTLP_ENDPOINT",
    )
    .await;
    assert!(!stderr.contains("canary-9"), "{stderr}");
}

#[tokio::test]
async fn unreadable_secret_files_exit_64() {
    refused(
        Start::new("payments").env("INTEG_DATABASE_URL_FILE", "/nonexistent/integ/db-url"),
        "INTEG_DATABASE_URL_FILE",
    )
    .await;
    refused(
        Start::new("payments")
            .env("INTEG_DATABASE_URL", "sqlite://x.db")
            .env("INTEG_DATABASE_URL_FILE", "/tmp/x"),
        "INTEG_DATABASE_URL",
    )
    .await;
}
