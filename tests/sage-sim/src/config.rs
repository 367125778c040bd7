//! How a simulator instance behaves: token lifetimes, paging limits, known OAuth clients.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// The client every simulator knows unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "sim-client-id";
/// The secret of [`DEFAULT_CLIENT_ID`].
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";

/// Settings of one simulator. `SimConfig::default()` matches Sage's documented numbers.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Lifetime of an access token (Sage: 5 minutes), sent as `expires_in`.
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (Sage: 31 days), sent as `refresh_token_expires_in`.
    /// Every refresh issues a new one with a full lifetime.
    pub refresh_token_ttl: Duration,
    /// Lifetime of a grant code (Sage: 60 seconds).
    pub code_ttl: Duration,
    /// Largest page Sage serves (200). A larger `items_per_page` is clamped to this.
    pub max_items_per_page: u32,
    /// Page size when the request names none (Sage: 20).
    pub default_items_per_page: u32,
    /// The OAuth applications the simulator accepts: `(client_id, client_secret)`.
    pub clients: Vec<(String, String)>,
    /// `None`: the simulator's clock follows the machine's clock (plus whatever tests
    /// add with `advance`). `Some(t)`: the clock starts frozen at `t` and only moves
    /// when told to.
    pub start_time: Option<DateTime<Utc>>,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            access_token_ttl: Duration::from_secs(300),
            refresh_token_ttl: Duration::from_secs(31 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            max_items_per_page: 200,
            default_items_per_page: 20,
            clients: vec![(
                DEFAULT_CLIENT_ID.to_owned(),
                DEFAULT_CLIENT_SECRET.to_owned(),
            )],
            start_time: None,
            port: 0,
        }
    }
}
