//! The poll engine end to end: real HTTP against the Sage simulator, the real adapters
//! (embedded SQLite, and AWS on moto_server), notifications read back from the queue.
#![cfg(all(feature = "aws", feature = "embedded"))]

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod paging;
mod world;

use chrono::Duration as ChronoDuration;
use sage_events_core::poll::PollOutcome;
use sage_sim::{Fault, FaultRule, FaultTarget};
use std::collections::HashSet;
use std::time::Duration;
use world::{Backend, World};

async fn each_backend(scenario: impl AsyncFn(World)) {
    for backend in [Backend::Embedded, Backend::Aws] {
        let world = World::new(backend).await;
        eprintln!("--- backend: {backend:?}");
        scenario(world).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_poll_sends_no_history_then_creates_updates_and_deletes() {
    each_backend(async |w: World| {
        let long_ago = chrono::Utc::now() - ChronoDuration::minutes(10);
        let old: Vec<String> = (0..6)
            .map(|i| {
                let kind = if i % 2 == 0 { "CUSTOMER" } else { "VENDOR" };
                w.sim.create_at(
                    "contacts",
                    serde_json::json!({"name": format!("Old {i}"), "contact_types": [kind]}),
                    long_ago,
                )
            })
            .collect();
        let id = w.register().await;
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        assert!(
            w.drain_events().await.is_empty(),
            "records older than the registration are not events"
        );

        w.sim.advance(ChronoDuration::seconds(2));
        let created = w
            .sim
            .create("contacts", serde_json::json!({"name": "New Customer"}));
        // Even ones are customers, odd ones vendors.
        assert!(
            w.sim
                .update("contacts", &old[0], serde_json::json!({"name": "Renamed"}))
        );
        assert!(w.sim.delete("contacts", &old[2]));
        // A vendor change is not a customers event.
        assert!(w.sim.update(
            "contacts",
            &old[1],
            serde_json::json!({"name": "Vendor renamed"})
        ));

        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        let events = w.drain_events().await;
        let mut kinds: Vec<(String, String)> = events
            .iter()
            .map(|e| (e.event_type.clone(), e.object_id.clone()))
            .collect();
        kinds.sort();
        let mut expected = vec![
            ("CREATED".to_owned(), created.clone()),
            ("UPDATED".to_owned(), old[0].clone()),
            ("DELETED".to_owned(), old[2].clone()),
        ];
        expected.sort();
        assert_eq!(kinds, expected);
        assert!(events.iter().all(|e| e.object_type == "customers"));
        let stats = &summary.resources["customers"];
        assert_eq!((stats.created, stats.updated, stats.deleted), (1, 1, 1));

        // Nothing new: the next poll re-reads its lookback window but emits nothing.
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled);
        assert!(
            w.drain_events().await.is_empty(),
            "no duplicate emission across polls"
        );
        let record = w.instance(id).await;
        assert!(record.poll.last_success_at.is_some());
        assert_eq!(record.poll.total_events, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_changes_across_pages_arrive_once_each() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.sim.advance(ChronoDuration::seconds(1));
        let ids: HashSet<String> = (0..1005)
            .map(|i| {
                w.sim
                    .create("contacts", serde_json::json!({"name": format!("C{i}")}))
            })
            .collect();
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        let events = w.drain_events().await;
        let seen: HashSet<String> = events.iter().map(|e| e.object_id.clone()).collect();
        assert_eq!(events.len(), 1005, "each change exactly once");
        assert_eq!(seen, ids);
        assert_eq!(summary.resources["customers"].notifications, 101);
        // The client followed $next over 6 pages of 200.
        let pages = w
            .sim
            .requests()
            .iter()
            .filter(|r| r.path == "/contacts" && !r.query.iter().any(|(k, _)| k == "deleted_since"))
            .count();
        assert!(pages >= 6, "{pages} list requests");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_the_boundary_second_is_not_missed() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.poll(id).await;
        let watermark = w.watermark(id).await;
        // Written in the same second as the watermark, but just before it: a strict `>`
        // on whole seconds (or no lookback) would lose it.
        let at = watermark - ChronoDuration::milliseconds(1);
        let late = w
            .sim
            .create_at("contacts", serde_json::json!({"name": "Late commit"}), at);
        w.poll(id).await;
        let events = w.drain_events().await;
        assert_eq!(
            events
                .iter()
                .map(|e| e.object_id.clone())
                .collect::<Vec<_>>(),
            vec![late]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_mid_pagination_keep_the_watermark_and_the_next_poll_delivers_everything() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.sim.advance(ChronoDuration::seconds(1));
        let ids: HashSet<String> = (0..450)
            .map(|i| {
                w.sim
                    .create("contacts", serde_json::json!({"name": format!("C{i}")}))
            })
            .collect();
        let before = w.watermark(id).await;
        for fault in [
            Fault::ServerError(503),
            Fault::RateLimited { retry_after: None },
            Fault::Slow(Duration::from_secs(3)),
        ] {
            w.sim
                .inject(FaultRule::new(fault.clone(), FaultTarget::Page(2), 50));
            let summary = w.poll(id).await;
            assert_eq!(
                summary.outcome,
                PollOutcome::PartiallyFailed,
                "{fault:?}: {summary:?}"
            );
            assert!(summary.resources["customers"].error.is_some());
            assert_eq!(
                w.watermark(id).await,
                before,
                "{fault:?}: watermark must not move"
            );
            let record = w.instance(id).await;
            assert!(record.poll.last_error.is_some());
            w.sim.clear_faults();
        }
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        assert!(w.watermark(id).await > before);
        let events = w.drain_events().await;
        let seen: HashSet<String> = events.iter().map(|e| e.object_id.clone()).collect();
        assert_eq!(seen, ids, "everything delivered once the faults are gone");
        // Page 1 was enqueued by each failed attempt too: duplicates carry the same ids.
        let mut by_object: std::collections::HashMap<String, HashSet<String>> = Default::default();
        for e in &events {
            by_object
                .entry(e.object_id.clone())
                .or_default()
                .insert(e.event_id.clone());
        }
        assert!(
            by_object.values().all(|ids| ids.len() == 1),
            "a re-sent change keeps its event id"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_enqueue_and_watermark_loses_nothing() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.sim.advance(ChronoDuration::seconds(1));
        let created = w
            .sim
            .create("contacts", serde_json::json!({"name": "Crash test"}));
        w.fail_next_watermark_write();
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::PartiallyFailed, "{summary:?}");
        let first = w.drain_events().await;
        assert_eq!(first.len(), 1, "enqueued before the crash");
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled);
        let second = w.drain_events().await;
        assert_eq!(second.len(), 1, "re-sent after the crash");
        assert_eq!(first[0].object_id, created);
        assert_eq!(
            first[0].event_id, second[0].event_id,
            "same event id: receivers de-duplicate"
        );
        assert_eq!(first[0].notification_id, second[0].notification_id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_persisted_before_it_is_used() {
    each_backend(async |w: World| {
        // Access tokens that live 30 s are always "about to expire": every poll refreshes.
        let id = w.register().await;
        let before = w.secret_tokens(id).await;
        w.sim.clear_requests();
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        let after = w.secret_tokens(id).await;
        assert_ne!(
            before.refresh_token, after.refresh_token,
            "the rotated token is stored"
        );
        let log = w.sim.requests();
        assert_eq!(
            log.first().map(|r| r.path.as_str()),
            Some("/token"),
            "refresh first"
        );

        // When storing the rotated token fails, the new access token is never used.
        w.fail_next_secret_write();
        w.sim.clear_requests();
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Failed, "{summary:?}");
        let log = w.sim.requests();
        assert!(
            log.iter().all(|r| r.path == "/token"),
            "no API call with an unsaved token: {log:?}"
        );
        // The stored (old) refresh token is dead at Sage now, as Sage rotates on use:
        // the next poll finds out and marks the instance for re-authorization.
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Invalid, "{summary:?}");
        let record = w.instance(id).await;
        assert!(!record.valid);
        assert!(
            record
                .invalid_reason
                .unwrap_or_default()
                .contains("re-authorize")
        );
        // And it is not polled again until re-authorized.
        w.sim.clear_requests();
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Invalid);
        assert!(w.sim.requests().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_invocations_poll_once() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.sim.inject(FaultRule::new(
            Fault::Slow(Duration::from_millis(1500)),
            FaultTarget::Path("/contacts".into()),
            1,
        ));
        // B starts 100 ms after A, while A's first page is still being served (1.5 s):
        // the two polls overlap, but their lease writes do not arrive at the same
        // instant — moto_server (unlike DynamoDB) does not apply a conditional write
        // atomically against a simultaneous one, and would let both through.
        let b = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            w.poll_as(id, "invocation-b").await
        };
        let (a, b) = tokio::join!(w.poll_as(id, "invocation-a"), b);
        let outcomes = [a.outcome.clone(), b.outcome.clone()];
        assert!(outcomes.contains(&PollOutcome::Polled), "{outcomes:?}");
        assert!(outcomes.contains(&PollOutcome::LeaseHeld), "{outcomes:?}");
        // The lease is released after the poll: the next one runs.
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_marks_the_instance_invalid() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.revoke_at_sage(id).await;
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Invalid, "{summary:?}");
        let record = w.instance(id).await;
        assert!(!record.valid);
        let token_calls = w
            .sim
            .requests()
            .iter()
            .filter(|r| r.path == "/token")
            .count();
        assert!(
            token_calls <= 2,
            "no retry loop on invalid_grant ({token_calls} token calls)"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_and_events_off_instances_are_skipped() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.set_flags(id, true, true).await;
        w.sim.clear_requests();
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Disabled);
        w.set_flags(id, false, false).await;
        assert_eq!(w.poll(id).await.outcome, PollOutcome::EventsDisabled);
        assert!(w.sim.requests().is_empty());
        assert_eq!(w.poll(424242).await.outcome, PollOutcome::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_deleted_before_the_page_being_read_are_not_skipped() {
    for backend in [Backend::Embedded, Backend::Aws] {
        paging::deleting_rows_of_page_one_mid_listing(backend).await;
    }
}

/// How many seeds the churn property runs (`PAGING_SEEDS` raises it for a longer hunt).
fn churn_seeds(default: u64) -> u64 {
    std::env::var("PAGING_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_churn_between_pages_loses_nothing_embedded() {
    for seed in 0..churn_seeds(24) {
        paging::random_churn_between_pages(Backend::Embedded, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_churn_between_pages_loses_nothing_on_aws() {
    for seed in 1_000..1_000 + churn_seeds(24).div_ceil(8) {
        paging::random_churn_between_pages(Backend::Aws, seed).await;
    }
}

/// Which id is stable in which case (README, "Correctness rules"): an event's `evt_` id
/// is the same whenever that version is sent; a notification's `msg_` id follows its
/// events, so a re-poll after a crash that regroups them sends a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_resent_events_keep_their_event_ids_in_a_new_notification() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.sim.advance(ChronoDuration::seconds(1));
        for i in 0..4 {
            w.sim.create(
                "contacts",
                serde_json::json!({"name": format!("Before {i}")}),
            );
        }
        w.fail_next_watermark_write();
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::PartiallyFailed, "{summary:?}");
        let first = w.drain_events().await;
        assert_eq!(first.len(), 4);
        // A change made before the next poll joins the re-read window.
        w.sim.advance(ChronoDuration::seconds(1));
        w.sim
            .create("contacts", serde_json::json!({"name": "After the crash"}));
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        let second = w.drain_events().await;
        assert_eq!(second.len(), 5, "the four re-sent plus the new one");
        let first_ids: HashSet<&str> = first.iter().map(|e| e.event_id.as_str()).collect();
        let resent: HashSet<&str> = second
            .iter()
            .map(|e| e.event_id.as_str())
            .filter(|id| first_ids.contains(id))
            .collect();
        assert_eq!(resent, first_ids, "re-sent events keep their evt_ ids");
        assert_ne!(
            first[0].notification_id, second[0].notification_id,
            "regrouped events travel in a notification with a new msg_ id"
        );
    })
    .await;
}

/// The registration edge (README, "Correctness rules"): a change stamped before the
/// registration instant is history even when Sage commits it later; a customer who
/// wants that edge covered registers with an earlier `event.poller.start`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_stamped_before_registration_is_history_unless_the_start_says_otherwise() {
    each_backend(async |w: World| {
        let plain = w.register().await;
        let registered = chrono::Utc::now();
        let covered = w
            .register_with_start(Some(registered - ChronoDuration::minutes(2)))
            .await;
        // Committed after both registrations, stamped 30 s before them (a late commit).
        let late = w.sim.create_at(
            "contacts",
            serde_json::json!({"name": "Late commit"}),
            registered - ChronoDuration::seconds(30),
        );
        assert_eq!(w.poll(plain).await.outcome, PollOutcome::Polled);
        assert!(
            w.drain_events().await.is_empty(),
            "stamped before the registration instant: history"
        );
        assert_eq!(w.poll(covered).await.outcome, PollOutcome::Polled);
        let events = w.drain_events().await;
        assert_eq!(
            events
                .iter()
                .map(|e| e.object_id.as_str())
                .collect::<Vec<_>>(),
            vec![late.as_str()],
            "an explicit event.poller.start covers the edge"
        );
    })
    .await;
}

/// An idle poll's cost (issue: scale and cost per poll). On the standalone runner (SQLite,
/// leases in memory): one durable commit — the poll status. On AWS: one read (the record
/// and its watermarks in one Query) and two writes (the lease taken; the lease released
/// with the status in one UpdateItem). The watermark of an idle resource is not rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_poll_costs_one_commit_on_sqlite_and_one_read_two_writes_on_dynamodb() {
    // Tokens that outlive the test: no refresh (a refresh adds its own durable write).
    let long = Duration::from_secs(3_600);
    let w = World::with_options(Backend::Embedded, true, long).await;
    let id = w.register().await;
    assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
    let store = w.embedded.clone().expect("embedded store");
    let before = store.commit_count();
    let summary = w.poll(id).await;
    assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
    assert_eq!(
        store.commit_count() - before,
        1,
        "one durable commit per idle poll on the runner"
    );
    assert!(w.instance(id).await.poll.last_success_at.is_some());

    let w = World::with_options(Backend::Aws, false, long).await;
    let id = w.register().await;
    assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
    let before = w.dynamo_requests.snapshot();
    let summary = w.poll(id).await;
    assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
    let after = w.dynamo_requests.snapshot();
    let delta: std::collections::BTreeMap<&str, u64> = after
        .iter()
        .map(|(op, n)| (op.as_str(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        delta,
        std::collections::BTreeMap::from([("Query", 1), ("UpdateItem", 2)]),
        "an idle poll: one Query, two UpdateItems"
    );
}

/// An active poll still writes its watermark; the idle ones after it do not move it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_polls_leave_the_watermark_and_lose_nothing_after() {
    each_backend(async |w: World| {
        let id = w.register().await;
        w.sim.advance(ChronoDuration::seconds(1));
        w.sim.create("contacts", serde_json::json!({"name": "One"}));
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
        assert_eq!(w.drain_events().await.len(), 1);
        let after_active = w.watermark(id).await;
        for _ in 0..2 {
            assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
        }
        assert_eq!(
            w.watermark(id).await,
            after_active,
            "idle polls write no watermark"
        );
        assert!(w.drain_events().await.is_empty(), "and re-send nothing");
        w.sim.advance(ChronoDuration::seconds(1));
        let two = w.sim.create("contacts", serde_json::json!({"name": "Two"}));
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
        let events = w.drain_events().await;
        assert_eq!(
            events
                .iter()
                .map(|e| e.object_id.as_str())
                .collect::<Vec<_>>(),
            vec![two.as_str()]
        );
        assert!(w.watermark(id).await > after_active);
    })
    .await;
}
