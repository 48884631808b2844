//! The inbox and the queue on the store itself, on SQLite and on the local PostgreSQL: many
//! webhooks stored at once share commits (group commit), duplicates are absorbed, events reach a
//! consumer group, and retention deletes what is past it.

use std::sync::Arc;

use integ_core::config::Env;
use integ_core::events::NewEvent;
use integ_core::events::inbox::{Inbox, Stored};
use integ_core::events::queue::{Group, Queue};
use integ_core::store::{Store, StoreConfig};
use integ_testkit::TempDir;
use integ_testkit::postgres::TestDb;
use tokio::sync::Notify;

fn event(n: usize) -> NewEvent {
    NewEvent {
        provider: "stripe".into(),
        account: String::new(),
        provider_event_id: format!("evt_inbox_{n}"),
        event_type: "payment.succeeded".into(),
        provider_type: "payment_intent.succeeded".into(),
        resource_kind: "payment".into(),
        resource_provider_id: format!("pi_inbox_{n}"),
        occur_ms: 1_700_000_000_000 + n as i64,
        payload: format!(r#"{{"id":"evt_inbox_{n}"}}"#).into_bytes(),
    }
}

async fn open(url: Option<String>, dir: &TempDir) -> Store {
    let mut pairs = Vec::new();
    if let Some(url) = url {
        pairs.push(("INTEG_DATABASE_URL".to_owned(), url));
    }
    let env = Env::from_pairs(pairs);
    let config =
        StoreConfig::from_env(&env, &dir.path().join("inbox.db"), "integ_payments").unwrap();
    Store::open(&config).await.unwrap()
}

async fn suite(store: Store) {
    let queue = Queue::new(store.clone(), 5);
    let group = Group {
        name: "ledger".into(),
        type_prefixes: vec!["payment.".into()],
        providers: vec![],
    };
    queue.ensure_group(&group).await.unwrap();
    let inbox = Inbox::start(store, Arc::new(Notify::new()));

    let submits = (0..200).map(|n| {
        let inbox = inbox.clone();
        async move { inbox.submit(event(n)).await.unwrap() }
    });
    let stored = futures_util::future::join_all(submits).await;
    assert!(stored.iter().all(|s| matches!(s, Stored::New(_))));
    let commits = inbox.commits();
    assert!(
        commits < 200,
        "200 concurrent events took {commits} commits: no group commit"
    );

    let again = inbox.submit(event(7)).await.unwrap();
    let Stored::New(first) = &stored[7] else {
        unreachable!()
    };
    assert_eq!(
        again,
        Stored::Duplicate(first.clone()),
        "the same event id is absorbed"
    );

    let leases = queue
        .lease("ledger", 1000, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(leases.len(), 200, "each event reaches the group once");

    // Retention: everything received before the cutoff goes, deliveries included.
    let cutoff = integ_core::store::now_ms() + 1;
    assert_eq!(queue.prune(cutoff).await.unwrap(), 200);
    assert!(queue.event(first).await.unwrap().is_none());
    assert!(queue.backlog().await.unwrap().is_empty());
}

#[tokio::test]
async fn group_commit_duplicates_delivery_and_retention_on_sqlite() {
    let dir = TempDir::new("inbox");
    suite(open(None, &dir).await).await;
}

#[tokio::test]
async fn group_commit_duplicates_delivery_and_retention_on_postgres() {
    let db = TestDb::create().unwrap();
    let dir = TempDir::new("inbox-pg");
    suite(open(Some(db.url()), &dir).await).await;
}
