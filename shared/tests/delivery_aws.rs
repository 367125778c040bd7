//! Delivery on the AWS adapters (SQS, DynamoDB, Secrets Manager on moto_server) with a
//! real loopback receiver that verifies both signature schemes.
#![cfg(feature = "aws")]

#[allow(dead_code)]
mod support;

use callback_receiver::{Receiver, Reply};
use chrono::Utc;
use sage_events_core::aws::{DynamoInstanceStore, SecretsManagerStore, SqsQueue};
use sage_events_core::clock::SystemClock;
use sage_events_core::delivery::retry::RetrySchedule;
use sage_events_core::delivery::sender::CallbackSender;
use sage_events_core::delivery::service::{
    Deliverer, DeliveryDeps, DeliverySettings, Disposition, settle,
};
use sage_events_core::event::{ChangeEvent, EventType, InstanceRef, build_notifications};
use sage_events_core::ports::{EventQueue, InstanceStore, OutgoingMessage, QueueConsumer};
use sage_events_core::secret::Secret;
use sage_events_core::ssrf::AddressPolicy;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::moto;

struct World {
    instances: Arc<DynamoInstanceStore>,
    secrets: Arc<SecretsManagerStore>,
    queue: Arc<SqsQueue>,
    dlq: Arc<SqsQueue>,
    deliverer: Deliverer,
}

async fn world() -> World {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    let queues = moto::create_queue(&config).await;
    let instances = Arc::new(DynamoInstanceStore::from_config(&config, &table));
    let secrets = Arc::new(SecretsManagerStore::from_config(
        &config,
        moto::unique("sage-events/instances/") + "/",
    ));
    let queue = Arc::new(
        SqsQueue::from_config(&config, &queues.url).with_dead_letter_queue(&queues.dlq_url),
    );
    let dlq = Arc::new(SqsQueue::from_config(&config, &queues.dlq_url));
    let deliverer = Deliverer::new(
        DeliveryDeps {
            instances: instances.clone(),
            secrets: secrets.clone(),
            sender: CallbackSender::new(
                AddressPolicy {
                    allow_loopback: true,
                },
                Duration::from_secs(2),
            )
            .unwrap(),
            clock: Arc::new(SystemClock),
        },
        // Seconds instead of the production 4ⁿ so the test can wait for real.
        DeliverySettings {
            schedule: RetrySchedule::parse("1,2,60").unwrap(),
            ..DeliverySettings::default()
        },
    );
    World {
        instances,
        secrets,
        queue,
        dlq,
        deliverer,
    }
}

fn key_for(id: u64) -> Secret {
    Secret::new(format!(
        "whsec_{}",
        "a".repeat(24).replace('a', &format!("{}", id % 10))
    ))
}

async fn add_instance(w: &World, callback: &str) -> u64 {
    support::fixtures::instance_with_callback(
        w.instances.as_ref(),
        w.secrets.as_ref(),
        callback,
        key_for,
    )
    .await
}

async fn enqueue(w: &World, instance: u64) -> String {
    let instance_ref = InstanceRef {
        id: instance,
        name: format!("instance {instance}"),
        tags: vec![],
    };
    let now = Utc::now();
    let notifications = build_notifications(
        &instance_ref,
        [ChangeEvent {
            event_type: EventType::Updated,
            object_type: "customers".into(),
            object_id: format!("obj-{instance}"),
            date: now,
            poll_date: now,
            version: "v1".into(),
            record: Some(serde_json::json!({ "id": format!("obj-{instance}") })),
        }],
    );
    let n = &notifications[0];
    w.queue
        .send(&[OutgoingMessage {
            id: n.event_id.clone(),
            body: serde_json::to_string(n).unwrap(),
        }])
        .await
        .unwrap();
    n.event_id.clone()
}

