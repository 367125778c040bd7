//! Contract suites: what every adapter of a port must do, whatever its backend.
//!
//! The AWS adapters run these against moto, the embedded adapters against SQLite; both
//! must pass the same assertions. Each function drives one port through its trait only
//! and panics on the first violation with a message saying what the contract expected.
//!
//! Suites use fresh random instance ids, organizations and message ids, so several may
//! share one backend — except [`event_queue_contract`], which needs a queue of its own
//! (it checks that nothing but its own messages comes back). Timestamps are whole
//! milliseconds: adapters may store time at millisecond precision. Listings are checked
//! right after the writes, so index lag is not tolerated (emulators and SQLite have none).

use super::{
    DeliveryStatus, EventQueue, InstanceRecord, InstanceStore, LeaseStore, OutgoingMessage,
    PollError, PollScheduler, PollStatus, PortError, PortErrorKind, QueueConsumer, ReceivedMessage,
    ResourcePollStats, SecretStore, Watermark, WatermarkStore,
};
use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// A random instance id no other suite run will pick (13 digits, leading 1).
fn fresh_id() -> u64 {
    rand::random_range(1_000_000_000_000..2_000_000_000_000)
}

/// A random tag for organization names and message ids.
fn fresh_tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A fixed, millisecond-precise instant plus `seconds`.
fn at(seconds: i64) -> DateTime<Utc> {
    let base = Utc
        .timestamp_millis_opt(1_714_564_800_123)
        .single()
        .unwrap_or_default();
    base + TimeDelta::seconds(seconds)
}

fn ok<T>(result: Result<T, PortError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("contract: {what}: expected success, got error {err}"),
    }
}

fn fails_with<T: std::fmt::Debug>(
    result: Result<T, PortError>,
    kind: PortErrorKind,
    what: &str,
) -> PortError {
    match result {
        Err(err) if err.kind == kind => err,
        Err(err) => panic!("contract: {what}: expected a {kind:?} error, got {err}"),
        Ok(value) => panic!("contract: {what}: expected a {kind:?} error, got Ok({value:?})"),
    }
}

fn sample_record(id: u64, organization: &str) -> InstanceRecord {
    InstanceRecord {
        id,
        organization: organization.to_owned(),
        name: format!("Sage instance {id} – ünïcødé ✓"),
        tags: vec!["prod".into(), "émoji 🚀".into()],
        token_hash: "0123456789abcdef".repeat(4),
        configuration: serde_json::json!({
            "event.notification.enabled": true,
            "event.notification.callback.url": "https://example.test/hook?a=1&b=2",
            "event.poller.refresh_interval": "5",
            "event.poller.configuration": {
                "contacts": {"url": "/hubs/contacts?where=updated_at>'${date}'", "idField": "id"}
            },
            "nested": {"list": [1, 2.5, null, "x\"y\n"]}
        }),
        events_enabled: true,
        disabled: false,
        valid: true,
        invalid_reason: None,
        created_at: at(0),
        updated_at: at(0),
        poll: PollStatus::default(),
        delivery: DeliveryStatus::default(),
    }
}

fn sample_poll_status() -> PollStatus {
    PollStatus {
        last_poll_at: Some(at(60)),
        last_success_at: Some(at(59)),
        last_error: Some(PollError {
            message: "Sage answered 503".into(),
            at: at(60),
            resource: Some("invoices".into()),
        }),
        last_counts: BTreeMap::from([(
            "contacts".to_owned(),
            ResourcePollStats {
                fetched: 3,
                created: 1,
                updated: 2,
                deleted: 0,
                notifications: 3,
                duration_ms: 420,
                error: None,
            },
        )]),
        total_events: 17,
    }
}

fn sample_delivery_status() -> DeliveryStatus {
    DeliveryStatus {
        last_delivery_at: Some(at(61)),
        last_status: Some("500".into()),
        consecutive_failures: 3,
        disabled_reason: None,
    }
}

fn ids(records: &[InstanceRecord]) -> Vec<u64> {
    records.iter().map(|r| r.id).collect()
}

