//! The HTTP front: `GET /health`, and every other request converted to an [`ApiRequest`],
//! answered by the [`ApiHandler`], and converted back; and the accept loop that serves it
//! within [`ServerLimits`].
//!
//! `axum::serve` has no read timeouts and no connection cap, so a client that stops
//! sending mid-request would hold its connection (and a file descriptor) forever. The
//! runner therefore drives hyper's HTTP/1 connection itself: hyper's header-read timeout,
//! a whole-body deadline in [`to_api_request`], an idle watchdog per connection and a
//! semaphore in front of `accept`.

use crate::api::ApiHandler;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use sage_events_core::registration::http::{ApiError, ApiRequest, ApiResponse, MAX_BODY_BYTES};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

/// How long and how many clients may hold the server. Defaults suit a runner on the
/// internet; `sage-events serve --help` lists the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request head (request line and headers) must arrive whole within this, counted
    /// from when the connection starts waiting for it: on connect, and on a kept-alive
    /// connection after its previous response. Otherwise the connection is closed.
    pub header_read_timeout: Duration,
    /// A request body must arrive whole within this, counted from when its reading starts;
    /// otherwise the answer is 408 and the connection is closed.
    pub body_read_timeout: Duration,
    /// A connection with no request in progress that receives nothing for this long is
    /// closed (kept-alive connections included; a connection still waiting for a request
    /// head is also bound by the header timeout, whichever ends first).
    pub idle_timeout: Duration,
    /// Connections served at once. Past it the server stops accepting (new clients wait in
    /// the listen backlog) until one closes, so descriptors and memory stay bounded.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_connections: 512,
        }
    }
}

/// Whether the runner is ready: store open, listener bound, workers running. Cleared when
/// shutdown starts, so a load balancer stops sending traffic first.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AppState {
    handler: Arc<dyn ApiHandler>,
    readiness: Readiness,
    body_read_timeout: Duration,
}

/// The runner's router. `body_read_timeout` bounds the reading of each request body.
pub fn router(
    handler: Arc<dyn ApiHandler>,
    readiness: Readiness,
    body_read_timeout: Duration,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .fallback(api)
        .with_state(AppState {
            handler,
            readiness,
            body_read_timeout,
        })
}

async fn health(State(state): State<AppState>) -> Response {
    if state.readiness.is_ready() {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "ok" })),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "unavailable" })),
        )
            .into_response()
    }
}

async fn api(State(state): State<AppState>, request: Request) -> Response {
    let request = match to_api_request(request, state.body_read_timeout).await {
        Ok(request) => request,
        Err(error) => {
            let status = error.status;
            let mut response = to_http_response(error.into_response());
            if status == 408 {
                // The rest of the body may never come: do not wait to drain it.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return response;
        }
    };
    to_http_response(state.handler.handle(request).await)
}

/// An HTTP request as the API core's request. Bodies over [`MAX_BODY_BYTES`] are refused
/// with 413, bodies not received whole within `body_timeout` with 408, before the handler
/// sees them.
///
/// The deadline covers the whole body, not the gap between two chunks (as
/// `tower_http`'s `RequestBodyTimeout` does): a client trickling one byte a second would
/// otherwise hold its connection for as long as it likes.
pub async fn to_api_request(
    request: Request,
    body_timeout: Duration,
) -> Result<ApiRequest, ApiError> {
    let (parts, body) = request.into_parts();
    let body = tokio::time::timeout(body_timeout, axum::body::to_bytes(body, MAX_BODY_BYTES))
        .await
        .map_err(|_| {
            ApiError::new(
                408,
                format!(
                    "the request body did not arrive within {} s",
                    body_timeout.as_secs_f64()
                ),
            )
        })?
        .map_err(|_| {
            ApiError::new(
                413,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        })?;
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let authorization = match parts.headers.get(header::AUTHORIZATION) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?
                .to_owned(),
        ),
        None => None,
    };
    Ok(ApiRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query,
        authorization,
        body: body.to_vec(),
    })
}

/// The API core's response as HTTP: status, headers, JSON body or none.
pub fn to_http_response(response: ApiResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.body_bytes();
    let mut http = Response::new(Body::from(body.clone()));
    *http.status_mut() = status;
    let headers = http.headers_mut();
    if !body.is_empty() {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    for (name, value) in &response.headers {
        // Header names and values come from our own code; skip anything malformed
        // rather than failing the whole response.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        } else {
            tracing::warn!(header = %name, "dropped a malformed response header");
        }
    }
    http
}

