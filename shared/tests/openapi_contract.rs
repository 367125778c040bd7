//! `openapi.yaml` and the code agree on requests.
//!
//! - Every body the code accepts validates against the schema (the seed bodies and a
//!   corpus of accepted variants), and every body the schema rejects is rejected by the
//!   code, naming the same field (a table of single-field mutations of the seed body, and
//!   generated values for the loosely typed keys).
//! - Every 405 carries `Allow` with exactly the methods the document has for the path.
//!
//! JSON Schema cannot say everything the validator checks (that a poller URL's CEQL
//! translates, that a resource name is one the service knows); those gaps are listed in [`GAPS`] with the
//! verdicts they produce, so a change on either side shows up here.

#[path = "registration/openapi.rs"]
mod openapi;

use proptest::prelude::*;
use sage_events_core::config::{
    ValidationOptions, child_field, configuration_field, item_field, parse_instance_patch,
    parse_instance_request,
};
use sage_events_core::registration::routes::route;
use serde_json::{Value, json};

const REQUEST: &str = "/components/schemas/InstanceRequest";
const PATCH: &str = "/components/schemas/InstancePatch";
const SEED: &[u8] = include_bytes!("../../tests/fixtures/seed-example-instance.json");
const TEMPLATE: &[u8] = include_bytes!("../../tests/fixtures/seed-template-instance.json");

fn seed() -> Value {
    serde_json::from_slice(SEED).expect("seed JSON")
}

/// The code's verdict on a POST body: the fields it names, empty when accepted.
fn code_fields(body: &Value) -> Vec<String> {
    let bytes = serde_json::to_vec(body).expect("json");
    match parse_instance_request(&bytes, &ValidationOptions::default()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.fields().into_iter().map(str::to_owned).collect(),
    }
}

fn patch_fields(body: &Value) -> Vec<String> {
    let bytes = serde_json::to_vec(body).expect("json");
    match parse_instance_patch(&bytes, None, &ValidationOptions::default()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.fields().into_iter().map(str::to_owned).collect(),
    }
}

/// A schema violation's location in the code's field notation.
fn schema_field(violation: &openapi::Violation) -> String {
    let mut segments: Vec<&str> = violation.at.iter().map(String::as_str).collect();
    if let Some(member) = &violation.member {
        segments.push(member);
    }
    let mut field = String::new();
    for (i, segment) in segments.iter().enumerate() {
        field = match (i, segments.first()) {
            (0, _) => child_field("", segment),
            (1, Some(&"configuration")) => configuration_field(segment),
            (1, Some(&"tags")) if segment.parse::<usize>().is_ok() => {
                item_field(&field, segment.parse().unwrap_or_default())
            }
            _ => child_field(&field, segment),
        };
    }
    if field.is_empty() {
        "body".to_owned()
    } else {
        field
    }
}