/// [`InstanceStore`]: ids, create/get round trip, conflicts, NotFound on every write to a
/// missing record, `update` leaving poll/delivery status and validity alone, listing per
/// organization in id order with `after`/`limit` paging, idempotent delete.
pub async fn instance_store_contract(store: &dyn InstanceStore) {
    // next_id
    let a = ok(store.next_id().await, "next_id");
    let b = ok(store.next_id().await, "next_id (second call)");
    assert!(
        a > 0 && b > 0,
        "contract: next_id must be positive, got {a} and {b}"
    );
    assert_ne!(
        a, b,
        "contract: next_id must never hand out the same id twice"
    );

    // create / get
    let org = format!("org-{}", fresh_tag());
    let record = sample_record(fresh_id(), &org);
    assert_eq!(
        ok(store.get(record.id).await, "get of a missing id"),
        None,
        "contract: get of an id never created must be None"
    );
    ok(store.create(&record).await, "create");
    assert_eq!(
        ok(store.get(record.id).await, "get after create"),
        Some(record.clone()),
        "contract: get must return the record exactly as created"
    );
    let mut duplicate = record.clone();
    duplicate.name = "duplicate".into();
    fails_with(
        store.create(&duplicate).await,
        PortErrorKind::Conflict,
        "create of an existing id",
    );
    assert_eq!(
        ok(store.get(record.id).await, "get after refused create"),
        Some(record.clone()),
        "contract: a refused create must leave the stored record untouched"
    );

    // status writers
    let poll = sample_poll_status();
    let delivery = sample_delivery_status();
    ok(
        store.set_poll_status(record.id, &poll).await,
        "set_poll_status",
    );
    ok(
        store.set_delivery_status(record.id, &delivery).await,
        "set_delivery_status",
    );
    ok(
        store
            .set_validity(record.id, false, Some("invalid_grant"))
            .await,
        "set_validity(false)",
    );
    let stored = ok(store.get(record.id).await, "get after status writes")
        .expect("contract: record vanished after status writes");
    assert_eq!(
        stored.poll, poll,
        "contract: set_poll_status must store the poll status"
    );
    assert_eq!(
        stored.delivery, delivery,
        "contract: set_delivery_status must store the delivery status"
    );
    assert!(
        !stored.valid,
        "contract: set_validity(false) must mark the record invalid"
    );
    assert_eq!(
        stored.invalid_reason.as_deref(),
        Some("invalid_grant"),
        "contract: set_validity must store the reason"
    );

    // update with a stale copy: the editable part changes, statuses and validity stay
    let mut edited = record.clone();
    edited.name = "renamed – ✓".into();
    edited.tags = vec![];
    edited.configuration = serde_json::json!({"event.poller.refresh_interval": "15"});
    edited.events_enabled = false;
    edited.disabled = true;
    edited.updated_at = at(120);
    ok(store.update(&edited).await, "update");
    let stored = ok(store.get(record.id).await, "get after update")
        .expect("contract: record vanished after update");
    let expected = InstanceRecord {
        poll: poll.clone(),
        delivery: delivery.clone(),
        valid: false,
        invalid_reason: Some("invalid_grant".into()),
        ..edited.clone()
    };
    assert_eq!(
        stored, expected,
        "contract: update must replace name, tags, configuration, flags and updated_at while \
         keeping the stored poll status, delivery status and validity"
    );

    ok(
        store.set_validity(record.id, true, None).await,
        "set_validity(true)",
    );
    let stored = ok(store.get(record.id).await, "get after revalidation")
        .expect("contract: record vanished after set_validity");
    assert!(
        stored.valid,
        "contract: set_validity(true) must mark the record valid"
    );
    assert_eq!(
        stored.invalid_reason, None,
        "contract: set_validity(true, None) must clear the reason"
    );

    // writes to a missing record
    let missing = fresh_id();
    let mut ghost = record.clone();
    ghost.id = missing;
    fails_with(
        store.update(&ghost).await,
        PortErrorKind::NotFound,
        "update of a missing record",
    );
    fails_with(
        store.set_poll_status(missing, &poll).await,
        PortErrorKind::NotFound,
        "set_poll_status of a missing record",
    );
    fails_with(
        store.set_delivery_status(missing, &delivery).await,
        PortErrorKind::NotFound,
        "set_delivery_status of a missing record",
    );
    fails_with(
        store.set_validity(missing, false, None).await,
        PortErrorKind::NotFound,
        "set_validity of a missing record",
    );
    assert_eq!(
        ok(store.get(missing).await, "get after refused writes"),
        None,
        "contract: writes refused as NotFound must not create the record"
    );

    // listing: one id of 6 digits and four of 13, created out of order, so a store that
    // sorts ids as text instead of numbers is caught
    let list_org = format!("org-{}", fresh_tag());
    let other_org = format!("org-{}", fresh_tag());
    let mut list_ids = vec![rand::random_range(900_000..1_000_000)];
    while list_ids.len() < 5 {
        let id = fresh_id();
        if !list_ids.contains(&id) {
            list_ids.push(id);
        }
    }
    list_ids.sort_unstable();
    let mut listed: Vec<InstanceRecord> = list_ids
        .iter()
        .map(|&id| sample_record(id, &list_org))
        .collect();
    for r in listed.iter().rev() {
        ok(store.create(r).await, "create for listing");
    }
    let other = sample_record(fresh_id(), &other_org);
    ok(store.create(&other).await, "create in another organization");

    let all = ok(store.list(&list_org, None, 10).await, "list");
    assert_eq!(
        ids(&all),
        list_ids,
        "contract: list must return the organization's instances in ascending id order"
    );
    assert_eq!(all, listed, "contract: list must return full records");
    let page = ok(store.list(&list_org, None, 2).await, "list with limit");
    assert_eq!(
        ids(&page),
        list_ids[..2],
        "contract: list must stop at `limit`"
    );
    let page = ok(
        store.list(&list_org, Some(list_ids[1]), 2).await,
        "list after",
    );
    assert_eq!(
        ids(&page),
        list_ids[2..4],
        "contract: list must start after `after`"
    );
    let page = ok(
        store.list(&list_org, Some(list_ids[4]), 10).await,
        "list after the last",
    );
    assert!(
        page.is_empty(),
        "contract: list after the last id must be empty"
    );
    let page = ok(store.list(&list_org, None, 0).await, "list with limit 0");
    assert!(page.is_empty(), "contract: list with limit 0 must be empty");
    assert_eq!(
        ids(&ok(
            store.list(&other_org, None, 10).await,
            "list other organization"
        )),
        vec![other.id],
        "contract: list must return only the given organization's instances"
    );
    let unknown = ok(
        store.list(&format!("org-{}", fresh_tag()), None, 10).await,
        "list unknown organization",
    );
    assert!(
        unknown.is_empty(),
        "contract: an organization without instances lists nothing"
    );

    // delete
    ok(store.delete(list_ids[2]).await, "delete");
    assert_eq!(
        ok(store.get(list_ids[2]).await, "get after delete"),
        None,
        "contract: get after delete must be None"
    );
    ok(
        store.delete(list_ids[2]).await,
        "delete of a deleted record (must be idempotent)",
    );
    fails_with(
        store.set_poll_status(list_ids[2], &poll).await,
        PortErrorKind::NotFound,
        "set_poll_status after delete",
    );
    listed.remove(2);
    assert_eq!(
        ok(store.list(&list_org, None, 10).await, "list after delete"),
        listed,
        "contract: a deleted instance must disappear from listings"
    );
    for id in list_ids.iter().chain([&record.id, &other.id]) {
        ok(store.delete(*id).await, "cleanup delete");
    }
}

