//! API Gateway HTTP API (payload v2) events ⇄ the transport-free API types. Kept apart
//! from `main` so the mapping is tested without a Lambda runtime.
//!
//! The event is decoded here rather than by `lambda_http`: `lambda_http` decodes the body
//! before the handler runs and panics (a function error, no HTTP answer) on an
//! `isBase64Encoded` body that is not base64, and fails the invocation on any event that
//! is not an HTTP event. Taking the event as plain JSON, every malformed event — bad
//! JSON shape, missing request context, bad base64 — becomes a 400 JSON answer like any
//! other API error, and the function keeps serving.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine;
use sage_events_core::registration::RegistrationService;
use sage_events_core::registration::http::{ApiError, ApiRequest, ApiResponse};
use serde_json::{Value, json};

/// The parts of an HTTP API v2 event the `/instances` API reads.
pub fn decode(event: Value) -> Result<ApiRequest, ApiError> {
    let event: ApiGatewayV2httpRequest = serde_json::from_value(event).map_err(|_| {
        ApiError::bad_request("not an API Gateway HTTP API (payload format 2.0) request event")
    })?;
    let body = match event.body {
        None => Vec::new(),
        Some(text) if event.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| {
                ApiError::bad_request("the body is marked isBase64Encoded but is not base64")
            })?,
        Some(text) => text.into_bytes(),
    };
    let query = url::form_urlencoded::parse(event.raw_query_string.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let authorization = event
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let raw_path = event.raw_path.unwrap_or_default();
    Ok(ApiRequest {
        method: event.request_context.http.method.as_str().to_owned(),
        path: without_stage(event.request_context.stage.as_deref(), &raw_path).to_owned(),
        query,
        authorization,
        body,
    })
}

/// `rawPath` carries the stage name first when the API has a named stage; the routes are
/// stage-free.
fn without_stage<'a>(stage: Option<&str>, raw_path: &'a str) -> &'a str {
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => raw_path
            .strip_prefix('/')
            .and_then(|rest| rest.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| if rest.is_empty() { "/" } else { rest })
            .unwrap_or(raw_path),
        _ => raw_path,
    }
}

/// The HTTP API v2 response event: status, headers, JSON body (or none).
pub fn encode(response: ApiResponse) -> Value {
    let body = response.body_bytes();
    let mut headers = serde_json::Map::new();
    if !body.is_empty() {
        headers.insert("content-type".into(), json!("application/json"));
    }
    for (name, value) in &response.headers {
        headers.insert(name.to_ascii_lowercase(), json!(value));
    }
    let mut out = json!({
        "statusCode": response.status,
        "headers": headers,
        "isBase64Encoded": false,
    });
    if !body.is_empty() {
        out["body"] = json!(String::from_utf8_lossy(&body));
    }
    out
}

/// One invocation: any JSON event in, an HTTP API v2 response out — never an error.
pub async fn handle(service: &RegistrationService, event: Value) -> Value {
    let response = match decode(event) {
        Ok(request) => service.handle(request).await,
        Err(error) => error.into_response(),
    };
    encode(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{
      "version": "2.0", "routeKey": "$default", "rawPath": "/instances/42",
      "rawQueryString": "pageSize=5&nextPageToken=a%2Bb",
      "headers": {"authorization": "User u, Organization o", "content-type": "application/json"},
      "queryStringParameters": {"pageSize": "5", "nextPageToken": "a+b"},
      "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "x.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "x", "http": {"method": "PATCH", "path": "/instances/42", "protocol": "HTTP/1.1",
        "sourceIp": "203.0.113.9", "userAgent": "curl"}, "requestId": "r", "routeKey": "$default",
        "stage": "$default", "time": "29/Nov/2026:03:00:00 +0000", "timeEpoch": 1795921200000},
      "body": "{\"name\":\"renamed\"}", "isBase64Encoded": false
    }"#;

    fn event() -> Value {
        serde_json::from_str(EVENT).expect("v2 event")
    }

    #[test]
    fn decodes_an_http_api_v2_event() {
        let api = decode(event()).expect("decodes");
        assert_eq!(api.method, "PATCH");
        assert_eq!(api.path, "/instances/42");
        assert_eq!(api.authorization.as_deref(), Some("User u, Organization o"));
        assert_eq!(api.query_param("pageSize"), Some("5"));
        assert_eq!(api.query_param("nextPageToken"), Some("a+b"));
        assert_eq!(api.body, br#"{"name":"renamed"}"#);
    }

    #[test]
    fn decodes_a_base64_body() {
        let mut e = event();
        e["body"] = json!("eyJuYW1lIjoieCJ9");
        e["isBase64Encoded"] = json!(true);
        assert_eq!(decode(e).expect("decodes").body, br#"{"name":"x"}"#);
    }

    #[test]
    fn malformed_events_are_400s() {
        let mut bad_base64 = event();
        bad_base64["body"] = json!("not base64 at all!");
        bad_base64["isBase64Encoded"] = json!(true);
        for e in [
            bad_base64,
            json!({}),
            json!(null),
            json!([1, 2]),
            json!("text"),
            json!({"rawPath": "/instances", "requestContext": {}}),
        ] {
            let error = decode(e.clone()).expect_err(&e.to_string());
            assert_eq!(error.status, 400, "{e}");
        }
    }

    #[test]
    fn a_named_stage_is_not_part_of_the_route() {
        assert_eq!(
            without_stage(Some("prod"), "/prod/instances/1"),
            "/instances/1"
        );
        assert_eq!(without_stage(Some("prod"), "/prod"), "/");
        assert_eq!(
            without_stage(Some("prod"), "/production/x"),
            "/production/x"
        );
        assert_eq!(without_stage(Some("$default"), "/instances"), "/instances");
        assert_eq!(without_stage(None, "/instances"), "/instances");
    }

    #[test]
    fn encodes_status_headers_and_json() {
        let response =
            ApiResponse::json(201, json!({"id": 7})).with_header("Elements-Next-Page-Token", "t");
        let out = encode(response);
        assert_eq!(out["statusCode"], 201);
        assert_eq!(out["headers"]["content-type"], "application/json");
        assert_eq!(out["headers"]["elements-next-page-token"], "t");
        assert_eq!(out["body"], r#"{"id":7}"#);
        assert_eq!(out["isBase64Encoded"], false);
        let empty = encode(ApiResponse::empty(204));
        assert!(empty.get("body").is_none());
        assert!(empty["headers"].get("content-type").is_none());
    }

    #[test]
    fn a_405_keeps_its_allow_header() {
        let mut e = event();
        e["requestContext"]["http"]["method"] = json!("PUT");
        e["rawPath"] = json!("/instances");
        let request = decode(e).expect("decodes");
        // What `handle` answers: routing refuses the method before anything else runs.
        let refused = sage_events_core::registration::routes::route(&request.method, &request.path)
            .expect_err("PUT /instances is not routed");
        let out = encode(refused.into_response());
        assert_eq!(out["statusCode"], 405);
        assert_eq!(out["headers"]["allow"], "GET, POST");
    }
}
