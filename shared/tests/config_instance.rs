//! `POST /instances` body validation: the seed bodies and malformed variants, each
//! checked for the exact field path reported.

use sage_events_core::config::{
    InstanceRequest, ValidationErrors, ValidationOptions, parse_instance_request,
};
use sage_events_core::datefmt::{DatePattern, Zone};
use sage_events_core::poller_config::resources_from_stored_configuration;
use serde_json::{Value, json};

const EXAMPLE: &[u8] = include_bytes!("../../tests/fixtures/seed-example-instance.json");
const TEMPLATE: &[u8] = include_bytes!("../../tests/fixtures/seed-template-instance.json");

const POLLER: &str = "configuration.\"event.poller.configuration\"";

fn example() -> Value {
    serde_json::from_slice(EXAMPLE).expect("example seed is JSON")
}

fn parse(body: &Value) -> Result<InstanceRequest, ValidationErrors> {
    parse_instance_request(body.to_string().as_bytes(), &ValidationOptions::default())
}

/// The example with `configuration[key] = value`.
fn with_config(key: &str, value: Value) -> Value {
    let mut body = example();
    body["configuration"][key] = value;
    body
}

/// The example with the customers poller entry's `key` set (a `/`-separated path).
fn with_resource(path: &str, value: Value) -> Value {
    let mut body = example();
    let mut target = &mut body["configuration"]["event.poller.configuration"]["customers"];
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        target = &mut target[*part];
    }
    target[parts[parts.len() - 1]] = value;
    body
}

fn without_config(key: &str) -> Value {
    let mut body = example();
    body["configuration"]
        .as_object_mut()
        .expect("configuration object")
        .remove(key);
    body
}

#[track_caller]
fn fields_of(body: &Value) -> Vec<String> {
    match parse(body) {
        Ok(_) => panic!("expected a validation error for {body}"),
        Err(e) => e.iter().map(|f| f.field.clone()).collect(),
    }
}

#[track_caller]
fn assert_only(body: &Value, field: &str) {
    assert_eq!(fields_of(body), vec![field.to_owned()], "body: {body}");
}

fn config_field(key: &str) -> String {
    format!("configuration.\"{key}\"")
}

#[test]
fn example_seed_validates_unchanged() {
    let request = parse_instance_request(EXAMPLE, &ValidationOptions::default())
        .expect("example seed is valid");
    assert_eq!(request.element_key, "sageone");
    assert_eq!(
        request.code.as_ref().map(|c| c.expose()),
        Some("1c6ff4089d58d80e86482ab7d5b97f15dd7b041d")
    );
    assert_eq!(request.name, "API_Polling");
    assert_eq!(request.tags, vec!["Test".to_owned()]);
    let c = &request.configuration;
    assert_eq!(c.oauth_api_key, "xxxxxxxxxxxxxxxxxx");
    assert_eq!(c.oauth_api_secret.expose(), "xxxxxxxxxxxxxxxxxxxxxx");
    assert_eq!(c.oauth_callback_url, "https://mycoolapp.com");
    assert_eq!(
        c.signature_secret.as_ref().map(|s| s.expose()),
        Some("xxxxxxxxxxxxxxxxxxxxxxxxx")
    );
    assert_eq!(
        c.apim_subscription_key.as_ref().map(|s| s.expose()),
        Some("xxxxxxxxxxxxxxxxxxxxxxxxx")
    );
    assert_eq!(c.country.as_deref(), Some("US"));
    assert!(c.events.enabled);
    assert_eq!(
        c.events.callback_url.as_deref(),
        Some("http://mycoolapp.com")
    );
    assert_eq!(c.events.refresh_interval_minutes, Some(15));
    assert_eq!(c.events.vendor_type, None);
    assert_eq!(c.events.start, None);
    assert_eq!(c.notification_signature_key, None);
    assert_eq!(c.business_id, None);
    assert!(c.extra.is_empty());

    let poller = c.events.poller.as_ref().expect("poller configuration");
    let [customers] = poller.resources() else {
        panic!("one resource expected");
    };
    assert_eq!(customers.name, "customers");
    assert_eq!(
        customers.url,
        "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}' and attributes='created_at,updated_at"
    );
    assert_eq!(customers.id_field, "id");
    let pattern = DatePattern::parse("yyyy-MM-dd'T'HH:mm:ss'Z'").expect("pattern");
    assert_eq!(customers.updated.field, "updated_at");
    assert_eq!(customers.updated.pattern, pattern);
    assert_eq!(customers.updated.zone, Zone::Utc);
    assert_eq!(customers.created.field, "created_at");
    assert_eq!(customers.created.pattern, pattern);
    assert_eq!(customers.created.zone, Zone::Utc);
    assert!(customers.filter_by_updated_date);
    assert_eq!(
        customers.created_check_tolerance,
        chrono::Duration::seconds(1)
    );
    assert_eq!(customers.page_size, 200);
    assert_eq!(customers.poll_delay, chrono::Duration::zero());
    assert_eq!(customers.request.resource, "customers");
    assert_eq!(customers.request.items_per_page, 200);
    assert!(customers.request.since.is_some());
    for attribute in ["id", "created_at", "updated_at"] {
        assert!(
            customers.request.attributes.iter().any(|a| a == attribute),
            "{attribute} in {:?}",
            customers.request.attributes
        );
    }
}

