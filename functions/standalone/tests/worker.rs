//! The delivery workers in-process: queued notifications reach a verifying receiver and
//! are acked; failures stay queued for a retry; shutdown stops the loops.

mod support;

use callback_receiver::{Receiver, Reply};
use sage_events_core::clock::SystemClock;
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::settings::Settings;
use sage_events_standalone::runner::deliverer;
use sage_events_standalone::worker::{DeliveryWorkers, WorkerSettings};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use support::{add_instance, enqueue, key_for};
use tokio::sync::watch;

fn store() -> EmbeddedStore {
    EmbeddedStore::open_in_memory(SecretKey::generate().unwrap(), Arc::new(SystemClock)).unwrap()
}

fn workers(store: &EmbeddedStore, settings: WorkerSettings) -> DeliveryWorkers {
    let settings_env = Settings {
        allow_loopback_callbacks: true,
        callback_timeout: Duration::from_secs(5),
        ..Settings::default()
    };
    let deliverer = deliverer(store, &settings_env, Arc::new(SystemClock)).unwrap();
    DeliveryWorkers::new(Arc::new(store.clone()), deliverer, settings)
}

fn fast() -> WorkerSettings {
    WorkerSettings {
        workers: 3,
        batch: 4,
        visibility: Duration::from_secs(30),
        idle: Duration::from_millis(20),
        error_backoff: Duration::from_millis(50),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_notifications_are_delivered_signed_and_acked() {
    let store = store();
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&store, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    let ids = enqueue(&store, id, 9).await;

    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(workers(&store, fast()).run(stopped));
    assert_eq!(receiver.wait_for(9, Duration::from_secs(10)).await, 9);
    // Let the last batch settle, then stop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.queue_depth().await.unwrap() != Default::default() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue not drained: {:?}",
            store.queue_depth().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("workers stop on shutdown")
        .unwrap();

    let received = receiver.received();
    assert_eq!(received.len(), 9, "each notification exactly once");
    assert!(
        received.iter().all(|r| r.verified),
        "{:?}",
        received[0].verify_error
    );
    let got: HashSet<_> = received
        .iter()
        .filter_map(|r| r.webhook_id.clone())
        .collect();
    assert_eq!(got, ids.into_iter().collect::<HashSet<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delivery_stays_queued_for_a_retry() {
    let store = store();
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&store, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    receiver.script([Reply::Status(503)]);
    enqueue(&store, id, 1).await;

    let workers = workers(&store, fast());
    assert_eq!(workers.run_once().await.unwrap(), 1);
    let depth = store.queue_depth().await.unwrap();
    assert_eq!(depth.visible + depth.in_flight, 1, "{depth:?}");
    // Waiting out the backoff delay is the delivery service's business (tested in core);
    // here: nothing is visible right after the failure, so no hot retry loop.
    assert_eq!(workers.run_once().await.unwrap(), 0);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn idle_workers_stop_promptly_and_an_empty_queue_is_not_an_error() {
    let store = store();
    let workers = workers(&store, fast());
    assert_eq!(workers.run_once().await.unwrap(), 0);
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(workers.run(stopped));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), running)
        .await
        .expect("workers stop on shutdown")
        .unwrap();

    // A dropped shutdown sender stops them too.
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(self::workers(&store, fast()).run(stopped));
    drop(stop);
    tokio::time::timeout(Duration::from_secs(2), running)
        .await
        .expect("workers stop when the sender is gone")
        .unwrap();
}
