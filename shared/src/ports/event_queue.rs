use super::PortError;
use async_trait::async_trait;

/// One message for the event queue: a serialized notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The notification's stable event id (also used as the batch entry id).
    pub id: String,
    /// The message body (JSON text of a `Notification`).
    pub body: String,
}

/// Where the poller hands notifications to delivery (SQS, or the embedded queue).
#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Send all `messages`. Adapters batch as their backend allows (SQS: 10 per
    /// `SendMessageBatch`) and retry partial failures; `Ok` means every message is durably
    /// queued. On `Err`, some may have been queued: callers must treat the whole call as
    /// failed and not advance their watermark — duplicates are de-duplicated downstream
    /// by the stable event id.
    async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), PortError>;
}
