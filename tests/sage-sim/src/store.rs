//! The records the simulator serves, per endpoint, with cached filtered id lists so
//! paging through 100,000 records costs a slice per page, not a scan.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::clock::{sage_time, whole_seconds};
use crate::fixtures;

/// A new 32-character lowercase hex id, like Sage's.
pub(crate) fn new_id() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// `"contacts"` from `"contacts"` or `"/contacts"`.
pub(crate) fn endpoint_name(endpoint: &str) -> &str {
    endpoint.trim_matches('/')
}

/// Keys the simulator owns; fields given by tests cannot overwrite them.
const RESERVED: &[&str] = &["id", "$path", "created_at", "updated_at", "deleted_at"];

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) displayed_as: String,
    pub(crate) fields: Map<String, Value>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) deleted_at: Option<DateTime<Utc>>,
}

/// Which attributes a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attributes {
    /// No `attributes` parameter: `id`, `displayed_as`, `$path`.
    Minimal,
    /// `attributes=all`.
    All,
    /// `attributes=a,b`: the minimal three plus these.
    Named(Vec<String>),
}

impl Record {
    /// The record as Sage shows it, keys in Sage's order (`id`, `displayed_as`, `$path`
    /// first), ready to serialize without building a `Value`.
    pub(crate) fn view<'a>(
        &'a self,
        endpoint: &'a str,
        attributes: &'a Attributes,
    ) -> RecordView<'a> {
        RecordView {
            record: self,
            endpoint,
            attributes,
        }
    }

    /// The whole record, for tests (`SageSim::record`), deleted ones included.
    pub(crate) fn snapshot(&self, endpoint: &str) -> Value {
        let mut value =
            serde_json::to_value(self.view(endpoint, &Attributes::All)).unwrap_or(Value::Null);
        if let (Some(obj), Some(at)) = (value.as_object_mut(), self.deleted_at) {
            obj.insert("deleted_at".into(), Value::String(sage_time(at)));
        }
        value
    }
}

/// A record as a list or a single GET shows it.
pub(crate) struct RecordView<'a> {
    record: &'a Record,
    endpoint: &'a str,
    attributes: &'a Attributes,
}

impl RecordView<'_> {
    fn wants(&self, key: &str) -> bool {
        match self.attributes {
            Attributes::Minimal => false,
            Attributes::All => true,
            Attributes::Named(names) => names.iter().any(|n| n == key),
        }
    }
}

impl Serialize for RecordView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let record = self.record;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &record.id)?;
        map.serialize_entry("displayed_as", &record.displayed_as)?;
        map.serialize_entry("$path", &format!("/{}/{}", self.endpoint, record.id))?;
        for (key, value) in &record.fields {
            if self.wants(key) {
                map.serialize_entry(key, value)?;
            }
        }
        if self.wants("created_at") {
            map.serialize_entry("created_at", &sage_time(record.created_at))?;
        }
        if self.wants("updated_at") {
            map.serialize_entry("updated_at", &sage_time(record.updated_at))?;
        }
        map.end()
    }
}

/// A deleted record as a `deleted_since` list shows it: `{"id","deleted_at"}` (Sage's
/// shape is unconfirmed; this is the least a client can expect).
pub(crate) struct DeletedView<'a>(pub(crate) &'a Record);

impl Serialize for DeletedView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("id", &self.0.id)?;
        map.serialize_entry("deleted_at", &self.0.deleted_at.map(sage_time))?;
        map.end()
    }
}

/// The list filters that decide which ids a list holds (paging aside).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct ListFilter {
    /// `updated_or_created_since`, whole seconds, inclusive.
    pub(crate) changed_since: Option<i64>,
    /// `deleted_since`, whole seconds, exclusive; selects deleted records instead of live ones.
    pub(crate) deleted_since: Option<i64>,
    /// `contact_type_id` (contacts only).
    pub(crate) contact_type: Option<String>,
    /// `search`, lower-cased.
    pub(crate) search: Option<String>,
}

impl ListFilter {
    fn accepts(&self, endpoint: &str, record: &Record) -> bool {
        let time_ok = match (self.deleted_since, record.deleted_at) {
            (Some(since), Some(deleted)) => deleted.timestamp() > since,
            (Some(_), None) | (None, Some(_)) => false,
            (None, None) => self
                .changed_since
                .is_none_or(|since| record.updated_at.timestamp() >= since),
        };
        if !time_ok {
            return false;
        }
        if endpoint == "contacts"
            && let Some(wanted) = &self.contact_type
            && !fixtures::contact_type_ids(&record.fields).any(|t| t.eq_ignore_ascii_case(wanted))
        {
            return false;
        }
        if let Some(needle) = &self.search {
            let keys: &[&str] = if endpoint == "contacts" {
                &["name", "reference"]
            } else {
                &[]
            };
            let in_fields = keys.iter().any(|k| {
                record
                    .fields
                    .get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.to_lowercase().contains(needle))
            });
            let in_displayed =
                endpoint != "contacts" && record.displayed_as.to_lowercase().contains(needle);
            if !in_fields && !in_displayed {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Default)]
pub(crate) struct Collection {
    /// By id: a stable order that has nothing to do with dates, as Sage promises none.
    pub(crate) records: BTreeMap<String, Record>,
    /// Bumped on every change; cached lists of an older version are stale.
    version: u64,
    /// How many records were generated so far (numbers names and references).
    generated: u64,
}

/// A filtered id list and the collection version it was computed from.
type CachedList = (u64, Arc<Vec<String>>);

#[derive(Debug, Default)]
pub(crate) struct Store {
    collections: HashMap<String, Collection>,
    cache: HashMap<(String, ListFilter), CachedList>,
}

/// How many filtered lists to keep; plenty for tests and benchmarks.
const CACHE_LIMIT: usize = 64;

impl Store {
    pub(crate) fn new(now: DateTime<Utc>) -> Self {
        let mut store = Store::default();
        for endpoint in fixtures::served_endpoints() {
            store
                .collections
                .insert(endpoint.to_owned(), Collection::default());
        }
        // Sage's two contact types are reference data, present in every business.
        let at = whole_seconds(now);
        if let Some(types) = store.collections.get_mut("contact_types") {
            for (id, name) in [("CUSTOMER", "Customer"), ("VENDOR", "Supplier")] {
                types.records.insert(
                    id.to_owned(),
                    Record {
                        id: id.to_owned(),
                        displayed_as: name.to_owned(),
                        fields: Map::new(),
                        created_at: at,
                        updated_at: at,
                        deleted_at: None,
                    },
                );
            }
        }
        store
    }

