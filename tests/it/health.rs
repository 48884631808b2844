//! Every adapter answers the health protocol (overall and family service) and reflection, and
//! goes NOT_SERVING then exits cleanly on SIGTERM.

use integ_testkit::Start;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

const FAMILIES: [(&str, &str); 4] = [
    ("payments", "integ.payments.v1.PaymentsService"),
    ("messaging", "integ.messaging.v1.MessagingService"),
    ("identity", "integ.identity.v1.IdentityService"),
    ("storage", "integ.storage.v1.StorageService"),
];

async fn status(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> ServingStatus {
    let reply = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap();
    reply.into_inner().status()
}

/// Whether reflection v1 lists `service`.
async fn reflection_v1_lists(channel: tonic::transport::Channel, service: &str) -> bool {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient as V1Client;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as V1Request;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse as V1Response;
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(V1Request::ListServices(String::new())),
    };
    let mut stream = V1Client::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    match reply.message_response {
        Some(V1Response::ListServicesResponse(list)) => {
            list.service.iter().any(|s| s.name == service)
        }
        _ => false,
    }
}

#[tokio::test]
async fn every_adapter_serves_health_and_reflection() {
    for (family, service) in FAMILIES {
        let adapter = Start::new(family).spawn().await.unwrap();
        let channel = adapter.channel().await;
        let mut health = HealthClient::new(channel.clone());
        assert_eq!(
            status(&mut health, "").await,
            ServingStatus::Serving,
            "{family}"
        );
        assert_eq!(
            status(&mut health, service).await,
            ServingStatus::Serving,
            "{family}"
        );
        let unknown = health
            .check(HealthCheckRequest {
                service: "nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);

        let mut reflection = ServerReflectionClient::new(channel);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = reflection
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let reply = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("{family}")
        };
        let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        assert!(names.iter().any(|n| n == service), "{family}: {names:?}");
        assert!(
            names.iter().any(|n| n == "integ.events.v1.EventsService"),
            "{family}: {names:?}"
        );
        assert!(
            names.iter().any(|n| n == "grpc.health.v1.Health"),
            "{family}: {names:?}"
        );
        // grpcurl 1.8 speaks v1alpha; newer tools speak v1: both are served.
        assert!(
            reflection_v1_lists(adapter.channel().await, service).await,
            "{family}: reflection v1"
        );

        assert_eq!(
            adapter.terminate().await,
            Some(0),
            "{family} exits cleanly on SIGTERM"
        );
    }
}

#[tokio::test]
async fn shutdown_reports_not_serving_to_watchers() {
    let mut adapter = Start::new("payments").spawn().await.unwrap();
    let mut health = HealthClient::new(adapter.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "integ.payments.v1.PaymentsService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    adapter.signal_term();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::NotServing
    );
    drop(watch);
    assert_eq!(adapter.wait().await, Some(0));
    assert!(
        adapter
            .logs()
            .iter()
            .any(|l| l.contains("drained") || l.contains("grace period ended"))
    );
}

/// When the store stops answering, the family service goes NOT_SERVING (kubelet's readiness
/// probe takes the pod out of the Service) while the overall service, which liveness asks
/// about, stays SERVING.
#[tokio::test]
async fn the_family_service_follows_the_store_and_liveness_does_not() {
    let db = integ_testkit::postgres::TestDb::create().unwrap();
    let adapter = Start::new("payments")
        .env("INTEG_DATABASE_URL", db.url())
        .spawn()
        .await
        .unwrap();
    let mut health = HealthClient::new(adapter.channel().await);
    let family = "integ.payments.v1.PaymentsService";
    assert_eq!(status(&mut health, family).await, ServingStatus::Serving);
    drop(db); // DROP DATABASE … WITH (FORCE): every connection is cut, and none can be made.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while status(&mut health, family).await == ServingStatus::Serving {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still SERVING without a store"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(&mut health, family).await, ServingStatus::NotServing);
    assert_eq!(status(&mut health, "").await, ServingStatus::Serving);
}
