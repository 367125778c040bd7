//! [`WatermarkStore`] on the `watermarks` table.

use super::{EmbeddedStore, db_error, row_id, to_nanos, writable_id};
use crate::ports::{PortError, Watermark, WatermarkStore};
use async_trait::async_trait;
use chrono::DateTime;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;

#[async_trait]
impl WatermarkStore for EmbeddedStore {
    async fn load_all(&self, instance: u64) -> Result<BTreeMap<String, Watermark>, PortError> {
        let Some(key) = row_id(instance) else {
            return Ok(BTreeMap::new());
        };
        self.run(move |conn, _| {
            let mut statement = conn
                .prepare_cached("SELECT resource, at_ns, seen FROM watermarks WHERE instance = ?1")
                .map_err(db_error("load watermarks"))?;
            let rows = statement
                .query_map(params![key], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(db_error("load watermarks"))?;
            let mut all = BTreeMap::new();
            for row in rows {
                let (resource, at_ns, seen) = row.map_err(db_error("load watermarks"))?;
                let seen = serde_json::from_str(&seen).map_err(|e| {
                    PortError::corrupt(format!("watermark {instance}/{resource}: {e}"))
                })?;
                all.insert(
                    resource,
                    Watermark {
                        at: DateTime::from_timestamp_nanos(at_ns),
                        seen,
                    },
                );
            }
            Ok(all)
        })
        .await
    }

    async fn load(&self, instance: u64, resource: &str) -> Result<Option<Watermark>, PortError> {
        let Some(key) = row_id(instance) else {
            return Ok(None);
        };
        let resource = resource.to_owned();
        self.run(move |conn, _| {
            let stored: Option<(i64, String)> = conn
                .query_row(
                    "SELECT at_ns, seen FROM watermarks WHERE instance = ?1 AND resource = ?2",
                    params![key, resource],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(db_error("load watermark"))?;
            let Some((at_ns, seen)) = stored else {
                return Ok(None);
            };
            let seen = serde_json::from_str(&seen)
                .map_err(|e| PortError::corrupt(format!("watermark {instance}/{resource}: {e}")))?;
            Ok(Some(Watermark {
                at: DateTime::from_timestamp_nanos(at_ns),
                seen,
            }))
        })
        .await
    }

    async fn advance(
        &self,
        instance: u64,
        resource: &str,
        new: &Watermark,
    ) -> Result<bool, PortError> {
        let key = writable_id(instance)?;
        let at_ns = to_nanos(new.at)?;
        let seen = serde_json::to_string(&new.seen)
            .map_err(|e| PortError::other(format!("cannot serialize watermark: {e}")))?;
        let resource = resource.to_owned();
        self.run(move |conn, _| {
            // The condition lives in the write itself: an equal time is accepted (a re-poll
            // that found nothing new refreshes `seen`), an earlier one is refused.
            let changed = conn
                .execute(
                    "INSERT INTO watermarks (instance, resource, at_ns, seen) \
                     VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (instance, resource) DO UPDATE \
                     SET at_ns = excluded.at_ns, seen = excluded.seen \
                     WHERE watermarks.at_ns <= excluded.at_ns",
                    params![key, resource, at_ns, seen],
                )
                .map_err(db_error("advance watermark"))?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_instance(&self, instance: u64) -> Result<(), PortError> {
        let Some(key) = row_id(instance) else {
            return Ok(());
        };
        self.run(move |conn, _| {
            let err = db_error("delete watermarks");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            tx.execute("DELETE FROM watermarks WHERE instance = ?1", [key])
                .map_err(&err)?;
            tx.execute("DELETE FROM leases WHERE instance = ?1", [key])
                .map_err(&err)?;
            tx.commit().map_err(&err)
        })
        .await
    }
}