    pub(crate) fn collection(&self, endpoint: &str) -> Option<&Collection> {
        self.collections.get(endpoint)
    }

    fn collection_mut(&mut self, endpoint: &str) -> &mut Collection {
        self.collections.entry(endpoint.to_owned()).or_default()
    }

    /// Adds a record: generated fields for the endpoint, overridden by `fields`.
    /// `alternate_types`: generated contacts alternate CUSTOMER/VENDOR (seeding) instead
    /// of defaulting to CUSTOMER (explicit creation).
    pub(crate) fn insert(
        &mut self,
        endpoint: &str,
        fields: Value,
        at: DateTime<Utc>,
        alternate_types: bool,
    ) -> String {
        let collection = self.collection_mut(endpoint);
        collection.generated += 1;
        let seq = collection.generated;
        let contact_type = if alternate_types {
            fixtures::alternating_contact_type(seq)
        } else {
            "CUSTOMER"
        };
        let mut merged = fixtures::generated_fields(endpoint, seq, contact_type);
        let explicit_displayed_as = merge(&mut merged, fields);
        fixtures::normalise_contact_types(&mut merged);
        let id = new_id();
        let displayed_as =
            explicit_displayed_as.unwrap_or_else(|| fixtures::displayed_as(endpoint, &id, &merged));
        let at = whole_seconds(at);
        collection.records.insert(
            id.clone(),
            Record {
                id: id.clone(),
                displayed_as,
                fields: merged,
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
        );
        collection.version += 1;
        id
    }

    pub(crate) fn update(
        &mut self,
        endpoint: &str,
        id: &str,
        fields: Value,
        at: DateTime<Utc>,
    ) -> bool {
        let Some(collection) = self.collections.get_mut(endpoint) else {
            return false;
        };
        let Some(record) = collection
            .records
            .get_mut(id)
            .filter(|r| r.deleted_at.is_none())
        else {
            return false;
        };
        let explicit = merge(&mut record.fields, fields);
        fixtures::normalise_contact_types(&mut record.fields);
        record.displayed_as =
            explicit.unwrap_or_else(|| fixtures::displayed_as(endpoint, id, &record.fields));
        record.updated_at = whole_seconds(at);
        collection.version += 1;
        true
    }

    pub(crate) fn delete(&mut self, endpoint: &str, id: &str, at: DateTime<Utc>) -> bool {
        let Some(collection) = self.collections.get_mut(endpoint) else {
            return false;
        };
        let Some(record) = collection
            .records
            .get_mut(id)
            .filter(|r| r.deleted_at.is_none())
        else {
            return false;
        };
        record.deleted_at = Some(whole_seconds(at));
        collection.version += 1;
        true
    }

    /// The ids a list holds, in the list's order; `None` if the endpoint is unknown.
    pub(crate) fn list(&mut self, endpoint: &str, filter: &ListFilter) -> Option<Arc<Vec<String>>> {
        let collection = self.collections.get(endpoint)?;
        let key = (endpoint.to_owned(), filter.clone());
        if let Some((version, ids)) = self.cache.get(&key)
            && *version == collection.version
        {
            return Some(Arc::clone(ids));
        }
        let ids: Arc<Vec<String>> = Arc::new(
            collection
                .records
                .values()
                .filter(|r| filter.accepts(endpoint, r))
                .map(|r| r.id.clone())
                .collect(),
        );
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache
            .insert(key, (collection.version, Arc::clone(&ids)));
        Some(ids)
    }
}

/// Merges top-level `fields` into `into`, skipping keys the simulator owns.
/// Returns an explicitly given `displayed_as`.
fn merge(into: &mut Map<String, Value>, fields: Value) -> Option<String> {
    let Value::Object(given) = fields else {
        return None;
    };
    let mut displayed_as = None;
    for (key, value) in given {
        if key == "displayed_as" {
            displayed_as = value.as_str().map(str::to_owned);
        } else if !RESERVED.contains(&key.as_str()) {
            into.insert(key, value);
        }
    }
    displayed_as
}
