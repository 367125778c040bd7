//! `event.poller.configuration`: per-resource settings, defaults and the stored form.

use sage_events_core::datefmt::{DatePattern, Zone};
use sage_events_core::poller_config::{
    MAX_RESOURCES, parse_poller_configuration, resources_from_stored_configuration,
};
use serde_json::{Value, json};

const PREFIX: &str = "configuration.\"event.poller.configuration\"";
const CUSTOMERS_URL: &str =
    "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'";

fn fields(value: &Value) -> Vec<String> {
    parse_poller_configuration(value, PREFIX)
        .expect_err("expected errors")
        .iter()
        .map(|e| e.field.clone())
        .collect()
}

#[test]
fn defaults_match_sage() {
    let resources = parse_poller_configuration(
        &json!({"customers": {"url": CUSTOMERS_URL, "idField": "id"}}),
        PREFIX,
    )
    .expect("valid");
    let [customers] = resources.as_slice() else {
        panic!("one resource");
    };
    let pattern = DatePattern::parse("yyyy-MM-dd'T'HH:mm:ss'Z'").expect("pattern");
    assert_eq!(customers.updated.field, "updated_at");
    assert_eq!(customers.created.field, "created_at");
    assert_eq!(customers.updated.pattern, pattern);
    assert_eq!(customers.created.pattern, pattern);
    assert_eq!(customers.updated.zone, Zone::Utc);
    assert_eq!(customers.created.zone, Zone::Utc);
    assert!(customers.filter_by_updated_date);
    assert_eq!(
        customers.created_check_tolerance,
        chrono::Duration::seconds(1)
    );
    assert_eq!(customers.poll_delay, chrono::Duration::zero());
    assert_eq!(customers.page_size, 200);
}

#[test]
fn every_setting_is_read_loosely() {
    let config = json!({"invoices": {
        "url": "/hubs/finance/invoices?where=updatedDate>'${dateTimeZone:PST:yyyy-MM-dd HH:mm:ss}'",
        "idField": "displayed_as",
        "datesConfiguration": {
            "updatedDateField": "modified",
            "updatedDateFormat": "yyyy-MM-dd HH:mm:ss",
            "updatedDateTimezone": "America/Los_Angeles",
            "createdDateField": "made",
            "createdDateFormat": "yyyy-MM-dd",
            "createdDateTimezone": "-08:00"
        },
        "filterByUpdatedDate": "false",
        "createdCheckTolerance": "5",
        "pageSize": 25,
        "pollDelay": "60"
    }});
    let resources = parse_poller_configuration(&config, PREFIX).expect("valid");
    let invoices = &resources[0];
    assert_eq!(invoices.name, "invoices");
    assert_eq!(invoices.id_field, "displayed_as");
    assert_eq!(invoices.updated.field, "modified");
    assert_eq!(invoices.updated.pattern.as_str(), "yyyy-MM-dd HH:mm:ss");
    assert_eq!(
        invoices.updated.zone,
        Zone::parse("America/Los_Angeles").expect("zone")
    );
    assert_eq!(invoices.created.field, "made");
    assert_eq!(invoices.created.zone, Zone::parse("GMT-8").expect("zone"));
    assert!(!invoices.filter_by_updated_date);
    assert_eq!(
        invoices.created_check_tolerance,
        chrono::Duration::seconds(5)
    );
    assert_eq!(invoices.page_size, 25);
    assert_eq!(invoices.request.items_per_page, 25);
    assert_eq!(invoices.poll_delay, chrono::Duration::seconds(60));
    for attribute in ["displayed_as", "modified", "made"] {
        assert!(invoices.request.attributes.iter().any(|a| a == attribute));
    }
}

#[test]
fn the_url_page_size_applies_when_the_configuration_has_none() {
    let url = format!("{CUSTOMERS_URL}&pageSize=10");
    let resources =
        parse_poller_configuration(&json!({"customers": {"url": url, "idField": "id"}}), PREFIX)
            .expect("valid");
    assert_eq!(resources[0].page_size, 10);
    let resources = parse_poller_configuration(
        &json!({"customers": {"url": url, "idField": "id", "pageSize": 30}}),
        PREFIX,
    )
    .expect("valid");
    assert_eq!(resources[0].page_size, 30, "configuration wins");
}

#[test]
fn object_and_string_forms_agree() {
    let object = json!({"customers": {"url": CUSTOMERS_URL, "idField": "id"}});
    let string = Value::String(object.to_string());
    assert_eq!(
        parse_poller_configuration(&object, PREFIX).expect("object"),
        parse_poller_configuration(&string, PREFIX).expect("string")
    );
}

#[test]
fn the_prefix_names_the_fields() {
    let errors = parse_poller_configuration(&json!({"customers": {"url": CUSTOMERS_URL}}), "p")
        .expect_err("no idField");
    assert_eq!(errors.fields(), vec!["p.customers.idField"]);
}

