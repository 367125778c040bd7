//! The in-process poll scheduler: the runner's stand-in for EventBridge Scheduler.
//!
//! Every tick it reads the schedules table, keeps a next-due time per instance and starts
//! the polls that are due, as tokio tasks, never two at once for the same instance (the
//! poll lease still guards against another process). "Poll now" requests arrive through
//! [`LocalPollTrigger`] and jump the queue under the same one-at-a-time rule.
//!
//! Jitter: the first poll of a newly seen schedule is due at a random point within one
//! interval, later ones after the interval ± 10 %, so instances registered together (or
//! all loaded at start-up) do not all hit Sage in the same second.

use async_trait::async_trait;
use rand::Rng;
use sage_events_core::embedded::EmbeddedStore;
use sage_events_core::poll::{PollOutcome, PollSettings, PollSummary, PollerDeps, poll_instance};
use sage_events_core::ports::{PollTrigger, PortError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Knobs of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How often the schedules table is read.
    pub tick: Duration,
    /// The length of a schedule's "minute" (60 s; shorter in tests).
    pub minute: Duration,
    /// Spread of the interval between polls (0.1 = ± 10 %).
    pub jitter: f64,
    pub poll: PollSettings,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            tick: Duration::from_secs(1),
            minute: Duration::from_secs(60),
            jitter: 0.1,
            poll: PollSettings::default(),
        }
    }
}

/// Why a poll ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollCause {
    Scheduled,
    Requested,
}

/// One finished poll, as reported to an observer.
#[derive(Debug, Clone)]
pub struct PollReport {
    pub instance_id: u64,
    pub cause: PollCause,
    /// The summary, or the storage error that stopped the poll.
    pub result: Result<PollSummary, PortError>,
}

/// Called after every poll (the demo prints them).
pub type PollObserver = Arc<dyn Fn(&PollReport) + Send + Sync>;

/// "Poll now" for the registration service: queues the id for the scheduler.
#[derive(Clone, Debug)]
pub struct LocalPollTrigger {
    sender: mpsc::UnboundedSender<u64>,
}

/// The scheduler's end of [`LocalPollTrigger`].
#[derive(Debug)]
pub struct PollRequests {
    receiver: mpsc::UnboundedReceiver<u64>,
}

/// A connected trigger and request stream.
pub fn local_trigger() -> (LocalPollTrigger, PollRequests) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (LocalPollTrigger { sender }, PollRequests { receiver })
}

#[async_trait]
impl PollTrigger for LocalPollTrigger {
    async fn poll_now(&self, instance: u64) -> Result<(), PortError> {
        self.sender
            .send(instance)
            .map_err(|_| PortError::unavailable("the poll scheduler has stopped"))
    }
}

/// A lease owner name unique in this process and across restarts of it.
pub fn lease_owner() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    format!("standalone-{}-{n}", std::process::id())
}

/// Whether a poll's outcome counts as a failure (for exit codes and log levels).
pub fn is_failure(outcome: &PollOutcome) -> bool {
    matches!(
        outcome,
        PollOutcome::Failed
            | PollOutcome::PartiallyFailed
            | PollOutcome::Invalid
            | PollOutcome::NotFound
    )
}

/// Run one poll and log its summary.
pub async fn poll_and_log(
    deps: &PollerDeps,
    settings: &PollSettings,
    instance_id: u64,
) -> Result<PollSummary, PortError> {
    let owner = lease_owner();
    let result = poll_instance(deps, settings, instance_id, &owner).await;
    match &result {
        Ok(summary) => {
            let events: u64 = summary.resources.values().map(|r| r.notifications).sum();
            if is_failure(&summary.outcome) {
                tracing::warn!(
                    instance_id,
                    outcome = ?summary.outcome,
                    message = summary.message.as_deref().unwrap_or(""),
                    duration_ms = summary.duration_ms,
                    "poll failed"
                );
            } else {
                tracing::info!(
                    instance_id,
                    outcome = ?summary.outcome,
                    notifications = events,
                    duration_ms = summary.duration_ms,
                    "poll finished"
                );
            }
        }
        Err(error) => tracing::warn!(instance_id, error = %error, "poll stopped by storage"),
    }
    result
}

/// The next-due bookkeeping of one schedule.
struct Due {
    interval: Duration,
    next: Instant,
}

/// The scheduler (consumed by [`Scheduler::run`]).
pub struct Scheduler {
    store: EmbeddedStore,
    deps: PollerDeps,
    settings: SchedulerSettings,
    observer: Option<PollObserver>,
}

impl Scheduler {
    pub fn new(store: EmbeddedStore, deps: PollerDeps, settings: SchedulerSettings) -> Self {
        Scheduler {
            store,
            deps,
            settings,
            observer: None,
        }
    }

