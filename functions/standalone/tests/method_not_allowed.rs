//! `sage-events serve` answers a method a path does not have with 405 and `Allow`
//! (RFC 9110 §15.5.6), on the API routes and on `/health`.

mod support;

use std::time::Duration;
use support::{TempDir, free_port, signal, spawn_serve, wait_exit, wait_healthy};

#[tokio::test]
async fn every_405_names_the_allowed_methods() {
    let dir = TempDir::new("allow");
    let port = free_port();
    let mut child = spawn_serve(&dir.path("events.db"), port, &[]);
    wait_healthy(port, Duration::from_secs(30)).await;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    for (method, path, allowed) in [
        ("PUT", "/instances", "GET, POST"),
        ("POST", "/instances/7", "GET, PATCH, DELETE"),
        ("GET", "/instances/7/poll", "POST"),
        ("PATCH", "/instances/7/enabled", "PUT, DELETE"),
    ] {
        let response = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header(
                "authorization",
                "User test-user-secret, Organization test-org-secret",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allowed),
            "{method} {path}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains(allowed),
            "{body}"
        );
    }

    // /health is the runner's own route.
    let response = client.post(format!("{base}/health")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(allow.contains("GET"), "Allow: {allow:?}");

    signal(&child, "TERM");
    wait_exit(&mut child, Duration::from_secs(15)).expect("exits after SIGTERM");
}
