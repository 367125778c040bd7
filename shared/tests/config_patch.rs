//! `PATCH /instances/{id}`: what may change, and re-validation of the merged result.

use sage_events_core::config::{
    InstancePatch, StoredInstanceConfig, ValidationErrors, ValidationOptions, parse_instance_patch,
    parse_instance_request,
};
use sage_events_core::poller_config::resources_from_stored_configuration;
use serde_json::{Value, json};

const EXAMPLE: &[u8] = include_bytes!("../../tests/fixtures/seed-example-instance.json");

fn stored() -> StoredInstanceConfig {
    let request = parse_instance_request(EXAMPLE, &ValidationOptions::default()).expect("valid");
    StoredInstanceConfig::from(&request.configuration)
}

fn patch(
    body: Value,
    current: Option<&StoredInstanceConfig>,
) -> Result<InstancePatch, ValidationErrors> {
    parse_instance_patch(
        body.to_string().as_bytes(),
        current,
        &ValidationOptions::default(),
    )
}

fn field(key: &str) -> String {
    format!("configuration.\"{key}\"")
}

#[test]
fn name_tags_and_event_keys_are_patchable() {
    let current = stored();
    let invoices = json!({"invoices": {
        "url": "/hubs/finance/invoices?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
        "idField": "id"
    }});
    let p = patch(
        json!({
            "name": "renamed",
            "tags": ["a", "b"],
            "configuration": {
                "event.notification.enabled": "false",
                "event.notification.callback.url": "https://new.example.com/hook",
                "event.poller.refresh_interval": "30",
                "event.poller.configuration": invoices.to_string(),
                "event.notification.signature.key": "rotated-key-123"
            }
        }),
        Some(&current),
    )
    .expect("valid patch");
    assert_eq!(p.name.as_deref(), Some("renamed"));
    assert_eq!(p.tags, Some(vec!["a".to_owned(), "b".to_owned()]));
    let c = &p.configuration;
    assert_eq!(c.events_enabled, Some(false));
    assert_eq!(
        c.callback_url.as_deref(),
        Some("https://new.example.com/hook")
    );
    assert_eq!(c.refresh_interval_minutes, Some(30));
    assert_eq!(
        c.signature_key.as_ref().map(|k| k.expose()),
        Some("rotated-key-123")
    );
    assert!(!format!("{p:?}").contains("rotated-key-123"));

    let merged = p
        .merge_into(&current, &ValidationOptions::default())
        .expect("merged");
    assert!(!merged.events.enabled);
    assert_eq!(merged.events.refresh_interval_minutes, Some(30));
    assert!(merged.has_signature_key);
    let configuration = merged.configuration();
    assert_eq!(
        configuration["event.notification.signature.key"],
        json!("********")
    );
    assert_eq!(configuration["event.poller.refresh_interval"], json!("30"));
    assert_eq!(configuration["event.notification.enabled"], json!(false));
    // Untouched keys stay as they were.
    assert_eq!(configuration["oauth.api.key"], json!("xxxxxxxxxxxxxxxxxx"));
    assert_eq!(configuration["country"], json!("US"));
    let resources =
        resources_from_stored_configuration(&Value::Object(configuration.clone())).expect("reads");
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].name, "invoices");
    assert!(
        !Value::Object(configuration.clone())
            .to_string()
            .contains("rotated-key-123")
    );
}

#[test]
fn an_empty_patch_changes_nothing() {
    let p = patch(json!({}), Some(&stored())).expect("empty patch");
    assert!(p.is_empty());
    let merged = p
        .merge_into(&stored(), &ValidationOptions::default())
        .expect("merged");
    assert_eq!(merged, stored());
}

