//! [`EventQueue`] and [`QueueConsumer`] on the `queue` and `dead_letters` tables, with
//! the semantics the ports see on SQS: at-least-once delivery, a visibility timeout per
//! receive, receipts that go stale when a message is received again, a dead-letter queue.

use super::{EmbeddedStore, db_error, duration_millis, millis_to_time, stored_u32};
use crate::ports::{EventQueue, OutgoingMessage, PortError, QueueConsumer, ReceivedMessage};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::time::Duration;

/// The longest `retry_after` delay, as SQS's maximum visibility timeout.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(12 * 60 * 60);

/// A message that delivery gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Position in the dead-letter table (oldest first).
    pub seq: u64,
    /// The id it was sent with (the notification's event id).
    pub id: String,
    pub body: String,
    pub reason: String,
    pub failed_at: DateTime<Utc>,
    /// How many times it had been received when it was dead-lettered.
    pub receive_count: u32,
}

/// How many messages are where, for the runner's health and status output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Ready to be received now.
    pub visible: u64,
    /// Received and hidden, or waiting out a retry delay.
    pub in_flight: u64,
    pub dead_letters: u64,
}

fn stored_count(value: i64) -> Result<u64, PortError> {
    u64::try_from(value).map_err(|_| PortError::corrupt(format!("negative count {value}")))
}

/// Whether a queued body (a `Notification` as JSON) belongs to `instance`: its top-level
/// `instanceId`, a number (or, leniently, a string of digits).
fn body_is_for_instance(body: &str, instance: u64) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "instanceId")]
        instance_id: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Probe>(body).map(|probe| probe.instance_id) {
        Ok(Some(serde_json::Value::Number(n))) => n.as_u64() == Some(instance),
        Ok(Some(serde_json::Value::String(s))) => s.parse::<u64>().ok() == Some(instance),
        _ => false,
    }
}

#[async_trait]
impl EventQueue for EmbeddedStore {
    async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), PortError> {
        if messages.is_empty() {
            return Ok(());
        }
        let messages = messages.to_vec();
        self.run(move |conn, inner| {
            let now = inner.clock.now().timestamp_millis();
            let err = db_error("send messages");
            // One transaction: all are queued, or none.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO queue (id, body, visible_at_ms, receive_count) \
                         VALUES (?1, ?2, ?3, 0)",
                    )
                    .map_err(&err)?;
                for message in &messages {
                    insert
                        .execute(params![message.id, message.body, now])
                        .map_err(&err)?;
                }
            }
            tx.commit().map_err(&err)
        })
        .await
    }
}

#[async_trait]
impl QueueConsumer for EmbeddedStore {
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let visibility = duration_millis(visibility);
        self.run(move |conn, inner| {
            let now = inner.clock.now().timestamp_millis();
            let hidden_until = now.saturating_add(visibility);
            // Each receive gets a fresh random prefix; the row's seq makes each receipt
            // unique. A receipt from an earlier receive no longer matches anything.
            let err = db_error("receive messages");
            // A read first: an idle runner's delivery workers ask several times a second,
            // and the UPDATE below is a write transaction (a commit) even when it
            // matches nothing.
            let any_visible: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM queue WHERE visible_at_ms <= ?1)")
                .and_then(|mut statement| statement.query_row([now], |row| row.get(0)))
                .map_err(&err)?;
            if !any_visible {
                return Ok(Vec::new());
            }
            let prefix = format!("{:032x}", rand::rng().random::<u128>());
            let mut statement = conn
                .prepare_cached(
                    "UPDATE queue SET receive_count = receive_count + 1, \
                     receipt = ?1 || '-' || seq, visible_at_ms = ?2 \
                     WHERE seq IN (SELECT seq FROM queue WHERE visible_at_ms <= ?3 \
                                   ORDER BY seq LIMIT ?4) \
                     RETURNING seq, id, body, receipt, receive_count",
                )
                .map_err(&err)?;
            let rows = statement
                .query_map(params![prefix, hidden_until, now, limit], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                })
                .map_err(&err)?;
            let mut received = Vec::new();
            for row in rows {
                let (seq, id, body, receipt, count) = row.map_err(&err)?;
                received.push((
                    seq,
                    ReceivedMessage {
                        id,
                        body,
                        receipt,
                        receive_count: stored_u32(count, "receive count")?,
                    },
                ));
            }
            // RETURNING has no defined order; hand messages out oldest first.
            received.sort_by_key(|(seq, _)| *seq);
            Ok(received.into_iter().map(|(_, message)| message).collect())
        })
        .await
    }

    async fn ack(&self, receipt: &str) -> Result<(), PortError> {
        let receipt = receipt.to_owned();
        self.run(move |conn, _| {
            conn.prepare_cached("DELETE FROM queue WHERE receipt = ?1")
                .and_then(|mut statement| statement.execute([receipt]))
                .map_err(db_error("ack message"))?;
            Ok(())
        })
        .await
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), PortError> {
        let receipt = receipt.to_owned();
        let delay = duration_millis(delay.min(MAX_RETRY_DELAY));
        self.run(move |conn, inner| {
            let visible_at = inner.clock.now().timestamp_millis().saturating_add(delay);
            conn.prepare_cached("UPDATE queue SET visible_at_ms = ?2 WHERE receipt = ?1")
                .and_then(|mut statement| statement.execute(params![receipt, visible_at]))
                .map_err(db_error("retry message"))?;
            Ok(())
        })
        .await
    }

    async fn dead_letter(&self, message: &ReceivedMessage, reason: &str) -> Result<(), PortError> {
        let message = message.clone();
        let reason = reason.to_owned();
        self.run(move |conn, inner| {
            let now = inner.clock.now().timestamp_millis();
            let err = db_error("dead-letter message");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            // Like SQS (send to the DLQ, then delete): the dead letter is recorded from the
            // message as received, even if its receipt has gone stale meanwhile.
            tx.prepare_cached(
                "INSERT INTO dead_letters (id, body, reason, failed_at_ms, receive_count) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    message.id,
                    message.body,
                    reason,
                    now,
                    message.receive_count
                ])
            })
            .map_err(&err)?;
            tx.prepare_cached("DELETE FROM queue WHERE receipt = ?1")
                .and_then(|mut statement| statement.execute([&message.receipt]))
                .map_err(&err)?;
            tx.commit().map_err(&err)
        })
        .await
    }
}

