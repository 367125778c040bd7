//! Enabling, disabling and polling an instance on demand.

use super::http::{ApiError, ApiResponse};
use super::patch::{scheduled_interval, stored_config};
use super::response;
use super::service::{RegistrationService, storage_error};
use crate::ports::InstanceRecord;
use serde_json::json;

impl RegistrationService {
    /// `PUT /instances/{id}/enabled` (`disabled = false`) and `DELETE …/enabled`
    /// (`disabled = true`); the schedule follows. Enabling also lifts a delivery stop
    /// caused by the receiver's `410 Gone`: re-enabling is how a customer says the
    /// receiver is back (then replays the dead letters).
    pub(crate) async fn set_disabled(
        &self,
        mut record: InstanceRecord,
        disabled: bool,
    ) -> Result<ApiResponse, ApiError> {
        let config = stored_config(&record)?;
        record.disabled = disabled;
        record.updated_at = self.deps.clock.now();
        self.reconcile_schedule(record.id, scheduled_interval(&record, &config))
            .await?;
        self.deps
            .instances
            .update(&record)
            .await
            .map_err(|e| storage_error("updating the instance", &e))?;
        if !disabled && record.delivery.disabled_reason.is_some() {
            record.delivery.disabled_reason = None;
            record.delivery.consecutive_failures = 0;
            self.deps
                .instances
                .set_delivery_status(record.id, &record.delivery)
                .await
                .map_err(|e| storage_error("re-enabling delivery", &e))?;
        }
        Ok(ApiResponse::json(200, response::instance_detail(&record)))
    }

    /// `POST /instances/{id}/poll`: ask for a poll now (asynchronous).
    pub(crate) async fn poll_now(&self, record: InstanceRecord) -> Result<ApiResponse, ApiError> {
        self.deps
            .poll_trigger
            .poll_now(record.id)
            .await
            .map_err(|e| storage_error("requesting a poll", &e))?;
        Ok(ApiResponse::json(
            202,
            json!({ "id": record.id, "message": "poll requested" }),
        ))
    }
}
