//! [`EventQueue`] and [`QueueConsumer`] on an SQS standard queue.
//!
//! The sent [`OutgoingMessage::id`] travels as the String message attribute `event_id`
//! (batch entry ids are positions in the call, so any id text is fine and duplicates in
//! one call cannot clash); the consumer reads it back into [`ReceivedMessage::id`]. The
//! queue's redrive policy (maxReceiveCount → DLQ) is infrastructure, not set here.

use super::error::{ServiceMessage, map_sdk_error};
use crate::ports::{
    EventQueue, MAX_RETRY_DELAY, OutgoingMessage, PortError, PortErrorKind, QueueConsumer,
    ReceivedMessage,
};
use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use std::collections::BTreeSet;
use std::time::Duration;

/// The message attribute carrying the sent message's id.
pub const EVENT_ID_ATTRIBUTE: &str = "event_id";
/// The message attribute carrying why a message was dead-lettered.
pub const DEAD_LETTER_REASON_ATTRIBUTE: &str = "dead_letter_reason";
/// SendMessageBatch's entry limit.
const BATCH_MAX_ENTRIES: usize = 10;
/// Payload budget per batch. SQS allows more today (1 MiB), but 256 KiB was the limit for
/// years and still is on queues configured that way; large messages just travel in
/// smaller batches.
const BATCH_MAX_BYTES: usize = 256 * 1024;
/// Sending rounds (the first plus retries of entries that failed on SQS' side).
const SEND_ATTEMPTS: u32 = 4;
/// Backoff before the first retry round; doubles each round.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// ReceiveMessage's per-call limit.
const RECEIVE_MAX_PER_CALL: usize = 10;
/// Long-poll time of the first ReceiveMessage call of a `receive`.
const RECEIVE_WAIT_SECONDS: i32 = 1;

/// An SQS queue, used both to send (poller) and to receive (delivery, tests).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    dead_letter_url: Option<String>,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            queue_url: queue_url.into(),
            dead_letter_url: None,
        }
    }

    /// Where [`QueueConsumer::dead_letter`] puts what delivery gives up on.
    pub fn with_dead_letter_queue(mut self, url: impl Into<String>) -> Self {
        self.dead_letter_url = Some(url.into());
        self
    }

    pub fn from_config(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(aws_sdk_sqs::Client::new(config), queue_url)
    }

    /// Send one batch of `messages[i]` for `i` in `indices`; the outcome per index.
    async fn send_batch(
        &self,
        messages: &[OutgoingMessage],
        indices: &[usize],
    ) -> Result<BatchOutcome, PortError> {
        let entries = indices
            .iter()
            .map(|&i| entry(i, &messages[i]))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| map_sdk_error("send events", &err, ServiceMessage::Include))?;
        let mut outcome = BatchOutcome::default();
        let succeeded: BTreeSet<&str> = out.successful().iter().map(|s| s.id()).collect();
        for failed in out.failed() {
            let Ok(index) = failed.id().parse::<usize>() else {
                continue;
            };
            if failed.sender_fault() {
                outcome.rejected.push((index, failed.code().to_owned()));
            } else {
                outcome.retry.push((index, failed.code().to_owned()));
            }
        }
        // An entry SQS reported neither way is retried, never assumed sent.
        for &index in indices {
            let reported = succeeded.contains(index.to_string().as_str())
                || outcome.rejected.iter().any(|(i, _)| *i == index)
                || outcome.retry.iter().any(|(i, _)| *i == index);
            if !reported {
                outcome.retry.push((index, "NotReported".to_owned()));
            }
        }
        Ok(outcome)
    }
}

#[derive(Debug, Default)]
struct BatchOutcome {
    /// Failed through the sender's fault (invalid message): retrying cannot help.
    rejected: Vec<(usize, String)>,
    /// Failed on SQS' side: worth another round.
    retry: Vec<(usize, String)>,
}

