//! Sage's OAuth 2.0 authorization-code flow: code exchange, refresh, revoke.
//!
//! Requests are form-encoded with `Accept: application/json`. `invalid_grant` (code used
//! or expired, refresh token rotated, expired or revoked) becomes
//! [`SageError::ReauthorizationNeeded`] and is never retried; 429/5xx and broken
//! connections are retried within the call budget.
//!
//! Note on retries: a code or refresh token is single-use. If Sage accepted one but the
//! answer was lost, the retry is refused with `invalid_grant` — reported as
//! `ReauthorizationNeeded`, which is then the truth.

use super::client::{RawResponse, RequestLabel, SageClient};
use super::error::{SageError, parse_oauth_error};
use super::retry::CallBudget;
use crate::secret::Secret;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::ACCEPT;
use serde::{Deserialize, Serialize};

/// The registered Sage app an instance uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: Secret,
    /// Must equal the redirect URI of the authorization request, character for character.
    pub redirect_uri: String,
}

/// An instance's tokens with their absolute expiry times.
///
/// `Serialize` writes the tokens **in clear** (a token store must persist them): never
/// serialize a `TokenSet` into a log or an API answer. `Debug` masks them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    #[serde(with = "crate::secret::exposed")]
    pub access_token: Secret,
    pub access_expires_at: DateTime<Utc>,
    #[serde(with = "crate::secret::exposed")]
    pub refresh_token: Secret,
    pub refresh_expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by_id: Option<String>,
}

/// A session refreshes the access token when less than this is left, so a token never
/// expires between the check and Sage reading the request.
pub const REFRESH_MARGIN_SECONDS: i64 = 60;

impl TokenSet {
    /// Whether the access token should be replaced before use at `now`.
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        self.access_expires_at - now < TimeDelta::seconds(REFRESH_MARGIN_SECONDS)
    }

    /// Whether the refresh token can no longer be used at `now`.
    pub fn refresh_expired(&self, now: DateTime<Utc>) -> bool {
        self.refresh_expires_at <= now
    }
}

impl SageClient {
    /// Exchanges a grant code (single-use, valid for 60 s) for tokens.
    pub async fn exchange_code(
        &self,
        creds: &AppCredentials,
        code: &Secret,
    ) -> Result<TokenSet, SageError> {
        let form = [
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose()),
            ("code", code.expose()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", creds.redirect_uri.as_str()),
        ];
        let budget = self.start_budget();
        let raw = self.post_oauth(&budget, false, &form).await?;
        self.read_token_answer(raw, "code exchange")
    }

    /// Trades a refresh token for a new token set. The old refresh token stops working:
    /// persist the result before using it.
    pub async fn refresh(
        &self,
        creds: &AppCredentials,
        refresh_token: &Secret,
    ) -> Result<TokenSet, SageError> {
        let budget = self.start_budget();
        self.refresh_within(&budget, creds, refresh_token).await
    }

    pub(crate) async fn refresh_within(
        &self,
        budget: &CallBudget,
        creds: &AppCredentials,
        refresh_token: &Secret,
    ) -> Result<TokenSet, SageError> {
        let form = [
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        let raw = self.post_oauth(budget, false, &form).await?;
        self.read_token_answer(raw, "token refresh")
    }

    /// Revokes a token (refresh or access) — done when an instance is deleted.
    pub async fn revoke(&self, creds: &AppCredentials, token: &Secret) -> Result<(), SageError> {
        let form = [
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose()),
            ("token", token.expose()),
        ];
        let budget = self.start_budget();
        let raw = self.post_oauth(&budget, true, &form).await?;
        if raw.status.is_success() {
            Ok(())
        } else {
            Err(oauth_failure(&raw))
        }
    }

