//! Sage list endpoints, read page by page by following `$next`.
//!
//! Sage returns the last page again for a page number past the end, so counting pages
//! would loop or double records; the only end signal is `$next: null`. Nothing is
//! collected here: the caller handles each page before asking for the next.

use super::endpoints::{supports_deleted_since, supports_updated_since};
use super::error::SageError;
use super::session::SageSession;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashSet;
use url::Url;

/// The filter for records created or changed at or after a time (inclusive).
pub const UPDATED_OR_CREATED_SINCE: &str = "updated_or_created_since";
/// The filter for records deleted after a time (exclusive).
pub const DELETED_SINCE: &str = "deleted_since";

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<serde_json::Value>,
    /// `$total`: records in the whole list, if Sage said.
    pub total: Option<u64>,
    /// `$page`: this page's number, if Sage said.
    pub page: Option<u64>,
    /// `$itemsPerPage` (or `$items_per_page`).
    pub items_per_page: Option<u64>,
}

/// Reads a list page by page. Made by [`SageSession::list`] and friends.
#[derive(Debug)]
pub struct PageCursor {
    session: SageSession,
    state: CursorState,
    /// Parameters of the first request, re-added to `$next` links that lose them.
    first_query: Vec<(String, String)>,
    /// Every URL already read, to stop a `$next` loop.
    visited: HashSet<String>,
    last_page_number: Option<u64>,
}

#[derive(Debug)]
enum CursorState {
    Next(Url),
    Invalid(Option<SageError>),
    Done,
}

impl SageSession {
    /// Lists `path` (such as `/contacts`) with `query` (`items_per_page`, `attributes`,
    /// filters). Nothing is requested until [`PageCursor::next_page`].
    pub fn list(&self, path: &str, query: &[(String, String)]) -> PageCursor {
        let state = match self.client().api_url(path, query) {
            Ok(url) => CursorState::Next(url),
            Err(e) => CursorState::Invalid(Some(e)),
        };
        PageCursor {
            session: self.clone(),
            state,
            first_query: query.to_vec(),
            visited: HashSet::new(),
            last_page_number: None,
        }
    }

    /// Records of `endpoint` created or updated at or after `since`
    /// (`updated_or_created_since`, inclusive).
    pub fn list_changed(
        &self,
        endpoint: &str,
        params: &[(String, String)],
        since: DateTime<Utc>,
    ) -> Result<PageCursor, SageError> {
        if !supports_updated_since(endpoint) {
            return Err(SageError::FilterUnsupported {
                endpoint: endpoint.to_owned(),
                filter: UPDATED_OR_CREATED_SINCE,
            });
        }
        Ok(self.list(
            endpoint,
            &with_time(params, UPDATED_OR_CREATED_SINCE, since),
        ))
    }

    /// Records of `endpoint` deleted after `since` (`deleted_since`, exclusive). Refused
    /// for endpoints without that filter (`/ledger_accounts`, `/transactions`, …).
    pub fn list_deleted(
        &self,
        endpoint: &str,
        params: &[(String, String)],
        since: DateTime<Utc>,
    ) -> Result<PageCursor, SageError> {
        if !supports_deleted_since(endpoint) {
            return Err(SageError::FilterUnsupported {
                endpoint: endpoint.to_owned(),
                filter: DELETED_SINCE,
            });
        }
        Ok(self.list(endpoint, &with_time(params, DELETED_SINCE, since)))
    }
}

/// `params` with `name` set to `at` as RFC 3339 in UTC with `Z` and whole seconds (an
/// existing value of `name` is replaced). Dropping sub-seconds only moves the bound
/// earlier, which re-reads a little and never skips.
fn with_time(params: &[(String, String)], name: &str, at: DateTime<Utc>) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> =
        params.iter().filter(|(k, _)| k != name).cloned().collect();
    query.push((
        name.to_owned(),
        at.to_rfc3339_opts(SecondsFormat::Secs, true),
    ));
    query
}