#[test]
fn template_seed_names_exactly_its_placeholders() {
    let errors = parse_instance_request(TEMPLATE, &ValidationOptions::default())
        .expect_err("template has placeholders");
    let mut fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    let mut expected = vec![
        "providerData.code",
        "configuration.\"oauth.api.key\"",
        "configuration.\"oauth.api.secret\"",
        "configuration.\"signature.secret\"",
        "configuration.\"apim.subscription.key\"",
        "configuration.\"country\"",
        "configuration.\"oauth.callback.url\"",
        "configuration.\"event.poller.refresh_interval\"",
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected);
    for error in errors.iter() {
        assert!(error.message.starts_with("is a placeholder ("), "{error}");
    }
    let country = errors
        .iter()
        .find(|e| e.field == "configuration.\"country\"")
        .expect("country error");
    assert_eq!(
        country.to_string(),
        "configuration.\"country\": is a placeholder (<COUNTRY_CODE>); replace it with a real value"
    );
    // Secrets are not quoted, even as placeholders.
    assert!(!errors.to_string().contains("<CLIENT_SECRET>"));
    assert!(!errors.to_string().contains("<AUTHORIZATION_GRANT_CODE>"));
}

#[test]
fn secrets_are_absent_from_debug_and_response() {
    let mut body = with_config(
        "event.notification.signature.key",
        json!("sig-key-value-777"),
    );
    body["configuration"]["signature.secret"] = json!("sigsecret-value-555");
    body["configuration"]["apim.subscription.key"] = json!("apim-value-666");
    body["configuration"]["oauth.api.secret"] = json!("client-secret-value-444");
    body["configuration"]["custom.access.token"] = json!("custom-token-value-888");
    body["configuration"]["custom.region"] = json!("eu-west");
    body["providerData"]["code"] = json!("grant-code-value-333");
    let request = parse(&body).expect("valid");
    let debug = format!("{request:?}");
    let response = Value::Object(request.configuration.to_response_configuration()).to_string();
    for secret in [
        "sig-key-value-777",
        "sigsecret-value-555",
        "apim-value-666",
        "client-secret-value-444",
        "custom-token-value-888",
        "grant-code-value-333",
    ] {
        assert!(!debug.contains(secret), "{secret} in Debug: {debug}");
        assert!(
            !response.contains(secret),
            "{secret} in response: {response}"
        );
    }
    // The secrets are still there for whoever must use them.
    assert_eq!(
        request
            .configuration
            .notification_signature_key
            .as_ref()
            .map(|k| k.expose()),
        Some("sig-key-value-777")
    );
    let extra: Vec<_> = request.configuration.extra.expose().collect();
    assert!(extra.contains(&("custom.access.token", &json!("custom-token-value-888"))));
    assert!(
        debug.contains("eu-west"),
        "non-secret pass-through shown: {debug}"
    );
}

