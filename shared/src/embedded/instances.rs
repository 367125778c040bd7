//! [`InstanceStore`] on the `instances` and `counters` tables.

use super::{EmbeddedStore, db_error, row_id, stored_id, writable_id};
use crate::ports::{DeliveryStatus, InstanceRecord, InstanceStore, PollStatus, PortError};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde_json::{Map, Value};

/// JSON fields of [`InstanceRecord`] kept in their own columns, each with its own writer.
const POLL: &str = "poll";
const DELIVERY: &str = "delivery";
const VALID: &str = "valid";
const INVALID_REASON: &str = "invalidReason";

const SELECT_COLUMNS: &str =
    "SELECT id, record, poll, delivery, valid, invalid_reason FROM instances";

/// The user-editable part of `record` as JSON text (everything but the separate columns).
fn editable_json(record: &InstanceRecord) -> Result<String, PortError> {
    let mut value = serde_json::to_value(record)
        .map_err(|e| PortError::other(format!("cannot serialize instance record: {e}")))?;
    if let Value::Object(fields) = &mut value {
        for key in [POLL, DELIVERY, VALID, INVALID_REASON] {
            fields.remove(key);
        }
    }
    Ok(value.to_string())
}

fn to_json<T: serde::Serialize>(value: &T, what: &str) -> Result<String, PortError> {
    serde_json::to_string(value)
        .map_err(|e| PortError::other(format!("cannot serialize {what}: {e}")))
}

/// The raw columns of one `instances` row.
struct StoredInstance {
    id: i64,
    record: String,
    poll: String,
    delivery: String,
    valid: bool,
    invalid_reason: Option<String>,
}

impl StoredInstance {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredInstance> {
        Ok(StoredInstance {
            id: row.get(0)?,
            record: row.get(1)?,
            poll: row.get(2)?,
            delivery: row.get(3)?,
            valid: row.get(4)?,
            invalid_reason: row.get(5)?,
        })
    }

    fn into_record(self) -> Result<InstanceRecord, PortError> {
        let corrupt =
            |e: serde_json::Error| PortError::corrupt(format!("instance {}: {e}", self.id));
        let mut fields: Map<String, Value> = serde_json::from_str(&self.record).map_err(corrupt)?;
        fields.insert("id".into(), Value::from(stored_id(self.id)?));
        fields.insert(
            POLL.into(),
            serde_json::from_str(&self.poll).map_err(corrupt)?,
        );
        fields.insert(
            DELIVERY.into(),
            serde_json::from_str(&self.delivery).map_err(corrupt)?,
        );
        fields.insert(VALID.into(), Value::Bool(self.valid));
        fields.insert(
            INVALID_REASON.into(),
            self.invalid_reason.map_or(Value::Null, Value::String),
        );
        serde_json::from_value(Value::Object(fields)).map_err(corrupt)
    }
}

fn not_found(id: u64) -> PortError {
    PortError::not_found(format!("instance {id} does not exist"))
}

#[async_trait]
impl InstanceStore for EmbeddedStore {
    async fn next_id(&self) -> Result<u64, PortError> {
        self.run(|conn, _| {
            let value: i64 = conn
                .query_row(
                    "UPDATE counters SET value = value + 1 WHERE name = 'instance_id' \
                     RETURNING value",
                    [],
                    |row| row.get(0),
                )
                .map_err(db_error("next instance id"))?;
            stored_id(value)
        })
        .await
    }

