//! `PATCH /instances/{id}`: what may change after registration, and re-validation of the
//! result.
//!
//! Only what does not need a new OAuth grant may be patched: the name and tags, and the
//! event keys (`event.notification.enabled`, `event.notification.callback.url`,
//! `event.poller.refresh_interval`, `event.poller.configuration`, and a new
//! `event.notification.signature.key` — key rotation). Credentials and the OAuth callback
//! URL belong to the grant and need a new instance. A key cannot be removed by PATCH
//! (`null` is refused): disable events instead.
//!
//! The registration service keeps an instance's non-secret configuration in its stored
//! form ([`InstanceConfig::to_response_configuration`](super::InstanceConfig)). It reads
//! it back with [`StoredInstanceConfig::from_configuration`], and
//! [`InstancePatch::merge_into`] yields the patched stored configuration, validated as a
//! whole (enabling events on an instance without a callback URL is refused).

use super::errors::configuration_field;
use super::events::{self, EventSettings};
use super::instance::{optional_secret, present, read_name, read_tags};
use super::loose;
use super::{InstanceConfig, ValidationErrors, ValidationOptions, body_object, keys};
use crate::poller_config::PollerConfiguration;
use crate::secret::{MASK, Secret};
use serde_json::{Map, Value};

/// The configuration keys a PATCH may set.
pub const PATCHABLE_KEYS: &[&str] = &[
    keys::EVENTS_ENABLED,
    keys::EVENTS_CALLBACK_URL,
    keys::REFRESH_INTERVAL,
    keys::POLLER_CONFIGURATION,
    keys::EVENTS_SIGNATURE_KEY,
];

/// The top-level keys of a PATCH body.
const PATCHABLE_TOP_LEVEL: &[&str] = &["name", "tags", "configuration"];

/// An instance's stored (non-secret) configuration, with its event settings read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInstanceConfig {
    configuration: Map<String, Value>,
    pub events: EventSettings,
    /// Whether a callback signature key is set (its value lives with the secrets).
    pub has_signature_key: bool,
}

impl StoredInstanceConfig {
    /// Read a stored configuration. Only the event keys are validated: the credentials in
    /// it were checked at registration and are masked here anyway.
    pub fn from_configuration(
        configuration: &Map<String, Value>,
        opts: &ValidationOptions,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let events = EventSettings::read(configuration, opts, &mut errors);
        let stored = StoredInstanceConfig {
            configuration: configuration.clone(),
            events,
            has_signature_key: present(configuration, keys::EVENTS_SIGNATURE_KEY).is_some(),
        };
        errors.into_result(stored)
    }

    /// The stored form.
    pub fn configuration(&self) -> &Map<String, Value> {
        &self.configuration
    }

    pub fn into_configuration(self) -> Map<String, Value> {
        self.configuration
    }
}

impl From<&InstanceConfig> for StoredInstanceConfig {
    fn from(config: &InstanceConfig) -> Self {
        StoredInstanceConfig {
            configuration: config.to_response_configuration(),
            events: config.events.clone(),
            has_signature_key: config.notification_signature_key.is_some(),
        }
    }
}

/// A validated PATCH body. `None` = leave as is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstancePatch {
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    pub configuration: ConfigurationPatch,
}

/// The configuration part of a PATCH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigurationPatch {
    pub events_enabled: Option<bool>,
    pub callback_url: Option<String>,
    pub refresh_interval_minutes: Option<u32>,
    pub poller: Option<PollerConfiguration>,
    /// A new callback signature key (rotation); to be written to the instance's secrets.
    pub signature_key: Option<Secret>,
}

impl InstancePatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.tags.is_none() && self.configuration.is_empty()
    }

    /// The stored configuration with this patch applied, validated as a whole.
    pub fn merge_into(
        &self,
        current: &StoredInstanceConfig,
        opts: &ValidationOptions,
    ) -> Result<StoredInstanceConfig, ValidationErrors> {
        let mut merged = current.configuration.clone();
        self.configuration.apply_to(&mut merged);
        StoredInstanceConfig::from_configuration(&merged, opts)
    }
}

