use super::PortError;
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
}
