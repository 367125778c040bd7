//! [`SecretStore`] on AWS Secrets Manager: one secret `<prefix><instance id>` per instance.

use super::error::{ServiceMessage, map_sdk_error, service_code};
use crate::ports::{PortError, SecretStore};
use async_trait::async_trait;

const NOT_FOUND: &str = "ResourceNotFoundException";
const EXISTS: &str = "ResourceExistsException";

/// Instance secrets in Secrets Manager, as the secret's string value. Error messages carry
/// the operation, the secret name and the service's error code — never the value, and not
/// the service's message text either.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl SecretsManagerStore {
    /// `prefix` is prepended to the instance id (see `SECRET_PREFIX`).
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: impl Into<String>) -> Self {
        SecretsManagerStore {
            client,
            prefix: prefix.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, prefix: impl Into<String>) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(config), prefix)
    }

    /// The secret name of an instance.
    pub fn secret_name(&self, instance: u64) -> String {
        format!("{}{instance}", self.prefix)
    }
}

fn sdk_error<E>(
    operation: &str,
    name: &str,
    err: &aws_sdk_secretsmanager::error::SdkError<E>,
) -> PortError
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    map_sdk_error(&format!("{operation} {name}"), err, ServiceMessage::Omit)
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn create(&self, instance: u64, value: &str) -> Result<(), PortError> {
        let name = self.secret_name(instance);
        match self
            .client
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if service_code(&err) == Some(EXISTS) => {
                Err(PortError::conflict(format!("secret {name} already exists")))
            }
            Err(err) => Err(sdk_error("create secret", &name, &err)),
        }
    }

    async fn get(&self, instance: u64) -> Result<Option<String>, PortError> {
        let name = self.secret_name(instance);
        match self.client.get_secret_value().secret_id(&name).send().await {
            Ok(out) => match out.secret_string() {
                Some(value) => Ok(Some(value.to_owned())),
                None => Err(PortError::corrupt(format!(
                    "secret {name} has no string value"
                ))),
            },
            Err(err) if service_code(&err) == Some(NOT_FOUND) => Ok(None),
            Err(err) => Err(sdk_error("get secret", &name, &err)),
        }
    }

    async fn put(&self, instance: u64, value: &str) -> Result<(), PortError> {
        let name = self.secret_name(instance);
        match self
            .client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(value)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if service_code(&err) == Some(NOT_FOUND) => Err(PortError::not_found(
                format!("secret {name} does not exist"),
            )),
            Err(err) => Err(sdk_error("put secret", &name, &err)),
        }
    }

    async fn delete(&self, instance: u64) -> Result<(), PortError> {
        let name = self.secret_name(instance);
        match self
            .client
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if service_code(&err) == Some(NOT_FOUND) => Ok(()),
            Err(err) => Err(sdk_error("delete secret", &name, &err)),
        }
    }
}
