//! A double of the Lambda Runtime API (`2018-06-01`), the HTTP interface a custom runtime
//! such as `lambda_runtime` polls for work.
//!
//! A real Lambda function process loops on `GET /runtime/invocation/next`, handles the
//! event it gets and posts the outcome to `/runtime/invocation/{id}/response` or `/error`;
//! a process that cannot start posts `/runtime/init/error`. This double serves exactly
//! those four routes on a loopback port, so a built binary started with
//! `AWS_LAMBDA_RUNTIME_API=<addr>` runs unmodified, and [`RuntimeDouble::invoke`] hands it
//! one event and returns what it answered.
//!
//! The first `next` marks the end of the function's init phase: Lambda's "Init Duration"
//! is the same span, so [`RuntimeDouble::first_next_at`] is what cold-start figures use.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};

/// The path prefix of every Runtime API route.
pub const API_PREFIX: &str = "/2018-06-01/runtime";

/// How a function runs under the double.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// `Lambda-Runtime-Invoked-Function-Arn` of every invocation.
    pub function_arn: String,
    /// The function's timeout: each invocation's `Lambda-Runtime-Deadline-Ms` is the time
    /// it is handed out plus this, and [`RuntimeDouble::invoke`] gives up after it.
    pub timeout: Duration,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        FunctionConfig {
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:under-test".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST /runtime/invocation/{id}/response`: the handler's result (JSON for the
    /// functions here).
    Response(Vec<u8>),
    /// `POST /runtime/invocation/{id}/error`: a function error, as Lambda would report it
    /// to the caller (`X-Amz-Function-Error: Unhandled`).
    FunctionError(ErrorReport),
}

/// The body of an `/error` or `/init/error` post (`{"errorType", "errorMessage"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReport {
    #[serde(default)]
    pub error_type: String,
    #[serde(default)]
    pub error_message: String,
}

/// One finished invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationResult {
    /// The `Lambda-Runtime-Aws-Request-Id` the double gave it.
    pub request_id: String,
    pub outcome: Outcome,
    /// From handing the event out (`next` answered) to the outcome arriving.
    pub duration: Duration,
}

impl InvocationResult {
    /// The response as JSON, if the function answered (not errored) with JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        match &self.outcome {
            Outcome::Response(body) => serde_json::from_slice(body).ok(),
            Outcome::FunctionError(_) => None,
        }
    }

    pub fn is_function_error(&self) -> bool {
        matches!(self.outcome, Outcome::FunctionError(_))
    }
}

/// Why [`RuntimeDouble::invoke`] returned no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    #[error("the function reported an init error: {0:?}")]
    InitError(ErrorReport),
    #[error("no outcome within {0:?} (the function's timeout)")]
    Timeout(Duration),
    #[error("the double stopped")]
    Stopped,
}

/// Where an invocation's `(request id, outcome, handed-out time)` goes.
type Done = oneshot::Sender<(String, Outcome, Instant)>;

struct Pending {
    payload: Vec<u8>,
    done: Done,
}

struct Shared {
    config: FunctionConfig,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, (Done, Instant)>>,
    first_next: OnceLock<Instant>,
    next_calls: std::sync::atomic::AtomicUsize,
    init_error: watch::Sender<Option<ErrorReport>>,
}

/// A running Runtime API double for one function (one process at a time, as Lambda gives
/// each execution environment its own). Cheap to clone; the server stops with the tokio
/// runtime that started it.
#[derive(Clone)]
pub struct RuntimeDouble {
    addr: SocketAddr,
    started_at: Instant,
    queue: mpsc::UnboundedSender<Pending>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RuntimeDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeDouble")
            .field("addr", &self.addr)
            .field("function_arn", &self.shared.config.function_arn)
            .finish_non_exhaustive()
    }
}

