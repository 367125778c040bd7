use super::PortError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How far a resource of an instance has been polled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watermark {
    /// Every change at or before this instant (minus the lookback) has been enqueued.
    pub at: DateTime<Utc>,
    /// Version keys already emitted whose change time is inside the next poll's lookback
    /// window: the next poll re-reads that window (inclusive bound) and skips these.
    #[serde(default)]
    pub seen: Vec<String>,
}

/// Watermarks per (instance, resource), written with conditional writes.
#[async_trait]
pub trait WatermarkStore: Send + Sync {
    async fn load(&self, instance: u64, resource: &str) -> Result<Option<Watermark>, PortError>;
    /// Every resource's watermark of the instance, in one read (a poll needs them all).
    async fn load_all(&self, instance: u64) -> Result<BTreeMap<String, Watermark>, PortError>;
    /// Store `new` unless the stored watermark is later than `new.at` (a stale invocation
    /// must never move it backwards): `Ok(false)` when refused.
    async fn advance(
        &self,
        instance: u64,
        resource: &str,
        new: &Watermark,
    ) -> Result<bool, PortError>;
    /// Remove every watermark (and lease) of the instance.
    async fn delete_instance(&self, instance: u64) -> Result<(), PortError>;
}
