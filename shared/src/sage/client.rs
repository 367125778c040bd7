//! The HTTP core shared by the OAuth calls and the API session: one logical call made of
//! bounded, logged, budgeted attempts.

use super::error::{SageError, parse_api_error};
use super::retry::{CallBudget, backoff_delay, parse_retry_after};
use super::settings::{ClientSettings, SageEndpoints};
use crate::clock::Clock;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("sage-events/", env!("CARGO_PKG_VERSION"));

/// A client for Sage Accounting v3.1. Cheap to clone (shares its connection pool).
///
/// OAuth calls live in [`super::oauth`]; API calls go through a
/// [`SageSession`](super::SageSession) made by [`SageClient::session`].
#[derive(Clone)]
pub struct SageClient {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoints: Arc<SageEndpoints>,
    pub(crate) settings: Arc<ClientSettings>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SageClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SageClient")
            .field("endpoints", &self.endpoints)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One complete HTTP answer (status, headers, whole body). Reading the body is part of the
/// attempt, so a connection that breaks mid-body is retried like any other.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// What a log line says about a request: never a token, a secret, a code or a query value
/// of `/token`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLabel<'a> {
    pub(crate) method: &'static str,
    pub(crate) path: &'a str,
}

/// Statuses that mean "try again later".
fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

impl SageClient {
    /// A client with the given URLs, retry policy and clock (the clock decides token expiry
    /// and interprets `Retry-After` dates).
    pub fn new(
        endpoints: SageEndpoints,
        settings: ClientSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SageError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.request_timeout)
            .timeout(settings.request_timeout)
            .pool_max_idle_per_host(super::settings::POOL_MAX_IDLE_PER_HOST)
            .pool_idle_timeout(super::settings::POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| SageError::ClientSetup(error_chain(&e)))?;
        Ok(SageClient {
            http,
            endpoints: Arc::new(endpoints),
            settings: Arc::new(settings),
            clock,
        })
    }

    pub fn endpoints(&self) -> &SageEndpoints {
        &self.endpoints
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    pub(crate) fn start_budget(&self) -> CallBudget {
        CallBudget::start(self.settings.call_budget)
    }

    /// Runs one logical call: builds and sends the request, reads the whole answer, and
    /// retries 429/500/502/503/504, timeouts and broken connections with backoff (or the
    /// server's `Retry-After`) until it succeeds, `max_attempts` is reached (the last error
    /// is returned) or the next wait no longer fits the budget (`BudgetExhausted`).
    ///
    /// Any other answer — success or not — is returned for the caller to interpret.
    pub(crate) async fn execute(
        &self,
        budget: &CallBudget,
        label: RequestLabel<'_>,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<RawResponse, SageError> {
        let max_attempts = self.settings.max_attempts.max(1);
        let mut attempt: u32 = 1;
        loop {
            // The attempt may not outlive the budget; a zero budget still gets one try.
            let remaining = budget.remaining();
            let timeout = if remaining.is_zero() {
                self.settings.request_timeout
            } else {
                self.settings.request_timeout.min(remaining)
            };
            let started = Instant::now();
            let result = send_once(build().timeout(timeout)).await;
            let duration_ms = started.elapsed().as_millis() as u64;

            let (error, retry_after) = match result {
                Ok(raw) if !is_retryable_status(raw.status) => {
                    tracing::debug!(
                        method = label.method,
                        path = label.path,
                        status = raw.status.as_u16(),
                        attempt,
                        duration_ms,
                        "sage request"
                    );
                    return Ok(raw);
                }
                Ok(raw) => {
                    tracing::info!(
                        method = label.method,
                        path = label.path,
                        status = raw.status.as_u16(),
                        attempt,
                        duration_ms,
                        "sage request failed, may retry"
                    );
                    self.retryable_status_error(&raw)
                }
                Err(err) => {
                    let error = transport_error(&err, timeout);
                    tracing::info!(
                        method = label.method,
                        path = label.path,
                        attempt,
                        duration_ms,
                        error = %error,
                        "sage request failed, may retry"
                    );
                    (error, None)
                }
            };

            if attempt >= max_attempts {
                tracing::warn!(
                    method = label.method,
                    path = label.path,
                    attempts = attempt,
                    error = %error,
                    "sage call failed after the last attempt"
                );
                return Err(error);
            }
            let wait = retry_after.unwrap_or_else(|| backoff_delay(&self.settings, attempt));
            if !budget.allows_wait(wait) {
                let elapsed = budget.elapsed();
                tracing::warn!(
                    method = label.method,
                    path = label.path,
                    attempts = attempt,
                    elapsed_ms = elapsed.as_millis() as u64,
                    wait_ms = wait.as_millis() as u64,
                    error = %error,
                    "sage call out of time budget"
                );
                return Err(SageError::BudgetExhausted {
                    elapsed,
                    last_error: Box::new(error),
                });
            }
            tracing::debug!(
                method = label.method,
                path = label.path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "waiting before retrying sage request"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The error for a 429/5xx answer and the wait the server asked for, if any.
    fn retryable_status_error(&self, raw: &RawResponse) -> (SageError, Option<Duration>) {
        let retry_after = raw
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.clock.now()));
        let (data_code, message) = parse_api_error(raw.status.as_u16(), &raw.body);
        let error = if raw.status == StatusCode::TOO_MANY_REQUESTS {
            SageError::RateLimited {
                retry_after,
                message,
            }
        } else {
            SageError::Server {
                status: raw.status.as_u16(),
                data_code,
                message,
            }
        };
        (error, retry_after)
    }

    /// The URL of API `path` (such as `/contacts`) with `query`, under `api_url`'s path.
    pub(crate) fn api_url(&self, path: &str, query: &[(String, String)]) -> Result<Url, SageError> {
        check_api_path(path)?;
        let mut url = self.endpoints.api_url.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url.set_query(None);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        Ok(url)
    }

    /// The URL of a `$next` link. Sage gives paths relative to the API root
    /// (`/contacts?page=2&items_per_page=200`); an absolute link is accepted only when it
    /// stays under `api_url` (the bearer token must never go anywhere else). Parameters of
    /// the first request that the link leaves out (`carry`) are added back, so a filter
    /// can never silently fall off mid-listing.
    pub(crate) fn next_url(
        &self,
        next: &str,
        carry: &[(String, String)],
    ) -> Result<Url, SageError> {
        let api = &self.endpoints.api_url;
        let mut url = if next.starts_with("http://") || next.starts_with("https://") {
            let url = Url::parse(next).map_err(|e| bad_next(next, &e.to_string()))?;
            let api_prefix = format!("{}/", api.path().trim_end_matches('/'));
            if url.origin() != api.origin() || !url.path().starts_with(&api_prefix) {
                return Err(bad_next(next, "it points outside the API"));
            }
            url
        } else {
            let (path, query) = match next.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (next, None),
            };
            check_api_path(path).map_err(|_| bad_next(next, "not a path under the API"))?;
            if query.is_some_and(|q| q.contains('#')) {
                return Err(bad_next(next, "has a fragment"));
            }
            let mut url = api.clone();
            let joined = format!("{}{}", api.path().trim_end_matches('/'), path);
            url.set_path(&joined);
            url.set_query(query);
            url
        };
        let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let missing: Vec<&(String, String)> = carry
            .iter()
            .filter(|(key, _)| !present.iter().any(|p| p == key))
            .collect();
        if !missing.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in missing {
                pairs.append_pair(key, value);
            }
        }
        Ok(url)
    }
}

