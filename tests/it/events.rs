//! Webhook events end to end: the sandbox posts signed webhooks to its own adapter, which
//! stores them and delivers them to consumer groups at least once.

use std::time::Duration;

use integ_proto::common::v1::Money;
use integ_proto::events::v1::events_service_client::EventsServiceClient;
use integ_proto::events::v1::*;
use integ_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use integ_proto::payments::v1::{CaptureMethod, CreatePaymentRequest};
use integ_testkit::{Running, Start};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

/// An open StreamEvents stream.
pub struct Consumer {
    pub tx: mpsc::Sender<StreamEventsRequest>,
    pub rx: Streaming<StreamEventsResponse>,
}

pub fn subscription(group: &str, prefixes: &[&str], deadline_secs: i64) -> StreamEventsRequest {
    StreamEventsRequest {
        kind: Some(stream_events_request::Kind::Subscription(
            StreamEventsSubscription {
                consumer_group: group.into(),
                type_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
                providers: vec![],
                max_outstanding_events: 10,
                ack_deadline: Some(prost_types::Duration {
                    seconds: deadline_secs,
                    nanos: 0,
                }),
            },
        )),
    }
}

pub async fn consume(
    channel: Channel,
    group: &str,
    prefixes: &[&str],
    deadline_secs: i64,
) -> Consumer {
    let (tx, rx) = mpsc::channel(16);
    tx.send(subscription(group, prefixes, deadline_secs))
        .await
        .unwrap();
    let mut client = EventsServiceClient::new(channel);
    let rx = client
        .stream_events(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    Consumer { tx, rx }
}

impl Consumer {
    /// The next batch, or `None` if nothing arrives within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Vec<ReceivedEvent>> {
        match tokio::time::timeout(within, self.rx.message()).await {
            Ok(Ok(Some(batch))) => Some(batch.received_events),
            _ => None,
        }
    }

    /// Collects events until `n` have arrived (or the time is up).
    pub async fn take(&mut self, n: usize, within: Duration) -> Vec<ReceivedEvent> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(batch) => got.extend(batch),
                None => break,
            }
        }
        got
    }

    pub async fn ack(&self, events: &[ReceivedEvent]) {
        let acks = StreamEventsAcks {
            ack_ids: events.iter().map(|e| e.ack_id.clone()).collect(),
            modify_deadlines: vec![],
        };
        self.tx
            .send(StreamEventsRequest {
                kind: Some(stream_events_request::Kind::Acks(acks)),
            })
            .await
            .unwrap();
    }
}

pub async fn pay(adapter: &Running, amount: i64) -> String {
    let mut payments = PaymentsServiceClient::new(adapter.channel().await);
    let request = CreatePaymentRequest {
        amount: Some(Money {
            amount_minor: amount,
            currency: "EUR".into(),
        }),
        capture_method: CaptureMethod::Immediate.into(),
        payment_method: "pm_card_visa".into(),
        idempotency_key: format!("pay-{amount}-{}", std::process::id()),
        ..Default::default()
    };
    payments
        .create_payment(request)
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap()
        .id
}

