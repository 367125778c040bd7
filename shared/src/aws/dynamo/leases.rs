//! [`LeaseStore`] on the single table: `INSTANCE#<id>` / `LEASE`.

use super::{DynamoTable, LEASE, condition_failed, instance_pk, key, millis, s, sdk_error};
use crate::ports::{LeaseStore, PortError};
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

#[async_trait]
impl LeaseStore for DynamoLeaseStore {
    async fn acquire(
        &self,
        instance: u64,
        owner: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut item = key(instance_pk(instance), LEASE);
        item.insert("owner".into(), s(owner));
        item.insert("expires_at".into(), millis(expires_at));
        let result = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #expires_at < :now OR #owner = :me")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":now", millis(now))
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
        let result = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(key(instance_pk(instance), LEASE)))
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else holds it now (or nobody): not ours to release.
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(sdk_error("release lease", &err)),
        }
    }
}
