//! Mapping AWS SDK errors onto [`PortError`] kinds.
//!
//! Every SDK crate's `SdkError` is the same `aws-smithy-runtime-api` type, so one generic
//! mapping serves all four services; adapters first pick out the service errors that mean
//! something to their port (a failed condition → `Conflict`, a missing secret → `None`…)
//! and hand everything else here.

use crate::ports::PortError;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes that mean "slow down and retry", across the services we call.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "PriorRequestNotComplete",
    "SlowDown",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Whether the service's message may be copied into the [`PortError`]. Secrets Manager
/// messages are left out on principle: the port promises that no error carries a secret,
/// and we do not audit what a service chooses to echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServiceMessage {
    Include,
    Omit,
}

/// Map a failed SDK call: transport failures, timeouts, throttling and 5xx answers are
/// `Unavailable` (retry later); other service errors are `Other` with the error code.
pub(crate) fn map_sdk_error<E>(
    operation: &str,
    err: &SdkError<E, HttpResponse>,
    service_message: ServiceMessage,
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ConstructionFailure(_) => PortError::other(format!(
            "{operation}: could not build the request: {}",
            DisplayErrorContext(err)
        )),
        SdkError::TimeoutError(_) => PortError::unavailable(format!("{operation}: timed out")),
        SdkError::DispatchFailure(_) => PortError::unavailable(format!(
            "{operation}: could not reach the service: {}",
            DisplayErrorContext(err)
        )),
        SdkError::ResponseError(_) => PortError::unavailable(format!(
            "{operation}: unreadable response: {}",
            DisplayErrorContext(err)
        )),
        _ => {
            let code = err.code().unwrap_or("Unknown");
            let status = err.raw_response().map(|r| r.status().as_u16());
            let mut message = format!("{operation}: {code}");
            if let Some(status) = status {
                message.push_str(&format!(" (HTTP {status})"));
            }
            if service_message == ServiceMessage::Include
                && let Some(text) = err.message()
            {
                message.push_str(": ");
                message.push_str(text);
            }
            if is_transient(code, status) {
                PortError::unavailable(message)
            } else {
                PortError::other(message)
            }
        }
    }
}

/// The error code of a service error (`None` for transport failures).
pub(crate) fn service_code<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> Option<&str> {
    match err {
        SdkError::ServiceError(_) => err.code(),
        _ => None,
    }
}

fn is_transient(code: &str, status: Option<u16>) -> bool {
    THROTTLING_CODES.contains(&code) || status.is_some_and(|s| s >= 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert!(is_transient("ThrottlingException", Some(400)));
        assert!(is_transient(
            "ProvisionedThroughputExceededException",
            Some(400)
        ));
        assert!(is_transient("InternalServerError", Some(500)));
        assert!(is_transient("Anything", Some(503)));
        assert!(!is_transient("ValidationException", Some(400)));
        assert!(!is_transient("AccessDeniedException", None));
    }
}
