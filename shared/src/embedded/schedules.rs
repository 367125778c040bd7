//! [`PollScheduler`] on the `schedules` table; the runner's in-process timer reads
//! [`EmbeddedStore::all_schedules`] when [`EmbeddedStore::schedules_version`] says a
//! schedule was written since its last read.

use super::{EmbeddedStore, db_error, row_id, stored_id, stored_u32, writable_id};
use crate::ports::{PollScheduler, PortError};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl PollScheduler for EmbeddedStore {
    async fn upsert(&self, instance: u64, interval_minutes: u32) -> Result<(), PortError> {
        let key = writable_id(instance)?;
        if interval_minutes == 0 {
            // EventBridge refuses `rate(0 minutes)` too.
            return Err(PortError::other(
                "a polling interval must be at least 1 minute",
            ));
        }
        self.run(move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO schedules (instance, interval_minutes) VALUES (?1, ?2) \
                 ON CONFLICT (instance) DO UPDATE SET interval_minutes = excluded.interval_minutes",
            )
            .and_then(|mut statement| statement.execute(params![key, interval_minutes]))
            .map_err(db_error("upsert schedule"))?;
            Ok(())
        })
        .await?;
        self.schedules_changed();
        Ok(())
    }

    async fn delete(&self, instance: u64) -> Result<(), PortError> {
        let deleted = self
            .delete_instance_row(
                instance,
                "DELETE FROM schedules WHERE instance = ?1",
                "delete schedule",
            )
            .await;
        // Bumped even after a failure: the scheduler's re-read is cheap and then certain.
        self.schedules_changed();
        deleted
    }

    async fn get(&self, instance: u64) -> Result<Option<u32>, PortError> {
        let Some(key) = row_id(instance) else {
            return Ok(None);
        };
        self.run(move |conn, _| {
            let interval: Option<i64> = conn
                .prepare_cached("SELECT interval_minutes FROM schedules WHERE instance = ?1")
                .and_then(|mut statement| statement.query_row([key], |row| row.get(0)))
                .optional()
                .map_err(db_error("get schedule"))?;
            interval
                .map(|minutes| stored_u32(minutes, "interval"))
                .transpose()
        })
        .await
    }
}

impl EmbeddedStore {
    /// Every schedule as `(instance, interval_minutes)`, by instance id.
    pub async fn all_schedules(&self) -> Result<Vec<(u64, u32)>, PortError> {
        self.run(|conn, _| {
            let err = db_error("list schedules");
            let mut statement = conn
                .prepare_cached(
                    "SELECT instance, interval_minutes FROM schedules ORDER BY instance",
                )
                .map_err(&err)?;
            let rows = statement
                .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
                .map_err(&err)?;
            rows.map(|row| {
                let (instance, minutes) = row.map_err(&err)?;
                Ok((stored_id(instance)?, stored_u32(minutes, "interval")?))
            })
            .collect()
        })
        .await
    }
}