#[test]
fn response_configuration_has_the_cloud_elements_shapes() {
    let request = parse_instance_request(EXAMPLE, &ValidationOptions::default()).expect("valid");
    let response = request.configuration.to_response_configuration();
    assert_eq!(response["oauth.api.key"], json!("xxxxxxxxxxxxxxxxxx"));
    assert_eq!(response["oauth.api.secret"], json!("********"));
    assert_eq!(response["signature.secret"], json!("********"));
    assert_eq!(response["apim.subscription.key"], json!("********"));
    assert_eq!(
        response["oauth.callback.url"],
        json!("https://mycoolapp.com")
    );
    assert_eq!(response["country"], json!("US"));
    assert_eq!(response["event.notification.enabled"], json!(true));
    assert_eq!(
        response["event.notification.callback.url"],
        json!("http://mycoolapp.com")
    );
    assert_eq!(response["event.poller.refresh_interval"], json!("15"));
    let poller = response["event.poller.configuration"]
        .as_str()
        .expect("poller configuration as a string");
    let poller: Value = serde_json::from_str(poller).expect("JSON in the string");
    assert_eq!(
        poller,
        example()["configuration"]["event.poller.configuration"]
    );
    assert!(!response.contains_key("event.notification.signature.key"));
    assert!(!response.contains_key("sage.business.id"));
}

#[test]
fn round_trip_through_the_stored_form_gives_the_same_resources() {
    let request = parse_instance_request(EXAMPLE, &ValidationOptions::default()).expect("valid");
    let stored = Value::Object(request.configuration.to_response_configuration());
    let resources = resources_from_stored_configuration(&stored).expect("stored form reads");
    let original = request.configuration.events.poller.expect("poller");
    assert_eq!(resources, original.resources());
    // And the stored form itself is a valid configuration body again.
    let mut body = example();
    body["configuration"] = stored;
    body["configuration"]["oauth.api.secret"] = json!("again");
    body["configuration"]["signature.secret"] = json!("again");
    body["configuration"]["apim.subscription.key"] = json!("again");
    let reparsed = parse(&body).expect("stored form re-validates");
    assert_eq!(
        reparsed.configuration.events,
        parse_instance_request(EXAMPLE, &ValidationOptions::default())
            .expect("valid")
            .configuration
            .events
    );
}

#[test]
fn loose_typing_is_accepted() {
    let mut body = with_config("event.notification.enabled", json!("true"));
    body["configuration"]["event.poller.refresh_interval"] = json!(15);
    let poller = example()["configuration"]["event.poller.configuration"].to_string();
    body["configuration"]["event.poller.configuration"] = json!(poller);
    let request = parse(&body).expect("loose forms accepted");
    assert!(request.configuration.events.enabled);
    assert_eq!(
        request.configuration.events.refresh_interval_minutes,
        Some(15)
    );
    let strict = parse(&example()).expect("valid");
    assert_eq!(
        request.configuration.events.poller,
        strict.configuration.events.poller
    );
    let off = parse(&with_config("event.notification.enabled", json!("false"))).expect("valid");
    assert!(!off.configuration.events.enabled);
}

#[test]
fn optional_keys_are_read() {
    let mut body = with_config("country", json!("gb"));
    let c = &mut body["configuration"];
    c["event.vendor.type"] = json!("polling");
    c["event.poller.start"] = json!("2024-01-31T10:00:00+01:00");
    c["sage.business.id"] = json!("0123456789abcdef0123456789ABCDEF");
    c["event.notification.signature.key"] = json!("k");
    let request = parse(&body).expect("valid");
    let config = &request.configuration;
    assert_eq!(config.country.as_deref(), Some("GB"));
    assert_eq!(config.events.vendor_type.as_deref(), Some("polling"));
    assert_eq!(
        config.events.start.map(|t| t.to_rfc3339()),
        Some("2024-01-31T09:00:00+00:00".to_owned())
    );
    assert_eq!(
        config.business_id.as_deref(),
        Some("0123456789abcdef0123456789ABCDEF")
    );
    let response = config.to_response_configuration();
    assert_eq!(
        response["event.poller.start"],
        json!("2024-01-31T09:00:00Z")
    );
    assert_eq!(
        response["event.notification.signature.key"],
        json!("********")
    );
    assert_eq!(response["event.vendor.type"], json!("polling"));
}

