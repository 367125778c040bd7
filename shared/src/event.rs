//! Change events and the callback bodies that carry them (Cloud Elements compatible).
//!
//! A poll turns each changed Sage record into a [`ChangeEvent`]. Events are packed into
//! [`Notification`]s — the exact bytes POSTed (and signed) to the customer's callback URL:
//!
//! ```json
//! {"message":{"eventId":"msg_…","instanceId":42,"instanceName":"…","instanceTags":[…],
//!   "elementKey":"sageone","hubKey":"finance",
//!   "events":[{"eventId":"evt_…","eventType":"CREATED","objectType":"customers",
//!              "objectId":"…","date":"2018-07-31T19:39:46Z","pollDate":"2018-07-31T19:40:36Z",
//!              "elementKey":"sageone","hubKey":"finance"}],
//!   "raw":{"customers":[{…the Sage record…}]}}}
//! ```
//!
//! Rules, and why:
//! - At most [`MAX_EVENTS_PER_NOTIFICATION`] (10) events per notification, as Cloud Elements did.
//! - Ids are deterministic. An event's id hashes (instance, object type, object id, event
//!   type, version); a notification's id hashes its events' ids. A re-poll after a crash
//!   rebuilds the same batches with the same ids, so receivers can de-duplicate.
//! - A notification, *as queued* (the JSON form of [`Notification`], which wraps the body as
//!   an escaped JSON string), never exceeds [`MAX_NOTIFICATION_BYTES`] (SQS's message limit).
//!   The body alone is therefore smaller still. When an event would push a batch over the
//!   limit the batch is closed first; an event too big even on its own is sent with its
//!   `raw` record cut down to `{"id": objectId}` and `"rawTruncated": true` on the message,
//!   so the receiver knows to fetch that record itself. Such a notification carries that one
//!   event only. (The one case the cap cannot hold is an envelope that is itself too big —
//!   an instance name/tags or object id of ~256 KiB; configuration validation must bound
//!   those. Even then nothing is dropped.)
//! - [`NotificationBuilder`] streams: memory is bounded by one batch, however many events
//!   a poll finds.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io;

/// `elementKey` of every message and event: the Cloud Elements key of Sage Business Cloud
/// Accounting.
pub const ELEMENT_KEY: &str = "sageone";
/// `hubKey` of every message and event.
pub const HUB_KEY: &str = "finance";
/// Cloud Elements sent at most this many events per polling notification.
pub const MAX_EVENTS_PER_NOTIFICATION: usize = 10;
/// Upper bound on a queued notification (SQS's message size limit).
pub const MAX_NOTIFICATION_BYTES: usize = 256 * 1024;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Created,
    Updated,
    Deleted,
}

impl EventType {
    /// The wire name (`CREATED`, `UPDATED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "CREATED",
            EventType::Updated => "UPDATED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one record, found by a poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub event_type: EventType,
    /// The resource name the customer configured (e.g. `customers`); the `raw` group key.
    pub object_type: String,
    pub object_id: String,
    /// When the record changed (its updated-at, or deleted-at for deletes).
    pub date: DateTime<Utc>,
    /// When the poll that found the change ran.
    pub poll_date: DateTime<Utc>,
    /// What identifies this version of the record (e.g. its updated-at text; the deleted-at
    /// text for deletes). Part of the event id: a new version is a new event.
    pub version: String,
    /// The vendor record, sent under `raw`. `None` puts nothing in `raw` for this event.
    pub record: Option<serde_json::Value>,
}

