//! The environment variables the functions read — one list, so `template.yaml`, the
//! standalone runner, the README and the wiring test cannot drift apart.

/// DynamoDB table of instances, watermarks and leases.
pub const TABLE_NAME: &str = "TABLE_NAME";
/// SQS queue the poller writes notifications to and delivery consumes.
pub const EVENT_QUEUE_URL: &str = "EVENT_QUEUE_URL";
/// SQS dead-letter queue of the event queue.
pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
/// Name prefix of the per-instance Secrets Manager secrets.
pub const SECRET_PREFIX: &str = "SECRET_PREFIX";
/// EventBridge Scheduler group holding one schedule per instance.
pub const SCHEDULE_GROUP: &str = "SCHEDULE_GROUP";
/// The poller function's ARN (schedule target, and "poll now").
pub const POLLER_FUNCTION_ARN: &str = "POLLER_FUNCTION_ARN";
/// The role EventBridge Scheduler assumes to invoke the poller.
pub const SCHEDULER_ROLE_ARN: &str = "SCHEDULER_ROLE_ARN";
/// Secrets Manager secret holding the API's organization/user credentials.
pub const API_CREDENTIALS_SECRET_ID: &str = "API_CREDENTIALS_SECRET_ID";
/// Seconds a warm registration function keeps the API credentials it read before
/// reading the secret again (1–60). Default 60: a rotation reaches every function within
/// a minute.
pub const API_CREDENTIALS_TTL_SECONDS: &str = "API_CREDENTIALS_TTL_SECONDS";
/// Sage base URLs (default: Sage's real ones).
pub const SAGE_API_URL: &str = "SAGE_API_URL";
pub const SAGE_TOKEN_URL: &str = "SAGE_TOKEN_URL";
pub const SAGE_REVOKE_URL: &str = "SAGE_REVOKE_URL";
/// Allow callbacks to loopback addresses (tests, demo, self-hosting). Default false.
pub const ALLOW_LOOPBACK_CALLBACKS: &str = "ALLOW_LOOPBACK_CALLBACKS";
/// Require https callback URLs. Default false.
pub const REQUIRE_HTTPS_CALLBACKS: &str = "REQUIRE_HTTPS_CALLBACKS";
/// Smallest refresh interval an instance may ask for, in minutes. Default 1.
pub const MIN_REFRESH_INTERVAL_MINUTES: &str = "MIN_REFRESH_INTERVAL_MINUTES";
/// Delivery retry schedule `base_seconds,factor,cap_seconds`. Default `4,4,43200`.
pub const RETRY_SCHEDULE: &str = "RETRY_SCHEDULE";
/// The event queue's `maxReceiveCount`. Default 10.
pub const MAX_RECEIVE_COUNT: &str = "MAX_RECEIVE_COUNT";
/// Callback request timeout in seconds. Default 15.
pub const CALLBACK_TIMEOUT_SECONDS: &str = "CALLBACK_TIMEOUT_SECONDS";
/// Log filter (`info`, `debug`, `sage_events_core=debug`…). Default `info`.
pub const LOG_LEVEL: &str = "LOG_LEVEL";

/// Variables each Lambda function reads (the wiring test checks the template sets them).
pub const POLLER_ENV: &[&str] = &[
    TABLE_NAME,
    EVENT_QUEUE_URL,
    SECRET_PREFIX,
    SAGE_API_URL,
    SAGE_TOKEN_URL,
    SAGE_REVOKE_URL,
    LOG_LEVEL,
];
pub const REGISTRATION_ENV: &[&str] = &[
    TABLE_NAME,
    SECRET_PREFIX,
    SCHEDULE_GROUP,
    POLLER_FUNCTION_ARN,
    SCHEDULER_ROLE_ARN,
    API_CREDENTIALS_SECRET_ID,
    API_CREDENTIALS_TTL_SECONDS,
    SAGE_API_URL,
    SAGE_TOKEN_URL,
    SAGE_REVOKE_URL,
    ALLOW_LOOPBACK_CALLBACKS,
    REQUIRE_HTTPS_CALLBACKS,
    MIN_REFRESH_INTERVAL_MINUTES,
    LOG_LEVEL,
];
pub const DELIVERY_ENV: &[&str] = &[
    TABLE_NAME,
    EVENT_QUEUE_URL,
    DEAD_LETTER_QUEUE_URL,
    SECRET_PREFIX,
    ALLOW_LOOPBACK_CALLBACKS,
    RETRY_SCHEDULE,
    MAX_RECEIVE_COUNT,
    CALLBACK_TIMEOUT_SECONDS,
    LOG_LEVEL,
];
