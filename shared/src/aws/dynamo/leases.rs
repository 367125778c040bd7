//! [`LeaseStore`] on the single table: attributes `lease_owner` / `lease_expires_at` of the
//! instance record (`INSTANCE#<id>` / `META`).
//!
//! Why on the record and not an item of its own: the end of a poll then releases the
//! lease and records the poll status in one write (an idle poll costs two writes, not
//! three). The record's other writers set only their own attributes (`UpdateItem`), so
//! none of them erases a lease.

use super::{DynamoTable, META, condition_failed, instance_pk, key, millis, s, sdk_error};
use crate::ports::{LeaseStore, PollStatus, PortError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Per-instance poll leases in DynamoDB. The expiry is part of the write condition, so a
/// crashed holder's lease frees itself without relying on TTL.
#[derive(Debug, Clone)]
pub struct DynamoLeaseStore {
    table: DynamoTable,
}

impl DynamoLeaseStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        DynamoLeaseStore {
            table: DynamoTable::new(client, table_name),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table_name: impl Into<String>) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(config), table_name)
    }
}

/// The lease's attributes on the instance record.
const OWNER: &str = "lease_owner";
const EXPIRES_AT: &str = "lease_expires_at";

#[async_trait]
impl LeaseStore for DynamoLeaseStore {
    /// A conditional `UpdateItem` of the lease attributes on the record: granted when the
    /// record exists and the lease is free, expired or ours. A missing instance cannot be
    /// leased (`Ok(false)`): nothing is left to poll.
    async fn acquire(
        &self,
        instance: u64,
        owner: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key(instance_pk(instance), META)))
            .update_expression("SET #owner = :me, #expires_at = :until")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#expires_at) \
                 OR #expires_at < :now OR #owner = :me)",
            )
            .expression_attribute_names("#expires_at", EXPIRES_AT)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":now", millis(now))
            .expression_attribute_values(":until", millis(expires_at))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(sdk_error("acquire lease", &err)),
        }
    }

    async fn release(&self, instance: u64, owner: &str) -> Result<(), PortError> {
        self.release_with(instance, owner, None).await.map(drop)
    }

    /// One `UpdateItem`: the poll status set and the lease removed, if the lease is still
    /// ours. When it is not (it expired and another invocation took it), nothing is
    /// written and the caller records the status on its own.
    async fn release_and_record(
        &self,
        instance: u64,
        owner: &str,
        status: &PollStatus,
    ) -> Result<bool, PortError> {
        let poll = serde_json::to_string(status)
            .map_err(|e| PortError::other(format!("could not serialize the poll status: {e}")))?;
        self.release_with(instance, owner, Some(poll)).await
    }
}

impl DynamoLeaseStore {
    /// Remove `owner`'s lease, setting the `poll` attribute too when given. `Ok(false)`
    /// when the lease was not `owner`'s (nothing written).
    async fn release_with(
        &self,
        instance: u64,
        owner: &str,
        poll: Option<String>,
    ) -> Result<bool, PortError> {
        let mut request = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key(instance_pk(instance), META)))
            .condition_expression("attribute_exists(pk) AND #owner = :me")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#expires_at", EXPIRES_AT)
            .expression_attribute_values(":me", s(owner));
        request = match poll {
            Some(poll) => request
                .update_expression("SET #poll = :poll REMOVE #owner, #expires_at")
                .expression_attribute_names("#poll", "poll")
                .expression_attribute_values(":poll", s(poll)),
            None => request.update_expression("REMOVE #owner, #expires_at"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(sdk_error("release lease", &err)),
        }
    }
}
