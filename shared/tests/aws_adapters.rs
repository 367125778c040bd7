//! The AWS adapters against moto: every port contract, plus what is specific to each
//! adapter (stored layout, conditions, batching, error mapping).
//!
//! Needs `moto_server` on PATH (`python3 -m pip install 'moto[server]'`); fails, saying
//! so, without it.
#![cfg(all(feature = "aws", feature = "contract-tests"))]

#[allow(dead_code)]
mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration as TimeDelta, TimeZone, Utc};
use sage_events_core::aws::{
    DynamoInstanceStore, DynamoLeaseStore, DynamoWatermarkStore, EventBridgePollScheduler,
    SecretsManagerStore, SqsQueue, schedule_name,
};
use sage_events_core::ports::contract;
use sage_events_core::ports::{
    DeliveryStatus, EventQueue, InstanceRecord, InstanceStore, LeaseStore, OutgoingMessage,
    PollScheduler, PollStatus, PortErrorKind, QueueConsumer, SecretStore, Watermark,
    WatermarkStore,
};
use std::collections::HashMap;
use std::time::Duration;
use support::fake_sqs::{self, EntryFate};
use support::moto::{self, POLLER_ARN, SCHEDULER_ROLE_ARN};

fn random_id() -> u64 {
    rand::random_range(3_000_000_000_000..4_000_000_000_000)
}

fn record(id: u64, organization: &str) -> InstanceRecord {
    let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    InstanceRecord {
        id,
        organization: organization.to_owned(),
        name: "layout".into(),
        tags: vec![],
        token_hash: "ff".repeat(32),
        configuration: serde_json::json!({"k": "v"}),
        events_enabled: true,
        disabled: false,
        valid: true,
        invalid_reason: None,
        created_at: at,
        updated_at: at,
        poll: PollStatus::default(),
        delivery: DeliveryStatus::default(),
    }
}

async fn raw_item(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> Option<HashMap<String, AttributeValue>> {
    dynamo
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("raw get_item")
        .item()
        .cloned()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.into())
}

// ---------------------------------------------------------------- contracts on moto

#[tokio::test]
async fn dynamodb_instance_store_passes_the_contract() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    contract::instance_store_contract(&DynamoInstanceStore::from_config(&config, table)).await;
}

#[tokio::test]
async fn dynamodb_watermark_store_passes_the_contract() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    contract::watermark_store_contract(&DynamoWatermarkStore::from_config(&config, table)).await;
}

#[tokio::test]
async fn dynamodb_lease_store_passes_the_contract() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    contract::lease_store_contract(
        &DynamoLeaseStore::from_config(&config, &table),
        &DynamoInstanceStore::from_config(&config, table),
    )
    .await;
}

#[tokio::test]
async fn secrets_manager_store_passes_the_contract() {
    let config = moto::sdk_config().await;
    let prefix = format!("{}/", moto::unique("sage-events-test"));
    contract::secret_store_contract(&SecretsManagerStore::from_config(&config, prefix)).await;
}

#[tokio::test]
async fn sqs_queue_passes_the_contract() {
    let config = moto::sdk_config().await;
    let queue = moto::create_queue(&config).await;
    let sqs = SqsQueue::from_config(&config, queue.url);
    contract::event_queue_contract(&sqs, &sqs).await;
}

#[tokio::test]
async fn eventbridge_scheduler_passes_the_contract() {
    let config = moto::sdk_config().await;
    let group = moto::create_schedule_group(&config).await;
    let scheduler =
        EventBridgePollScheduler::from_config(&config, group, POLLER_ARN, SCHEDULER_ROLE_ARN);
    contract::poll_scheduler_contract(&scheduler).await;
}

// ---------------------------------------------------------------- DynamoDB specifics

