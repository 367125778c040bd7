//! The one error type of the Sage client layer.
//!
//! Messages are written to be shown as an instance's "last error" as they are: they say
//! what happened and, where it matters, what to do. They never contain a token, a secret,
//! a grant code or the body of a `/token` response.

use super::token_store::TokenStoreError;
use std::time::Duration;

/// Everything that can go wrong talking to Sage.
#[derive(Debug, thiserror::Error)]
pub enum SageError {
    /// The grant code or refresh token is no longer accepted (`invalid_grant`), or the
    /// stored refresh token has expired. Retrying cannot help; a person must authorize
    /// the instance again.
    #[error("Sage needs the instance to be authorized again: {reason}")]
    ReauthorizationNeeded { reason: String },

    /// Sage's OAuth server refused a token or revoke request with an error other than
    /// `invalid_grant` (`invalid_client`, `invalid_request`, `unauthorized_client`, …).
    #[error("Sage OAuth request refused (HTTP {status}, {error}){}", describe(.description))]
    OAuth {
        status: u16,
        error: String,
        description: Option<String>,
    },

    /// Sage answered 401 again right after the access token was refreshed.
    #[error("Sage rejected the access token (HTTP 401) even after a refresh: {message}")]
    Unauthorized { message: String },

    /// Any other error answer of the API (4xx, or a 5xx that is never retried).
    #[error("Sage API error (HTTP {status}{}): {message}", code_suffix(.data_code))]
    Api {
        status: u16,
        data_code: Option<String>,
        message: String,
    },

    /// HTTP 429 on every attempt.
    #[error("Sage rate limit (HTTP 429){}: {message}", retry_after_suffix(.retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },

    /// HTTP 500/502/503/504 on every attempt.
    #[error("Sage server error (HTTP {status}{}): {message}", code_suffix(.data_code))]
    Server {
        status: u16,
        data_code: Option<String>,
        message: String,
    },

    /// No complete answer within the request timeout on every attempt.
    #[error("Sage did not answer within {:.1} s", .after.as_secs_f64())]
    Timeout { after: Duration },

    /// The connection could not be made or broke before the answer was complete.
    #[error("could not reach Sage: {message}")]
    Connection { message: String },

    /// The time allowed for one logical call (all retries included) ran out before the
    /// next wait. Says why the call was being retried.
    #[error(
        "gave up after {:.1} s, the time allowed for one Sage call; last error: {last_error}",
        .elapsed.as_secs_f64()
    )]
    BudgetExhausted {
        elapsed: Duration,
        #[source]
        last_error: Box<SageError>,
    },

    /// The token store could not provide the instance's tokens.
    #[error("could not load the Sage tokens: {0}")]
    TokenStore(#[source] TokenStoreError),

    /// Sage issued new tokens but they could not be persisted, so they were not used.
    /// Sage's refresh tokens are single-use, so the stored one may no longer work.
    #[error(
        "Sage issued new tokens but saving them failed, so they were not used \
         (the stored refresh token may no longer be accepted): {source}"
    )]
    TokenSaveFailed { source: TokenStoreError },

    /// Sage answered with something that is not what its API documents.
    #[error("unexpected answer from Sage ({context}): {message}")]
    InvalidResponse { context: String, message: String },

    /// A `$next` link led back to a page already read.
    #[error(
        "Sage's $next link {next:?} leads to a page already read; stopped to avoid an endless loop"
    )]
    PagingLoop { next: String },

    /// Rows kept vanishing from a list faster than it could be read (see
    /// `sage::listing`); the poll of that resource is retried as a whole next time.
    #[error("Sage's list {path} kept changing while it was read ({requests} requests); will retry")]
    ListKeptChanging { path: String, requests: u32 },

    /// The endpoint does not offer the incremental filter asked for.
    #[error("Sage endpoint {endpoint} does not support the {filter} filter")]
    FilterUnsupported {
        endpoint: String,
        filter: &'static str,
    },

    /// The request could not be built from what the caller gave (path, business id, …).
    #[error("invalid Sage request: {0}")]
    InvalidRequest(String),

    /// The HTTP client could not be constructed.
    #[error("could not set up the HTTP client for Sage: {0}")]
    ClientSetup(String),
}

impl SageError {
    /// Whether trying the same call again later may succeed (a transient failure), as
    /// opposed to one that needs a person or a code change.
    pub fn is_retryable(&self) -> bool {
        match self {
            SageError::RateLimited { .. }
            | SageError::Server { .. }
            | SageError::Timeout { .. }
            | SageError::Connection { .. } => true,
            SageError::BudgetExhausted { last_error, .. } => last_error.is_retryable(),
            SageError::TokenStore(e) => e.is_transient(),
            SageError::ReauthorizationNeeded { .. }
            | SageError::OAuth { .. }
            | SageError::Unauthorized { .. }
            | SageError::Api { .. }
            | SageError::TokenSaveFailed { .. }
            | SageError::InvalidResponse { .. }
            | SageError::PagingLoop { .. }
            | SageError::ListKeptChanging { .. }
            | SageError::FilterUnsupported { .. }
            | SageError::InvalidRequest(_)
            | SageError::ClientSetup(_) => false,
        }
    }