impl ChangeEvent {
    /// The deterministic id of this event for `instance_id`: `evt_` + 32 hex characters
    /// (the first 128 bits of a SHA-256 over the identifying fields). `date`, `poll_date`
    /// and `record` are deliberately left out: re-finding the same version of the same
    /// record in a later poll yields the same id.
    pub fn event_id(&self, instance_id: u64) -> String {
        let mut hash = Sha256::new();
        hash.update(b"sage-events/event/v1");
        let instance = instance_id.to_string();
        for field in [
            instance.as_str(),
            self.object_type.as_str(),
            self.object_id.as_str(),
            self.event_type.as_str(),
            self.version.as_str(),
        ] {
            // Length-prefixed so no two different field tuples hash the same bytes.
            hash.update((field.len() as u64).to_be_bytes());
            hash.update(field.as_bytes());
        }
        format!("evt_{}", hex_prefix(&hash.finalize()))
    }
}

/// The instance a notification is for, as shown in the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRef {
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
}

/// A callback body ready to sign and send, in a form that can travel through a queue.
///
/// `body` is the exact JSON text to POST and sign. It is kept as a `String` so that the
/// JSON form of a `Notification` round-trips it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// `message.eventId`: `msg_` + 32 hex characters, derived from the events' ids. Also
    /// the `Elements-Webhook-Id` / `webhook-id` header, stable across retries.
    pub event_id: String,
    pub instance_id: u64,
    pub event_count: usize,
    pub body: String,
}

impl Notification {
    /// The bytes to send and sign.
    pub fn body_bytes(&self) -> &[u8] {
        self.body.as_bytes()
    }
}

/// Packs all `events` into notifications, in order. Use [`NotificationBuilder`] directly
/// to keep memory bounded when events arrive as a stream.
pub fn build_notifications(
    instance: &InstanceRef,
    events: impl IntoIterator<Item = ChangeEvent>,
) -> Vec<Notification> {
    let mut builder = NotificationBuilder::new(instance);
    let mut out: Vec<Notification> = events
        .into_iter()
        .filter_map(|event| builder.push(event))
        .collect();
    out.extend(builder.finish());
    out
}

/// Streams [`ChangeEvent`]s into [`Notification`]s, holding at most one batch.
///
/// `push` returns a notification whenever one is complete (10 events, or the next event
/// would not fit); `finish` returns the last, partial one.
#[derive(Debug)]
pub struct NotificationBuilder {
    instance_id: u64,
    /// Everything after the message id up to and including `"events":[`.
    envelope_after_id: String,
    /// Escaped length of all the fixed parts of the body (envelope, punctuation, id).
    fixed_escaped_len: usize,
    batch: Batch,
}

/// The events collected so far for the next notification.
#[derive(Debug, Default)]
struct Batch {
    event_ids: Vec<String>,
    events_json: Vec<String>,
    /// objectType → rendered records, in event order. A BTreeMap so groups come out in a
    /// stable (sorted) order.
    raw: BTreeMap<String, Vec<String>>,
    tally: Tally,
    /// Holds a truncated event: no other event may join it.
    sealed: bool,
}

/// Escaped lengths of the variable parts of a batch, enough to compute its exact size.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    events: usize,
    events_len: usize,
    groups: usize,
    /// Per group: `"key":[` + records joined by `,` + `]`.
    groups_len: usize,
    truncated: bool,
}

/// An event rendered to JSON, with the escaped lengths the size accounting needs.
struct PreparedEvent {
    id: String,
    json: String,
    json_escaped_len: usize,
    object_type: String,
    /// `"objectType":[]` minus the records, escaped — what a new group costs.
    group_escaped_len: usize,
    record_json: Option<String>,
    record_escaped_len: usize,
}

const MESSAGE_HEAD: &str = r#"{"message":{"eventId":"#;
const EVENTS_TO_RAW: &str = r#"],"raw":{"#;
const RAW_TRUNCATED: &str = r#","rawTruncated":true"#;
const MESSAGE_TAIL: &str = "}}";
/// A stand-in with the length and character set of a real notification id.
const PLACEHOLDER_ID: &str = "msg_00000000000000000000000000000000";

