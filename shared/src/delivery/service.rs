//! The delivery core: one queued notification → one signed POST → what to do with the
//! message next. The edge (SQS Lambda handler, embedded worker) applies the decision to
//! its queue, so this logic is the same on AWS and in the standalone runner.

use super::retry::RetrySchedule;
use super::sender::{CallbackSender, SendOutcome};
use crate::clock::Clock;
use crate::event::Notification;
use crate::instance_secrets::InstanceSecrets;
use crate::ports::{InstanceStore, PortError, QueueConsumer, ReceivedMessage, SecretStore};
use crate::secret::Secret;
use crate::signature::SignedHeaders;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do with a message after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Delivered (or nothing left to do): delete it.
    Done,
    /// Make it visible again after this delay.
    RetryAfter(Duration),
    /// Keep it in the dead-letter queue for replay, with the reason.
    DeadLetter(String),
}

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    /// The queue's `maxReceiveCount`: the attempt after which SQS dead-letters.
    pub max_receive_count: u32,
    /// Callbacks in flight at once within a batch.
    pub concurrency: usize,
    /// How long a signature key stays cached.
    pub key_ttl: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            schedule: RetrySchedule::default(),
            max_receive_count: 10,
            concurrency: 10,
            key_ttl: Duration::from_secs(60),
        }
    }
}

/// The adapters delivery runs on.
#[derive(Clone)]
pub struct DeliveryDeps {
    pub instances: Arc<dyn InstanceStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub sender: CallbackSender,
    pub clock: Arc<dyn Clock>,
}

/// Signature keys by instance, kept briefly: every message would otherwise cost a
/// Secrets Manager call, and a rotated key must still take effect within a minute.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<u64, (Secret, Instant)>>,
}

impl KeyCache {
    async fn key(
        &self,
        secrets: &dyn SecretStore,
        instance: u64,
        ttl: Duration,
    ) -> Result<Option<Secret>, PortError> {
        if let Some((key, at)) = self.entries.lock().expect("key cache").get(&instance)
            && at.elapsed() < ttl
        {
            return Ok(Some(key.clone()));
        }
        let Some(text) = secrets.get(instance).await? else {
            return Ok(None);
        };
        let key = InstanceSecrets::from_json(&text)?.signature_key;
        self.entries
            .lock()
            .expect("key cache")
            .insert(instance, (key.clone(), Instant::now()));
        Ok(Some(key))
    }
}

/// The delivery service (cheap to clone; share one per process).
#[derive(Clone)]
pub struct Deliverer {
    deps: DeliveryDeps,
    settings: DeliverySettings,
    keys: Arc<KeyCache>,
}

impl Deliverer {
    pub fn new(deps: DeliveryDeps, settings: DeliverySettings) -> Self {
        Deliverer {
            deps,
            settings,
            keys: Arc::new(KeyCache::default()),
        }
    }

    pub fn settings(&self) -> &DeliverySettings {
        &self.settings
    }

