//! Transport-free request and response of the `/instances` API.
//!
//! API Gateway (through `lambda_http`) and the standalone runner's axum server both
//! convert to and from these, so routing, status codes and error bodies are written once.

use serde::Serialize;
use serde_json::{Value, json};

/// Largest accepted request body (Cloud Elements' instance bodies are a few KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    /// The path without stage prefix, e.g. `/instances/42/enabled`.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The raw `Authorization` header.
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl ApiRequest {
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// JSON body (`Value::Null` = no body).
    pub body: Value,
}

impl ApiResponse {
    pub fn json(status: u16, body: impl Serialize) -> Self {
        ApiResponse {
            status,
            headers: Vec::new(),
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }

    pub fn empty(status: u16) -> Self {
        ApiResponse {
            status,
            headers: Vec::new(),
            body: Value::Null,
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The body as bytes (empty for no body).
    pub fn body_bytes(&self) -> Vec<u8> {
        if self.body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&self.body).unwrap_or_default()
        }
    }
}

/// An API error: status + `{"message", "field"}`. Messages never carry secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub field: Option<String>,
    /// Every field error, when validation found several.
    pub errors: Vec<(String, String)>,
    /// Response headers the error calls for (`Allow` on a 405).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn field(status: u16, field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError {
            status,
            message: format!("{field}: {message}"),
            errors: vec![(field.clone(), message)],
            field: Some(field),
            headers: Vec::new(),
        }
    }

    /// 405 for a known path; `allowed` is the comma-separated list of its methods, sent as
    /// `Allow` (RFC 9110 §15.5.6 requires it) and repeated in the message.
    pub fn method_not_allowed(allowed: &str) -> Self {
        let mut error = Self::new(405, format!("method not allowed here; allowed: {allowed}"));
        error.headers.push(("allow".to_owned(), allowed.to_owned()));
        error
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    pub fn not_found() -> Self {
        Self::new(404, "no such instance")
    }

    pub fn into_response(self) -> ApiResponse {
        let mut body = json!({ "message": self.message });
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        if self.errors.len() > 1 {
            body["errors"] = Value::Array(
                self.errors
                    .iter()
                    .map(|(f, m)| json!({ "field": f, "message": m }))
                    .collect(),
            );
        }
        let mut response = ApiResponse::json(self.status, body);
        if self.status == 401 {
            response = response.with_header("www-authenticate", "User, Organization, Element");
        }
        for (name, value) in self.headers {
            response = response.with_header(&name, value);
        }
        response
    }
}