#[test]
fn credentials_and_other_keys_are_not_patchable() {
    let errors = patch(
        json!({"configuration": {
            "oauth.api.secret": "new",
            "oauth.callback.url": "https://x.example.com",
            "country": "GB",
            "event.poller.refresh_interval": 20
        }}),
        None,
    )
    .expect_err("not patchable");
    let mut fields = errors.fields();
    fields.sort_unstable();
    assert_eq!(
        fields,
        vec![
            field("country").as_str(),
            field("oauth.api.secret").as_str(),
            field("oauth.callback.url").as_str(),
        ]
    );
    assert!(
        errors.0[0]
            .message
            .starts_with("cannot be changed by PATCH")
    );
    let errors = patch(json!({"element": {"key": "sageone"}}), None).expect_err("top level");
    assert_eq!(errors.fields(), vec!["element"]);
}

#[test]
fn patched_values_are_validated() {
    let cases = [
        (
            json!({"configuration": {"event.poller.refresh_interval": 0}}),
            field("event.poller.refresh_interval"),
        ),
        (
            json!({"configuration": {"event.notification.enabled": "yes"}}),
            field("event.notification.enabled"),
        ),
        (
            json!({"configuration": {"event.notification.callback.url": "ftp://x"}}),
            field("event.notification.callback.url"),
        ),
        (
            json!({"configuration": {"event.poller.configuration": "{"}}),
            field("event.poller.configuration"),
        ),
        (
            json!({"configuration": {"event.notification.signature.key": ""}}),
            field("event.notification.signature.key"),
        ),
        (
            json!({"configuration": {"event.notification.callback.url": null}}),
            field("event.notification.callback.url"),
        ),
        (json!({"configuration": []}), "configuration".to_owned()),
        (json!({"name": ""}), "name".to_owned()),
        (json!({"tags": [1]}), "tags[0]".to_owned()),
    ];
    for (body, expected) in cases {
        let errors = patch(body.clone(), Some(&stored())).expect_err("invalid");
        assert_eq!(errors.fields(), vec![expected.as_str()], "{body}");
    }
}

#[test]
fn the_merged_configuration_is_validated_as_a_whole() {
    let mut request_body: Value = serde_json::from_slice(EXAMPLE).expect("JSON");
    let config = request_body["configuration"]
        .as_object_mut()
        .expect("object");
    config.insert("event.notification.enabled".into(), json!(false));
    config.remove("event.notification.callback.url");
    config.remove("event.poller.configuration");
    let request = parse_instance_request(
        request_body.to_string().as_bytes(),
        &ValidationOptions::default(),
    )
    .expect("events off, no callback");
    let current = StoredInstanceConfig::from(&request.configuration);

    let body = json!({"configuration": {"event.notification.enabled": true}});
    let errors = patch(body.clone(), Some(&current)).expect_err("cannot enable without callback");
    let mut fields = errors.fields();
    fields.sort_unstable();
    assert_eq!(
        fields,
        vec![
            field("event.notification.callback.url").as_str(),
            field("event.poller.configuration").as_str(),
        ]
    );
    // Without the current configuration, only the patch itself is checked.
    assert!(patch(body, None).is_ok());

    let complete = json!({"configuration": {
        "event.notification.enabled": true,
        "event.notification.callback.url": "https://hooks.example.com",
        "event.poller.configuration": {"customers": {"url": "/customers", "idField": "id"}}
    }});
    assert!(patch(complete, Some(&current)).is_ok());
}

#[test]
fn a_stored_configuration_is_read_back() {
    let current = stored();
    let again = StoredInstanceConfig::from_configuration(
        current.configuration(),
        &ValidationOptions::default(),
    )
    .expect("stored form re-reads");
    assert_eq!(again, current);
    let mut broken = current.configuration().clone();
    broken.insert("event.poller.refresh_interval".into(), json!("soon"));
    let errors = StoredInstanceConfig::from_configuration(&broken, &ValidationOptions::default())
        .expect_err("broken");
    assert_eq!(
        errors.fields(),
        vec![field("event.poller.refresh_interval").as_str()]
    );
}