/// [`WatermarkStore`]: round trip, equal or later accepted, earlier refused without
/// change, independence of resources and instances, `delete_instance`.
pub async fn watermark_store_contract(store: &dyn WatermarkStore) {
    let id = fresh_id();
    let neighbour = fresh_id();
    assert_eq!(
        ok(store.load(id, "contacts").await, "load missing"),
        None,
        "contract: a watermark never written must load as None"
    );

    let first = Watermark {
        at: at(100),
        seen: vec!["c1:2024-05-01T12:00:00Z".into(), "ü-2".into()],
    };
    assert!(
        ok(store.advance(id, "contacts", &first).await, "first advance"),
        "contract: the first advance must be accepted"
    );
    assert_eq!(
        ok(store.load(id, "contacts").await, "load"),
        Some(first.clone()),
        "contract: load must return what advance stored"
    );

    let same_time = Watermark {
        at: at(100),
        seen: vec!["c3".into()],
    };
    assert!(
        ok(
            store.advance(id, "contacts", &same_time).await,
            "advance to the same time"
        ),
        "contract: advancing to the same time must be accepted (new `seen`)"
    );
    assert_eq!(
        ok(store.load(id, "contacts").await, "load"),
        Some(same_time),
        "contract: an accepted advance must replace `seen`"
    );

    let later = Watermark {
        at: at(200),
        seen: vec![],
    };
    assert!(
        ok(store.advance(id, "contacts", &later).await, "advance later"),
        "contract: a later watermark must be accepted"
    );
    assert_eq!(
        ok(store.load(id, "contacts").await, "load"),
        Some(later.clone()),
        "contract: load must return the later watermark"
    );

    let earlier = Watermark {
        at: at(150),
        seen: vec!["stale".into()],
    };
    assert!(
        !ok(
            store.advance(id, "contacts", &earlier).await,
            "advance backwards"
        ),
        "contract: a watermark earlier than the stored one must be refused (Ok(false))"
    );
    assert_eq!(
        ok(store.load(id, "contacts").await, "load"),
        Some(later.clone()),
        "contract: a refused advance must leave the stored watermark unchanged"
    );

    assert_eq!(
        ok(store.load(id, "invoices").await, "load other resource"),
        None,
        "contract: resources of one instance are independent"
    );
    assert!(
        ok(
            store.advance(id, "invoices", &earlier).await,
            "advance other resource"
        ),
        "contract: another resource's later watermark must not block this one"
    );
    assert_eq!(
        ok(store.load_all(id).await, "load_all"),
        std::collections::BTreeMap::from([
            ("contacts".to_owned(), later.clone()),
            ("invoices".to_owned(), earlier.clone()),
        ]),
        "contract: load_all must return every resource's watermark of the instance"
    );
    assert!(
        ok(store.load_all(fresh_id()).await, "load_all missing").is_empty(),
        "contract: load_all of an instance without watermarks must be empty"
    );
    assert_eq!(
        ok(
            store.load(neighbour, "contacts").await,
            "load other instance"
        ),
        None,
        "contract: instances are independent"
    );
    assert!(
        ok(
            store.advance(neighbour, "contacts", &first).await,
            "advance other instance"
        ),
        "contract: another instance's watermark must not block this one"
    );

    ok(store.delete_instance(id).await, "delete_instance");
    assert_eq!(
        ok(store.load(id, "contacts").await, "load after delete"),
        None,
        "contract: delete_instance must remove every watermark of the instance"
    );
    assert_eq!(
        ok(store.load(id, "invoices").await, "load after delete"),
        None,
        "contract: delete_instance must remove every watermark of the instance"
    );
    assert_eq!(
        ok(store.load(neighbour, "contacts").await, "load neighbour"),
        Some(first.clone()),
        "contract: delete_instance must not touch other instances"
    );
    assert!(
        ok(
            store.advance(id, "contacts", &first).await,
            "advance after delete"
        ),
        "contract: after delete_instance the instance starts afresh"
    );
    ok(store.delete_instance(id).await, "cleanup");
    ok(store.delete_instance(neighbour).await, "cleanup");
    ok(
        store.delete_instance(fresh_id()).await,
        "delete_instance of an instance without watermarks",
    );
}

