//! Hub resources (`/hubs/finance/<name>`) and the Sage v3.1 endpoints behind them.
//!
//! Cloud Elements never published how its `sageone` element mapped finance-hub resources to
//! Sage endpoints, so the hub names below follow our own table (see the Sage reference
//! notes). Two hub resources share `/contacts` and are told apart by a fixed
//! `contact_type_id` filter.
//!
//! Sage's own endpoint names (`sales_invoices`, `contact_payments`, …) are accepted as
//! resource names too, each mapping to itself. Users who know Sage's API (or who want an
//! endpoint the hub never named, such as `stock_items`) can then write
//! `/hubs/finance/sales_invoices` and get exactly that endpoint, and the resource name
//! becomes the events' `objectType` unchanged. Where a hub name and a Sage name coincide
//! (`contacts`, `products`, `services`) there is a single entry.
//!
//! Each entry also carries the small allow-list of Sage query parameters that a where
//! clause may set with `=` on that endpoint. The lists are deliberately conservative
//! (parameters Sage documents for the list endpoint and that make sense as a fixed filter
//! of a poller); anything else is rejected at registration rather than silently dropped.

/// One resource name a poller configuration may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubResource {
    /// The name as it appears in `/hubs/finance/<name>` and as the configuration key.
    pub name: &'static str,
    /// The Sage v3.1 list endpoint path, e.g. `/contacts`.
    pub endpoint: &'static str,
    /// Query parameters always sent for this resource, e.g. `contact_type_id=CUSTOMER`.
    pub fixed_params: &'static [(&'static str, &'static str)],
    /// Sage query parameters a where clause may set with `=` on this endpoint.
    pub filters: &'static [&'static str],
    /// Whether `name` is a finance-hub name or one of Sage's own endpoint names.
    pub naming: ResourceNaming,
}

/// Where a resource name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceNaming {
    /// A Cloud Elements finance-hub name (`customers`, `credit-memos`, …).
    Hub,
    /// A Sage endpoint name used as-is (`sales_invoices`, `stock_items`, …).
    SageEndpoint,
}

/// Filters on `/contacts`.
const CONTACT_FILTERS: &[&str] = &["contact_type_id", "search", "email"];
/// Filters on sales and purchase artefacts (invoices, credit notes, quotes).
const ARTEFACT_FILTERS: &[&str] = &["contact_id", "status_id", "from_date", "to_date", "search"];
/// Filters on `/contact_payments` and `/contact_allocations`.
const PAYMENT_FILTERS: &[&str] = &["contact_id", "from_date", "to_date"];
/// Filters on products, services and stock items.
const ITEM_FILTERS: &[&str] = &["search"];
/// Filters on `/ledger_accounts`.
const LEDGER_ACCOUNT_FILTERS: &[&str] = &["ledger_account_type_id", "search"];
/// Filters on date-ranged ledger lists (`/journals`, `/transactions`, `/ledger_entries`).
const DATE_RANGE_FILTERS: &[&str] = &["from_date", "to_date"];
/// No filters beyond the incremental ones.
const NO_FILTERS: &[&str] = &[];

const fn hub(
    name: &'static str,
    endpoint: &'static str,
    fixed_params: &'static [(&'static str, &'static str)],
    filters: &'static [&'static str],
) -> HubResource {
    HubResource {
        name,
        endpoint,
        fixed_params,
        filters,
        naming: ResourceNaming::Hub,
    }
}

const fn sage(endpoint: &'static str, filters: &'static [&'static str]) -> HubResource {
    // `endpoint` always starts with '/'; the name is the rest of it.
    let (_, name) = endpoint.split_at(1);
    HubResource {
        name,
        endpoint,
        fixed_params: &[],
        filters,
        naming: ResourceNaming::SageEndpoint,
    }
}

/// Every accepted resource name: hub names first, then Sage endpoint names.
static RESOURCES: &[HubResource] = &[
    hub(
        "customers",
        "/contacts",
        &[("contact_type_id", "CUSTOMER")],
        CONTACT_FILTERS,
    ),
    hub(
        "vendors",
        "/contacts",
        &[("contact_type_id", "VENDOR")],
        CONTACT_FILTERS,
    ),
    hub("contacts", "/contacts", &[], CONTACT_FILTERS),
    hub("invoices", "/sales_invoices", &[], ARTEFACT_FILTERS),
    hub("credit-memos", "/sales_credit_notes", &[], ARTEFACT_FILTERS),
    hub("quotes", "/sales_quotes", &[], ARTEFACT_FILTERS),
    hub("bills", "/purchase_invoices", &[], ARTEFACT_FILTERS),
    hub(
        "vendor-credits",
        "/purchase_credit_notes",
        &[],
        ARTEFACT_FILTERS,
    ),
    hub("products", "/products", &[], ITEM_FILTERS),
    hub("services", "/services", &[], ITEM_FILTERS),
    hub("payments", "/contact_payments", &[], PAYMENT_FILTERS),
    hub(
        "ledger-accounts",
        "/ledger_accounts",
        &[],
        LEDGER_ACCOUNT_FILTERS,
    ),
    hub("journal-entries", "/journals", &[], DATE_RANGE_FILTERS),
    hub("bank-accounts", "/bank_accounts", &[], NO_FILTERS),
    hub("tax-rates", "/tax_rates", &[], NO_FILTERS),
    sage("/sales_invoices", ARTEFACT_FILTERS),
    sage("/sales_credit_notes", ARTEFACT_FILTERS),
    sage("/sales_quotes", ARTEFACT_FILTERS),
    sage("/purchase_invoices", ARTEFACT_FILTERS),
    sage("/purchase_credit_notes", ARTEFACT_FILTERS),
    sage("/stock_items", ITEM_FILTERS),
    sage("/contact_payments", PAYMENT_FILTERS),
    sage("/contact_allocations", PAYMENT_FILTERS),
    sage("/ledger_accounts", LEDGER_ACCOUNT_FILTERS),
    sage("/journals", DATE_RANGE_FILTERS),
    sage("/bank_accounts", NO_FILTERS),
    sage("/transactions", DATE_RANGE_FILTERS),
    sage("/ledger_entries", DATE_RANGE_FILTERS),
    sage("/tax_rates", NO_FILTERS),
];

/// The resource called `name`, compared ASCII-case-insensitively (`Customers` is
/// `customers`), or `None` when no hub or Sage name matches.
pub fn lookup(name: &str) -> Option<&'static HubResource> {
    RESOURCES.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

/// Every accepted resource name, hub names first, in table order.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    RESOURCES.iter().map(|r| r.name)
}

