//! The runner: the three functions (API, poller, delivery) in one process on one SQLite
//! file, started together and stopped together.

use crate::api::{ApiHandler, RegistrationParts, registration_service};
use crate::config::RunnerConfig;
use crate::scheduler::{PollObserver, Scheduler, local_trigger};
use crate::server::{Readiness, router};
use crate::worker::{DeliveryObserver, DeliveryWorkers};
use sage_events_core::clock::{Clock, SystemClock};
use sage_events_core::delivery::sender::CallbackSender;
use sage_events_core::delivery::service::{Deliverer, DeliveryDeps, DeliverySettings};
use sage_events_core::embedded::{EmbeddedStore, ProcessLeases};
use sage_events_core::poll::PollerDeps;
use sage_events_core::ports::{LeaseStore, PortError};
use sage_events_core::sage::{ClientSettings, SageClient, SageEndpoints, SageError};
use sage_events_core::settings::Settings;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the runner could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("database: {0}")]
    Store(#[from] PortError),
    #[error("Sage client: {0}")]
    Sage(#[from] SageError),
    #[error("callback sender: {0}")]
    Sender(String),
    #[error("{0}")]
    Locked(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Take an exclusive lock on `<database>.lock` so a second runner on the same file fails
/// fast instead of polling and delivering beside the first. The lock dies with the
/// process (kill -9 included), so a restart never finds it stale.
fn lock_database(database: &std::path::Path) -> Result<std::fs::File, RunnerError> {
    let mut path = database.as_os_str().to_owned();
    path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            RunnerError::Locked(format!(
                "cannot open {}: {e}",
                std::path::Path::new(&path).display()
            ))
        })?;
    file.try_lock().map_err(|_| {
        RunnerError::Locked(format!(
            "another sage-events process is using {} (lock file {})",
            database.display(),
            std::path::Path::new(&path).display()
        ))
    })?;
    Ok(file)
}

/// Hooks for watching the runner work (the demo prints what they see).
#[derive(Clone, Default)]
pub struct Observers {
    pub polls: Option<PollObserver>,
    pub deliveries: Option<DeliveryObserver>,
}

/// The poll engine's adapters on the embedded store.
pub fn poller_deps(
    store: &EmbeddedStore,
    endpoints: SageEndpoints,
    clock: Arc<dyn Clock>,
) -> Result<PollerDeps, SageError> {
    let store = Arc::new(store.clone());
    Ok(PollerDeps {
        instances: store.clone(),
        watermarks: store.clone(),
        leases: store.clone(),
        secrets: store.clone(),
        queue: store,
        sage: SageClient::new(endpoints, ClientSettings::default(), clock.clone())?,
        clock,
    })
}

/// The delivery service on the embedded store.
pub fn deliverer(
    store: &EmbeddedStore,
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<Deliverer, String> {
    let store = Arc::new(store.clone());
    Ok(Deliverer::new(
        DeliveryDeps {
            instances: store.clone(),
            secrets: store,
            sender: CallbackSender::new(settings.address_policy(), settings.callback_timeout)?,
            clock,
        },
        DeliverySettings {
            schedule: settings.retry_schedule,
            max_receive_count: settings.max_receive_count,
            ..DeliverySettings::default()
        },
    ))
}

/// A started runner.
pub struct Runner {
    /// Held for the runner's life: one process per database file.
    _lock: std::fs::File,
    addr: SocketAddr,
    store: EmbeddedStore,
    readiness: Readiness,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    scheduler: JoinHandle<()>,
    workers: JoinHandle<()>,
    grace: Duration,
}

impl Runner {
    /// Open the store, start the scheduler and the delivery workers, then listen.
    /// Returns once the API accepts connections (`/health` answers 200).
    pub async fn start(config: RunnerConfig, observers: Observers) -> Result<Runner, RunnerError> {
        Self::start_with_handler(config, observers, registration_service).await
    }

    /// [`Runner::start`] with the API handler built by `make_handler` instead of
    /// [`registration_service`] (tests exercise the runner around a stand-in API).
    pub async fn start_with_handler(
        config: RunnerConfig,
        observers: Observers,
        make_handler: impl FnOnce(RegistrationParts) -> Arc<dyn ApiHandler>,
    ) -> Result<Runner, RunnerError> {
        let lock = lock_database(&config.database)?;
        let store = EmbeddedStore::open(&config.database, config.key)?;
        // We hold the database alone (the lock above), so any lease in it is a leftover
        // of a run that died mid-poll: free it instead of waiting for it to expire.
        let stale = store.release_all_leases().await?;
        if stale > 0 {
            tracing::info!(stale, "released poll leases left by a previous run");
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Holding the database alone, leases need no durable write: one set in memory,
        // shared by the poller and the API (see `ProcessLeases`).
        let leases: Arc<dyn LeaseStore> = Arc::new(ProcessLeases::new());
        let mut deps = poller_deps(&store, config.endpoints, clock.clone())?;
        deps.leases = leases.clone();
        let deliverer =
            deliverer(&store, &config.settings, clock.clone()).map_err(RunnerError::Sender)?;
        let (trigger, requests) = local_trigger();
        let handler: Arc<dyn ApiHandler> = make_handler(RegistrationParts {
            store: store.clone(),
            leases,
            poll_trigger: Arc::new(trigger),
            sage: deps.sage.clone(),
            clock,
            auth: config.auth,
            settings: config.settings,
        });
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| RunnerError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| RunnerError::Listen {
                addr: config.listen,
                source,
            })?;

        let (shutdown, stop) = watch::channel(false);
        let mut scheduler = Scheduler::new(store.clone(), deps, config.scheduler);
        if let Some(observer) = observers.polls {
            scheduler = scheduler.with_observer(observer);
        }
        let scheduler = tokio::spawn(scheduler.run(requests, stop.clone(), config.shutdown_grace));
        let mut workers = DeliveryWorkers::new(Arc::new(store.clone()), deliverer, config.workers);
        if let Some(observer) = observers.deliveries {
            workers = workers.with_observer(observer);
        }
        let workers = tokio::spawn(workers.run(stop.clone()));

        let readiness = Readiness::default();
        let app = router(handler, readiness.clone(), config.server.body_read_timeout);
        let server = tokio::spawn(crate::server::serve(listener, app, config.server, stop));
        readiness.set(true);
        tracing::info!(%addr, "sage-events is listening");
        Ok(Runner {
            _lock: lock,
            addr,
            store,
            readiness,
            shutdown,
            server,
            scheduler,
            workers,
            grace: config.shutdown_grace,
        })
    }

    /// The address the API listens on (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The runner's store (shared connection).
    pub fn store(&self) -> &EmbeddedStore {
        &self.store
    }

    /// Stop gracefully: refuse new HTTP connections and new polls and batches, wait up to
    /// the grace period for the running ones. Returns whether everything finished in time.
    pub async fn shutdown(self) -> bool {
        let Runner {
            readiness,
            shutdown,
            server,
            scheduler,
            workers,
            grace,
            ..
        } = self;
        readiness.set(false);
        let _ = shutdown.send(true);
        let all = async {
            let (server, scheduler, workers) = tokio::join!(server, scheduler, workers);
            for (name, joined) in [
                ("HTTP server", server),
                ("scheduler", scheduler),
                ("delivery workers", workers),
            ] {
                if let Err(error) = joined {
                    tracing::error!(error = %error, "{name} ended abnormally");
                }
            }
        };
        // The scheduler applies the grace period to its polls itself; this bound covers
        // a delivery batch still waiting on slow callbacks.
        match tokio::time::timeout(grace + Duration::from_secs(1), all).await {
            Ok(()) => {
                tracing::info!("sage-events stopped");
                true
            }
            Err(_) => {
                tracing::warn!(
                    "shutdown grace period over; unfinished deliveries return to the queue after their visibility timeout"
                );
                false
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
