//! The poll engine: one instance per invocation.
//!
//! Order of work, and why:
//! 1. Take the instance's lease — two invocations polling one instance would refresh the
//!    same single-use Sage refresh token concurrently and lock the instance out.
//! 2. Load secrets and open a Sage session whose token store persists a rotated refresh
//!    token before the new access token is used.
//! 3. Per resource, independently: read `[watermark − pollDelay − lookback, now]` with
//!    Sage's inclusive `updated_or_created_since` (and `deleted_since` where offered),
//!    page by page; classify, skip versions already emitted, build notifications of ≤ 10
//!    events and enqueue them as they fill. Only when every page was read and every
//!    notification enqueued does the watermark advance (conditional write). A failure
//!    leaves that resource's watermark alone, so the next poll re-reads the whole window.
//! 4. Record the outcome on the instance.
//!
//! Memory is one page of records plus one batch of notifications, whatever the number of
//! changes.

pub mod classify;

use crate::clock::Clock;
use crate::event::{ChangeEvent, EventType, InstanceRef, Notification, NotificationBuilder};
use crate::instance_secrets::{InstanceSecrets, SecretTokenStore};
use crate::poller_config::ResourcePollConfig;
use crate::ports::{
    EventQueue, InstanceRecord, InstanceStore, LeaseStore, OutgoingMessage, PollError, PollStatus,
    PortError, ResourcePollStats, SecretStore, Watermark, WatermarkStore,
};
use crate::sage::{AnchoredListing, ItemKey, Page, SageClient, SageError, SageSession};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use classify::{SeenSet, classify};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// The adapters the poll engine runs on.
#[derive(Clone)]
pub struct PollerDeps {
    pub instances: Arc<dyn InstanceStore>,
    pub watermarks: Arc<dyn WatermarkStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub queue: Arc<dyn EventQueue>,
    pub sage: SageClient,
    pub clock: Arc<dyn Clock>,
}

/// Tunables of a poll.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// How long the lease is held at most; longer than a poll can run (Lambda: 15 min).
    pub lease_ttl: Duration,
    /// Re-read this much below the watermark on top of `pollDelay`, for late commits and
    /// clock skew between Sage and us.
    pub lookback: Duration,
    /// Notifications handed to the queue per send call.
    pub enqueue_batch: usize,
    /// How old a watermark may grow while its resource stays idle before a poll writes
    /// it anyway (idle polls do not write it; see `poll_resource`).
    pub idle_watermark_refresh: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            lease_ttl: Duration::minutes(15),
            lookback: Duration::seconds(60),
            enqueue_batch: 10,
            idle_watermark_refresh: Duration::hours(6),
        }
    }
}

/// What happened to one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PollOutcome {
    /// Every resource polled; watermarks advanced.
    Polled,
    /// Some resources failed (their watermarks did not move); see `resources`.
    PartiallyFailed,
    /// Another invocation holds the lease.
    LeaseHeld,
    NotFound,
    Disabled,
    EventsDisabled,
    /// Needs re-authorization (Sage refused the refresh token).
    Invalid,
    /// The whole poll failed before resources were read (secrets, token…).
    Failed,
}

/// The JSON summary a poller invocation returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PollSummary {
    pub instance_id: u64,
    pub outcome: PollOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub resources: BTreeMap<String, ResourcePollStats>,
    pub duration_ms: u64,
}

