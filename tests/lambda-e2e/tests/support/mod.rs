//! The e2e world: moto, a template-built stack per test, SQS as the event source
//! mapping sees it, and the log scan.

pub mod moto;
pub mod stack;

use serde_json::{Value, json};
use std::time::Duration;

/// Receive what is visible on `queue_url` now (up to 10, waiting at most `wait`), with
/// every attribute the event source mapping passes on.
pub async fn receive(
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
    wait: Duration,
) -> Vec<aws_sdk_sqs::types::Message> {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    aws_sdk_sqs::Client::new(sdk)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait.as_secs() as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receive from moto")
        .messages
        .unwrap_or_default()
}

/// The messages as Lambda's SQS event source mapping hands them to the function
/// (`{"Records": [...]}`, attribute names and casing as documented).
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            let message_attributes: serde_json::Map<String, Value> = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                json!({
                                    "stringValue": v.string_value(),
                                    "stringListValues": [],
                                    "binaryListValues": [],
                                    "dataType": v.data_type(),
                                }),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": stack::REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// What the event source mapping does after a batch: delete every message the function
/// did not name in `batchItemFailures`. Returns the ids it named.
pub async fn settle_batch(
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
    messages: &[aws_sdk_sqs::types::Message],
    response: &Value,
) -> Vec<String> {
    let failed: Vec<String> = response["batchItemFailures"]
        .as_array()
        .expect("an SQS batch response")
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
        .collect();
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for message in messages {
        if !failed
            .iter()
            .any(|id| Some(id.as_str()) == message.message_id())
        {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete message");
        }
    }
    failed
}

/// Every string value of a JSON document, recursively (the secrets of an instance's
/// secret document, for the log scan).
pub fn strings_of(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings_of(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_of(v, out)),
        _ => {}
    }
}

/// Fails, naming the secret's role but never printing it, if `logs` holds any secret.
pub fn assert_no_secret(logs: &str, secrets: &[(&str, String)]) {
    assert!(!logs.is_empty(), "no output captured at all");
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "{what} is too short to scan for");
        assert!(
            !logs.contains(secret.as_str()),
            "the functions' output holds a secret: {what} ({} chars)",
            secret.len()
        );
    }
}
