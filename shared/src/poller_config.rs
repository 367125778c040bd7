//! The `event.poller.configuration` of an instance: which Sage resources to poll and how
//! to read their records.
//!
//! One entry per resource, keyed by the hub resource name (`customers`, `invoices`, …):
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `url` | hub URL with a CEQL `where` clause and a `${…}` date placeholder (required) | — |
//! | `idField` | the record's id field (required) | — |
//! | `datesConfiguration.updatedDateField` | where the last-modified time is | `updated_at` |
//! | `datesConfiguration.updatedDateFormat` | how it is written (SimpleDateFormat) | `yyyy-MM-dd'T'HH:mm:ss'Z'` |
//! | `datesConfiguration.updatedDateTimezone` | zone of a time written without one | `GMT` |
//! | `datesConfiguration.createdDate{Field,Format,Timezone}` | same for the creation time | `created_at`, as above |
//! | `filterByUpdatedDate` | classify CREATED/UPDATED by comparing created and updated | `true` |
//! | `createdCheckTolerance` | seconds created and updated may differ and still be CREATED | `1` |
//! | `pageSize` | records per Sage page, 1–200 | the URL's `pageSize`, else 200 |
//! | `pollDelay` | seconds subtracted from the last poll time (lookback), 0–3600 | `0` |
//!
//! The date defaults are Sage's own: every v3.1 record carries `created_at` and
//! `updated_at` written as `2018-07-31T19:39:46Z` in UTC. The created-check tolerance
//! defaults to one second because Sage writes whole seconds and may stamp `created_at`
//! and `updated_at` of a new record a moment apart.
//!
//! The configuration arrives as a JSON object or as a JSON string holding one (Cloud
//! Elements returned it as a string, and clients send back what they got); both are read
//! here. Unknown keys in a resource entry are rejected: a misspelt `idfield` would
//! otherwise silently fall back to a default and mis-read every record.

use crate::config::{FieldError, ValidationErrors, child_field, loose};
use crate::datefmt::{DatePattern, Zone};
use crate::template::UrlTemplate;
use crate::translate::{MAX_ITEMS_PER_PAGE, SageListRequest, translate};
use serde_json::{Map, Value};

/// The configuration key holding the poller configuration.
pub const POLLER_CONFIGURATION_KEY: &str = "event.poller.configuration";
/// At most this many resources per instance: each costs Sage calls at every poll, and
/// Sage rate-limits per business.
pub const MAX_RESOURCES: usize = 20;
/// Default field of the last-modified time (Sage's).
pub const DEFAULT_UPDATED_FIELD: &str = "updated_at";
/// Default field of the creation time (Sage's).
pub const DEFAULT_CREATED_FIELD: &str = "created_at";
/// Default date format, the one Sage writes.
pub const DEFAULT_DATE_FORMAT: &str = "yyyy-MM-dd'T'HH:mm:ss'Z'";
/// Default zone of dates written without one.
pub const DEFAULT_TIMEZONE: &str = "GMT";
/// Default `createdCheckTolerance`, seconds.
pub const DEFAULT_CREATED_CHECK_TOLERANCE_SECONDS: i64 = 1;
/// Largest `createdCheckTolerance` accepted, seconds (one day).
pub const MAX_CREATED_CHECK_TOLERANCE_SECONDS: i64 = 86_400;
/// Largest `pollDelay` accepted, seconds (one hour).
pub const MAX_POLL_DELAY_SECONDS: i64 = 3_600;

const RESOURCE_KEYS: &[&str] = &[
    "url",
    "idField",
    "datesConfiguration",
    "filterByUpdatedDate",
    "createdCheckTolerance",
    "pageSize",
    "pollDelay",
];
const DATES_KEYS: &[&str] = &[
    "updatedDateField",
    "updatedDateFormat",
    "updatedDateTimezone",
    "createdDateField",
    "createdDateFormat",
    "createdDateTimezone",
];

