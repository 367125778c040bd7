//! AWS adapters of the ports (behind the `aws` cargo feature).
//!
//! | port | adapter | service |
//! |---|---|---|
//! | [`InstanceStore`](crate::ports::InstanceStore) | [`DynamoInstanceStore`] | DynamoDB single table |
//! | [`WatermarkStore`](crate::ports::WatermarkStore) | [`DynamoWatermarkStore`] | same table |
//! | [`LeaseStore`](crate::ports::LeaseStore) | [`DynamoLeaseStore`] | same table |
//! | [`SecretStore`](crate::ports::SecretStore) | [`SecretsManagerStore`] | Secrets Manager |
//! | [`EventQueue`](crate::ports::EventQueue) + [`QueueConsumer`](crate::ports::QueueConsumer) | [`SqsQueue`] | SQS (standard queue + DLQ) |
//! | [`PollScheduler`](crate::ports::PollScheduler) | [`EventBridgePollScheduler`] | EventBridge Scheduler |
//! | [`CredentialsSource`](crate::registration::auth::CredentialsSource) | [`SecretsManagerCredentials`] | Secrets Manager (the API credentials, TTL-cached) |
//!
//! Clients come from [`load_sdk_config`], i.e. the SDK's default chain: credentials and
//! region from the Lambda environment, and `AWS_ENDPOINT_URL` (or the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) to point every client at an emulator such as moto. Their
//! HTTPS client is [`LazyHttpsClient`] (compiled-in roots, built on first use), so building
//! clients at init reads no file and makes no connection.
//! Resource names come from [`AwsSettings`]; the DynamoDB table layout is documented in
//! [`dynamo`]. Only this module imports AWS SDK types.

mod api_credentials;
pub mod dynamo;
mod error;
mod http_client;
mod lambda_trigger;
mod scheduler;
mod secrets;
mod settings;
mod sqs;

pub use api_credentials::SecretsManagerCredentials;
pub use dynamo::{DynamoInstanceStore, DynamoLeaseStore, DynamoWatermarkStore};
pub use http_client::LazyHttpsClient;
pub use lambda_trigger::{LambdaPollTrigger, read_secret_string};
pub use scheduler::{EventBridgePollScheduler, schedule_name};
pub use secrets::SecretsManagerStore;
pub use settings::{AwsSettings, AwsSettingsError, DEFAULT_SECRET_PREFIX};
pub use sqs::{EVENT_ID_ATTRIBUTE, SqsQueue};

/// Re-exported so callers can name the shared configuration without their own
/// `aws-config` dependency.
pub use aws_config::SdkConfig;

/// The SDK configuration from the default provider chain (environment, profile, IMDS /
/// Lambda container credentials), with the latest behavior defaults. Honors
/// `AWS_ENDPOINT_URL`, which is how tests aim the adapters at moto.
///
/// Call it once per process and build every client from the result: clients built from
/// one configuration share its HTTPS client (one connection pool, one trust store), and
/// building them is cheap — no connector is made until a request needs one.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(LazyHttpsClient::new())
        .load()
        .await
}