fn entry(
    index: usize,
    message: &OutgoingMessage,
) -> Result<SendMessageBatchRequestEntry, PortError> {
    let id = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(&message.id)
        .build()
        .map_err(|e| PortError::other(format!("message attribute: {e}")))?;
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(&message.body)
        .message_attributes(EVENT_ID_ATTRIBUTE, id)
        .build()
        .map_err(|e| PortError::other(format!("batch entry: {e}")))
}

/// What a message counts against the batch payload limit (body and attributes).
fn payload_size(message: &OutgoingMessage) -> usize {
    message.body.len() + EVENT_ID_ATTRIBUTE.len() + "String".len() + message.id.len()
}

/// Split `indices` into batches of at most 10 entries and [`BATCH_MAX_BYTES`].
fn batches(messages: &[OutgoingMessage], indices: &[usize]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_bytes = 0;
    for &index in indices {
        let size = payload_size(&messages[index]);
        if !current.is_empty()
            && (current.len() == BATCH_MAX_ENTRIES || current_bytes + size > BATCH_MAX_BYTES)
        {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(index);
        current_bytes += size;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

fn codes(failures: &[(usize, String)]) -> String {
    let codes: BTreeSet<&str> = failures.iter().map(|(_, code)| code.as_str()).collect();
    codes.into_iter().collect::<Vec<_>>().join(", ")
}

/// Whole seconds for SQS, rounded up so nothing becomes visible earlier than asked, and
/// capped at [`MAX_RETRY_DELAY`].
fn visibility_seconds(duration: Duration) -> i32 {
    let mut seconds = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        seconds += 1;
    }
    i32::try_from(seconds.min(MAX_RETRY_DELAY.as_secs())).unwrap_or(i32::MAX)
}

#[async_trait]
impl EventQueue for SqsQueue {
    /// Batches of up to 10 (and 256 KiB); entries SQS fails on its side are re-sent up to
    /// 4 rounds in all, with doubling backoff from 100 ms, as are batches whose request failed
    /// transiently. Entries rejected as the sender's fault are not re-sent. `Err` names how
    /// many messages were not queued.
    async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), PortError> {
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        let mut rejected: Vec<(usize, String)> = Vec::new();
        let mut last_failures: Vec<(usize, String)> = Vec::new();
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0..SEND_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let mut retry: Vec<(usize, String)> = Vec::new();
            for batch in batches(messages, &pending) {
                match self.send_batch(messages, &batch).await {
                    Ok(outcome) => {
                        rejected.extend(outcome.rejected);
                        retry.extend(outcome.retry);
                    }
                    Err(err) if err.kind == PortErrorKind::Unavailable => {
                        retry.extend(batch.into_iter().map(|i| (i, "Unavailable".to_owned())));
                    }
                    Err(err) => {
                        return Err(PortError::new(
                            err.kind,
                            format!(
                                "{} (some of the {} messages may not be queued)",
                                err.message,
                                messages.len()
                            ),
                        ));
                    }
                }
            }
            pending = retry.iter().map(|(i, _)| *i).collect();
            last_failures = retry;
        }
        if rejected.is_empty() && pending.is_empty() {
            return Ok(());
        }
        let mut message = format!(
            "{} of {} messages were not queued",
            rejected.len() + pending.len(),
            messages.len()
        );
        if !rejected.is_empty() {
            message.push_str(&format!(
                "; {} rejected as invalid ({})",
                rejected.len(),
                codes(&rejected)
            ));
        }
        if !pending.is_empty() {
            message.push_str(&format!(
                "; {} still failing after {SEND_ATTEMPTS} attempts ({})",
                pending.len(),
                codes(&last_failures)
            ));
        }
        let kind = if rejected.is_empty() {
            PortErrorKind::Unavailable
        } else {
            PortErrorKind::Other
        };
        Err(PortError::new(kind, message))
    }
}