#[tokio::test]
async fn sandbox_events_are_delivered_acknowledged_and_not_redelivered() {
    let adapter = Start::new("payments").spawn().await.unwrap();
    let mut consumer = consume(adapter.channel().await, "billing", &["payment."], 30).await;
    let payment_id = pay(&adapter, 1500).await;

    let batch = consumer.take(1, Duration::from_secs(10)).await;
    assert_eq!(batch.len(), 1, "one event for one payment");
    let event = batch[0].event.clone().unwrap();
    assert!(event.id.starts_with("evt_"));
    assert_eq!(
        (event.r#type.as_str(), event.provider.as_str()),
        ("payment.succeeded", "sandbox")
    );
    let resource = event.resource.clone().unwrap();
    assert_eq!(
        (resource.kind.as_str(), resource.id.as_str()),
        ("payment", payment_id.as_str())
    );
    assert_eq!(event.delivery_attempt, 1);
    assert!(!event.payload.is_empty());
    consumer.ack(&batch).await;

    assert!(
        consumer.next(Duration::from_millis(1500)).await.is_none(),
        "an acknowledged event is not sent again"
    );
    let mut events = EventsServiceClient::new(adapter.channel().await);
    let got = events
        .get_event(GetEventRequest {
            id: event.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        got.event.unwrap().provider_event_id,
        event.provider_event_id
    );

    let metrics = adapter.metrics_text().await;
    assert!(
        metrics.contains("integ_webhook_received_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn unacknowledged_events_come_back_on_a_new_stream_then_die_after_max_attempts() {
    let adapter = Start::new("payments")
        .env("INTEG_EVENTS_MAX_ATTEMPTS", "2")
        .spawn()
        .await
        .unwrap();
    let channel = adapter.channel().await;
    let mut first = consume(channel.clone(), "ledger", &[], 30).await;
    pay(&adapter, 700).await;
    let got = first.take(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    drop(first);

    let mut second = consume(channel.clone(), "ledger", &[], 30).await;
    let again = second.take(1, Duration::from_secs(10)).await;
    assert_eq!(
        again.len(),
        1,
        "a consumer that left without acknowledging gets the event again"
    );
    assert_eq!(
        again[0].event.as_ref().unwrap().id,
        got[0].event.as_ref().unwrap().id
    );
    assert_eq!(again[0].event.as_ref().unwrap().delivery_attempt, 2);
    assert_ne!(
        again[0].ack_id, got[0].ack_id,
        "a redelivery has a new ack id"
    );
    drop(second);

    let mut third = consume(channel.clone(), "ledger", &[], 30).await;
    assert!(
        third.next(Duration::from_millis(1500)).await.is_none(),
        "two attempts used up: dead letter"
    );
    let mut events = EventsServiceClient::new(channel.clone());
    let dead = events
        .list_dead_letters(ListDeadLettersRequest {
            consumer_group: "ledger".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dead.dead_letters.len(), 1);
    assert_eq!(dead.dead_letters[0].delivery_attempts, 2);

    let requeued = events
        .requeue_dead_letters(RequeueDeadLettersRequest {
            consumer_group: "ledger".into(),
            all: true,
            idempotency_key: "rq-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(requeued.requeued_count, 1);
    let back = third.take(1, Duration::from_secs(10)).await;
    assert_eq!(back.len(), 1, "a requeued dead letter is delivered again");
    assert_eq!(back[0].event.as_ref().unwrap().delivery_attempt, 1);
    third.ack(&back).await;
}

#[tokio::test]
async fn replay_redelivers_acknowledged_events_and_filters_hold() {
    let adapter = Start::new("payments").spawn().await.unwrap();
    let channel = adapter.channel().await;
    let start = prost_types::Timestamp::from(std::time::SystemTime::now() - Duration::from_secs(5));
    let mut payments_only = consume(channel.clone(), "audit", &["payment.succeeded"], 30).await;
    let mut nothing = consume(channel.clone(), "refunds", &["refund."], 30).await;
    pay(&adapter, 900).await;
    let got = payments_only.take(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    payments_only.ack(&got).await;
    assert!(
        nothing.next(Duration::from_millis(1000)).await.is_none(),
        "filters hold"
    );

    let mut events = EventsServiceClient::new(channel.clone());
    let replayed = events
        .replay_events(ReplayEventsRequest {
            consumer_group: "audit".into(),
            start_time: Some(start),
            idempotency_key: "rp-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.replayed_count, 1);
    let again = payments_only.take(1, Duration::from_secs(10)).await;
    assert_eq!(
        again[0].event.as_ref().unwrap().id,
        got[0].event.as_ref().unwrap().id
    );

    let err = events
        .replay_events(ReplayEventsRequest {
            consumer_group: "nope".into(),
            start_time: Some(start),
            idempotency_key: "rp-2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let mut client = EventsServiceClient::new(channel);
    let (tx, rx) = mpsc::channel(1);
    tx.send(subscription("audit", &["payment."], 30))
        .await
        .unwrap();
    let err = client
        .stream_events(ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::FailedPrecondition,
        "a group's filter is fixed at creation"
    );
}

#[tokio::test]
async fn an_event_answered_2xx_survives_kill_9_and_is_delivered_after_restart() {
    let adapter = Start::new("payments").spawn().await.unwrap();
    let channel = adapter.channel().await;
    // Create the group, then leave, so that the event waits in the store when the process dies.
    drop(consume(channel.clone(), "crash", &[], 30).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    pay(&adapter, 1234).await;
    assert!(
        adapter
            .wait_for_log("webhook stored", Duration::from_secs(10))
            .await,
        "the webhook was answered after storing"
    );
    let data = adapter.kill9().await;

    let adapter = Start::new("payments").data(data).spawn().await.unwrap();
    let mut consumer = consume(adapter.channel().await, "crash", &[], 30).await;
    let got = consumer.take(1, Duration::from_secs(10)).await;
    assert_eq!(
        got.len(),
        1,
        "the stored event is delivered after the crash"
    );
    assert_eq!(got[0].event.as_ref().unwrap().r#type, "payment.succeeded");
}

#[tokio::test]
async fn an_open_stream_ends_at_shutdown_and_does_not_hold_up_the_drain() {
    let mut adapter = Start::new("payments").spawn().await.unwrap();
    let mut consumer = consume(adapter.channel().await, "drain", &["payment."], 60).await;
    pay(&adapter, 1700).await;
    let leased = consumer.take(1, Duration::from_secs(10)).await;
    assert_eq!(
        leased.len(),
        1,
        "an unacknowledged event is held by the stream"
    );

    let started = std::time::Instant::now();
    adapter.signal_term();
    let ended = tokio::time::timeout(Duration::from_secs(3), consumer.rx.message())
        .await
        .expect("the stream ends when shutdown begins");
    let status = ended.expect_err("it ends with a status the consumer can act on");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(adapter.wait().await, Some(0));
    // The testkit's grace is 5 s; a stream that held the drain up would take all of it.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(adapter.logs().iter().any(|l| l.contains("drained")));
}