#[test]
fn events_disabled_needs_no_event_keys_and_no_code_when_not_required() {
    let mut body = example();
    let config = body["configuration"].as_object_mut().expect("object");
    for key in [
        "event.notification.enabled",
        "event.notification.callback.url",
        "event.poller.refresh_interval",
        "event.poller.configuration",
        "signature.secret",
        "apim.subscription.key",
        "country",
    ] {
        config.remove(key);
    }
    body.as_object_mut().expect("object").remove("providerData");
    let opts = ValidationOptions {
        require_code: false,
        ..ValidationOptions::default()
    };
    let request = parse_instance_request(body.to_string().as_bytes(), &opts).expect("minimal body");
    assert!(!request.configuration.events.enabled);
    assert_eq!(request.code, None);
    assert_eq!(fields_of(&body), vec!["providerData.code"]);
}

#[test]
fn min_refresh_interval_is_an_option() {
    let opts = ValidationOptions {
        min_refresh_interval_minutes: 30,
        ..ValidationOptions::default()
    };
    let errors = parse_instance_request(EXAMPLE, &opts).expect_err("15 < 30");
    assert_eq!(
        errors.fields(),
        vec![config_field("event.poller.refresh_interval")]
    );
    assert_eq!(
        errors.0[0].message,
        "must be a whole number of minutes ≥ 30"
    );
}

// ---- malformed bodies: each names its field ----

#[test]
fn missing_name() {
    let mut body = example();
    body.as_object_mut().expect("object").remove("name");
    assert_only(&body, "name");
    body["name"] = json!("   ");
    assert_only(&body, "name");
    body["name"] = json!("n".repeat(201));
    assert_only(&body, "name");
}

#[test]
fn wrong_element_key() {
    let mut body = example();
    body["element"]["key"] = json!("quickbooks");
    assert_only(&body, "element.key");
    body.as_object_mut().expect("object").remove("element");
    assert_only(&body, "element.key");
}

#[test]
fn refresh_interval_out_of_range_or_not_whole() {
    let field = config_field("event.poller.refresh_interval");
    for bad in [
        json!(0),
        json!("abc"),
        json!(1.5),
        json!("-3"),
        json!(100000),
        json!(true),
    ] {
        assert_only(&with_config("event.poller.refresh_interval", bad), &field);
    }
    let errors = parse(&with_config("event.poller.refresh_interval", json!(0))).expect_err("0");
    assert_eq!(
        errors.to_string(),
        format!("{field}: must be a whole number of minutes ≥ 1")
    );
    assert!(parse(&with_config("event.poller.refresh_interval", json!(1440))).is_ok());
}

#[test]
fn refresh_interval_required_when_events_enabled() {
    assert_only(
        &without_config("event.poller.refresh_interval"),
        &config_field("event.poller.refresh_interval"),
    );
}

#[test]
fn enabled_not_a_boolean() {
    assert_only(
        &with_config("event.notification.enabled", json!("yes")),
        &config_field("event.notification.enabled"),
    );
}

#[test]
fn callback_url_missing_or_malformed() {
    let field = config_field("event.notification.callback.url");
    assert_only(&without_config("event.notification.callback.url"), &field);
    for bad in ["ftp://x", "not a url", "", "http://"] {
        assert_only(
            &with_config("event.notification.callback.url", json!(bad)),
            &field,
        );
    }
    let mut off = without_config("event.notification.callback.url");
    off["configuration"]["event.notification.enabled"] = json!(false);
    assert!(parse(&off).is_ok(), "not required when events are off");
}

#[test]
fn oauth_callback_url_malformed_or_missing() {
    let field = config_field("oauth.callback.url");
    assert_only(
        &with_config("oauth.callback.url", json!("mailto:me@example.com")),
        &field,
    );
    assert_only(&without_config("oauth.callback.url"), &field);
    // Kept byte-exact.
    let exact = "https://App.Example.com:8443/cb?x=1&y=%2F";
    let request = parse(&with_config("oauth.callback.url", json!(exact))).expect("valid");
    assert_eq!(request.configuration.oauth_callback_url, exact);
}

