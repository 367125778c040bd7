//! The `POST /instances` body.

use super::errors::{configuration_field, item_field};
use super::events::EventSettings;
use super::loose::{self, Quote};
use super::{
    ELEMENT_KEY, MAX_NAME_CHARS, MAX_TAG_CHARS, MAX_TAGS, PassThrough, ValidationErrors,
    ValidationOptions, body_object, keys,
};
use crate::secret::{MASK, Secret};
use serde_json::{Map, Value};

/// A validated `POST /instances` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRequest {
    /// `element.key`; always [`ELEMENT_KEY`].
    pub element_key: String,
    /// `providerData.code`: the OAuth grant code (single-use, expires in 60 s).
    pub code: Option<Secret>,
    pub name: String,
    pub tags: Vec<String>,
    pub configuration: InstanceConfig,
}

/// A validated `configuration` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// `oauth.api.key`: the client id.
    pub oauth_api_key: String,
    /// `oauth.api.secret`: the client secret.
    pub oauth_api_secret: Secret,
    /// `oauth.callback.url`: the OAuth `redirect_uri`, byte-exact as given (Sage compares
    /// it with the one used to obtain the code).
    pub oauth_callback_url: String,
    /// `signature.secret` (old v3 API; kept, unused).
    pub signature_secret: Option<Secret>,
    /// `apim.subscription.key` (old v3 API; kept, unused).
    pub apim_subscription_key: Option<Secret>,
    /// `country`, upper-cased.
    pub country: Option<String>,
    pub events: EventSettings,
    /// `event.notification.signature.key`: HMAC key of the callbacks.
    pub notification_signature_key: Option<Secret>,
    /// `sage.business.id`: sent as `X-Business`.
    pub business_id: Option<String>,
    /// Keys this service does not know.
    pub extra: PassThrough,
}

/// Parse and validate a `POST /instances` body, reporting every problem at once.
pub fn parse_instance_request(
    body: &[u8],
    opts: &ValidationOptions,
) -> Result<InstanceRequest, ValidationErrors> {
    let body = body_object(body)?;
    let mut errors = ValidationErrors::new();

    let element_key = read_element_key(&body, &mut errors);
    let code = read_code(&body, opts, &mut errors);
    let name = match present(&body, "name") {
        None => {
            errors.push("name", "is required");
            None
        }
        Some(v) => read_name(v, &mut errors),
    };
    let tags = match present(&body, "tags") {
        None => Some(Vec::new()),
        Some(v) => read_tags(v, &mut errors),
    };
    let configuration = match present(&body, "configuration") {
        None => {
            errors.push("configuration", "is required");
            None
        }
        Some(Value::Object(config)) => read_configuration(config, opts, &mut errors),
        Some(other) => {
            errors.push(
                "configuration",
                format!("must be a JSON object, not {}", loose::type_name(other)),
            );
            None
        }
    };

    match (element_key, code, name, tags, configuration) {
        (Some(element_key), Some(code), Some(name), Some(tags), Some(configuration))
            if errors.is_empty() =>
        {
            Ok(InstanceRequest {
                element_key,
                code,
                name,
                tags,
                configuration,
            })
        }
        _ => Err(errors),
    }
}

impl InstanceConfig {
    /// The stored/response form of the configuration: every secret replaced by
    /// `********` (keys present only when given), `event.poller.configuration` as a JSON
    /// string, the refresh interval as a string, booleans as booleans, unknown keys as
    /// given (masked when they look secret). This is what an instance record keeps as its
    /// non-secret configuration and what `GET /instances/{id}` returns.
    pub fn to_response_configuration(&self) -> Map<String, Value> {
        let mut map = Map::new();
        // Unknown keys first so that a known key can never be overwritten by one.
        self.extra.write_masked_to(&mut map);
        let text = |s: &str| Value::String(s.to_owned());
        let mask = || text(MASK);
        map.insert(keys::OAUTH_API_KEY.into(), text(&self.oauth_api_key));
        map.insert(keys::OAUTH_API_SECRET.into(), mask());
        map.insert(
            keys::OAUTH_CALLBACK_URL.into(),
            text(&self.oauth_callback_url),
        );
        if self.signature_secret.is_some() {
            map.insert(keys::SIGNATURE_SECRET.into(), mask());
        }
        if self.apim_subscription_key.is_some() {
            map.insert(keys::APIM_SUBSCRIPTION_KEY.into(), mask());
        }
        if let Some(country) = &self.country {
            map.insert(keys::COUNTRY.into(), text(country));
        }
        self.events.write_to(&mut map);
        if self.notification_signature_key.is_some() {
            map.insert(keys::EVENTS_SIGNATURE_KEY.into(), mask());
        }
        if let Some(business) = &self.business_id {
            map.insert(keys::BUSINESS_ID.into(), text(business));
        }
        map
    }
}

