use super::PortError;
use async_trait::async_trait;

/// One secret document per instance (Secrets Manager, or encrypted SQLite rows).
///
/// The value is opaque JSON text written by the core (app credentials, OAuth tokens,
/// signing key). `put` returns only once the write is durable, because a rotated Sage
/// refresh token must be stored before the new access token is used.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Create; `Conflict` if it exists.
    async fn create(&self, instance: u64, value: &str) -> Result<(), PortError>;
    async fn get(&self, instance: u64) -> Result<Option<String>, PortError>;
    /// Overwrite an existing secret; `NotFound` if it does not exist.
    async fn put(&self, instance: u64, value: &str) -> Result<(), PortError>;
    /// Delete at once (no recovery window); deleting a missing secret is not an error.
    async fn delete(&self, instance: u64) -> Result<(), PortError>;
}