/// [`LeaseStore`]: free → taken; held by another → refused (through `expires_at`
/// inclusive); own lease renewable; expired → takeable; release by a non-owner is a no-op.
pub async fn lease_store_contract(store: &dyn LeaseStore, instances: &dyn InstanceStore) {
    // A lease belongs to an instance: the records exist (DynamoDB keeps the lease on it).
    let id = fresh_id();
    let other = fresh_id();
    for instance in [id, other] {
        ok(
            instances
                .create(&sample_record(instance, "org-lease"))
                .await,
            "create the leased instance",
        );
    }
    let acquire =
        |owner: &'static str, now: i64, until: i64| store.acquire(id, owner, at(now), at(until));

    assert!(
        ok(acquire("a", 0, 60).await, "acquire free"),
        "contract: a free lease must be granted"
    );
    assert!(
        !ok(acquire("b", 10, 70).await, "acquire held"),
        "contract: a lease held by another owner must be refused"
    );
    assert!(
        !ok(acquire("b", 60, 120).await, "acquire at expiry"),
        "contract: a lease is held up to and including expires_at"
    );
    assert!(
        ok(acquire("a", 20, 80).await, "renew"),
        "contract: the owner must be able to renew its lease"
    );
    assert!(
        !ok(acquire("b", 70, 130).await, "acquire renewed"),
        "contract: a renewal must extend the lease"
    );

    ok(store.release(id, "b").await, "release by a non-owner");
    assert!(
        !ok(acquire("c", 30, 90).await, "acquire after foreign release"),
        "contract: release by a non-owner must be a no-op"
    );

    assert!(
        ok(acquire("b", 81, 141).await, "acquire expired"),
        "contract: an expired lease must be granted to another owner"
    );
    assert!(
        !ok(acquire("a", 90, 150).await, "stale owner renew"),
        "contract: a previous owner must not renew a lease taken over after expiry"
    );
    ok(store.release(id, "a").await, "release by the stale owner");
    assert!(
        !ok(acquire("c", 95, 155).await, "acquire after stale release"),
        "contract: release by a previous owner must be a no-op"
    );

    ok(store.release(id, "b").await, "release by the owner");
    assert!(
        ok(acquire("c", 96, 156).await, "acquire released"),
        "contract: a released lease must be granted at once"
    );

    assert!(
        ok(
            store.acquire(other, "a", at(96), at(156)).await,
            "acquire other instance"
        ),
        "contract: leases of different instances are independent"
    );
    ok(store.release(other, "a").await, "cleanup");
    ok(store.release(id, "c").await, "cleanup");
    ok(
        store.release(fresh_id(), "nobody").await,
        "release of a lease never taken",
    );

    // The end of a poll: the lease released and the status recorded (by the lease store
    // in the same write, or else by the caller).
    let status = PollStatus {
        last_poll_at: Some(at(200)),
        last_success_at: Some(at(200)),
        total_events: 7,
        ..PollStatus::default()
    };
    assert!(ok(acquire("p", 200, 260).await, "acquire for a poll"));
    if !ok(
        store.release_and_record(id, "p", &status).await,
        "release_and_record",
    ) {
        ok(
            instances.set_poll_status(id, &status).await,
            "caller records",
        );
    }
    assert_eq!(
        ok(instances.get(id).await, "get").map(|r| r.poll),
        Some(status.clone()),
        "contract: after release_and_record the poll status is recorded"
    );
    assert!(
        ok(
            acquire("q", 201, 261).await,
            "acquire after release_and_record"
        ),
        "contract: release_and_record must release the owner's lease"
    );
    let later = PollStatus {
        total_events: 8,
        ..status.clone()
    };
    ok(
        store.release_and_record(id, "p", &later).await,
        "release_and_record by a non-owner",
    );
    assert!(
        !ok(acquire("z", 202, 262).await, "acquire held"),
        "contract: release_and_record by a non-owner must not release the lease"
    );
    ok(store.release(id, "q").await, "cleanup");
    for instance in [id, other] {
        ok(instances.delete(instance).await, "cleanup");
    }
}