    /// Whether the instance must be authorized again by a person.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self, SageError::ReauthorizationNeeded { .. })
    }
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!(", {c}"))
        .unwrap_or_default()
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

fn retry_after_suffix(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|d| format!(", asked to wait {} s", d.as_secs()))
        .unwrap_or_default()
}

/// The longest piece of a non-JSON error body quoted in a message.
const BODY_EXCERPT_CHARS: usize = 200;

/// Reads Sage's API error body: a JSON array of
/// `{"$severity","$dataCode","$message","$source"}`. Tolerates a single such object, a
/// generic `{"error","message"}` object, plain text and an empty body, so a proxy's or
/// load balancer's error page still yields a readable message.
///
/// Never use this on `/token` bodies (see [`parse_oauth_error`]).
pub(crate) fn parse_api_error(status: u16, body: &[u8]) -> (Option<String>, String) {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let entries: Vec<&serde_json::Value> = match &value {
            serde_json::Value::Array(items) => items.iter().collect(),
            serde_json::Value::Object(_) => vec![&value],
            _ => Vec::new(),
        };
        let mut code = None;
        let mut messages = Vec::new();
        for entry in entries {
            let entry_code = text_field(entry, &["$dataCode", "error", "code"]);
            if code.is_none() {
                code = entry_code.clone();
            }
            if let Some(message) = text_field(entry, &["$message", "message", "error_description"])
            {
                messages.push(message);
            } else if let Some(c) = entry_code {
                messages.push(c);
            }
        }
        if !messages.is_empty() {
            return (code, messages.join("; "));
        }
        if code.is_some() {
            return (code, fallback_message(status));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        (None, fallback_message(status))
    } else {
        let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
        (None, excerpt)
    }
}

/// The standard OAuth error of a `/token` or `/revoke` answer: `error` and the optional
/// `error_description`. Nothing else of the body is ever read into a message.
pub(crate) fn parse_oauth_error(body: &[u8]) -> Option<(String, Option<String>)> {
    let value = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let error = value.get("error")?.as_str()?.to_owned();
    let description = value
        .get("error_description")
        .and_then(|d| d.as_str())
        .map(str::to_owned);
    Some((error, description))
}

fn text_field(value: &serde_json::Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        value
            .get(*name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    })
}

fn fallback_message(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("no details given")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sage_error_array() {
        let body = br#"[{"$severity":"error","$dataCode":"RecordNotFound","$message":"Resource not found","$source":""},
                        {"$severity":"error","$dataCode":"Other","$message":"Second","$source":""}]"#;
        let (code, message) = parse_api_error(404, body);
        assert_eq!(code.as_deref(), Some("RecordNotFound"));
        assert_eq!(message, "Resource not found; Second");
    }

    #[test]
    fn tolerates_objects_text_and_empty_bodies() {
        let (code, message) = parse_api_error(403, br#"{"$dataCode":"MultiUserAccessDenied"}"#);
        assert_eq!(code.as_deref(), Some("MultiUserAccessDenied"));
        assert_eq!(message, "MultiUserAccessDenied");
        let (code, message) = parse_api_error(502, b"<html>\n Bad   gateway </html>");
        assert_eq!(code, None);
        assert_eq!(message, "<html> Bad gateway </html>");
        let (code, message) = parse_api_error(404, b"");
        assert_eq!(code, None);
        assert_eq!(message, "Not Found");
        let (_, message) = parse_api_error(400, &[b'x'; 1000]);
        assert_eq!(message.len(), BODY_EXCERPT_CHARS);
    }

    #[test]
    fn oauth_error_reads_only_error_fields() {
        let parsed =
            parse_oauth_error(br#"{"error":"invalid_client","error_description":"bad id"}"#);
        assert_eq!(
            parsed,
            Some(("invalid_client".to_owned(), Some("bad id".to_owned())))
        );
        assert_eq!(parse_oauth_error(b"not json"), None);
    }

    #[test]
    fn messages_are_readable_and_retryability_is_classified() {
        let err = SageError::BudgetExhausted {
            elapsed: Duration::from_millis(1500),
            last_error: Box::new(SageError::Server {
                status: 503,
                data_code: None,
                message: "Service Unavailable".into(),
            }),
        };
        assert_eq!(
            err.to_string(),
            "gave up after 1.5 s, the time allowed for one Sage call; last error: \
             Sage server error (HTTP 503): Service Unavailable"
        );
        assert!(err.is_retryable());
        let reauth = SageError::ReauthorizationNeeded {
            reason: "invalid_grant".into(),
        };
        assert!(!reauth.is_retryable());
        assert!(reauth.needs_reauthorization());
        let api = SageError::Api {
            status: 404,
            data_code: Some("RecordNotFound".into()),
            message: "gone".into(),
        };
        assert_eq!(
            api.to_string(),
            "Sage API error (HTTP 404, RecordNotFound): gone"
        );
        assert!(!api.is_retryable());
    }
}
