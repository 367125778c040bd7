//! Embedded adapters: every port on one SQLite file, for the standalone runner.
//!
//! `sage-events serve` runs registration, polling and delivery in one long-lived process
//! without AWS. [`EmbeddedStore`] implements all the ports ([`InstanceStore`],
//! [`WatermarkStore`], [`LeaseStore`], [`SecretStore`], [`EventQueue`], [`QueueConsumer`],
//! [`PollScheduler`]) over a single SQLite database, with the same observable behaviour as
//! the AWS adapters (conditional writes, `Conflict`/`NotFound` kinds, idempotent deletes,
//! SQS-like visibility), so the same contract tests run against both.
//!
//! Why these choices:
//! - **Durability.** The runner promises that `kill -9` loses nothing that a call reported
//!   as done: the database runs in WAL mode with `synchronous=FULL`, so a committed
//!   transaction is on disk when the call returns (a rotated Sage refresh token, a
//!   watermark, a queued notification).
//! - **One connection behind a mutex.** rusqlite is synchronous; each call runs on
//!   `tokio::task::spawn_blocking` and holds the connection for one short transaction.
//!   SQLite allows one writer at a time anyway, and the runner's load (a few instances,
//!   polls every few minutes) is far below what one connection serves. It also makes
//!   [`EmbeddedStore::open_in_memory`] work: an in-memory database exists per connection.
//! - **Secrets encrypted at rest** with XChaCha20-Poly1305 under a [`SecretKey`] kept
//!   outside the database (environment or key file), a fresh random nonce per write and
//!   the instance id as associated data, so a row copied onto another instance fails to
//!   decrypt instead of leaking one customer's credentials into another's requests.
//! - **Prepared statements are cached** (`prepare_cached`, [`STATEMENT_CACHE`] slots): a
//!   poll runs the same dozen statements every time, and compiling them was about a tenth
//!   of the runner's CPU at a few thousand instances.
//! - **Counters for the operator and the benchmarks**: [`EmbeddedStore::commit_count`] counts
//!   durable commits (each one an fsync under `synchronous=FULL`, the cost that bounds an
//!   idle poll), and [`EmbeddedStore::schedules_version`] changes whenever a schedule is
//!   written, so the runner's scheduler re-reads the table only then, not every tick.
//! - **Time** for the queue comes from a [`Clock`] so tests can move it; leases compare
//!   against the `now` their caller passes, as the port requires.
//!
//! Schema (version 1, see `schema.rs`): `schema_version`, `meta` (key check), `counters`
//! (instance id counter, never reused), `instances`, `watermarks`, `leases`, `secrets`,
//! `schedules`, `queue`, `dead_letters`.
//!
//! [`InstanceStore`]: crate::ports::InstanceStore
//! [`WatermarkStore`]: crate::ports::WatermarkStore
//! [`LeaseStore`]: crate::ports::LeaseStore
//! [`SecretStore`]: crate::ports::SecretStore
//! [`EventQueue`]: crate::ports::EventQueue
//! [`QueueConsumer`]: crate::ports::QueueConsumer
//! [`PollScheduler`]: crate::ports::PollScheduler

mod instances;
mod key;
mod leases;
mod process_leases;
mod queue;
mod schedules;
mod schema;
mod secrets;
mod watermarks;

pub use key::{SecretKey, SecretKeyError};
pub use process_leases::ProcessLeases;
pub use queue::{DeadLetter, MAX_RETRY_DELAY, QueueDepth};

use crate::clock::{Clock, SystemClock};
use crate::ports::{PortError, PortErrorKind};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Prepared statements kept per connection: more than the store's distinct hot statements
/// (about 30), so none is ever evicted and recompiled.
pub const STATEMENT_CACHE: usize = 64;