/// Serve `app` on `listener` within `limits` until `stop` turns true; then stop accepting,
/// let each connection finish its request in progress, and return when all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = crate::scheduler::stopped(&mut stop) => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = crate::scheduler::stopped(&mut stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of descriptors or a connection reset before accept: not fatal, but
                // do not spin on it.
                tracing::warn!(error = %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_connection(stream, app, limits, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    // Every connection holds a slot until it is closed.
    let _ = slots
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
}

/// One HTTP/1.1 connection, closed when the header timeout, the idle timeout or `stop`
/// says so (`stop` and idleness close it between requests, never mid-response).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        let app = TowerToHyperService::new(app);
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let busy = activity.begin();
            let response = hyper::service::Service::call(&app, request);
            async move {
                let response = response.await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    // Timeouts, resets and malformed requests end up here; they are the
                    // client's business.
                    tracing::debug!(error = %error, "connection closed");
                }
                return;
            }
            () = activity.idle(limits.idle_timeout), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = crate::scheduler::stopped(&mut stop), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What a connection is doing: requests in progress, and when it last received bytes or
/// finished a request.
struct Activity {
    started: Instant,
    /// Milliseconds after `started`.
    last: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(elapsed, Ordering::Relaxed);
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// Resolves once nothing is in progress and nothing was received for `timeout`.
    async fn idle(&self, timeout: Duration) {
        loop {
            let last = self.started + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline && self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            let wake = if Instant::now() >= deadline {
                // A request is in progress: look again later.
                Instant::now() + timeout
            } else {
                deadline
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// A request in progress; the connection is not idle while one lives.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream that records when it last received bytes.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_request_becomes_an_api_request() {
        let request = Request::builder()
            .method("PATCH")
            .uri("/instances/42/configuration?where=name%3D%27a%20b%27&pageSize=5&flag")
            .header("authorization", "User u, Organization o")
            .body(Body::from(r#"{"a":1}"#))
            .unwrap();
        let api = to_api_request(request, SECOND).await.unwrap();
        assert_eq!(api.method, "PATCH");
        assert_eq!(api.path, "/instances/42/configuration");
        assert_eq!(api.query_param("where"), Some("name='a b'"));
        assert_eq!(api.query_param("pageSize"), Some("5"));
        assert_eq!(api.query_param("flag"), Some(""));
        assert_eq!(api.authorization.as_deref(), Some("User u, Organization o"));
        assert_eq!(api.body, br#"{"a":1}"#);
    }

    #[tokio::test]
    async fn an_oversized_body_is_refused_with_413() {
        let request = Request::builder()
            .method("POST")
            .uri("/instances")
            .body(Body::from(vec![0u8; MAX_BODY_BYTES + 1]))
            .unwrap();
        let error = to_api_request(request, SECOND).await.unwrap_err();
        assert_eq!(error.status, 413);
        let exactly = Request::builder()
            .method("POST")
            .uri("/instances")
            .body(Body::from(vec![0u8; MAX_BODY_BYTES]))
            .unwrap();
        assert_eq!(
            to_api_request(exactly, SECOND).await.unwrap().body.len(),
            MAX_BODY_BYTES
        );
    }

    #[tokio::test]
    async fn a_non_text_authorization_header_is_a_401() {
        let request = Request::builder()
            .uri("/instances")
            .header(
                "authorization",
                HeaderValue::from_bytes(b"User \xff").unwrap(),
            )
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            to_api_request(request, SECOND).await.unwrap_err().status,
            401
        );
    }

    #[tokio::test]
    async fn responses_keep_status_headers_and_body() {
        let response = to_http_response(
            ApiResponse::json(201, serde_json::json!({ "id": 7 }))
                .with_header("x-total", "3")
                .with_header("bad header", "dropped"),
        );
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["x-total"], "3");
        assert_eq!(response.headers().len(), 2);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"id":7}"#);

        let empty = to_http_response(ApiResponse::empty(204));
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
        assert!(empty.headers().get("content-type").is_none());
        let body = axum::body::to_bytes(empty.into_body(), 1024).await.unwrap();
        assert!(body.is_empty());

        let odd = to_http_response(ApiResponse::empty(1000));
        assert_eq!(odd.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