fn bad_next(next: &str, why: &str) -> SageError {
    SageError::InvalidResponse {
        context: "list page".to_owned(),
        message: format!("unusable $next link {next:?}: {why}"),
    }
}

/// An API path must be absolute, without query, fragment, `.`/`..` segments or `//`.
fn check_api_path(path: &str) -> Result<(), SageError> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains(['?', '#', '\\'])
        && !path
            .split('/')
            .any(|segment| segment == ".." || segment == ".");
    if ok {
        Ok(())
    } else {
        Err(SageError::InvalidRequest(format!(
            "{path:?} is not an API path such as \"/contacts\""
        )))
    }
}

async fn send_once(request: reqwest::RequestBuilder) -> Result<RawResponse, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn transport_error(err: &reqwest::Error, timeout: Duration) -> SageError {
    if err.is_timeout() {
        SageError::Timeout { after: timeout }
    } else {
        SageError::Connection {
            message: error_chain(err),
        }
    }
}

/// The error and its causes on one line, without the URL (which reqwest would include).
fn error_chain(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut parts = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    let head = if err.is_connect() {
        "connection failed"
    } else if err.is_body() {
        "the answer broke off"
    } else if err.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    if parts.is_empty() {
        head.to_owned()
    } else {
        format!("{head}: {}", parts.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn client(api: &str) -> SageClient {
        let endpoints = SageEndpoints {
            api_url: Url::parse(api).unwrap(),
            ..SageEndpoints::default()
        };
        SageClient::new(endpoints, ClientSettings::default(), Arc::new(SystemClock)).unwrap()
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn api_paths_keep_the_version_prefix_and_encode_query() {
        let c = client("http://127.0.0.1:1234/v3.1");
        let url = c
            .api_url(
                "/contacts",
                &q(&[("updated_or_created_since", "2024-01-01T00:00:00+01:00")]),
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1234/v3.1/contacts?updated_or_created_since=2024-01-01T00%3A00%3A00%2B01%3A00"
        );
        let c = client("https://api.accounting.sage.com/v3.1/");
        assert_eq!(
            c.api_url("/sales_invoices", &[]).unwrap().as_str(),
            "https://api.accounting.sage.com/v3.1/sales_invoices"
        );
    }

    #[test]
    fn rejects_paths_that_are_not_api_paths() {
        let c = client("http://h/v3.1");
        for bad in ["contacts", "//evil/x", "/a/../b", "/a?x=1", "/a#f"] {
            assert!(matches!(
                c.api_url(bad, &[]),
                Err(SageError::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn next_links_are_relative_to_the_api_root_and_carry_missing_filters() {
        let c = client("http://h:1/v3.1");
        let carry = q(&[("deleted_since", "2024-01-01T00:00:00Z"), ("page", "1")]);
        let url = c
            .next_url("/contacts?page=2&items_per_page=200", &carry)
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://h:1/v3.1/contacts?page=2&items_per_page=200&deleted_since=2024-01-01T00%3A00%3A00Z"
        );
        let url = c.next_url("http://h:1/v3.1/contacts?page=3", &[]).unwrap();
        assert_eq!(url.as_str(), "http://h:1/v3.1/contacts?page=3");
    }

    #[test]
    fn next_links_may_not_leave_the_api() {
        let c = client("http://h:1/v3.1");
        for bad in [
            "http://other:1/v3.1/contacts?page=2",
            "http://h:1/v2/contacts",
            "//other/contacts",
            "contacts?page=2",
            "/../admin",
        ] {
            assert!(
                matches!(c.next_url(bad, &[]), Err(SageError::InvalidResponse { .. })),
                "{bad}"
            );
        }
    }
}
