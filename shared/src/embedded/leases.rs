//! [`LeaseStore`] on the `leases` table.

use super::{EmbeddedStore, db_error, row_id, to_nanos, writable_id};
use crate::ports::{LeaseStore, PollStatus, PortError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

#[async_trait]
impl LeaseStore for EmbeddedStore {
    async fn acquire(
        &self,
        instance: u64,
        owner: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let key = writable_id(instance)?;
        let now_ns = to_nanos(now)?;
        let expires_ns = to_nanos(expires_at)?;
        let owner = owner.to_owned();
        self.run(move |conn, _| {
            // One conditional upsert: take a free row, an expired one (its expiry is before
            // `now`: a lease is held through its expiry instant, as on DynamoDB) or our
            // own (renewal).
            let changed = conn
                .execute(
                    "INSERT INTO leases (instance, owner, expires_ns) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (instance) DO UPDATE \
                     SET owner = excluded.owner, expires_ns = excluded.expires_ns \
                     WHERE leases.owner = excluded.owner OR leases.expires_ns < ?4",
                    params![key, owner, expires_ns, now_ns],
                )
                .map_err(db_error("acquire lease"))?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release(&self, instance: u64, owner: &str) -> Result<(), PortError> {
        let Some(key) = row_id(instance) else {
            return Ok(());
        };
        let owner = owner.to_owned();
        self.run(move |conn, _| {
            conn.execute(
                "DELETE FROM leases WHERE instance = ?1 AND owner = ?2",
                params![key, owner],
            )
            .map_err(db_error("release lease"))?;
            Ok(())
        })
        .await
    }
    /// One transaction, one commit: the status on the instance row and the lease row
    /// gone together.
    async fn release_and_record(
        &self,
        instance: u64,
        owner: &str,
        status: &PollStatus,
    ) -> Result<bool, PortError> {
        let Some(key) = row_id(instance) else {
            return Err(PortError::not_found(format!(
                "instance {instance} does not exist"
            )));
        };
        let poll = serde_json::to_string(status)
            .map_err(|e| PortError::other(format!("could not serialize the poll status: {e}")))?;
        let owner = owner.to_owned();
        self.run(move |conn, _| {
            let tx = conn.transaction().map_err(db_error("begin"))?;
            tx.execute(
                "UPDATE instances SET poll = ?2 WHERE id = ?1",
                params![key, poll],
            )
            .map_err(db_error("set poll status"))?;
            tx.execute(
                "DELETE FROM leases WHERE instance = ?1 AND owner = ?2",
                params![key, owner],
            )
            .map_err(db_error("release lease"))?;
            tx.commit().map_err(db_error("commit"))?;
            Ok(true)
        })
        .await
    }
}

impl EmbeddedStore {
    /// Drop every poll lease. Only for a process that holds the database exclusively
    /// (the standalone runner takes a file lock first): at start-up any lease left in
    /// the file belongs to a previous run that died mid-poll, and waiting for it to expire
    /// would only delay that instance's polls. Returns how many were released.
    pub async fn release_all_leases(&self) -> Result<usize, PortError> {
        self.run(|conn, _| {
            conn.execute("DELETE FROM leases", [])
                .map_err(db_error("release stale leases"))
        })
        .await
    }
}
