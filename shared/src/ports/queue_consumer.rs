use super::PortError;
use async_trait::async_trait;
use std::time::Duration;

/// A message taken from the event queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The id it was sent with (`OutgoingMessage::id`, the notification's event id).
    pub id: String,
    pub body: String,
    /// Handle for ack / retry / dead-letter of this receipt.
    pub receipt: String,
    /// 1 on first receipt.
    pub receive_count: u32,
}

/// The consuming side of the event queue.
///
/// On AWS the delivery Lambda is handed messages by its SQS event source and uses only
/// `retry_after` and `dead_letter`; the embedded runner's worker (and the contract tests)
/// use all of it.
#[async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` visible messages, each hidden for `visibility` afterwards.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError>;
    /// Done with it: delete.
    async fn ack(&self, receipt: &str) -> Result<(), PortError>;
    /// Make it visible again after `delay` (capped at 12 h).
    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), PortError>;
    /// Move it to the dead-letter queue with `reason`, then delete it from this queue.
    async fn dead_letter(&self, message: &ReceivedMessage, reason: &str) -> Result<(), PortError>;
}
