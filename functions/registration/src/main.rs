//! The registration Lambda: API Gateway HTTP API (payload v2) ⇄ the transport-free
//! `/instances` API core.
//!
//! Init builds clients only: the API credentials are read from Secrets Manager by the
//! first request that needs them and re-read after `API_CREDENTIALS_TTL_SECONDS`, so a
//! rotation reaches warm functions and a cold start makes no Secrets Manager call.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sage_events_core::aws::{
    AwsSettings, DynamoInstanceStore, DynamoLeaseStore, DynamoWatermarkStore,
    EventBridgePollScheduler, LambdaPollTrigger, SecretsManagerCredentials, SecretsManagerStore,
    load_sdk_config,
};
use sage_events_core::clock::SystemClock;
use sage_events_core::env_names::API_CREDENTIALS_SECRET_ID;
use sage_events_core::registration::{RegistrationDeps, RegistrationService};
use sage_events_core::sage::{ClientSettings, SageClient, SageEndpoints};
use sage_events_core::settings::{Settings, init_tracing};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing(true);
    let settings = Settings::from_env()?;
    let sdk = load_sdk_config().await;
    let aws = AwsSettings::from_env();
    let table = aws.table_name()?.to_owned();
    let credentials_id = std::env::var(API_CREDENTIALS_SECRET_ID)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{API_CREDENTIALS_SECRET_ID} is not set"))?;
    let credentials = Arc::new(SecretsManagerCredentials::new(
        &sdk,
        credentials_id,
        settings.api_credentials_ttl,
    ));
    let sage = SageClient::new(
        SageEndpoints::from_env()?,
        ClientSettings::default(),
        Arc::new(SystemClock),
    )?;
    let service = RegistrationService::with_credentials(
        RegistrationDeps {
            instances: Arc::new(DynamoInstanceStore::from_config(&sdk, &table)),
            watermarks: Arc::new(DynamoWatermarkStore::from_config(&sdk, &table)),
            leases: Arc::new(DynamoLeaseStore::from_config(&sdk, &table)),
            secrets: Arc::new(SecretsManagerStore::from_config(
                &sdk,
                aws.secret_prefix.clone(),
            )),
            scheduler: Arc::new(EventBridgePollScheduler::from_config(
                &sdk,
                aws.schedule_group()?,
                aws.poller_arn()?,
                aws.scheduler_role_arn()?,
            )),
            poll_trigger: Arc::new(LambdaPollTrigger::from_config(&sdk, aws.poller_arn()?)),
            sage,
            clock: Arc::new(SystemClock),
        },
        credentials,
        settings,
    );
    // The event as plain JSON: whatever a caller sends, the answer is an HTTP response.
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let service = &service;
        async move { Ok::<_, Error>(registration::handle(service, event.payload).await) }
    }))
    .await
}