#[tokio::test]
async fn instance_items_follow_the_documented_layout() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    let store = DynamoInstanceStore::from_config(&config, &table);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);

    let first = store.next_id().await.unwrap();
    let counter = raw_item(&dynamo, &table, "COUNTER", "INSTANCE_ID")
        .await
        .unwrap();
    assert_eq!(counter["next"], AttributeValue::N(first.to_string()));
    assert_eq!(store.next_id().await.unwrap(), first + 1);

    let id = random_id();
    store.create(&record(id, "org-layout")).await.unwrap();
    store
        .set_poll_status(
            id,
            &PollStatus {
                total_events: 9,
                ..PollStatus::default()
            },
        )
        .await
        .unwrap();
    store
        .set_validity(id, false, Some("invalid_grant"))
        .await
        .unwrap();
    let item = raw_item(&dynamo, &table, &format!("INSTANCE#{id}"), "META")
        .await
        .unwrap();
    assert_eq!(item["id"], AttributeValue::N(id.to_string()));
    assert_eq!(item["gsi1pk"], s("ORG#org-layout"));
    assert_eq!(item["gsi1sk"], s(&format!("{id:020}")));
    assert_eq!(item["valid"], AttributeValue::Bool(false));
    assert_eq!(item["invalid_reason"], s("invalid_grant"));
    let poll: serde_json::Value = serde_json::from_str(item["poll"].as_s().unwrap()).unwrap();
    assert_eq!(poll["totalEvents"], 9);
    let body: serde_json::Value = serde_json::from_str(item["body"].as_s().unwrap()).unwrap();
    assert_eq!(body["organization"], "org-layout");
    assert_eq!(body["tokenHash"], "ff".repeat(32));
    assert!(
        body.get("poll").is_none(),
        "poll status must not be inside the body"
    );

    store.set_validity(id, true, None).await.unwrap();
    let item = raw_item(&dynamo, &table, &format!("INSTANCE#{id}"), "META")
        .await
        .unwrap();
    assert!(
        !item.contains_key("invalid_reason"),
        "a cleared reason must be removed"
    );
}

#[tokio::test]
async fn the_lease_lives_on_the_record_and_a_poll_ends_in_one_write() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    let instances = DynamoInstanceStore::from_config(&config, &table);
    let leases = DynamoLeaseStore::from_config(&config, &table);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let id = random_id();
    let now = Utc::now();
    let expires = now + TimeDelta::seconds(30);
    assert!(
        !leases.acquire(id, "poller-a", now, expires).await.unwrap(),
        "no record, no lease"
    );
    instances.create(&record(id, "org-lease")).await.unwrap();
    assert!(leases.acquire(id, "poller-a", now, expires).await.unwrap());
    let item = raw_item(&dynamo, &table, &format!("INSTANCE#{id}"), "META")
        .await
        .unwrap();
    assert_eq!(item["lease_owner"], s("poller-a"));
    assert_eq!(
        item["lease_expires_at"],
        AttributeValue::N(expires.timestamp_millis().to_string())
    );
    // An API update of the record keeps the lease.
    let mut renamed = instances.get(id).await.unwrap().unwrap();
    renamed.name = "Renamed".into();
    instances.update(&renamed).await.unwrap();
    assert!(!leases.acquire(id, "poller-b", now, expires).await.unwrap());

    let status = PollStatus {
        last_poll_at: Some(now),
        total_events: 3,
        ..PollStatus::default()
    };
    assert!(
        leases
            .release_and_record(id, "poller-a", &status)
            .await
            .unwrap(),
        "one UpdateItem: status recorded, lease released"
    );
    let item = raw_item(&dynamo, &table, &format!("INSTANCE#{id}"), "META")
        .await
        .unwrap();
    assert!(!item.contains_key("lease_owner") && !item.contains_key("lease_expires_at"));
    assert_eq!(
        instances.get(id).await.unwrap().unwrap().poll.total_events,
        3
    );
    assert_eq!(instances.get(id).await.unwrap().unwrap().name, "Renamed");
}

#[tokio::test]
async fn a_stale_lease_holder_with_a_lagging_clock_cannot_renew() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    let leases = DynamoLeaseStore::from_config(&config, &table);
    let id = random_id();
    DynamoInstanceStore::from_config(&config, &table)
        .create(&record(id, "org-stale"))
        .await
        .unwrap();
    let t0 = Utc::now();
    let secs = |n| t0 + TimeDelta::seconds(n);
    assert!(leases.acquire(id, "a", t0, secs(30)).await.unwrap());
    // "a" crashed (or stalled); "b" takes over once the lease has expired.
    assert!(leases.acquire(id, "b", secs(31), secs(61)).await.unwrap());
    // "a" wakes up believing its lease is still valid (its clock says t0+10 s).
    assert!(!leases.acquire(id, "a", secs(10), secs(40)).await.unwrap());
    // Its release must not free b's lease.
    leases.release(id, "a").await.unwrap();
    assert!(!leases.acquire(id, "c", secs(32), secs(62)).await.unwrap());
}

