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

#[tokio::test]
async fn missing_required_keys_exit_64_naming_them() {
    let stripe = Start::new("payments").env("INTEG_PAYMENTS_PROVIDERS", "stripe");
    refused(stripe, "INTEG_STRIPE_API_KEY").await;
    let square = Start::new("payments")
        .env("INTEG_PAYMENTS_PROVIDERS", "square")
        .env("INTEG_SQUARE_ACCESS_TOKEN", "EAAAl-token-canary");
    let stderr = refused(square, "INTEG_SQUARE_LOCATION_ID").await;
    assert!(!stderr.contains("canary"), "{stderr}");
    let paypal = Start::new("payments").env("INTEG_PAYMENTS_PROVIDERS", "sandbox,paypal");
    refused(paypal, "INTEG_PAYPAL_CLIENT_ID").await;
}

#[tokio::test]
async fn an_otlp_endpoint_over_tls_is_refused_and_one_over_http_runs() {
    refused(
        Start::new("payments").env("INTEG_OTLP_ENDPOINT", "https://otel.example.com:4317"),
        "INTEG_OTLP_ENDPOINT",
    )
    .await;
    // No collector listens there: export fails quietly, the adapter serves and drains.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let adapter = Start::new("payments")
        .env("INTEG_OTLP_ENDPOINT", endpoint)
        .spawn()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(adapter.channel().await);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    let started = std::time::Instant::now();
    assert_eq!(adapter.terminate().await, Some(0));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}