/// Where one date of a record is and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateField {
    pub field: String,
    pub pattern: DatePattern,
    pub zone: Zone,
}

/// How to poll one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePollConfig {
    /// The configuration key, e.g. `customers`; the events' `objectType`.
    pub name: String,
    /// The URL as configured.
    pub url: String,
    pub template: UrlTemplate,
    pub id_field: String,
    pub updated: DateField,
    pub created: DateField,
    pub filter_by_updated_date: bool,
    pub created_check_tolerance: chrono::Duration,
    /// Records per Sage page (the request's `items_per_page`).
    pub page_size: u32,
    pub poll_delay: chrono::Duration,
    /// What the URL asks of Sage.
    pub request: SageListRequest,
}

/// A validated poller configuration: the object as given (kept to be stored and echoed)
/// and the resources it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollerConfiguration {
    source: Map<String, Value>,
    resources: Vec<ResourcePollConfig>,
}

impl PollerConfiguration {
    /// Read a poller configuration (object, or string holding one). `field` is its path,
    /// e.g. `configuration."event.poller.configuration"`.
    pub fn parse(value: &Value, field: &str) -> Result<Self, ValidationErrors> {
        let source = object_of(value, field)?;
        let resources = resources_of(&source, field)?;
        Ok(PollerConfiguration { source, resources })
    }

    pub fn resources(&self) -> &[ResourcePollConfig] {
        &self.resources
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The object as given.
    pub fn source(&self) -> &Map<String, Value> {
        &self.source
    }

    /// The stored/response form: the object as a compact JSON string, as Cloud Elements
    /// returned it.
    pub fn to_json_string(&self) -> String {
        Value::Object(self.source.clone()).to_string()
    }
}

/// Read a poller configuration given as an object or as a JSON string holding one.
/// `field_prefix` is the configuration's path, used in error messages.
pub fn parse_poller_configuration(
    value: &Value,
    field_prefix: &str,
) -> Result<Vec<ResourcePollConfig>, ValidationErrors> {
    PollerConfiguration::parse(value, field_prefix).map(|p| p.resources)
}

/// The resources of a stored (or response) configuration object, read from its
/// `event.poller.configuration` key.
pub fn resources_from_stored_configuration(
    configuration: &Value,
) -> Result<Vec<ResourcePollConfig>, ValidationErrors> {
    let field = crate::config::configuration_field(POLLER_CONFIGURATION_KEY);
    let Some(object) = configuration.as_object() else {
        return Err(FieldError::new("configuration", "must be a JSON object").into());
    };
    match object.get(POLLER_CONFIGURATION_KEY) {
        None | Some(Value::Null) => Err(FieldError::new(field, "is required").into()),
        Some(value) => parse_poller_configuration(value, &field),
    }
}

/// The configuration object out of `value`, parsing a string as JSON.
fn object_of(value: &Value, field: &str) -> Result<Map<String, Value>, ValidationErrors> {
    let shape = "must be a JSON object of resources (or a string holding one)";
    match value {
        Value::Object(map) => Ok(map.clone()),
        Value::String(text) => {
            let mut errors = ValidationErrors::new();
            if loose::reject_placeholder(text, field, loose::Quote::Value, &mut errors) {
                return Err(errors);
            }
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(other) => Err(FieldError::new(
                    field,
                    format!("{shape}; the string holds {}", loose::type_name(&other)),
                )
                .into()),
                // serde_json's syntax messages give line and column, never the text.
                Err(e) => Err(FieldError::new(field, format!("is not valid JSON: {e}")).into()),
            }
        }
        other => {
            Err(FieldError::new(field, format!("{shape}, not {}", loose::type_name(other))).into())
        }
    }
}

