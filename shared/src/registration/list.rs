//! `GET /instances`: the caller's organization's instances, ascending id, in pages.

use super::http::{ApiError, ApiRequest, ApiResponse};
use super::response;
use super::service::{RegistrationService, storage_error};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Page size when the request names none.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page served.
pub const MAX_PAGE_SIZE: usize = 200;
/// The response header carrying the token of the next page (Cloud Elements' name).
pub const NEXT_PAGE_HEADER: &str = "Elements-Next-Page-Token";

const TOKEN_PREFIX: &str = "after:";

/// The opaque token of the page after instance `id`.
pub fn next_page_token(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{id}"))
}

fn read_page_token(token: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(TOKEN_PREFIX)?.parse().ok()
}

fn page_size(request: &ApiRequest) -> Result<usize, ApiError> {
    match request.query_param("pageSize") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    400,
                    "pageSize",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )
            }),
    }
}

impl RegistrationService {
    pub(crate) async fn list_instances(
        &self,
        organization: &str,
        request: &ApiRequest,
    ) -> Result<ApiResponse, ApiError> {
        let limit = page_size(request)?;
        let after = match request.query_param("nextPageToken") {
            None | Some("") => None,
            Some(token) => Some(read_page_token(token).ok_or_else(|| {
                ApiError::field(
                    400,
                    "nextPageToken",
                    "is not a token this API issued (use the Elements-Next-Page-Token header)",
                )
            })?),
        };
        // One more than asked tells whether another page exists.
        let mut records = self
            .deps
            .instances
            .list(organization, after, limit + 1)
            .await
            .map_err(|e| storage_error("listing the instances", &e))?;
        let more = records.len() > limit;
        records.truncate(limit);
        let body: Vec<_> = records.iter().map(response::instance_summary).collect();
        let mut response = ApiResponse::json(200, body);
        if more && let Some(last) = records.last() {
            response = response.with_header(NEXT_PAGE_HEADER, next_page_token(last.id));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_forgeries() {
        assert_eq!(read_page_token(&next_page_token(42)), Some(42));
        assert_eq!(read_page_token("42"), None);
        assert_eq!(read_page_token("!!"), None);
    }
}
