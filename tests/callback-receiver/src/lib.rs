//! A real HTTP receiver on loopback that checks both signature schemes of every callback.
//!
//! Tests, the demo and the delivery benchmark point instances at it. Its answers can be
//! scripted (fail N times, answer 410, redirect, be slow) to exercise delivery's retry
//! paths; everything it received is recorded with the verification result.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sage_events_core::secret::Secret;
use sage_events_core::signature::{
    DEFAULT_TOLERANCE_SECS, ELEMENTS_SIGNATURE_HEADER, StandardHeaders, WEBHOOK_ID_HEADER,
    verify_elements, verify_standard,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// `status` with a `Retry-After: secs` header.
    StatusRetryAfter(u16, u64),
    /// A redirect to `location`.
    Redirect(u16, String),
    /// Wait, then answer 200.
    Slow(Duration),
}

/// One callback as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub webhook_id: Option<String>,
    pub body: Vec<u8>,
    /// Both signatures verified with the configured key.
    pub verified: bool,
    /// Why verification failed, if it did.
    pub verify_error: Option<String>,
    /// What the receiver answered.
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

struct Inner {
    key: Mutex<Option<Secret>>,
    script: Mutex<VecDeque<Reply>>,
    default_reply: Mutex<Reply>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
}

/// A running receiver (cheap handle; the server stops when the runtime does).
#[derive(Clone)]
pub struct Receiver {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> std::io::Result<Receiver> {
        let inner = Arc::new(Inner {
            key: Mutex::new(None),
            script: Mutex::new(VecDeque::new()),
            default_reply: Mutex::new(Reply::Status(200)),
            received: Mutex::new(Vec::new()),
            arrived: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver { addr, inner })
    }

    /// `http://127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The signing key to verify with (the instance's `event.notification.signature.key`).
    pub fn set_key(&self, key: Secret) {
        *self.inner.key.lock().expect("receiver") = Some(key);
    }

    /// Answer the next requests with these replies, in order, then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().expect("receiver").extend(replies);
    }

    pub fn set_default_reply(&self, reply: Reply) {
        *self.inner.default_reply.lock().expect("receiver") = reply;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("receiver").clone()
    }

    /// Deliveries answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Wait until at least `n` requests arrived, or `timeout` passed; returns the count.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.arrived.notified();
            let count = self.inner.received.lock().expect("receiver").len();
            if count >= n {
                return count;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.inner.received.lock().expect("receiver").len();
            }
        }
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = inner.key.lock().expect("receiver").clone();
    let verify_error = match &key {
        None => Some("receiver has no key".to_owned()),
        Some(key) => {
            let now = chrono::Utc::now().timestamp();
            let standard = StandardHeaders::from_lookup(header);
            verify_elements(key, &body, header(ELEMENTS_SIGNATURE_HEADER))
                .and_then(|()| verify_standard(key, &standard, &body, now, DEFAULT_TOLERANCE_SECS))
                .err()
                .map(|e| e.to_string())
        }
    };
    let reply = inner
        .script
        .lock()
        .expect("receiver")
        .pop_front()
        .unwrap_or_else(|| inner.default_reply.lock().expect("receiver").clone());
    let response = match &reply {
        Reply::Status(code) => status(*code).into_response(),
        Reply::StatusRetryAfter(code, secs) => {
            let mut r = status(*code).into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(*secs));
            r
        }
        Reply::Redirect(code, location) => {
            let mut r = status(*code).into_response();
            if let Ok(v) = HeaderValue::from_str(location) {
                r.headers_mut().insert("location", v);
            }
            r
        }
        Reply::Slow(d) => {
            tokio::time::sleep(*d).await;
            StatusCode::OK.into_response()
        }
    };
    let record = Received {
        path: uri.path().to_owned(),
        webhook_id: header(WEBHOOK_ID_HEADER).map(str::to_owned),
        body: body.to_vec(),
        verified: verify_error.is_none(),
        verify_error,
        status: response.status().as_u16(),
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
    };
    inner.received.lock().expect("receiver").push(record);
    inner.arrived.notify_waiters();
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
