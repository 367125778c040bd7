//! The in-process poll scheduler: the runner's stand-in for EventBridge Scheduler.
//!
//! It keeps a next-due instant per scheduled instance in a due-time queue (a min-heap) and
//! starts each poll at its own due instant, as a tokio task, never two at once for the same
//! instance (the poll lease still guards against another process). "Poll now" requests
//! arrive through [`LocalPollTrigger`] and jump the queue under the same one-at-a-time rule.
//!
//! Why this shape (issue #19, 10,000 instances on one 2-core runner):
//! - **No scan per tick.** The schedules table is read when the store says a schedule was
//!   written ([`EmbeddedStore::schedules_version`], checked every tick, O(1)) and, as a
//!   safety net, every `resync`; between those, the heap says what is due in O(log N).
//! - **Polls spread out.** Each poll starts at its own due instant, not at the next tick,
//!   so 167 polls a second (10,000 at 1 minute) arrive one by one, not in bursts.
//! - **Bounded work in flight.** At most `max_concurrent_polls` polls run at once; a due
//!   poll waits for a free slot (requested ones first), so a burst (start-up, a Sage
//!   slowdown) turns into lag instead of hundreds of threads, sockets and SQLite waiters.
//!
//! Jitter: the first poll of a newly seen schedule is due at a random point within one
//! interval, later ones after the interval ± 10 %, so instances registered together (or
//! all loaded at start-up) do not all hit Sage in the same second.

