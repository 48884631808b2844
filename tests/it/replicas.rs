//! Several replicas on one PostgreSQL database: a consumer group's events are shared between
//! them without being handed to two at once, and a replica that dies loses nothing.

use std::collections::HashMap;
use std::time::Duration;

use integ_testkit::postgres::TestDb;
use integ_testkit::{Running, Start};

use crate::events::{consume, pay};

async fn replica(family: &str, db: &TestDb) -> Running {
    Start::new(family)
        .env("INTEG_DATABASE_URL", db.url())
        .spawn()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_replicas_share_one_group_and_never_hold_an_event_at_once() {
    let db = TestDb::create().unwrap();
    let a = replica("payments", &db).await;
    let b = replica("payments", &db).await;
    let mut on_a = consume(a.channel().await, "ledger", &["payment."], 30).await;
    let mut on_b = consume(b.channel().await, "ledger", &["payment."], 30).await;

    const N: i64 = 40;
    for i in 0..N {
        let adapter = if i % 2 == 0 { &a } else { &b };
        pay(adapter, 100 + i).await;
    }

    // Hold each batch unacknowledged for a moment so that overlapping leases would show.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < N as usize && tokio::time::Instant::now() < deadline {
        for consumer in [&mut on_a, &mut on_b] {
            if let Some(batch) = consumer.next(Duration::from_millis(200)).await {
                for r in &batch {
                    *seen
                        .entry(r.event.as_ref().unwrap().id.clone())
                        .or_default() += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                consumer.ack(&batch).await;
            }
        }
    }
    assert_eq!(seen.len(), N as usize, "every event is delivered");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice while leased: {twice:?}");
}

#[tokio::test]
async fn events_leased_by_a_replica_that_dies_reach_the_other() {
    let db = TestDb::create().unwrap();
    let a = replica("payments", &db).await;
    let b = replica("payments", &db).await;
    let mut on_a = consume(a.channel().await, "audit", &[], 10).await;
    pay(&b, 4242).await;
    let held = on_a.take(1, Duration::from_secs(10)).await;
    assert_eq!(held.len(), 1);
    a.kill9().await;

    let mut on_b = consume(b.channel().await, "audit", &[], 30).await;
    let got = on_b.take(1, Duration::from_secs(25)).await;
    assert_eq!(
        got.len(),
        1,
        "the lease of the dead replica expires and the event moves on"
    );
    assert_eq!(
        got[0].event.as_ref().unwrap().id,
        held[0].event.as_ref().unwrap().id
    );
    assert_eq!(got[0].event.as_ref().unwrap().delivery_attempt, 2);
}

#[tokio::test]
async fn families_sharing_a_database_keep_their_events_apart() {
    let db = TestDb::create().unwrap();
    let payments = replica("payments", &db).await;
    let messaging = replica("messaging", &db).await;
    let mut mail = consume(messaging.channel().await, "everything", &[], 30).await;
    let mut money = consume(payments.channel().await, "everything", &[], 30).await;
    pay(&payments, 777).await;
    let got = money.take(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(
        mail.next(Duration::from_secs(2)).await.is_none(),
        "each family has its own schema, so its own events and groups"
    );
}
