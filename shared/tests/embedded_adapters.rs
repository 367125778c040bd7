//! The embedded (SQLite) adapters, through the port traits and the store's own API.
#![cfg(feature = "embedded")]

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use sage_events_core::clock::ManualClock;
use sage_events_core::embedded::{EmbeddedStore, SecretKey, SecretKeyError};
use sage_events_core::ports::{
    DeliveryStatus, EventQueue, InstanceRecord, InstanceStore, LeaseStore, OutgoingMessage,
    PollError, PollScheduler, PollStatus, PortErrorKind, QueueConsumer, ResourcePollStats,
    SecretStore, Watermark, WatermarkStore,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Fixtures

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sage-events-embedded-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key() -> SecretKey {
    SecretKey::from_bytes([7; 32])
}

fn other_key() -> SecretKey {
    SecretKey::from_bytes([8; 32])
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn memory_store() -> (EmbeddedStore, ManualClock) {
    let clock = ManualClock::new(t0());
    let store = EmbeddedStore::open_in_memory(key(), Arc::new(clock.clone())).expect("open");
    (store, clock)
}

fn file_store(dir: &TempDir) -> (EmbeddedStore, ManualClock) {
    let clock = ManualClock::new(t0());
    let store =
        EmbeddedStore::open_with_clock(&dir.join("events.db"), key(), Arc::new(clock.clone()))
            .expect("open");
    (store, clock)
}

/// A raw connection to the same file, to look at what is on disk.
fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw open")
}

// The ports share method names (get, create, delete…); name the one meant.
fn instances(store: &EmbeddedStore) -> &dyn InstanceStore {
    store
}
fn watermarks(store: &EmbeddedStore) -> &dyn WatermarkStore {
    store
}
fn leases(store: &EmbeddedStore) -> &dyn LeaseStore {
    store
}
fn secrets(store: &EmbeddedStore) -> &dyn SecretStore {
    store
}
fn queue(store: &EmbeddedStore) -> &dyn EventQueue {
    store
}
fn consumer(store: &EmbeddedStore) -> &dyn QueueConsumer {
    store
}
fn schedules(store: &EmbeddedStore) -> &dyn PollScheduler {
    store
}

fn record(id: u64, organization: &str) -> InstanceRecord {
    InstanceRecord {
        id,
        organization: organization.to_owned(),
        name: format!("instance {id}"),
        tags: vec!["tag-a".into(), "ünïcode".into()],
        token_hash: "ab".repeat(32),
        configuration: serde_json::json!({
            "event.poller.refresh_interval": "15",
            "event.notification.callback.url": "https://example.test/hook"
        }),
        events_enabled: true,
        disabled: false,
        valid: true,
        invalid_reason: None,
        created_at: t0(),
        updated_at: t0(),
        poll: PollStatus::default(),
        delivery: DeliveryStatus::default(),
    }
}

fn poll_status() -> PollStatus {
    let mut counts = BTreeMap::new();
    counts.insert(
        "customers".to_owned(),
        ResourcePollStats {
            fetched: 3,
            created: 1,
            updated: 2,
            deleted: 0,
            notifications: 1,
            duration_ms: 250,
            error: None,
        },
    );
    PollStatus {
        last_poll_at: Some(t0()),
        last_success_at: Some(t0()),
        last_error: Some(PollError {
            message: "timeout".into(),
            at: t0(),
            resource: Some("invoices".into()),
        }),
        last_counts: counts,
        total_events: 3,
    }
}

fn delivery_status() -> DeliveryStatus {
    DeliveryStatus {
        last_delivery_at: Some(t0()),
        last_status: Some("200".into()),
        consecutive_failures: 2,
        disabled_reason: None,
    }
}

fn watermark(at: DateTime<Utc>, seen: &[&str]) -> Watermark {
    Watermark {
        at,
        seen: seen.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn message(id: &str, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        id: id.to_owned(),
        body: body.to_owned(),
    }
}

fn notification_body(instance: u64, n: usize) -> String {
    format!(r#"{{"eventId":"msg_{n}","instanceId":{instance},"eventCount":1,"body":"{{}}"}}"#)
}

fn ids(messages: &[sage_events_core::ports::ReceivedMessage]) -> Vec<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

// ---------------------------------------------------------------------------------------
// InstanceStore

#[tokio::test]
async fn next_id_is_positive_strictly_increasing_and_never_reused() {
    let (store, _) = memory_store();
    let store = instances(&store);
    let first = store.next_id().await.unwrap();
    assert!(first > 0);
    let second = store.next_id().await.unwrap();
    assert!(second > first);
    store.create(&record(second, "org")).await.unwrap();
    store.delete(second).await.unwrap();
    let third = store.next_id().await.unwrap();
    assert!(third > second, "{third} reuses a deleted id");
}

#[tokio::test]
async fn create_with_an_explicit_id_moves_the_counter_past_it() {
    let (store, _) = memory_store();
    let store = instances(&store);
    store.create(&record(500, "org")).await.unwrap();
    assert!(store.next_id().await.unwrap() > 500);
}

#[tokio::test]
async fn create_get_round_trip_and_conflict() {
    let (store, _) = memory_store();
    let store = instances(&store);
    let mut original = record(1, "org");
    original.poll = poll_status();
    original.delivery = delivery_status();
    original.valid = false;
    original.invalid_reason = Some("invalid_grant".into());
    store.create(&original).await.unwrap();
    assert_eq!(store.get(1).await.unwrap(), Some(original.clone()));

    let mut again = record(1, "other-org");
    again.name = "intruder".into();
    let err = store.create(&again).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Conflict);
    assert_eq!(store.get(1).await.unwrap(), Some(original));
    assert_eq!(store.get(2).await.unwrap(), None);
    assert_eq!(store.get(u64::MAX).await.unwrap(), None);
}

#[tokio::test]
async fn create_refuses_id_zero_and_ids_beyond_sqlite() {
    let (store, _) = memory_store();
    let store = instances(&store);
    assert!(store.create(&record(0, "org")).await.is_err());
    assert!(store.create(&record(u64::MAX, "org")).await.is_err());
}

#[tokio::test]
async fn list_filters_by_organization_pages_ascending() {
    let (store, _) = memory_store();
    let store = instances(&store);
    for id in [5, 1, 3, 2, 4] {
        store.create(&record(id, "org-a")).await.unwrap();
    }
    store.create(&record(6, "org-b")).await.unwrap();

    let ids_of = |records: Vec<InstanceRecord>| records.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids_of(store.list("org-a", None, 10).await.unwrap()),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(ids_of(store.list("org-a", None, 2).await.unwrap()), [1, 2]);
    assert_eq!(
        ids_of(store.list("org-a", Some(2), 2).await.unwrap()),
        [3, 4]
    );
    assert_eq!(
        ids_of(store.list("org-a", Some(5), 10).await.unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(ids_of(store.list("org-b", None, 10).await.unwrap()), [6]);
    assert!(store.list("org-c", None, 10).await.unwrap().is_empty());
    assert!(store.list("org-a", None, 0).await.unwrap().is_empty());
    assert!(
        store
            .list("org-a", Some(u64::MAX), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn update_replaces_editable_fields_and_keeps_statuses() {
    let (store, _) = memory_store();
    let store = instances(&store);
    store.create(&record(1, "org")).await.unwrap();
    store.set_poll_status(1, &poll_status()).await.unwrap();
    store
        .set_delivery_status(1, &delivery_status())
        .await
        .unwrap();
    store
        .set_validity(1, false, Some("invalid_grant"))
        .await
        .unwrap();

    // A PATCH built from a stale read: default statuses, valid = true.
    let mut patched = record(1, "org");
    patched.name = "renamed".into();
    patched.tags = vec![];
    patched.disabled = true;
    patched.configuration = serde_json::json!({"x": 1});
    patched.updated_at = t0() + ChronoDuration::minutes(5);
    store.update(&patched).await.unwrap();

    let stored = store.get(1).await.unwrap().unwrap();
    assert_eq!(stored.name, "renamed");
    assert!(stored.tags.is_empty());
    assert!(stored.disabled);
    assert_eq!(stored.configuration, serde_json::json!({"x": 1}));
    assert_eq!(stored.updated_at, patched.updated_at);
    assert_eq!(stored.poll, poll_status());
    assert_eq!(stored.delivery, delivery_status());
    assert!(!stored.valid);
    assert_eq!(stored.invalid_reason.as_deref(), Some("invalid_grant"));
}

#[tokio::test]
async fn update_and_status_setters_of_a_missing_instance_are_not_found() {
    let (store, _) = memory_store();
    let store = instances(&store);
    let kind = |r: Result<(), sage_events_core::ports::PortError>| r.unwrap_err().kind;
    assert_eq!(
        kind(store.update(&record(9, "org")).await),
        PortErrorKind::NotFound
    );
    assert_eq!(
        kind(store.set_poll_status(9, &poll_status()).await),
        PortErrorKind::NotFound
    );
    assert_eq!(
        kind(store.set_delivery_status(9, &delivery_status()).await),
        PortErrorKind::NotFound
    );
    assert_eq!(
        kind(store.set_validity(9, true, None).await),
        PortErrorKind::NotFound
    );
    assert_eq!(
        kind(store.update(&record(u64::MAX, "org")).await),
        PortErrorKind::NotFound
    );
    assert_eq!(
        store.get(9).await.unwrap(),
        None,
        "setters must not create a record"
    );
}

#[tokio::test]
async fn status_setters_do_not_clobber_each_other() {
    let (store, _) = memory_store();
    let store = instances(&store);
    store.create(&record(1, "org")).await.unwrap();
    store.set_poll_status(1, &poll_status()).await.unwrap();
    store
        .set_delivery_status(1, &delivery_status())
        .await
        .unwrap();
    store
        .set_validity(1, false, Some("invalid_grant"))
        .await
        .unwrap();
    let stored = store.get(1).await.unwrap().unwrap();
    assert_eq!(stored.poll, poll_status());
    assert_eq!(stored.delivery, delivery_status());
    assert!(!stored.valid);
    assert_eq!(stored.name, "instance 1");

    store.set_validity(1, true, None).await.unwrap();
    store
        .set_poll_status(1, &PollStatus::default())
        .await
        .unwrap();
    let stored = store.get(1).await.unwrap().unwrap();
    assert!(stored.valid);
    assert_eq!(stored.invalid_reason, None);
    assert_eq!(stored.poll, PollStatus::default());
    assert_eq!(stored.delivery, delivery_status());
}

#[tokio::test]
async fn delete_instance_is_idempotent() {
    let (store, _) = memory_store();
    let store = instances(&store);
    store.create(&record(1, "org")).await.unwrap();
    store.delete(1).await.unwrap();
    assert_eq!(store.get(1).await.unwrap(), None);
    store.delete(1).await.unwrap();
    store.delete(u64::MAX).await.unwrap();
    assert!(store.list("org", None, 10).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// WatermarkStore

#[tokio::test]
async fn watermark_first_write_advance_refuse_backwards_allow_equal() {
    let (store, _) = memory_store();
    let store = watermarks(&store);
    assert_eq!(store.load(1, "customers").await.unwrap(), None);

    let first = watermark(t0(), &["a"]);
    assert!(store.advance(1, "customers", &first).await.unwrap());
    assert_eq!(store.load(1, "customers").await.unwrap(), Some(first));

    let later = watermark(t0() + ChronoDuration::minutes(1), &["b", "c"]);
    assert!(store.advance(1, "customers", &later).await.unwrap());

    let stale = watermark(t0(), &["stale"]);
    assert!(!store.advance(1, "customers", &stale).await.unwrap());
    let one_ns_back = watermark(later.at - ChronoDuration::nanoseconds(1), &[]);
    assert!(!store.advance(1, "customers", &one_ns_back).await.unwrap());
    assert_eq!(
        store.load(1, "customers").await.unwrap(),
        Some(later.clone())
    );

    let equal = watermark(later.at, &["d"]);
    assert!(store.advance(1, "customers", &equal).await.unwrap());
    assert_eq!(store.load(1, "customers").await.unwrap(), Some(equal));
}

#[tokio::test]
async fn watermarks_are_per_instance_and_resource_and_keep_full_precision() {
    let (store, _) = memory_store();
    let store = watermarks(&store);
    let precise = t0() + ChronoDuration::nanoseconds(123_456_789);
    assert!(
        store
            .advance(1, "customers", &watermark(precise, &[]))
            .await
            .unwrap()
    );
    assert!(
        store
            .advance(1, "invoices", &watermark(t0(), &[]))
            .await
            .unwrap()
    );
    assert!(
        store
            .advance(2, "customers", &watermark(t0(), &[]))
            .await
            .unwrap()
    );
    assert_eq!(
        store.load(1, "customers").await.unwrap().unwrap().at,
        precise
    );
    assert_eq!(store.load(1, "invoices").await.unwrap().unwrap().at, t0());
    assert_eq!(store.load(2, "customers").await.unwrap().unwrap().at, t0());
    assert_eq!(store.load(3, "customers").await.unwrap(), None);
}

#[tokio::test]
async fn delete_instance_removes_its_watermarks_and_lease_only() {
    let (store, _) = memory_store();
    let marks = watermarks(&store);
    let lease = leases(&store);
    let later = t0() + ChronoDuration::minutes(10);
    marks
        .advance(1, "customers", &watermark(t0(), &[]))
        .await
        .unwrap();
    marks
        .advance(1, "invoices", &watermark(t0(), &[]))
        .await
        .unwrap();
    marks
        .advance(2, "customers", &watermark(t0(), &[]))
        .await
        .unwrap();
    assert!(lease.acquire(1, "a", t0(), later).await.unwrap());
    assert!(lease.acquire(2, "a", t0(), later).await.unwrap());

    marks.delete_instance(1).await.unwrap();
    assert_eq!(marks.load(1, "customers").await.unwrap(), None);
    assert_eq!(marks.load(1, "invoices").await.unwrap(), None);
    assert!(marks.load(2, "customers").await.unwrap().is_some());
    assert!(
        lease.acquire(1, "b", t0(), later).await.unwrap(),
        "lease 1 was removed"
    );
    assert!(
        !lease.acquire(2, "b", t0(), later).await.unwrap(),
        "lease 2 is kept"
    );
    marks.delete_instance(1).await.unwrap();
    marks.delete_instance(99).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// LeaseStore

#[tokio::test]
async fn lease_acquire_renew_expire_release() {
    let (store, _) = memory_store();
    let store = leases(&store);
    let until = t0() + ChronoDuration::minutes(5);

    assert!(
        store.acquire(1, "a", t0(), until).await.unwrap(),
        "free → acquired"
    );
    assert!(
        !store.acquire(1, "b", t0(), until).await.unwrap(),
        "held by a"
    );
    let just_before = until - ChronoDuration::nanoseconds(1);
    assert!(
        !store.acquire(1, "b", just_before, until).await.unwrap(),
        "still valid"
    );
    assert!(
        store
            .acquire(1, "a", t0(), until + ChronoDuration::minutes(5))
            .await
            .unwrap()
    );
    assert!(
        !store.acquire(1, "b", until, until).await.unwrap(),
        "renewal extended it"
    );

    let expiry = until + ChronoDuration::minutes(5);
    let later = expiry + ChronoDuration::minutes(5);
    assert!(
        !store.acquire(1, "b", expiry, later).await.unwrap(),
        "held up to and including its expiry (as DynamoDB's `expires_at < :now`)"
    );
    let expiry = expiry + ChronoDuration::nanoseconds(1);
    assert!(
        store.acquire(1, "b", expiry, later).await.unwrap(),
        "free just after its expiry"
    );
    assert!(
        !store.acquire(1, "a", expiry, later).await.unwrap(),
        "b holds it now"
    );

    store.release(1, "a").await.unwrap();
    assert!(
        !store.acquire(1, "c", expiry, later).await.unwrap(),
        "non-owner release no-op"
    );
    store.release(1, "b").await.unwrap();
    assert!(
        store.acquire(1, "c", expiry, later).await.unwrap(),
        "owner released it"
    );
    store.release(2, "nobody").await.unwrap();
    assert!(
        store.acquire(2, "a", t0(), until).await.unwrap(),
        "leases are per instance"
    );
}

// ---------------------------------------------------------------------------------------
// SecretStore

const SECRET: &str = r#"{"refreshToken":"rt-PLAINTEXT-MARKER-4242","signingKey":"🔑"}"#;

#[tokio::test]
async fn secret_round_trip_conflict_not_found_delete() {
    let (store, _) = memory_store();
    let store = secrets(&store);
    assert_eq!(store.get(1).await.unwrap(), None);
    let err = store.put(1, SECRET).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::NotFound);
    assert_eq!(store.get(1).await.unwrap(), None, "put must not create");

    store.create(1, SECRET).await.unwrap();
    assert_eq!(store.get(1).await.unwrap().as_deref(), Some(SECRET));
    let err = store.create(1, "other").await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Conflict);
    assert_eq!(store.get(1).await.unwrap().as_deref(), Some(SECRET));

    store.put(1, "rotated").await.unwrap();
    assert_eq!(store.get(1).await.unwrap().as_deref(), Some("rotated"));
    assert_eq!(store.get(2).await.unwrap(), None);

    store.delete(1).await.unwrap();
    assert_eq!(store.get(1).await.unwrap(), None);
    store.delete(1).await.unwrap();
    store.create(1, "again").await.unwrap();
    assert_eq!(store.get(1).await.unwrap().as_deref(), Some("again"));
}

fn file_contains(path: &Path, needle: &[u8]) -> bool {
    std::fs::read(path)
        .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        .unwrap_or(false)
}

#[tokio::test]
async fn secrets_are_encrypted_on_disk() {
    let dir = TempDir::new();
    let path = dir.join("events.db");
    {
        let (store, _) = file_store(&dir);
        secrets(&store).create(1, SECRET).await.unwrap();
        secrets(&store).create(2, SECRET).await.unwrap();
        let marker = b"PLAINTEXT-MARKER";
        for file in ["events.db", "events.db-wal"] {
            assert!(
                !file_contains(&dir.join(file), marker),
                "plaintext in {file}"
            );
        }
        // Rows: two writes of the same value differ (fresh nonce each).
        let rows: Vec<(Vec<u8>, Vec<u8>)> = raw(&path)
            .prepare("SELECT nonce, ciphertext FROM secrets ORDER BY instance")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_ne!(rows[0].0, rows[1].0);
        assert_ne!(rows[0].1, rows[1].1);
        assert!(!rows[0].1.windows(marker.len()).any(|w| w == marker));
    }
    // Closed: the WAL is checkpointed into the main file.
    assert!(!file_contains(&path, b"PLAINTEXT-MARKER"));
}

#[tokio::test]
async fn a_secret_row_moved_to_another_instance_does_not_decrypt() {
    let dir = TempDir::new();
    let path = dir.join("events.db");
    let (store, _) = file_store(&dir);
    secrets(&store).create(1, SECRET).await.unwrap();
    secrets(&store).create(2, "harmless").await.unwrap();
    raw(&path)
        .execute_batch(
            "UPDATE secrets SET (nonce, ciphertext) = \
             (SELECT nonce, ciphertext FROM secrets WHERE instance = 1) WHERE instance = 2",
        )
        .unwrap();
    let err = secrets(&store).get(2).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Corrupt);
    assert!(!err.message.contains("MARKER"));
    assert_eq!(
        secrets(&store).get(1).await.unwrap().as_deref(),
        Some(SECRET)
    );
}

#[tokio::test]
async fn the_wrong_key_is_refused_at_open() {
    let dir = TempDir::new();
    let path = dir.join("events.db");
    {
        let (store, _) = file_store(&dir);
        secrets(&store).create(1, SECRET).await.unwrap();
    }
    let err = EmbeddedStore::open(&path, other_key()).unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Corrupt);
    assert!(EmbeddedStore::open(&path, key()).is_ok());
}

#[tokio::test]
async fn a_secret_written_with_another_key_reads_as_corrupt() {
    let dir = TempDir::new();
    let path = dir.join("events.db");
    {
        let (store, _) = file_store(&dir);
        secrets(&store).create(1, SECRET).await.unwrap();
    }
    // Get past the open-time check, as if the key check row were lost.
    raw(&path)
        .execute("DELETE FROM meta WHERE name = 'key_check'", [])
        .unwrap();
    let store = EmbeddedStore::open(&path, other_key()).unwrap();
    let err = secrets(&store).get(1).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Corrupt);
}

// ---------------------------------------------------------------------------------------
// EventQueue / QueueConsumer

const VISIBILITY: Duration = Duration::from_secs(60);

#[tokio::test]
async fn every_sent_message_is_received_once_then_hidden() {
    let (store, clock) = memory_store();
    let sent: Vec<OutgoingMessage> = (0..25)
        .map(|n| message(&format!("evt_{n:02}"), &notification_body(1, n)))
        .collect();
    queue(&store).send(&sent).await.unwrap();

    let mut received = Vec::new();
    for expected in [10, 10, 5] {
        let batch = consumer(&store).receive(10, VISIBILITY).await.unwrap();
        assert_eq!(batch.len(), expected);
        received.extend(batch);
    }
    assert!(
        consumer(&store)
            .receive(10, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );
    let expected_ids: Vec<String> = sent.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids(&received), expected_ids, "each once, oldest first");
    assert!(received.iter().all(|m| m.receive_count == 1));
    let receipts: HashSet<&str> = received.iter().map(|m| m.receipt.as_str()).collect();
    assert_eq!(receipts.len(), 25);
    for (got, sent) in received.iter().zip(&sent) {
        assert_eq!(got.body, sent.body);
    }

    // Still hidden one millisecond before the visibility timeout ends; back after it.
    clock.advance(ChronoDuration::milliseconds(59_999));
    assert!(
        consumer(&store)
            .receive(10, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(ChronoDuration::milliseconds(1));
    let again = consumer(&store).receive(100, VISIBILITY).await.unwrap();
    assert_eq!(again.len(), 25);
    assert!(again.iter().all(|m| m.receive_count == 2));
}

#[tokio::test]
async fn send_of_nothing_and_receive_of_zero_do_nothing() {
    let (store, _) = memory_store();
    queue(&store).send(&[]).await.unwrap();
    queue(&store).send(&[message("a", "{}")]).await.unwrap();
    assert!(
        consumer(&store)
            .receive(0, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        consumer(&store)
            .receive(10, VISIBILITY)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn retry_after_redelivers_after_the_delay_with_count_two() {
    let (store, clock) = memory_store();
    queue(&store).send(&[message("a", "{}")]).await.unwrap();
    let first = consumer(&store).receive(1, VISIBILITY).await.unwrap();
    consumer(&store)
        .retry_after(&first[0].receipt, Duration::from_secs(5))
        .await
        .unwrap();
    clock.advance(ChronoDuration::milliseconds(4_999));
    assert!(
        consumer(&store)
            .receive(1, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(ChronoDuration::milliseconds(1));
    let second = consumer(&store).receive(1, VISIBILITY).await.unwrap();
    assert_eq!(ids(&second), ["a"]);
    assert_eq!(second[0].receive_count, 2);
    assert_ne!(second[0].receipt, first[0].receipt);
}

#[tokio::test]
async fn retry_after_is_capped_at_twelve_hours() {
    let (store, clock) = memory_store();
    queue(&store).send(&[message("a", "{}")]).await.unwrap();
    let first = consumer(&store).receive(1, VISIBILITY).await.unwrap();
    consumer(&store)
        .retry_after(&first[0].receipt, Duration::from_secs(48 * 3600))
        .await
        .unwrap();
    clock.advance(ChronoDuration::hours(12) - ChronoDuration::milliseconds(1));
    assert!(
        consumer(&store)
            .receive(1, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(ChronoDuration::milliseconds(1));
    assert_eq!(
        consumer(&store).receive(1, VISIBILITY).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn ack_removes_and_a_stale_receipt_is_a_no_op() {
    let (store, clock) = memory_store();
    queue(&store)
        .send(&[message("a", "{}"), message("b", "{}")])
        .await
        .unwrap();
    let first = consumer(&store).receive(2, VISIBILITY).await.unwrap();
    consumer(&store).ack(&first[0].receipt).await.unwrap();

    clock.advance(ChronoDuration::seconds(61));
    let second = consumer(&store).receive(10, VISIBILITY).await.unwrap();
    assert_eq!(ids(&second), ["b"], "a was acked");
    // b's first receipt went stale when it was received again.
    consumer(&store).ack(&first[1].receipt).await.unwrap();
    consumer(&store)
        .retry_after(&first[1].receipt, Duration::ZERO)
        .await
        .unwrap();
    consumer(&store).ack("no-such-receipt").await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap().in_flight, 1);
    consumer(&store).ack(&second[0].receipt).await.unwrap();
    let depth = store.queue_depth().await.unwrap();
    assert_eq!((depth.visible, depth.in_flight), (0, 0));
}

#[tokio::test]
async fn dead_letter_list_and_replay_with_instance_filter() {
    let (store, clock) = memory_store();
    queue(&store)
        .send(&[
            message("one-a", &notification_body(1, 1)),
            message("two", &notification_body(2, 2)),
            message("one-b", &notification_body(1, 3)),
        ])
        .await
        .unwrap();
    let received = consumer(&store).receive(10, VISIBILITY).await.unwrap();
    for m in &received {
        consumer(&store)
            .dead_letter(m, "HTTP 500 five times")
            .await
            .unwrap();
    }
    assert_eq!(store.queue_depth().await.unwrap().dead_letters, 3);
    clock.advance(ChronoDuration::hours(1));
    assert!(
        consumer(&store)
            .receive(10, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );

    let dead = store.list_dead_letters(10).await.unwrap();
    assert_eq!(
        dead.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["one-a", "two", "one-b"]
    );
    assert!(
        dead.iter().all(|d| d.reason == "HTTP 500 five times"
            && d.receive_count == 1
            && d.failed_at == t0())
    );
    assert_eq!(dead[1].body, notification_body(2, 2));
    assert_eq!(store.list_dead_letters(1).await.unwrap().len(), 1);

    assert_eq!(store.replay_dead_letters(Some(1)).await.unwrap(), 2);
    let remaining = store.list_dead_letters(10).await.unwrap();
    assert_eq!(
        remaining.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["two"]
    );
    let replayed = consumer(&store).receive(10, VISIBILITY).await.unwrap();
    assert_eq!(ids(&replayed), ["one-a", "one-b"]);
    assert!(
        replayed.iter().all(|m| m.receive_count == 1),
        "count restarts at 0"
    );

    assert_eq!(store.replay_dead_letters(Some(7)).await.unwrap(), 0);
    assert_eq!(store.replay_dead_letters(None).await.unwrap(), 1);
    assert!(store.list_dead_letters(10).await.unwrap().is_empty());
    assert_eq!(
        ids(&consumer(&store).receive(10, VISIBILITY).await.unwrap()),
        ["two"]
    );
}

#[tokio::test]
async fn replay_without_filter_takes_bodies_that_are_not_notifications() {
    let (store, _) = memory_store();
    queue(&store)
        .send(&[message("x", "not json")])
        .await
        .unwrap();
    let m = consumer(&store).receive(1, VISIBILITY).await.unwrap();
    consumer(&store).dead_letter(&m[0], "bad").await.unwrap();
    assert_eq!(store.replay_dead_letters(Some(1)).await.unwrap(), 0);
    assert_eq!(store.replay_dead_letters(None).await.unwrap(), 1);
}

#[tokio::test]
async fn a_200_kib_unicode_body_travels_intact() {
    let (store, _) = memory_store();
    let unit = "Grüße 🚀 ĉĝ \"quoted\" \\ back\n";
    let body: String = unit.repeat(200 * 1024 / unit.len() + 1);
    assert!(body.len() >= 200 * 1024);
    queue(&store).send(&[message("big", &body)]).await.unwrap();
    let received = consumer(&store).receive(1, VISIBILITY).await.unwrap();
    assert_eq!(received[0].body, body);
    consumer(&store)
        .dead_letter(&received[0], "too big?")
        .await
        .unwrap();
    assert_eq!(store.list_dead_letters(1).await.unwrap()[0].body, body);
}

#[tokio::test]
async fn queue_depth_counts_visible_in_flight_and_dead() {
    let (store, _) = memory_store();
    let sent: Vec<_> = (0..4).map(|n| message(&format!("m{n}"), "{}")).collect();
    queue(&store).send(&sent).await.unwrap();
    let received = consumer(&store).receive(2, VISIBILITY).await.unwrap();
    consumer(&store)
        .dead_letter(&received[0], "gone")
        .await
        .unwrap();
    let depth = store.queue_depth().await.unwrap();
    assert_eq!(
        (depth.visible, depth.in_flight, depth.dead_letters),
        (2, 1, 1)
    );
}

// ---------------------------------------------------------------------------------------
// PollScheduler

#[tokio::test]
async fn schedules_upsert_get_delete_and_list() {
    let (store, _) = memory_store();
    let sched = schedules(&store);
    assert_eq!(sched.get(1).await.unwrap(), None);
    sched.upsert(2, 15).await.unwrap();
    sched.upsert(1, 5).await.unwrap();
    sched.upsert(2, 60).await.unwrap();
    assert_eq!(sched.get(2).await.unwrap(), Some(60));
    assert_eq!(store.all_schedules().await.unwrap(), [(1, 5), (2, 60)]);
    sched.delete(2).await.unwrap();
    sched.delete(2).await.unwrap();
    assert_eq!(sched.get(2).await.unwrap(), None);
    assert_eq!(store.all_schedules().await.unwrap(), [(1, 5)]);
    assert!(sched.upsert(3, 0).await.is_err());
    assert_eq!(sched.get(3).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------
// Durability, schema, concurrency

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = TempDir::new();
    let path = dir.join("events.db");
    let id;
    {
        let (store, _) = file_store(&dir);
        id = instances(&store).next_id().await.unwrap();
        let mut rec = record(id, "org");
        rec.poll = poll_status();
        instances(&store).create(&rec).await.unwrap();
        instances(&store)
            .set_delivery_status(id, &delivery_status())
            .await
            .unwrap();
        watermarks(&store)
            .advance(id, "customers", &watermark(t0(), &["k"]))
            .await
            .unwrap();
        let until = t0() + ChronoDuration::minutes(5);
        assert!(leases(&store).acquire(id, "a", t0(), until).await.unwrap());
        secrets(&store).create(id, SECRET).await.unwrap();
        schedules(&store).upsert(id, 15).await.unwrap();
        queue(&store)
            .send(&[message("q1", "one"), message("q2", "two")])
            .await
            .unwrap();
        let m = consumer(&store).receive(1, VISIBILITY).await.unwrap();
        consumer(&store).dead_letter(&m[0], "why").await.unwrap();
    }
    let (store, _) = file_store(&dir);
    let rec = instances(&store).get(id).await.unwrap().unwrap();
    assert_eq!(rec.poll, poll_status());
    assert_eq!(rec.delivery, delivery_status());
    assert!(instances(&store).next_id().await.unwrap() > id);
    assert_eq!(
        watermarks(&store).load(id, "customers").await.unwrap(),
        Some(watermark(t0(), &["k"]))
    );
    assert!(!leases(&store).acquire(id, "b", t0(), t0()).await.unwrap());
    assert_eq!(
        secrets(&store).get(id).await.unwrap().as_deref(),
        Some(SECRET)
    );
    assert_eq!(store.all_schedules().await.unwrap(), [(id, 15)]);
    assert_eq!(
        ids(&consumer(&store).receive(10, VISIBILITY).await.unwrap()),
        ["q2"]
    );
    assert_eq!(store.list_dead_letters(10).await.unwrap()[0].id, "q1");

    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
}

#[tokio::test]
async fn data_is_durable_while_the_store_is_still_open() {
    // What kill -9 would leave: another connection sees every returned write at once.
    let dir = TempDir::new();
    let (store, _) = file_store(&dir);
    secrets(&store).create(1, SECRET).await.unwrap();
    queue(&store).send(&[message("m", "body")]).await.unwrap();
    let conn = raw(&dir.join("events.db"));
    let n: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM secrets) + (SELECT count(*) FROM queue)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let _store = file_store(&dir);
    let mode = std::fs::metadata(dir.join("events.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn a_database_from_a_newer_schema_is_refused() {
    let dir = TempDir::new();
    let path = dir.join("events.db");
    drop(file_store(&dir));
    raw(&path)
        .execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    let err = EmbeddedStore::open(&path, key()).unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Other);
    assert!(err.message.contains("99"));
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_reported() {
    let dir = TempDir::new();
    let path = dir.join("events.db");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    assert!(EmbeddedStore::open(&path, key()).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_get_unique_ids_and_each_message_once() {
    let dir = TempDir::new();
    let (store, _) = file_store(&dir);

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..20 {
                ids.push(instances(&store).next_id().await.unwrap());
            }
            ids
        }));
    }
    let mut all = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(all.insert(id), "id {id} handed out twice");
        }
    }
    assert_eq!(all.len(), 160);

    let sent: Vec<_> = (0..100)
        .map(|n| message(&format!("m{n:03}"), "{}"))
        .collect();
    for chunk in sent.chunks(10) {
        queue(&store).send(chunk).await.unwrap();
    }
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        consumers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = consumer(&store).receive(3, VISIBILITY).await.unwrap();
                if batch.is_empty() {
                    break got;
                }
                for m in batch {
                    consumer(&store).ack(&m.receipt).await.unwrap();
                    got.push(m.id);
                }
            }
        }));
    }
    let mut received = Vec::new();
    for c in consumers {
        received.extend(c.await.unwrap());
    }
    received.sort();
    let expected: Vec<String> = sent.into_iter().map(|m| m.id).collect();
    assert_eq!(received, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lease_acquires_have_one_winner() {
    let (store, _) = memory_store();
    let until = t0() + ChronoDuration::minutes(5);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            leases(&store)
                .acquire(1, &format!("owner-{n}"), t0(), until)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

// ---------------------------------------------------------------------------------------
// SecretKey

#[test]
fn key_file_is_created_private_and_read_back() {
    let dir = TempDir::new();
    let file = dir.join("keys/secret.key");
    let var = "SAGE_EVENTS_TEST_KEY_UNSET_3F9A";
    let created = SecretKey::from_env_or_file(var, &file).unwrap();
    let again = SecretKey::from_env_or_file(var, &file).unwrap();
    assert_eq!(created.to_base64(), again.to_base64());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let other_dir = TempDir::new();
    let other = SecretKey::from_env_or_file(var, &other_dir.join("secret.key")).unwrap();
    assert_ne!(created.to_base64(), other.to_base64(), "fresh random keys");
}

#[test]
fn the_environment_variable_wins_over_the_key_file() {
    let dir = TempDir::new();
    let file = dir.join("secret.key");
    let var = "SAGE_EVENTS_TEST_KEY_SET_7C21";
    let expected = SecretKey::from_bytes([42; 32]);
    // SAFETY: this variable name is used by this test only, and nothing else in this
    // test binary reads the environment concurrently by that name.
    unsafe { std::env::set_var(var, expected.to_base64().expose()) };
    let key = SecretKey::from_env_or_file(var, &file).unwrap();
    assert_eq!(key.to_base64(), expected.to_base64());
    assert!(
        !file.exists(),
        "no key file is created when the variable is set"
    );
    unsafe { std::env::set_var(var, "not base64!") };
    assert!(matches!(
        SecretKey::from_env_or_file(var, &file),
        Err(SecretKeyError::Encoding { .. })
    ));
    unsafe { std::env::remove_var(var) };
}

#[test]
fn bad_key_files_are_errors_not_replaced() {
    let dir = TempDir::new();
    let var = "SAGE_EVENTS_TEST_KEY_UNSET_91B0";
    let short = dir.join("short.key");
    std::fs::write(&short, "AAAA\n").unwrap();
    assert!(matches!(
        SecretKey::from_env_or_file(var, &short),
        Err(SecretKeyError::Length { len: 3, .. })
    ));
    let garbage = dir.join("garbage.key");
    std::fs::write(&garbage, "%%%").unwrap();
    assert!(matches!(
        SecretKey::from_env_or_file(var, &garbage),
        Err(SecretKeyError::Encoding { .. })
    ));
    assert_eq!(std::fs::read_to_string(&garbage).unwrap(), "%%%");
}

#[test]
fn secret_key_parses_base64_and_never_shows_itself() {
    let key = SecretKey::from_bytes([1; 32]);
    let text = key.to_base64();
    let parsed = SecretKey::from_base64(&format!("  {}\n", text.expose())).unwrap();
    assert_eq!(parsed.to_base64(), text);
    let shown = format!("{key:?} {text:?} {text}");
    assert!(!shown.contains(text.expose()));
    assert!(!shown.contains("AQEB"));
    assert!(SecretKey::from_base64("").is_err());
    let generated = SecretKey::generate().unwrap();
    assert_ne!(
        generated.to_base64(),
        SecretKey::generate().unwrap().to_base64()
    );
}