use async_trait::async_trait;
use rand::Rng;
use sage_events_core::embedded::EmbeddedStore;
use sage_events_core::poll::{PollOutcome, PollSettings, PollSummary, PollerDeps, poll_instance};
use sage_events_core::ports::{PollTrigger, PortError};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Knobs of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How often the scheduler checks whether a schedule was written (a counter read,
    /// not a table read).
    pub tick: Duration,
    /// The longest time between two full reads of the schedules table, a safety net for
    /// writes that bypass this process's store (none today).
    pub resync: Duration,
    /// Polls running at once (scheduled and requested together; at least 1).
    pub max_concurrent_polls: usize,
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
            resync: Duration::from_secs(60),
            max_concurrent_polls: 32,
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
    /// When a scheduled poll was due (`None` for a requested one).
    pub due: Option<Instant>,
    /// When the poll started: `started - due` is how late the scheduler was.
    pub started: Instant,
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

/// Run one poll and log what the engine's own "poll finished" line (one per poll) does not
/// say: why a poll failed, or that storage stopped it.
pub async fn poll_and_log(
    deps: &PollerDeps,
    settings: &PollSettings,
    instance_id: u64,
) -> Result<PollSummary, PortError> {
    let owner = lease_owner();
    let result = poll_instance(deps, settings, instance_id, &owner).await;
    match &result {
        Ok(summary) if is_failure(&summary.outcome) => tracing::warn!(
            instance_id,
            outcome = ?summary.outcome,
            message = summary.message.as_deref().unwrap_or(""),
            duration_ms = summary.duration_ms,
            "poll failed"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(instance_id, error = %error, "poll stopped by storage"),
    }
    result
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
        let mut state = State::new(&self);
        let mut ticker = tokio::time::interval(self.settings.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut requests_open = true;
        loop {
            let next_due = state.next_due();
            let due = async move {
                match next_due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
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
                _ = ticker.tick() => state.refresh().await,
                _ = due => state.start_due(),
            }
        }
        state.drain(grace).await;
    }
}

/// The bookkeeping of one schedule. `generation` tells the live heap item of a schedule
/// from items left behind by a changed or deleted one (dropped when they surface).
struct Entry {
    interval: Duration,
    generation: u64,
}

struct State<'a> {
    scheduler: &'a Scheduler,
    entries: HashMap<u64, Entry>,
    /// `(due, instance, generation)`, earliest first.
    queue: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    generations: u64,
    /// The store's schedules version when the table was last read.
    seen_version: Option<u64>,
    last_read: Option<Instant>,
    running: HashSet<u64>,
    /// Instances asked to "poll now" while a poll of theirs was running: polled again
    /// when it ends, so a change made during the running poll is not left waiting.
    again: HashSet<u64>,
    /// "Poll now" requests waiting for a free slot, served before due polls.
    waiting: VecDeque<u64>,
    tasks: JoinSet<u64>,
    task_ids: HashMap<tokio::task::Id, u64>,
}

impl<'a> State<'a> {
    fn new(scheduler: &'a Scheduler) -> Self {
        State {
            scheduler,
            entries: HashMap::new(),
            queue: BinaryHeap::new(),
            generations: 0,
            seen_version: None,
            last_read: None,
            running: HashSet::new(),
            again: HashSet::new(),
            waiting: VecDeque::new(),
            tasks: JoinSet::new(),
            task_ids: HashMap::new(),
        }
    }

    fn has_slot(&self) -> bool {
        self.tasks.len() < self.scheduler.settings.max_concurrent_polls.max(1)
    }

    fn request(&mut self, id: u64) {
        if self.running.contains(&id) {
            self.again.insert(id);
        } else if !self.waiting.contains(&id) {
            self.waiting.push_back(id);
            self.start_waiting();
        }
    }

    fn start_waiting(&mut self) {
        while self.has_slot() {
            let Some(id) = self.waiting.pop_front() else {
                return;
            };
            if self.running.contains(&id) {
                self.again.insert(id);
            } else {
                self.start(id, PollCause::Requested, None);
            }
        }
    }

    /// Re-read the schedules if one was written since the last read (or `resync` passed).
    async fn refresh(&mut self) {
        let settings = &self.scheduler.settings;
        let version = self.scheduler.store.schedules_version();
        let resync_due = self
            .last_read
            .is_none_or(|at| at.elapsed() >= settings.resync);
        if self.seen_version == Some(version) && !resync_due {
            return;
        }
        // The version is taken before the read: a write during the read is seen next tick.
        let schedules = match self.scheduler.store.all_schedules().await {
            Ok(schedules) => schedules,
            Err(error) => {
                tracing::warn!(error = %error, "could not read the schedules");
                return;
            }
        };
        self.seen_version = Some(version);
        self.last_read = Some(Instant::now());
        self.apply(schedules);
    }

    /// Bring the entries in line with the table: new schedules get a first due time within
    /// one interval, a changed interval takes effect from now (with fresh jitter), deleted
    /// schedules are forgotten.
    fn apply(&mut self, schedules: Vec<(u64, u32)>) {
        let now = Instant::now();
        let minute = self.scheduler.settings.minute;
        let current: HashSet<u64> = schedules.iter().map(|(id, _)| *id).collect();
        self.entries.retain(|id, _| current.contains(id));
        for (id, minutes) in schedules {
            let interval = minute.saturating_mul(minutes.max(1));
            if self
                .entries
                .get(&id)
                .is_some_and(|entry| entry.interval == interval)
            {
                continue;
            }
            self.generations += 1;
            let generation = self.generations;
            self.entries.insert(
                id,
                Entry {
                    interval,
                    generation,
                },
            );
            self.queue
                .push(Reverse((now + first_delay(interval), id, generation)));
        }
        // Left-behind items are dropped as they surface; rebuild when they pile up.
        if self.queue.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.queue
                .retain(|Reverse((_, id, generation))| is_live(entries, *id, *generation));
        }
    }

    /// When the earliest live schedule is due, if a poll could start now.
    fn next_due(&mut self) -> Option<Instant> {
        if !self.has_slot() {
            return None;
        }
        while let Some(Reverse((due, id, generation))) = self.queue.peek().copied() {
            if is_live(&self.entries, id, generation) {
                return Some(due);
            }
            self.queue.pop();
        }
        None
    }

    /// Start the polls that are due, as long as there are free slots; each is due again
    /// one (jittered) interval after it started.
    fn start_due(&mut self) {
        let now = Instant::now();
        let jitter = self.scheduler.settings.jitter;
        while self.has_slot() {
            let Some(Reverse((due, id, generation))) = self.queue.peek().copied() else {
                return;
            };
            if due > now {
                return;
            }
            self.queue.pop();
            let Some(entry) = self.entries.get(&id) else {
                continue;
            };
            if entry.generation != generation {
                continue;
            }
            self.queue.push(Reverse((
                now + jittered(entry.interval, jitter),
                id,
                generation,
            )));
            // Still running from last time (or on request): this turn is skipped.
            if !self.running.contains(&id) {
                self.start(id, PollCause::Scheduled, Some(due));
            }
        }
    }

    fn start(&mut self, id: u64, cause: PollCause, due: Option<Instant>) {
        self.running.insert(id);
        let deps = self.scheduler.deps.clone();
        let settings = self.scheduler.settings.poll.clone();
        let observer = self.scheduler.observer.clone();
        let started = Instant::now();
        let handle = self.tasks.spawn(async move {
            let result = poll_and_log(&deps, &settings, id).await;
            if let Some(observer) = observer {
                observer(&PollReport {
                    instance_id: id,
                    cause,
                    due,
                    started,
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
            self.waiting.push_front(id);
        }
        self.start_waiting();
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

/// Whether a heap item is its schedule's current one.
fn is_live(entries: &HashMap<u64, Entry>, id: u64, generation: u64) -> bool {
    entries
        .get(&id)
        .is_some_and(|entry| entry.generation == generation)
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
