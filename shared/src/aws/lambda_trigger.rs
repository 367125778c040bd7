//! "Poll now" on AWS: an asynchronous invocation of the poller with the same input the
//! instance's schedule sends, so a manual poll behaves exactly like a scheduled one
//! (same lease, same watermarks).

use super::error::{ServiceMessage, map_sdk_error};
use crate::ports::{PollTrigger, PortError};
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

#[derive(Debug, Clone)]
pub struct LambdaPollTrigger {
    client: aws_sdk_lambda::Client,
    poller_arn: String,
}

impl LambdaPollTrigger {
    pub fn from_config(config: &aws_config::SdkConfig, poller_arn: impl Into<String>) -> Self {
        LambdaPollTrigger {
            client: aws_sdk_lambda::Client::new(config),
            poller_arn: poller_arn.into(),
        }
    }
}

#[async_trait]
impl PollTrigger for LambdaPollTrigger {
    async fn poll_now(&self, instance: u64) -> Result<(), PortError> {
        let payload = serde_json::json!({ "instanceId": instance }).to_string();
        self.client
            .invoke()
            .function_name(&self.poller_arn)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|err| map_sdk_error("invoke the poller", &err, ServiceMessage::Include))?;
        Ok(())
    }
}

/// Read a whole secret's string by name or ARN (the operator-provisioned API
/// credentials). The value is returned as a [`crate::secret::Secret`]; errors never
/// carry it.
pub async fn read_secret_string(
    config: &aws_config::SdkConfig,
    secret_id: &str,
) -> Result<crate::secret::Secret, PortError> {
    let out = aws_sdk_secretsmanager::Client::new(config)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| {
            map_sdk_error(
                "read the API credentials secret",
                &err,
                ServiceMessage::Omit,
            )
        })?;
    out.secret_string()
        .map(crate::secret::Secret::new)
        .ok_or_else(|| PortError::corrupt(format!("secret {secret_id} has no string value")))
}