/// Errors that stop a poll before or between resources.
#[derive(Debug, thiserror::Error)]
pub enum PollFailure {
    #[error("storage: {0}")]
    Port(#[from] PortError),
    #[error("sage: {0}")]
    Sage(#[from] SageError),
    #[error("configuration: {0}")]
    Config(String),
}

/// Poll one instance. Never panics on data; every failure ends up in the summary and
/// on the instance's poll status.
pub async fn poll_instance(
    deps: &PollerDeps,
    settings: &PollSettings,
    instance_id: u64,
    owner: &str,
) -> Result<PollSummary, PortError> {
    let started = Instant::now();
    let summary = |outcome, message: Option<String>, resources| PollSummary {
        instance_id,
        outcome,
        message,
        resources,
        duration_ms: started.elapsed().as_millis() as u64,
    };

    // One read where the store allows: the record and its watermarks together. They are
    // read before the lease is taken: if another invocation polled in between, this one
    // starts from an older watermark and re-reads more — duplicates with the same event
    // ids, never a loss (the watermark write stays conditional).
    let Some((record, watermarks)) = deps.instances.get_for_poll(instance_id).await? else {
        tracing::warn!(instance_id, "poll of an unknown instance");
        return Ok(summary(PollOutcome::NotFound, None, BTreeMap::new()));
    };
    if record.disabled {
        return Ok(summary(PollOutcome::Disabled, None, BTreeMap::new()));
    }
    if !record.events_enabled {
        return Ok(summary(PollOutcome::EventsDisabled, None, BTreeMap::new()));
    }
    if !record.valid {
        return Ok(summary(
            PollOutcome::Invalid,
            record.invalid_reason.clone(),
            BTreeMap::new(),
        ));
    }

    let now = deps.clock.now();
    if !deps
        .leases
        .acquire(instance_id, owner, now, now + settings.lease_ttl)
        .await?
    {
        tracing::info!(
            instance_id,
            "lease held by another invocation; nothing to do"
        );
        return Ok(summary(PollOutcome::LeaseHeld, None, BTreeMap::new()));
    }

    let result = poll_leased(deps, settings, &record, watermarks).await;

    let poll_time = now;
    let mut status = record.poll.clone();
    status.last_poll_at = Some(poll_time);
    let (outcome, message, resources) = match result {
        Ok(resources) => {
            let failed: Vec<_> = resources
                .iter()
                .filter_map(|(name, stats)| stats.error.as_ref().map(|e| format!("{name}: {e}")))
                .collect();
            let events: u64 = resources
                .values()
                .map(|s| s.created + s.updated + s.deleted)
                .sum();
            status.total_events += events;
            status.last_counts = resources.clone();
            if failed.is_empty() {
                status.last_success_at = Some(poll_time);
                (PollOutcome::Polled, None, resources)
            } else {
                let message = failed.join("; ");
                status.last_error = Some(PollError {
                    message: message.clone(),
                    at: poll_time,
                    resource: None,
                });
                (PollOutcome::PartiallyFailed, Some(message), resources)
            }
        }
        Err(PollFailure::Sage(SageError::ReauthorizationNeeded { reason })) => {
            let message =
                format!("Sage refused the refresh token ({reason}); re-authorize the instance");
            deps.instances
                .set_validity(record.id, false, Some(&message))
                .await?;
            status.last_error = Some(PollError {
                message: message.clone(),
                at: poll_time,
                resource: None,
            });
            (PollOutcome::Invalid, Some(message), BTreeMap::new())
        }
        Err(failure) => {
            let message = failure.to_string();
            status.last_error = Some(PollError {
                message: message.clone(),
                at: poll_time,
                resource: None,
            });
            (PollOutcome::Failed, Some(message), BTreeMap::new())
        }
    };
    finish(deps, &record, owner, &status).await?;
    let done = summary(outcome, message, resources);
    tracing::info!(
        instance_id,
        outcome = ?done.outcome,
        duration_ms = done.duration_ms,
        resources = %serde_json::to_string(&done.resources).unwrap_or_default(),
        "poll finished"
    );
    Ok(done)
}

/// Release the lease and record the poll's status — in one write where the lease store
/// keeps the lease beside the record (see [`LeaseStore::release_and_record`]).
async fn finish(
    deps: &PollerDeps,
    record: &InstanceRecord,
    owner: &str,
    status: &PollStatus,
) -> Result<(), PortError> {
    let recorded = match deps
        .leases
        .release_and_record(record.id, owner, status)
        .await
    {
        Ok(recorded) => recorded,
        Err(e) => {
            // The lease expires by itself; the status still has to be written.
            tracing::warn!(instance_id = record.id, error = %e, "lease release failed");
            false
        }
    };
    if !recorded {
        deps.instances.set_poll_status(record.id, status).await?;
    }
    Ok(())
}

async fn poll_leased(
    deps: &PollerDeps,
    settings: &PollSettings,
    record: &InstanceRecord,
    watermarks: Option<BTreeMap<String, Watermark>>,
) -> Result<BTreeMap<String, ResourcePollStats>, PollFailure> {
    let resources =
        crate::poller_config::resources_from_stored_configuration(&record.configuration)
            .map_err(|e| PollFailure::Config(e.to_string()))?;
    let document = deps
        .secrets
        .get(record.id)
        .await?
        .ok_or_else(|| PollFailure::Config(format!("instance {} has no secret", record.id)))?;
    let secrets = InstanceSecrets::from_json(&document)?;
    let credentials = secrets.credentials();
    let business = record
        .configuration
        .get("sage.business.id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let token_store = Arc::new(SecretTokenStore::new(deps.secrets.clone(), record.id));
    let session = deps.sage.session(credentials, token_store, business);
    // Fail fast (and mark the instance invalid) before touching any resource when the
    // refresh token is dead.
    session.access_token().await?;

    let instance = InstanceRef {
        id: record.id,
        name: record.name.clone(),
        tags: record.tags.clone(),
    };
    // One read for every resource's watermark, unless they came with the record.
    let mut watermarks = match watermarks {
        Some(loaded) => loaded,
        None => deps.watermarks.load_all(record.id).await?,
    };
    let mut results = BTreeMap::new();
    for resource in &resources {
        let started = Instant::now();
        let mut stats = ResourcePollStats::default();
        let stored = watermarks.remove(&resource.name);
        let outcome = poll_resource(
            deps, settings, record, &instance, &session, resource, stored, &mut stats,
        )
        .await;
        stats.duration_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(()) => {}
            Err(PollFailure::Sage(SageError::ReauthorizationNeeded { reason })) => {
                return Err(PollFailure::Sage(SageError::ReauthorizationNeeded {
                    reason,
                }));
            }
            Err(e) => {
                tracing::warn!(instance_id = record.id, resource = %resource.name, error = %e, "resource poll failed; watermark kept");
                stats.error = Some(e.to_string());
            }
        }
        tracing::info!(
            instance_id = record.id,
            resource = %resource.name,
            fetched = stats.fetched,
            created = stats.created,
            updated = stats.updated,
            deleted = stats.deleted,
            notifications = stats.notifications,
            duration_ms = stats.duration_ms,
            "resource polled"
        );
        results.insert(resource.name.clone(), stats);
    }
    Ok(results)
}

/// Hands notifications to the queue in batches as they fill.
struct Enqueuer<'a> {
    queue: &'a dyn EventQueue,
    pending: Vec<OutgoingMessage>,
    batch: usize,
    sent: u64,
}

impl Enqueuer<'_> {
    async fn push(&mut self, notification: Notification) -> Result<(), PortError> {
        let body = serde_json::to_string(&notification)
            .map_err(|e| PortError::other(format!("notification not serializable: {e}")))?;
        self.pending.push(OutgoingMessage {
            id: notification.event_id.clone(),
            body,
        });
        if self.pending.len() >= self.batch {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), PortError> {
        if !self.pending.is_empty() {
            self.queue.send(&self.pending).await?;
            self.sent += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
async fn poll_resource(
    deps: &PollerDeps,
    settings: &PollSettings,
    record: &InstanceRecord,
    instance: &InstanceRef,
    session: &SageSession,
    resource: &ResourcePollConfig,
    stored: Option<Watermark>,
    stats: &mut ResourcePollStats,
) -> Result<(), PollFailure> {
    let poll_date = deps.clock.now();
    let stored_at = stored.as_ref().map(|w| w.at);
    let watermark = stored.unwrap_or_else(|| Watermark {
        at: start_of(record),
        seen: Vec::new(),
    });
    // Never below the instance's start (registration, or the configured backfill
    // start): changes stamped before it are history, not events — even one committed
    // late, after the registration instant (README, "Correctness rules"). A customer who
    // wants the edge covered registers with an earlier `event.poller.start`.
    let lower = (watermark.at - resource.poll_delay - settings.lookback).max(start_of(record));
    // Sage writes whole seconds: compare record times against the bound's second, or a
    // change in the bound's own second would be dropped by the filter below.
    let lower_second = lower.trunc_subsecs(0);
    // What the next poll will re-read; emitted versions older than that can be forgotten.
    let next_lower = poll_date - resource.poll_delay - settings.lookback;
    let mut seen = SeenSet::from_stored(&watermark.seen);
    let mut builder = NotificationBuilder::new(instance);
    let mut enqueuer = Enqueuer {
        queue: deps.queue.as_ref(),
        pending: Vec::new(),
        batch: settings.enqueue_batch.max(1),
        sent: 0,
    };

    let request = &resource.request;
    let listing = session.read_listing(
        &request.endpoint,
        &request.query_for(lower),
        change_key(resource),
    );
    let mut pages = prefetch(listing);
    while let Some(page) = pages.recv().await.transpose()? {
        for item in page.items {
            stats.fetched += 1;
            let Some(change) = read_change(resource, &item, poll_date) else {
                tracing::warn!(instance_id = record.id, resource = %resource.name, "record without an id skipped");
                continue;
            };
            // Endpoints without the server-side filter return everything: filter here.
            if change.updated < lower_second {
                continue;
            }
            let key = SeenSet::key(&resource.name, &change.id, &change.version);
            if seen.contains(key) {
                continue;
            }
            let event_type = classify(
                change.created,
                change.updated,
                watermark.at,
                resource.created_check_tolerance,
                resource.filter_by_updated_date,
            );
            match event_type {
                EventType::Created => stats.created += 1,
                _ => stats.updated += 1,
            }
            seen.insert(change.updated, key);
            let event = ChangeEvent {
                event_type,
                object_type: resource.name.clone(),
                object_id: change.id,
                date: change.updated,
                poll_date,
                version: change.version,
                record: Some(item),
            };
            if let Some(notification) = builder.push(event) {
                enqueuer.push(notification).await?;
            }
        }
    }

    if let Some(query) = request.deleted_query_for(lower - Duration::seconds(1)) {
        // `deleted_since` is exclusive: start one second lower so a deletion in the
        // boundary second is not missed; the seen set drops the repeat. Read after the
        // changed records, so a record deleted while they were read is reported here.
        let listing = session.read_listing(&request.endpoint, &query, deletion_key());
        let mut pages = prefetch(listing);
        while let Some(page) = pages.recv().await.transpose()? {
            for item in page.items {
                stats.fetched += 1;
                let Some(id) = id_of(&item, "id") else {
                    continue;
                };
                let deleted_raw = deleted_text(&item);
                let deleted_at = deleted_raw
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(poll_date);
                let version = deleted_version(deleted_raw);
                let key = SeenSet::key(&resource.name, &id, &version);
                if seen.contains(key) {
                    continue;
                }
                seen.insert(deleted_at, key);
                stats.deleted += 1;
                let event = ChangeEvent {
                    event_type: EventType::Deleted,
                    object_type: resource.name.clone(),
                    object_id: id,
                    date: deleted_at,
                    poll_date,
                    version,
                    record: Some(item),
                };
                if let Some(notification) = builder.push(event) {
                    enqueuer.push(notification).await?;
                }
            }
        }
    }

    if let Some(notification) = builder.finish() {
        enqueuer.push(notification).await?;
    }
    enqueuer.flush().await?;
    stats.notifications = enqueuer.sent;

    // An idle poll (nothing emitted) leaves a stored watermark where it is: the next
    // poll re-reads a window that is a little wider but holds nothing new but what this
    // one would have skipped, and the seen set it needs is unchanged. That saves a write
    // per resource per idle poll — most polls. Refreshed once the watermark is older than
    // `idle_watermark_refresh`, to bound the window asked of Sage.
    let emitted = stats.created + stats.updated + stats.deleted;
    if emitted == 0
        && let Some(at) = stored_at
        && poll_date - at < settings.idle_watermark_refresh
    {
        return Ok(());
    }
    // Everything of the window is queued: only now may the watermark move.
    let advanced = deps
        .watermarks
        .advance(
            record.id,
            &resource.name,
            &Watermark {
                at: poll_date,
                seen: seen.to_stored(next_lower),
            },
        )
        .await?;
    if !advanced {
        tracing::warn!(instance_id = record.id, resource = %resource.name, "watermark is newer than this poll (stale invocation); left as is");
    }
    Ok(())
}

/// Read pages one ahead: the next page downloads while this one is classified and
/// enqueued, so a poll takes about as long as the download alone. Memory stays bounded by
/// pages: at most the page being processed, one page in the channel and one being read
/// (plus the listing's 64-bit key per record read, see `sage::listing`).
fn prefetch(mut listing: AnchoredListing) -> tokio::sync::mpsc::Receiver<Result<Page, SageError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let next = listing.next_page().await;
            let done = !matches!(next, Ok(Some(_)));
            let Some(item) = next.transpose() else { break };
            // The receiver is gone when the poll stopped early: stop reading.
            if tx.send(item).await.is_err() || done {
                break;
            }
        }
        let stats = listing.stats();
        if stats.backtracks > 0 {
            tracing::info!(
                requests = stats.requests,
                backtracks = stats.backtracks,
                "list changed while it was read; re-read from the last anchor"
            );
        }
    });
    rx
}

