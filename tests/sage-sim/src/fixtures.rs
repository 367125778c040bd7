//! Plausible per-endpoint record fields, so seeded data looks like Sage's.

use serde_json::{Map, Value, json};

use crate::spec::spec;

/// The list endpoints the simulator serves from the start: every endpoint Sage's Swagger
/// file lists with `updated_or_created_since` (the pollable ones), plus `contact_types`,
/// reference data every business has. Derived from the file, so a newer file brings its
/// new endpoints along.
pub fn served_endpoints() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = spec().pollable().map(|e| e.name()).collect();
    names.push("contact_types");
    names
}

const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Northwind",
    "Bluebell",
    "Harbour",
    "Kestrel",
    "Meadow",
    "Oakridge",
    "Pennine",
    "Riverside",
    "Summit",
    "Thistle",
    "Willow",
];
const COMPANY_KINDS: &[&str] = &["Ltd", "Trading", "Supplies", "& Sons", "Consulting", "plc"];

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn link(kind: &str, id: &str, displayed_as: &str) -> Value {
    json!({"id": id, "displayed_as": displayed_as, "$path": format!("/{kind}/{id}")})
}

fn date(seq: u64) -> String {
    let day = seq % 28 + 1;
    let month = seq / 28 % 12 + 1;
    format!("2023-{month:02}-{day:02}")
}

/// The contact type a generated contact gets: the k-th generated contact (k from 1)
/// is a CUSTOMER when k is odd, a VENDOR when k is even.
pub(crate) fn alternating_contact_type(seq: u64) -> &'static str {
    if seq % 2 == 1 { "CUSTOMER" } else { "VENDOR" }
}

pub(crate) fn contact_type_link(type_id: &str) -> Value {
    let name = match type_id {
        "CUSTOMER" => "Customer",
        "VENDOR" => "Supplier",
        other => other,
    };
    link("contact_types", type_id, name)
}