impl PageCursor {
    /// The next page, or `None` after the last one. Each page is one logical call with
    /// its own time budget. After an error the cursor may be asked again (it retries the
    /// same page).
    pub async fn next_page(&mut self) -> Result<Option<Page>, SageError> {
        let url = match &mut self.state {
            CursorState::Done => return Ok(None),
            CursorState::Invalid(error) => {
                let error = error.take();
                self.state = CursorState::Done;
                return match error {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            CursorState::Next(url) => url.clone(),
        };
        if !self.visited.insert(url.as_str().to_owned()) {
            self.state = CursorState::Done;
            return Err(SageError::PagingLoop {
                next: url_for_message(&url),
            });
        }
        let budget = self.session.client().start_budget();
        let body = match self.session.get_url(&budget, &url).await {
            Ok(body) => body,
            Err(e) => {
                // Allow the caller to ask for this page again.
                self.visited.remove(url.as_str());
                return Err(e);
            }
        };
        let (page, next) = match parse_page(body, url.path()) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.state = CursorState::Done;
                return Err(e);
            }
        };
        if let (Some(previous), Some(current)) = (self.last_page_number, page.page)
            && current <= previous
        {
            self.state = CursorState::Done;
            return Err(SageError::PagingLoop {
                next: url_for_message(&url),
            });
        }
        if page.page.is_some() {
            self.last_page_number = page.page;
        }
        self.state = match next {
            None => CursorState::Done,
            Some(next) => match self.session.client().next_url(&next, &self.first_query) {
                Ok(next_url) if next_url == url => {
                    CursorState::Invalid(Some(SageError::PagingLoop { next }))
                }
                Ok(next_url) => CursorState::Next(next_url),
                Err(e) => CursorState::Invalid(Some(e)),
            },
        };
        Ok(Some(page))
    }
}

/// The path and query of a URL (as Sage's `$next` would show it), for messages.
fn url_for_message(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Reads the list envelope: `$items` (required), `$total`, `$page`, `$itemsPerPage` or
/// `$items_per_page`, and `$next` (a link, or null/absent/empty on the last page).
pub(super) fn parse_page(
    body: serde_json::Value,
    path: &str,
) -> Result<(Page, Option<String>), SageError> {
    let invalid = |message: &str| SageError::InvalidResponse {
        context: format!("list {path}"),
        message: message.to_owned(),
    };
    let serde_json::Value::Object(mut envelope) = body else {
        return Err(invalid("the list answer is not a JSON object"));
    };
    let items = match envelope.remove("$items") {
        Some(serde_json::Value::Array(items)) => items,
        Some(serde_json::Value::Null) => Vec::new(),
        Some(_) => return Err(invalid("$items is not an array")),
        None => return Err(invalid("the list answer has no $items")),
    };
    let number = |name: &str| -> Option<u64> {
        match envelope.get(name)? {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let page = Page {
        items,
        total: number("$total"),
        page: number("$page"),
        items_per_page: number("$itemsPerPage").or_else(|| number("$items_per_page")),
    };
    let next = match envelope.get("$next") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
        Some(serde_json::Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => return Err(invalid("$next is neither a link nor null")),
    };
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn reads_the_envelope_and_both_items_per_page_spellings() {
        let (page, next) = parse_page(
            json!({"$total": 3, "$page": 1, "$next": "/contacts?page=2", "$back": null,
                   "$itemsPerPage": 2, "$items": [{"id": "a"}, {"id": "b"}]}),
            "/contacts",
        )
        .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(
            (page.total, page.page, page.items_per_page),
            (Some(3), Some(1), Some(2))
        );
        assert_eq!(next.as_deref(), Some("/contacts?page=2"));
        let (page, next) = parse_page(
            json!({"$items_per_page": 20, "$next": null, "$items": []}),
            "/contacts",
        )
        .unwrap();
        assert_eq!(page.items_per_page, Some(20));
        assert_eq!(page.total, None);
        assert_eq!(next, None);
    }

    #[test]
    fn refuses_answers_that_are_not_lists() {
        for body in [
            json!([]),
            json!({"$next": null}),
            json!({"$items": {}}),
            json!({"$items": [], "$next": 5}),
        ] {
            assert!(matches!(
                parse_page(body, "/contacts"),
                Err(SageError::InvalidResponse { .. })
            ));
        }
    }

    #[test]
    fn time_filters_are_rfc3339_utc_whole_seconds_and_replace_old_values() {
        let at = Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 58).unwrap()
            + chrono::TimeDelta::milliseconds(750);
        let params = vec![
            ("attributes".to_owned(), "all".to_owned()),
            (DELETED_SINCE.to_owned(), "old".to_owned()),
        ];
        let query = with_time(&params, DELETED_SINCE, at);
        assert_eq!(
            query,
            vec![
                ("attributes".to_owned(), "all".to_owned()),
                (DELETED_SINCE.to_owned(), "2024-02-29T23:59:58Z".to_owned()),
            ]
        );
    }
}
