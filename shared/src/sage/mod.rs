//! The Sage Business Cloud Accounting v3.1 client.
//!
//! - [`SageClient`]: one HTTP client (timeouts, `User-Agent`, no redirects, a [`Clock`])
//!   for the OAuth calls ([`SageClient::exchange_code`], [`SageClient::refresh`],
//!   [`SageClient::revoke`]) and for making sessions.
//! - [`SageSession`]: API calls for one instance. Keeps the access token valid, refreshing
//!   through the caller's [`TokenStore`] (persisted before use), retries 401 once after a
//!   refresh, and lists with [`PageCursor`] by following `$next`.
//! - Every logical call retries 429 (honouring `Retry-After`), 500/502/503/504, timeouts and
//!   broken connections with jittered backoff, within [`ClientSettings::call_budget`].
//! - [`SageError`]: the one error type, readable as an instance's "last error".
//!
//! Tokens, secrets and codes are [`Secret`](crate::secret::Secret)s and never logged.
//!
//! [`Clock`]: crate::clock::Clock

mod client;
pub mod endpoints;
mod error;
mod listing;
mod oauth;
mod paging;
mod retry;
mod session;
mod settings;
mod token_store;

pub use client::{SageClient, USER_AGENT};
pub use error::SageError;
pub use listing::{AnchoredListing, ItemKey, ListingStats, MIN_PAGE_SIZE};
pub use oauth::{AppCredentials, REFRESH_MARGIN_SECONDS, TokenSet};
pub use paging::{DELETED_SINCE, Page, PageCursor, UPDATED_OR_CREATED_SINCE};
pub use session::{BUSINESS_HEADER, SageSession};
pub use settings::{
    ClientSettings, DEFAULT_API_URL, DEFAULT_REVOKE_URL, DEFAULT_TOKEN_URL, ENV_API_URL,
    ENV_REVOKE_URL, ENV_TOKEN_URL, EndpointConfigError, SageEndpoints,
};
pub use token_store::{TokenStore, TokenStoreError};
