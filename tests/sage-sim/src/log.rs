//! The request log tests read to see what a client actually sent.

use chrono::{DateTime, Utc};

/// One request the simulator answered (or broke off), in arrival order of completion.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    /// API paths without the `/v3.1` prefix (`"/contacts"`, `"/contacts/<id>"`);
    /// OAuth paths as they are (`"/token"`, `"/revoke"`).
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The status sent (200 for [`crate::Fault::DropConnection`], whose body then breaks).
    pub status: u16,
    /// The form's `grant_type` on `/token` requests.
    pub grant_type: Option<String>,
    /// The simulator's clock when the request arrived.
    pub at: DateTime<Utc>,
    /// The `X-Business` header, if sent.
    pub business: Option<String>,
    /// The `Accept` header, if sent.
    pub accept: Option<String>,
    /// The injected fault that shaped the answer, if any (`"RateLimited"`, `"ServerError"`,
    /// `"Slow"`, `"DropConnection"`, `"Unauthorized"`).
    pub fault: Option<&'static str>,
}
