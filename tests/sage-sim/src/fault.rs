//! Injected failures: what goes wrong, for which requests, how many times.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// One failure to inject. It applies to the next `times` requests that match `target`;
/// each match uses one up. Rules are tried in the order they were injected and the
/// first live match wins, so two rules for the same target take turns in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub fault: Fault,
    pub target: FaultTarget,
    pub times: usize,
}

impl FaultRule {
    /// Shorthand for a rule.
    pub fn new(fault: Fault, target: FaultTarget, times: usize) -> Self {
        FaultRule {
            fault,
            target,
            times,
        }
    }
}

/// What happens to a matching request (before any normal handling, token check included).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with Sage's error array; a `Retry-After` header only when given.
    RateLimited { retry_after: Option<RetryAfter> },
    /// That status with an `UnexpectedError` error array.
    ServerError(u16),
    /// Waits this long (real time), then answers normally.
    Slow(Duration),
    /// Sends a 200 status line and the start of a body, then breaks the connection.
    DropConnection,
    /// 401 `AuthorizationFailure`, as if the token had been invalidated.
    Unauthorized,
}

/// The two forms of `Retry-After` (RFC 9110 §10.2.3).
#[derive(Debug, Clone, PartialEq)]
pub enum RetryAfter {
    Seconds(u64),
    HttpDate(DateTime<Utc>),
}

impl RetryAfter {
    /// The header value. An HTTP-date has whole seconds only, so a date with a fraction
    /// is rounded *up*: a client that waits until the header's time has then waited at
    /// least until `at`, which is what the test meant.
    pub fn header_value(&self) -> String {
        match self {
            RetryAfter::Seconds(s) => s.to_string(),
            RetryAfter::HttpDate(at) => {
                let whole = if at.timestamp_subsec_nanos() > 0 {
                    DateTime::from_timestamp(at.timestamp() + 1, 0).unwrap_or(*at)
                } else {
                    *at
                };
                whole.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
            }
        }
    }
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// Every request under `/v3.1`.
    AnyApi,
    /// List requests (`GET /v3.1/<endpoint>`) asking for page k; no `page` means page 1.
    Page(u32),
    /// Requests whose logged path is exactly this, e.g. `"/contacts"`,
    /// `"/contacts/<id>"` or `"/revoke"` (a leading `/v3.1` is ignored).
    Path(String),
    /// The `/token` endpoint.
    Token,
}

/// What the fault matcher needs to know about a request.
pub(crate) struct RequestFacts<'a> {
    pub(crate) is_api: bool,
    pub(crate) is_token: bool,
    /// Path as logged (API paths without `/v3.1`).
    pub(crate) path: &'a str,
    /// `Some(page)` for list requests.
    pub(crate) list_page: Option<Option<u32>>,
}

impl FaultTarget {
    pub(crate) fn matches(&self, facts: &RequestFacts<'_>) -> bool {
        match self {
            FaultTarget::AnyApi => facts.is_api,
            FaultTarget::Page(k) => {
                matches!(facts.list_page, Some(page) if page.unwrap_or(1) == *k)
            }
            FaultTarget::Path(p) => {
                let wanted = p.strip_prefix("/v3.1").unwrap_or(p);
                facts.path == wanted
            }
            FaultTarget::Token => facts.is_token,
        }
    }
}

/// Takes one use of the first live rule matching the request.
pub(crate) fn take_matching(rules: &mut Vec<FaultRule>, facts: &RequestFacts<'_>) -> Option<Fault> {
    let index = rules
        .iter()
        .position(|rule| rule.times > 0 && rule.target.matches(facts))?;
    let rule = &mut rules[index];
    rule.times -= 1;
    let fault = rule.fault.clone();
    if rule.times == 0 {
        rules.remove(index);
    }
    Some(fault)
}
