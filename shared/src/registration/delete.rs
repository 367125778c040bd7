//! `DELETE /instances/{id}`: remove everything of an instance and revoke its Sage grant.
//!
//! The schedule goes first (no new poll starts), the record last (while it exists the
//! deletion can be retried). The revocation is best effort: the customer asked for the
//! instance to be gone, and a refresh token we no longer hold expires on its own.

use super::http::{ApiError, ApiResponse};
use super::service::{RegistrationService, storage_error};
use crate::instance_secrets::InstanceSecrets;
use crate::ports::InstanceRecord;
use crate::sage::AppCredentials;
use serde_json::json;

impl RegistrationService {
    pub(crate) async fn delete_instance(
        &self,
        record: InstanceRecord,
    ) -> Result<ApiResponse, ApiError> {
        let id = record.id;
        let deps = &self.deps;
        let secrets = match deps.secrets.get(id).await {
            Ok(Some(text)) => match InstanceSecrets::from_json(&text) {
                Ok(document) => Some(document),
                Err(e) => {
                    tracing::warn!(instance = id, error = %e, "secrets unreadable; not revoking");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => return Err(storage_error("reading the instance secrets", &e)),
        };
        deps.scheduler
            .delete(id)
            .await
            .map_err(|e| storage_error("removing the poll schedule", &e))?;
        deps.secrets
            .delete(id)
            .await
            .map_err(|e| storage_error("deleting the instance secrets", &e))?;
        deps.watermarks
            .delete_instance(id)
            .await
            .map_err(|e| storage_error("deleting the watermarks", &e))?;
        deps.instances
            .delete(id)
            .await
            .map_err(|e| storage_error("deleting the instance record", &e))?;
        if let Some(document) = secrets {
            let credentials = AppCredentials {
                client_id: document.client_id.clone(),
                client_secret: document.client_secret.clone(),
                redirect_uri: document.redirect_uri.clone(),
            };
            self.revoke(&credentials, &document.tokens).await;
        }
        tracing::info!(instance = id, "instance deleted");
        Ok(ApiResponse::json(200, json!({})))
    }
}
