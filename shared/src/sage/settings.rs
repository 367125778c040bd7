//! Where Sage is and how patiently we talk to it.

use std::time::Duration;
use url::Url;

/// Sage's real v3.1 API root (one host for every country).
pub const DEFAULT_API_URL: &str = "https://api.accounting.sage.com/v3.1";
/// Sage's OAuth token endpoint (code exchange and refresh).
pub const DEFAULT_TOKEN_URL: &str = "https://oauth.accounting.sage.com/token";
/// Sage's OAuth revoke endpoint.
pub const DEFAULT_REVOKE_URL: &str = "https://oauth.accounting.sage.com/revoke";

/// Environment variable overriding [`SageEndpoints::api_url`].
pub const ENV_API_URL: &str = "SAGE_API_URL";
/// Environment variable overriding [`SageEndpoints::token_url`].
pub const ENV_TOKEN_URL: &str = "SAGE_TOKEN_URL";
/// Environment variable overriding [`SageEndpoints::revoke_url`].
pub const ENV_REVOKE_URL: &str = "SAGE_REVOKE_URL";

/// The three base URLs of Sage. Every one is configurable so tests and the demo can point
/// the client at a simulator.
///
/// API paths (`/contacts`) and `$next` links are appended to `api_url`'s path, so the
/// `/v3.1` prefix is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SageEndpoints {
    pub api_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
}

/// Idle connections to Sage kept open for reuse. Sage is one host, and a runner caps its
/// polls in flight (32 by default), so this covers a busy runner's steady state without
/// holding hundreds of sockets (and their TLS state) after a burst.
pub const POOL_MAX_IDLE_PER_HOST: usize = 32;
/// How long an idle connection to Sage is kept: beyond a 1-minute poll interval's gap
/// would mostly keep dead weight; below it every poll would pay a new TLS handshake.
pub const POOL_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A `SAGE_*_URL` variable that is set but is not an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is not a usable URL: {reason}")]
pub struct EndpointConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl Default for SageEndpoints {
    fn default() -> Self {
        // The defaults are constants checked by a unit test.
        let parse = |s: &str| Url::parse(s).expect("built-in Sage URL is valid");
        SageEndpoints {
            api_url: parse(DEFAULT_API_URL),
            token_url: parse(DEFAULT_TOKEN_URL),
            revoke_url: parse(DEFAULT_REVOKE_URL),
        }
    }
}

impl SageEndpoints {
    /// Reads `SAGE_API_URL`, `SAGE_TOKEN_URL` and `SAGE_REVOKE_URL`; an unset or empty
    /// variable means Sage's real URL.
    pub fn from_env() -> Result<Self, EndpointConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`SageEndpoints::from_env`] with the variables read through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, EndpointConfigError> {
        let read = |variable: &'static str, default: &str| -> Result<Url, EndpointConfigError> {
            match lookup(variable).map(|v| v.trim().to_owned()) {
                Some(value) if !value.is_empty() => parse_base_url(&value)
                    .map_err(|reason| EndpointConfigError { variable, reason }),
                _ => parse_base_url(default)
                    .map_err(|reason| EndpointConfigError { variable, reason }),
            }
        };
        Ok(SageEndpoints {
            api_url: read(ENV_API_URL, DEFAULT_API_URL)?,
            token_url: read(ENV_TOKEN_URL, DEFAULT_TOKEN_URL)?,
            revoke_url: read(ENV_REVOKE_URL, DEFAULT_REVOKE_URL)?,
        })
    }
}

fn parse_base_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| e.to_string())?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".to_owned());
    }
    Ok(url)
}

/// Timeouts and retry policy.
///
/// A *logical call* (one page, one token request) may make several HTTP attempts. The
/// whole call must end within `call_budget`: before every wait the client checks that the
/// wait still fits, and otherwise fails with
/// [`SageError::BudgetExhausted`](super::SageError::BudgetExhausted) naming the last error,
/// so a Lambda never times out mid-retry without saying why. Each attempt's timeout is also
/// cut to what is left of the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Longest wait for one HTTP attempt, connection to last body byte.
    pub request_timeout: Duration,
    /// Total time for one logical call, retries and waits included.
    pub call_budget: Duration,
    /// Most HTTP attempts for one logical call (at least 1).
    pub max_attempts: u32,
    /// First backoff step when the server gives no `Retry-After`.
    pub backoff_base: Duration,
    /// Largest backoff step.
    pub backoff_max: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            request_timeout: Duration::from_secs(30),
            call_budget: Duration::from_secs(120),
            max_attempts: 6,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sages_real_urls() {
        let endpoints = SageEndpoints::from_lookup(|_| None).unwrap();
        assert_eq!(endpoints, SageEndpoints::default());
        assert_eq!(endpoints.api_url.as_str(), DEFAULT_API_URL);
        assert_eq!(endpoints.token_url.as_str(), DEFAULT_TOKEN_URL);
        assert_eq!(endpoints.revoke_url.as_str(), DEFAULT_REVOKE_URL);
    }

    #[test]
    fn variables_override_and_empty_means_default() {
        let endpoints = SageEndpoints::from_lookup(|name| match name {
            ENV_API_URL => Some("http://127.0.0.1:9000/v3.1".into()),
            ENV_TOKEN_URL => Some("  ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(endpoints.api_url.as_str(), "http://127.0.0.1:9000/v3.1");
        assert_eq!(endpoints.token_url.as_str(), DEFAULT_TOKEN_URL);
    }

    #[test]
    fn invalid_url_names_the_variable() {
        for bad in [
            "not a url",
            "ftp://host/x",
            "http://h/x?a=b",
            "http://u:p@h/x",
        ] {
            let err =
                SageEndpoints::from_lookup(|name| (name == ENV_REVOKE_URL).then(|| bad.to_owned()))
                    .unwrap_err();
            assert_eq!(err.variable, ENV_REVOKE_URL);
            assert!(
                err.to_string()
                    .starts_with("SAGE_REVOKE_URL is not a usable URL")
            );
        }
    }
}
