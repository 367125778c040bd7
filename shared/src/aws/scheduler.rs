//! [`PollScheduler`] on EventBridge Scheduler: one schedule per instance.
//!
//! Schedule `sage-events-<id>` in the configured group, expression `rate(N minutes)`
//! (`rate(1 minute)` for one), target the poller function with input
//! `{"instanceId":<id>}` (a JSON number), invoked through the scheduler role, state
//! ENABLED. Retry policy: 2 attempts, events older than 1 hour dropped — the next
//! scheduled run catches up anyway, since polls read from the watermark.
//!
//! Flexible time window: OFF for a 1-minute interval; otherwise FLEXIBLE with a maximum
//! window of half the interval, at most 15 minutes. The window spreads many instances'
//! polls over time instead of firing them all on the minute, while keeping consecutive
//! polls of one instance between N/2 and 3N/2 minutes apart (a full-interval window would
//! allow anything from back-to-back to 2N).

use super::error::{ServiceMessage, map_sdk_error, service_code};
use crate::ports::{PollScheduler, PortError};
use async_trait::async_trait;
use aws_sdk_scheduler::types::{
    FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState, Target,
};

/// The longest flexible window, in minutes.
const MAX_FLEXIBLE_WINDOW_MINUTES: u32 = 15;
const RETRY_ATTEMPTS: i32 = 2;
const MAX_EVENT_AGE_SECONDS: i32 = 3600;

/// The schedule name of an instance.
pub fn schedule_name(instance: u64) -> String {
    format!("sage-events-{instance}")
}

/// Poll schedules in EventBridge Scheduler.
#[derive(Debug, Clone)]
pub struct EventBridgePollScheduler {
    client: aws_sdk_scheduler::Client,
    group: String,
    poller_arn: String,
    role_arn: String,
}

impl EventBridgePollScheduler {
    /// Schedules live in `group`, invoke `poller_arn` through `role_arn`.
    pub fn new(
        client: aws_sdk_scheduler::Client,
        group: impl Into<String>,
        poller_arn: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        EventBridgePollScheduler {
            client,
            group: group.into(),
            poller_arn: poller_arn.into(),
            role_arn: role_arn.into(),
        }
    }

    pub fn from_config(
        config: &aws_config::SdkConfig,
        group: impl Into<String>,
        poller_arn: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        Self::new(
            aws_sdk_scheduler::Client::new(config),
            group,
            poller_arn,
            role_arn,
        )
    }

    fn target(&self, instance: u64) -> Result<Target, PortError> {
        Target::builder()
            .arn(&self.poller_arn)
            .role_arn(&self.role_arn)
            .input(schedule_input(instance))
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(RETRY_ATTEMPTS)
                    .maximum_event_age_in_seconds(MAX_EVENT_AGE_SECONDS)
                    .build(),
            )
            .build()
            .map_err(|e| PortError::other(format!("schedule target: {e}")))
    }
}

/// The poller's input for an instance.
fn schedule_input(instance: u64) -> String {
    serde_json::json!({ "instanceId": instance }).to_string()
}

/// `rate(N minutes)`, singular for one.
fn rate_expression(interval_minutes: u32) -> String {
    if interval_minutes == 1 {
        "rate(1 minute)".to_owned()
    } else {
        format!("rate({interval_minutes} minutes)")
    }
}

/// The interval in minutes of a `rate(…)` expression (minutes, hours or days).
fn parse_rate(expression: &str) -> Option<u32> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u32 = value.parse().ok()?;
    let per_unit = match unit.trim() {
        "minute" | "minutes" => 1,
        "hour" | "hours" => 60,
        "day" | "days" => 24 * 60,
        _ => return None,
    };
    value.checked_mul(per_unit)
}

fn time_window(interval_minutes: u32) -> Result<FlexibleTimeWindow, PortError> {
    let builder = if interval_minutes <= 1 {
        FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off)
    } else {
        let window = (interval_minutes / 2).min(MAX_FLEXIBLE_WINDOW_MINUTES);
        FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Flexible)
            .maximum_window_in_minutes(i32::try_from(window).unwrap_or(1))
    };
    builder
        .build()
        .map_err(|e| PortError::other(format!("schedule time window: {e}")))
}

