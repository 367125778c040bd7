//! Hub URL with a CEQL where clause → a Sage v3.1 list request.
//!
//! CONTRACT (owned by the where-clause work; keep these signatures):
//! - `translate(resource_key, url, page_size, required_attributes) -> Result<SageListRequest, TranslateError>`
//! - `SageListRequest::query_for(&self, lower_bound: DateTime<Utc>) -> Vec<(String, String)>`

use crate::template::Placeholder;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranslateError(pub String);

/// What to ask Sage for one configured resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SageListRequest {
    /// Hub resource name (`customers`), used as the events' `objectType`.
    pub resource: String,
    /// Sage endpoint path, e.g. `/contacts`.
    pub endpoint: String,
    /// Fixed filter parameters, e.g. `contact_type_id=CUSTOMER`, `search=…`.
    pub params: Vec<(String, String)>,
    /// Attributes to request (always includes id, created and updated fields).
    pub attributes: Vec<String>,
    /// `items_per_page` (1..=200).
    pub items_per_page: u32,
    /// The date placeholder of the `lastModifiedDate >= '${…}'` clause, if any.
    pub since: Option<Placeholder>,
    /// Whether Sage offers `updated_or_created_since` on this endpoint.
    pub supports_updated_since: bool,
    /// Whether Sage offers `deleted_since` on this endpoint.
    pub supports_deleted_since: bool,
}

impl SageListRequest {
    pub fn query_for(&self, _lower_bound: DateTime<Utc>) -> Vec<(String, String)> {
        unimplemented!("translate stub")
    }
}

pub fn translate(
    resource_key: &str,
    _url: &str,
    page_size: Option<u32>,
    required_attributes: &[&str],
) -> Result<SageListRequest, TranslateError> {
    Ok(SageListRequest {
        resource: resource_key.to_owned(),
        endpoint: "/contacts".into(),
        params: vec![],
        attributes: required_attributes.iter().map(|s| s.to_string()).collect(),
        items_per_page: page_size.unwrap_or(200),
        since: None,
        supports_updated_since: true,
        supports_deleted_since: true,
    })
}
