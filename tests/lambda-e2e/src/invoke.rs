//! A double of the Lambda `Invoke` API (`POST /2015-03-31/functions/{name}/invocations`),
//! so a client using the AWS SDK (pointed here with `AWS_ENDPOINT_URL_LAMBDA`) invokes a
//! function that runs under a [`RuntimeDouble`].
//!
//! `Event` invocations answer 202 at once and run in the background, as Lambda's
//! asynchronous invocation does; `RequestResponse` ones answer with the function's result
//! (and `X-Amz-Function-Error: Unhandled` on a function error). Every invocation is
//! recorded, with its outcome once known.

use crate::runtime::{InvocationResult, Outcome, RuntimeDouble};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// One call of the Invoke API.
#[derive(Debug, Clone)]
pub struct InvokeCall {
    /// The `FunctionName` as sent (name or ARN).
    pub function: String,
    /// `X-Amz-Invocation-Type` (`RequestResponse` when absent).
    pub invocation_type: String,
    pub payload: Vec<u8>,
    /// The function's result, once it finished (`None` while running, or if it failed
    /// to run at all).
    pub result: Option<InvocationResult>,
}

#[derive(Default)]
struct Inner {
    functions: Mutex<HashMap<String, RuntimeDouble>>,
    calls: Mutex<Vec<InvokeCall>>,
    changed: Notify,
}

/// A running Invoke API double. Cheap to clone.
#[derive(Clone)]
pub struct InvokeApiDouble {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl InvokeApiDouble {
    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> std::io::Result<InvokeApiDouble> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(InvokeApiDouble { addr, inner })
    }

    /// The endpoint URL (`http://127.0.0.1:PORT`) for `AWS_ENDPOINT_URL_LAMBDA`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Route invocations of `function` (its name or ARN, as callers send it) to `double`.
    pub fn register(&self, function: impl Into<String>, double: RuntimeDouble) {
        if let Ok(mut functions) = self.inner.functions.lock() {
            functions.insert(function.into(), double);
        }
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<InvokeCall> {
        self.inner
            .calls
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Wait until `n` calls have finished (have a result), or `timeout`; returns them.
    pub async fn wait_finished(&self, n: usize, timeout: Duration) -> Vec<InvokeCall> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            let calls = self.calls();
            if calls.iter().filter(|c| c.result.is_some()).count() >= n
                || tokio::time::timeout_at(deadline, notified).await.is_err()
            {
                return calls;
            }
        }
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("x-amzn-errortype", kind)],
        axum::Json(serde_json::json!({ "Type": "User", "message": message })),
    )
        .into_response()
}

async fn invoke(
    State(inner): State<Arc<Inner>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let double = inner
        .functions
        .lock()
        .ok()
        .and_then(|f| f.get(&function).cloned());
    let Some(double) = double else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {function}"),
        );
    };
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_owned();
    let index = match inner.calls.lock() {
        Ok(mut calls) => {
            calls.push(InvokeCall {
                function,
                invocation_type: invocation_type.clone(),
                payload: body.to_vec(),
                result: None,
            });
            calls.len() - 1
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let run = {
        let inner = inner.clone();
        async move {
            let result = double.invoke_raw(body.to_vec()).await.ok();
            if let Ok(mut calls) = inner.calls.lock()
                && let Some(call) = calls.get_mut(index)
            {
                call.result = result.clone();
            }
            inner.changed.notify_waiters();
            result
        }
    };
    match invocation_type.as_str() {
        "Event" => {
            tokio::spawn(run);
            StatusCode::ACCEPTED.into_response()
        }
        "DryRun" => StatusCode::NO_CONTENT.into_response(),
        _ => match run.await {
            Some(InvocationResult {
                outcome: Outcome::Response(body),
                ..
            }) => (StatusCode::OK, body).into_response(),
            Some(InvocationResult {
                outcome: Outcome::FunctionError(report),
                ..
            }) => (
                StatusCode::OK,
                [("x-amz-function-error", "Unhandled")],
                axum::Json(serde_json::json!({
                    "errorType": report.error_type,
                    "errorMessage": report.error_message,
                })),
            )
                .into_response(),
            None => aws_error(
                StatusCode::BAD_GATEWAY,
                "ServiceException",
                "the function did not answer",
            ),
        },
    }
}
