//! The Sage v3.1 list endpoints a poller can read, and what each accepts.
//!
//! Transcribed from Sage's own Swagger file for Accounting v3.1 (kept as test data in
//! `tests/sage-sim/spec/`); `shared/tests/sage_spec.rs` fails whenever this table and the
//! file disagree, in either direction. An endpoint is *pollable* when the file gives it
//! `updated_or_created_since`: 38 list endpoints, 23 of them with `deleted_since` too.
//! Endpoints without `updated_or_created_since` (`/contact_types`, `/currencies`, …) are
//! reference data and are not listed.
//!
//! `filters` is every other query parameter the file lists for the endpoint, minus the
//! ones the poller sets itself (`page`, `items_per_page`, `attributes` and the two
//! incremental filters): exactly what a where clause may fix with `=`. Sage names them;
//! we neither add (Sage would get a parameter it does not take) nor drop (a user who
//! knows Sage's API could not use one).

/// A pollable Sage list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListEndpoint {
    /// The path below the API root, e.g. `/contacts`.
    pub path: &'static str,
    /// Whether it takes `deleted_since` (so DELETED events are available).
    pub deleted_since: bool,
    /// The query parameters a where clause may set, spelled as Sage spells them.
    pub filters: &'static [&'static str],
}

/// Sales and purchase invoices, credit notes and corrective invoices.
const ARTEFACT_FILTERS: &[&str] = &[
    "show_payments_allocations",
    "search",
    "contact_id",
    "status_id",
    "from_date",
    "to_date",
    "has_attachments",
    "sort",
];
/// Sales and purchase quick entries.
const QUICK_ENTRY_FILTERS: &[&str] = &[
    "contact_id",
    "search",
    "status_id",
    "from_date",
    "to_date",
    "show_payments_allocations",
    "has_attachments",
    "sort",
];
/// Bank deposits and transfers.
const BANK_MOVEMENT_FILTERS: &[&str] = &["from_date", "to_date", "sort"];
/// Bank opening balances and reconciliations.
const BANK_ACCOUNT_ID: &[&str] = &["bank_account_id"];
/// Products and services.
const ITEM_FILTERS: &[&str] = &["search", "active"];
/// Nothing beyond paging, attributes and the incremental filters.
const NONE: &[&str] = &[];