/// The value of `key` unless absent or `null`.
pub(super) fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn read_element_key(body: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<String> {
    let field = "element.key";
    let key = match present(body, "element") {
        None => None,
        Some(Value::Object(element)) => present(element, "key"),
        Some(other) => {
            errors.push(
                "element",
                format!("must be a JSON object, not {}", loose::type_name(other)),
            );
            return None;
        }
    };
    let Some(key) = key else {
        errors.push(field, format!("is required (\"{ELEMENT_KEY}\")"));
        return None;
    };
    let key = loose::string(key, field, Quote::Value, false, errors)?;
    if key == ELEMENT_KEY {
        Some(key)
    } else {
        errors.push(
            field,
            format!(
                "must be \"{ELEMENT_KEY}\" (the only element served), not \"{}\"",
                loose::shown(&key)
            ),
        );
        None
    }
}

/// `Some(None)` when the code is absent but not required.
fn read_code(
    body: &Map<String, Value>,
    opts: &ValidationOptions,
    errors: &mut ValidationErrors,
) -> Option<Option<Secret>> {
    let field = "providerData.code";
    let code = match present(body, "providerData") {
        None => None,
        Some(Value::Object(provider)) => present(provider, "code"),
        Some(other) => {
            errors.push(
                "providerData",
                format!("must be a JSON object, not {}", loose::type_name(other)),
            );
            return None;
        }
    };
    match code {
        None if opts.require_code => {
            errors.push(field, "is required (the OAuth authorization grant code)");
            None
        }
        None => Some(None),
        Some(v) => {
            loose::string(v, field, Quote::Never, false, errors).map(|c| Some(Secret::new(c)))
        }
    }
}

pub(super) fn read_name(value: &Value, errors: &mut ValidationErrors) -> Option<String> {
    let name = loose::string(value, "name", Quote::Value, false, errors)?;
    if name.chars().count() > MAX_NAME_CHARS {
        errors.push(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        );
        return None;
    }
    Some(name)
}

pub(super) fn read_tags(value: &Value, errors: &mut ValidationErrors) -> Option<Vec<String>> {
    let Value::Array(items) = value else {
        errors.push(
            "tags",
            format!(
                "must be an array of strings, not {}",
                loose::type_name(value)
            ),
        );
        return None;
    };
    let before = errors.len();
    if items.len() > MAX_TAGS {
        errors.push("tags", format!("must hold at most {MAX_TAGS} tags"));
    }
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = item_field("tags", i);
        if let Some(tag) = loose::string(item, &field, Quote::Value, true, errors) {
            if tag.chars().count() > MAX_TAG_CHARS {
                errors.push(field, format!("must be at most {MAX_TAG_CHARS} characters"));
            } else {
                tags.push(tag);
            }
        }
    }
    (errors.len() == before).then_some(tags)
}

fn read_configuration(
    config: &Map<String, Value>,
    opts: &ValidationOptions,
    errors: &mut ValidationErrors,
) -> Option<InstanceConfig> {
    let before = errors.len();
    let oauth_api_key = required(config, keys::OAUTH_API_KEY, Quote::Value, errors);
    let oauth_api_secret = required(config, keys::OAUTH_API_SECRET, Quote::Never, errors);
    let oauth_callback_url = match present(config, keys::OAUTH_CALLBACK_URL) {
        None => {
            errors.push(configuration_field(keys::OAUTH_CALLBACK_URL), "is required");
            None
        }
        Some(v) => loose::http_url(v, &configuration_field(keys::OAUTH_CALLBACK_URL), errors),
    };
    let signature_secret = optional_secret(config, keys::SIGNATURE_SECRET, errors);
    let apim_subscription_key = optional_secret(config, keys::APIM_SUBSCRIPTION_KEY, errors);
    let country = present(config, keys::COUNTRY).and_then(|v| read_country(v, errors));
    let events = EventSettings::read(config, opts, errors);
    let notification_signature_key = optional_secret(config, keys::EVENTS_SIGNATURE_KEY, errors);
    let business_id = present(config, keys::BUSINESS_ID).and_then(|v| read_business_id(v, errors));

    let mut extra = PassThrough::default();
    for (key, value) in config
        .iter()
        .filter(|(k, _)| !keys::KNOWN.contains(&k.as_str()))
    {
        if let Value::String(text) = value {
            let quote = if super::passthrough::looks_secret(key) {
                Quote::Never
            } else {
                Quote::Value
            };
            loose::reject_placeholder(text, &configuration_field(key), quote, errors);
        }
        extra.insert(key.clone(), value.clone());
    }

    if errors.len() != before {
        return None;
    }
    Some(InstanceConfig {
        oauth_api_key: oauth_api_key?,
        oauth_api_secret: Secret::new(oauth_api_secret?),
        oauth_callback_url: oauth_callback_url?,
        signature_secret,
        apim_subscription_key,
        country,
        events,
        notification_signature_key,
        business_id,
        extra,
    })
}

fn required(
    config: &Map<String, Value>,
    key: &str,
    quote: Quote,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let field = configuration_field(key);
    match present(config, key) {
        None => {
            errors.push(field, "is required");
            None
        }
        Some(v) => loose::string(v, &field, quote, false, errors),
    }
}

pub(super) fn optional_secret(
    config: &Map<String, Value>,
    key: &str,
    errors: &mut ValidationErrors,
) -> Option<Secret> {
    let value = present(config, key)?;
    loose::string(
        value,
        &configuration_field(key),
        Quote::Never,
        false,
        errors,
    )
    .map(Secret::new)
}

fn read_country(value: &Value, errors: &mut ValidationErrors) -> Option<String> {
    let field = configuration_field(keys::COUNTRY);
    let text = loose::string(value, &field, Quote::Value, false, errors)?;
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Some(text.to_ascii_uppercase())
    } else {
        errors.push(
            field,
            format!(
                "must be a two-letter country code such as GB or US, not \"{}\"",
                loose::shown(&text)
            ),
        );
        None
    }
}

fn read_business_id(value: &Value, errors: &mut ValidationErrors) -> Option<String> {
    let field = configuration_field(keys::BUSINESS_ID);
    let text = loose::string(value, &field, Quote::Value, false, errors)?;
    if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(text)
    } else {
        errors.push(field, "must be a Sage business id: 32 hexadecimal digits");
        None
    }
}
