//! The poll scheduler in-process, against the Sage simulator: scheduled instances are
//! polled at their interval (with a shortened "minute"), never twice at once, "poll now"
//! jumps the queue, and the changes it finds reach the queue.

mod support;

use chrono::Utc;
use sage_events_core::clock::SystemClock;
use sage_events_core::config::{ValidationOptions, parse_instance_request};
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::poll::{PollOutcome, PollSettings};
use sage_events_core::ports::{
    InstanceRecord, InstanceStore, PollScheduler, PollTrigger, SecretStore, Watermark,
    WatermarkStore,
};
use sage_events_core::sage::{AppCredentials, SageEndpoints};
use sage_events_core::secret::Secret;
use sage_events_standalone::runner::poller_deps;
use sage_events_standalone::scheduler::{
    PollCause, PollReport, Scheduler, SchedulerSettings, local_trigger,
};
use sage_sim::{Fault, FaultRule, FaultTarget, SageSim, SimConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const SEED: &[u8] = include_bytes!("../../../tests/fixtures/seed-example-instance.json");
const REDIRECT_URI: &str = "https://mycoolapp.com";

struct World {
    sim: SageSim,
    store: EmbeddedStore,
    reports: Arc<Mutex<Vec<PollReport>>>,
}

async fn world() -> World {
    let sim = SageSim::start(SimConfig::default()).await.unwrap();
    let store =
        EmbeddedStore::open_in_memory(SecretKey::generate().unwrap(), Arc::new(SystemClock))
            .unwrap();
    World {
        sim,
        store,
        reports: Arc::new(Mutex::new(Vec::new())),
    }
}

impl World {
    fn endpoints(&self) -> SageEndpoints {
        SageEndpoints {
            api_url: self.sim.api_url().parse().unwrap(),
            token_url: self.sim.token_url().parse().unwrap(),
            revoke_url: self.sim.revoke_url().parse().unwrap(),
        }
    }

    /// Register the seed's instance the way registration does (code exchange, secrets,
    /// record, watermarks at now) and schedule it every `minutes`.
    async fn register(&self, minutes: u32) -> u64 {
        let request = parse_instance_request(SEED, &ValidationOptions::default()).unwrap();
        let deps = poller_deps(&self.store, self.endpoints(), Arc::new(SystemClock)).unwrap();
        let code = self
            .sim
            .issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI);
        let tokens = deps
            .sage
            .exchange_code(
                &AppCredentials {
                    client_id: sage_sim::DEFAULT_CLIENT_ID.into(),
                    client_secret: Secret::new(sage_sim::DEFAULT_CLIENT_SECRET),
                    redirect_uri: REDIRECT_URI.into(),
                },
                &Secret::new(code),
            )
            .await
            .unwrap();
        let id = InstanceStore::next_id(&self.store).await.unwrap();
        let now = Utc::now();
        let doc = InstanceSecrets {
            client_id: sage_sim::DEFAULT_CLIENT_ID.into(),
            client_secret: Secret::new(sage_sim::DEFAULT_CLIENT_SECRET),
            redirect_uri: REDIRECT_URI.into(),
            tokens,
            signature_key: Secret::new("whsec_dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXk="),
            signature_secret: None,
            apim_subscription_key: None,
        };
        SecretStore::create(&self.store, id, &doc.to_json())
            .await
            .unwrap();
        let record = InstanceRecord {
            id,
            organization: "org".into(),
            name: request.name.clone(),
            tags: request.tags.clone(),
            token_hash: String::new(),
            configuration: serde_json::Value::Object(
                request.configuration.to_response_configuration(),
            ),
            events_enabled: true,
            disabled: false,
            valid: true,
            invalid_reason: None,
            created_at: now,
            updated_at: now,
            poll: Default::default(),
            delivery: Default::default(),
        };
        InstanceStore::create(&self.store, &record).await.unwrap();
        WatermarkStore::advance(
            &self.store,
            id,
            "customers",
            &Watermark {
                at: now,
                seen: vec![],
            },
        )
        .await
        .unwrap();
        PollScheduler::upsert(&self.store, id, minutes)
            .await
            .unwrap();
        id
    }

    fn scheduler(&self, minute: Duration) -> Scheduler {
        self.scheduler_with(SchedulerSettings {
            tick: Duration::from_millis(20),
            minute,
            jitter: 0.1,
            poll: PollSettings::default(),
            ..SchedulerSettings::default()
        })
    }

    fn scheduler_with(&self, settings: SchedulerSettings) -> Scheduler {
        let deps = poller_deps(&self.store, self.endpoints(), Arc::new(SystemClock)).unwrap();
        let reports = self.reports.clone();
        Scheduler::new(self.store.clone(), deps, settings).with_observer(Arc::new(
            move |report: &PollReport| {
                reports.lock().unwrap().push(report.clone());
            },
        ))
    }

    fn reports(&self) -> Vec<PollReport> {
        self.reports.lock().unwrap().clone()
    }

    async fn wait_reports(&self, n: usize, timeout: Duration) -> Vec<PollReport> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.reports().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.reports()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_instance_is_polled_at_its_interval() {
    let w = world().await;
    let id = w.register(2).await;
    // A "minute" of 150 ms: interval 300 ms ± 10 %, first poll within 300 ms.
    let (_trigger, requests) = local_trigger();
    let (stop, stopped) = watch::channel(false);
    let started = tokio::time::Instant::now();
    let running = tokio::spawn(w.scheduler(Duration::from_millis(150)).run(
        requests,
        stopped,
        Duration::from_secs(5),
    ));
    let reports = w.wait_reports(4, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(6), running)
        .await
        .expect("scheduler stops")
        .unwrap();

    assert!(reports.len() >= 4, "only {} polls", reports.len());
    for report in &reports {
        assert_eq!(report.instance_id, id);
        assert_eq!(report.cause, PollCause::Scheduled);
        let summary = report.result.as_ref().expect("poll ran");
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
    }
    // Four polls need at least three intervals of ≥ 270 ms; and not wildly more.
    assert!(elapsed >= Duration::from_millis(3 * 270), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let record = InstanceStore::get(&w.store, id).await.unwrap().unwrap();
    assert!(record.poll.last_success_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_now_jumps_the_queue_and_its_changes_reach_the_queue() {
    let w = world().await;
    let id = w.register(60).await;
    let (trigger, requests) = local_trigger();
    let (stop, stopped) = watch::channel(false);
    // An hour-long interval: nothing is due on its own during the test.
    let running = tokio::spawn(w.scheduler(Duration::from_secs(60)).run(
        requests,
        stopped,
        Duration::from_secs(5),
    ));

    w.sim.advance(chrono::Duration::seconds(2));
    w.sim
        .create("contacts", serde_json::json!({ "name": "New Customer" }));
    trigger.poll_now(id).await.unwrap();
    let reports = w.wait_reports(1, Duration::from_secs(10)).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].cause, PollCause::Requested);
    let summary = reports[0].result.as_ref().unwrap();
    assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
    assert_eq!(summary.resources["customers"].created, 1);
    let depth = w.store.queue_depth().await.unwrap();
    assert_eq!(depth.visible, 1, "one notification queued: {depth:?}");

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(6), running)
        .await
        .expect("scheduler stops")
        .unwrap();
    // Once the scheduler is gone, "poll now" reports it instead of losing it silently.
    assert!(trigger.poll_now(id).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poll_per_instance_at_a_time() {
    let w = world().await;
    let id = w.register(60).await;
    let (trigger, requests) = local_trigger();
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(w.scheduler(Duration::from_secs(60)).run(
        requests,
        stopped,
        Duration::from_secs(5),
    ));
    // A burst of requests: one poll runs, the rest collapse into one follow-up.
    for _ in 0..5 {
        trigger.poll_now(id).await.unwrap();
    }
    let reports = w.wait_reports(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reports_after = w.reports();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(6), running)
        .await
        .expect("scheduler stops")
        .unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(
        reports_after.len(),
        2,
        "one poll plus one follow-up for a burst of five requests"
    );
    // None of them found the lease held: they never overlapped.
    for report in reports_after {
        let summary = report.result.unwrap();
        assert_ne!(summary.outcome, PollOutcome::LeaseHeld);
    }
}

/// Stop the scheduler and wait for it.
async fn stop_scheduler(stop: watch::Sender<bool>, running: tokio::task::JoinHandle<()>) {
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(6), running)
        .await
        .expect("scheduler stops")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_never_exceed_the_concurrency_cap() {
    let w = world().await;
    for _ in 0..6 {
        w.register(1).await;
    }
    // Every Sage call takes 150 ms: a poll (list + deleted list) takes ≥ 300 ms, longer
    // than the 250 ms within which all six are first due.
    w.sim.inject(FaultRule::new(
        Fault::Slow(Duration::from_millis(150)),
        FaultTarget::AnyApi,
        10_000,
    ));
    let ends = Arc::new(Mutex::new(Vec::new()));
    let recorded = ends.clone();
    let reports = w.reports.clone();
    let scheduler = w
        .scheduler_with(SchedulerSettings {
            tick: Duration::from_millis(20),
            minute: Duration::from_millis(250),
            max_concurrent_polls: 2,
            ..SchedulerSettings::default()
        })
        .with_observer(Arc::new(move |report: &PollReport| {
            recorded
                .lock()
                .unwrap()
                .push((report.started, tokio::time::Instant::now()));
            reports.lock().unwrap().push(report.clone());
        }));
    let (_trigger, requests) = local_trigger();
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(scheduler.run(requests, stopped, Duration::from_secs(5)));
    let reports = w.wait_reports(8, Duration::from_secs(15)).await;
    stop_scheduler(stop, running).await;

    assert!(reports.len() >= 8, "only {} polls", reports.len());
    for report in &reports {
        let summary = report.result.as_ref().expect("poll ran");
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
    }
    // The most polls running at any instant: exactly the cap (six were due at once).
    let spans = ends.lock().unwrap().clone();
    let most = spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap();
    assert_eq!(most, 2, "polls in flight at once: {most}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_polls_start_in_due_time_order_when_slots_are_scarce() {
    let w = world().await;
    for _ in 0..5 {
        w.register(1).await;
    }
    w.sim.inject(FaultRule::new(
        Fault::Slow(Duration::from_millis(40)),
        FaultTarget::AnyApi,
        10_000,
    ));
    let scheduler = w.scheduler_with(SchedulerSettings {
        tick: Duration::from_millis(20),
        minute: Duration::from_millis(200),
        max_concurrent_polls: 1,
        ..SchedulerSettings::default()
    });
    let (_trigger, requests) = local_trigger();
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(scheduler.run(requests, stopped, Duration::from_secs(5)));
    let mut reports = w.wait_reports(10, Duration::from_secs(15)).await;
    stop_scheduler(stop, running).await;

    assert!(reports.len() >= 10, "only {} polls", reports.len());
    // One slot, polls of ≥ 80 ms, five instances due every 200 ms: polls queue up, and
    // the queue is served earliest due first, never before the due time.
    reports.sort_by_key(|r| r.started);
    let dues: Vec<_> = reports
        .iter()
        .map(|r| r.due.expect("scheduled polls have a due time"))
        .collect();
    for (report, due) in reports.iter().zip(&dues) {
        assert_eq!(report.cause, PollCause::Scheduled);
        assert!(report.started >= *due);
    }
    assert!(
        dues.windows(2).all(|pair| pair[0] <= pair[1]),
        "started out of due order"
    );
    // And they did queue up (otherwise the order says nothing).
    let late = reports
        .iter()
        .filter(|r| r.started - r.due.unwrap() > Duration::from_millis(20))
        .count();
    assert!(late > 0, "no poll had to wait for the slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_writes_reach_the_scheduler_without_a_rescan() {
    let w = world().await;
    // Started on an empty table, with the periodic full re-read an hour away: only the
    // store's change signal can tell it about the schedule written below.
    let scheduler = w.scheduler_with(SchedulerSettings {
        tick: Duration::from_millis(20),
        resync: Duration::from_secs(3600),
        minute: Duration::from_millis(100),
        ..SchedulerSettings::default()
    });
    let (_trigger, requests) = local_trigger();
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(scheduler.run(requests, stopped, Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = w.register(1).await;
    let reports = w.wait_reports(2, Duration::from_secs(5)).await;
    assert!(reports.len() >= 2, "only {} polls", reports.len());
    assert!(reports.iter().all(|r| r.instance_id == id));

    PollScheduler::delete(&w.store, id).await.unwrap();
    // A poll already running may still finish; after that, none.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_delete = w.reports().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = w.reports().len();
    stop_scheduler(stop, running).await;
    assert_eq!(later, after_delete, "a deleted schedule is still polled");
}