#[test]
fn credentials_missing() {
    assert_only(
        &without_config("oauth.api.key"),
        &config_field("oauth.api.key"),
    );
    assert_only(
        &without_config("oauth.api.secret"),
        &config_field("oauth.api.secret"),
    );
    assert_only(
        &with_config("oauth.api.secret", json!("")),
        &config_field("oauth.api.secret"),
    );
    assert_only(
        &with_config("signature.secret", json!(5)),
        &config_field("signature.secret"),
    );
}

#[test]
fn poller_configuration_string_with_invalid_json() {
    let body = with_config("event.poller.configuration", json!("{\"customers\": {"));
    assert_only(&body, POLLER);
    let errors = parse(&body).expect_err("invalid");
    assert!(errors.0[0].message.contains("line 1"), "{errors}");
}

#[test]
fn poller_configuration_as_array() {
    assert_only(
        &with_config("event.poller.configuration", json!([])),
        POLLER,
    );
    assert_only(
        &with_config("event.poller.configuration", json!("[1]")),
        POLLER,
    );
}

#[test]
fn poller_configuration_empty_or_missing_when_enabled() {
    assert_only(
        &with_config("event.poller.configuration", json!({})),
        POLLER,
    );
    assert_only(
        &with_config("event.poller.configuration", json!("{}")),
        POLLER,
    );
    assert_only(&without_config("event.poller.configuration"), POLLER);
}

#[test]
fn resource_missing_url_or_id_field() {
    let mut body = example();
    body["configuration"]["event.poller.configuration"]["customers"]
        .as_object_mut()
        .expect("object")
        .remove("url");
    assert_only(&body, &format!("{POLLER}.customers.url"));
    let mut body = example();
    body["configuration"]["event.poller.configuration"]["customers"]
        .as_object_mut()
        .expect("object")
        .remove("idField");
    assert_only(&body, &format!("{POLLER}.customers.idField"));
}

#[test]
fn unknown_pattern_letter_in_updated_date_format() {
    assert_only(
        &with_resource(
            "datesConfiguration/updatedDateFormat",
            json!("yyyy-MM-dd'T'HH:mm:ss'Z' bb"),
        ),
        &format!("{POLLER}.customers.datesConfiguration.updatedDateFormat"),
    );
}

#[test]
fn unknown_zone() {
    assert_only(
        &with_resource(
            "datesConfiguration/createdDateTimezone",
            json!("Mars/Olympus"),
        ),
        &format!("{POLLER}.customers.datesConfiguration.createdDateTimezone"),
    );
}

#[test]
fn or_in_the_where_clause() {
    let url = "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}' or search='x'";
    assert_only(
        &with_resource("url", json!(url)),
        &format!("{POLLER}.customers.url"),
    );
}

#[test]
fn unknown_resource_name() {
    let mut body = example();
    let poller = &mut body["configuration"]["event.poller.configuration"];
    let entry = poller["customers"].clone();
    poller.as_object_mut().expect("object").remove("customers");
    poller["widgets"] = entry;
    poller["widgets"]["url"] =
        json!("/hubs/finance/widgets?where=lastModifiedDate>='${date:yyyy-MM-dd}'");
    assert_only(&body, &format!("{POLLER}.widgets"));
}

#[test]
fn page_size_out_of_range() {
    let field = format!("{POLLER}.customers.pageSize");
    assert_only(&with_resource("pageSize", json!(0)), &field);
    assert_only(&with_resource("pageSize", json!(500)), &field);
    let request = parse(&with_resource("pageSize", json!("50"))).expect("valid");
    let poller = request.configuration.events.poller.expect("poller");
    assert_eq!(poller.resources()[0].page_size, 50);
    assert_eq!(poller.resources()[0].request.items_per_page, 50);
}

#[test]
fn poll_delay_and_tolerance_malformed() {
    assert_only(
        &with_resource("pollDelay", json!(-1)),
        &format!("{POLLER}.customers.pollDelay"),
    );
    assert_only(
        &with_resource("pollDelay", json!(3601)),
        &format!("{POLLER}.customers.pollDelay"),
    );
    assert_only(
        &with_resource("createdCheckTolerance", json!("x")),
        &format!("{POLLER}.customers.createdCheckTolerance"),
    );
    assert_only(
        &with_resource("filterByUpdatedDate", json!("maybe")),
        &format!("{POLLER}.customers.filterByUpdatedDate"),
    );
}

