//! The HTTP front: `GET /health`, and every other request converted to an [`ApiRequest`],
//! answered by the [`ApiHandler`], and converted back.

use crate::api::ApiHandler;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sage_events_core::registration::http::{ApiError, ApiRequest, ApiResponse, MAX_BODY_BYTES};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
}

/// The runner's router.
pub fn router(handler: Arc<dyn ApiHandler>, readiness: Readiness) -> Router {
    Router::new()
        .route("/health", get(health))
        .fallback(api)
        .with_state(AppState { handler, readiness })
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
    let request = match to_api_request(request).await {
        Ok(request) => request,
        Err(error) => return to_http_response(error.into_response()),
    };
    to_http_response(state.handler.handle(request).await)
}

/// An HTTP request as the API core's request. Bodies over [`MAX_BODY_BYTES`] are refused
/// with 413 before the handler sees them.
pub async fn to_api_request(request: Request) -> Result<ApiRequest, ApiError> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_becomes_an_api_request() {
        let request = Request::builder()
            .method("PATCH")
            .uri("/instances/42/configuration?where=name%3D%27a%20b%27&pageSize=5&flag")
            .header("authorization", "User u, Organization o")
            .body(Body::from(r#"{"a":1}"#))
            .unwrap();
        let api = to_api_request(request).await.unwrap();
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
        let error = to_api_request(request).await.unwrap_err();
        assert_eq!(error.status, 413);
        let exactly = Request::builder()
            .method("POST")
            .uri("/instances")
            .body(Body::from(vec![0u8; MAX_BODY_BYTES]))
            .unwrap();
        assert_eq!(
            to_api_request(exactly).await.unwrap().body.len(),
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
        assert_eq!(to_api_request(request).await.unwrap_err().status, 401);
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