    pub fn with_observer(mut self, observer: PollObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Run until `shutdown` turns true (or its sender is dropped), then stop starting
    /// polls and wait up to `grace` for the running ones. A poll cut off after that is
    /// safe: watermarks move only after its events are queued, and its lease expires.
    pub async fn run(
        self,
        mut requests: PollRequests,
        mut shutdown: watch::Receiver<bool>,
        grace: Duration,
    ) {
        let mut state = State {
            scheduler: &self,
            due: HashMap::new(),
            running: HashSet::new(),
            again: HashSet::new(),
            tasks: JoinSet::new(),
            task_ids: HashMap::new(),
        };
        let mut ticker = tokio::time::interval(self.settings.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut requests_open = true;
        loop {
            tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => break,
                Some(joined) = state.tasks.join_next_with_id(), if !state.tasks.is_empty() => {
                    state.finished(joined);
                }
                request = requests.receiver.recv(), if requests_open => match request {
                    Some(id) => state.request(id),
                    None => requests_open = false,
                },
                _ = ticker.tick() => state.tick().await,
            }
        }
        state.drain(grace).await;
    }
}

struct State<'a> {
    scheduler: &'a Scheduler,
    due: HashMap<u64, Due>,
    running: HashSet<u64>,
    /// Instances asked to "poll now" while a poll of theirs was running: polled again
    /// when it ends, so a change made during the running poll is not left waiting.
    again: HashSet<u64>,
    tasks: JoinSet<u64>,
    task_ids: HashMap<tokio::task::Id, u64>,
}

impl State<'_> {
    fn request(&mut self, id: u64) {
        if self.running.contains(&id) {
            self.again.insert(id);
        } else {
            self.start(id, PollCause::Requested);
        }
    }

    async fn tick(&mut self) {
        let schedules = match self.scheduler.store.all_schedules().await {
            Ok(schedules) => schedules,
            Err(error) => {
                tracing::warn!(error = %error, "could not read the schedules");
                return;
            }
        };
        let now = Instant::now();
        let settings = &self.scheduler.settings;
        let current: HashSet<u64> = schedules.iter().map(|(id, _)| *id).collect();
        self.due.retain(|id, _| current.contains(id));
        let mut starting = Vec::new();
        for (id, minutes) in schedules {
            let interval = settings.minute.saturating_mul(minutes.max(1));
            let due = self.due.entry(id).or_insert_with(|| Due {
                interval,
                next: now + first_delay(interval),
            });
            if due.interval != interval {
                // A changed interval takes effect from now, with fresh jitter.
                *due = Due {
                    interval,
                    next: now + first_delay(interval),
                };
            }
            if due.next <= now {
                due.next = now + jittered(interval, settings.jitter);
                if !self.running.contains(&id) {
                    starting.push(id);
                }
            }
        }
        for id in starting {
            self.start(id, PollCause::Scheduled);
        }
    }

    fn start(&mut self, id: u64, cause: PollCause) {
        self.running.insert(id);
        let deps = self.scheduler.deps.clone();
        let settings = self.scheduler.settings.poll.clone();
        let observer = self.scheduler.observer.clone();
        let handle = self.tasks.spawn(async move {
            let result = poll_and_log(&deps, &settings, id).await;
            if let Some(observer) = observer {
                observer(&PollReport {
                    instance_id: id,
                    cause,
                    result,
                });
            }
            id
        });
        self.task_ids.insert(handle.id(), id);
    }

    fn finished(&mut self, joined: Result<(tokio::task::Id, u64), tokio::task::JoinError>) {
        let task = match &joined {
            Ok((task, _)) => *task,
            Err(error) => error.id(),
        };
        let Some(id) = self.task_ids.remove(&task) else {
            return;
        };
        if let Err(error) = joined {
            tracing::error!(instance_id = id, error = %error, "poll task ended abnormally");
        }
        self.running.remove(&id);
        if self.again.remove(&id) {
            self.start(id, PollCause::Requested);
        }
    }

    async fn drain(mut self, grace: Duration) {
        if self.tasks.is_empty() {
            return;
        }
        tracing::info!(
            polls = self.tasks.len(),
            "waiting for running polls to finish"
        );
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        while !self.tasks.is_empty() {
            tokio::select! {
                _ = self.tasks.join_next() => {}
                _ = &mut deadline => {
                    tracing::warn!(
                        polls = self.tasks.len(),
                        "shutdown grace period over; cutting off running polls (they resume safely on the next start)"
                    );
                    self.tasks.abort_all();
                    return;
                }
            }
        }
    }
}

/// A random delay within one interval.
fn first_delay(interval: Duration) -> Duration {
    let millis = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..millis))
}

/// `interval` ± `jitter` (a fraction).
fn jittered(interval: Duration, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    if jitter == 0.0 {
        return interval;
    }
    let factor = rand::rng().random_range((1.0 - jitter)..=(1.0 + jitter));
    interval.mul_f64(factor)
}

/// Resolves when `shutdown` turns true or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held across the caller's awaits.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(300);
        for _ in 0..1000 {
            let d = jittered(interval, 0.1);
            assert!(
                d >= Duration::from_secs(270) && d <= Duration::from_secs(330),
                "{d:?}"
            );
            assert!(first_delay(interval) < interval);
        }
        assert_eq!(jittered(interval, 0.0), interval);
        assert_eq!(first_delay(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn lease_owners_are_unique() {
        let a = lease_owner();
        let b = lease_owner();
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("standalone-{}-", std::process::id())));
    }
}