impl RuntimeDouble {
    /// Start on 127.0.0.1 with an ephemeral port and [`FunctionConfig::default`].
    pub async fn start() -> std::io::Result<RuntimeDouble> {
        Self::start_with(FunctionConfig::default()).await
    }

    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start_with(config: FunctionConfig) -> std::io::Result<RuntimeDouble> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (init_error, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            config,
            queue: tokio::sync::Mutex::new(queue_rx),
            in_flight: Mutex::new(HashMap::new()),
            first_next: OnceLock::new(),
            next_calls: std::sync::atomic::AtomicUsize::new(0),
            init_error,
        });
        let app = Router::new()
            .route(&format!("{API_PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{API_PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(
                &format!("{API_PREFIX}/invocation/{{id}}/error"),
                post(error),
            )
            .route(&format!("{API_PREFIX}/init/error"), post(init_error_route))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeDouble {
            addr,
            started_at: Instant::now(),
            queue: queue_tx,
            shared,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:PORT`, no scheme, as Lambda
    /// sets it).
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &FunctionConfig {
        &self.shared.config
    }

    /// When the function first asked for work (the end of its init phase), if it has.
    pub fn first_next_at(&self) -> Option<Instant> {
        self.shared.first_next.get().copied()
    }

    /// From the double's start to the first `next`; [`crate::FunctionProcess::init_time`]
    /// measures from the process spawn instead, which is what a cold start is.
    pub fn init_time(&self) -> Option<Duration> {
        self.first_next_at()
            .map(|at| at.saturating_duration_since(self.started_at))
    }

    /// How many `next` requests arrived (one per invocation plus the one waiting now).
    pub fn next_calls(&self) -> usize {
        self.shared
            .next_calls
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<ErrorReport> {
        self.shared.init_error.borrow().clone()
    }

    /// Wait until the function asks for its first event (init done), or an init error,
    /// or `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Instant, InvokeError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut init_errors = self.shared.init_error.subscribe();
        loop {
            if let Some(at) = self.first_next_at() {
                return Ok(at);
            }
            if let Some(report) = init_errors.borrow_and_update().clone() {
                return Err(InvokeError::InitError(report));
            }
            let tick = tokio::time::sleep(Duration::from_millis(5));
            tokio::select! {
                _ = tick => {}
                _ = init_errors.changed() => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(InvokeError::Timeout(timeout));
            }
        }
    }

    /// Hand the function one event (any bytes: Lambda itself only passes JSON) and wait
    /// for its outcome, at most the function's timeout (plus a second of slack).
    pub async fn invoke_raw(
        &self,
        payload: impl Into<Vec<u8>>,
    ) -> Result<InvocationResult, InvokeError> {
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(Pending {
                payload: payload.into(),
                done,
            })
            .map_err(|_| InvokeError::Stopped)?;
        let limit = self.shared.config.timeout + Duration::from_secs(1);
        let mut init_errors = self.shared.init_error.subscribe();
        let init_failed = async {
            loop {
                if let Some(report) = init_errors.borrow_and_update().clone() {
                    return report;
                }
                if init_errors.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            result = tokio::time::timeout(limit, outcome) => match result {
                Ok(Ok((request_id, outcome, handed_out))) => Ok(InvocationResult {
                    request_id,
                    outcome,
                    duration: handed_out.elapsed(),
                }),
                Ok(Err(_)) => Err(InvokeError::Stopped),
                Err(_) => Err(InvokeError::Timeout(limit)),
            },
            report = init_failed => Err(InvokeError::InitError(report)),
        }
    }

    /// [`RuntimeDouble::invoke_raw`] with a JSON event.
    pub async fn invoke(
        &self,
        payload: &serde_json::Value,
    ) -> Result<InvocationResult, InvokeError> {
        self.invoke_raw(payload.to_string()).await
    }
}

fn epoch_ms(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// A request id shaped like Lambda's (a UUID).
fn request_id() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An X-Ray trace header as Lambda passes it.
fn trace_id() -> String {
    let seconds = epoch_ms(SystemTime::now()) / 1000;
    format!(
        "Root=1-{seconds:08x}-{};Parent={};Sampled=0",
        random_hex(12),
        random_hex(8)
    )
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `GET /invocation/next`: long-polls until an event is queued.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.first_next.set(Instant::now());
    shared
        .next_calls
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let pending = {
        let mut queue = shared.queue.lock().await;
        queue.recv().await
    };
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    let id = request_id();
    let deadline = epoch_ms(SystemTime::now() + shared.config.timeout);
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        in_flight.insert(id.clone(), (pending.done, Instant::now()));
    }
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("lambda-runtime-aws-request-id", header(&id));
    headers.insert("lambda-runtime-deadline-ms", header(&deadline.to_string()));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header(&shared.config.function_arn),
    );
    headers.insert("lambda-runtime-trace-id", header(&trace_id()));
    (StatusCode::OK, headers, pending.payload).into_response()
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    let entry = shared
        .in_flight
        .lock()
        .ok()
        .and_then(|mut in_flight| in_flight.remove(id));
    match entry {
        Some((done, handed_out)) => {
            let _ = done.send((id.to_owned(), outcome, handed_out));
            (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({"status": "OK"})),
            )
                .into_response()
        }
        // What the real API answers for an id it did not hand out.
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({
                "errorMessage": "Invalid request ID",
                "errorType": "InvalidRequestID"
            })),
        )
            .into_response(),
    }
}

/// `POST /invocation/{id}/response`.
async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    finish(&shared, &id, Outcome::Response(body.to_vec()))
}

fn error_report(headers: &HeaderMap, body: &[u8]) -> ErrorReport {
    let mut report: ErrorReport = serde_json::from_slice(body).unwrap_or_default();
    if report.error_type.is_empty()
        && let Some(kind) = headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
    {
        report.error_type = kind.to_owned();
    }
    report
}

/// `POST /invocation/{id}/error`.
async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let report = error_report(&headers, &body);
    finish(&shared, &id, Outcome::FunctionError(report))
}

/// `POST /init/error`.
async fn init_error_route(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let report = error_report(&headers, &body);
    shared.init_error.send_replace(Some(report));
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"status": "OK"})),
    )
        .into_response()
}
