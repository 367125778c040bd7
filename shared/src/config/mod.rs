//! The instance configuration of `POST /instances` (and `PATCH /instances/{id}`) and its
//! validation.
//!
//! A body is read into a [`serde_json::Value`] first and then checked field by field, so
//! that every problem is reported at once ([`ValidationErrors`]) with the path of the field
//! (`configuration."event.poller.refresh_interval"`), and so that the loose typing of Cloud
//! Elements bodies (`true`/`"true"`, `15`/`"15"`, the poller configuration as an object or
//! a string) is accepted.
//!
//! Template placeholders (`"<COUNTRY_CODE>"`) left in a copied body are rejected by name.
//!
//! # Configuration keys
//! | key | type | notes |
//! |---|---|---|
//! | `oauth.api.key` | string, required | the Sage app's client id |
//! | `oauth.api.secret` | secret, required | the client secret |
//! | `oauth.callback.url` | http(s) URL, required | the OAuth `redirect_uri`, kept byte-exact |
//! | `signature.secret`, `apim.subscription.key` | secret, optional | old v3 API leftovers: accepted and kept, not used by v3.1 |
//! | `country` | two letters, optional | upper-cased; v3.1 serves CA, ES, FR, GB, IE, US (DE on a few endpoints); any two letters are accepted since v3.1 has one host for all |
//! | `event.notification.enabled` | boolean, default false | |
//! | `event.notification.callback.url` | http(s) URL | required when events are enabled |
//! | `event.notification.signature.key` | secret, optional | HMAC key of the callbacks |
//! | `event.vendor.type` | `polling`, optional | |
//! | `event.poller.refresh_interval` | whole minutes | required when events are enabled; `min..=1440` |
//! | `event.poller.configuration` | object or JSON string | required and non-empty when events are enabled; see [`crate::poller_config`] |
//! | `event.poller.start` | RFC 3339, optional | where a resource without a watermark starts (backfill) |
//! | `sage.business.id` | 32 hex digits, optional | sent as `X-Business` |
//!
//! Any other key is kept as given (pass-through); values of keys that look secret
//! (containing `secret`, `key`, `token` or `password`) are masked whenever shown.
//!
//! # Decisions
//! - Unknown *top-level* keys of a POST body (`disabled`, `id`, … sent back by clients
//!   that copy a Cloud Elements response) are ignored; in a PATCH they are refused.
//! - `null` counts as absent in a POST body; in a PATCH it is refused (keys cannot be
//!   removed).
//! - Numbers must be whole: `15`, `15.0` or `"15"`, not `15.5` (JSON does not tell 15.0
//!   from 15, and neither does JSON Schema's `integer`, which openapi.yaml uses).
//! - The refresh interval is required when events are enabled (Cloud Elements' default
//!   is undocumented; a silent default would hide a typo in the key).

pub mod errors;
mod events;
mod instance;
pub(crate) mod loose;
mod passthrough;
mod patch;

pub use errors::{FieldError, ValidationErrors, child_field, configuration_field, item_field};
pub use events::EventSettings;
pub use instance::{InstanceConfig, InstanceRequest, parse_instance_request};
pub use loose::is_placeholder;
pub use passthrough::PassThrough;
pub use patch::{ConfigurationPatch, InstancePatch, StoredInstanceConfig, parse_instance_patch};

/// The only element this service implements.
pub const ELEMENT_KEY: &str = "sageone";
/// Longest instance name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest tag accepted, in characters.
pub const MAX_TAG_CHARS: usize = 100;
/// Most tags accepted.
pub const MAX_TAGS: usize = 50;
/// Largest refresh interval, minutes (one day).
pub const MAX_REFRESH_INTERVAL_MINUTES: u32 = 1440;

/// Configuration keys.
pub mod keys {
    pub const OAUTH_API_KEY: &str = "oauth.api.key";
    pub const OAUTH_API_SECRET: &str = "oauth.api.secret";
    pub const OAUTH_CALLBACK_URL: &str = "oauth.callback.url";
    pub const SIGNATURE_SECRET: &str = "signature.secret";
    pub const APIM_SUBSCRIPTION_KEY: &str = "apim.subscription.key";
    pub const COUNTRY: &str = "country";
    pub const EVENTS_ENABLED: &str = "event.notification.enabled";
    pub const EVENTS_CALLBACK_URL: &str = "event.notification.callback.url";
    pub const EVENTS_SIGNATURE_KEY: &str = "event.notification.signature.key";
    pub const EVENTS_VENDOR_TYPE: &str = "event.vendor.type";
    pub const REFRESH_INTERVAL: &str = "event.poller.refresh_interval";
    pub const POLLER_CONFIGURATION: &str = crate::poller_config::POLLER_CONFIGURATION_KEY;
    pub const POLLER_START: &str = "event.poller.start";
    pub const BUSINESS_ID: &str = "sage.business.id";

    /// Every key this module knows; anything else is passed through.
    pub const KNOWN: &[&str] = &[
        OAUTH_API_KEY,
        OAUTH_API_SECRET,
        OAUTH_CALLBACK_URL,
        SIGNATURE_SECRET,
        APIM_SUBSCRIPTION_KEY,
        COUNTRY,
        EVENTS_ENABLED,
        EVENTS_CALLBACK_URL,
        EVENTS_SIGNATURE_KEY,
        EVENTS_VENDOR_TYPE,
        REFRESH_INTERVAL,
        POLLER_CONFIGURATION,
        POLLER_START,
        BUSINESS_ID,
    ];
}

/// Knobs of validation that depend on the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Smallest refresh interval accepted, minutes (an operator may forbid 1-minute polls).
    pub min_refresh_interval_minutes: u32,
    /// Whether `providerData.code` (the OAuth grant code) is required.
    pub require_code: bool,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            min_refresh_interval_minutes: 1,
            require_code: true,
        }
    }
}

/// Parse a request body into a JSON object, or the single `body` error.
fn body_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, ValidationErrors> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(FieldError::new(
            "body",
            format!("must be a JSON object, not {}", loose::type_name(&other)),
        )
        .into()),
        // serde_json's syntax errors give line and column and never quote the input.
        Err(e) => Err(FieldError::new("body", format!("is not valid JSON: {e}")).into()),
    }
}