/// [`SecretStore`]: round trip, durable `put`, create conflict, missing → None /
/// NotFound, idempotent delete, and no error message revealing a value.
pub async fn secret_store_contract(store: &dyn SecretStore) {
    let id = fresh_id();
    let v1 =
        r#"{"oauth":{"refresh_token":"rt-1 ✓ ünï","access_token":"at-1"},"signing_key":"k\"1\n"}"#;
    let v2 = r#"{"oauth":{"refresh_token":"rt-2-rotated"}}"#;
    let v3 = "plain text 3";

    assert_eq!(
        ok(store.get(id).await, "get missing"),
        None,
        "contract: a missing secret must read as None"
    );
    let err = fails_with(
        store.put(id, v1).await,
        PortErrorKind::NotFound,
        "put to a missing secret",
    );
    assert!(
        !err.message.contains("rt-1"),
        "contract: error messages must not contain secret values"
    );

    ok(store.create(id, v1).await, "create");
    assert_eq!(
        ok(store.get(id).await, "get").as_deref(),
        Some(v1),
        "contract: get must return the created value exactly"
    );
    let err = fails_with(
        store.create(id, v2).await,
        PortErrorKind::Conflict,
        "create of an existing secret",
    );
    assert!(
        !err.message.contains("rt-2"),
        "contract: error messages must not contain secret values"
    );
    assert_eq!(
        ok(store.get(id).await, "get").as_deref(),
        Some(v1),
        "contract: a refused create must keep the old value"
    );

    ok(store.put(id, v2).await, "put");
    assert_eq!(
        ok(store.get(id).await, "get after put").as_deref(),
        Some(v2),
        "contract: get right after put must return the new value"
    );
    ok(store.put(id, v3).await, "second put");
    assert_eq!(
        ok(store.get(id).await, "get after second put").as_deref(),
        Some(v3),
        "contract: every put must replace the value"
    );

    let other = fresh_id();
    assert_eq!(
        ok(store.get(other).await, "get other"),
        None,
        "contract: secrets of different instances are independent"
    );

    ok(store.delete(id).await, "delete");
    assert_eq!(
        ok(store.get(id).await, "get after delete"),
        None,
        "contract: a deleted secret must read as None at once"
    );
    ok(store.delete(id).await, "delete again (must be idempotent)");
    fails_with(
        store.put(id, v1).await,
        PortErrorKind::NotFound,
        "put after delete",
    );
}

