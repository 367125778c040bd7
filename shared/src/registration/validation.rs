//! Request checks beyond the body's shape: the callback URL policy of the deployment, and
//! the translation of field errors into the API's error body.

use super::http::ApiError;
use crate::config::{ValidationErrors, ValidationOptions, configuration_field, keys};
use crate::settings::Settings;

/// The validation knobs of a deployment.
pub fn validation_options(settings: &Settings) -> ValidationOptions {
    ValidationOptions {
        min_refresh_interval_minutes: settings.min_refresh_interval_minutes,
        require_code: true,
    }
}

/// 400 naming the first field, with every field error listed.
pub fn validation_error(errors: ValidationErrors) -> ApiError {
    let list: Vec<(String, String)> = errors
        .iter()
        .map(|e| (e.field.clone(), e.message.clone()))
        .collect();
    let Some((field, message)) = list.first().cloned() else {
        return ApiError::bad_request("invalid request");
    };
    let message = if list.len() == 1 {
        format!("{field}: {message}")
    } else {
        format!("{} problems; first: {field}: {message}", list.len())
    };
    ApiError {
        status: 400,
        message,
        field: Some(field),
        errors: list,
    }
}

/// The deployment's rules for a callback URL: http or https (https only when required),
/// and no host in a blocked address range. Names that do not resolve are accepted here;
/// delivery resolves and checks every address.
pub fn check_callback_url(url: &str, settings: &Settings) -> Result<(), ApiError> {
    let field = configuration_field(keys::EVENTS_CALLBACK_URL);
    let parsed = url::Url::parse(url)
        .map_err(|e| ApiError::field(400, &field, format!("is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if !settings.require_https_callbacks => {}
        "http" => {
            return Err(ApiError::field(
                400,
                &field,
                "must use https (this deployment refuses plain http callbacks)",
            ));
        }
        _ => {
            return Err(ApiError::field(400, &field, "must be an http or https URL"));
        }
    }
    let Some(host) = parsed.host() else {
        return Err(ApiError::field(400, &field, "has no host"));
    };
    settings
        .address_policy()
        .check_host(&host)
        .map_err(|range| {
            ApiError::field(
                400,
                &field,
                format!("points to a blocked address range ({range}); callbacks must reach a public address"),
            )
        })
}
