//! The registration Lambda: API Gateway HTTP API (payload v2) ⇄ the transport-free
//! `/instances` API core.

use lambda_http::{Error, Request, service_fn};
use registration::{decode, encode};
use sage_events_core::aws::{
    AwsSettings, DynamoInstanceStore, DynamoLeaseStore, DynamoWatermarkStore,
    EventBridgePollScheduler, LambdaPollTrigger, SecretsManagerStore, load_sdk_config,
    read_secret_string,
};
use sage_events_core::clock::SystemClock;
use sage_events_core::env_names::API_CREDENTIALS_SECRET_ID;
use sage_events_core::registration::auth::Authenticator;
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
        .map_err(|_| format!("{API_CREDENTIALS_SECRET_ID} is not set"))?;
    let credentials = read_secret_string(&sdk, &credentials_id).await?;
    let auth = Authenticator::from_json(credentials.expose())?;
    let sage = SageClient::new(
        SageEndpoints::from_env()?,
        ClientSettings::default(),
        Arc::new(SystemClock),
    )?;
    let service = RegistrationService::new(
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
        auth,
        settings,
    );
    lambda_http::run(service_fn(|request: Request| {
        let service = &service;
        async move { Ok::<_, Error>(encode(service.handle(decode(request)).await)?) }
    }))
    .await
}