/// One Lambda-like pass: receive a batch, deliver, settle as the SQS event source would
/// (delivered messages deleted), returning the dispositions.
async fn pass(w: &World) -> Vec<Disposition> {
    let consumer: &dyn QueueConsumer = w.queue.as_ref();
    let messages = consumer.receive(10, Duration::from_secs(30)).await.unwrap();
    let results = w.deliverer.deliver_batch(messages).await;
    settle(consumer, &results, true).await;
    results.into_iter().map(|(_, d)| d).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_once_with_valid_signatures() {
    let w = world().await;
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&w, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    let event_id = enqueue(&w, id).await;
    assert_eq!(pass(&w).await, vec![Disposition::Done]);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].verified, "{:?}", got[0].verify_error);
    assert_eq!(got[0].webhook_id.as_deref(), Some(event_id.as_str()));
    assert!(pass(&w).await.is_empty(), "deleted after delivery");
    let record = w.instances.get(id).await.unwrap().unwrap();
    assert!(record.delivery.last_status.unwrap().contains("delivered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_three_times_then_delivered_with_visibility_per_schedule() {
    let w = world().await;
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&w, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    receiver.script([Reply::Status(500), Reply::Status(502), Reply::Status(429)]);
    enqueue(&w, id).await;
    let mut delays = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "not delivered in time; delays so far {delays:?}"
        );
        match pass(&w).await.as_slice() {
            [] => tokio::time::sleep(Duration::from_millis(200)).await,
            [Disposition::RetryAfter(d)] => {
                delays.push(*d);
                // Hidden for the delay: an immediate receive finds nothing.
                assert!(pass(&w).await.is_empty(), "visible again too early");
            }
            [Disposition::Done] => break,
            other => panic!("{other:?}"),
        }
    }
    // 1 s, 2 s, 4 s ±20 % (rounded up to whole seconds by SQS).
    let secs: Vec<f64> = delays.iter().map(Duration::as_secs_f64).collect();
    assert_eq!(secs.len(), 3, "{secs:?}");
    for (got, nominal) in secs.iter().zip([1.0, 2.0, 4.0]) {
        assert!(
            *got >= nominal * 0.8 - 0.01 && *got <= nominal * 1.2 + 0.01,
            "{secs:?}"
        );
    }
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    assert!(
        got.iter().all(|r| r.webhook_id == got[0].webhook_id),
        "stable webhook id"
    );
    assert!(got.iter().all(|r| r.verified));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_is_dead_lettered_with_a_copy_and_the_instance_flagged() {
    let w = world().await;
    let receiver = Receiver::start().await.unwrap();
    let id = add_instance(&w, &receiver.url("/hook")).await;
    receiver.script([Reply::Status(410)]);
    let event_id = enqueue(&w, id).await;
    let dispositions = pass(&w).await;
    assert!(matches!(dispositions.as_slice(), [Disposition::DeadLetter(r)] if r.contains("410")));
    let record = w.instances.get(id).await.unwrap().unwrap();
    assert!(record.delivery.disabled_reason.is_some());
    let dead = w.dlq.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(dead.len(), 1, "a dead-letter copy exists");
    assert_eq!(dead[0].id, event_id);
    assert!(pass(&w).await.is_empty(), "removed from the event queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_endpoint_among_ten_is_the_only_batch_item_failure() {
    let w = world().await;
    let good = Receiver::start().await.unwrap();
    let bad = Receiver::start().await.unwrap();
    bad.set_default_reply(Reply::Status(503));
    for _ in 0..9 {
        let id = add_instance(&w, &good.url("/hook")).await;
        enqueue(&w, id).await;
    }
    let bad_id = add_instance(&w, &bad.url("/hook")).await;
    let bad_event = enqueue(&w, bad_id).await;
    let consumer: &dyn QueueConsumer = w.queue.as_ref();
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while messages.len() < 10 && Instant::now() < deadline {
        messages.extend(
            consumer
                .receive(10 - messages.len(), Duration::from_secs(30))
                .await
                .unwrap(),
        );
    }
    assert_eq!(messages.len(), 10);
    let results = w.deliverer.deliver_batch(messages).await;
    let kept = settle(consumer, &results, false).await;
    assert_eq!(kept.len(), 1);
    let (message, _) = results.iter().find(|(m, _)| m.receipt == kept[0]).unwrap();
    assert_eq!(message.id, bad_event);
    assert_eq!(good.received().len(), 9);
}