impl HubResource {
    /// The fixed value of `param` for this resource, if the table sets one.
    pub fn fixed_param(&self, param: &str) -> Option<&'static str> {
        self.fixed_params
            .iter()
            .find(|(name, _)| *name == param)
            .map(|(_, value)| *value)
    }

    /// Whether a where clause may set the Sage query parameter `param` here.
    pub fn allows_filter(&self, param: &str) -> bool {
        self.filters.contains(&param)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn customers_and_vendors_share_contacts_with_a_fixed_type() {
        let customers = lookup("customers").expect("customers");
        assert_eq!(customers.endpoint, "/contacts");
        assert_eq!(customers.fixed_param("contact_type_id"), Some("CUSTOMER"));
        assert_eq!(customers.naming, ResourceNaming::Hub);
        let vendors = lookup("vendors").expect("vendors");
        assert_eq!(vendors.endpoint, "/contacts");
        assert_eq!(vendors.fixed_param("contact_type_id"), Some("VENDOR"));
        assert_eq!(lookup("contacts").expect("contacts").fixed_params, &[]);
    }

    #[test]
    fn hub_table_matches_reference_mapping() {
        let expected = [
            ("invoices", "/sales_invoices"),
            ("credit-memos", "/sales_credit_notes"),
            ("quotes", "/sales_quotes"),
            ("bills", "/purchase_invoices"),
            ("vendor-credits", "/purchase_credit_notes"),
            ("products", "/products"),
            ("services", "/services"),
            ("payments", "/contact_payments"),
            ("ledger-accounts", "/ledger_accounts"),
            ("journal-entries", "/journals"),
            ("bank-accounts", "/bank_accounts"),
            ("tax-rates", "/tax_rates"),
        ];
        for (name, endpoint) in expected {
            let r = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(r.endpoint, endpoint, "{name}");
            assert_eq!(r.naming, ResourceNaming::Hub, "{name}");
        }
    }

    #[test]
    fn sage_endpoint_names_map_to_themselves() {
        for name in [
            "sales_invoices",
            "contact_payments",
            "stock_items",
            "ledger_entries",
        ] {
            let r = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(r.endpoint, format!("/{name}"));
            assert_eq!(r.naming, ResourceNaming::SageEndpoint);
            assert!(r.fixed_params.is_empty());
        }
    }

    #[test]
    fn lookup_ignores_case_and_rejects_unknown_names() {
        assert_eq!(lookup("Customers").map(|r| r.name), Some("customers"));
        assert_eq!(
            lookup("SALES_INVOICES").map(|r| r.name),
            Some("sales_invoices")
        );
        assert!(lookup("widgets").is_none());
        assert!(lookup("").is_none());
        assert!(lookup("/contacts").is_none());
    }

    #[test]
    fn names_are_unique_and_all_listed() {
        let names: Vec<_> = known_names().collect();
        let unique: HashSet<_> = names.iter().collect();
        assert_eq!(names.len(), unique.len(), "duplicate names in {names:?}");
        assert_eq!(names[0], "customers");
        assert!(names.contains(&"tax-rates"));
        assert!(names.contains(&"contact_allocations"));
        for name in names {
            assert!(lookup(name).is_some(), "{name}");
        }
    }

    #[test]
    fn filter_allow_lists() {
        let customers = lookup("customers").expect("customers");
        assert!(customers.allows_filter("contact_type_id"));
        assert!(customers.allows_filter("search"));
        assert!(!customers.allows_filter("name"));
        let invoices = lookup("invoices").expect("invoices");
        assert!(invoices.allows_filter("status_id"));
        assert!(!invoices.allows_filter("contact_type_id"));
        assert!(
            !lookup("tax-rates")
                .expect("tax-rates")
                .allows_filter("search")
        );
    }
}
