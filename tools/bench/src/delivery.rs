//! Delivery throughput: N notifications to a loopback receiver that answers after a fixed
//! latency, through the real delivery service on the embedded queue.
//!
//! Baseline: the sequential lower bound, N × latency (what one-at-a-time delivery could
//! at best achieve). Goal: ≥ 8× faster than that with batches of 10.

use crate::measure::{cpu_time, peak_rss_kib};
use callback_receiver::{Receiver, Reply};
use sage_events_core::clock::SystemClock;
use sage_events_core::delivery::sender::CallbackSender;
use sage_events_core::delivery::service::{Deliverer, DeliveryDeps, DeliverySettings, settle};
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::event::{ChangeEvent, EventType, InstanceRef, NotificationBuilder};
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::ports::{
    EventQueue, InstanceRecord, InstanceStore, OutgoingMessage, QueueConsumer, SecretStore,
};
use sage_events_core::sage::{AppCredentials, TokenSet};
use sage_events_core::secret::Secret;
use sage_events_core::ssrf::AddressPolicy;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub async fn run(args: &[String]) -> Result<(), String> {
    let count = flag(args, "--notifications", 1000) as usize;
    let latency = Duration::from_millis(flag(args, "--latency-ms", 50));
    let batch = 10usize;

    let receiver = Receiver::start().await.map_err(|e| e.to_string())?;
    receiver.set_default_reply(Reply::Slow(latency));
    let key = Secret::new("whsec_YmVuY2htYXJrLWtleS1iZW5jaG1hcmsta2V5");
    receiver.set_key(key.clone());

    let store = EmbeddedStore::open_in_memory(
        SecretKey::generate().map_err(|e| e.to_string())?,
        Arc::new(SystemClock),
    )
    .map_err(|e| e.to_string())?;
    let instance = setup_instance(&store, &receiver.url("/hook"), key).await?;
    enqueue(&store, instance, count).await?;

    let sender = CallbackSender::new(
        AddressPolicy {
            allow_loopback: true,
        },
        Duration::from_secs(15),
    )?;
    let deliverer = Deliverer::new(
        DeliveryDeps {
            instances: Arc::new(store.clone()),
            secrets: Arc::new(store.clone()),
            sender,
            clock: Arc::new(SystemClock),
        },
        DeliverySettings {
            concurrency: batch,
            ..DeliverySettings::default()
        },
    );
    let consumer: &dyn QueueConsumer = &store;

    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut delivered = 0usize;
    loop {
        let messages = consumer
            .receive(batch, Duration::from_secs(60))
            .await
            .map_err(|e| e.to_string())?;
        if messages.is_empty() {
            break;
        }
        let results = deliverer.deliver_batch(messages).await;
        delivered += results.len();
        let kept = settle(consumer, &results, true).await;
        if !kept.is_empty() {
            return Err(format!("{} deliveries failed", kept.len()));
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);

    let verified = receiver.accepted().iter().filter(|r| r.verified).count();
    let sequential = latency * count as u32;
    println!(
        "delivery benchmark: {count} notifications, receiver latency {} ms, batches of {batch}",
        latency.as_millis()
    );
    println!("  delivered (verified by receiver): {delivered} ({verified})");
    println!(
        "  wall time:                        {:.2} s",
        wall.as_secs_f64()
    );
    println!(
        "  sequential lower bound:           {:.2} s",
        sequential.as_secs_f64()
    );
    println!(
        "  speed-up vs sequential:           {:.1}x (goal >= 8x)",
        sequential.as_secs_f64() / wall.as_secs_f64()
    );
    println!(
        "  CPU time per delivery:            {:.0} us (process total incl. receiver)",
        cpu.as_micros() as f64 / count as f64
    );
    println!(
        "  peak RSS:                         {} MiB",
        peak_rss_kib() / 1024
    );
    if verified != count {
        return Err(format!("only {verified} of {count} deliveries verified"));
    }
    Ok(())
}

async fn setup_instance(store: &EmbeddedStore, url: &str, key: Secret) -> Result<u64, String> {
    let instances: &dyn InstanceStore = store;
    let secrets: &dyn SecretStore = store;
    let id = instances.next_id().await.map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    let configuration = serde_json::json!({ "event.notification.callback.url": url });
    instances
        .create(&InstanceRecord::new(
            id,
            "bench",
            "bench",
            configuration,
            now,
        ))
        .await
        .map_err(|e| e.to_string())?;
    // Delivery never calls Sage: the tokens only have to be well-formed.
    let tokens = TokenSet {
        access_token: Secret::new("unused"),
        access_expires_at: now,
        refresh_token: Secret::new("unused"),
        refresh_expires_at: now,
        scope: None,
        requested_by_id: None,
    };
    let credentials = AppCredentials {
        client_id: "bench".into(),
        client_secret: Secret::new("bench"),
        redirect_uri: "https://bench.example".into(),
    };
    let doc = InstanceSecrets::new(&credentials, tokens, key);
    secrets
        .create(id, &doc.to_json())
        .await
        .map_err(|e| e.to_string())?;
    Ok(id)
}

async fn enqueue(store: &EmbeddedStore, instance: u64, count: usize) -> Result<(), String> {
    let queue: &dyn EventQueue = store;
    let instance_ref = InstanceRef {
        id: instance,
        name: "bench".into(),
        tags: vec![],
    };
    let now = chrono::Utc::now();
    let mut messages = Vec::with_capacity(count);
    for i in 0..count {
        // One event per notification, so the count of notifications is exact.
        let mut builder = NotificationBuilder::new(&instance_ref);
        let pushed = builder.push(ChangeEvent {
            event_type: EventType::Updated,
            object_type: "customers".into(),
            object_id: format!("c{i}"),
            date: now,
            poll_date: now,
            version: "v1".into(),
            record: Some(serde_json::json!({ "id": format!("c{i}"), "name": "Bench Customer" })),
        });
        let notification = pushed
            .or_else(|| builder.finish())
            .ok_or("no notification built")?;
        messages.push(OutgoingMessage {
            id: notification.event_id.clone(),
            body: serde_json::to_string(&notification).map_err(|e| e.to_string())?,
        });
    }
    queue.send(&messages).await.map_err(|e| e.to_string())
}
