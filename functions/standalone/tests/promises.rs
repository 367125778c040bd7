//! What the README and `--help` promise about `sage-events`, checked on the binary: log
//! lines (JSON when piped, text when asked), the AWS side's credentials document with
//! several organizations kept apart over HTTP, and `dead-letters` printing the columns
//! its help names (or JSON).

mod support;

use sage_events_core::embedded::EmbeddedStore;
use sage_events_core::ports::QueueConsumer;
use sage_sim::{SageSim, SimConfig};
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{
    TempDir, add_instance, enqueue, free_port, signal, wait_exit, wait_healthy, write_key,
};

const SEED: &[u8] = include_bytes!("../../../tests/fixtures/seed-example-instance.json");
const REDIRECT_URI: &str = "https://mycoolapp.com";

/// `sage-events serve` with its standard output captured, one org/user pair unless
/// `env` says otherwise.
fn serve(database: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sage-events"));
    command
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database")
        .arg(database)
        .args(args)
        .env_remove("SAGE_EVENTS_SECRET_KEY")
        .env_remove("LOG_FORMAT")
        .env_remove("API_CREDENTIALS")
        .env_remove("API_CREDENTIALS_FILE")
        .env("ORGANIZATION_SECRET", "test-org-secret")
        .env("USER_SECRET", "test-user-secret")
        .env("LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("spawn sage-events serve")
}

/// Stop a serve child with SIGTERM and return what it wrote to standard output.
fn stop(mut child: Child) -> String {
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_json_lines_when_piped_and_text_when_asked() {
    let dir = TempDir::new("logjson");
    let port = free_port();
    let child = serve(&dir.path("events.db"), port, &[], &[]);
    wait_healthy(port, Duration::from_secs(20)).await;
    let out = stop(child);
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "expected start and stop lines:\n{out}");
    for line in &lines {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        for field in ["timestamp", "level", "message"] {
            assert!(value.get(field).is_some(), "no {field} in {line}");
        }
    }
    assert!(
        lines.iter().any(|l| l.contains("sage-events is listening")),
        "{out}"
    );

    for (args, env) in [
        (&["--log-format", "text"][..], &[][..]),
        (&[][..], &[("LOG_FORMAT", "text")][..]),
    ] {
        let port = free_port();
        let child = serve(&dir.path("events.db"), port, args, env);
        wait_healthy(port, Duration::from_secs(20)).await;
        let out = stop(child);
        assert!(out.contains("sage-events is listening"), "{out}");
        assert!(
            out.lines()
                .filter(|l| !l.trim().is_empty())
                .all(|l| serde_json::from_str::<Value>(l).is_err()),
            "text lines expected:\n{out}"
        );
        assert!(
            !out.contains('\u{1b}'),
            "no color codes into a pipe:\n{out}"
        );
    }
}

fn seed_body(sim: &SageSim) -> String {
    let mut body: Value = serde_json::from_slice(SEED).expect("seed JSON");
    body["providerData"]["code"] = sim
        .issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI)
        .into();
    body["configuration"]["oauth.api.key"] = sage_sim::DEFAULT_CLIENT_ID.into();
    body["configuration"]["oauth.api.secret"] = sage_sim::DEFAULT_CLIENT_SECRET.into();
    body.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_the_aws_credentials_document_and_keeps_organizations_apart() {
    let sim = SageSim::start(SimConfig::default())
        .await
        .expect("simulator");
    let dir = TempDir::new("orgs");
    let credentials = dir.path("api-credentials.json");
    std::fs::write(
        &credentials,
        json!({"organizations": [
            {"id": "acme", "organizationSecret": "acme-org", "userSecret": "acme-user"},
            {"organizationSecret": "globex-org", "userSecret": "globex-user"}
        ]})
        .to_string(),
    )
    .unwrap();
    let port = free_port();
    let credentials_path = credentials.to_str().expect("utf-8 path");
    let mut command = Command::new(env!("CARGO_BIN_EXE_sage-events"));
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
        ])
        .arg(dir.path("events.db"))
        .env_remove("SAGE_EVENTS_SECRET_KEY")
        .env_remove("ORGANIZATION_SECRET")
        .env_remove("USER_SECRET")
        .env_remove("API_CREDENTIALS")
        .env("API_CREDENTIALS_FILE", credentials_path)
        .env("SAGE_API_URL", sim.api_url())
        .env("SAGE_TOKEN_URL", sim.token_url())
        .env("SAGE_REVOKE_URL", sim.revoke_url())
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = command.spawn().expect("spawn");
    wait_healthy(port, Duration::from_secs(20)).await;

    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let acme = "User acme-user, Organization acme-org";
    let globex = "Organization globex-org, User globex-user";
    let send = |method: reqwest::Method, path: &str, auth: &str, body: Option<String>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .header("Authorization", auth);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        async move {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };

    let (status, created) = send(
        reqwest::Method::POST,
        "/instances",
        acme,
        Some(seed_body(&sim)),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_u64().expect("id");
    let path = format!("/instances/{id}");

    assert_eq!(send(reqwest::Method::GET, &path, acme, None).await.0, 200);
    let (status, body) = send(reqwest::Method::GET, &path, globex, None).await;
    assert_eq!(status, 404, "another organization's instance: {body}");
    let (status, listed) = send(reqwest::Method::GET, "/instances", globex, None).await;
    assert_eq!((status, listed), (200, json!([])));
    let mixed = "User acme-user, Organization globex-org";
    assert_eq!(send(reqwest::Method::GET, &path, mixed, None).await.0, 401);

    // Re-authorization over the runner's HTTP API, same ownership rule.
    let code = || {
        json!({"providerData": {"code": sim.issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI)}})
            .to_string()
    };
    let reauthorize = format!("{path}/reauthorize");
    let (status, _) = send(reqwest::Method::POST, &reauthorize, globex, Some(code())).await;
    assert_eq!(status, 404);
    let (status, body) = send(reqwest::Method::POST, &reauthorize, acme, Some(code())).await;
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");

    stop(child);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_prints_the_columns_its_help_names_or_json() {
    let dir = TempDir::new("deadletters");
    let database = dir.path("events.db");
    let key = write_key(&database);
    let (id, letter) = {
        let store = EmbeddedStore::open(&database, key).expect("store");
        let id = add_instance(&store, "https://receiver.example/hook").await;
        let ids = enqueue(&store, id, 1).await;
        let consumer: &dyn QueueConsumer = &store;
        let received = consumer
            .receive(10, Duration::from_secs(60))
            .await
            .expect("receive");
        assert_eq!(received.len(), 1);
        consumer
            .dead_letter(&received[0], "receiver answered HTTP 410 Gone\tfor good")
            .await
            .expect("dead-letter");
        (id, ids[0].clone())
    };
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_sage-events"))
            .arg("dead-letters")
            .args(args)
            .arg("--database")
            .arg(&database)
            .env_remove("SAGE_EVENTS_SECRET_KEY")
            .env("LOG_LEVEL", "off")
            .output()
            .expect("run dead-letters");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };

    let help = run(&["--help"]);
    let table = run(&[]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    assert_eq!(
        header,
        ["id", "instance", "failed_at", "attempts", "reason"]
    );
    assert!(
        help.contains(&header.join(", ")),
        "--help names other columns than the output ({header:?}):\n{help}"
    );
    assert!(help.contains("--json"), "{help}");
    let row: Vec<&str> = lines.next().expect("one letter").split('\t').collect();
    assert_eq!(row.len(), header.len(), "{row:?}");
    assert_eq!(row[0], letter);
    assert_eq!(row[1], id.to_string());
    assert!(
        chrono::DateTime::parse_from_rfc3339(row[2]).is_ok(),
        "{}",
        row[2]
    );
    assert_eq!(row[3], "1");
    assert_eq!(row[4], "receiver answered HTTP 410 Gone for good");
    assert_eq!(lines.next(), None);

    let listed: Value = serde_json::from_str(&run(&["--json"])).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let first = &listed[0];
    assert_eq!(first["id"], letter.as_str());
    assert_eq!(first["instanceId"], id);
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["reason"], "receiver answered HTTP 410 Gone\tfor good");
    assert!(first["failedAt"].is_string());
    assert!(
        help.contains("instanceId") && help.contains("failedAt"),
        "{help}"
    );
}

#[test]
fn an_empty_dead_letter_list_is_an_empty_json_array() {
    let dir = TempDir::new("dlqempty");
    let output = Command::new(env!("CARGO_BIN_EXE_sage-events"))
        .args(["dead-letters", "--json", "--database"])
        .arg(dir.path("events.db"))
        .env_remove("SAGE_EVENTS_SECRET_KEY")
        .output()
        .unwrap();
    assert!(output.status.success());
    let listed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(listed, json!([]));
}
