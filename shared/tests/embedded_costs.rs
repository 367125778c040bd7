//! What the embedded store's hot paths cost in durable commits (one fsync each under
//! `synchronous=FULL`), and the schedule-change signal the runner's scheduler relies on.
#![cfg(feature = "embedded")]

use chrono::Utc;
use sage_events_core::clock::SystemClock;
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::ports::{
    EventQueue, InstanceRecord, InstanceStore, OutgoingMessage, PollScheduler, QueueConsumer,
    SecretStore,
};
use std::sync::Arc;
use std::time::Duration;

fn store() -> EmbeddedStore {
    EmbeddedStore::open_in_memory(SecretKey::generate().unwrap(), Arc::new(SystemClock)).unwrap()
}

#[tokio::test]
async fn an_empty_receive_commits_nothing_and_a_full_one_commits_once() {
    let store = store();
    let before = store.commit_count();
    for _ in 0..10 {
        let got = QueueConsumer::receive(&store, 10, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(got.is_empty());
    }
    assert_eq!(store.commit_count(), before, "idle receives wrote");

    EventQueue::send(
        &store,
        &[OutgoingMessage {
            id: "m1".into(),
            body: "{}".into(),
        }],
    )
    .await
    .unwrap();
    let sent = store.commit_count();
    let got = QueueConsumer::receive(&store, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(store.commit_count(), sent + 1);
    // Hidden now: the next receive finds nothing visible and writes nothing.
    let got = QueueConsumer::receive(&store, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(got.is_empty());
    assert_eq!(store.commit_count(), sent + 1);
}

#[tokio::test]
async fn reads_commit_nothing() {
    let store = store();
    let id = InstanceStore::next_id(&store).await.unwrap();
    InstanceStore::create(
        &store,
        &InstanceRecord::new(id, "org", "name", serde_json::json!({}), Utc::now()),
    )
    .await
    .unwrap();
    SecretStore::create(&store, id, "{\"secret\":1}")
        .await
        .unwrap();
    PollScheduler::upsert(&store, id, 5).await.unwrap();
    let before = store.commit_count();
    for _ in 0..3 {
        assert!(InstanceStore::get(&store, id).await.unwrap().is_some());
        assert!(SecretStore::get(&store, id).await.unwrap().is_some());
        assert_eq!(PollScheduler::get(&store, id).await.unwrap(), Some(5));
        assert_eq!(store.all_schedules().await.unwrap(), vec![(id, 5)]);
    }
    assert_eq!(store.commit_count(), before);
}

#[tokio::test]
async fn every_schedule_write_moves_the_schedules_version_and_nothing_else_does() {
    let store = store();
    let clone = store.clone();
    let v0 = store.schedules_version();
    PollScheduler::upsert(&store, 7, 5).await.unwrap();
    let v1 = clone.schedules_version();
    assert_ne!(
        v1, v0,
        "an upsert through one clone is seen through another"
    );
    PollScheduler::upsert(&store, 7, 15).await.unwrap();
    let v2 = store.schedules_version();
    assert_ne!(v2, v1, "a changed interval");
    // Reads and other tables leave it alone.
    let _ = store.all_schedules().await.unwrap();
    let _ = PollScheduler::get(&store, 7).await.unwrap();
    SecretStore::create(&store, 7, "{}").await.unwrap();
    assert_eq!(store.schedules_version(), v2);
    PollScheduler::delete(&store, 7).await.unwrap();
    assert_ne!(store.schedules_version(), v2, "a delete");
}