    async fn post_oauth(
        &self,
        budget: &CallBudget,
        revoke: bool,
        form: &[(&str, &str)],
    ) -> Result<RawResponse, SageError> {
        let url = if revoke {
            &self.endpoints.revoke_url
        } else {
            &self.endpoints.token_url
        };
        let label = RequestLabel {
            method: "POST",
            path: url.path(),
        };
        let build = || {
            self.http
                .post(url.clone())
                .header(ACCEPT, "application/json")
                .form(form)
        };
        self.execute(budget, label, &build).await
    }

    /// Reads a `/token` answer. Its body is never logged nor quoted in an error.
    fn read_token_answer(&self, raw: RawResponse, context: &str) -> Result<TokenSet, SageError> {
        if !raw.status.is_success() {
            return Err(oauth_failure(&raw));
        }
        // Taken before parsing and after the answer: lifetimes start no later than this.
        let issued_at = self.clock.now();
        let invalid = |message: String| SageError::InvalidResponse {
            context: context.to_owned(),
            message,
        };
        let body: serde_json::Value = serde_json::from_slice(&raw.body)
            .map_err(|_| invalid("the token answer is not JSON".to_owned()))?;
        let token = |name: &str| -> Result<Secret, SageError> {
            match body.get(name).and_then(|v| v.as_str()) {
                Some(value) if !value.is_empty() => Ok(Secret::new(value)),
                _ => Err(invalid(format!("the token answer has no {name}"))),
            }
        };
        let lifetime = |name: &str| -> Result<TimeDelta, SageError> {
            let seconds = match body.get(name) {
                Some(serde_json::Value::Number(n)) => n.as_i64(),
                Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            seconds
                .filter(|s| *s >= 0)
                .and_then(TimeDelta::try_seconds)
                .ok_or_else(|| invalid(format!("the token answer has no usable {name}")))
        };
        let text = |name: &str| -> Option<String> {
            match body.get(name) {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }
        };
        Ok(TokenSet {
            access_token: token("access_token")?,
            access_expires_at: issued_at + lifetime("expires_in")?,
            refresh_token: token("refresh_token")?,
            refresh_expires_at: issued_at + lifetime("refresh_token_expires_in")?,
            scope: text("scope"),
            requested_by_id: text("requested_by_id"),
        })
    }
}

/// The error for a refused OAuth request.
fn oauth_failure(raw: &RawResponse) -> SageError {
    let status = raw.status.as_u16();
    match parse_oauth_error(&raw.body) {
        Some((error, description)) if error == "invalid_grant" => {
            SageError::ReauthorizationNeeded {
                reason: match description {
                    Some(d) => format!("Sage refused the grant (invalid_grant: {d})"),
                    None => {
                        "Sage refused the grant code or refresh token (invalid_grant)".to_owned()
                    }
                },
            }
        }
        Some((error, description)) => SageError::OAuth {
            status,
            error,
            description,
        },
        None => SageError::OAuth {
            status,
            error: format!("http_{status}"),
            description: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tokens() -> TokenSet {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        TokenSet {
            access_token: Secret::new("access-value"),
            access_expires_at: at,
            refresh_token: Secret::new("refresh-value"),
            refresh_expires_at: at + TimeDelta::days(31),
            scope: Some("full_access".into()),
            requested_by_id: None,
        }
    }

    #[test]
    fn token_set_persists_secrets_but_debug_masks_them() {
        let set = tokens();
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.contains("access-value") && json.contains("refresh-value"));
        let back: TokenSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
        let debug = format!("{set:?}");
        assert!(!debug.contains("access-value") && !debug.contains("refresh-value"));
    }

    #[test]
    fn refresh_is_due_within_the_margin() {
        let set = tokens();
        let at = set.access_expires_at;
        assert!(!set.needs_refresh(at - TimeDelta::seconds(61)));
        assert!(set.needs_refresh(at - TimeDelta::seconds(59)));
        assert!(set.needs_refresh(at + TimeDelta::seconds(1)));
        assert!(!set.refresh_expired(at));
        assert!(set.refresh_expired(set.refresh_expires_at));
    }
}
