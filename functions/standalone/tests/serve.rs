//! `sage-events serve` as a process: starts, answers /health, maps errors to JSON, stops
//! gracefully on SIGTERM; configuration errors stop it before it listens.

mod support;

use std::process::Command;
use std::time::Duration;
use support::{TempDir, free_port, signal, spawn_serve, wait_exit, wait_healthy};

#[tokio::test]
async fn serve_starts_answers_and_stops_gracefully_on_sigterm() {
    let dir = TempDir::new("serve");
    let database = dir.path("events.db");
    let port = free_port();
    let mut child = spawn_serve(&database, port, &[]);
    wait_healthy(port, Duration::from_secs(20)).await;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));

    let unknown = client
        .get(format!("{base}/no/such/route"))
        .send()
        .await
        .unwrap();
    assert!(unknown.status().as_u16() >= 400, "{}", unknown.status());
    assert_eq!(
        unknown
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert!(body["message"].is_string(), "{body}");

    let too_big = client
        .post(format!("{base}/instances"))
        .body(vec![b'x'; 256 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status().as_u16(), 413);
    let body: serde_json::Value = too_big.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("larger"),
        "{body}"
    );

    // The key file was created next to the database, private.
    let key_file = dir.path("events.db.key");
    assert!(key_file.exists(), "the key file was not created");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    }

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        client.get(format!("{base}/health")).send().await.is_err(),
        "still listening after shutdown"
    );
}

#[test]
fn serve_refuses_to_start_without_api_credentials() {
    let dir = TempDir::new("nocreds");
    let output = Command::new(env!("CARGO_BIN_EXE_sage-events"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(dir.path("events.db"))
        .env_remove("ORGANIZATION_SECRET")
        .env_remove("USER_SECRET")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("organization-secret"), "{stderr}");
}

#[test]
fn serve_refuses_a_bad_setting_and_names_it() {
    let dir = TempDir::new("badsetting");
    let output = Command::new(env!("CARGO_BIN_EXE_sage-events"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(dir.path("events.db"))
        .env("ORGANIZATION_SECRET", "o")
        .env("USER_SECRET", "u")
        .env("MAX_RECEIVE_COUNT", "zero")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MAX_RECEIVE_COUNT"), "{stderr}");
}

#[test]
fn help_documents_the_environment_fallbacks_without_showing_secrets() {
    let output = Command::new(env!("CARGO_BIN_EXE_sage-events"))
        .args(["serve", "--help"])
        .env("ORGANIZATION_SECRET", "very-secret-org-value")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for name in [
        "ORGANIZATION_SECRET",
        "USER_SECRET",
        "SAGE_API_URL",
        "SAGE_TOKEN_URL",
        "SAGE_REVOKE_URL",
        "ALLOW_LOOPBACK_CALLBACKS",
        "MIN_REFRESH_INTERVAL_MINUTES",
        "SAGE_EVENTS_SECRET_KEY",
        "RETRY_SCHEDULE",
        "127.0.0.1:8080",
    ] {
        assert!(
            help.contains(name),
            "--help does not mention {name}:\n{help}"
        );
    }
    assert!(
        !help.contains("very-secret-org-value"),
        "--help shows a secret"
    );
}

#[test]
fn dead_letters_and_replay_on_an_empty_database() {
    let dir = TempDir::new("dlq");
    let database = dir.path("events.db");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sage-events"))
            .args(args)
            .arg("--database")
            .arg(&database)
            .env_remove("SAGE_EVENTS_SECRET_KEY")
            .output()
            .unwrap()
    };
    let listed = run(&["dead-letters"]);
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("no dead-lettered"));
    let replayed = run(&["replay", "--instance", "7"]);
    assert!(replayed.status.success());
    assert!(String::from_utf8_lossy(&replayed.stdout).starts_with("0 notification"));
}

#[test]
fn poll_of_an_unknown_instance_exits_1_with_a_summary() {
    let dir = TempDir::new("poll");
    let output = Command::new(env!("CARGO_BIN_EXE_sage-events"))
        .args(["poll", "42", "--database"])
        .arg(dir.path("events.db"))
        .env_remove("SAGE_EVENTS_SECRET_KEY")
        .env("LOG_LEVEL", "off")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["instanceId"], 42);
    assert_eq!(summary["outcome"], "notFound");
}
