//! The `/instances` API's organization/user credentials, read from the operator's Secrets
//! Manager secret on demand and cached for a bounded time.
//!
//! Why not once at start-up: a warm function would keep accepting rotated-out
//! credentials (and refuse the new ones) for as long as it lives, while the deploy guide
//! promises rotation without a redeploy. Why not on every request: one Secrets Manager
//! call per API call is slow and costs money. A TTL (`API_CREDENTIALS_TTL_SECONDS`,
//! at most 60 s) bounds how long old credentials keep working. Nothing is read during
//! init, so a cold start makes no Secrets Manager call.

use super::lambda_trigger::read_secret_string;
use crate::registration::auth::{Authenticator, CredentialsSource, CredentialsUnavailable};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// [`CredentialsSource`] on a Secrets Manager secret, re-read once its copy is older
/// than the TTL. A failed read is not cached and fails closed: the request is refused
/// (503), stale credentials are not used past their TTL.
#[derive(Debug)]
pub struct SecretsManagerCredentials {
    config: aws_config::SdkConfig,
    secret_id: String,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Authenticator>)>>,
}

impl SecretsManagerCredentials {
    /// Reads nothing yet: the first request reads the secret.
    pub fn new(
        config: &aws_config::SdkConfig,
        secret_id: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        SecretsManagerCredentials {
            config: config.clone(),
            secret_id: secret_id.into(),
            ttl,
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl CredentialsSource for SecretsManagerCredentials {
    async fn current(&self) -> Result<Arc<Authenticator>, CredentialsUnavailable> {
        // Held across the read, so concurrent requests of an expired cache read once.
        let mut cached = self.cached.lock().await;
        if let Some((read_at, auth)) = cached.as_ref()
            && read_at.elapsed() < self.ttl
        {
            return Ok(auth.clone());
        }
        let text = read_secret_string(&self.config, &self.secret_id)
            .await
            .map_err(|e| CredentialsUnavailable(e.to_string()))?;
        let auth = Arc::new(Authenticator::from_json(text.expose()).map_err(|reason| {
            CredentialsUnavailable(format!("secret {}: {reason}", self.secret_id))
        })?);
        *cached = Some((Instant::now(), auth.clone()));
        Ok(auth)
    }
}
