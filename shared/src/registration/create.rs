//! `POST /instances`: the registration saga.
//!
//! The grant code is exchanged first (it is single-use and lives 60 s), then the instance
//! is written step by step: id, secret document, record, watermarks, schedule. When a
//! step fails, the steps already done are undone in reverse order and the Sage grant is
//! revoked, so a failed registration leaves neither data nor a live refresh token behind.

use super::http::{ApiError, ApiResponse};
use super::response;
use super::service::RegistrationService;
use super::validation::{check_callback_url, validation_error, validation_options};
use crate::config::{InstanceRequest, parse_instance_request};
use crate::instance_secrets::InstanceSecrets;
use crate::ports::{InstanceRecord, PortError, PortErrorKind, Watermark};
use crate::sage::{AppCredentials, SageError, TokenSet};
use crate::secret::Secret;
use crate::signature::generate_signing_key;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Random bytes in an instance token.
pub const INSTANCE_TOKEN_BYTES: usize = 32;

/// A fresh instance token: 32 random bytes, URL-safe base64 without padding.
pub fn generate_instance_token() -> Secret {
    let bytes: [u8; INSTANCE_TOKEN_BYTES] = rand::random();
    Secret::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// The field the grant code is reported under.
const CODE_FIELD: &str = "providerData.code";

/// What has been written so far, to undo on failure.
#[derive(Default)]
struct Written {
    id: Option<u64>,
    secret: bool,
    record: bool,
    watermarks: bool,
    schedule: bool,
}

impl RegistrationService {
    pub(crate) async fn create_instance(
        &self,
        organization: &str,
        body: &[u8],
    ) -> Result<ApiResponse, ApiError> {
        let request = parse_instance_request(body, &validation_options(&self.settings))
            .map_err(validation_error)?;
        if let Some(url) = &request.configuration.events.callback_url {
            check_callback_url(url, &self.settings)?;
        }
        let Some(code) = &request.code else {
            return Err(ApiError::field(400, CODE_FIELD, "is required"));
        };
        let config = &request.configuration;
        let credentials = AppCredentials {
            client_id: config.oauth_api_key.clone(),
            client_secret: config.oauth_api_secret.clone(),
            redirect_uri: config.oauth_callback_url.clone(),
        };
        let tokens = self
            .deps
            .sage
            .exchange_code(&credentials, code)
            .await
            .map_err(exchange_error)?;

        let mut written = Written::default();
        match self
            .write_instance(organization, &request, &credentials, &tokens, &mut written)
            .await
        {
            Ok(response) => Ok(response),
            Err((step, error)) => {
                tracing::warn!(error = %error, step, "registration failed; undoing");
                self.undo(&written).await;
                self.revoke(&credentials, &tokens).await;
                let status = if error.kind == PortErrorKind::Unavailable {
                    503
                } else {
                    502
                };
                Err(ApiError::new(
                    status,
                    format!(
                        "registration failed while {step}; nothing was kept and the Sage \
                         authorization was revoked — authorize again and retry"
                    ),
                ))
            }
        }
    }

    async fn write_instance(
        &self,
        organization: &str,
        request: &InstanceRequest,
        credentials: &AppCredentials,
        tokens: &TokenSet,
        written: &mut Written,
    ) -> Result<ApiResponse, (&'static str, PortError)> {
        let deps = &self.deps;
        let config = &request.configuration;
        let id = deps
            .instances
            .next_id()
            .await
            .map_err(|e| ("allocating an instance id", e))?;
        written.id = Some(id);

        let token = generate_instance_token();
        // A key the caller gave is kept; otherwise one is generated and shown once.
        let (signature_key, generated_key) = match &config.notification_signature_key {
            Some(key) => (key.clone(), None),
            None => {
                let key = generate_signing_key();
                (key.clone(), Some(key))
            }
        };
        let secrets = InstanceSecrets {
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
            redirect_uri: credentials.redirect_uri.clone(),
            tokens: tokens.clone(),
            signature_key,
            signature_secret: config.signature_secret.clone(),
            apim_subscription_key: config.apim_subscription_key.clone(),
        };
        written.secret = true;
        deps.secrets
            .create(id, &secrets.to_json())
            .await
            .map_err(|e| ("storing the instance secrets", e))?;

        let now = deps.clock.now();
        let mut configuration = config.to_response_configuration();
        if generated_key.is_some() {
            // The stored form says a key is set (masked), like a key the caller gave.
            configuration.insert(
                crate::config::keys::EVENTS_SIGNATURE_KEY.into(),
                serde_json::Value::String(crate::secret::MASK.into()),
            );
        }
        let record = InstanceRecord {
            id,
            organization: organization.to_owned(),
            name: request.name.clone(),
            tags: request.tags.clone(),
            token_hash: super::auth::digest_hex(token.expose()),
            configuration: serde_json::Value::Object(configuration),
            events_enabled: config.events.enabled,
            disabled: false,
            valid: true,
            invalid_reason: None,
            created_at: now,
            updated_at: now,
            poll: Default::default(),
            delivery: Default::default(),
        };
        written.record = true;
        deps.instances
            .create(&record)
            .await
            .map_err(|e| ("storing the instance record", e))?;

        let start = config.events.start.unwrap_or(now);
        if let Some(poller) = &config.events.poller {
            written.watermarks = true;
            for resource in poller.resources() {
                let watermark = Watermark {
                    at: start,
                    seen: Vec::new(),
                };
                deps.watermarks
                    .advance(id, &resource.name, &watermark)
                    .await
                    .map_err(|e| ("storing the initial watermarks", e))?;
            }
        }

        if let (true, Some(minutes)) = (
            config.events.enabled,
            config.events.refresh_interval_minutes,
        ) {
            written.schedule = true;
            deps.scheduler
                .upsert(id, minutes)
                .await
                .map_err(|e| ("creating the poll schedule", e))?;
        }

        tracing::info!(instance = id, organization, "instance registered");
        let body = response::instance_created(&record, &token, generated_key.as_ref());
        Ok(ApiResponse::json(200, body))
    }

    /// Undo what was written, newest first. Best effort: each failure is logged and the
    /// rest is still undone.
    async fn undo(&self, written: &Written) {
        let Some(id) = written.id else { return };
        let deps = &self.deps;
        if written.schedule
            && let Err(e) = deps.scheduler.delete(id).await
        {
            tracing::error!(instance = id, error = %e, "undo: deleting the schedule failed");
        }
        if written.watermarks
            && let Err(e) = deps.watermarks.delete_instance(id).await
        {
            tracing::error!(instance = id, error = %e, "undo: deleting the watermarks failed");
        }
        if written.record
            && let Err(e) = deps.instances.delete(id).await
        {
            tracing::error!(instance = id, error = %e, "undo: deleting the record failed");
        }
        if written.secret
            && let Err(e) = deps.secrets.delete(id).await
        {
            tracing::error!(instance = id, error = %e, "undo: deleting the secrets failed");
        }
    }

    /// Revoke the grant obtained for a registration that did not complete.
    pub(crate) async fn revoke(&self, credentials: &AppCredentials, tokens: &TokenSet) {
        if let Err(e) = self
            .deps
            .sage
            .revoke(credentials, &tokens.refresh_token)
            .await
        {
            tracing::error!(error = %e, "revoking the Sage refresh token failed");
        }
    }
}

/// The code exchange's failure as the API reports it.
pub(crate) fn exchange_error(error: SageError) -> ApiError {
    tracing::warn!(error = %error, "grant code exchange failed");
    match &error {
        SageError::ReauthorizationNeeded { .. } => ApiError::field(
            422,
            CODE_FIELD,
            "was not accepted by Sage (already used, expired, or issued for another \
             client or redirect URI); authorize again for a new code",
        ),
        SageError::OAuth { error: kind, .. } => ApiError::field(
            422,
            CODE_FIELD,
            format!(
                "could not be exchanged: Sage answered {kind}; check oauth.api.key, \
                 oauth.api.secret and oauth.callback.url"
            ),
        ),
        _ => ApiError::new(
            502,
            format!("Sage could not be reached to exchange the grant code: {error}"),
        ),
    }
}
