//! Delivery end to end: notifications on the queue → signed POSTs to a real loopback
//! receiver → ack / retry with backoff / dead-letter, on the embedded adapters.
#![cfg(feature = "embedded")]

#[allow(dead_code)]
mod support;

use callback_receiver::{Receiver, Reply};
use chrono::{TimeZone, Utc};
use sage_events_core::clock::{Clock, ManualClock};
use sage_events_core::delivery::sender::CallbackSender;
use sage_events_core::delivery::service::{
    Deliverer, DeliveryDeps, DeliverySettings, Disposition, settle,
};
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::event::{ChangeEvent, EventType, InstanceRef, build_notifications};
use sage_events_core::ports::{EventQueue, InstanceStore, OutgoingMessage, QueueConsumer};
use sage_events_core::secret::Secret;
use sage_events_core::ssrf::AddressPolicy;
use std::sync::Arc;
use std::time::Duration;

struct World {
    store: EmbeddedStore,
    clock: ManualClock,
    deliverer: Deliverer,
}

fn world() -> World {
    let clock = ManualClock::new(Utc::now());
    let store =
        EmbeddedStore::open_in_memory(SecretKey::generate().unwrap(), Arc::new(clock.clone()))
            .expect("store");
    let sender = CallbackSender::new(
        AddressPolicy {
            allow_loopback: true,
        },
        Duration::from_secs(2),
    )
    .unwrap();
    let deps = DeliveryDeps {
        instances: Arc::new(store.clone()),
        secrets: Arc::new(store.clone()),
        sender,
        clock: Arc::new(clock.clone()),
    };
    let deliverer = Deliverer::new(deps, DeliverySettings::default());
    World {
        store,
        clock,
        deliverer,
    }
}

fn key_for(id: u64) -> Secret {
    Secret::new(format!("whsec_{}", base64_of(&[id as u8; 24])))
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn add_instance(world: &World, callback: &str) -> u64 {
    support::fixtures::instance_with_callback(&world.store, &world.store, callback, key_for).await
}

async fn enqueue(world: &World, instance: u64, objects: usize) -> Vec<String> {
    let instance_ref = InstanceRef {
        id: instance,
        name: format!("instance {instance}"),
        tags: vec![],
    };
    let now = world.clock.now();
    let events = (0..objects).map(|i| ChangeEvent {
        event_type: EventType::Created,
        object_type: "customers".into(),
        object_id: format!("obj{i}"),
        date: now,
        poll_date: now,
        version: "v1".into(),
        record: Some(serde_json::json!({ "id": format!("obj{i}") })),
    });
    let notifications = build_notifications(&instance_ref, events);
    let messages: Vec<OutgoingMessage> = notifications
        .iter()
        .map(|n| OutgoingMessage {
            id: n.event_id.clone(),
            body: serde_json::to_string(n).unwrap(),
        })
        .collect();
    let queue: &dyn EventQueue = &world.store;
    queue.send(&messages).await.unwrap();
    notifications.into_iter().map(|n| n.event_id).collect()
}

/// One worker pass: receive, deliver, settle. Returns the dispositions.
async fn pass(world: &World) -> Vec<Disposition> {
    let consumer: &dyn QueueConsumer = &world.store;
    let messages = consumer.receive(10, Duration::from_secs(60)).await.unwrap();
    let results = world.deliverer.deliver_batch(messages).await;
    settle(consumer, &results, true).await;
    results.into_iter().map(|(_, d)| d).collect()
}

#[tokio::test]
async fn delivered_once_with_both_signatures_valid() {
    let world = world();
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&world, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    let ids = enqueue(&world, id, 3).await;
    assert_eq!(pass(&world).await, vec![Disposition::Done]);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].verified, "{:?}", got[0].verify_error);
    assert_eq!(got[0].webhook_id.as_deref(), Some(ids[0].as_str()));
    let body = got[0].json();
    assert_eq!(body["message"]["eventId"], ids[0].as_str());
    assert_eq!(body["message"]["events"].as_array().unwrap().len(), 3);
    // Nothing left: a second pass finds an empty queue.
    assert!(pass(&world).await.is_empty());
    let record = InstanceStore::get(&world.store, id).await.unwrap().unwrap();
    assert_eq!(record.delivery.consecutive_failures, 0);
    assert!(record.delivery.last_status.unwrap().contains("delivered"));
}

#[tokio::test]
async fn failing_three_times_then_delivered_with_the_same_webhook_id_and_backoff() {
    let world = world();
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&world, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    receiver.script([Reply::Status(500), Reply::Status(503), Reply::Status(502)]);
    enqueue(&world, id, 1).await;

    let nominal = [4.0, 16.0, 64.0];
    for expected in nominal {
        let dispositions = pass(&world).await;
        let [Disposition::RetryAfter(delay)] = dispositions.as_slice() else {
            panic!("expected one retry, got {dispositions:?}");
        };
        let secs = delay.as_secs_f64();
        assert!(
            secs >= expected * 0.8 - 0.001 && secs <= expected * 1.2 + 0.001,
            "delay {secs}s not within ±20% of {expected}s"
        );
        // Not visible before the delay…
        assert!(pass(&world).await.is_empty());
        // …and visible after it.
        world
            .clock
            .advance(chrono::Duration::milliseconds((secs * 1000.0) as i64 + 1));
    }
    assert_eq!(pass(&world).await, vec![Disposition::Done]);
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.webhook_id.clone()).collect();
    assert_eq!(ids.len(), 1, "the webhook id must be stable across retries");
    assert!(got.iter().all(|r| r.verified));
    let record = InstanceStore::get(&world.store, id).await.unwrap().unwrap();
    assert_eq!(record.delivery.consecutive_failures, 0);
}

