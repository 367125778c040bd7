//! [`InstanceStore`] on the single table (layout in the parent module).

use super::watermarks::watermark_of;
use super::{
    DynamoTable, Item, META, SK, WATERMARK_PREFIX, condition_failed, get_n, get_s, instance_pk,
    key, n, s, sdk_error,
};
use crate::ports::{
    DeliveryStatus, InstanceRecord, InstanceStore, PollStatus, PortError, Watermark,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

const GSI1: &str = "gsi1";
const COUNTER_PK: &str = "COUNTER";
const COUNTER_SK: &str = "INSTANCE_ID";

/// The user-editable part of an instance record: what `update` replaces as a whole.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredBody {
    organization: String,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    token_hash: String,
    configuration: serde_json::Value,
    events_enabled: bool,
    disabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl StoredBody {
    fn of(record: &InstanceRecord) -> Self {
        StoredBody {
            organization: record.organization.clone(),
            name: record.name.clone(),
            tags: record.tags.clone(),
            token_hash: record.token_hash.clone(),
            configuration: record.configuration.clone(),
            events_enabled: record.events_enabled,
            disabled: record.disabled,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// Instance records in DynamoDB: `INSTANCE#<id>` / `META`, listed per organization
/// through `gsi1` (table layout in [`crate::aws::dynamo`]).
#[derive(Debug, Clone)]
pub struct DynamoInstanceStore {
    table: DynamoTable,
}

impl DynamoInstanceStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        DynamoInstanceStore {
            table: DynamoTable::new(client, table_name),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table_name: impl Into<String>) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(config), table_name)
    }

    fn meta_key(id: u64) -> Item {
        key(instance_pk(id), META)
    }

    /// Set `attributes` on an existing record (`NotFound` if it is gone).
    async fn update_existing(
        &self,
        operation: &str,
        id: u64,
        update_expression: &str,
        names: &[(&str, &str)],
        values: Item,
    ) -> Result<(), PortError> {
        let mut request = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(Self::meta_key(id)))
            .update_expression(update_expression)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values((!values.is_empty()).then_some(values));
        for (placeholder, name) in names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Err(PortError::not_found(format!(
                "instance {id} does not exist"
            ))),
            Err(err) => Err(sdk_error(operation, &err)),
        }
    }
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String, PortError> {
    serde_json::to_string(value)
        .map_err(|e| PortError::other(format!("could not serialize the {what}: {e}")))
}

fn from_json<T: for<'de> Deserialize<'de>>(what: &str, text: &str) -> Result<T, PortError> {
    serde_json::from_str(text)
        .map_err(|e| PortError::corrupt(format!("stored {what} is not valid: {e}")))
}

fn gsi1pk(organization: &str) -> AttributeValue {
    s(format!("ORG#{organization}"))
}

fn gsi1sk(id: u64) -> AttributeValue {
    s(format!("{id:020}"))
}

fn item_of(record: &InstanceRecord) -> Result<Item, PortError> {
    let mut item = DynamoInstanceStore::meta_key(record.id);
    item.insert("id".into(), n(record.id));
    item.insert("gsi1pk".into(), gsi1pk(&record.organization));
    item.insert("gsi1sk".into(), gsi1sk(record.id));
    item.insert(
        "body".into(),
        s(to_json("instance record", &StoredBody::of(record))?),
    );
    item.insert("valid".into(), AttributeValue::Bool(record.valid));
    if let Some(reason) = &record.invalid_reason {
        item.insert("invalid_reason".into(), s(reason));
    }
    item.insert("poll".into(), s(to_json("poll status", &record.poll)?));
    item.insert(
        "delivery".into(),
        s(to_json("delivery status", &record.delivery)?),
    );
    Ok(item)
}

fn record_of(item: &Item) -> Result<InstanceRecord, PortError> {
    let id: u64 = get_n(item, "id")?;
    let body: StoredBody = from_json("instance record", get_s(item, "body")?)?;
    let valid = match item.get("valid") {
        Some(AttributeValue::Bool(valid)) => *valid,
        _ => return Err(PortError::corrupt(format!("instance {id} lacks `valid`"))),
    };
    let invalid_reason = match item.get("invalid_reason") {
        Some(AttributeValue::S(reason)) => Some(reason.clone()),
        _ => None,
    };
    let poll: PollStatus = match item.get("poll") {
        Some(AttributeValue::S(text)) => from_json("poll status", text)?,
        _ => PollStatus::default(),
    };
    let delivery: DeliveryStatus = match item.get("delivery") {
        Some(AttributeValue::S(text)) => from_json("delivery status", text)?,
        _ => DeliveryStatus::default(),
    };
    Ok(InstanceRecord {
        id,
        organization: body.organization,
        name: body.name,
        tags: body.tags,
        token_hash: body.token_hash,
        configuration: body.configuration,
        events_enabled: body.events_enabled,
        disabled: body.disabled,
        valid,
        invalid_reason,
        created_at: body.created_at,
        updated_at: body.updated_at,
        poll,
        delivery,
    })
}