/// The listing key of a changed record: its id and version (change time as Sage wrote
/// it), so a row served twice (page overlap) is handed out once. Only compared within one
/// listing, so a fast 64-bit hash will do (no allocation, no SHA-256 per row — the listing
/// reads every row of a 100,000-change poll).
fn change_key(resource: &ResourcePollConfig) -> ItemKey {
    let id_field = resource.id_field.clone();
    let updated_field = resource.updated.field.clone();
    Box::new(move |item| {
        let version = item
            .get(&updated_field)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        listing_key(item.get(&id_field)?, version)
    })
}

/// The listing key of a deletion (see [`change_key`]).
fn deletion_key() -> ItemKey {
    Box::new(move |item| listing_key(item.get("id")?, deleted_text(item).unwrap_or_default()))
}

/// `None` for a missing or empty id, as [`id_of`] reads it.
fn listing_key(id: &serde_json::Value, version: &str) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    match id {
        serde_json::Value::String(s) if !s.is_empty() => s.hash(&mut hasher),
        serde_json::Value::Number(n) => n.to_string().hash(&mut hasher),
        _ => return None,
    }
    version.hash(&mut hasher);
    Some(hasher.finish())
}

fn deleted_text(item: &serde_json::Value) -> Option<&str> {
    item.get("deleted_at").and_then(|v| v.as_str())
}

