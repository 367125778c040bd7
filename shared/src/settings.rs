//! Deployment settings read once from the environment at start-up.
//!
//! The same variable names serve the Lambda functions (set by `template.yaml`) and the
//! standalone runner (flags fall back to them); see [`crate::env_names`].

use crate::delivery::retry::RetrySchedule;
use crate::env_names as env;
use crate::ssrf::AddressPolicy;
use std::ops::RangeInclusive;
use std::time::Duration;

/// What each numeric setting accepts. Public so `tests/template-check` can hold the
/// template's parameter bounds (`MinValue`/`MaxValue`) to them: a deploy must never
/// succeed with a value the functions refuse at start-up.
pub mod bounds {
    use super::RangeInclusive;

    /// `MIN_REFRESH_INTERVAL_MINUTES`: one minute to one day.
    pub const MIN_REFRESH_INTERVAL_MINUTES: RangeInclusive<u64> = 1..=1440;
    /// `MAX_RECEIVE_COUNT`: SQS's own redrive limit is 1–1000.
    pub const MAX_RECEIVE_COUNT: RangeInclusive<u64> = 1..=1000;
    /// `CALLBACK_TIMEOUT_SECONDS`: up to Lambda's 15-minute maximum (the template narrows
    /// it to fit the delivery function's own timeout).
    pub const CALLBACK_TIMEOUT_SECONDS: RangeInclusive<u64> = 1..=900;
    /// `API_CREDENTIALS_TTL_SECONDS`: how long a warm registration function may keep
    /// using API credentials it read; at most a minute, so a rotation takes effect
    /// within a minute without a redeploy.
    pub const API_CREDENTIALS_TTL_SECONDS: RangeInclusive<u64> = 1..=60;
}

/// A setting that could not be read; names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct SettingsError {
    pub variable: String,
    pub message: String,
}

/// The knobs shared by the functions.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub allow_loopback_callbacks: bool,
    pub require_https_callbacks: bool,
    pub min_refresh_interval_minutes: u32,
    pub retry_schedule: RetrySchedule,
    pub max_receive_count: u32,
    pub callback_timeout: Duration,
    /// How long the registration function trusts the API credentials it read from
    /// Secrets Manager before reading them again (so a rotation reaches warm functions).
    pub api_credentials_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allow_loopback_callbacks: false,
            require_https_callbacks: false,
            min_refresh_interval_minutes: 1,
            retry_schedule: RetrySchedule::default(),
            max_receive_count: 10,
            callback_timeout: Duration::from_secs(15),
            api_credentials_ttl: Duration::from_secs(60),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `lookup`; unset or empty variables take their defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let defaults = Settings::default();
        Ok(Settings {
            allow_loopback_callbacks: match get(env::ALLOW_LOOPBACK_CALLBACKS) {
                Some(v) => parse_bool(env::ALLOW_LOOPBACK_CALLBACKS, &v)?,
                None => defaults.allow_loopback_callbacks,
            },
            require_https_callbacks: match get(env::REQUIRE_HTTPS_CALLBACKS) {
                Some(v) => parse_bool(env::REQUIRE_HTTPS_CALLBACKS, &v)?,
                None => defaults.require_https_callbacks,
            },
            min_refresh_interval_minutes: match get(env::MIN_REFRESH_INTERVAL_MINUTES) {
                Some(v) => parse_number(
                    env::MIN_REFRESH_INTERVAL_MINUTES,
                    &v,
                    bounds::MIN_REFRESH_INTERVAL_MINUTES,
                )? as u32,
                None => defaults.min_refresh_interval_minutes,
            },
            retry_schedule: match get(env::RETRY_SCHEDULE) {
                Some(v) => RetrySchedule::parse(&v).map_err(|message| SettingsError {
                    variable: env::RETRY_SCHEDULE.into(),
                    message,
                })?,
                None => defaults.retry_schedule,
            },
            max_receive_count: match get(env::MAX_RECEIVE_COUNT) {
                Some(v) => {
                    parse_number(env::MAX_RECEIVE_COUNT, &v, bounds::MAX_RECEIVE_COUNT)? as u32
                }
                None => defaults.max_receive_count,
            },
            callback_timeout: match get(env::CALLBACK_TIMEOUT_SECONDS) {
                Some(v) => Duration::from_secs(parse_number(
                    env::CALLBACK_TIMEOUT_SECONDS,
                    &v,
                    bounds::CALLBACK_TIMEOUT_SECONDS,
                )?),
                None => defaults.callback_timeout,
            },
            api_credentials_ttl: match get(env::API_CREDENTIALS_TTL_SECONDS) {
                Some(v) => Duration::from_secs(parse_number(
                    env::API_CREDENTIALS_TTL_SECONDS,
                    &v,
                    bounds::API_CREDENTIALS_TTL_SECONDS,
                )?),
                None => defaults.api_credentials_ttl,
            },
        })
    }

    pub fn address_policy(&self) -> AddressPolicy {
        AddressPolicy {
            allow_loopback: self.allow_loopback_callbacks,
        }
    }
}

fn parse_bool(variable: &str, value: &str) -> Result<bool, SettingsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(SettingsError {
            variable: variable.into(),
            message: format!("expected true or false, got {value:?}"),
        }),
    }
}

fn parse_number(
    variable: &str,
    value: &str,
    range: RangeInclusive<u64>,
) -> Result<u64, SettingsError> {
    let (min, max) = (*range.start(), *range.end());
    value
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| SettingsError {
            variable: variable.into(),
            message: format!("expected a whole number from {min} to {max}, got {value:?}"),
        })
}

