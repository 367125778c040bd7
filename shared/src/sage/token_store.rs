//! Where an instance's OAuth tokens live between calls: a port the caller implements
//! (Secrets Manager in AWS, a file or memory in the standalone runner, a recorder in tests).

use super::oauth::TokenSet;
use async_trait::async_trait;

/// Persistence of one instance's [`TokenSet`].
///
/// Sage's refresh tokens are single-use: every refresh returns a new one and the old one
/// stops working. A session therefore calls [`TokenStore::save_tokens`] and waits for it to
/// succeed *before* it uses a new access token; if saving fails the new tokens are dropped
/// and the call fails, so nothing runs on tokens the store does not know about.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn load_tokens(&self) -> Result<TokenSet, TokenStoreError>;
    async fn save_tokens(&self, tokens: &TokenSet) -> Result<(), TokenStoreError>;
}

/// Why a token store could not load or save. Messages must not contain token values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenStoreError {
    /// No tokens are stored for the instance (never authorized, or deleted).
    #[error("no Sage tokens are stored for this instance")]
    NotFound,
    /// The store answered but its content cannot be read as tokens.
    #[error("the stored Sage tokens cannot be read: {0}")]
    Corrupt(String),
    /// The store itself failed (network, permissions, throttling, …).
    #[error("the token store failed: {0}")]
    Unavailable(String),
}

impl TokenStoreError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenStoreError::Unavailable(_))
    }
}