impl NotificationBuilder {
    pub fn new(instance: &InstanceRef) -> Self {
        let envelope_after_id = format!(
            r#","instanceId":{},"instanceName":{},"instanceTags":{},"elementKey":{},"hubKey":{},"events":["#,
            instance.id,
            json_text(&instance.name),
            json_text(&instance.tags),
            json_text(ELEMENT_KEY),
            json_text(HUB_KEY),
        );
        let fixed_escaped_len = escaped_len(MESSAGE_HEAD)
            + escaped_len(&json_text(PLACEHOLDER_ID))
            + escaped_len(&envelope_after_id)
            + escaped_len(EVENTS_TO_RAW)
            + escaped_len("}")
            + escaped_len(MESSAGE_TAIL);
        NotificationBuilder {
            instance_id: instance.id,
            envelope_after_id,
            fixed_escaped_len,
            batch: Batch::default(),
        }
    }

    /// Adds an event; returns a notification if one was completed. An event that had to
    /// be truncated is held alone and returned by the next `push` or by `finish`.
    pub fn push(&mut self, event: ChangeEvent) -> Option<Notification> {
        let mut out = if self.batch.is_closed() {
            self.take()
        } else {
            None
        };

        let prepared = self.prepare(&event, false);
        if self.queued_len(&Tally::default().with(&prepared, false)) > MAX_NOTIFICATION_BYTES {
            // Too big even alone: send it by itself with a stub record.
            if out.is_none() {
                out = self.take();
            }
            let stub = self.prepare(&event, true);
            self.add(stub);
            self.batch.tally.truncated = true;
            self.batch.sealed = true;
            return out;
        }

        let group_exists = self.batch.raw.contains_key(&prepared.object_type);
        let grown = self.batch.tally.with(&prepared, group_exists);
        // (When `out` is already set the batch was just emptied, so there is nothing to close.)
        if out.is_none()
            && self.batch.tally.events > 0
            && self.queued_len(&grown) > MAX_NOTIFICATION_BYTES
        {
            out = self.take();
        }
        self.add(prepared);
        if out.is_none() && self.batch.is_closed() {
            out = self.take();
        }
        out
    }

    /// Returns the last, partial notification, if any events are left.
    pub fn finish(mut self) -> Option<Notification> {
        self.take()
    }

    /// Events collected but not yet returned in a notification.
    pub fn pending_events(&self) -> usize {
        self.batch.tally.events
    }

    fn prepare(&self, event: &ChangeEvent, truncate: bool) -> PreparedEvent {
        let id = event.event_id(self.instance_id);
        let json = json_text(&WireEvent {
            event_id: &id,
            event_type: event.event_type,
            object_type: &event.object_type,
            object_id: &event.object_id,
            date: render_date(&event.date),
            poll_date: render_date(&event.poll_date),
            element_key: ELEMENT_KEY,
            hub_key: HUB_KEY,
        });
        let record_json = if truncate {
            Some(json_text(&serde_json::json!({ "id": event.object_id })))
        } else {
            event.record.as_ref().map(json_text)
        };
        PreparedEvent {
            json_escaped_len: escaped_len(&json),
            group_escaped_len: escaped_len(&json_text(&event.object_type)) + ":[]".len(),
            record_escaped_len: record_json.as_deref().map_or(0, escaped_len),
            object_type: event.object_type.clone(),
            id,
            json,
            record_json,
        }
    }

    fn add(&mut self, event: PreparedEvent) {
        let group_exists = self.batch.raw.contains_key(&event.object_type);
        self.batch.tally = self.batch.tally.with(&event, group_exists);
        self.batch.event_ids.push(event.id);
        self.batch.events_json.push(event.json);
        if let Some(record) = event.record_json {
            self.batch
                .raw
                .entry(event.object_type)
                .or_default()
                .push(record);
        }
    }