fn resources_of(
    source: &Map<String, Value>,
    field: &str,
) -> Result<Vec<ResourcePollConfig>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if source.len() > MAX_RESOURCES {
        errors.push(
            field,
            format!(
                "has {} resources; at most {MAX_RESOURCES} may be polled per instance",
                source.len()
            ),
        );
    }
    let mut resources = Vec::new();
    for (name, entry) in source {
        let resource_field = child_field(field, name);
        if let Some(resource) = resource(name, entry, &resource_field, &mut errors) {
            resources.push(resource);
        }
    }
    errors.into_result(resources)
}

/// One resource entry; reports every problem and returns `None` when there was any.
fn resource(
    name: &str,
    entry: &Value,
    field: &str,
    errors: &mut ValidationErrors,
) -> Option<ResourcePollConfig> {
    let before = errors.len();
    if name.trim().is_empty() {
        errors.push(field, "a resource name must not be empty");
        return None;
    }
    let known_resource = crate::resources::lookup(name).is_some();
    if !known_resource {
        let known: Vec<_> = crate::resources::known_names().collect();
        errors.push(
            field,
            format!(
                "unknown resource \"{}\"; known resources: {}",
                loose::shown(name),
                known.join(", ")
            ),
        );
    }
    let Value::Object(entry) = entry else {
        errors.push(
            field,
            format!("must be a JSON object, not {}", loose::type_name(entry)),
        );
        return None;
    };
    reject_unknown_keys(entry, RESOURCE_KEYS, field, errors);

    let url_field = child_field(field, "url");
    let url = match present(entry, "url") {
        None => {
            errors.push(&url_field, "is required");
            None
        }
        Some(v) => loose::string(v, &url_field, loose::Quote::Value, false, errors),
    };
    let id_field_path = child_field(field, "idField");
    let id_field = match present(entry, "idField") {
        None => {
            errors.push(&id_field_path, "is required");
            None
        }
        Some(v) => loose::string(v, &id_field_path, loose::Quote::Value, false, errors),
    };

    let dates_field = child_field(field, "datesConfiguration");
    let empty = Map::new();
    let dates = match present(entry, "datesConfiguration") {
        None => &empty,
        Some(Value::Object(map)) => {
            reject_unknown_keys(map, DATES_KEYS, &dates_field, errors);
            map
        }
        Some(other) => {
            errors.push(
                &dates_field,
                format!("must be a JSON object, not {}", loose::type_name(other)),
            );
            &empty
        }
    };
    let updated = date_field(
        dates,
        &dates_field,
        "updated",
        DEFAULT_UPDATED_FIELD,
        errors,
    );
    let created = date_field(
        dates,
        &dates_field,
        "created",
        DEFAULT_CREATED_FIELD,
        errors,
    );

    let filter_by_updated_date = match present(entry, "filterByUpdatedDate") {
        None => Some(true),
        Some(v) => loose::boolean(v, &child_field(field, "filterByUpdatedDate"), errors),
    };
    let created_check_tolerance = seconds(
        entry,
        field,
        "createdCheckTolerance",
        DEFAULT_CREATED_CHECK_TOLERANCE_SECONDS,
        MAX_CREATED_CHECK_TOLERANCE_SECONDS,
        errors,
    );
    let page_size = match present(entry, "pageSize") {
        None => Some(None),
        Some(v) => loose::whole_number(
            v,
            &child_field(field, "pageSize"),
            1,
            i64::from(MAX_ITEMS_PER_PAGE),
            "",
            errors,
        )
        .and_then(|n| u32::try_from(n).ok())
        .map(Some),
    };
    let poll_delay = seconds(entry, field, "pollDelay", 0, MAX_POLL_DELAY_SECONDS, errors);

    // The URL is translated as soon as the names it depends on are known (a bad date
    // format does not hide a bad URL), but not after a missing url or idField, so that
    // one mistake is not reported twice.
    let (Some(url), Some(id_field), Some(updated_name), Some(created_name), Some(page_size)) = (
        url,
        id_field,
        updated.field.clone(),
        created.field.clone(),
        page_size,
    ) else {
        return None;
    };
    if !known_resource {
        return None;
    }
    let template = match UrlTemplate::parse(&url) {
        Ok(t) => t,
        Err(e) => {
            errors.push(&url_field, e.to_string());
            return None;
        }
    };
    let request = match translate(
        name,
        &url,
        page_size,
        &[&id_field, &updated_name, &created_name],
    ) {
        Ok(r) => r,
        Err(e) => {
            errors.push(&url_field, e.to_string());
            return None;
        }
    };
    if errors.len() != before {
        return None;
    }
    Some(ResourcePollConfig {
        name: name.to_owned(),
        url,
        template,
        id_field,
        updated: updated.complete()?,
        created: created.complete()?,
        filter_by_updated_date: filter_by_updated_date?,
        created_check_tolerance: created_check_tolerance?,
        page_size: request.items_per_page,
        poll_delay: poll_delay?,
        request,
    })
}