#[test]
fn unknown_key_in_a_resource_entry() {
    assert_only(
        &with_resource("idfield", json!("id")),
        &format!("{POLLER}.customers.idfield"),
    );
}

#[test]
fn country_not_two_letters() {
    let field = config_field("country");
    assert_only(&with_config("country", json!("USA")), &field);
    assert_only(&with_config("country", json!("U1")), &field);
}

#[test]
fn business_id_vendor_type_and_start_malformed() {
    assert_only(
        &with_config("sage.business.id", json!("abc")),
        &config_field("sage.business.id"),
    );
    assert_only(
        &with_config("event.vendor.type", json!("webhook")),
        &config_field("event.vendor.type"),
    );
    assert_only(
        &with_config("event.poller.start", json!("yesterday")),
        &config_field("event.poller.start"),
    );
}

#[test]
fn tags_malformed() {
    let mut body = example();
    body["tags"] = json!("Test");
    assert_only(&body, "tags");
    body["tags"] = json!(["Test", 5]);
    assert_only(&body, "tags[1]");
    body["tags"] = json!(["t".repeat(101)]);
    assert_only(&body, "tags[0]");
    body["tags"] = json!(vec!["t"; 51]);
    assert_only(&body, "tags");
}

#[test]
fn provider_data_missing_or_malformed() {
    let mut body = example();
    body.as_object_mut().expect("object").remove("providerData");
    assert_only(&body, "providerData.code");
    body["providerData"] = json!({});
    assert_only(&body, "providerData.code");
    body["providerData"] = json!("code");
    assert_only(&body, "providerData");
}

#[test]
fn configuration_missing_or_not_an_object() {
    let mut body = example();
    body["configuration"] = json!("x");
    assert_only(&body, "configuration");
    body.as_object_mut()
        .expect("object")
        .remove("configuration");
    assert_only(&body, "configuration");
}

#[test]
fn body_not_json_or_not_an_object() {
    for body in [
        &b"{\"name\": secret-ish"[..],
        b"",
        b"[1,2]",
        b"\"text\"",
        b"null",
    ] {
        let errors =
            parse_instance_request(body, &ValidationOptions::default()).expect_err("bad body");
        assert_eq!(errors.fields(), vec!["body"]);
    }
    let errors = parse_instance_request(b"{\"name\": secret-ish", &ValidationOptions::default())
        .expect_err("bad body");
    assert!(!errors.to_string().contains("secret-ish"), "{errors}");
    assert!(errors.to_string().contains("column"), "{errors}");
}

#[test]
fn several_errors_are_all_reported() {
    let mut body = with_config("event.poller.refresh_interval", json!(0));
    body["name"] = json!(42);
    body["element"]["key"] = json!("other");
    body["configuration"]["country"] = json!("USA");
    body["configuration"]["event.notification.callback.url"] = json!("ftp://x");
    body["configuration"]["event.poller.configuration"]["customers"]["pageSize"] = json!(0);
    body["configuration"]["event.poller.configuration"]["customers"]["datesConfiguration"]["updatedDateTimezone"] =
        json!("Nowhere/Land");
    let mut fields = fields_of(&body);
    fields.sort_unstable();
    let mut expected = vec![
        "element.key".to_owned(),
        "name".to_owned(),
        config_field("country"),
        config_field("event.notification.callback.url"),
        config_field("event.poller.refresh_interval"),
        format!("{POLLER}.customers.pageSize"),
        format!("{POLLER}.customers.datesConfiguration.updatedDateTimezone"),
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected);
}

#[test]
fn unknown_keys_pass_through_but_placeholders_do_not() {
    let request = parse(&with_config("custom.flag", json!({"a": 1}))).expect("kept");
    assert_eq!(
        request.configuration.extra.get("custom.flag"),
        Some(&json!({"a": 1}))
    );
    assert_eq!(
        request.configuration.to_response_configuration()["custom.flag"],
        json!({"a": 1})
    );
    assert_only(
        &with_config("custom.flag", json!("<FILL_ME>")),
        &config_field("custom.flag"),
    );
}
