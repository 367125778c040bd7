//! The DynamoDB single table behind the instance, watermark and lease stores.
//!
//! # Table layout
//!
//! Key schema `pk` (S, hash) + `sk` (S, range); one global secondary index `gsi1` with
//! key `gsi1pk` (S, hash) + `gsi1sk` (S, range) and projection `ALL`. On-demand billing
//! suits the load. No TTL attribute: lease expiry is compared in conditions instead.
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | instance record | `INSTANCE#<id>` | `META` | `id` (N), `gsi1pk` = `ORG#<organization>`, `gsi1sk` = id zero-padded to 20 digits, `body` (S), `valid` (BOOL), `invalid_reason` (S, absent when none), `poll` (S), `delivery` (S); while a poll runs, its lease: `lease_owner` (S), `lease_expires_at` (N, epoch milliseconds) |
//! | watermark | `INSTANCE#<id>` | `WATERMARK#<resource>` | `at` (N, epoch milliseconds), `seen` (L of S) |
//! | id counter | `COUNTER` | `INSTANCE_ID` | `next` (N, last id handed out; atomic `ADD`) |
//!
//! The instance record is stored as JSON text rather than typed attributes: `body` holds
//! the user-editable part (organization, name, tags, token hash, configuration, flags,
//! timestamps; camelCase keys as in [`InstanceRecord`](crate::ports::InstanceRecord)),
//! `poll` the [`PollStatus`](crate::ports::PollStatus) and `delivery` the
//! [`DeliveryStatus`](crate::ports::DeliveryStatus) JSON. Nothing queries inside them, and
//! the configuration is free-form JSON anyway. They are separate attributes because
//! separate writers own them: `update` (the API) sets only `body` and the index keys, the
//! poller only `poll` and `valid`/`invalid_reason`, delivery only `delivery` — each an
//! `UpdateItem` of its own attributes with an `attribute_exists(pk)` condition, so no
//! writer erases another's data and nobody resurrects a deleted instance.
//!
//! Only `META` items carry `gsi1pk`, so the index lists instances per organization in id
//! order and nothing else. It is eventually consistent: an instance may show up in
//! listings a moment after `create` returns.
//!
//! Watermark times are stored as epoch milliseconds (a number, so the "never backwards"
//! condition compares them); sub-millisecond parts are dropped.

mod instances;
mod leases;
mod watermarks;

pub use instances::DynamoInstanceStore;
pub use leases::DynamoLeaseStore;
pub use watermarks::DynamoWatermarkStore;

use super::error::{ServiceMessage, map_sdk_error, service_code};
use crate::ports::PortError;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const SK: &str = "sk";
const META: &str = "META";
const WATERMARK_PREFIX: &str = "WATERMARK#";

/// The table and the client, shared by the three stores.
#[derive(Debug, Clone)]
struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

impl DynamoTable {
    fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        DynamoTable {
            client,
            name: name.into(),
        }
    }

    /// Every item of an instance's partition whose sort key starts with `sk_prefix` (all
    /// of them for `""`), read consistently and page by page; `keys_only` projects `pk`
    /// and `sk`. One Query request per MB of items: the record and a few watermarks are
    /// one.
    async fn query_partition(
        &self,
        instance: u64,
        sk_prefix: &str,
        keys_only: bool,
        operation: &str,
    ) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.name)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(instance_pk(instance)))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            request = if sk_prefix.is_empty() {
                request.key_condition_expression("#pk = :pk")
            } else {
                request
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", s(sk_prefix))
            };
            if keys_only {
                request = request
                    .expression_attribute_names("#sk", SK)
                    .projection_expression("#pk, #sk");
            }
            let out = request
                .send()
                .await
                .map_err(|err| sdk_error(operation, &err))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => return Ok(items),
            }
        }
    }
}

fn instance_pk(id: u64) -> String {
    format!("INSTANCE#{id}")
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk.into())),
    ])
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(at: DateTime<Utc>) -> AttributeValue {
    n(at.timestamp_millis())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(PortError::corrupt(format!(
            "stored item lacks string attribute {name}"
        ))),
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, PortError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| {
            PortError::corrupt(format!("stored attribute {name} is not a valid number"))
        }),
        _ => Err(PortError::corrupt(format!(
            "stored item lacks number attribute {name}"
        ))),
    }
}

fn get_millis(item: &Item, name: &str) -> Result<DateTime<Utc>, PortError> {
    let ms: i64 = get_n(item, name)?;
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| PortError::corrupt(format!("stored attribute {name} is out of range")))
}

/// Whether the call lost its `ConditionExpression`.
fn condition_failed<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    service_code(err) == Some("ConditionalCheckFailedException")
}

fn sdk_error<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    map_sdk_error(operation, err, ServiceMessage::Include)
}