impl ConfigurationPatch {
    pub fn is_empty(&self) -> bool {
        self.events_enabled.is_none()
            && self.callback_url.is_none()
            && self.refresh_interval_minutes.is_none()
            && self.poller.is_none()
            && self.signature_key.is_none()
    }

    /// Write the patched keys into a stored configuration, in the stored form (the
    /// signature key as the mask).
    pub fn apply_to(&self, configuration: &mut Map<String, Value>) {
        if let Some(enabled) = self.events_enabled {
            configuration.insert(keys::EVENTS_ENABLED.into(), Value::Bool(enabled));
        }
        if let Some(url) = &self.callback_url {
            configuration.insert(keys::EVENTS_CALLBACK_URL.into(), Value::String(url.clone()));
        }
        if let Some(minutes) = self.refresh_interval_minutes {
            configuration.insert(
                keys::REFRESH_INTERVAL.into(),
                Value::String(minutes.to_string()),
            );
        }
        if let Some(poller) = &self.poller {
            configuration.insert(
                keys::POLLER_CONFIGURATION.into(),
                Value::String(poller.to_json_string()),
            );
        }
        if self.signature_key.is_some() {
            configuration.insert(
                keys::EVENTS_SIGNATURE_KEY.into(),
                Value::String(MASK.to_owned()),
            );
        }
    }
}

/// Parse and validate a PATCH body. With `current`, the patched configuration is also
/// validated as a whole and its errors reported with the body's.
pub fn parse_instance_patch(
    body: &[u8],
    current: Option<&StoredInstanceConfig>,
    opts: &ValidationOptions,
) -> Result<InstancePatch, ValidationErrors> {
    let body = body_object(body)?;
    let mut errors = ValidationErrors::new();
    for key in body
        .keys()
        .filter(|k| !PATCHABLE_TOP_LEVEL.contains(&k.as_str()))
    {
        errors.push(
            super::child_field("", key),
            format!(
                "cannot be changed by PATCH; patchable: {}",
                PATCHABLE_TOP_LEVEL.join(", ")
            ),
        );
    }
    let mut patch = InstancePatch::default();
    if let Some(value) = body.get("name") {
        patch.name = read_name(value, &mut errors);
    }
    if let Some(value) = body.get("tags") {
        patch.tags = read_tags(value, &mut errors);
    }
    match body.get("configuration") {
        None => {}
        Some(Value::Object(config)) => {
            patch.configuration = read_configuration_patch(config, opts, &mut errors);
        }
        Some(other) => errors.push(
            "configuration",
            format!("must be a JSON object, not {}", loose::type_name(other)),
        ),
    }
    if errors.is_empty()
        && let Some(current) = current
        && let Err(e) = patch.merge_into(current, opts)
    {
        errors.extend(e);
    }
    errors.into_result(patch)
}

fn read_configuration_patch(
    config: &Map<String, Value>,
    opts: &ValidationOptions,
    errors: &mut ValidationErrors,
) -> ConfigurationPatch {
    for (key, value) in config {
        if !PATCHABLE_KEYS.contains(&key.as_str()) {
            errors.push(
                configuration_field(key),
                format!(
                    "cannot be changed by PATCH; patchable: {}",
                    PATCHABLE_KEYS.join(", ")
                ),
            );
        } else if value.is_null() {
            errors.push(
                configuration_field(key),
                "cannot be removed; disable events instead",
            );
        }
    }
    let get = |key: &str| present(config, key);
    ConfigurationPatch {
        events_enabled: get(keys::EVENTS_ENABLED).and_then(|v| events::read_enabled(v, errors)),
        callback_url: get(keys::EVENTS_CALLBACK_URL)
            .and_then(|v| events::read_callback_url(v, errors)),
        refresh_interval_minutes: get(keys::REFRESH_INTERVAL)
            .and_then(|v| events::read_refresh_interval(v, opts, errors)),
        poller: get(keys::POLLER_CONFIGURATION).and_then(|v| events::read_poller(v, errors)),
        signature_key: optional_secret(config, keys::EVENTS_SIGNATURE_KEY, errors),
    }
}
