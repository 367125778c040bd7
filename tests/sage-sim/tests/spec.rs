//! The simulator against Sage's own Swagger file: it serves every pollable endpoint,
//! takes exactly the query parameters the file lists for each, answers anything else with
//! a 400 in Sage's error body, and its records carry the fields, and the date-time format,
//! of the file's definitions.

mod common;

use common::*;
use sage_sim::spec::{self, ListEndpoint, QueryParam};
use serde_json::Value;
use std::collections::BTreeSet;

fn pollable() -> Vec<&'static ListEndpoint> {
    spec::spec().pollable().collect()
}

/// RFC 3339 `date-time` (Swagger's `format: date-time`) with seconds and an explicit
/// offset (`Z` or `±hh:mm`): `2023-06-13T10:40:55Z`.
fn is_date_time_with_offset(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    let offset_ok = rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest[1..3].bytes().all(|c| c.is_ascii_digit())
            && &rest[3..4] == ":"
            && rest[4..6].bytes().all(|c| c.is_ascii_digit()));
    offset_ok && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// A value of the parameter's declared type that the simulator must take.
fn sample(param: &QueryParam) -> String {
    match (param.kind.as_deref(), param.format.as_deref()) {
        (_, Some("date-time")) => "2023-06-13T10:40:55Z".to_owned(),
        (_, Some("date")) => "2023-06-13".to_owned(),
        (Some("integer"), _) => "1".to_owned(),
        (Some("boolean"), _) => "true".to_owned(),
        _ => "x".to_owned(),
    }
}

#[test]
fn the_embedded_file_is_sages_v3_1_description() {
    let spec = spec::spec();
    assert_eq!(spec.host, "api.accounting.sage.com");
    assert_eq!(spec.base_path, "/v3.1");
    let pollable = pollable();
    assert_eq!(
        pollable.len(),
        38,
        "list endpoints with updated_or_created_since"
    );
    let deletable: Vec<_> = pollable.iter().filter(|e| e.has_deleted_since()).collect();
    assert_eq!(deletable.len(), 23, "of them with deleted_since");
    for quotes in ["sales_quotes", "sales_estimates"] {
        let e = spec.list_endpoint(quotes).expect(quotes);
        assert!(e.is_pollable() && !e.has_deleted_since(), "{quotes}");
    }
    let journals = spec.list_endpoint("/journals").expect("journals");
    assert!(!journals.accepts("from_date") && !journals.accepts("to_date"));
    let contact_types = spec.list_endpoint("contact_types").expect("contact_types");
    assert!(!contact_types.is_pollable());
    // The incremental filters are date-times; Sage's example carries an offset.
    for e in &pollable {
        for name in [spec::UPDATED_OR_CREATED_SINCE, spec::DELETED_SINCE] {
            if let Some(p) = e.param(name) {
                assert_eq!(
                    (p.kind.as_deref(), p.format.as_deref()),
                    (Some("string"), Some("date-time")),
                    "{} {name}",
                    e.path
                );
                let example = p.example.as_ref().and_then(Value::as_str).unwrap_or("");
                assert!(
                    is_date_time_with_offset(example),
                    "{} {name}: {example}",
                    e.path
                );
            }
        }
    }
}

#[test]
fn the_date_time_check_is_strict() {
    for good in [
        "2023-06-13T10:40:55Z",
        "2023-06-13T10:40:55+01:00",
        "2023-06-13T10:40:55.250-05:30",
    ] {
        assert!(is_date_time_with_offset(good), "{good}");
    }
    for bad in [
        "2023-06-13T10:40:55",
        "2023-06-13 10:40:55Z",
        "2023-06-13T10:40Z",
        "2023-06-13",
        "2023-06-13T10:40:55 01:00",
        "2023-06-13T10:40:55+0100",
        "1686652855",
    ] {
        assert!(!is_date_time_with_offset(bad), "{bad}");
    }
}

