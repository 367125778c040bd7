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
        headers: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, require_https: bool, allow_loopback: bool) -> Result<(), ApiError> {
        let settings = Settings {
            require_https_callbacks: require_https,
            allow_loopback_callbacks: allow_loopback,
            ..Settings::default()
        };
        check_callback_url(url, &settings)
    }

    #[test]
    fn callback_urls_follow_the_deployment_policy() {
        let field = configuration_field(keys::EVENTS_CALLBACK_URL);
        assert!(check("http://example.com/hook", false, false).is_ok());
        assert!(check("https://example.com/hook", true, false).is_ok());
        assert!(check("https://does-not-resolve.invalid/", true, false).is_ok());
        let e = check("http://example.com/hook", true, false).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (400, Some(field.as_str())));
        for blocked in [
            "http://127.0.0.1/",
            "http://localhost:3000/",
            "http://10.0.0.1/",
            "http://[fe80::1]/",
        ] {
            let e = check(blocked, false, false).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field.as_str()), "{blocked}");
        }
        assert!(check("http://127.0.0.1:9000/", false, true).is_ok());
        assert!(check("http://localhost/", false, true).is_ok());
        assert!(check("http://10.0.0.1/", false, true).is_err());
        assert!(check("mailto:a@example.com", false, false).is_err());
    }

    #[test]
    fn several_field_errors_are_all_listed() {
        let mut errors = ValidationErrors::new();
        errors.push("name", "is required");
        errors.push("tags", "must be an array");
        let e = validation_error(errors);
        assert_eq!(e.field.as_deref(), Some("name"));
        assert_eq!(e.errors.len(), 2);
        let body = e.into_response().body;
        assert_eq!(body["errors"][1]["field"], "tags");
    }
}
