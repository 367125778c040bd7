//! Hub resources (`/hubs/finance/<name>`) and the Sage v3.1 endpoints behind them.
//!
//! Cloud Elements never published how its `sageone` element mapped finance-hub resources to
//! Sage endpoints, so the hub names below follow our own table (see the Sage reference
//! notes). Two hub resources share `/contacts` and are told apart by a fixed
//! `contact_type_id` filter.
//!
//! Every pollable Sage endpoint ([`crate::sage::endpoints::POLLABLE`], the list endpoints
//! Sage's v3.1 Swagger file gives `updated_or_created_since`) is accepted by its own name
//! too (`sales_invoices`, `contact_payments`, `bank_deposits`, …), each mapping to itself.
//! Users who know Sage's API (or who want an endpoint the hub never named) can then write
//! `/hubs/finance/sales_invoices` and get exactly that endpoint, and the resource name
//! becomes the events' `objectType` unchanged. Where a hub name and a Sage name coincide
//! (`contacts`, `products`, `services`) there is a single entry.
//!
//! Each entry's filters — the Sage query parameters a where clause may set with `=` — are
//! its endpoint's, taken from the endpoint table at compile time, so a hub name can
//! neither allow what Sage does not take nor point at an endpoint that cannot be polled
//! (the build fails).

use crate::sage::endpoints::{self, ListEndpoint, POLLABLE};

/// One resource name a poller configuration may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubResource {
    /// The name as it appears in `/hubs/finance/<name>` and as the configuration key.
    pub name: &'static str,
    /// The Sage v3.1 list endpoint path, e.g. `/contacts`.
    pub endpoint: &'static str,
    /// Query parameters always sent for this resource, e.g. `contact_type_id=CUSTOMER`.
    pub fixed_params: &'static [(&'static str, &'static str)],
    /// Sage query parameters a where clause may set with `=` on this endpoint, spelled
    /// as Sage spells them.
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

const fn hub(
    name: &'static str,
    endpoint: &'static str,
    fixed_params: &'static [(&'static str, &'static str)],
) -> HubResource {
    let endpoint = endpoints::pollable_const(endpoint);
    HubResource {
        name,
        endpoint: endpoint.path,
        fixed_params,
        filters: endpoint.filters,
        naming: ResourceNaming::Hub,
    }
}

const fn sage(endpoint: &'static ListEndpoint) -> HubResource {
    // `path` always starts with '/'; the name is the rest of it.
    let (_, name) = endpoint.path.split_at(1);
    HubResource {
        name,
        endpoint: endpoint.path,
        fixed_params: &[],
        filters: endpoint.filters,
        naming: ResourceNaming::SageEndpoint,
    }
}

/// The hub names. `contacts`, `products` and `services` are hub and Sage names at once.
static HUB_RESOURCES: &[HubResource] = &[
    hub("customers", "/contacts", &[("contact_type_id", "CUSTOMER")]),
    hub("vendors", "/contacts", &[("contact_type_id", "VENDOR")]),
    hub("contacts", "/contacts", &[]),
    hub("invoices", "/sales_invoices", &[]),
    hub("credit-memos", "/sales_credit_notes", &[]),
    hub("quotes", "/sales_quotes", &[]),
    hub("bills", "/purchase_invoices", &[]),
    hub("vendor-credits", "/purchase_credit_notes", &[]),
    hub("products", "/products", &[]),
    hub("services", "/services", &[]),
    hub("payments", "/contact_payments", &[]),
    hub("ledger-accounts", "/ledger_accounts", &[]),
    hub("journal-entries", "/journals", &[]),
    hub("bank-accounts", "/bank_accounts", &[]),
    hub("tax-rates", "/tax_rates", &[]),
];

/// Every pollable endpoint under its Sage name, in the endpoint table's order.
static SAGE_RESOURCES: [HubResource; POLLABLE.len()] = {
    let mut out = [sage(&POLLABLE[0]); POLLABLE.len()];
    let mut i = 0;
    while i < POLLABLE.len() {
        out[i] = sage(&POLLABLE[i]);
        i += 1;
    }
    out
};

