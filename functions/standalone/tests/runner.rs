//! The runner in-process: a graceful shutdown waits for the delivery in flight and acks it.

mod support;

use callback_receiver::{Receiver, Reply};
use sage_events_core::embedded::SecretKey;
use sage_events_core::registration::auth::{Authenticator, OrganizationCredential};
use sage_events_core::sage::SageEndpoints;
use sage_events_core::secret::Secret;
use sage_events_core::settings::Settings;
use sage_events_standalone::config::RunnerConfig;
use sage_events_standalone::runner::{Observers, Runner};
use sage_events_standalone::scheduler::SchedulerSettings;
use sage_events_standalone::worker::WorkerSettings;
use std::time::Duration;
use support::{TempDir, add_instance, enqueue, key_for};

fn config(dir: &TempDir) -> RunnerConfig {
    RunnerConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        database: dir.path("events.db"),
        key: SecretKey::generate().unwrap(),
        endpoints: SageEndpoints::from_lookup(|_| None).unwrap(),
        auth: Authenticator::new(&[OrganizationCredential {
            id: None,
            organization_secret: Secret::new("o"),
            user_secret: Secret::new("u"),
        }]),
        settings: Settings {
            allow_loopback_callbacks: true,
            ..Settings::default()
        },
        scheduler: SchedulerSettings::default(),
        server: Default::default(),
        workers: WorkerSettings {
            idle: Duration::from_millis(20),
            ..WorkerSettings::default()
        },
        shutdown_grace: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_delivery_in_flight_and_acks_it() {
    let dir = TempDir::new("runner");
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default_reply(Reply::Slow(Duration::from_millis(800)));
    let runner = Runner::start(config(&dir), Observers::default())
        .await
        .unwrap();
    let health = reqwest::get(format!("http://{}/health", runner.addr()))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    let store = runner.store().clone();
    let id = add_instance(&store, &receiver.url("/hook")).await;
    receiver.set_key(key_for(id));
    enqueue(&store, id, 1).await;
    // Wait until a worker holds it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.queue_depth().await.unwrap().in_flight == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never received");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(runner.shutdown().await, "finished within the grace period");
    // The slow callback completed and was acked before shutdown returned.
    assert_eq!(receiver.accepted().len(), 1);
    let depth = store.queue_depth().await.unwrap();
    assert_eq!((depth.visible, depth.in_flight), (0, 0), "{depth:?}");
}

#[tokio::test]
async fn a_busy_port_is_reported() {
    let dir = TempDir::new("busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config(&dir);
    config.listen = taken.local_addr().unwrap();
    let error = Runner::start(config, Observers::default())
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("cannot listen"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_runner_on_the_same_database_is_refused() {
    let dir = TempDir::new("runner-lock");
    let first_config = config(&dir);
    let key = first_config.key.clone();
    let first = Runner::start(first_config, Observers::default())
        .await
        .unwrap();
    let second = Runner::start(config(&dir), Observers::default()).await;
    match second {
        Err(e) => assert!(e.to_string().contains("another sage-events process"), "{e}"),
        Ok(_) => panic!("two runners on one database"),
    }
    assert!(first.shutdown().await);
    // Once the first is gone the database is free again.
    let mut again_config = config(&dir);
    again_config.key = key;
    let again = Runner::start(again_config, Observers::default()).await;
    assert!(
        again.is_ok(),
        "lock released on shutdown: {:?}",
        again.err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_left_by_a_dead_run_are_released_at_start() {
    use sage_events_core::embedded::EmbeddedStore;
    use sage_events_core::ports::LeaseStore;
    let dir = TempDir::new("runner-lease");
    let mut cfg = config(&dir);
    let key = cfg.key.clone();
    {
        // A previous run died mid-poll, holding instance 7's lease for 15 minutes.
        let store = EmbeddedStore::open(&cfg.database, key.clone()).unwrap();
        let now = chrono::Utc::now();
        let leases: &dyn LeaseStore = &store;
        assert!(
            leases
                .acquire(
                    7,
                    "standalone-dead-1",
                    now,
                    now + chrono::Duration::minutes(15)
                )
                .await
                .unwrap()
        );
    }
    cfg.key = key;
    let runner = Runner::start(cfg, Observers::default()).await.unwrap();
    let now = chrono::Utc::now();
    let leases: &dyn LeaseStore = runner.store();
    assert!(
        leases
            .acquire(
                7,
                "standalone-new-1",
                now,
                now + chrono::Duration::minutes(1)
            )
            .await
            .unwrap(),
        "the dead run's lease is gone"
    );
    assert!(runner.shutdown().await);
}