#[async_trait]
impl InstanceStore for DynamoInstanceStore {
    async fn next_id(&self) -> Result<u64, PortError> {
        let out = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key(COUNTER_PK.to_owned(), COUNTER_SK)))
            .update_expression("ADD #next :one")
            .expression_attribute_names("#next", "next")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|err| sdk_error("next instance id", &err))?;
        let attributes = out
            .attributes()
            .ok_or_else(|| PortError::corrupt("id counter update returned no value"))?;
        get_n(attributes, "next")
    }

    async fn create(&self, record: &InstanceRecord) -> Result<(), PortError> {
        let result = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item_of(record)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Err(PortError::conflict(format!(
                "instance {} already exists",
                record.id
            ))),
            Err(err) => Err(sdk_error("create instance", &err)),
        }
    }

    async fn get(&self, id: u64) -> Result<Option<InstanceRecord>, PortError> {
        let out = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(Self::meta_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error("get instance", &err))?;
        out.item().map(record_of).transpose()
    }

    /// One consistent Query over the instance's partition: the record (`META`) and its
    /// watermarks (`WATERMARK#…`) in one read request.
    async fn get_for_poll(
        &self,
        id: u64,
    ) -> Result<Option<(InstanceRecord, Option<BTreeMap<String, Watermark>>)>, PortError> {
        let items = self
            .table
            .query_partition(id, "", false, "get instance for a poll")
            .await?;
        let mut record = None;
        let mut watermarks = BTreeMap::new();
        for item in &items {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == META => record = Some(record_of(item)?),
                Some(AttributeValue::S(sk)) => {
                    if let Some(resource) = sk.strip_prefix(WATERMARK_PREFIX) {
                        watermarks.insert(resource.to_owned(), watermark_of(item)?);
                    }
                }
                _ => {}
            }
        }
        Ok(record.map(|record| (record, Some(watermarks))))
    }

    async fn list(
        &self,
        organization: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<InstanceRecord>, PortError> {
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        while records.len() < limit {
            let page_size = i32::try_from(limit - records.len()).unwrap_or(i32::MAX);
            let out = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :org AND gsi1sk > :after")
                .expression_attribute_values(":org", gsi1pk(organization))
                .expression_attribute_values(":after", gsi1sk(after.unwrap_or(0)))
                .scan_index_forward(true)
                .limit(page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_error("list instances", &err))?;
            for item in out.items() {
                records.push(record_of(item)?);
            }
            match out.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => break,
            }
        }
        records.truncate(limit);
        Ok(records)
    }

    async fn update(&self, record: &InstanceRecord) -> Result<(), PortError> {
        let values = HashMap::from([
            (
                ":body".to_owned(),
                s(to_json("instance record", &StoredBody::of(record))?),
            ),
            (":gsi1pk".to_owned(), gsi1pk(&record.organization)),
            (":gsi1sk".to_owned(), gsi1sk(record.id)),
        ]);
        self.update_existing(
            "update instance",
            record.id,
            "SET #body = :body, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk",
            &[("#body", "body")],
            values,
        )
        .await
    }

    async fn set_poll_status(&self, id: u64, status: &PollStatus) -> Result<(), PortError> {
        let values = HashMap::from([(":poll".to_owned(), s(to_json("poll status", status)?))]);
        self.update_existing(
            "set poll status",
            id,
            "SET #poll = :poll",
            &[("#poll", "poll")],
            values,
        )
        .await
    }

    async fn set_validity(
        &self,
        id: u64,
        valid: bool,
        reason: Option<&str>,
    ) -> Result<(), PortError> {
        let mut values = HashMap::from([(":valid".to_owned(), AttributeValue::Bool(valid))]);
        let expression = match reason {
            Some(reason) => {
                values.insert(":reason".to_owned(), s(reason));
                "SET #valid = :valid, #reason = :reason"
            }
            None => "SET #valid = :valid REMOVE #reason",
        };
        self.update_existing(
            "set instance validity",
            id,
            expression,
            &[("#valid", "valid"), ("#reason", "invalid_reason")],
            values,
        )
        .await
    }

    async fn set_delivery_status(&self, id: u64, status: &DeliveryStatus) -> Result<(), PortError> {
        let values = HashMap::from([(
            ":delivery".to_owned(),
            s(to_json("delivery status", status)?),
        )]);
        self.update_existing(
            "set delivery status",
            id,
            "SET #delivery = :delivery",
            &[("#delivery", "delivery")],
            values,
        )
        .await
    }

    async fn delete(&self, id: u64) -> Result<(), PortError> {
        self.table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(Self::meta_key(id)))
            .send()
            .await
            .map_err(|err| sdk_error("delete instance", &err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record() -> InstanceRecord {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        InstanceRecord {
            id: 42,
            organization: "org-1".into(),
            name: "Sage – ünïcode".into(),
            tags: vec!["a".into()],
            token_hash: "ab".repeat(32),
            configuration: serde_json::json!({"event.poller.refresh_interval": "5"}),
            events_enabled: true,
            disabled: false,
            valid: false,
            invalid_reason: Some("invalid_grant".into()),
            created_at: at,
            updated_at: at,
            poll: PollStatus {
                total_events: 7,
                ..PollStatus::default()
            },
            delivery: DeliveryStatus {
                consecutive_failures: 2,
                ..DeliveryStatus::default()
            },
        }
    }

    #[test]
    fn item_round_trips_and_carries_the_index_keys() {
        let item = item_of(&record()).unwrap();
        assert_eq!(item["pk"], s("INSTANCE#42"));
        assert_eq!(item["sk"], s("META"));
        assert_eq!(item["gsi1pk"], s("ORG#org-1"));
        assert_eq!(item["gsi1sk"], s("00000000000000000042"));
        assert_eq!(record_of(&item).unwrap(), record());
    }

    #[test]
    fn damaged_items_are_corrupt_not_panics() {
        let mut item = item_of(&record()).unwrap();
        item.insert("body".into(), s("{not json"));
        assert_eq!(
            record_of(&item).unwrap_err().kind,
            crate::ports::PortErrorKind::Corrupt
        );
        item.remove("id");
        assert_eq!(
            record_of(&item).unwrap_err().kind,
            crate::ports::PortErrorKind::Corrupt
        );
    }
}