const fn both(path: &'static str, filters: &'static [&'static str]) -> ListEndpoint {
    ListEndpoint {
        path,
        deleted_since: true,
        filters,
    }
}

const fn updated_only(path: &'static str, filters: &'static [&'static str]) -> ListEndpoint {
    ListEndpoint {
        path,
        deleted_since: false,
        filters,
    }
}

/// Every pollable list endpoint, in path order.
pub const POLLABLE: &[ListEndpoint] = &[
    both("/addresses", &["contact_id", "bank_account_id"]),
    updated_only("/analysis_type_categories", &["analysis_type_level"]),
    updated_only("/analysis_types", &["analysis_type_level", "search"]),
    both(
        "/attachments",
        &[
            "attachment_context_id",
            "attachment_context_type_id",
            "legacy_attachment_context_type",
            "legacy_attachment_context_id",
        ],
    ),
    both(
        "/bank_accounts",
        &[
            "nested_attributes",
            "exclude_stripe",
            "filter_inactive_bank_accounts",
            "appName",
        ],
    ),
    both("/bank_deposits", BANK_MOVEMENT_FILTERS),
    updated_only("/bank_opening_balances", BANK_ACCOUNT_ID),
    updated_only("/bank_reconciliations", BANK_ACCOUNT_ID),
    both("/bank_transfers", BANK_MOVEMENT_FILTERS),
    updated_only("/coa_accounts", &["coa_template_id"]),
    both(
        "/contact_allocations",
        &["contact_id", "transaction_type_id", "sort"],
    ),
    both(
        "/contact_opening_balances",
        &["contact_type_id", "contact_id"],
    ),
    both(
        "/contact_payments",
        &[
            "contact_id",
            "bank_account_id",
            "transaction_type_id",
            "from_date",
            "to_date",
            "sort",
        ],
    ),
    both("/contact_persons", &["address_id", "contact_id"]),
    both(
        "/contacts",
        &[
            "contact_type_id",
            "exclude_system",
            "nested_attributes",
            "show_balance",
            "context_date",
            "search",
            "email",
            "show_unfinished_recurring_invoices_status",
            "filter_inactive_contacts",
        ],
    ),
    updated_only("/journal_codes", NONE),
    both("/journals", NONE),
    updated_only("/ledger_account_opening_balances", NONE),
    updated_only(
        "/ledger_accounts",
        &[
            "visible_in",
            "not_visible_in",
            "show_included_in_chart",
            "show_control_accounts",
            "ledger_account_classification_id",
            "show_balance_details",
            "exclude_deleted_entries",
            "from_date",
            "to_date",
            "search",
            "sort_order_from_user_setting",
            "filter_inactive_bank_accounts",
            "ledger_account_type_id",
        ],
    ),
    updated_only(
        "/ledger_entries",
        &[
            "from_date",
            "to_date",
            "transaction_id",
            "transaction_type_id",
            "journal_code_id",
            "ledger_account_id",
        ],
    ),
    both(
        "/other_payments",
        &[
            "bank_account_id",
            "contact_id",
            "from_date",
            "has_attachments",
            "to_date",
            "transaction_type_id",
            "sort",
        ],
    ),
    both("/products", ITEM_FILTERS),
    both("/purchase_corrective_invoices", ARTEFACT_FILTERS),
    both("/purchase_credit_notes", ARTEFACT_FILTERS),
    both("/purchase_invoices", ARTEFACT_FILTERS),
    both("/purchase_quick_entries", QUICK_ENTRY_FILTERS),
    both("/sales_corrective_invoices", ARTEFACT_FILTERS),
    both("/sales_credit_notes", ARTEFACT_FILTERS),
    updated_only(
        "/sales_estimates",
        &[
            "contact_id",
            "search",
            "status_id",
            "from_date",
            "to_date",
            "has_attachments",
        ],
    ),
    both("/sales_invoices", ARTEFACT_FILTERS),
    both("/sales_quick_entries", QUICK_ENTRY_FILTERS),
    updated_only(
        "/sales_quotes",
        &[
            "contact_id",
            "search",
            "status_id",
            "from_date",
            "to_date",
            "has_attachments",
            "sort",
        ],
    ),
    updated_only("/service_rate_types", &["active"]),
    both("/services", ITEM_FILTERS),
    both(
        "/stock_items",
        &["search", "active", "out_of_stock", "below_reorder_level"],
    ),
    updated_only("/tax_profiles", NONE),
    updated_only(
        "/tax_rates",
        &[
            "usage",
            "address_region_id",
            "date",
            "include_historical_data",
            "include_destination_vat_rates",
            "cis_only",
        ],
    ),
    updated_only(
        "/transactions",
        &[
            "from_date",
            "to_date",
            "updated_from_date",
            "updated_to_date",
            "has_attachments",
            "transaction_type_id",
        ],
    ),
];

/// The pollable endpoint at `path` (such as `/contacts`), if there is one.
pub fn pollable(path: &str) -> Option<&'static ListEndpoint> {
    POLLABLE.iter().find(|e| e.path == path)
}

/// [`pollable`] at compile time, for tables built from this one: naming an endpoint that
/// is not pollable stops the build.
pub(crate) const fn pollable_const(path: &str) -> &'static ListEndpoint {
    let mut i = 0;
    while i < POLLABLE.len() {
        if str_eq(POLLABLE[i].path, path) {
            return &POLLABLE[i];
        }
        i += 1;
    }
    panic!("not a pollable Sage list endpoint")
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `endpoint` (a path such as `/contacts`) accepts `updated_or_created_since`.
pub fn supports_updated_since(endpoint: &str) -> bool {
    pollable(endpoint).is_some()
}

/// Whether `endpoint` (a path such as `/contacts`) accepts `deleted_since`.
pub fn supports_deleted_since(endpoint: &str) -> bool {
    pollable(endpoint).is_some_and(|e| e.deleted_since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn known_exceptions() {
        assert!(supports_deleted_since("/contacts"));
        assert!(supports_updated_since("/ledger_accounts"));
        assert!(!supports_deleted_since("/ledger_accounts"));
        assert!(!supports_deleted_since("/tax_rates"));
        assert!(!supports_updated_since("/contact_types"));
        assert!(!supports_deleted_since("/contact_types"));
        // Sage's file gives quotes and estimates no deleted_since.
        assert!(supports_updated_since("/sales_quotes"));
        assert!(!supports_deleted_since("/sales_quotes"));
        assert!(!supports_deleted_since("/sales_estimates"));
        assert!(!supports_updated_since("/widgets"));
    }

    #[test]
    fn table_is_sorted_unique_and_counts_match_sages_file() {
        let paths: Vec<_> = POLLABLE.iter().map(|e| e.path).collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(paths, sorted);
        assert_eq!(paths.iter().collect::<HashSet<_>>().len(), paths.len());
        assert_eq!(POLLABLE.len(), 38);
        assert_eq!(POLLABLE.iter().filter(|e| e.deleted_since).count(), 23);
        for e in POLLABLE {
            assert!(e.path.starts_with('/'), "{}", e.path);
            assert_eq!(pollable_const(e.path), e);
        }
    }

    #[test]
    fn journals_and_allocations_take_no_date_range() {
        for path in ["/journals", "/contact_allocations"] {
            let e = pollable(path).expect(path);
            assert!(!e.filters.contains(&"from_date"), "{path}");
            assert!(!e.filters.contains(&"to_date"), "{path}");
        }
    }
}