#[async_trait]
impl QueueConsumer for SqsQueue {
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let mut received = Vec::new();
        while received.len() < max {
            let want = (max - received.len()).min(RECEIVE_MAX_PER_CALL);
            let out = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(i32::try_from(want).unwrap_or(10))
                .visibility_timeout(visibility_seconds(visibility))
                .wait_time_seconds(if received.is_empty() {
                    RECEIVE_WAIT_SECONDS
                } else {
                    0
                })
                .message_attribute_names(EVENT_ID_ATTRIBUTE)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|err| map_sdk_error("receive events", &err, ServiceMessage::Include))?;
            let messages = out.messages();
            for message in messages {
                let receipt = message.receipt_handle().ok_or_else(|| {
                    PortError::corrupt("received a message without receipt handle")
                })?;
                let id = message
                    .message_attributes()
                    .and_then(|attributes| attributes.get(EVENT_ID_ATTRIBUTE))
                    .and_then(|value| value.string_value())
                    .or(message.message_id())
                    .unwrap_or_default();
                let receive_count = message
                    .attributes()
                    .and_then(|attributes| {
                        attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                received.push(ReceivedMessage {
                    id: id.to_owned(),
                    body: message.body().unwrap_or_default().to_owned(),
                    receipt: receipt.to_owned(),
                    receive_count,
                });
            }
            if messages.len() < want {
                break;
            }
        }
        Ok(received)
    }

    async fn ack(&self, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|err| map_sdk_error("acknowledge event", &err, ServiceMessage::Include))?;
        Ok(())
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(visibility_seconds(delay))
            .send()
            .await
            .map_err(|err| map_sdk_error("retry event later", &err, ServiceMessage::Include))?;
        Ok(())
    }

    /// Copy to the dead-letter queue (with the reason as a message attribute), then delete
    /// from this queue. The copy comes first: a crash in between leaves a duplicate in
    /// the DLQ (harmless, same event id), never a loss.
    async fn dead_letter(&self, message: &ReceivedMessage, reason: &str) -> Result<(), PortError> {
        let dlq = self.dead_letter_url.as_deref().ok_or_else(|| {
            PortError::other("no dead-letter queue configured (DEAD_LETTER_QUEUE_URL)")
        })?;
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PortError::other(format!("message attribute: {e}")))
        };
        // SQS limits attribute values only by the message size; keep reasons short.
        let reason: String = reason.chars().take(1000).collect();
        self.client
            .send_message()
            .queue_url(dlq)
            .message_body(&message.body)
            .message_attributes(EVENT_ID_ATTRIBUTE, attribute(&message.id)?)
            .message_attributes(DEAD_LETTER_REASON_ATTRIBUTE, attribute(&reason)?)
            .send()
            .await
            .map_err(|err| map_sdk_error("dead-letter event", &err, ServiceMessage::Include))?;
        self.ack(&message.receipt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: usize, body_len: usize) -> OutgoingMessage {
        OutgoingMessage {
            id: format!("e{id}"),
            body: "x".repeat(body_len),
        }
    }

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let messages: Vec<_> = (0..25).map(|i| message(i, 10)).collect();
        let indices: Vec<_> = (0..25).collect();
        let sizes: Vec<_> = batches(&messages, &indices).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
    }

    #[test]
    fn batches_respect_the_payload_budget() {
        let messages = vec![
            message(0, 200 * 1024),
            message(1, 100 * 1024),
            message(2, 10),
            message(3, 300 * 1024),
            message(4, 10),
        ];
        let indices: Vec<_> = (0..5).collect();
        assert_eq!(
            batches(&messages, &indices),
            vec![vec![0], vec![1, 2], vec![3], vec![4]]
        );
    }

    #[test]
    fn visibility_rounds_up_and_is_capped_below_twelve_hours() {
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
        assert_eq!(visibility_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_seconds(Duration::from_secs(30)), 30);
        assert_eq!(visibility_seconds(Duration::from_secs(13 * 3600)), 42_300);
    }
}
