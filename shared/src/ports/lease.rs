use super::{PollStatus, PortError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A per-instance lease so one instance is polled by one invocation at a time.
///
/// The expiry is compared in the write's condition (never rely on DynamoDB TTL, which
/// deletes expired items up to days late): a crashed holder's lease frees itself at
/// `expires_at`, and a holder may renew its own lease.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Take the lease for `owner` until `expires_at` if it is free, expired (as of `now`)
    /// or already held by `owner`. `Ok(false)` when someone else holds it.
    async fn acquire(
        &self,
        instance: u64,
        owner: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError>;
    /// Release if still held by `owner` (a no-op otherwise).
    async fn release(&self, instance: u64, owner: &str) -> Result<(), PortError>;

    /// The end of a poll: release `owner`'s lease and, where the store keeps the lease
    /// beside the instance record, record the poll's `status` in the same write —
    /// `Ok(true)` then. `Ok(false)` means only the lease was released and the caller
    /// records the status itself. Why: an idle poll is mostly bookkeeping, and on
    /// DynamoDB (billed per write) or SQLite (one fsync per commit) one write instead of
    /// two is half its cost.
    async fn release_and_record(
        &self,
        instance: u64,
        owner: &str,
        status: &PollStatus,
    ) -> Result<bool, PortError> {
        let _ = status;
        self.release(instance, owner).await?;
        Ok(false)
    }
}