#[tokio::test]
async fn watermarks_never_go_backwards_and_keep_millisecond_precision() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    let store = DynamoWatermarkStore::from_config(&config, &table);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let id = random_id();
    let base = Utc.timestamp_opt(1_714_564_800, 123_456_789).unwrap();
    let mark = |at| Watermark {
        at,
        seen: vec!["k".into()],
    };

    assert!(store.advance(id, "invoices", &mark(base)).await.unwrap());
    let item = raw_item(
        &dynamo,
        &table,
        &format!("INSTANCE#{id}"),
        "WATERMARK#invoices",
    )
    .await
    .unwrap();
    assert_eq!(item["at"], AttributeValue::N("1714564800123".into()));
    assert_eq!(item["seen"], AttributeValue::L(vec![s("k")]));
    let loaded = store.load(id, "invoices").await.unwrap().unwrap();
    assert_eq!(
        loaded.at,
        Utc.timestamp_millis_opt(1_714_564_800_123).unwrap()
    );

    // One millisecond back is refused; the stored value stays.
    let back = base - TimeDelta::milliseconds(1);
    assert!(!store.advance(id, "invoices", &mark(back)).await.unwrap());
    assert_eq!(
        store.load(id, "invoices").await.unwrap().unwrap().at,
        loaded.at
    );
    // An hour back from a stale invocation too.
    assert!(
        !store
            .advance(id, "invoices", &mark(base - TimeDelta::hours(1)))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn delete_instance_removes_many_watermarks_but_not_the_record_and_its_lease() {
    let config = moto::sdk_config().await;
    let table = moto::create_table(&config).await;
    let instances = DynamoInstanceStore::from_config(&config, &table);
    let watermarks = DynamoWatermarkStore::from_config(&config, &table);
    let leases = DynamoLeaseStore::from_config(&config, &table);
    let id = random_id();
    instances.create(&record(id, "org-delete")).await.unwrap();
    let now = Utc::now();
    assert!(
        leases
            .acquire(id, "a", now, now + TimeDelta::minutes(5))
            .await
            .unwrap()
    );
    // More than one BatchWriteItem (25) worth of watermarks.
    for i in 0..40 {
        let mark = Watermark {
            at: now,
            seen: vec![],
        };
        assert!(
            watermarks
                .advance(id, &format!("resource-{i}"), &mark)
                .await
                .unwrap()
        );
    }
    watermarks.delete_instance(id).await.unwrap();
    for i in 0..40 {
        assert_eq!(
            watermarks.load(id, &format!("resource-{i}")).await.unwrap(),
            None
        );
    }
    // The lease lives on the record (it goes with the record's own delete).
    assert!(
        !leases
            .acquire(id, "b", now, now + TimeDelta::minutes(5))
            .await
            .unwrap()
    );
    assert!(
        instances.get(id).await.unwrap().is_some(),
        "the record belongs to the instance store"
    );
}

#[tokio::test]
async fn a_missing_table_is_reported_with_its_error_code() {
    let config = moto::sdk_config().await;
    let store = DynamoInstanceStore::from_config(&config, moto::unique("no-such-table"));
    let err = store.get(1).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Other);
    assert!(err.message.contains("ResourceNotFoundException"), "{err}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    moto::moto();
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .load()
        .await;
    let err = DynamoLeaseStore::from_config(&config, "t")
        .acquire(1, "a", Utc::now(), Utc::now())
        .await
        .unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Unavailable, "{err}");
    let err = SecretsManagerStore::from_config(&config, "p/")
        .get(1)
        .await
        .unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Unavailable, "{err}");
}

// ---------------------------------------------------------------- Secrets Manager

#[tokio::test]
async fn secrets_are_named_prefix_plus_id_and_deleted_without_recovery() {
    let config = moto::sdk_config().await;
    let prefix = format!("{}/", moto::unique("sage-events-test"));
    let store = SecretsManagerStore::from_config(&config, &prefix);
    let raw = aws_sdk_secretsmanager::Client::new(&config);
    let id = random_id();
    store.create(id, "{\"v\":1}").await.unwrap();
    let name = format!("{prefix}{id}");
    assert_eq!(store.secret_name(id), name);
    let described = raw.describe_secret().secret_id(&name).send().await.unwrap();
    assert_eq!(described.name(), Some(name.as_str()));

    store.delete(id).await.unwrap();
    // Gone for good, not scheduled for deletion: the name is free again.
    let err = raw
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(&err),
        Some("ResourceNotFoundException")
    );
    store.create(id, "{\"v\":2}").await.unwrap();
    assert_eq!(store.get(id).await.unwrap().as_deref(), Some("{\"v\":2}"));
}

