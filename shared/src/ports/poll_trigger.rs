use super::PortError;
use async_trait::async_trait;

/// "Poll now": start a poll of one instance without waiting for it (AWS: an asynchronous
/// invocation of the poller with the schedule's input; standalone: the in-process timer).
#[async_trait]
pub trait PollTrigger: Send + Sync {
    async fn poll_now(&self, instance: u64) -> Result<(), PortError>;
}
