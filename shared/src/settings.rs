//! Deployment settings read once from the environment at start-up.
//!
//! The same variable names serve the Lambda functions (set by `template.yaml`) and the
//! standalone runner (flags fall back to them); see [`crate::env_names`].

use crate::delivery::retry::RetrySchedule;
use crate::env_names as env;
use crate::ssrf::AddressPolicy;
use std::time::Duration;

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
                Some(v) => parse_number(env::MIN_REFRESH_INTERVAL_MINUTES, &v, 1, 1440)? as u32,
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
                Some(v) => parse_number(env::MAX_RECEIVE_COUNT, &v, 1, 1000)? as u32,
                None => defaults.max_receive_count,
            },
            callback_timeout: match get(env::CALLBACK_TIMEOUT_SECONDS) {
                Some(v) => {
                    Duration::from_secs(parse_number(env::CALLBACK_TIMEOUT_SECONDS, &v, 1, 900)?)
                }
                None => defaults.callback_timeout,
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

fn parse_number(variable: &str, value: &str, min: u64, max: u64) -> Result<u64, SettingsError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| SettingsError {
            variable: variable.into(),
            message: format!("expected a whole number from {min} to {max}, got {value:?}"),
        })
}

/// Set up `tracing` once: JSON lines (CloudWatch-friendly) filtered by `LOG_LEVEL`
/// (default `info`). Safe to call twice (the second call does nothing).
pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var(env::LOG_LEVEL)
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).without_time().try_init()
    } else {
        builder.compact().try_init()
    };
}

/// Set up `tracing` once for the standalone runner, which writes to standard output for
/// whatever collects it: JSON lines with a timestamp (no log service adds one here) or
/// compact text, colored only when `ansi` (a terminal). Same `LOG_LEVEL` filter as
/// [`init_tracing`]. Safe to call twice.
pub fn init_runner_tracing(json: bool, ansi: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var(env::LOG_LEVEL)
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().with_ansi(ansi).try_init()
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
        ])
        .unwrap();
        assert!(s.allow_loopback_callbacks && s.require_https_callbacks);
        assert_eq!(s.min_refresh_interval_minutes, 5);
        assert_eq!(s.retry_schedule.nominal(2), Duration::from_secs(6));
        assert_eq!(s.max_receive_count, 4);
        assert_eq!(s.callback_timeout, Duration::from_secs(7));
        assert!(s.address_policy().allow_loopback);
    }

    #[test]
    fn errors_name_the_variable() {
        let e = read(&[(env::ALLOW_LOOPBACK_CALLBACKS, "maybe")]).unwrap_err();
        assert_eq!(e.variable, env::ALLOW_LOOPBACK_CALLBACKS);
        let e = read(&[(env::MIN_REFRESH_INTERVAL_MINUTES, "0")]).unwrap_err();
        assert_eq!(e.variable, env::MIN_REFRESH_INTERVAL_MINUTES);
        let e = read(&[(env::RETRY_SCHEDULE, "x")]).unwrap_err();
        assert_eq!(e.variable, env::RETRY_SCHEDULE);
        assert!(e.to_string().starts_with("RETRY_SCHEDULE:"));
    }
}
