use super::{PortError, Watermark};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An instance as stored: everything but its secrets (those live in the secret store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    pub id: u64,
    /// The owning organization (a stable id derived from the organization credential).
    pub organization: String,
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// SHA-256 (hex) of the instance token; the token itself is never stored.
    pub token_hash: String,
    /// The validated `configuration` object with every secret value removed.
    pub configuration: serde_json::Value,
    pub events_enabled: bool,
    pub disabled: bool,
    /// False once Sage refused the refresh token (`invalid_grant`): re-authorization needed.
    pub valid: bool,
    #[serde(default)]
    pub invalid_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub poll: PollStatus,
    #[serde(default)]
    pub delivery: DeliveryStatus,
}

impl InstanceRecord {
    /// A new, enabled and valid instance with events on, created `now`, with no poll or
    /// delivery history yet.
    pub fn new(
        id: u64,
        organization: impl Into<String>,
        name: impl Into<String>,
        configuration: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Self {
        InstanceRecord {
            id,
            organization: organization.into(),
            name: name.into(),
            tags: Vec::new(),
            token_hash: String::new(),
            configuration,
            events_enabled: true,
            disabled: false,
            valid: true,
            invalid_reason: None,
            created_at: now,
            updated_at: now,
            poll: PollStatus::default(),
            delivery: DeliveryStatus::default(),
        }
    }
}

/// The outcome of the last polls, shown by `GET /instances/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollStatus {
    #[serde(default)]
    pub last_poll_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_success_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<PollError>,
    /// Per resource, the counts of the last poll.
    #[serde(default)]
    pub last_counts: BTreeMap<String, ResourcePollStats>,
    #[serde(default)]
    pub total_events: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollError {
    pub message: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePollStats {
    pub fetched: u64,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub notifications: u64,
    pub duration_ms: u64,
    #[serde(default)]
    pub error: Option<String>,
}

/// Delivery health, maintained by the delivery function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStatus {
    #[serde(default)]
    pub last_delivery_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_status: Option<String>,
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Set when the receiver answered 410 Gone: delivery stops until re-enabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

/// Instance records (DynamoDB single table, or SQLite).
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// A fresh, never reused, positive instance id.
    async fn next_id(&self) -> Result<u64, PortError>;
    /// Create; `Conflict` if the id exists.
    async fn create(&self, record: &InstanceRecord) -> Result<(), PortError>;
    async fn get(&self, id: u64) -> Result<Option<InstanceRecord>, PortError>;
    /// The record, and — where the store keeps them beside it and can read both in one
    /// request — every resource's watermark (`None`: ask the watermark store). What a poll
    /// reads first; on DynamoDB one Query instead of a GetItem plus a Query.
    async fn get_for_poll(
        &self,
        id: u64,
    ) -> Result<Option<(InstanceRecord, Option<BTreeMap<String, Watermark>>)>, PortError> {
        Ok(self.get(id).await?.map(|record| (record, None)))
    }
    /// The organization's instances with id > `after`, ascending, at most `limit`.
    async fn list(
        &self,
        organization: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<InstanceRecord>, PortError>;
    /// Replace the user-editable part (name, tags, configuration, flags); `NotFound` if gone.
    /// Poll and delivery status are left as stored, so a PATCH never erases them.
    async fn update(&self, record: &InstanceRecord) -> Result<(), PortError>;
    /// Record a poll outcome (the poller's only write to the record).
    async fn set_poll_status(&self, id: u64, status: &PollStatus) -> Result<(), PortError>;
    /// Mark valid/invalid (invalid_grant), with the reason.
    async fn set_validity(
        &self,
        id: u64,
        valid: bool,
        reason: Option<&str>,
    ) -> Result<(), PortError>;
    /// Record a delivery outcome (the delivery function's only write).
    async fn set_delivery_status(&self, id: u64, status: &DeliveryStatus) -> Result<(), PortError>;
    /// Delete; deleting a missing record is not an error.
    async fn delete(&self, id: u64) -> Result<(), PortError>;
}
