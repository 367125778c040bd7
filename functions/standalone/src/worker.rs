//! The delivery workers: the runner's stand-in for the SQS event source + delivery Lambda.
//!
//! Each worker loops: receive a batch (hidden for the visibility timeout) → deliver it →
//! settle (ack delivered, delay retries, dead-letter the rest). A crash between receive and
//! ack loses nothing: the messages become visible again when their visibility times out.

use crate::scheduler::stopped;
use sage_events_core::delivery::service::{Deliverer, Disposition, settle};
use sage_events_core::ports::{QueueConsumer, ReceivedMessage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Knobs of the delivery workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Batches in flight at once.
    pub workers: usize,
    /// Messages per batch.
    pub batch: usize,
    /// How long a received message stays hidden; must exceed a batch's delivery time
    /// (callback timeout × batch / delivery concurrency) or it is delivered twice.
    pub visibility: Duration,
    /// Pause when the queue is empty.
    pub idle: Duration,
    /// Pause after the queue could not be read.
    pub error_backoff: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            workers: 4,
            batch: 10,
            visibility: Duration::from_secs(60),
            idle: Duration::from_millis(250),
            error_backoff: Duration::from_secs(1),
        }
    }
}

/// Called with every message's disposition after it was settled (the demo prints them).
pub type DeliveryObserver = Arc<dyn Fn(&ReceivedMessage, &Disposition) + Send + Sync>;

/// The delivery workers (consumed by [`DeliveryWorkers::run`]).
#[derive(Clone)]
pub struct DeliveryWorkers {
    consumer: Arc<dyn QueueConsumer>,
    deliverer: Deliverer,
    settings: WorkerSettings,
    observer: Option<DeliveryObserver>,
}

impl DeliveryWorkers {
    pub fn new(
        consumer: Arc<dyn QueueConsumer>,
        deliverer: Deliverer,
        settings: WorkerSettings,
    ) -> Self {
        DeliveryWorkers {
            consumer,
            deliverer,
            settings,
            observer: None,
        }
    }

    pub fn with_observer(mut self, observer: DeliveryObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// One receive → deliver → settle pass. Returns how many messages it handled
    /// (0: the queue had nothing visible).
    pub async fn run_once(&self) -> Result<usize, sage_events_core::ports::PortError> {
        let messages = self
            .consumer
            .receive(self.settings.batch.max(1), self.settings.visibility)
            .await?;
        if messages.is_empty() {
            return Ok(0);
        }
        let results = self.deliverer.deliver_batch(messages).await;
        let kept = settle(self.consumer.as_ref(), &results, true).await;
        for (message, disposition) in &results {
            match disposition {
                Disposition::Done => {
                    tracing::info!(event_id = %message.id, "notification delivered")
                }
                Disposition::RetryAfter(delay) => tracing::info!(
                    event_id = %message.id,
                    attempt = message.receive_count,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "delivery failed; will retry"
                ),
                Disposition::DeadLetter(reason) => tracing::warn!(
                    event_id = %message.id,
                    reason = %reason,
                    "notification dead-lettered"
                ),
            }
            if let Some(observer) = &self.observer {
                observer(message, disposition);
            }
        }
        if !kept.is_empty() {
            tracing::debug!(kept = kept.len(), "messages stay queued for a retry");
        }
        Ok(results.len())
    }

    /// Run `workers` loops until `shutdown` turns true (or its sender is dropped). A batch
    /// in flight is finished first; the caller bounds the wait.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let mut loops = JoinSet::new();
        for worker in 0..self.settings.workers.max(1) {
            let this = self.clone();
            let shutdown = shutdown.clone();
            loops.spawn(async move { this.worker_loop(worker, shutdown).await });
        }
        while let Some(joined) = loops.join_next().await {
            if let Err(error) = joined {
                tracing::error!(error = %error, "delivery worker ended abnormally");
            }
        }
    }

    async fn worker_loop(&self, worker: usize, mut shutdown: watch::Receiver<bool>) {
        loop {
            if stopping(&shutdown) {
                return;
            }
            let pause = match self.run_once().await {
                Ok(0) => self.settings.idle,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(worker, error = %error, "could not read the event queue");
                    self.settings.error_backoff
                }
            };
            tokio::select! {
                _ = stopped(&mut shutdown) => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}