#[tokio::test]
async fn gone_dead_letters_and_disables_delivery_for_the_instance() {
    let world = world();
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&world, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    receiver.script([Reply::Status(410)]);
    enqueue(&world, id, 1).await;
    let dispositions = pass(&world).await;
    assert!(matches!(dispositions.as_slice(), [Disposition::DeadLetter(r)] if r.contains("410")));
    let record = InstanceStore::get(&world.store, id).await.unwrap().unwrap();
    assert!(record.delivery.disabled_reason.is_some());
    // Later notifications for the instance go straight to the dead-letter queue.
    enqueue(&world, id, 1).await;
    let dispositions = pass(&world).await;
    assert!(
        matches!(dispositions.as_slice(), [Disposition::DeadLetter(r)] if r.contains("disabled"))
    );
    assert_eq!(receiver.received().len(), 1);
    let dead = world.store.list_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 2);
}

#[tokio::test]
async fn one_bad_endpoint_in_a_batch_of_ten_fails_alone() {
    let world = world();
    let good = Receiver::start().await.unwrap();
    let bad = Receiver::start().await.unwrap();
    bad.set_default_reply(Reply::Status(500));
    let mut good_ids = Vec::new();
    for _ in 0..9 {
        let id = add_instance(&world, &good.url("/hook")).await;
        good_ids.push(id);
        enqueue(&world, id, 1).await;
    }
    let bad_id = add_instance(&world, &bad.url("/hook")).await;
    let bad_event = enqueue(&world, bad_id, 1).await;

    let consumer: &dyn QueueConsumer = &world.store;
    let messages = consumer.receive(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(messages.len(), 10);
    let results = world.deliverer.deliver_batch(messages).await;
    let kept = settle(consumer, &results, false).await;
    assert_eq!(kept.len(), 1, "only the bad endpoint's message stays");
    let kept_message = results.iter().find(|(m, _)| m.receipt == kept[0]).unwrap();
    assert_eq!(kept_message.0.id, bad_event[0]);
    assert_eq!(good.received().len(), 9);
}

#[tokio::test]
async fn gives_up_after_max_receive_count_and_replay_delivers() {
    let world = world();
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&world, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    receiver.set_default_reply(Reply::Status(500));
    enqueue(&world, id, 1).await;
    let max = world.deliverer.settings().max_receive_count;
    for attempt in 1..=max {
        let dispositions = pass(&world).await;
        assert_eq!(dispositions.len(), 1, "attempt {attempt}");
        if attempt < max {
            assert!(matches!(dispositions[0], Disposition::RetryAfter(_)));
        } else {
            assert!(
                matches!(&dispositions[0], Disposition::DeadLetter(r) if r.contains("gave up"))
            );
        }
        world.clock.advance(chrono::Duration::hours(13));
    }
    assert_eq!(world.store.list_dead_letters(10).await.unwrap().len(), 1);

    // The receiver is fixed; replay brings the notification back and it lands.
    receiver.set_default_reply(Reply::Status(200));
    // Back to the wall clock: the receiver checks the signature timestamp against it.
    world.clock.set(Utc::now());
    assert_eq!(world.store.replay_dead_letters(Some(id)).await.unwrap(), 1);
    assert_eq!(pass(&world).await, vec![Disposition::Done]);
    assert!(world.store.list_dead_letters(10).await.unwrap().is_empty());
    assert_eq!(receiver.accepted().len(), 1);
    assert!(receiver.accepted()[0].verified);
}

#[tokio::test]
async fn unreadable_messages_and_deleted_instances_are_dead_lettered_not_dropped() {
    let world = world();
    let queue: &dyn EventQueue = &world.store;
    queue
        .send(&[OutgoingMessage {
            id: "junk".into(),
            body: "not json".into(),
        }])
        .await
        .unwrap();
    let dispositions = pass(&world).await;
    assert!(matches!(&dispositions[0], Disposition::DeadLetter(r) if r.contains("unreadable")));

    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&world, &receiver.url("/hook")).await;
    enqueue(&world, id, 1).await;
    let instances: &dyn InstanceStore = &world.store;
    instances.delete(id).await.unwrap();
    let dispositions = pass(&world).await;
    assert!(
        matches!(&dispositions[0], Disposition::DeadLetter(r) if r.contains("no longer exists"))
    );
    assert_eq!(world.store.list_dead_letters(10).await.unwrap().len(), 2);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn receiver_retry_after_is_honoured() {
    let world = world();
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&world, &receiver.url("/hook")).await;
    receiver.script([Reply::StatusRetryAfter(429, 600)]);
    enqueue(&world, id, 1).await;
    let dispositions = pass(&world).await;
    assert_eq!(
        dispositions,
        vec![Disposition::RetryAfter(Duration::from_secs(600))]
    );
}

#[test]
fn start_of_epoch_is_not_special() {
    // Guard for the fixture clock above: ManualClock starts where it is told.
    let c = ManualClock::new(Utc.timestamp_opt(0, 0).unwrap());
    assert_eq!(c.now().timestamp(), 0);
}