/// Crates whose DEBUG and TRACE events can carry secrets, so they are never written
/// whatever `LOG_LEVEL` says: `lambda_runtime` logs every raw invocation event at TRACE
/// (an API Gateway event holds the `Authorization` header, a registration body the OAuth
/// client secret, grant code and signing key; a poller or delivery response can too),
/// and the HTTP stacks below the Sage client and the AWS SDK log request and response
/// details. Their INFO, WARN and ERROR events (failures, never payloads) still pass.
pub const SECRET_BEARING_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_sdk_secretsmanager",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
];

/// Whether an event or span may be logged at all (see [`SECRET_BEARING_TARGETS`]).
pub fn log_allowed(metadata: &tracing::Metadata<'_>) -> bool {
    target_allowed(metadata.target(), *metadata.level())
}

/// [`log_allowed`] on a target and level.
pub fn target_allowed(target: &str, level: tracing::Level) -> bool {
    let quiet = SECRET_BEARING_TARGETS.iter().any(|crate_name| {
        target
            .strip_prefix(crate_name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    // Levels order by verbosity: TRACE > DEBUG > INFO.
    !quiet || level <= tracing::Level::INFO
}

/// Set up `tracing` once: JSON lines (CloudWatch-friendly) filtered by `LOG_LEVEL`
/// (default `info`), never with the DEBUG/TRACE events of [`SECRET_BEARING_TARGETS`].
/// Safe to call twice (the second call does nothing).
pub fn init_tracing(json: bool) {
    use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt};
    let level = std::env::var(env::LOG_LEVEL)
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let filter = level.and(filter_fn(log_allowed));
    let layer = fmt::layer().with_target(false);
    let _ = if json {
        tracing_subscriber::registry()
            .with(
                layer
                    .json()
                    .flatten_event(true)
                    .without_time()
                    .with_filter(filter),
            )
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(layer.compact().with_filter(filter))
            .try_init()
    };
}

/// Set up `tracing` once for the standalone runner, which writes to standard output for
/// whatever collects it: JSON lines with a timestamp (no log service adds one here) or
/// compact text, colored only when `ansi` (a terminal). Same `LOG_LEVEL` filter and
/// secret-bearing-target rule as [`init_tracing`]. Safe to call twice.
pub fn init_runner_tracing(json: bool, ansi: bool) {
    use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt};
    let level = std::env::var(env::LOG_LEVEL)
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let filter = level.and(filter_fn(log_allowed));
    let layer = fmt::layer().with_target(false);
    let _ = if json {
        tracing_subscriber::registry()
            .with(layer.json().flatten_event(true).with_filter(filter))
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(layer.compact().with_ansi(ansi).with_filter(filter))
            .try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_when_unset() {
        assert_eq!(read(&[]).unwrap(), Settings::default());
        assert_eq!(
            read(&[(env::ALLOW_LOOPBACK_CALLBACKS, "  ")]).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn values_are_parsed() {
        let s = read(&[
            (env::ALLOW_LOOPBACK_CALLBACKS, "true"),
            (env::REQUIRE_HTTPS_CALLBACKS, "1"),
            (env::MIN_REFRESH_INTERVAL_MINUTES, "5"),
            (env::RETRY_SCHEDULE, "2,3,60"),
            (env::MAX_RECEIVE_COUNT, "4"),
            (env::CALLBACK_TIMEOUT_SECONDS, "7"),
            (env::API_CREDENTIALS_TTL_SECONDS, "1"),
        ])
        .unwrap();
        assert!(s.allow_loopback_callbacks && s.require_https_callbacks);
        assert_eq!(s.min_refresh_interval_minutes, 5);
        assert_eq!(s.retry_schedule.nominal(2), Duration::from_secs(6));
        assert_eq!(s.max_receive_count, 4);
        assert_eq!(s.callback_timeout, Duration::from_secs(7));
        assert_eq!(s.api_credentials_ttl, Duration::from_secs(1));
        assert!(s.address_policy().allow_loopback);
    }

    #[test]
    fn errors_name_the_variable() {
        let e = read(&[(env::ALLOW_LOOPBACK_CALLBACKS, "maybe")]).unwrap_err();
        assert_eq!(e.variable, env::ALLOW_LOOPBACK_CALLBACKS);
        let e = read(&[(env::MIN_REFRESH_INTERVAL_MINUTES, "0")]).unwrap_err();
        assert_eq!(e.variable, env::MIN_REFRESH_INTERVAL_MINUTES);
        let e = read(&[(env::API_CREDENTIALS_TTL_SECONDS, "61")]).unwrap_err();
        assert_eq!(e.variable, env::API_CREDENTIALS_TTL_SECONDS);
        let e = read(&[(env::RETRY_SCHEDULE, "x")]).unwrap_err();
        assert_eq!(e.variable, env::RETRY_SCHEDULE);
        assert!(e.to_string().starts_with("RETRY_SCHEDULE:"));
    }

    #[test]
    fn secret_bearing_crates_are_quiet_below_info() {
        use tracing::Level;
        assert!(!target_allowed(
            "lambda_runtime::layers::api_response",
            Level::TRACE
        ));
        assert!(!target_allowed("lambda_runtime", Level::DEBUG));
        assert!(!target_allowed("lambda_runtime_api_client", Level::TRACE));
        assert!(!target_allowed("hyper::proto::h1", Level::TRACE));
        assert!(target_allowed("lambda_runtime", Level::ERROR));
        assert!(target_allowed("lambda_runtime::layers", Level::INFO));
        assert!(target_allowed("sage_events_core::poll", Level::TRACE));
        assert!(target_allowed("registration", Level::DEBUG));
        // A listed name is a crate, not any target that starts alike.
        assert!(target_allowed("hyperloop", Level::TRACE));
    }
}
