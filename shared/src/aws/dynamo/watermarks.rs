//! [`WatermarkStore`] on the single table: `INSTANCE#<id>` / `WATERMARK#<resource>`.

use super::{
    DynamoTable, Item, META, SK, WATERMARK_PREFIX, condition_failed, get_millis, instance_pk, key,
    millis, s, sdk_error,
};
use crate::ports::{PortError, Watermark, WatermarkStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use std::collections::BTreeMap;
use std::time::Duration;

/// BatchWriteItem's limit.
const BATCH_WRITE_MAX: usize = 25;
/// Rounds of re-sending unprocessed deletes before giving up (backoff 50 ms, doubling).
const UNPROCESSED_ATTEMPTS: u32 = 6;

/// Watermarks (and, for `delete_instance`, the lease) of each instance in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoWatermarkStore {
    table: DynamoTable,
}

impl DynamoWatermarkStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        DynamoWatermarkStore {
            table: DynamoTable::new(client, table_name),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table_name: impl Into<String>) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(config), table_name)
    }

    /// Keys of every item of the instance's partition except its record (`META`), which
    /// belongs to the instance store.
    async fn instance_item_keys(&self, instance: u64) -> Result<Vec<Item>, PortError> {
        let items = self
            .table
            .query_partition(instance, "", true, "list instance watermarks")
            .await?;
        // Watermarks and any other per-instance item: the instance is going away and
        // nothing else owns them. The record itself is left to the instance store.
        Ok(items
            .iter()
            .filter_map(|item| match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk != META => Some(key(instance_pk(instance), sk)),
                _ => None,
            })
            .collect())
    }

    /// Delete `keys` with BatchWriteItem, re-sending unprocessed items with backoff.
    async fn delete_keys(&self, keys: Vec<Item>) -> Result<(), PortError> {
        for chunk in keys.chunks(BATCH_WRITE_MAX) {
            let mut pending = chunk
                .iter()
                .map(|key| {
                    DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map(|delete| WriteRequest::builder().delete_request(delete).build())
                        .map_err(|e| PortError::other(format!("delete request: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > 0 {
                    if attempt >= UNPROCESSED_ATTEMPTS {
                        return Err(PortError::unavailable(format!(
                            "delete instance watermarks: {} items still unprocessed after {attempt} attempts",
                            pending.len()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(50 << (attempt - 1))).await;
                }
                attempt += 1;
                let out = self
                    .table
                    .client
                    .batch_write_item()
                    .request_items(&self.table.name, pending)
                    .send()
                    .await
                    .map_err(|err| sdk_error("delete instance watermarks", &err))?;
                pending = out
                    .unprocessed_items()
                    .and_then(|unprocessed| unprocessed.get(&self.table.name))
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(())
    }
}

/// A stored watermark item as a [`Watermark`].
pub(super) fn watermark_of(item: &Item) -> Result<Watermark, PortError> {
    let at = get_millis(item, "at")?;
    let seen = match item.get("seen") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|value| match value {
                AttributeValue::S(key) => Ok(key.clone()),
                _ => Err(PortError::corrupt("watermark `seen` holds a non-string")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
        Some(_) => return Err(PortError::corrupt("watermark `seen` is not a list")),
    };
    Ok(Watermark { at, seen })
}

#[async_trait]
impl WatermarkStore for DynamoWatermarkStore {
    /// One Query over the instance's partition (`begins_with(sk, "WATERMARK#")`): one read
    /// request for all resources, where `load` per resource would be one each.
    async fn load_all(&self, instance: u64) -> Result<BTreeMap<String, Watermark>, PortError> {
        let items = self
            .table
            .query_partition(instance, WATERMARK_PREFIX, false, "load watermarks")
            .await?;
        let mut all = BTreeMap::new();
        for item in &items {
            if let Some(AttributeValue::S(sk)) = item.get(SK)
                && let Some(resource) = sk.strip_prefix(WATERMARK_PREFIX)
            {
                all.insert(resource.to_owned(), watermark_of(item)?);
            }
        }
        Ok(all)
    }

    async fn load(&self, instance: u64, resource: &str) -> Result<Option<Watermark>, PortError> {
        let out = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(key(
                instance_pk(instance),
                format!("{WATERMARK_PREFIX}{resource}"),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error("load watermark", &err))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        watermark_of(item).map(Some)
    }

    async fn advance(
        &self,
        instance: u64,
        resource: &str,
        new: &Watermark,
    ) -> Result<bool, PortError> {
        let mut item = key(
            instance_pk(instance),
            format!("{WATERMARK_PREFIX}{resource}"),
        );
        item.insert("at".into(), millis(new.at));
        item.insert(
            "seen".into(),
            AttributeValue::L(new.seen.iter().map(s).collect()),
        );
        let result = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #at <= :new_at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":new_at", millis(new.at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(sdk_error("advance watermark", &err)),
        }
    }

    async fn delete_instance(&self, instance: u64) -> Result<(), PortError> {
        let keys = self.instance_item_keys(instance).await?;
        self.delete_keys(keys).await
    }
}