/// The `i`th contract message: unicode bodies, one of 200 KiB.
fn contract_message(run: &str, i: usize) -> OutgoingMessage {
    let body = if i == 7 {
        let unit = "Größe ✓ 🚀 \"quoted\" \\ tab\t line\n";
        let mut body = format!("{{\"i\":{i},\"pad\":\"");
        while body.len() < 200 * 1024 {
            body.push_str(unit);
        }
        body.push_str("\"}");
        body
    } else {
        format!(
            r#"{{"i":{i},"event":"évènement créé ✓ 🚀","run":"{run}","nested":{{"a":[1,2,3]}}}}"#
        )
    };
    OutgoingMessage {
        id: format!("{run}-{i}"),
        body,
    }
}

/// Receive until `wanted` says stop or `timeout` passes; every message is checked for
/// belonging to this run.
async fn receive_until(
    consumer: &dyn QueueConsumer,
    run: &str,
    visibility: Duration,
    timeout: Duration,
    mut done: impl FnMut(&[ReceivedMessage]) -> bool,
) -> Vec<ReceivedMessage> {
    let deadline = Instant::now() + timeout;
    let mut all = Vec::new();
    while !done(&all) && Instant::now() < deadline {
        let batch = ok(consumer.receive(10, visibility).await, "receive");
        assert!(
            batch.len() <= 10,
            "contract: receive(10) returned {} messages",
            batch.len()
        );
        for message in &batch {
            assert!(
                message.id.starts_with(run),
                "contract: received foreign message {:?}; the queue contract needs a queue of its own",
                message.id
            );
        }
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        all.extend(batch);
    }
    all
}