    /// Deliver a batch concurrently (bounded); dispositions in input order.
    pub async fn deliver_batch(
        &self,
        messages: Vec<ReceivedMessage>,
    ) -> Vec<(ReceivedMessage, Disposition)> {
        let concurrency = self.settings.concurrency.max(1);
        let mut indexed: Vec<(usize, ReceivedMessage, Disposition)> =
            futures::stream::iter(messages.into_iter().enumerate())
                .map(|(i, m)| async move {
                    let d = self.deliver(&m).await;
                    (i, m, d)
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        indexed.sort_by_key(|(i, _, _)| *i);
        indexed.into_iter().map(|(_, m, d)| (m, d)).collect()
    }

    /// One attempt at one message.
    pub async fn deliver(&self, message: &ReceivedMessage) -> Disposition {
        let notification: Notification = match serde_json::from_str(&message.body) {
            Ok(n) => n,
            Err(e) => {
                let reason = format!("unreadable message: {e}");
                tracing::error!(message_id = %message.id, %reason, "dead-lettering");
                return Disposition::DeadLetter(reason);
            }
        };
        let instance_id = notification.instance_id;
        let event_id = notification.event_id.as_str();
        match self.attempt(&notification, message.receive_count).await {
            Ok(disposition) => {
                match &disposition {
                    Disposition::Done => tracing::info!(
                        instance_id,
                        event_id,
                        attempt = message.receive_count,
                        "delivered"
                    ),
                    Disposition::RetryAfter(delay) => tracing::warn!(
                        instance_id,
                        event_id,
                        attempt = message.receive_count,
                        retry_in_s = delay.as_secs(),
                        "delivery failed; will retry"
                    ),
                    Disposition::DeadLetter(reason) => {
                        tracing::error!(instance_id, event_id, attempt = message.receive_count, %reason, "dead-lettering")
                    }
                }
                disposition
            }
            Err(e) => {
                // Our own storage failed: not the receiver's fault; try again soon.
                tracing::warn!(instance_id, event_id, error = %e, "delivery could not load its data; will retry");
                self.retry_or_dead_letter(message.receive_count, None, &format!("storage: {e}"))
            }
        }
    }

    async fn attempt(
        &self,
        notification: &Notification,
        receive_count: u32,
    ) -> Result<Disposition, PortError> {
        let instance_id = notification.instance_id;
        let Some(record) = self.deps.instances.get(instance_id).await? else {
            return Ok(Disposition::DeadLetter(format!(
                "instance {instance_id} no longer exists"
            )));
        };
        if let Some(reason) = &record.delivery.disabled_reason {
            return Ok(Disposition::DeadLetter(format!(
                "delivery disabled: {reason}"
            )));
        }
        let Some(url) = record
            .configuration
            .get("event.notification.callback.url")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
        else {
            return Ok(Disposition::DeadLetter(
                "instance has no callback URL".into(),
            ));
        };
        let Some(key) = self
            .keys
            .key(
                self.deps.secrets.as_ref(),
                instance_id,
                self.settings.key_ttl,
            )
            .await?
        else {
            return Ok(Disposition::DeadLetter(format!(
                "instance {instance_id} has no secret"
            )));
        };

        let timestamp = self.deps.clock.now().timestamp();
        let signed = SignedHeaders::new(
            &key,
            &notification.event_id,
            timestamp,
            notification.body_bytes(),
        );
        let headers: Vec<(String, String)> = signed
            .to_pairs()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        let outcome = self
            .deps
            .sender
            .send(&url, &headers, notification.body_bytes())
            .await;

        let now = self.deps.clock.now();
        let mut status = record.delivery.clone();
        status.last_delivery_at = Some(now);
        let disposition = match &outcome {
            SendOutcome::Delivered { status: code } => {
                status.last_status = Some(format!("delivered (HTTP {code})"));
                status.consecutive_failures = 0;
                Disposition::Done
            }
            SendOutcome::Gone { status: code } => {
                let reason = format!("receiver answered HTTP {code} Gone at {}", now.to_rfc3339());
                status.last_status = Some(format!("HTTP {code} Gone"));
                status.consecutive_failures += 1;
                status.disabled_reason = Some(reason.clone());
                Disposition::DeadLetter(reason)
            }
            SendOutcome::Failed(failure) => {
                if !failure.body_excerpt.is_empty() {
                    tracing::debug!(instance_id, body = %failure.body_excerpt, "receiver's answer");
                }
                status.last_status = Some(failure.reason.clone());
                status.consecutive_failures += 1;
                self.retry_or_dead_letter(receive_count, failure.retry_after, &failure.reason)
            }
        };
        if let Err(e) = self
            .deps
            .instances
            .set_delivery_status(instance_id, &status)
            .await
        {
            tracing::warn!(instance_id, error = %e, "could not record delivery status");
        }
        Ok(disposition)
    }

    fn retry_or_dead_letter(
        &self,
        receive_count: u32,
        retry_after: Option<Duration>,
        reason: &str,
    ) -> Disposition {
        if receive_count >= self.settings.max_receive_count {
            return Disposition::DeadLetter(format!(
                "gave up after {receive_count} attempts; last: {reason}"
            ));
        }
        let delay = self
            .settings
            .schedule
            .delay(receive_count, retry_after, &mut rand::rng());
        Disposition::RetryAfter(delay)
    }
}

/// Apply dispositions to the queue.
///
/// `ack_done`: whether delivered messages must be deleted here (embedded worker) or are
/// deleted by the caller's runtime (the SQS event source deletes what a Lambda does not
/// report as failed). Returns the receipts of messages that stay on the queue for a retry
/// — what a Lambda reports in `batchItemFailures` — including any whose settling failed,
/// so nothing is lost.
pub async fn settle(
    consumer: &dyn QueueConsumer,
    results: &[(ReceivedMessage, Disposition)],
    ack_done: bool,
) -> Vec<String> {
    let mut kept = Vec::new();
    for (message, disposition) in results {
        let outcome = match disposition {
            Disposition::Done if ack_done => consumer.ack(&message.receipt).await,
            Disposition::Done => Ok(()),
            Disposition::RetryAfter(delay) => {
                kept.push(message.receipt.clone());
                consumer.retry_after(&message.receipt, *delay).await
            }
            Disposition::DeadLetter(reason) => consumer.dead_letter(message, reason).await,
        };
        if let Err(e) = outcome {
            tracing::warn!(event_id = %message.id, error = %e, "could not settle message; it will be redelivered");
            if !kept.contains(&message.receipt) {
                kept.push(message.receipt.clone());
            }
        }
    }
    kept
}