#[tokio::test]
async fn serves_every_pollable_endpoint_with_the_files_fields_and_dates() {
    let served: BTreeSet<&str> = sage_sim::served_endpoints().into_iter().collect();
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    for endpoint in pollable() {
        let name = endpoint.name();
        assert!(served.contains(name), "{name} is not served");
        let definition = endpoint.record.as_ref().expect("a record definition");
        let ids = sim.seed(name, 2);
        let list = get(&sim, &token, &format!("{}?attributes=all", endpoint.path)).await;
        assert_eq!(list.status, 200, "{name}: {}", list.body);
        assert_eq!(list.ids().len(), 2, "{name}");
        for item in list.body["$items"].as_array().expect("items") {
            let record = item.as_object().expect("an object");
            for key in record.keys() {
                assert!(
                    definition.has(key),
                    "{name}: field {key} is not in Sage's {} definition",
                    definition.name
                );
            }
            for field in ["created_at", "updated_at"] {
                assert_eq!(definition.format_of(field), Some("date-time"), "{name}");
                let value = record[field].as_str().unwrap_or_default();
                assert!(
                    is_date_time_with_offset(value),
                    "{name}.{field} = {value:?}"
                );
            }
            assert_ne!(record["displayed_as"], record["id"], "{name} displayed_as");
        }
        // Deleted lists exist exactly where the file has deleted_since; their items'
        // fields are the definition's too.
        assert!(sim.delete(name, &ids[0]));
        let deleted = get(
            &sim,
            &token,
            &format!("{}?deleted_since=2023-06-13T10:00:00Z", endpoint.path),
        )
        .await;
        if endpoint.has_deleted_since() {
            assert_eq!(deleted.status, 200, "{name}: {}", deleted.body);
            assert_eq!(deleted.ids(), vec![ids[0].clone()], "{name}");
            let item = &deleted.body["$items"][0];
            assert!(definition.has("deleted_at"), "{name}");
            let at = item["deleted_at"].as_str().unwrap_or_default();
            assert!(is_date_time_with_offset(at), "{name}.deleted_at = {at:?}");
        } else {
            assert_eq!(
                (deleted.status, deleted.data_code()),
                (400, "InvalidParameter"),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn takes_every_parameter_the_file_lists() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    for endpoint in pollable() {
        for param in &endpoint.query_params {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(&param.name, &sample(param))
                .finish();
            let answer = get(&sim, &token, &format!("{}?{query}", endpoint.path)).await;
            assert_eq!(
                answer.status, 200,
                "{}?{query}: {}",
                endpoint.path, answer.body
            );
        }
    }
}

#[tokio::test]
async fn a_parameter_the_file_does_not_list_is_a_400_in_sages_error_body() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    for (path_and_query, named) in [
        ("/journals?from_date=2023-06-01", "from_date"),
        ("/contact_allocations?to_date=2023-06-01", "to_date"),
        (
            "/sales_quotes?deleted_since=2023-06-13T10:40:55Z",
            "deleted_since",
        ),
        (
            "/sales_estimates?deleted_since=2023-06-13T10:40:55Z",
            "deleted_since",
        ),
        ("/contacts?items_per_page=20&colour=red", "colour"),
        ("/tax_rates?search=VAT", "search"),
    ] {
        let answer = get(&sim, &token, path_and_query).await;
        assert_eq!(answer.status, 400, "{path_and_query}");
        let errors = answer.body.as_array().expect("Sage's error array");
        assert_eq!(errors.len(), 1, "{path_and_query}");
        let error = &errors[0];
        assert_eq!(error["$severity"], "error", "{path_and_query}");
        assert_eq!(error["$dataCode"], "InvalidParameter", "{path_and_query}");
        let message = error["$message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{path_and_query}: {message}");
    }
}

#[tokio::test]
async fn an_endpoint_outside_the_file_takes_any_parameter() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    sim.create("widgets", serde_json::json!({"name": "Sprocket"}));
    let answer = get(&sim, &token, "/widgets?colour=red").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.ids().len(), 1);
}
