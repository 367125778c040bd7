//! Which Sage v3.1 list endpoints offer the incremental filters.
//!
//! Per Sage's v3.1 OpenAPI file: `/ledger_accounts`, `/transactions`, `/ledger_entries` and
//! `/tax_rates` have `updated_or_created_since` but no `deleted_since`; `/contact_types`
//! has neither. Everything else we map supports both.

/// Endpoints that have `updated_or_created_since` but no `deleted_since`.
pub const NO_DELETED_SINCE: &[&str] = &[
    "/ledger_accounts",
    "/transactions",
    "/ledger_entries",
    "/tax_rates",
];

/// Endpoints with neither incremental filter.
pub const NO_INCREMENTAL_FILTERS: &[&str] = &["/contact_types"];

/// Whether `endpoint` (a path such as `/contacts`) accepts `updated_or_created_since`.
pub fn supports_updated_since(endpoint: &str) -> bool {
    !NO_INCREMENTAL_FILTERS.contains(&endpoint)
}

/// Whether `endpoint` (a path such as `/contacts`) accepts `deleted_since`.
pub fn supports_deleted_since(endpoint: &str) -> bool {
    supports_updated_since(endpoint) && !NO_DELETED_SINCE.contains(&endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_exceptions() {
        assert!(supports_deleted_since("/contacts"));
        assert!(supports_updated_since("/ledger_accounts"));
        assert!(!supports_deleted_since("/ledger_accounts"));
        assert!(!supports_deleted_since("/tax_rates"));
        assert!(!supports_updated_since("/contact_types"));
        assert!(!supports_deleted_since("/contact_types"));
    }
}