/// The value of `key` unless absent or `null`.
fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn reject_unknown_keys(
    map: &Map<String, Value>,
    known: &[&str],
    field: &str,
    errors: &mut ValidationErrors,
) {
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(
            child_field(field, key),
            format!("unknown key; expected one of {}", known.join(", ")),
        );
    }
}

/// `<which>DateField`, `<which>DateFormat`, `<which>DateTimezone` of `datesConfiguration`.
fn date_field(
    dates: &Map<String, Value>,
    dates_field: &str,
    which: &str,
    default_field: &str,
    errors: &mut ValidationErrors,
) -> PartialDate {
    let name_key = format!("{which}DateField");
    let format_key = format!("{which}DateFormat");
    let zone_key = format!("{which}DateTimezone");

    let field = match present(dates, &name_key) {
        None => Some(default_field.to_owned()),
        Some(v) => loose::string(
            v,
            &child_field(dates_field, &name_key),
            loose::Quote::Value,
            false,
            errors,
        ),
    };
    let format_path = child_field(dates_field, &format_key);
    let pattern = match present(dates, &format_key) {
        None => Some(DEFAULT_DATE_FORMAT.to_owned()),
        Some(v) => loose::string(v, &format_path, loose::Quote::Value, false, errors),
    }
    .and_then(|text| match DatePattern::parse(&text) {
        Ok(p) if p.writes_date_or_time() => Some(p),
        Ok(_) => {
            errors.push(&format_path, "writes no date or time field");
            None
        }
        Err(e) => {
            errors.push(&format_path, e.to_string());
            None
        }
    });
    let zone_path = child_field(dates_field, &zone_key);
    let zone = match present(dates, &zone_key) {
        None => Some(DEFAULT_TIMEZONE.to_owned()),
        Some(v) => loose::string(v, &zone_path, loose::Quote::Value, false, errors),
    }
    .and_then(|text| match Zone::parse(&text) {
        Ok(z) => Some(z),
        Err(e) => {
            errors.push(&zone_path, e.to_string());
            None
        }
    });
    PartialDate {
        field,
        pattern,
        zone,
    }
}

/// A date field as far as it could be read (a part is `None` after an error).
struct PartialDate {
    field: Option<String>,
    pattern: Option<DatePattern>,
    zone: Option<Zone>,
}

impl PartialDate {
    fn complete(self) -> Option<DateField> {
        Some(DateField {
            field: self.field?,
            pattern: self.pattern?,
            zone: self.zone?,
        })
    }
}

/// A whole number of seconds in `0..=max` under `key`, `default` when absent.
fn seconds(
    entry: &Map<String, Value>,
    field: &str,
    key: &str,
    default: i64,
    max: i64,
    errors: &mut ValidationErrors,
) -> Option<chrono::Duration> {
    let n = match present(entry, key) {
        None => default,
        Some(v) => loose::whole_number(v, &child_field(field, key), 0, max, "seconds", errors)?,
    };
    Some(chrono::Duration::seconds(n))
}
