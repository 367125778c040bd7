//! `kill -9` in the middle of deliveries loses nothing: after a restart every queued
//! notification reaches the callback (at least once), and the queue ends empty.

mod support;

use callback_receiver::{Receiver, Reply};
use sage_events_core::embedded::EmbeddedStore;
use std::collections::HashSet;
use std::time::Duration;
use support::{
    TempDir, add_instance, enqueue, free_port, key_for, signal, spawn_serve, wait_exit,
    wait_healthy, write_key,
};

const NOTIFICATIONS: usize = 30;
const ANSWERED_BEFORE_KILL: usize = 5;

fn accepted_ids(receiver: &Receiver) -> HashSet<String> {
    receiver
        .accepted()
        .into_iter()
        .filter(|r| r.verified)
        .filter_map(|r| r.webhook_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_then_restart_delivers_everything() {
    let dir = TempDir::new("crash");
    let database = dir.path("events.db");
    let receiver = Receiver::start().await.unwrap();

    // Work in the database before the runner starts: an instance and its notifications.
    let ids: HashSet<String> = {
        let store = EmbeddedStore::open(&database, write_key(&database)).unwrap();
        let id = add_instance(&store, &receiver.url("/hook")).await;
        receiver.set_key(key_for(id));
        enqueue(&store, id, NOTIFICATIONS)
            .await
            .into_iter()
            .collect()
    };
    assert_eq!(ids.len(), NOTIFICATIONS);

    // First run: a few callbacks are answered, the rest hang — the process dies with
    // deliveries in flight (received from the queue, not acked).
    receiver.script(std::iter::repeat_n(
        Reply::Status(200),
        ANSWERED_BEFORE_KILL,
    ));
    receiver.set_default_reply(Reply::Slow(Duration::from_secs(120)));
    let env = [
        ("ALLOW_LOOPBACK_CALLBACKS", "true"),
        ("SAGE_EVENTS_VISIBILITY_TIMEOUT_SECONDS", "2"),
        ("CALLBACK_TIMEOUT_SECONDS", "60"),
    ];
    let port = free_port();
    let mut first = spawn_serve(&database, port, &env);
    wait_healthy(port, Duration::from_secs(20)).await;
    assert_eq!(
        receiver
            .wait_for(ANSWERED_BEFORE_KILL, Duration::from_secs(20))
            .await,
        ANSWERED_BEFORE_KILL
    );
    // Give the hanging requests a moment to be in flight too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&first, "KILL");
    let status = wait_exit(&mut first, Duration::from_secs(10)).expect("killed");
    assert!(!status.success());
    let before_restart = accepted_ids(&receiver);
    assert!(
        before_restart.len() < NOTIFICATIONS,
        "the kill did not land mid-delivery"
    );

    // Second run: the receiver answers; everything cut off comes back after its
    // visibility timeout and is delivered.
    receiver.set_default_reply(Reply::Status(200));
    let port = free_port();
    let mut second = spawn_serve(&database, port, &env);
    wait_healthy(port, Duration::from_secs(20)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !accepted_ids(&receiver).is_superset(&ids) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing after restart: {} of {NOTIFICATIONS}",
            ids.difference(&accepted_ids(&receiver)).count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the last batch settle (ack), then stop gracefully.
    let store_check = async {
        let store = EmbeddedStore::open(&database, write_key(&database)).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let depth = store.queue_depth().await.unwrap();
            if depth.visible == 0 && depth.in_flight == 0 {
                return depth;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "queue not drained: {depth:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let depth = store_check.await;
    assert_eq!(depth.dead_letters, 0);
    signal(&second, "TERM");
    let status = wait_exit(&mut second, Duration::from_secs(15)).expect("stops");
    assert!(status.success(), "{status:?}");
    // Nothing unknown arrived.
    assert!(accepted_ids(&receiver).is_subset(&ids));
}