// ---------------------------------------------------------------- SQS

fn messages(n: usize) -> Vec<OutgoingMessage> {
    (0..n)
        .map(|i| OutgoingMessage {
            id: format!("e-{i}"),
            body: format!("{{\"i\":{i}}}"),
        })
        .collect()
}

async fn queue_on(endpoint: &str) -> SqsQueue {
    let config = moto::sdk_config().await;
    let sqs = aws_sdk_sqs::config::Builder::from(&config)
        .endpoint_url(endpoint)
        .build();
    SqsQueue::new(
        aws_sdk_sqs::Client::from_conf(sqs),
        format!("{endpoint}/123456789012/q"),
    )
}

fn times_seen(fake: &fake_sqs::FakeSqs, event_id: &str) -> usize {
    fake.seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.event_id == event_id)
        .count()
}

#[tokio::test]
async fn sqs_retries_server_side_failures_and_reports_sender_faults() {
    let fake = fake_sqs::start(|request, event_id| match event_id {
        "e-5" => EntryFate::SenderFault,
        "e-3" if request == 0 => EntryFate::ServerFault,
        _ => EntryFate::Succeed,
    })
    .await;
    let queue = queue_on(&fake.endpoint).await;
    let err = queue.send(&messages(12)).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Other, "{err}");
    assert!(
        err.message.contains("1 of 12 messages were not queued"),
        "{err}"
    );
    assert!(err.message.contains("InvalidMessageContents"), "{err}");
    assert_eq!(
        times_seen(&fake, "e-3"),
        2,
        "a server-side failure is retried once it succeeds"
    );
    assert_eq!(times_seen(&fake, "e-5"), 1, "sender faults are not retried");
    assert_eq!(times_seen(&fake, "e-11"), 1);
    let first_request: Vec<_> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.request == 0)
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(first_request.len(), 10, "batches hold 10 entries");
}

#[tokio::test]
async fn sqs_gives_up_after_bounded_retries() {
    let fake = fake_sqs::start(|_, event_id| {
        if event_id == "e-1" {
            EntryFate::ServerFault
        } else {
            EntryFate::Succeed
        }
    })
    .await;
    let queue = queue_on(&fake.endpoint).await;
    let err = queue.send(&messages(3)).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Unavailable, "{err}");
    assert!(
        err.message.contains("1 of 3 messages were not queued"),
        "{err}"
    );
    assert!(err.message.contains("InternalError"), "{err}");
    assert_eq!(times_seen(&fake, "e-1"), 4);
    assert_eq!(times_seen(&fake, "e-0"), 1);
}

#[tokio::test]
async fn sqs_send_succeeds_when_every_entry_does() {
    let fake = fake_sqs::start(|_, _| EntryFate::Succeed).await;
    let queue = queue_on(&fake.endpoint).await;
    queue.send(&messages(21)).await.unwrap();
    assert_eq!(fake.seen.lock().unwrap().len(), 21);
}

