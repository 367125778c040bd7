//! The event settings of a configuration, shared by creation, the stored form and PATCH.

use super::errors::configuration_field;
use super::{MAX_REFRESH_INTERVAL_MINUTES, ValidationErrors, ValidationOptions, keys, loose};
use crate::poller_config::PollerConfiguration;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// The only `event.vendor.type` there is: the service polls, Sage sends no webhooks.
pub const VENDOR_TYPE_POLLING: &str = "polling";

/// Whether and how changes are polled and delivered (every non-secret `event.*` key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventSettings {
    /// `event.notification.enabled` (default false).
    pub enabled: bool,
    /// `event.notification.callback.url`, as given.
    pub callback_url: Option<String>,
    /// `event.vendor.type` (only `polling`).
    pub vendor_type: Option<String>,
    /// `event.poller.refresh_interval`, minutes.
    pub refresh_interval_minutes: Option<u32>,
    /// `event.poller.configuration`.
    pub poller: Option<PollerConfiguration>,
    /// `event.poller.start`: where a resource without a watermark starts.
    pub start: Option<DateTime<Utc>>,
}

impl EventSettings {
    /// Read the event keys of a configuration object, reporting into `errors`. Also checks
    /// that enabled events have a callback URL, an interval and at least one resource.
    pub(crate) fn read(
        config: &Map<String, Value>,
        opts: &ValidationOptions,
        errors: &mut ValidationErrors,
    ) -> EventSettings {
        let get = |key: &str| config.get(key).filter(|v| !v.is_null());
        let enabled = get(keys::EVENTS_ENABLED)
            .and_then(|v| read_enabled(v, errors))
            .unwrap_or(false);
        let callback_url =
            get(keys::EVENTS_CALLBACK_URL).and_then(|v| read_callback_url(v, errors));
        let vendor_type = get(keys::EVENTS_VENDOR_TYPE).and_then(|v| read_vendor_type(v, errors));
        let refresh_interval_minutes =
            get(keys::REFRESH_INTERVAL).and_then(|v| read_refresh_interval(v, opts, errors));
        let poller = get(keys::POLLER_CONFIGURATION).and_then(|v| read_poller(v, errors));
        let start = get(keys::POLLER_START).and_then(|v| read_start(v, errors));

        if enabled {
            let required = "is required when events are enabled";
            if get(keys::EVENTS_CALLBACK_URL).is_none() {
                errors.push(configuration_field(keys::EVENTS_CALLBACK_URL), required);
            }
            if get(keys::REFRESH_INTERVAL).is_none() {
                errors.push(configuration_field(keys::REFRESH_INTERVAL), required);
            }
            match (get(keys::POLLER_CONFIGURATION), &poller) {
                (None, _) => errors.push(configuration_field(keys::POLLER_CONFIGURATION), required),
                (Some(_), Some(p)) if p.is_empty() => errors.push(
                    configuration_field(keys::POLLER_CONFIGURATION),
                    "must name at least one resource when events are enabled",
                ),
                _ => {}
            }
        }
        EventSettings {
            enabled,
            callback_url,
            vendor_type,
            refresh_interval_minutes,
            poller,
            start,
        }
    }

    /// Write these settings in the stored/response form: booleans as booleans, the
    /// interval as a string, the poller configuration as a JSON string (as Cloud Elements
    /// returned them). Keys are written only when given, except `enabled`.
    pub(crate) fn write_to(&self, map: &mut Map<String, Value>) {
        map.insert(keys::EVENTS_ENABLED.into(), Value::Bool(self.enabled));
        if let Some(url) = &self.callback_url {
            map.insert(keys::EVENTS_CALLBACK_URL.into(), Value::String(url.clone()));
        }
        if let Some(vendor) = &self.vendor_type {
            map.insert(
                keys::EVENTS_VENDOR_TYPE.into(),
                Value::String(vendor.clone()),
            );
        }
        if let Some(minutes) = self.refresh_interval_minutes {
            map.insert(
                keys::REFRESH_INTERVAL.into(),
                Value::String(minutes.to_string()),
            );
        }
        if let Some(poller) = &self.poller {
            map.insert(
                keys::POLLER_CONFIGURATION.into(),
                Value::String(poller.to_json_string()),
            );
        }
        if let Some(start) = &self.start {
            map.insert(
                keys::POLLER_START.into(),
                Value::String(start.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            );
        }
    }
}

pub(crate) fn read_enabled(value: &Value, errors: &mut ValidationErrors) -> Option<bool> {
    loose::boolean(value, &configuration_field(keys::EVENTS_ENABLED), errors)
}

pub(crate) fn read_callback_url(value: &Value, errors: &mut ValidationErrors) -> Option<String> {
    loose::http_url(
        value,
        &configuration_field(keys::EVENTS_CALLBACK_URL),
        errors,
    )
}

fn read_vendor_type(value: &Value, errors: &mut ValidationErrors) -> Option<String> {
    let field = configuration_field(keys::EVENTS_VENDOR_TYPE);
    let text = loose::string(value, &field, loose::Quote::Value, false, errors)?;
    if text.eq_ignore_ascii_case(VENDOR_TYPE_POLLING) {
        Some(VENDOR_TYPE_POLLING.to_owned())
    } else {
        errors.push(
            field,
            format!(
                "must be \"{VENDOR_TYPE_POLLING}\" (Sage sends no webhooks), not \"{}\"",
                loose::shown(&text)
            ),
        );
        None
    }
}

pub(crate) fn read_refresh_interval(
    value: &Value,
    opts: &ValidationOptions,
    errors: &mut ValidationErrors,
) -> Option<u32> {
    let min = i64::from(opts.min_refresh_interval_minutes.max(1));
    loose::whole_number(
        value,
        &configuration_field(keys::REFRESH_INTERVAL),
        min,
        i64::from(MAX_REFRESH_INTERVAL_MINUTES),
        "minutes",
        errors,
    )
    .and_then(|n| u32::try_from(n).ok())
}

pub(crate) fn read_poller(
    value: &Value,
    errors: &mut ValidationErrors,
) -> Option<PollerConfiguration> {
    match PollerConfiguration::parse(value, &configuration_field(keys::POLLER_CONFIGURATION)) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

/// The years an `event.poller.start` may be written in (its own offset's year).
pub const START_YEARS: std::ops::RangeInclusive<i32> = 1970..=2199;

fn read_start(value: &Value, errors: &mut ValidationErrors) -> Option<DateTime<Utc>> {
    let field = configuration_field(keys::POLLER_START);
    let text = loose::string(value, &field, loose::Quote::Value, false, errors)?;
    match DateTime::parse_from_rfc3339(text.trim()) {
        // The stores keep times as 64-bit nanoseconds (to 2262): a year far out is a typo
        // that would otherwise fail registration at the first watermark write (a 502).
        Ok(t) if !START_YEARS.contains(&t.year()) => {
            errors.push(
                field,
                format!(
                    "must lie in the years {} to {}",
                    START_YEARS.start(),
                    START_YEARS.end()
                ),
            );
            None
        }
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(e) => {
            errors.push(
                field,
                format!("must be an RFC 3339 date-time such as 2024-01-31T00:00:00Z ({e})"),
            );
            None
        }
    }
}
