//! Names of the AWS resources the adapters use, read from the function's environment.

/// The secret name prefix when `SECRET_PREFIX` is not set.
pub const DEFAULT_SECRET_PREFIX: &str = "sage-events/instances/";

/// A required environment variable is missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsSettingsError {
    #[error("environment variable {0} is not set (or empty)")]
    Missing(&'static str),
}

/// Resource names from the environment.
///
/// Every function reads the whole set, but each needs only part of it (the delivery
/// function has no scheduler, the API no queue…), so the fields are optional here and the
/// accessors fail — naming the variable — only when an adapter actually needs one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// `TABLE_NAME`: the DynamoDB single table.
    pub table_name: Option<String>,
    /// `EVENT_QUEUE_URL`: the SQS event queue.
    pub queue_url: Option<String>,
    /// `SECRET_PREFIX`: secret names are `<prefix><instance id>`.
    pub secret_prefix: String,
    /// `SCHEDULE_GROUP`: the EventBridge Scheduler group holding one schedule per instance.
    pub schedule_group: Option<String>,
    /// `POLLER_FUNCTION_ARN`: what the schedules invoke.
    pub poller_arn: Option<String>,
    /// `SCHEDULER_ROLE_ARN`: the role EventBridge Scheduler assumes to invoke the poller.
    pub scheduler_role_arn: Option<String>,
}

const TABLE_NAME: &str = "TABLE_NAME";
const EVENT_QUEUE_URL: &str = "EVENT_QUEUE_URL";
const SECRET_PREFIX: &str = "SECRET_PREFIX";
const SCHEDULE_GROUP: &str = "SCHEDULE_GROUP";
const POLLER_FUNCTION_ARN: &str = "POLLER_FUNCTION_ARN";
const SCHEDULER_ROLE_ARN: &str = "SCHEDULER_ROLE_ARN";

impl AwsSettings {
    /// Read from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `lookup` (tests pass a map instead of mutating the environment).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        AwsSettings {
            table_name: get(TABLE_NAME),
            queue_url: get(EVENT_QUEUE_URL),
            secret_prefix: get(SECRET_PREFIX).unwrap_or_else(|| DEFAULT_SECRET_PREFIX.to_owned()),
            schedule_group: get(SCHEDULE_GROUP),
            poller_arn: get(POLLER_FUNCTION_ARN),
            scheduler_role_arn: get(SCHEDULER_ROLE_ARN),
        }
    }

    pub fn table_name(&self) -> Result<&str, AwsSettingsError> {
        required(&self.table_name, TABLE_NAME)
    }

    pub fn queue_url(&self) -> Result<&str, AwsSettingsError> {
        required(&self.queue_url, EVENT_QUEUE_URL)
    }

    pub fn schedule_group(&self) -> Result<&str, AwsSettingsError> {
        required(&self.schedule_group, SCHEDULE_GROUP)
    }

    pub fn poller_arn(&self) -> Result<&str, AwsSettingsError> {
        required(&self.poller_arn, POLLER_FUNCTION_ARN)
    }

    pub fn scheduler_role_arn(&self) -> Result<&str, AwsSettingsError> {
        required(&self.scheduler_role_arn, SCHEDULER_ROLE_ARN)
    }
}

fn required<'a>(
    value: &'a Option<String>,
    name: &'static str,
) -> Result<&'a str, AwsSettingsError> {
    value.as_deref().ok_or(AwsSettingsError::Missing(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> AwsSettings {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AwsSettings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn reads_every_variable() {
        let s = settings(&[
            ("TABLE_NAME", "t"),
            ("EVENT_QUEUE_URL", "http://q"),
            ("SECRET_PREFIX", "p/"),
            ("SCHEDULE_GROUP", "g"),
            ("POLLER_FUNCTION_ARN", "arn:poller"),
            ("SCHEDULER_ROLE_ARN", "arn:role"),
        ]);
        assert_eq!(s.table_name(), Ok("t"));
        assert_eq!(s.queue_url(), Ok("http://q"));
        assert_eq!(s.secret_prefix, "p/");
        assert_eq!(s.schedule_group(), Ok("g"));
        assert_eq!(s.poller_arn(), Ok("arn:poller"));
        assert_eq!(s.scheduler_role_arn(), Ok("arn:role"));
    }

    #[test]
    fn missing_or_empty_variables_are_named_in_the_error() {
        let s = settings(&[("TABLE_NAME", "  ")]);
        let err = s.table_name().unwrap_err();
        assert_eq!(err, AwsSettingsError::Missing("TABLE_NAME"));
        assert!(err.to_string().contains("TABLE_NAME"));
        assert!(
            s.queue_url()
                .unwrap_err()
                .to_string()
                .contains("EVENT_QUEUE_URL")
        );
        assert!(
            s.schedule_group()
                .unwrap_err()
                .to_string()
                .contains("SCHEDULE_GROUP")
        );
        assert!(
            s.poller_arn()
                .unwrap_err()
                .to_string()
                .contains("POLLER_FUNCTION_ARN")
        );
        assert!(
            s.scheduler_role_arn()
                .unwrap_err()
                .to_string()
                .contains("SCHEDULER_ROLE_ARN")
        );
    }

    #[test]
    fn secret_prefix_defaults() {
        assert_eq!(settings(&[]).secret_prefix, DEFAULT_SECRET_PREFIX);
        assert_eq!(
            settings(&[("SECRET_PREFIX", "")]).secret_prefix,
            DEFAULT_SECRET_PREFIX
        );
    }
}