fn sdk_error<E>(operation: &str, err: &aws_sdk_scheduler::error::SdkError<E>) -> PortError
where
    E: aws_sdk_scheduler::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    map_sdk_error(operation, err, ServiceMessage::Include)
}

const NOT_FOUND: &str = "ResourceNotFoundException";
const CONFLICT: &str = "ConflictException";

#[async_trait]
impl PollScheduler for EventBridgePollScheduler {
    /// CreateSchedule, or UpdateSchedule (a full replacement) when it already exists.
    async fn upsert(&self, instance: u64, interval_minutes: u32) -> Result<(), PortError> {
        if interval_minutes == 0 {
            return Err(PortError::other("poll interval must be at least 1 minute"));
        }
        let name = schedule_name(instance);
        let expression = rate_expression(interval_minutes);
        let created = self
            .client
            .create_schedule()
            .name(&name)
            .group_name(&self.group)
            .schedule_expression(&expression)
            .flexible_time_window(time_window(interval_minutes)?)
            .target(self.target(instance)?)
            .state(ScheduleState::Enabled)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(err) if service_code(&err) == Some(CONFLICT) => {
                self.client
                    .update_schedule()
                    .name(&name)
                    .group_name(&self.group)
                    .schedule_expression(&expression)
                    .flexible_time_window(time_window(interval_minutes)?)
                    .target(self.target(instance)?)
                    .state(ScheduleState::Enabled)
                    .send()
                    .await
                    .map_err(|err| sdk_error("update poll schedule", &err))?;
                Ok(())
            }
            Err(err) => Err(sdk_error("create poll schedule", &err)),
        }
    }

    async fn delete(&self, instance: u64) -> Result<(), PortError> {
        match self
            .client
            .delete_schedule()
            .name(schedule_name(instance))
            .group_name(&self.group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if service_code(&err) == Some(NOT_FOUND) => Ok(()),
            Err(err) => Err(sdk_error("delete poll schedule", &err)),
        }
    }

    async fn get(&self, instance: u64) -> Result<Option<u32>, PortError> {
        match self
            .client
            .get_schedule()
            .name(schedule_name(instance))
            .group_name(&self.group)
            .send()
            .await
        {
            Ok(out) => {
                let expression = out.schedule_expression().unwrap_or_default();
                parse_rate(expression).map(Some).ok_or_else(|| {
                    PortError::corrupt(format!(
                        "schedule {} has unexpected expression {expression:?}",
                        schedule_name(instance)
                    ))
                })
            }
            Err(err) if service_code(&err) == Some(NOT_FOUND) => Ok(None),
            Err(err) => Err(sdk_error("get poll schedule", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_expressions_round_trip() {
        assert_eq!(rate_expression(1), "rate(1 minute)");
        assert_eq!(rate_expression(15), "rate(15 minutes)");
        for n in [1, 2, 5, 59, 60, 1440] {
            assert_eq!(parse_rate(&rate_expression(n)), Some(n));
        }
        assert_eq!(parse_rate("rate(2 hours)"), Some(120));
        assert_eq!(parse_rate("rate(1 day)"), Some(1440));
        assert_eq!(parse_rate("cron(0 * * * ? *)"), None);
        assert_eq!(parse_rate("rate(x minutes)"), None);
        assert_eq!(parse_rate("rate(5 fortnights)"), None);
    }

    #[test]
    fn time_window_is_off_for_one_minute_and_half_the_interval_up_to_fifteen() {
        let off = time_window(1).unwrap();
        assert_eq!(off.mode(), &FlexibleTimeWindowMode::Off);
        assert_eq!(off.maximum_window_in_minutes(), None);
        let window = |n| time_window(n).unwrap().maximum_window_in_minutes();
        assert_eq!(window(2), Some(1));
        assert_eq!(window(3), Some(1));
        assert_eq!(window(10), Some(5));
        assert_eq!(window(60), Some(15));
        assert_eq!(
            time_window(10).unwrap().mode(),
            &FlexibleTimeWindowMode::Flexible
        );
    }

    #[test]
    fn input_names_the_instance_as_a_number() {
        let input: serde_json::Value = serde_json::from_str(&schedule_input(42)).unwrap();
        assert_eq!(input, serde_json::json!({"instanceId": 42}));
    }
}
