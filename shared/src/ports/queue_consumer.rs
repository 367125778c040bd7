use super::PortError;
use async_trait::async_trait;
use std::time::Duration;

/// The longest [`QueueConsumer::retry_after`] delay; longer ones are capped, the same on
/// every backend. SQS allows 12 hours of visibility counted from the *receipt*, so 15
/// minutes (the longest a Lambda handler can hold a message) are left for handling.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(12 * 60 * 60 - 15 * 60);

/// A message taken from the event queue, invisible to other consumers until acknowledged,
/// retried or its visibility timeout runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The id the message was sent with ([`super::OutgoingMessage::id`]).
    pub id: String,
    pub body: String,
    /// Opaque handle for [`QueueConsumer::ack`] / [`QueueConsumer::retry_after`]; valid
    /// for this delivery only.
    pub receipt: String,
    /// How many times the message has been handed out, this delivery included (1 first).
    pub receive_count: u32,
}

/// The delivery side of the event queue (SQS, or the embedded queue).
///
/// Delivery is at least once: a message comes back when its visibility timeout expires
/// without an `ack`, so handlers must be idempotent on [`ReceivedMessage::id`]. On AWS the
/// delivery Lambda is handed messages by its SQS event source and uses only `retry_after`
/// and `dead_letter`; the embedded runner's worker (and the contract tests) use all of it.
#[async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Take up to `max` visible messages, hiding them for `visibility`. May return fewer
    /// (even none) although more are queued; callers loop.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError>;
    /// Remove a handled message for good.
    async fn ack(&self, receipt: &str) -> Result<(), PortError>;
    /// Hand the message out again after `delay` (capped at [`MAX_RETRY_DELAY`]); zero
    /// makes it visible at once. Its receive count grows on the next receive.
    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), PortError>;
    /// Keep the message in the dead-letter queue with `reason` (for replay), then remove
    /// it from this queue. Used when delivery gives up for good (410 Gone, retries
    /// exhausted, instance gone) so nothing is dropped without a copy.
    async fn dead_letter(&self, message: &ReceivedMessage, reason: &str) -> Result<(), PortError>;
}
