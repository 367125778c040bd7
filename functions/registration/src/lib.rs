//! API Gateway HTTP API (payload v2) requests ⇄ the transport-free API types. Kept apart
//! from `main` so the mapping is tested without a Lambda runtime.

use lambda_http::{Body, Request, RequestExt, Response};
use sage_events_core::registration::http::{ApiRequest, ApiResponse};

/// The parts of an API Gateway request the `/instances` API reads.
pub fn decode(request: Request) -> ApiRequest {
    let query = request
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    ApiRequest {
        method: request.method().as_str().to_owned(),
        path: request.uri().path().to_owned(),
        query,
        authorization,
        body: match request.body() {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Binary(bytes) => bytes.clone(),
            _ => Vec::new(),
        },
    }
}

pub fn encode(response: ApiResponse) -> Result<Response<Body>, lambda_http::http::Error> {
    let mut builder = Response::builder().status(response.status);
    let body = response.body_bytes();
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(String::from_utf8_lossy(&body).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{
      "version": "2.0", "routeKey": "$default", "rawPath": "/instances/42",
      "rawQueryString": "pageSize=5&nextPageToken=abc",
      "headers": {"authorization": "User u, Organization o", "content-type": "application/json"},
      "queryStringParameters": {"pageSize": "5", "nextPageToken": "abc"},
      "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "x.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "x", "http": {"method": "PATCH", "path": "/instances/42", "protocol": "HTTP/1.1",
        "sourceIp": "203.0.113.9", "userAgent": "curl"}, "requestId": "r", "routeKey": "$default",
        "stage": "$default", "time": "29/Nov/2026:03:00:00 +0000", "timeEpoch": 1795921200000},
      "body": "{\"name\":\"renamed\"}", "isBase64Encoded": false
    }"#;

    #[test]
    fn decodes_an_http_api_v2_event() {
        let request = lambda_http::request::from_str(EVENT).expect("v2 event");
        let api = decode(request);
        assert_eq!(api.method, "PATCH");
        assert_eq!(api.path, "/instances/42");
        assert_eq!(api.authorization.as_deref(), Some("User u, Organization o"));
        assert_eq!(api.query_param("pageSize"), Some("5"));
        assert_eq!(api.body, br#"{"name":"renamed"}"#);
    }

    #[test]
    fn encodes_status_headers_and_json() {
        let response = ApiResponse::json(201, serde_json::json!({"id": 7}))
            .with_header("elements-next-page-token", "t");
        let http = encode(response).expect("response");
        assert_eq!(http.status(), 201);
        assert_eq!(http.headers()["content-type"], "application/json");
        assert_eq!(http.headers()["elements-next-page-token"], "t");
        match http.body() {
            Body::Text(text) => assert_eq!(text, r#"{"id":7}"#),
            other => panic!("{other:?}"),
        }
        let empty = encode(ApiResponse::empty(204)).expect("response");
        assert!(matches!(empty.body(), Body::Empty));
        assert!(empty.headers().get("content-type").is_none());
    }
}