/// The version of a deletion: its time as Sage wrote it (empty when Sage gave none).
fn deleted_version(deleted_text: Option<&str>) -> String {
    format!("deleted:{}", deleted_text.unwrap_or_default())
}

/// Where a resource without a stored watermark starts: the configured backfill start,
/// else the instance's creation (no history flood).
fn start_of(record: &InstanceRecord) -> DateTime<Utc> {
    record
        .configuration
        .get("event.poller.start")
        .and_then(|v| v.as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(record.created_at)
}

struct Change {
    id: String,
    updated: DateTime<Utc>,
    created: Option<DateTime<Utc>>,
    version: String,
}

fn id_of(item: &serde_json::Value, field: &str) -> Option<String> {
    match item.get(field)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Read id, updated and created dates of a record per the resource's configuration.
/// A date that cannot be read does not lose the record: it is emitted as UPDATED at the
/// poll time (its raw text still distinguishes versions).
fn read_change(
    resource: &ResourcePollConfig,
    item: &serde_json::Value,
    poll_date: DateTime<Utc>,
) -> Option<Change> {
    let id = id_of(item, &resource.id_field)?;
    let updated_text = item
        .get(&resource.updated.field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let updated = resource
        .updated
        .pattern
        .parse_value(&updated_text, &resource.updated.zone)
        .unwrap_or(poll_date);
    let created = item
        .get(&resource.created.field)
        .and_then(|v| v.as_str())
        .and_then(|t| {
            resource
                .created
                .pattern
                .parse_value(t, &resource.created.zone)
                .ok()
        });
    Some(Change {
        id,
        updated,
        created,
        version: updated_text,
    })
}

/// The poller's input: `{"instanceId": 42}` as sent by the EventBridge Scheduler schedule
/// (and by "poll now"). A string id (`"42"`) is accepted too: hand-made test events and
/// some tools quote numbers.
pub fn instance_id_from_input(input: &serde_json::Value) -> Result<u64, String> {
    let value = input
        .get("instanceId")
        .ok_or_else(|| "input has no instanceId (expected {\"instanceId\": <id>})".to_owned())?;
    let id = match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    id.filter(|id| *id > 0)
        .ok_or_else(|| format!("instanceId must be a positive integer, got {value}"))
}

#[cfg(test)]
mod input_tests {
    use super::instance_id_from_input;
    use serde_json::json;

    #[test]
    fn reads_the_schedule_input() {
        assert_eq!(instance_id_from_input(&json!({"instanceId": 42})), Ok(42));
        assert_eq!(instance_id_from_input(&json!({"instanceId": "42"})), Ok(42));
        assert!(instance_id_from_input(&json!({})).is_err());
        assert!(instance_id_from_input(&json!({"instanceId": 0})).is_err());
        assert!(instance_id_from_input(&json!({"instanceId": -1})).is_err());
        assert!(instance_id_from_input(&json!({"instanceId": "x"})).is_err());
        assert!(instance_id_from_input(&json!({"instanceId": 1.5})).is_err());
    }
}