#[test]
fn resource_names_that_are_not_identifiers_are_quoted() {
    let errors = parse_poller_configuration(
        &json!({"a.b": {"url": CUSTOMERS_URL, "idField": "id"}}),
        PREFIX,
    )
    .expect_err("unknown resource");
    assert_eq!(errors.fields(), vec![format!("{PREFIX}.\"a.b\"")]);
    assert_eq!(fields(&json!({"": {}})), vec![format!("{PREFIX}.\"\"")]);
}

#[test]
fn a_url_for_another_resource_is_refused() {
    let url = "/hubs/finance/invoices?where=lastModifiedDate>='${date:yyyy-MM-dd}'";
    assert_eq!(
        fields(&json!({"customers": {"url": url, "idField": "id"}})),
        vec![format!("{PREFIX}.customers.url")]
    );
}

#[test]
fn a_bad_date_format_does_not_hide_a_bad_url() {
    let url = "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy}' or search='x'";
    let mut got = fields(&json!({"customers": {
        "url": url,
        "idField": "id",
        "datesConfiguration": {"updatedDateFormat": "qqq"}
    }}));
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            format!("{PREFIX}.customers.datesConfiguration.updatedDateFormat"),
            format!("{PREFIX}.customers.url"),
        ]
    );
}

#[test]
fn an_unterminated_placeholder_is_a_url_error() {
    let url = "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd'";
    assert_eq!(
        fields(&json!({"customers": {"url": url, "idField": "id"}})),
        vec![format!("{PREFIX}.customers.url")]
    );
}

#[test]
fn entries_and_dates_must_be_objects() {
    assert_eq!(
        fields(&json!({"customers": "x"})),
        vec![format!("{PREFIX}.customers")]
    );
    assert_eq!(
        fields(
            &json!({"customers": {"url": CUSTOMERS_URL, "idField": "id", "datesConfiguration": []}})
        ),
        vec![format!("{PREFIX}.customers.datesConfiguration")]
    );
    assert_eq!(
        fields(
            &json!({"customers": {"url": CUSTOMERS_URL, "idField": "id", "datesConfiguration": {"updatedField": "x"}}})
        ),
        vec![format!(
            "{PREFIX}.customers.datesConfiguration.updatedField"
        )]
    );
}

#[test]
fn a_pattern_without_date_fields_is_refused() {
    assert_eq!(
        fields(&json!({"customers": {"url": CUSTOMERS_URL, "idField": "id",
            "datesConfiguration": {"createdDateFormat": "'literal'"}}})),
        vec![format!(
            "{PREFIX}.customers.datesConfiguration.createdDateFormat"
        )]
    );
}

#[test]
fn at_most_twenty_resources() {
    let names: Vec<&str> = sage_events_core::resources::known_names().collect();
    assert!(names.len() > MAX_RESOURCES);
    let mut config = serde_json::Map::new();
    for name in names.iter().take(MAX_RESOURCES + 1) {
        config.insert(
            (*name).to_owned(),
            json!({"url": format!("/{name}"), "idField": "id"}),
        );
    }
    let errors = parse_poller_configuration(&Value::Object(config), PREFIX).expect_err("too many");
    assert!(errors.fields().contains(&PREFIX), "{errors}");
}

#[test]
fn not_an_object() {
    for bad in [
        json!([]),
        json!(3),
        json!("not json"),
        json!("[]"),
        json!("<CONFIG>"),
    ] {
        assert_eq!(fields(&bad), vec![PREFIX.to_owned()], "{bad}");
    }
}

#[test]
fn stored_configuration_reads_string_and_object_forms() {
    let object = json!({"customers": {"url": CUSTOMERS_URL, "idField": "id"}});
    let from_object =
        resources_from_stored_configuration(&json!({"event.poller.configuration": object}))
            .expect("object form");
    let from_string = resources_from_stored_configuration(
        &json!({"event.poller.configuration": object.to_string()}),
    )
    .expect("string form");
    assert_eq!(from_object, from_string);
    assert_eq!(from_object.len(), 1);
}

#[test]
fn stored_configuration_without_poller_or_not_an_object() {
    let missing =
        resources_from_stored_configuration(&json!({"country": "GB"})).expect_err("missing");
    assert_eq!(missing.fields(), vec![PREFIX]);
    let not_object = resources_from_stored_configuration(&json!([1])).expect_err("array");
    assert_eq!(not_object.fields(), vec!["configuration"]);
    let invalid = resources_from_stored_configuration(
        &json!({"event.poller.configuration": {"customers": {"url": CUSTOMERS_URL}}}),
    )
    .expect_err("no idField");
    assert_eq!(
        invalid.fields(),
        vec![format!("{PREFIX}.customers.idField")]
    );
}
