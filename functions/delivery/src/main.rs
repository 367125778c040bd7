//! The delivery Lambda: an SQS batch → concurrent signed POSTs → `batchItemFailures`
//! naming the messages to retry (their visibility already set to the backoff delay).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sage_events_core::aws::{
    AwsSettings, DynamoInstanceStore, EVENT_ID_ATTRIBUTE, SecretsManagerStore, SqsQueue,
    load_sdk_config,
};
use sage_events_core::clock::SystemClock;
use sage_events_core::delivery::sender::CallbackSender;
use sage_events_core::delivery::service::{Deliverer, DeliveryDeps, DeliverySettings, settle};
use sage_events_core::env_names::DEAD_LETTER_QUEUE_URL;
use sage_events_core::ports::ReceivedMessage;
use sage_events_core::settings::{Settings, init_tracing};
use std::collections::HashMap;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing(true);
    let settings = Settings::from_env()?;
    let sdk = load_sdk_config().await;
    let aws = AwsSettings::from_env();
    let table = aws.table_name()?.to_owned();
    let dead_letters = std::env::var(DEAD_LETTER_QUEUE_URL)
        .map_err(|_| format!("{DEAD_LETTER_QUEUE_URL} is not set"))?;
    let queue = SqsQueue::from_config(&sdk, aws.queue_url()?).with_dead_letter_queue(dead_letters);
    let deliverer = Deliverer::new(
        DeliveryDeps {
            instances: Arc::new(DynamoInstanceStore::from_config(&sdk, &table)),
            secrets: Arc::new(SecretsManagerStore::from_config(
                &sdk,
                aws.secret_prefix.clone(),
            )),
            sender: CallbackSender::new(settings.address_policy(), settings.callback_timeout)?,
            clock: Arc::new(SystemClock),
        },
        DeliverySettings {
            schedule: settings.retry_schedule,
            max_receive_count: settings.max_receive_count,
            ..DeliverySettings::default()
        },
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (deliverer, queue) = (&deliverer, &queue);
        async move {
            let mut message_ids = HashMap::new();
            let messages: Vec<ReceivedMessage> = event
                .payload
                .records
                .into_iter()
                .filter_map(|record| {
                    let received = received(&record)?;
                    message_ids.insert(
                        received.receipt.clone(),
                        record.message_id.clone().unwrap_or_default(),
                    );
                    Some(received)
                })
                .collect();
            let results = deliverer.deliver_batch(messages).await;
            // The event source deletes what we do not report; report what stays queued.
            let kept = settle(queue, &results, false).await;
            let batch_item_failures = kept
                .into_iter()
                .map(|receipt| {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier =
                        message_ids.get(&receipt).cloned().unwrap_or_default();
                    failure
                })
                .collect();
            let mut response = SqsBatchResponse::default();
            response.batch_item_failures = batch_item_failures;
            Ok::<_, Error>(response)
        }
    }))
    .await
}

/// An SQS record as the core's received message. Records without a receipt handle cannot
/// be settled and are skipped (SQS will redeliver them when their visibility expires).
fn received(record: &SqsMessage) -> Option<ReceivedMessage> {
    let receipt = record.receipt_handle.clone()?;
    let id = record
        .message_attributes
        .get(EVENT_ID_ATTRIBUTE)
        .and_then(|a| a.string_value.clone())
        .or_else(|| record.message_id.clone())
        .unwrap_or_default();
    let receive_count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Some(ReceivedMessage {
        id,
        body: record.body.clone().unwrap_or_default(),
        receipt,
        receive_count,
    })
}
