use super::PortError;
use async_trait::async_trait;

/// One polling schedule per instance (EventBridge Scheduler, or the in-process timer).
#[async_trait]
pub trait PollScheduler: Send + Sync {
    /// Create or update the instance's schedule to run every `interval_minutes`.
    async fn upsert(&self, instance: u64, interval_minutes: u32) -> Result<(), PortError>;
    /// Remove the schedule; removing a missing one is not an error.
    async fn delete(&self, instance: u64) -> Result<(), PortError>;
    /// The instance's interval, if it has a schedule (for checks and tests).
    async fn get(&self, instance: u64) -> Result<Option<u32>, PortError>;
}