impl EmbeddedStore {
    /// The oldest `limit` dead letters.
    pub async fn list_dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn, _| {
            let err = db_error("list dead letters");
            let mut statement = conn
                .prepare(
                    "SELECT seq, id, body, reason, failed_at_ms, receive_count \
                     FROM dead_letters ORDER BY seq LIMIT ?1",
                )
                .map_err(&err)?;
            let rows = statement
                .query_map([limit], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .map_err(&err)?;
            rows.map(|row| {
                let (seq, id, body, reason, failed_at, count) = row.map_err(&err)?;
                Ok(DeadLetter {
                    seq: stored_count(seq)?,
                    id,
                    body,
                    reason,
                    failed_at: millis_to_time(failed_at)?,
                    receive_count: stored_u32(count, "receive count")?,
                })
            })
            .collect()
        })
        .await
    }

    /// Move dead letters back to the queue, visible now with a receive count of 0: all of
    /// them, or only those whose body's `instanceId` is `instance`. Returns how many moved.
    pub async fn replay_dead_letters(&self, instance: Option<u64>) -> Result<usize, PortError> {
        self.run(move |conn, inner| {
            let now = inner.clock.now().timestamp_millis();
            let err = db_error("replay dead letters");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let mut replayed = 0;
            {
                let mut select = tx
                    .prepare("SELECT seq, id, body FROM dead_letters ORDER BY seq")
                    .map_err(&err)?;
                let mut requeue = tx
                    .prepare(
                        "INSERT INTO queue (id, body, visible_at_ms, receive_count) \
                         VALUES (?1, ?2, ?3, 0)",
                    )
                    .map_err(&err)?;
                let mut remove = tx
                    .prepare("DELETE FROM dead_letters WHERE seq = ?1")
                    .map_err(&err)?;
                let rows = select
                    .query_map([], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                        ))
                    })
                    .map_err(&err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(&err)?;
                for (seq, id, body) in rows {
                    if instance.is_some_and(|instance| !body_is_for_instance(&body, instance)) {
                        continue;
                    }
                    requeue.execute(params![id, body, now]).map_err(&err)?;
                    remove.execute([seq]).map_err(&err)?;
                    replayed += 1;
                }
            }
            tx.commit().map_err(&err)?;
            Ok(replayed)
        })
        .await
    }

    /// Messages visible now, in flight, and dead-lettered.
    pub async fn queue_depth(&self) -> Result<QueueDepth, PortError> {
        self.run(|conn, inner| {
            let now = inner.clock.now().timestamp_millis();
            let (visible, in_flight, dead) = conn
                .query_row(
                    "SELECT (SELECT count(*) FROM queue WHERE visible_at_ms <= ?1), \
                            (SELECT count(*) FROM queue WHERE visible_at_ms > ?1), \
                            (SELECT count(*) FROM dead_letters)",
                    [now],
                    |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(db_error("queue depth"))?
                .unwrap_or_default();
            Ok(QueueDepth {
                visible: stored_count(visible)?,
                in_flight: stored_count(in_flight)?,
                dead_letters: stored_count(dead)?,
            })
        })
        .await
    }
}
