//! `PATCH /instances/{id}`: name, tags and the event settings.
//!
//! Order: the signature key (under the instance's lease, so a poller rotating the Sage
//! tokens in the same secret document at the same time is not overwritten), watermarks of
//! new resources, the schedule, and last the record — the record is what a retry reads,
//! and every earlier step is idempotent.

use super::http::{ApiError, ApiResponse};
use super::response;
use super::service::{RegistrationService, storage_error};
use super::validation::{check_callback_url, validation_error, validation_options};
use crate::config::{StoredInstanceConfig, parse_instance_patch};
use crate::instance_secrets::InstanceSecrets;
use crate::ports::{InstanceRecord, Watermark};
use crate::secret::Secret;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long the registration service holds an instance's lease to rewrite its secrets.
pub const SECRET_LEASE_SECONDS: i64 = 30;
/// How many times the lease is tried before giving up (a poll may hold it).
pub const SECRET_LEASE_ATTEMPTS: u32 = 25;
/// Wait between two lease attempts.
pub const SECRET_LEASE_RETRY: Duration = Duration::from_millis(200);

impl RegistrationService {
    pub(crate) async fn patch_instance(
        &self,
        mut record: InstanceRecord,
        body: &[u8],
    ) -> Result<ApiResponse, ApiError> {
        let opts = validation_options(&self.settings);
        let current = stored_config(&record)?;
        let patch = parse_instance_patch(body, Some(&current), &opts).map_err(validation_error)?;
        if let Some(url) = &patch.configuration.callback_url {
            check_callback_url(url, &self.settings)?;
        }
        let merged = patch
            .merge_into(&current, &opts)
            .map_err(validation_error)?;
        let id = record.id;

        if let Some(key) = &patch.configuration.signature_key {
            self.rotate_signature_key(id, key).await?;
        }

        let now = self.deps.clock.now();
        let known: BTreeSet<&str> = resource_names(&current);
        for name in resource_names(&merged).difference(&known) {
            let watermark = Watermark {
                at: now,
                seen: Vec::new(),
            };
            self.deps
                .watermarks
                .advance(id, name, &watermark)
                .await
                .map_err(|e| storage_error("storing the watermark of a new resource", &e))?;
        }

        let events_enabled = merged.events.enabled;
        if let Some(name) = &patch.name {
            record.name = name.clone();
        }
        if let Some(tags) = &patch.tags {
            record.tags = tags.clone();
        }
        record.events_enabled = events_enabled;
        self.reconcile_schedule(id, scheduled_interval(&record, &merged))
            .await?;

        record.configuration = serde_json::Value::Object(merged.into_configuration());
        record.updated_at = now;
        self.deps
            .instances
            .update(&record)
            .await
            .map_err(|e| storage_error("updating the instance", &e))?;
        Ok(ApiResponse::json(200, response::instance_detail(&record)))
    }

    /// Write a new callback signature key into the secret document, holding the lease.
    async fn rotate_signature_key(&self, id: u64, key: &Secret) -> Result<(), ApiError> {
        let owner = self
            .acquire_secret_lease(id, "try the signature key change again shortly")
            .await?;
        let result = self.write_signature_key(id, key).await;
        if let Err(e) = self.deps.leases.release(id, &owner).await {
            tracing::warn!(instance = id, error = %e, "releasing the instance lease failed");
        }
        result
    }

    /// Take the instance's lease to rewrite its secret document (a poller rotating the
    /// Sage tokens in the same document holds it while it polls); returns the owner to
    /// release with. 503 with `retry_hint` when a poll keeps holding it.
    pub(crate) async fn acquire_secret_lease(
        &self,
        id: u64,
        retry_hint: &str,
    ) -> Result<String, ApiError> {
        let owner = format!(
            "registration-{}",
            super::create::generate_instance_token().expose()
        );
        let mut acquired = false;
        for attempt in 0..SECRET_LEASE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(SECRET_LEASE_RETRY).await;
            }
            let now = self.deps.clock.now();
            let expires = now + chrono::Duration::seconds(SECRET_LEASE_SECONDS);
            acquired = self
                .deps
                .leases
                .acquire(id, &owner, now, expires)
                .await
                .map_err(|e| storage_error("taking the instance lease", &e))?;
            if acquired {
                break;
            }
        }
        if !acquired {
            return Err(ApiError::new(
                503,
                format!("the instance is being polled; {retry_hint}"),
            ));
        }
        Ok(owner)
    }

    async fn write_signature_key(&self, id: u64, key: &Secret) -> Result<(), ApiError> {
        let text = self
            .deps
            .secrets
            .get(id)
            .await
            .map_err(|e| storage_error("reading the instance secrets", &e))?
            .ok_or_else(|| ApiError::new(502, "the instance's secrets are missing"))?;
        let mut document = InstanceSecrets::from_json(&text)
            .map_err(|e| storage_error("reading the instance secrets", &e))?;
        document.signature_key = key.clone();
        self.deps
            .secrets
            .put(id, &document.to_json())
            .await
            .map_err(|e| storage_error("storing the new signature key", &e))
    }

    /// Bring the schedule in line: created/updated with `interval` when the instance is
    /// polled, removed (idempotently) when it is not.
    pub(crate) async fn reconcile_schedule(
        &self,
        id: u64,
        interval: Option<u32>,
    ) -> Result<(), ApiError> {
        match interval {
            Some(minutes) => self
                .deps
                .scheduler
                .upsert(id, minutes)
                .await
                .map_err(|e| storage_error("updating the poll schedule", &e)),
            None => self
                .deps
                .scheduler
                .delete(id)
                .await
                .map_err(|e| storage_error("removing the poll schedule", &e)),
        }
    }
}

/// Read a record's stored configuration. It was validated when written, so a failure here
/// means the stored data is damaged: reported as a server-side problem.
pub(crate) fn stored_config(record: &InstanceRecord) -> Result<StoredInstanceConfig, ApiError> {
    // Read leniently: the operator may have raised the minimum interval since.
    let opts = crate::config::ValidationOptions {
        min_refresh_interval_minutes: 1,
        require_code: false,
    };
    let Some(map) = record.configuration.as_object() else {
        return Err(ApiError::new(
            502,
            "the instance's stored configuration is damaged",
        ));
    };
    StoredInstanceConfig::from_configuration(map, &opts).map_err(|errors| {
        tracing::error!(
            instance = record.id,
            problems = errors.len(),
            "stored configuration invalid"
        );
        ApiError::new(502, "the instance's stored configuration is damaged")
    })
}

fn resource_names(config: &StoredInstanceConfig) -> BTreeSet<&str> {
    config
        .events
        .poller
        .as_ref()
        .map(|p| p.resources().iter().map(|r| r.name.as_str()).collect())
        .unwrap_or_default()
}

/// The schedule interval of an instance with this record and configuration; `None` when
/// it is not polled (events off, or the instance disabled).
pub(crate) fn scheduled_interval(
    record: &InstanceRecord,
    config: &StoredInstanceConfig,
) -> Option<u32> {
    if record.events_enabled && !record.disabled && config.events.enabled {
        config.events.refresh_interval_minutes
    } else {
        None
    }
}