/// [`EventQueue`] + [`QueueConsumer`] on one dedicated, empty queue: 25 messages (one
/// of 200 KiB, unicode bodies) sent are received exactly once, intact, with their ids;
/// `retry_after(0)` redelivers with receive count 2; acknowledged messages never return.
/// Takes about ten seconds (it waits out a visibility timeout).
pub async fn event_queue_contract(queue: &dyn EventQueue, consumer: &dyn QueueConsumer) {
    ok(queue.send(&[]).await, "send of nothing");

    let run = format!("run{}", fresh_tag());
    let messages: Vec<OutgoingMessage> = (0..25).map(|i| contract_message(&run, i)).collect();
    ok(queue.send(&messages).await, "send 25 messages");

    let visibility = Duration::from_secs(6);
    let received = receive_until(consumer, &run, visibility, Duration::from_secs(30), |got| {
        got.len() >= 25
    })
    .await;
    let hidden_until = Instant::now() + visibility;
    let mut by_id: HashMap<&str, &ReceivedMessage> = HashMap::new();
    for message in &received {
        assert!(
            by_id.insert(message.id.as_str(), message).is_none(),
            "contract: message {} was delivered twice while invisible",
            message.id
        );
    }
    for sent in &messages {
        let got = by_id.get(sent.id.as_str()).unwrap_or_else(|| {
            panic!(
                "contract: message {} was sent but not received within 30 s",
                sent.id
            )
        });
        assert!(
            got.body == sent.body,
            "contract: message {} body changed in transit ({} bytes sent, {} received)",
            sent.id,
            sent.body.len(),
            got.body.len()
        );
        assert_eq!(
            got.receive_count, 1,
            "contract: first delivery of {} must have receive_count 1",
            sent.id
        );
    }
    let extra = ok(
        consumer.receive(10, visibility).await,
        "receive with everything in flight",
    );
    assert!(
        extra.is_empty(),
        "contract: nothing may be received while every message is in flight, got {:?}",
        extra.iter().map(|m| &m.id).collect::<Vec<_>>()
    );

    let retried = &messages[3];
    for message in &received {
        if message.id == retried.id {
            ok(
                consumer.retry_after(&message.receipt, Duration::ZERO).await,
                "retry_after(0)",
            );
        } else {
            ok(consumer.ack(&message.receipt).await, "ack");
        }
    }
    let again = receive_until(
        consumer,
        &run,
        Duration::from_secs(2),
        Duration::from_secs(10),
        |got| !got.is_empty(),
    )
    .await;
    assert_eq!(
        again.len(),
        1,
        "contract: only the retried message may come back, got {:?}",
        again.iter().map(|m| &m.id).collect::<Vec<_>>()
    );
    let again = &again[0];
    assert_eq!(
        again.id, retried.id,
        "contract: the retried message must come back with its id"
    );
    assert!(
        again.body == retried.body,
        "contract: a redelivered body must be intact"
    );
    assert_eq!(
        again.receive_count, 2,
        "contract: a redelivered message must have receive_count 2"
    );
    ok(consumer.ack(&again.receipt).await, "ack of the redelivery");

    // Wait until every message would be visible again had its ack been lost.
    tokio::time::sleep_until(
        hidden_until.max(Instant::now() + Duration::from_secs(2)) + Duration::from_secs(1),
    )
    .await;
    let leftover = ok(
        consumer.receive(10, Duration::from_secs(1)).await,
        "receive after acks",
    );
    assert!(
        leftover.is_empty(),
        "contract: acknowledged messages must never come back, got {:?}",
        leftover.iter().map(|m| &m.id).collect::<Vec<_>>()
    );
}

/// [`PollScheduler`]: create, update (including to 1 minute), read back the interval,
/// independence of instances, idempotent delete.
pub async fn poll_scheduler_contract(scheduler: &dyn PollScheduler) {
    let id = fresh_id();
    let other = fresh_id();
    assert_eq!(
        ok(scheduler.get(id).await, "get missing"),
        None,
        "contract: an instance without schedule must read as None"
    );
    ok(scheduler.delete(id).await, "delete of a missing schedule");

    for interval in [5, 1, 60, 60] {
        ok(scheduler.upsert(id, interval).await, "upsert");
        assert_eq!(
            ok(scheduler.get(id).await, "get").as_ref(),
            Some(&interval),
            "contract: get must return the interval last upserted"
        );
    }
    assert_eq!(
        ok(scheduler.get(other).await, "get other"),
        None,
        "contract: schedules of different instances are independent"
    );
    ok(scheduler.upsert(other, 15).await, "upsert other");
    assert_eq!(
        ok(scheduler.get(id).await, "get").as_ref(),
        Some(&60),
        "contract: upserting another instance must not change this one"
    );

    ok(scheduler.delete(id).await, "delete");
    assert_eq!(
        ok(scheduler.get(id).await, "get after delete"),
        None,
        "contract: a deleted schedule must read as None"
    );
    ok(
        scheduler.delete(id).await,
        "delete again (must be idempotent)",
    );
    assert_eq!(
        ok(scheduler.get(other).await, "get other").as_ref(),
        Some(&15),
        "contract: deleting one schedule must keep the others"
    );
    ok(scheduler.delete(other).await, "cleanup");
}