#[tokio::test]
async fn sqs_messages_carry_the_event_id_attribute_and_long_retries_are_capped() {
    let config = moto::sdk_config().await;
    let queue = moto::create_queue(&config).await;
    let sqs = SqsQueue::from_config(&config, &queue.url);
    sqs.send(&[OutgoingMessage {
        id: "evt:1/ü".into(),
        body: "b".into(),
    }])
    .await
    .unwrap();
    let received = sqs.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, "evt:1/ü");
    // 13 hours exceeds SQS' visibility limit; the adapter caps it instead of failing.
    sqs.retry_after(&received[0].receipt, Duration::from_secs(13 * 3600))
        .await
        .unwrap();
    assert!(
        sqs.receive(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        sqs.receive(0, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sqs_errors_name_the_failure_for_a_missing_queue() {
    let config = moto::sdk_config().await;
    let endpoint = &moto::moto().endpoint;
    let sqs = SqsQueue::from_config(&config, format!("{endpoint}/123456789012/no-such-queue"));
    let err = sqs.send(&messages(1)).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Other, "{err}");
    assert!(
        err.message.contains("NonExistentQueue") || err.message.contains("QueueDoesNotExist"),
        "{err}"
    );
}

// ---------------------------------------------------------------- Scheduler

#[tokio::test]
async fn schedules_target_the_poller_with_the_instance_id() {
    let config = moto::sdk_config().await;
    let group = moto::create_schedule_group(&config).await;
    let scheduler =
        EventBridgePollScheduler::from_config(&config, &group, POLLER_ARN, SCHEDULER_ROLE_ARN);
    let raw = aws_sdk_scheduler::Client::new(&config);
    let id = random_id();
    let stored = || {
        raw.get_schedule()
            .name(schedule_name(id))
            .group_name(&group)
            .send()
    };

    scheduler.upsert(id, 1).await.unwrap();
    let schedule = stored().await.unwrap();
    assert_eq!(schedule.name(), Some(format!("sage-events-{id}").as_str()));
    assert_eq!(schedule.schedule_expression(), Some("rate(1 minute)"));
    assert_eq!(schedule.state().map(|s| s.as_str()), Some("ENABLED"));
    let window = schedule.flexible_time_window().unwrap();
    assert_eq!(window.mode().as_str(), "OFF");
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), POLLER_ARN);
    assert_eq!(target.role_arn(), SCHEDULER_ROLE_ARN);
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input, serde_json::json!({ "instanceId": id }));
    let retry = target.retry_policy().unwrap();
    assert_eq!(retry.maximum_retry_attempts(), Some(2));
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(3600));

    scheduler.upsert(id, 10).await.unwrap();
    let schedule = stored().await.unwrap();
    assert_eq!(schedule.schedule_expression(), Some("rate(10 minutes)"));
    let window = schedule.flexible_time_window().unwrap();
    assert_eq!(window.mode().as_str(), "FLEXIBLE");
    assert_eq!(window.maximum_window_in_minutes(), Some(5));
    assert_eq!(scheduler.get(id).await.unwrap(), Some(10));
}

#[tokio::test]
async fn a_zero_interval_is_refused_and_foreign_expressions_are_corrupt() {
    let config = moto::sdk_config().await;
    let group = moto::create_schedule_group(&config).await;
    let scheduler =
        EventBridgePollScheduler::from_config(&config, &group, POLLER_ARN, SCHEDULER_ROLE_ARN);
    let id = random_id();
    assert_eq!(
        scheduler.upsert(id, 0).await.unwrap_err().kind,
        PortErrorKind::Other
    );
    assert_eq!(scheduler.get(id).await.unwrap(), None);

    aws_sdk_scheduler::Client::new(&config)
        .create_schedule()
        .name(schedule_name(id))
        .group_name(&group)
        .schedule_expression("cron(0 12 * * ? *)")
        .flexible_time_window(
            aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
                .mode(aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            aws_sdk_scheduler::types::Target::builder()
                .arn(POLLER_ARN)
                .role_arn(SCHEDULER_ROLE_ARN)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        scheduler.get(id).await.unwrap_err().kind,
        PortErrorKind::Corrupt
    );
    // upsert takes it over.
    scheduler.upsert(id, 5).await.unwrap();
    assert_eq!(scheduler.get(id).await.unwrap(), Some(5));
}

#[tokio::test]
async fn scheduling_into_a_missing_group_fails() {
    let config = moto::sdk_config().await;
    let scheduler = EventBridgePollScheduler::from_config(
        &config,
        moto::unique("no-such-group"),
        POLLER_ARN,
        SCHEDULER_ROLE_ARN,
    );
    let err = scheduler.upsert(random_id(), 5).await.unwrap_err();
    assert_ne!(err.kind, PortErrorKind::Conflict, "{err}");
}

#[tokio::test]
async fn messages_retried_too_often_move_to_the_dead_letter_queue() {
    let config = moto::sdk_config().await;
    let queue = moto::create_queue(&config).await;
    let sqs = SqsQueue::from_config(&config, &queue.url);
    let dlq = SqsQueue::from_config(&config, &queue.dlq_url);
    sqs.send(&messages(1)).await.unwrap();
    for attempt in 1..=moto::MAX_RECEIVE_COUNT {
        let received = sqs.receive(1, Duration::from_secs(30)).await.unwrap();
        assert_eq!(received.len(), 1, "receive {attempt}");
        assert_eq!(received[0].receive_count, attempt);
        sqs.retry_after(&received[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        sqs.receive(1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = dlq.receive(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, "e-0");
}
