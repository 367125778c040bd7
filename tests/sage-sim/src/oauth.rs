//! Sage's OAuth state: grant codes, access tokens, rotating refresh tokens.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

use crate::config::SimConfig;

/// Sage's tokens are about 1,300 characters; clients must store them whole.
const TOKEN_LEN: usize = 1300;
const CODE_LEN: usize = 40;

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Why the token endpoint refused (RFC 6749 §5.2 error codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    pub(crate) fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

#[derive(Debug)]
struct IssuedCode {
    client_id: String,
    redirect_uri: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug)]
struct AccessGrant {
    /// The authorization (code exchange) this token descends from.
    grant: u64,
    expires_at: DateTime<Utc>,
}

#[derive(Debug)]
struct RefreshGrant {
    client_id: String,
    grant: u64,
    expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub(crate) struct OAuthState {
    clients: Vec<(String, String)>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    code_ttl: Duration,
    /// The user the tokens are issued for (`requested_by_id`).
    user_id: String,
    codes: HashMap<String, IssuedCode>,
    access: HashMap<String, AccessGrant>,
    /// Live refresh tokens only: a used or revoked one is removed, so a reuse is unknown.
    refresh: HashMap<String, RefreshGrant>,
    next_grant: u64,
}

impl OAuthState {
    pub(crate) fn new(config: &SimConfig) -> Self {
        OAuthState {
            clients: config.clients.clone(),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
            code_ttl: config.code_ttl,
            user_id: crate::store::new_id(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            next_grant: 1,
        }
    }

    pub(crate) fn knows_client(&self, client_id: &str) -> bool {
        self.clients.iter().any(|(id, _)| id == client_id)
    }

    pub(crate) fn issue_code(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> String {
        let code = random_string(CODE_LEN);
        self.codes.insert(
            code.clone(),
            IssuedCode {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                expires_at: now + delta(self.code_ttl),
            },
        );
        code
    }

    fn check_client(&self, form: &Form) -> Result<String, OAuthError> {
        let id = form.required("client_id")?;
        let secret = form.required("client_secret")?;
        let known = self
            .clients
            .iter()
            .any(|(cid, csecret)| cid == id && csecret == secret);
        if known {
            Ok(id.to_owned())
        } else {
            Err(OAuthError::new(
                "invalid_client",
                "client authentication failed",
            ))
        }
    }

    /// `POST /token`.
    pub(crate) fn token(&mut self, form: &Form, now: DateTime<Utc>) -> Result<Value, OAuthError> {
        let grant_type = form.required("grant_type")?;
        if grant_type != "authorization_code" && grant_type != "refresh_token" {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {grant_type:?} is not supported"),
            ));
        }
        let client_id = self.check_client(form)?;
        let grant = if grant_type == "authorization_code" {
            let code = form.required("code")?;
            let redirect_uri = form.required("redirect_uri")?;
            // A code is single-use: any attempt with it uses it up.
            let issued = self.codes.remove(code).ok_or_else(|| {
                OAuthError::new("invalid_grant", "the code is unknown or was already used")
            })?;
            if now >= issued.expires_at {
                return Err(OAuthError::new("invalid_grant", "the code has expired"));
            }
            if issued.client_id != client_id {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "the code was issued to another client",
                ));
            }
            if issued.redirect_uri != redirect_uri {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "redirect_uri does not match the one the code was issued for",
                ));
            }
            let grant = self.next_grant;
            self.next_grant += 1;
            grant
        } else {
            let token = form.required("refresh_token")?;
            let held = self.refresh.get(token).ok_or_else(|| {
                OAuthError::new(
                    "invalid_grant",
                    "the refresh token is unknown, used or revoked",
                )
            })?;
            if held.client_id != client_id {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "the refresh token belongs to another client",
                ));
            }
            if now >= held.expires_at {
                self.refresh.remove(token);
                return Err(OAuthError::new(
                    "invalid_grant",
                    "the refresh token has expired",
                ));
            }
            let grant = held.grant;
            // Rotation: the used refresh token is dead from now on.
            self.refresh.remove(token);
            grant
        };
        Ok(self.issue_tokens(&client_id, grant, now))
    }

    fn issue_tokens(&mut self, client_id: &str, grant: u64, now: DateTime<Utc>) -> Value {
        let access_token = random_string(TOKEN_LEN);
        let refresh_token = random_string(TOKEN_LEN);
        self.access.insert(
            access_token.clone(),
            AccessGrant {
                grant,
                expires_at: now + delta(self.access_ttl),
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshGrant {
                client_id: client_id.to_owned(),
                grant,
                expires_at: now + delta(self.refresh_ttl),
            },
        );
        json!({
            "access_token": access_token,
            "scope": "full_access",
            "token_type": "bearer",
            "expires_in": self.access_ttl.as_secs(),
            "refresh_token": refresh_token,
            "refresh_token_expires_in": self.refresh_ttl.as_secs(),
            "requested_by_id": self.user_id,
        })
    }

    /// `POST /revoke`: revoking a refresh token ends its whole authorization (it and the
    /// access tokens issued under it); revoking an access token ends just that token.
    /// Unknown tokens are fine (RFC 7009 §2.2).
    pub(crate) fn revoke(&mut self, form: &Form) -> Result<Value, OAuthError> {
        self.check_client(form)?;
        let token = form.required("token")?;
        if let Some(held) = self.refresh.remove(token) {
            self.access.retain(|_, a| a.grant != held.grant);
            self.refresh.retain(|_, r| r.grant != held.grant);
        } else {
            self.access.remove(token);
        }
        Ok(json!({"success": "ok"}))
    }

    /// Whether a bearer token is valid now.
    pub(crate) fn access_valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.access.get(token).is_some_and(|a| now < a.expires_at)
    }
}

/// A decoded form body (first value of each name wins).
#[derive(Debug, Default)]
pub(crate) struct Form(pub(crate) Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OAuthError::new("invalid_request", format!("{name} is missing")))
    }
}