/// How long a statement waits for another process's lock (e.g. an operator's CLI command
/// against the same file) before reporting `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// All the ports on one SQLite database. Cheap to clone (shares the connection); wrap a
/// clone in `Arc<dyn Port>` for each service.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    cipher: XChaCha20Poly1305,
    clock: Arc<dyn Clock>,
    /// Transactions committed (each one durable, `synchronous=FULL`): what a poll costs
    /// in fsyncs, asserted by the tests and reported by the scale benchmark.
    commits: Arc<AtomicU64>,
    /// Bumped after every schedule write.
    schedules_version: AtomicU64,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Open (creating if needed) the database at `path`, with the system clock.
    ///
    /// A new file is created with mode 0600 (it holds token hashes and encrypted secrets).
    /// The schema is created or migrated. Fails with `Corrupt` if `secret_key` is not the
    /// key the database's secrets were written with, and with `Other` if the file was
    /// written by a newer schema than this build knows.
    pub fn open(path: &Path, secret_key: SecretKey) -> Result<EmbeddedStore, PortError> {
        Self::open_with_clock(path, secret_key, Arc::new(SystemClock))
    }

    /// [`EmbeddedStore::open`] with the given clock (used for queue visibility times).
    pub fn open_with_clock(
        path: &Path,
        secret_key: SecretKey,
        clock: Arc<dyn Clock>,
    ) -> Result<EmbeddedStore, PortError> {
        create_private_file(path)?;
        let conn = Connection::open(path).map_err(db_error("open database"))?;
        let journal: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(db_error("enable WAL"))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(PortError::other(format!(
                "database refused WAL mode (journal_mode is {journal})"
            )));
        }
        Self::finish_open(conn, secret_key, clock)
    }

    /// A private in-memory database (for tests): it lives as long as this store and its
    /// clones, because it belongs to the one connection they share.
    pub fn open_in_memory(
        secret_key: SecretKey,
        clock: Arc<dyn Clock>,
    ) -> Result<EmbeddedStore, PortError> {
        let conn = Connection::open_in_memory().map_err(db_error("open in-memory database"))?;
        Self::finish_open(conn, secret_key, clock)
    }

    fn finish_open(
        mut conn: Connection,
        secret_key: SecretKey,
        clock: Arc<dyn Clock>,
    ) -> Result<EmbeddedStore, PortError> {
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_error("set synchronous=FULL"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(db_error("set busy timeout"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let cipher = XChaCha20Poly1305::new(&secret_key.aead_key());
        schema::migrate(&mut conn)?;
        secrets::check_key(&mut conn, &cipher)?;
        let commits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commits);
        conn.commit_hook(Some(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            false // never turn the commit into a rollback
        }))
        .map_err(db_error("install the commit counter"))?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                cipher,
                clock,
                commits,
                schedules_version: AtomicU64::new(0),
            }),
        })
    }

    /// Durable commits since the store was opened (every write statement outside a
    /// transaction, and every transaction, is one).
    pub fn commit_count(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// A number that changes whenever a schedule is created, changed or deleted through
    /// this store (or its clones): the runner's scheduler re-reads
    /// [`EmbeddedStore::all_schedules`] only when it moved.
    pub fn schedules_version(&self) -> u64 {
        self.inner.schedules_version.load(Ordering::Acquire)
    }

    fn schedules_changed(&self) {
        self.inner.schedules_version.fetch_add(1, Ordering::AcqRel);
    }

    /// Run `op` on the connection, off the async executor.
    async fn run<T, F>(&self, op: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Inner) -> Result<T, PortError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-applied write: every
            // multi-statement operation runs in a transaction that rolls back on drop.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            op(&mut conn, &inner)
        })
        .await
        .map_err(|e| PortError::other(format!("embedded store task failed: {e}")))?
    }

    /// Delete the instance's row of a per-instance table (`schedules`, `secrets`).
    /// Idempotent, as the ports require: a missing row or an unstorable id is no error.
    async fn delete_instance_row(
        &self,
        instance: u64,
        delete_statement: &'static str,
        context: &'static str,
    ) -> Result<(), PortError> {
        let Some(key) = row_id(instance) else {
            return Ok(());
        };
        self.run(move |conn, _| {
            conn.prepare_cached(delete_statement)
                .and_then(|mut statement| statement.execute([key]))
                .map_err(db_error(context))?;
            Ok(())
        })
        .await
    }
}

/// Create `path` with mode 0600 if it does not exist yet (SQLite gives its `-wal` and
/// `-shm` files the same permissions as the database file).
fn create_private_file(path: &Path) -> Result<(), PortError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(|e| {
        PortError::other(format!(
            "cannot create database file {}: {e}",
            path.display()
        ))
    })
}

/// Map a SQLite error to a port error kind. SQLite's messages name tables and columns,
/// never bound values, so no secret can leak through them.
fn db_error(context: &'static str) -> impl Fn(rusqlite::Error) -> PortError {
    move |error| {
        let kind = match &error {
            rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::OutOfMemory => PortErrorKind::Unavailable,
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => PortErrorKind::Corrupt,
                ErrorCode::ConstraintViolation => PortErrorKind::Conflict,
                _ => PortErrorKind::Other,
            },
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..)
            | rusqlite::Error::InvalidColumnType(..) => PortErrorKind::Corrupt,
            _ => PortErrorKind::Other,
        };
        PortError::new(kind, format!("{context}: {error}"))
    }
}

/// The SQLite key of an instance id, or `None` for ids SQLite cannot hold (> i64::MAX):
/// such an instance cannot exist, so reads find nothing and deletes do nothing.
fn row_id(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

/// [`row_id`] for writes, where an unrepresentable id is the caller's error.
fn writable_id(id: u64) -> Result<i64, PortError> {
    row_id(id).ok_or_else(|| PortError::other(format!("instance id {id} is out of range")))
}

/// An instance id read back from SQLite.
fn stored_id(value: i64) -> Result<u64, PortError> {
    u64::try_from(value).map_err(|_| PortError::corrupt(format!("negative instance id {value}")))
}

/// Nanoseconds since the epoch: exact for every instant from 1677 to 2262, so a stored
/// time reads back equal to the one written and conditions compare at full precision.
fn to_nanos(at: DateTime<Utc>) -> Result<i64, PortError> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| PortError::other(format!("time {at} is out of the storable range")))
}

/// Milliseconds for a duration, saturating (queue times are kept in milliseconds).
fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn millis_to_time(ms: i64) -> Result<DateTime<Utc>, PortError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| PortError::corrupt(format!("stored time {ms} ms is out of range")))
}

/// A stored counter (receive count, interval) as `u32`.
fn stored_u32(value: i64, what: &str) -> Result<u32, PortError> {
    u32::try_from(value)
        .map_err(|_| PortError::corrupt(format!("stored {what} {value} is out of range")))
}