    async fn create(&self, record: &InstanceRecord) -> Result<(), PortError> {
        let id = record.id;
        let key = writable_id(id)?;
        if key == 0 {
            return Err(PortError::other("instance id 0 is not valid"));
        }
        let organization = record.organization.clone();
        let editable = editable_json(record)?;
        let poll = to_json(&record.poll, "poll status")?;
        let delivery = to_json(&record.delivery, "delivery status")?;
        let valid = record.valid;
        let invalid_reason = record.invalid_reason.clone();
        self.run(move |conn, _| {
            let err = db_error("create instance");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let inserted = tx
                .execute(
                    "INSERT INTO instances \
                     (id, organization, record, poll, delivery, valid, invalid_reason) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                    params![
                        key,
                        organization,
                        editable,
                        poll,
                        delivery,
                        valid,
                        invalid_reason
                    ],
                )
                .map_err(&err)?;
            if inserted == 0 {
                return Err(PortError::conflict(format!("instance {id} already exists")));
            }
            // An id chosen outside next_id must never be handed out again by it.
            tx.execute(
                "UPDATE counters SET value = max(value, ?1) WHERE name = 'instance_id'",
                [key],
            )
            .map_err(&err)?;
            tx.commit().map_err(&err)
        })
        .await
    }

    async fn get(&self, id: u64) -> Result<Option<InstanceRecord>, PortError> {
        let Some(key) = row_id(id) else {
            return Ok(None);
        };
        self.run(move |conn, _| {
            let stored = conn
                .prepare_cached(&format!("{SELECT_COLUMNS} WHERE id = ?1"))
                .and_then(|mut statement| statement.query_row([key], StoredInstance::from_row))
                .optional()
                .map_err(db_error("get instance"))?;
            stored.map(StoredInstance::into_record).transpose()
        })
        .await
    }

    async fn list(
        &self,
        organization: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<InstanceRecord>, PortError> {
        let after = match after.map(i64::try_from) {
            None => 0,
            Some(Ok(after)) => after,
            // No instance id is above i64::MAX.
            Some(Err(_)) => return Ok(Vec::new()),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let organization = organization.to_owned();
        self.run(move |conn, _| {
            let err = db_error("list instances");
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_COLUMNS} WHERE organization = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                ))
                .map_err(&err)?;
            let rows = statement
                .query_map(
                    params![organization, after, limit],
                    StoredInstance::from_row,
                )
                .map_err(&err)?;
            rows.map(|row| row.map_err(&err).and_then(StoredInstance::into_record))
                .collect()
        })
        .await
    }

    async fn update(&self, record: &InstanceRecord) -> Result<(), PortError> {
        let id = record.id;
        let Some(key) = row_id(id) else {
            return Err(not_found(id));
        };
        let organization = record.organization.clone();
        let editable = editable_json(record)?;
        self.run(move |conn, _| {
            let changed = conn
                .execute(
                    "UPDATE instances SET organization = ?2, record = ?3 WHERE id = ?1",
                    params![key, organization, editable],
                )
                .map_err(db_error("update instance"))?;
            if changed == 0 {
                return Err(not_found(id));
            }
            Ok(())
        })
        .await
    }

    async fn set_poll_status(&self, id: u64, status: &PollStatus) -> Result<(), PortError> {
        let poll = to_json(status, "poll status")?;
        self.set_column(id, "UPDATE instances SET poll = ?2 WHERE id = ?1", poll)
            .await
    }

    async fn set_validity(
        &self,
        id: u64,
        valid: bool,
        reason: Option<&str>,
    ) -> Result<(), PortError> {
        let Some(key) = row_id(id) else {
            return Err(not_found(id));
        };
        let reason = reason.map(str::to_owned);
        self.run(move |conn, _| {
            let changed = conn
                .execute(
                    "UPDATE instances SET valid = ?2, invalid_reason = ?3 WHERE id = ?1",
                    params![key, valid, reason],
                )
                .map_err(db_error("set instance validity"))?;
            if changed == 0 {
                return Err(not_found(id));
            }
            Ok(())
        })
        .await
    }

    async fn set_delivery_status(&self, id: u64, status: &DeliveryStatus) -> Result<(), PortError> {
        let delivery = to_json(status, "delivery status")?;
        self.set_column(
            id,
            "UPDATE instances SET delivery = ?2 WHERE id = ?1",
            delivery,
        )
        .await
    }

    async fn delete(&self, id: u64) -> Result<(), PortError> {
        let Some(key) = row_id(id) else {
            return Ok(());
        };
        self.run(move |conn, _| {
            conn.execute("DELETE FROM instances WHERE id = ?1", [key])
                .map_err(db_error("delete instance"))?;
            Ok(())
        })
        .await
    }
}

impl EmbeddedStore {
    /// Run a one-column `UPDATE … WHERE id = ?1` with `value` as `?2`; `NotFound` if no row.
    async fn set_column(&self, id: u64, sql: &'static str, value: String) -> Result<(), PortError> {
        let Some(key) = row_id(id) else {
            return Err(not_found(id));
        };
        self.run(move |conn, _| {
            let changed = conn
                .execute(sql, params![key, value])
                .map_err(db_error("update instance status"))?;
            if changed == 0 {
                return Err(not_found(id));
            }
            Ok(())
        })
        .await
    }
}
