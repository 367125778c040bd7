//! The poller Lambda: `{"instanceId": N}` (from the instance's EventBridge Scheduler
//! schedule, or "poll now") → one poll of that instance → a JSON summary.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sage_events_core::aws::{
    AwsSettings, DynamoInstanceStore, DynamoLeaseStore, DynamoWatermarkStore, SecretsManagerStore,
    SqsQueue, load_sdk_config,
};
use sage_events_core::clock::SystemClock;
use sage_events_core::poll::{PollSettings, PollerDeps, instance_id_from_input, poll_instance};
use sage_events_core::sage::{ClientSettings, SageClient, SageEndpoints};
use sage_events_core::settings::init_tracing;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing(true);
    let sdk = load_sdk_config().await;
    let aws = AwsSettings::from_env();
    let table = aws.table_name()?.to_owned();
    let sage = SageClient::new(
        SageEndpoints::from_env()?,
        ClientSettings::default(),
        Arc::new(SystemClock),
    )?;
    let deps = PollerDeps {
        instances: Arc::new(DynamoInstanceStore::from_config(&sdk, &table)),
        watermarks: Arc::new(DynamoWatermarkStore::from_config(&sdk, &table)),
        leases: Arc::new(DynamoLeaseStore::from_config(&sdk, &table)),
        secrets: Arc::new(SecretsManagerStore::from_config(
            &sdk,
            aws.secret_prefix.clone(),
        )),
        queue: Arc::new(SqsQueue::from_config(&sdk, aws.queue_url()?)),
        sage,
        clock: Arc::new(SystemClock),
    };
    let settings = PollSettings::default();
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (deps, settings) = (&deps, &settings);
        async move {
            let id = instance_id_from_input(&event.payload)?;
            // The invocation's request id owns the lease: unique, and in every log line.
            let summary = poll_instance(deps, settings, id, &event.context.request_id).await?;
            Ok::<_, Error>(serde_json::to_value(summary)?)
        }
    }))
    .await
}
