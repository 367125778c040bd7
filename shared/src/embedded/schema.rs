//! The database schema and its migrations.
//!
//! `schema_version` holds one row: the number of migrations applied. Opening a database
//! applies the missing ones in one transaction; a database from a newer build (a version
//! beyond [`MIGRATIONS`]) is refused rather than misread.
//!
//! Times: `*_ns` columns are nanoseconds since the epoch (exact round trip of a
//! `DateTime<Utc>`, so conditional writes compare at full precision); `*_ms` columns are
//! milliseconds (queue timing, like SQS).

use super::db_error;
use crate::ports::PortError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Migration `n` (0-based) brings the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[V1];

const V1: &str = r#"
-- Small named values: the secret-key check value.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- Monotonic counters. `instance_id` only ever grows, so ids are never reused, even after
-- the instance with the highest id is deleted.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('instance_id', 0);

-- Instance records. `record` is the InstanceRecord JSON without the parts that have their
-- own writers (poll, delivery, valid, invalidReason), so no writer can clobber another's.
CREATE TABLE instances (
    id             INTEGER PRIMARY KEY,
    organization   TEXT NOT NULL,
    record         TEXT NOT NULL,
    poll           TEXT NOT NULL,
    delivery       TEXT NOT NULL,
    valid          INTEGER NOT NULL,
    invalid_reason TEXT
);
CREATE INDEX instances_by_organization ON instances (organization, id);

CREATE TABLE watermarks (
    instance INTEGER NOT NULL,
    resource TEXT NOT NULL,
    at_ns    INTEGER NOT NULL,
    seen     TEXT NOT NULL,          -- JSON array of version keys
    PRIMARY KEY (instance, resource)
);

CREATE TABLE leases (
    instance   INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_ns INTEGER NOT NULL
);

-- XChaCha20-Poly1305 of the secret JSON; associated data binds each row to its instance.
CREATE TABLE secrets (
    instance   INTEGER PRIMARY KEY,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL
);

CREATE TABLE schedules (
    instance         INTEGER PRIMARY KEY,
    interval_minutes INTEGER NOT NULL
);

-- The event queue. `receipt` is set on each receive; a message is in flight while
-- visible_at_ms is in the future.
CREATE TABLE queue (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL,
    body          TEXT NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
CREATE INDEX queue_by_visibility ON queue (visible_at_ms, seq);
CREATE INDEX queue_by_receipt ON queue (receipt) WHERE receipt IS NOT NULL;

CREATE TABLE dead_letters (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL,
    body          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    failed_at_ms  INTEGER NOT NULL,
    receive_count INTEGER NOT NULL
);
"#;

/// The schema version this build writes.
pub(super) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Create or migrate the schema to [`CURRENT_VERSION`].
pub(super) fn migrate(conn: &mut Connection) -> Result<(), PortError> {
    let err = db_error("migrate schema");
    // IMMEDIATE: two processes opening a new file at once must not both migrate it.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
        .map_err(&err)?;
    let version: i64 = tx
        .query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .optional()
        .map_err(&err)?
        .flatten()
        .unwrap_or(0);
    if version > CURRENT_VERSION {
        return Err(PortError::other(format!(
            "database schema version {version} is newer than this build's ({CURRENT_VERSION}); \
             upgrade sage-events"
        )));
    }
    let applied = usize::try_from(version)
        .map_err(|_| PortError::corrupt(format!("schema version {version} is negative")))?;
    if applied == MIGRATIONS.len() {
        return Ok(());
    }
    for migration in &MIGRATIONS[applied..] {
        tx.execute_batch(migration).map_err(&err)?;
    }
    tx.execute("DELETE FROM schema_version", []).map_err(&err)?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [CURRENT_VERSION],
    )
    .map_err(&err)?;
    tx.commit().map_err(&err)
}