fn schema_fields(pointer: &str, body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = openapi::violations(pointer, body)
        .iter()
        .map(schema_field)
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

/// Whether the code names `schema_field` or a field inside it.
fn named(code: &[String], schema_field: &str) -> bool {
    code.iter().any(|c| {
        c == schema_field
            || c.starts_with(&format!("{schema_field}."))
            || c.starts_with(&format!("{schema_field}["))
    })
}

/// Assert both sides give the same verdict on `body`, and that every field the schema
/// names is named by the code.
fn assert_agree(pointer: &str, body: &Value, code: &[String], what: &str) {
    let schema = schema_fields(pointer, body);
    assert_eq!(
        schema.is_empty(),
        code.is_empty(),
        "{what}: schema says {schema:?}, code says {code:?}\nbody: {body}"
    );
    for field in &schema {
        assert!(
            named(code, field),
            "{what}: the schema names {field}, the code {code:?}\nbody: {body}"
        );
    }
}

/// `body` with the member at `path` (segments, `configuration` keys whole) set, or
/// removed when `value` is `None`.
fn with(body: &Value, path: &[&str], value: Option<Value>) -> Value {
    let mut body = body.clone();
    let (last, parents) = path.split_last().expect("a path");
    let mut target = &mut body;
    for segment in parents {
        target = target
            .get_mut(*segment)
            .unwrap_or_else(|| panic!("no {segment} in {path:?}"));
    }
    let object = target.as_object_mut().expect("an object");
    match value {
        Some(value) => {
            object.insert((*last).to_owned(), value);
        }
        None => {
            object.remove(*last);
        }
    }
    body
}

const CONFIG: &str = "configuration";
const POLLER: &str = "event.poller.configuration";

fn resource() -> Value {
    seed()["configuration"][POLLER]["customers"].clone()
}

/// Single-field mutations of the seed body, valid and invalid; both sides must agree.
fn mutations() -> Vec<(Vec<&'static str>, Option<Value>)> {
    let c = |key: &'static str| vec![CONFIG, key];
    let r = |key: &'static str| vec![CONFIG, POLLER, "customers", key];
    let d = |key: &'static str| vec![CONFIG, POLLER, "customers", "datesConfiguration", key];
    let mut cases: Vec<(Vec<&'static str>, Option<Value>)> = Vec::new();
    let text_values = || {
        vec![
            json!("x"),
            json!(" x "),
            json!("<x"),
            json!("x>"),
            json!("<>"),
            json!("<SECRET>"),
            json!("<a>\n"),
            json!(""),
            json!("   "),
            json!("\u{3000}\u{85}"),
            json!("\u{feff}"),
            json!("\u{1c}"),
            json!(7),
            json!(true),
            json!([]),
            json!({}),
        ]
    };
    for key in ["oauth.api.key", "oauth.api.secret"] {
        for value in text_values() {
            cases.push((c(key), Some(value)));
        }
        cases.push((c(key), Some(Value::Null)));
        cases.push((c(key), None));
    }
    for key in [
        "signature.secret",
        "apim.subscription.key",
        "event.notification.signature.key",
    ] {
        for value in text_values() {
            cases.push((c(key), Some(value)));
        }
        cases.push((c(key), Some(Value::Null)));
        cases.push((c(key), None));
    }
    let urls = [
        json!("https://example.com"),
        json!("HTTP://Example.COM:8080/path?q=1#frag"),
        json!("https://a.b-c.example./x"),
        json!("https://example.com:65535"),
        json!("https://example.com:65536"),
        json!("https://example.com:99999"),
        json!("ftp://example.com"),
        json!("https://"),
        json!("/relative"),
        json!("example.com"),
        json!("https://exa mple.com"),
        json!("https://xn--a.com"),
        json!("https://a.1"),
        json!("<CALLBACK_URL>"),
        json!(""),
        json!(42),
    ];
    for key in ["oauth.callback.url", "event.notification.callback.url"] {
        for value in &urls {
            cases.push((c(key), Some(value.clone())));
        }
        cases.push((c(key), Some(Value::Null)));
        cases.push((c(key), None));
    }
    for value in [
        json!(true),
        json!(false),
        json!("TRUE"),
        json!("False"),
        json!("yes"),
        json!("true "),
        json!(1),
        json!("<enabled>"),
        Value::Null,
    ] {
        cases.push((c("event.notification.enabled"), Some(value)));
    }
    cases.push((c("event.notification.enabled"), None));
    for value in [
        json!(1),
        json!(1440),
        json!(1441),
        json!(0),
        json!(-5),
        json!("15"),
        json!(" +015 "),
        json!("1440"),
        json!("1441"),
        json!("0"),
        json!("-0"),
        json!("-15"),
        json!("1e3"),
        json!("15.5"),
        json!(""),
        json!("99999999999999999999999"),
        json!(u64::MAX),
        json!(1.5),
        json!(15.0),
        json!(1440.0),
        json!(1441.0),
        json!(-0.0),
        json!(1e300),
        json!("<minutes>"),
        json!(true),
        Value::Null,
    ] {
        cases.push((c("event.poller.refresh_interval"), Some(value)));
    }
    cases.push((c("event.poller.refresh_interval"), None));
    for value in [
        json!("US"),
        json!("gb"),
        json!("USA"),
        json!("U"),
        json!("U1"),
        json!(" US"),
        json!("<COUNTRY_CODE>"),
        json!(1),
        Value::Null,
    ] {
        cases.push((c("country"), Some(value)));
    }
    for value in [
        json!("polling"),
        json!("POLLING"),
        json!("webhook"),
        json!(""),
        Value::Null,
    ] {
        cases.push((c("event.vendor.type"), Some(value)));
    }
    for value in [
        json!("0123456789abcdefABCDEF0123456789"),
        json!("0123456789abcdefABCDEF012345678"),
        json!("0123456789abcdefABCDEF012345678g"),
        json!("0123456789abcdefABCDEF01234567890"),
        Value::Null,
    ] {
        cases.push((c("sage.business.id"), Some(value)));
    }
    for value in [
        json!("2024-01-31T00:00:00Z"),
        json!("2024-02-29t23:59:59.123456+05:30"),
        json!("2023-02-29T00:00:00Z"),
        json!("2000-02-29 00:00:00z"),
        json!("1900-02-29T00:00:00Z"),
        json!(" 2024-04-30T12:00:00-01:00 "),
        json!("2024-04-31T12:00:00Z"),
        json!("2024-13-01T00:00:00Z"),
        json!("2024-01-01T24:00:00Z"),
        json!("2024-01-01T00:00:00"),
        json!("5480-02-29t21:37:57.691-18:03"),
        json!("1969-12-31T23:59:59Z"),
        json!("1970-01-01T00:00:00+05:00"),
        json!("2199-12-31T23:59:59-18:00"),
        json!("2200-01-01T00:00:00Z"),
        json!("2100-02-29T00:00:00Z"),
        json!("2096-02-29T00:00:00Z"),
        json!("2024-01-01"),
        json!("yesterday"),
        json!(""),
        Value::Null,
    ] {
        cases.push((c("event.poller.start"), Some(value)));
    }
    // The poller configuration: as a whole, and per resource member.
    let poller_string = serde_json::to_string(&json!({ "customers": resource() })).unwrap();
    for value in [
        json!(poller_string),
        json!(format!(" \n{poller_string}\t")),
        json!("{}"),
        json!("{not json}"),
        json!("[1]"),
        json!("<POLLER>"),
        json!({}),
        json!({ "Customers": resource() }),
        json!({ "sales_invoices": { "url": "/hubs/finance/sales_invoices?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'", "idField": "id" } }),
        json!({ "customers": null }),
        json!({ "customers": "x" }),
        json!([]),
        json!(5),
        Value::Null,
    ] {
        cases.push((c(POLLER), Some(value)));
    }
    cases.push((c(POLLER), None));
    for (key, values) in [
        (
            "url",
            vec![json!(""), json!(5), Value::Null, json!("<URL>")],
        ),
        ("idField", vec![json!(""), json!(5), Value::Null]),
        (
            "datesConfiguration",
            vec![
                json!({}),
                json!("x"),
                Value::Null,
                json!({ "updatedDateFeld": "x" }),
            ],
        ),
        (
            "filterByUpdatedDate",
            vec![json!(false), json!("TRUE"), json!("no"), Value::Null],
        ),
        (
            "createdCheckTolerance",
            vec![
                json!(0),
                json!(86400),
                json!(86401),
                json!("-0"),
                json!("+86400"),
                json!("86401"),
                json!(-1),
                json!("x"),
                Value::Null,
            ],
        ),
        (
            "pageSize",
            vec![
                json!(1),
                json!(200),
                json!(201),
                json!(0),
                json!("050"),
                json!("0"),
                json!(" 7 "),
                Value::Null,
            ],
        ),
        (
            "pollDelay",
            vec![
                json!(0),
                json!(3600),
                json!(3601),
                json!("-000"),
                json!("3600"),
                json!("-1"),
                Value::Null,
            ],
        ),
        ("idfield", vec![json!("id")]),
    ] {
        for value in values {
            cases.push((r(key), Some(value)));
        }
    }
    for key in ["updatedDateField", "createdDateTimezone"] {
        for value in [json!(""), json!(1), Value::Null, json!("<X>")] {
            cases.push((d(key), Some(value)));
        }
    }
    // Top level.
    for value in [
        json!("n"),
        json!("x".repeat(200)),
        json!("x".repeat(201)),
        json!("é".repeat(200)),
        json!(""),
        json!(" "),
        json!("<NAME>"),
        json!(5),
        Value::Null,
    ] {
        cases.push((vec!["name"], Some(value)));
    }
    cases.push((vec!["name"], None));
    let many = |n: usize| Value::Array((0..n).map(|i| json!(format!("t{i}"))).collect());
    for value in [
        json!([]),
        json!([""]),
        json!(["<TAG>"]),
        json!(["x".repeat(100)]),
        json!(["x".repeat(101)]),
        json!([1]),
        json!("Test"),
        many(50),
        many(51),
        Value::Null,
    ] {
        cases.push((vec!["tags"], Some(value)));
    }
    cases.push((vec!["tags"], None));
    for value in [
        json!({ "key": "sageone", "other": 1 }),
        json!({ "key": "SageOne" }),
        json!({ "key": null }),
        json!({}),
        json!("sageone"),
        Value::Null,
    ] {
        cases.push((vec!["element"], Some(value)));
    }
    cases.push((vec!["element"], None));
    for value in [
        json!({ "code": "c" }),
        json!({ "code": "" }),
        json!({ "code": "<AUTHORIZATION_GRANT_CODE>" }),
        json!({ "code": 5 }),
        json!({}),
        json!([]),
        Value::Null,
    ] {
        cases.push((vec!["providerData"], Some(value)));
    }
    for value in [json!([]), json!("x"), Value::Null] {
        cases.push((vec![CONFIG], Some(value)));
    }
    cases.push((vec![CONFIG], None));
    // Unknown keys: kept, strings must not be placeholders.
    cases.push((c("some.other.key"), Some(json!("value"))));
    cases.push((c("some.other.key"), Some(json!({ "nested": [1] }))));
    cases.push((c("some.other.key"), Some(json!("<VALUE>"))));
    cases.push((c("some.other.key"), Some(Value::Null)));
    cases.push((vec!["disabled"], Some(json!(true))));
    cases
}

/// Where JSON Schema cannot follow the code: `(path, value, schema accepts, code accepts)`.
#[allow(clippy::type_complexity)]
const GAPS: &[(&[&str], &str, bool, bool)] = &[
    // IP literals and user info are valid URLs the schema does not describe.
    (
        &[CONFIG, "oauth.callback.url"],
        "\"https://203.0.113.9/cb\"",
        false,
        true,
    ),
    (
        &[CONFIG, "oauth.callback.url"],
        "\"https://user@example.com\"",
        false,
        true,
    ),
    // A poller URL's CEQL and date patterns are beyond JSON Schema.
    (
        &[CONFIG, POLLER, "customers", "url"],
        "\"/hubs/finance/customers?where=nonsense\"",
        true,
        false,
    ),
    (
        &[
            CONFIG,
            POLLER,
            "customers",
            "datesConfiguration",
            "updatedDateFormat",
        ],
        "\"qqq\"",
        true,
        false,
    ),
    // Resource names are the service's table, not the schema's.
    (
        &[CONFIG, POLLER],
        "{\"unicorns\": {\"url\": \"/x\", \"idField\": \"id\"}}",
        true,
        false,
    ),
    // A JSON string that does not parse.
    (
        &[CONFIG, POLLER],
        "\"{\\\"customers\\\": oops}\"",
        true,
        false,
    ),
];

#[test]
fn the_seed_bodies_get_the_same_verdict_from_schema_and_code() {
    let example = seed();
    assert!(
        code_fields(&example).is_empty(),
        "{:?}",
        code_fields(&example)
    );
    assert_eq!(openapi::validate(REQUEST, &example), Ok(()));

    // The template is full of placeholders: both refuse the same fields.
    let template: Value = serde_json::from_slice(TEMPLATE).expect("template JSON");
    let code = code_fields(&template);
    assert!(code.len() >= 6, "{code:?}");
    assert_agree(REQUEST, &template, &code, "seed template");
    let schema = schema_fields(REQUEST, &template);
    for field in &code {
        assert!(
            schema.contains(field),
            "the code refuses {field}, the schema does not: {schema:?}"
        );
    }
}

#[test]
fn single_field_mutations_get_the_same_verdict_and_field() {
    let base = seed();
    let mut accepted = 0;
    let mut rejected = 0;
    for (path, value) in mutations() {
        let body = with(&base, &path, value.clone());
        let code = code_fields(&body);
        if code.is_empty() {
            accepted += 1;
        } else {
            rejected += 1;
        }
        assert_agree(REQUEST, &body, &code, &format!("{path:?} = {value:?}"));
    }
    // The table exercises both verdicts.
    assert!(
        accepted >= 60 && rejected >= 150,
        "{accepted} accepted, {rejected} rejected"
    );
}

#[test]
fn events_enabled_makes_the_event_keys_required_on_both_sides() {
    let base = seed();
    for key in [
        "event.notification.callback.url",
        "event.poller.refresh_interval",
        POLLER,
    ] {
        for enabled in [json!(true), json!("True"), json!(false), json!("false")] {
            for value in [None, Some(Value::Null)] {
                let body = with(
                    &base,
                    &[CONFIG, "event.notification.enabled"],
                    Some(enabled.clone()),
                );
                let body = with(&body, &[CONFIG, key], value.clone());
                let code = code_fields(&body);
                assert_agree(
                    REQUEST,
                    &body,
                    &code,
                    &format!("{key} {value:?}, enabled {enabled}"),
                );
            }
        }
    }
    // Enabled with an empty poller configuration (object or string).
    for empty in [json!({}), json!("{}"), json!(" { } ")] {
        let body = with(&base, &[CONFIG, POLLER], Some(empty.clone()));
        let code = code_fields(&body);
        assert_eq!(code, vec![configuration_field(POLLER)], "{empty}");
        assert_agree(REQUEST, &body, &code, &format!("empty poller {empty}"));
        let disabled = with(
            &body,
            &[CONFIG, "event.notification.enabled"],
            Some(json!(false)),
        );
        assert_agree(
            REQUEST,
            &disabled,
            &code_fields(&disabled),
            "disabled, empty poller",
        );
    }
}

#[test]
fn the_known_gaps_are_exactly_these() {
    let base = seed();
    for (path, value, schema_accepts, code_accepts) in GAPS {
        let value: Value = serde_json::from_str(value).expect("gap value");
        let body = with(&base, path, Some(value.clone()));
        assert_eq!(
            openapi::validate(REQUEST, &body).is_ok(),
            *schema_accepts,
            "schema on {path:?} = {value}"
        );
        assert_eq!(
            code_fields(&body).is_empty(),
            *code_accepts,
            "code on {path:?} = {value}"
        );
    }
}

#[test]
fn a_body_that_is_not_an_object_is_refused_by_both() {
    for body in [json!([]), json!("x"), json!(1), Value::Null] {
        let code = code_fields(&body);
        assert_eq!(code, vec!["body"]);
        assert_agree(REQUEST, &body, &code, &body.to_string());
    }
}

#[test]
fn patch_bodies_get_the_same_verdict_and_field() {
    let poller = json!({ "customers": resource() });
    let cases = [
        json!({}),
        json!({ "name": "renamed" }),
        json!({ "name": "" }),
        json!({ "name": null }),
        json!({ "name": "x".repeat(201) }),
        json!({ "tags": ["a", "b"] }),
        json!({ "tags": null }),
        json!({ "tags": ["<T>"] }),
        json!({ "disabled": true }),
        json!({ "configuration": {} }),
        json!({ "configuration": null }),
        json!({ "configuration": { "event.notification.enabled": "FALSE" } }),
        json!({ "configuration": { "event.notification.enabled": null } }),
        json!({ "configuration": { "event.notification.enabled": "nope" } }),
        json!({ "configuration": { "event.notification.callback.url": "https://example.org/h" } }),
        json!({ "configuration": { "event.notification.callback.url": "mailto:x@y" } }),
        json!({ "configuration": { "event.poller.refresh_interval": 60 } }),
        json!({ "configuration": { "event.poller.refresh_interval": "0" } }),
        json!({ "configuration": { "event.poller.configuration": poller.clone() } }),
        json!({ "configuration": { "event.poller.configuration": poller.to_string() } }),
        json!({ "configuration": { "event.poller.configuration": { "customers": { "url": "/x" } } } }),
        json!({ "configuration": { "event.notification.signature.key": "whsec_abc" } }),
        json!({ "configuration": { "event.notification.signature.key": " " } }),
        json!({ "configuration": { "oauth.api.key": "x" } }),
        json!({ "configuration": { "country": "US" } }),
        json!([]),
    ];
    for body in cases {
        let code = patch_fields(&body);
        assert_agree(PATCH, &body, &code, &body.to_string());
    }
}

/// Both sides on one generated value of one configuration key.
fn agree_on(key: &str, value: Value) {
    let body = with(&seed(), &[CONFIG, key], Some(value.clone()));
    let code = code_fields(&body);
    assert_agree(REQUEST, &body, &code, &format!("{key} = {value}"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_refresh_intervals_agree(text in "[ \t+0-9\u{3000}<>a-]{0,7}", n in -3i64..1500) {
        agree_on("event.poller.refresh_interval", json!(text));
        agree_on("event.poller.refresh_interval", json!(n));
    }

    #[test]
    fn generated_texts_agree(text in "[ \t\n\u{85}\u{a0}\u{2000}\u{feff}\u{1c}x<>]{0,4}") {
        agree_on("oauth.api.key", json!(text));
        agree_on("event.notification.signature.key", json!(text));
    }

    #[test]
    fn generated_booleans_countries_and_ids_agree(
        flag in "[tTrRuUeEfFaAlLsS ]{0,6}",
        country in "[a-zA-Z0-9 ]{0,3}",
        business in "[0-9a-fA-Fg]{30,33}",
    ) {
        agree_on("event.notification.enabled", json!(flag));
        agree_on("country", json!(country));
        agree_on("sage.business.id", json!(business));
    }

    #[test]
    fn generated_urls_agree(url in "(https?|HTTP|ftp)://([a-z]{1,5}(\\.[a-z0-9-]{1,5}){0,2})?(:[0-9]{1,6})?(/[a-z ]{0,3})?") {
        agree_on("event.notification.callback.url", json!(url));
    }

    #[test]
    fn generated_start_dates_agree(
        date in "(19|2[0-2]|[0-9]{2})[0-9]{2}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,3})?([Zz]|[+-][0-2][0-9]:[0-5][0-9])",
    ) {
        agree_on("event.poller.start", json!(date));
    }
}

#[test]
fn instance_ids_up_to_2_pow_64_minus_1_are_routed() {
    // saphyr reads integers beyond i64 as floats; the text is what clients read.
    assert!(
        include_str!("../../openapi.yaml")
            .contains("schema: { type: integer, minimum: 1, maximum: 18446744073709551615 }")
    );
    assert!(route("GET", &format!("/instances/{}", u64::MAX)).is_ok());
    assert_eq!(
        route("GET", "/instances/18446744073709551616")
            .unwrap_err()
            .status,
        400
    );
}

#[test]
fn every_405_allows_exactly_the_documented_methods() {
    const METHODS: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
    ];
    let paths = openapi::document()["paths"].as_object().expect("paths");
    assert!(paths.len() >= 4);
    for (template, item) in paths {
        let path = template.replace("{id}", "7");
        let mut documented: Vec<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .filter(|k| METHODS.contains(&k.to_ascii_uppercase().as_str()))
            .map(|k| k.to_ascii_uppercase())
            .collect();
        documented.sort();
        for method in METHODS {
            match route(method, &path) {
                Ok(_) => assert!(
                    documented.contains(&method.to_string()),
                    "{method} {template} is routed but not documented"
                ),
                Err(error) => {
                    assert!(
                        !documented.contains(&method.to_string()),
                        "{method} {template} is documented but answered {}",
                        error.status
                    );
                    assert_eq!(error.status, 405, "{method} {template}");
                    let response = error.into_response();
                    let allow: Vec<&(String, String)> = response
                        .headers
                        .iter()
                        .filter(|(name, _)| name.eq_ignore_ascii_case("allow"))
                        .collect();
                    assert_eq!(
                        allow.len(),
                        1,
                        "{method} {template}: {:?}",
                        response.headers
                    );
                    let mut allowed: Vec<String> =
                        allow[0].1.split(',').map(|m| m.trim().to_owned()).collect();
                    allowed.sort();
                    assert_eq!(allowed, documented, "{method} {template}");
                    openapi::check_response(method, &path, 405, &response.body);
                }
            }
        }
    }
}