/// Fields for the `seq`-th generated record of `endpoint` (`seq` from 1).
pub(crate) fn generated_fields(endpoint: &str, seq: u64, contact_type: &str) -> Map<String, Value> {
    let word = COMPANY_WORDS[(seq as usize) % COMPANY_WORDS.len()];
    let kind = COMPANY_KINDS[(seq as usize / COMPANY_WORDS.len()) % COMPANY_KINDS.len()];
    let net = 1_000 + (seq * 7_919) % 500_000;
    let tax = net / 5;
    let gbp =
        json!({"id": "GBP", "displayed_as": "Pound Sterling (GBP)", "$path": "/currencies/GBP"});
    let value = match endpoint {
        "contacts" => {
            let prefix = if contact_type == "VENDOR" {
                "SUPP"
            } else {
                "CUST"
            };
            json!({
                "name": format!("{word} {kind} {seq}"),
                "reference": format!("{prefix}{seq:05}"),
                "contact_types": [contact_type_link(contact_type)],
                "email": format!("accounts{seq}@{}.example", word.to_lowercase()),
                "currency": gbp,
                "balance": money(net),
                "credit_limit": "0.00",
            })
        }
        "sales_invoices"
        | "sales_credit_notes"
        | "sales_quotes"
        | "purchase_invoices"
        | "purchase_credit_notes" => {
            let (number_key, prefix) = match endpoint {
                "sales_invoices" => ("invoice_number", "SI"),
                "sales_credit_notes" => ("credit_note_number", "SCN"),
                "sales_quotes" => ("quote_number", "SQ"),
                "purchase_invoices" => ("vendor_reference", "PI"),
                _ => ("vendor_reference", "PCN"),
            };
            let mut v = json!({
                "reference": format!("{prefix}-{seq}"),
                "contact_name": format!("{word} {kind}"),
                "date": date(seq),
                "due_date": date(seq + 30),
                "net_amount": money(net),
                "tax_amount": money(tax),
                "total_amount": money(net + tax),
                "outstanding_amount": money(net + tax),
                "currency": gbp,
                "status": {"id": "UNPAID", "displayed_as": "Unpaid", "$path": "/artefact_statuses/UNPAID"},
            });
            if let Some(obj) = v.as_object_mut() {
                obj.insert(number_key.to_owned(), json!(format!("{prefix}-{seq}")));
                // Credit notes have no due date in Sage's definitions; quotes expire and
                // are never outstanding.
                match endpoint {
                    "sales_credit_notes" | "purchase_credit_notes" => {
                        obj.remove("due_date");
                    }
                    "sales_quotes" => {
                        obj.remove("outstanding_amount");
                        if let Some(due) = obj.remove("due_date") {
                            obj.insert("expiry_date".to_owned(), due);
                        }
                    }
                    _ => {}
                }
            }
            v
        }
        "products" | "stock_items" => json!({
            "item_code": format!("P{seq:05}"),
            "description": format!("{word} widget {seq}"),
            "sales_prices": [{"price_name": "Selling Price", "price": money(net)}],
            "cost_price": money(net / 2),
            "active": true,
        }),
        "services" => json!({
            "item_code": format!("S{seq:05}"),
            "description": format!("{word} consulting hour {seq}"),
            "sales_rates": [{"rate_name": "Rate", "rate": money(net)}],
            "active": true,
        }),
        "contact_payments" => json!({
            "reference": format!("PAY-{seq}"),
            "transaction_type": {"id": "CUSTOMER_RECEIPT", "displayed_as": "Customer Receipt", "$path": "/transaction_types/CUSTOMER_RECEIPT"},
            "date": date(seq),
            "total_amount": money(net),
            "currency": gbp,
        }),
        "contact_allocations" => json!({
            "transaction_type": {"id": "CUSTOMER_ALLOCATION", "displayed_as": "Customer Allocation", "$path": "/transaction_types/CUSTOMER_ALLOCATION"},
            "date": date(seq),
        }),
        "ledger_accounts" => json!({
            "name": format!("{word} Sales"),
            "nominal_code": 4000 + seq,
            "ledger_account_type": {"id": "SALES", "displayed_as": "Sales", "$path": "/ledger_account_types/SALES"},
            "visible_in_sales": true,
        }),
        "tax_rates" => {
            let percentage = [20, 5, 0][(seq as usize) % 3];
            json!({
                "name": format!("Rate {seq} {percentage}.00%"),
                "percentage": format!("{percentage}.0"),
                "is_visible": true,
            })
        }
        "bank_accounts" => json!({
            "bank_account_details": {
                "account_name": format!("{word} Current"),
                "account_number": format!("{:08}", 10_000_000 + seq),
                "sort_code": "40-11-62",
            },
            "nominal_code": 1200 + seq,
            "balance": money(net),
            "currency": gbp,
        }),
        "journals" => json!({
            "reference": format!("JNL-{seq}"),
            "description": format!("Month-end accrual {seq}"),
            "date": date(seq),
            "total": money(net),
        }),
        "transactions" => json!({
            "reference": format!("TX-{seq}"),
            "date": date(seq),
            "total": money(net),
        }),
        "ledger_entries" => json!({
            "description": format!("Ledger entry {seq}"),
            "date": date(seq),
            "debit": money(net),
            "credit": "0.00",
        }),
        _ => return spec_shaped_fields(endpoint, seq),
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Fields for an endpoint without hand-written fixtures: the common descriptive
/// properties its record definition in Sage's file has (and only those), so generated
/// records never carry a field Sage does not define.
fn spec_shaped_fields(endpoint: &str, seq: u64) -> Map<String, Value> {
    let mut fields = Map::new();
    let Some(definition) = spec()
        .list_endpoint(endpoint)
        .and_then(|e| e.record.as_ref())
    else {
        // Not an endpoint of Sage's: a test made it up; a name is enough.
        fields.insert("name".to_owned(), json!(format!("{endpoint} {seq}")));
        return fields;
    };
    let word = COMPANY_WORDS[(seq as usize) % COMPANY_WORDS.len()];
    let candidates = [
        ("name", json!(format!("{word} {seq}"))),
        ("reference", json!(format!("REF-{seq}"))),
        ("description", json!(format!("{word} {endpoint} {seq}"))),
        ("details", json!(format!("{word} {endpoint} {seq}"))),
        ("date", json!(date(seq))),
        ("tax_number", json!(format!("GB{:09}", 100_000_000 + seq))),
    ];
    for (key, value) in candidates {
        if definition.has(key) {
            fields.insert(key.to_owned(), value);
        }
    }
    fields
}

fn text<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn number(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Fields a record's `displayed_as` falls back to, first present wins.
const DISPLAY_FALLBACK_KEYS: &[&str] = &[
    "name",
    "reference",
    "description",
    "details",
    "tax_number",
    "date",
];

/// What Sage shows as `displayed_as`, derived from the record's fields.
pub(crate) fn displayed_as(endpoint: &str, id: &str, fields: &Map<String, Value>) -> String {
    let named_with_code = |name: Option<&str>, code: Option<String>| match (name, code) {
        (Some(n), Some(c)) => Some(format!("{n} ({c})")),
        (Some(n), None) => Some(n.to_owned()),
        (None, Some(c)) => Some(c),
        (None, None) => None,
    };
    let derived = match endpoint {
        "contacts" => named_with_code(
            text(fields, "name"),
            text(fields, "reference").map(str::to_owned),
        ),
        "sales_invoices" => text(fields, "invoice_number").map(str::to_owned),
        "sales_credit_notes" => text(fields, "credit_note_number").map(str::to_owned),
        "sales_quotes" => text(fields, "quote_number").map(str::to_owned),
        "purchase_invoices" | "purchase_credit_notes" => text(fields, "vendor_reference")
            .or_else(|| text(fields, "reference"))
            .map(str::to_owned),
        "products" | "services" | "stock_items" | "ledger_entries" => {
            text(fields, "description").map(str::to_owned)
        }
        "ledger_accounts" => named_with_code(text(fields, "name"), number(fields, "nominal_code")),
        "bank_accounts" => named_with_code(
            fields
                .get("bank_account_details")
                .and_then(|d| d.get("account_name"))
                .and_then(Value::as_str),
            number(fields, "nominal_code"),
        ),
        _ => None,
    };
    derived
        .or_else(|| {
            DISPLAY_FALLBACK_KEYS
                .iter()
                .find_map(|k| text(fields, k).map(str::to_owned))
        })
        .unwrap_or_else(|| id.to_owned())
}

/// Makes `contact_types` Sage-shaped: plain strings (`["VENDOR"]`) become links.
pub(crate) fn normalise_contact_types(fields: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = fields.get_mut("contact_types") {
        for t in types.iter_mut() {
            if let Value::String(id) = t {
                *t = contact_type_link(id);
            }
        }
    }
}

/// The contact type ids of a contact record.
pub(crate) fn contact_type_ids(fields: &Map<String, Value>) -> impl Iterator<Item = &str> {
    fields
        .get("contact_types")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("id").and_then(Value::as_str))
}
