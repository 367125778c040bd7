//! Turning a changed record into an event, and remembering what was already emitted.
//!
//! Why a "seen" set: every poll re-reads a lookback window below the watermark with
//! Sage's inclusive `updated_or_created_since`, so late-committed changes and changes in
//! the boundary second are never missed. The price is that records already emitted come
//! back; they are recognised by their version key (resource, id, change time) and
//! skipped. Keys are kept only while their change time is inside the next poll's window.

use crate::event::EventType;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Decide CREATED vs UPDATED for a record returned by an `updated_or_created_since` list.
///
/// CREATED when the record was created since the last watermark (the receiver has never
/// heard of it), or when created and updated are the same instant within `tolerance`
/// (the Cloud Elements rule). Otherwise UPDATED. With `filter_by_updated_date = false`
/// the created and updated fields are one and the same, so only the first rule can tell:
/// a record whose date is at/after the watermark is CREATED, otherwise UPDATED.
pub fn classify(
    created: Option<DateTime<Utc>>,
    updated: DateTime<Utc>,
    watermark: DateTime<Utc>,
    tolerance: Duration,
    filter_by_updated_date: bool,
) -> EventType {
    let Some(created) = created else {
        return EventType::Updated;
    };
    if created >= watermark {
        return EventType::Created;
    }
    if filter_by_updated_date && (updated - created).abs() <= tolerance {
        return EventType::Created;
    }
    EventType::Updated
}

/// Most versions one watermark remembers. A DynamoDB item holds at most 400 KB and each
/// stored entry takes about 28 bytes; past this bound the oldest are forgotten, which can
/// only cause a duplicate (same event id, de-duplicated downstream), never a loss.
pub const MAX_SEEN: usize = 8_000;

/// Version keys already emitted, each with the change time that bounds its life.
#[derive(Debug, Default)]
pub struct SeenSet {
    keys: HashSet<u64>,
    /// (change time in epoch seconds, key) for everything emitted or carried over.
    entries: Vec<(i64, u64)>,
}

impl SeenSet {
    /// Load from the watermark's stored form (`"<epoch seconds>:<16 hex>"`).
    pub fn from_stored(stored: &[String]) -> Self {
        let mut set = SeenSet::default();
        for entry in stored {
            if let Some((time, key)) = entry.split_once(':')
                && let (Ok(time), Ok(key)) = (time.parse::<i64>(), u64::from_str_radix(key, 16))
            {
                set.insert_key(time, key);
            }
        }
        set
    }

    /// The compact key of one version of one record: 64 bits of SHA-256, so a collision
    /// (which would drop one event) is out of reach for the few thousand versions a
    /// watermark remembers.
    pub fn key(resource: &str, object_id: &str, version: &str) -> u64 {
        let mut hash = Sha256::new();
        for part in [resource, object_id, version] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }

    pub fn contains(&self, key: u64) -> bool {
        self.keys.contains(&key)
    }

    pub fn insert(&mut self, at: DateTime<Utc>, key: u64) {
        self.insert_key(at.timestamp(), key);
    }

    fn insert_key(&mut self, time: i64, key: u64) {
        if self.keys.insert(key) {
            self.entries.push((time, key));
            // Keep memory bounded whatever the number of changes: compact to the newest
            // MAX_SEEN once twice as many have piled up (amortised O(1) per insert).
            if self.entries.len() >= 2 * MAX_SEEN {
                self.compact();
            }
        }
    }

    fn compact(&mut self) {
        self.entries
            .sort_unstable_by_key(|entry| std::cmp::Reverse(entry.0));
        self.entries.truncate(MAX_SEEN);
        self.keys = self.entries.iter().map(|(_, k)| *k).collect();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stored form: keys whose change time is at or after `keep_from` (the next
    /// poll's lower bound; older ones cannot come back), the newest [`MAX_SEEN`] at most.
    pub fn to_stored(&self, keep_from: DateTime<Utc>) -> Vec<String> {
        let cutoff = keep_from.timestamp() - 1;
        let mut kept: Vec<&(i64, u64)> = self
            .entries
            .iter()
            .filter(|(time, _)| *time >= cutoff)
            .collect();
        kept.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.0));
        kept.truncate(MAX_SEEN);
        kept.iter()
            .map(|(time, key)| format!("{time}:{key:016x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn created_since_watermark_is_created() {
        let e = classify(Some(t(10)), t(50), t(5), Duration::seconds(1), true);
        assert_eq!(e, EventType::Created);
    }

    #[test]
    fn created_equal_updated_within_tolerance_is_created() {
        let e = classify(Some(t(0)), t(1), t(5), Duration::seconds(1), true);
        assert_eq!(e, EventType::Created);
        let e = classify(Some(t(0)), t(2), t(5), Duration::seconds(1), true);
        assert_eq!(e, EventType::Updated);
    }

    #[test]
    fn created_before_watermark_and_updated_later_is_updated() {
        let e = classify(Some(t(0)), t(100), t(50), Duration::seconds(1), true);
        assert_eq!(e, EventType::Updated);
    }

    #[test]
    fn without_updated_filter_only_the_watermark_decides() {
        let e = classify(Some(t(0)), t(0), t(50), Duration::seconds(1), false);
        assert_eq!(e, EventType::Updated);
        let e = classify(Some(t(60)), t(60), t(50), Duration::seconds(1), false);
        assert_eq!(e, EventType::Created);
    }

    #[test]
    fn missing_created_date_is_updated() {
        assert_eq!(
            classify(None, t(0), t(0), Duration::zero(), true),
            EventType::Updated
        );
    }

    #[test]
    fn seen_set_round_trips_and_prunes() {
        let mut seen = SeenSet::default();
        let old = SeenSet::key("customers", "a", "v1");
        let new = SeenSet::key("customers", "b", "v1");
        seen.insert(t(0), old);
        seen.insert(t(100), new);
        seen.insert(t(100), new);
        assert_eq!(seen.len(), 2);
        let stored = seen.to_stored(t(50));
        let back = SeenSet::from_stored(&stored);
        assert!(back.contains(new));
        assert!(!back.contains(old));
    }

    #[test]
    fn seen_set_is_bounded_and_keeps_the_newest() {
        let mut seen = SeenSet::default();
        for i in 0..(3 * MAX_SEEN as i64) {
            seen.insert(t(i), SeenSet::key("r", &i.to_string(), "v"));
        }
        assert!(seen.len() < 2 * MAX_SEEN);
        let newest = SeenSet::key("r", &(3 * MAX_SEEN as i64 - 1).to_string(), "v");
        assert!(seen.contains(newest));
        assert!(!seen.contains(SeenSet::key("r", "0", "v")));
        let stored = seen.to_stored(t(0));
        assert_eq!(stored.len(), MAX_SEEN);
        // Fits a DynamoDB item (400 KB) with room to spare.
        let bytes: usize = stored.iter().map(|s| s.len() + 4).sum();
        assert!(bytes < 300 * 1024, "{bytes} bytes");
    }

    #[test]
    fn keys_differ_by_version_and_resource() {
        let a = SeenSet::key("customers", "1", "2020-01-01T00:00:00Z");
        assert_ne!(a, SeenSet::key("customers", "1", "2020-01-01T00:00:01Z"));
        assert_ne!(a, SeenSet::key("vendors", "1", "2020-01-01T00:00:00Z"));
        assert_eq!(a, SeenSet::key("customers", "1", "2020-01-01T00:00:00Z"));
    }
}