/// Every accepted resource: hub names first, then the Sage names no hub entry already
/// spells (`contacts`, `products` and `services` are listed once, as hub names).
fn resources() -> impl Iterator<Item = &'static HubResource> {
    HUB_RESOURCES.iter().chain(
        SAGE_RESOURCES
            .iter()
            .filter(|s| !HUB_RESOURCES.iter().any(|h| h.name == s.name)),
    )
}

/// The resource called `name`, compared ASCII-case-insensitively (`Customers` is
/// `customers`), or `None` when no hub or Sage name matches.
pub fn lookup(name: &str) -> Option<&'static HubResource> {
    resources().find(|r| r.name.eq_ignore_ascii_case(name))
}

/// Every accepted resource name, hub names first, then Sage's endpoint names.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    resources().map(|r| r.name)
}

/// Every accepted resource, hub names first, then Sage's endpoint names.
pub fn all() -> impl Iterator<Item = &'static HubResource> {
    resources()
}

impl HubResource {
    /// The fixed value of `param` for this resource, if the table sets one.
    pub fn fixed_param(&self, param: &str) -> Option<&'static str> {
        self.fixed_params
            .iter()
            .find(|(name, _)| *name == param)
            .map(|(_, value)| *value)
    }

    /// Whether a where clause may set the Sage query parameter `param` here (compared
    /// ASCII-case-insensitively, as where-clause field names are).
    pub fn allows_filter(&self, param: &str) -> bool {
        self.filter_named(param).is_some()
    }

    /// The filter `param` as Sage spells it (`appname` → `appName`), if a where clause may
    /// set it here.
    pub fn filter_named(&self, param: &str) -> Option<&'static str> {
        self.filters
            .iter()
            .copied()
            .find(|f| f.eq_ignore_ascii_case(param))
    }

    /// Whether Sage's endpoint takes `deleted_since`, i.e. DELETED events are available.
    pub fn has_deleted_events(&self) -> bool {
        endpoints::supports_deleted_since(self.endpoint)
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
    fn every_pollable_endpoint_is_a_resource_by_its_sage_name() {
        for endpoint in POLLABLE {
            let name = &endpoint.path[1..];
            let r = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(r.endpoint, endpoint.path);
            assert_eq!(r.filters, endpoint.filters, "{name}");
        }
        for name in [
            "addresses",
            "bank_deposits",
            "contact_persons",
            "other_payments",
            "purchase_quick_entries",
            "sales_corrective_invoices",
        ] {
            assert_eq!(
                lookup(name).map(|r| r.naming),
                Some(ResourceNaming::SageEndpoint),
                "{name}"
            );
        }
        assert!(lookup("contact_types").is_none(), "not pollable");
        // 15 hub names + 38 Sage names − 3 spelled the same.
        assert_eq!(known_names().count(), 50);
    }

    #[test]
    fn deleted_events_exactly_where_sage_has_deleted_since() {
        assert!(lookup("customers").expect("customers").has_deleted_events());
        assert!(lookup("invoices").expect("invoices").has_deleted_events());
        for name in ["quotes", "sales_quotes", "sales_estimates", "tax-rates"] {
            assert!(!lookup(name).expect(name).has_deleted_events(), "{name}");
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
        for name in ["journal-entries", "journals", "contact_allocations"] {
            let r = lookup(name).expect(name);
            assert!(!r.allows_filter("from_date"), "{name}");
            assert!(!r.allows_filter("to_date"), "{name}");
        }
        assert!(
            lookup("payments")
                .expect("payments")
                .allows_filter("to_date")
        );
        let banks = lookup("bank_accounts").expect("bank_accounts");
        assert_eq!(banks.filter_named("APPNAME"), Some("appName"));
        assert_eq!(banks.filter_named("search"), None);
    }
}