    /// Exact length of the JSON form of the notification a batch with `tally` would make.
    fn queued_len(&self, tally: &Tally) -> usize {
        let wrapper = json_text(&Notification {
            event_id: PLACEHOLDER_ID.to_owned(),
            instance_id: self.instance_id,
            event_count: tally.events,
            body: String::new(),
        })
        .len();
        let joined = |count: usize, len: usize| len + count.saturating_sub(1);
        wrapper
            + self.fixed_escaped_len
            + joined(tally.events, tally.events_len)
            + joined(tally.groups, tally.groups_len)
            + if tally.truncated {
                escaped_len(RAW_TRUNCATED)
            } else {
                0
            }
    }

    /// Closes the current batch into a notification (`None` when it is empty).
    fn take(&mut self) -> Option<Notification> {
        if self.batch.tally.events == 0 {
            return None;
        }
        let batch = std::mem::take(&mut self.batch);
        let event_id = notification_id(&batch.event_ids);

        let mut body = String::new();
        body.push_str(MESSAGE_HEAD);
        body.push_str(&json_text(&event_id));
        body.push_str(&self.envelope_after_id);
        body.push_str(&batch.events_json.join(","));
        body.push_str(EVENTS_TO_RAW);
        for (index, (object_type, records)) in batch.raw.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            body.push_str(&json_text(object_type));
            body.push_str(":[");
            body.push_str(&records.join(","));
            body.push(']');
        }
        body.push('}');
        if batch.tally.truncated {
            body.push_str(RAW_TRUNCATED);
        }
        body.push_str(MESSAGE_TAIL);

        let notification = Notification {
            event_id,
            instance_id: self.instance_id,
            event_count: batch.tally.events,
            body,
        };
        debug_assert_eq!(
            json_text(&notification).len(),
            self.queued_len(&batch.tally),
            "size accounting must be exact"
        );
        Some(notification)
    }
}

impl Batch {
    /// No further event may join: full, or holding a truncated event.
    fn is_closed(&self) -> bool {
        self.sealed || self.tally.events >= MAX_EVENTS_PER_NOTIFICATION
    }
}

impl Tally {
    /// The tally after adding `event`.
    fn with(self, event: &PreparedEvent, group_exists: bool) -> Tally {
        let mut next = self;
        next.events += 1;
        next.events_len += event.json_escaped_len;
        if event.record_json.is_some() {
            if group_exists {
                next.groups_len += 1 + event.record_escaped_len; // `,` + record
            } else {
                next.groups += 1;
                next.groups_len += event.group_escaped_len + event.record_escaped_len;
            }
        }
        next
    }
}

/// One entry of `message.events`, in Cloud Elements' field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<'a> {
    event_id: &'a str,
    event_type: EventType,
    object_type: &'a str,
    object_id: &'a str,
    date: String,
    poll_date: String,
    element_key: &'a str,
    hub_key: &'a str,
}

/// `2018-07-31T19:39:46Z`; milliseconds only when there are any (`…46.250Z`).
fn render_date(date: &DateTime<Utc>) -> String {
    let format = if date.timestamp_subsec_millis() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    date.to_rfc3339_opts(format, true)
}

/// Notification id: `msg_` + 32 hex characters over the member event ids, in order.
fn notification_id(event_ids: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"sage-events/notification/v1");
    for id in event_ids {
        hash.update((id.len() as u64).to_be_bytes());
        hash.update(id.as_bytes());
    }
    format!("msg_{}", hex_prefix(&hash.finalize()))
}

/// The first 16 bytes of a digest as lowercase hex.
fn hex_prefix(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest
        .iter()
        .take(16)
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Compact JSON text of a value whose serialization cannot fail (strings, string lists,
/// `serde_json::Value`, our own plain structs).
fn json_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Length of `text` once escaped inside a JSON string (without the quotes) — what it costs
/// inside the queued form of a [`Notification`]. Escaping is per character, so the escaped
/// length of a concatenation is the sum of the parts' escaped lengths.
fn escaped_len(text: &str) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a string into a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, text);
    counter.0.saturating_sub(2)
}

#[cfg(test)]
mod tests;
