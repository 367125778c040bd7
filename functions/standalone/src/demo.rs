//! `sage-events demo`: the whole flow on one machine, in well under a minute.
//!
//! Starts a Sage simulator and a signature-verifying callback receiver in-process, starts
//! the runner (temporary database, random key and API credentials, loopback callbacks
//! allowed) on an ephemeral port, registers the seed's example instance over the HTTP API,
//! changes customers at the simulator, asks for "poll now", and prints every poll and
//! every delivered event with its verified signature. Exit code 0 only if every expected
//! event arrived with both signatures valid.

use crate::api::{ApiHandler, RegistrationParts, registration_service};
use crate::config::RunnerConfig;
use crate::runner::{Observers, Runner};
use crate::scheduler::{PollCause, PollObserver, PollReport, SchedulerSettings};
use crate::worker::{DeliveryObserver, WorkerSettings};
use callback_receiver::Receiver;
use chrono::Duration as ChronoDuration;
use rand::RngCore;
use sage_events_core::delivery::service::Disposition;
use sage_events_core::embedded::SecretKey;
use sage_events_core::registration::auth::{Authenticator, OrganizationCredential};
use sage_events_core::sage::SageEndpoints;
use sage_events_core::secret::Secret;
use sage_events_core::settings::Settings;
use sage_sim::{SageSim, SimConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The seed page's example registration body.
const SEED: &str = include_str!("../../../tests/fixtures/seed-example-instance.json");
/// The OAuth redirect URI the seed names (the grant code is issued for it).
const REDIRECT_URI: &str = "https://mycoolapp.com";
/// The demo gives up after this long.
const DEADLINE: Duration = Duration::from_secs(45);

/// Why the demo stopped early.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Setup(String),
    #[error("{step}: {message}")]
    Api { step: &'static str, message: String },
}

/// Run the demo and print as it goes; returns the process exit code.
pub async fn run() -> i32 {
    run_with_handler(registration_service).await
}

/// [`run`] around the given API handler (tests run the demo against a stand-in API).
pub async fn run_with_handler(
    make_handler: impl FnOnce(RegistrationParts) -> Arc<dyn ApiHandler>,
) -> i32 {
    let started = Instant::now();
    match demo(started, make_handler).await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(error) => {
            println!("✘ demo stopped: {error}");
            1
        }
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, DemoError> {
        let path = std::env::temp_dir().join(format!(
            "sage-events-demo-{}-{:08x}",
            std::process::id(),
            rand::rng().next_u32()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| DemoError::Setup(format!("cannot create {}: {e}", path.display())))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn short(id: &str) -> String {
    let prefix: String = id.chars().take(8).collect();
    if prefix.len() < id.len() {
        format!("{prefix}…")
    } else {
        prefix
    }
}

/// The seed body, pointed at the simulator and the receiver.
pub fn registration_body(code: &str, callback_url: &str, signature_key: &str) -> Value {
    let mut body: Value = serde_json::from_str(SEED).unwrap_or_else(|_| json!({}));
    body["providerData"]["code"] = json!(code);
    let config = &mut body["configuration"];
    config["oauth.api.key"] = json!(sage_sim::DEFAULT_CLIENT_ID);
    config["oauth.api.secret"] = json!(sage_sim::DEFAULT_CLIENT_SECRET);
    config["oauth.callback.url"] = json!(REDIRECT_URI);
    config["event.notification.callback.url"] = json!(callback_url);
    config["event.notification.signature.key"] = json!(signature_key);
    config["event.poller.refresh_interval"] = json!("1");
    body
}

fn describe_poll(report: &PollReport) -> String {
    let cause = match report.cause {
        PollCause::Scheduled => "scheduled",
        PollCause::Requested => "poll now",
    };
    match &report.result {
        Err(error) => format!(
            "⟳ poll of instance {} ({cause}) stopped: {error}",
            report.instance_id
        ),
        Ok(summary) => {
            let resources: Vec<String> = summary
                .resources
                .iter()
                .map(|(name, s)| {
                    let mut text = format!(
                        "{name}: {} fetched, {} created, {} updated, {} deleted",
                        s.fetched, s.created, s.updated, s.deleted
                    );
                    if let Some(error) = &s.error {
                        text.push_str(&format!(" (error: {error})"));
                    }
                    text
                })
                .collect();
            let notifications: u64 = summary.resources.values().map(|s| s.notifications).sum();
            format!(
                "⟳ poll of instance {} ({cause}): {:?} — {} → {notifications} notification(s) queued, {} ms{}",
                summary.instance_id,
                summary.outcome,
                if resources.is_empty() {
                    "no resources".to_owned()
                } else {
                    resources.join("; ")
                },
                summary.duration_ms,
                summary
                    .message
                    .as_ref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            )
        }
    }
}

async fn api_call(
    step: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<(u16, Value), DemoError> {
    let response = request.send().await.map_err(|e| DemoError::Api {
        step,
        message: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((status, body))
}

fn api_failure(step: &'static str, status: u16, body: &Value) -> DemoError {
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    DemoError::Api {
        step,
        message: format!("HTTP {status}: {message}"),
    }
}

async fn demo(
    started: Instant,
    make_handler: impl FnOnce(RegistrationParts) -> Arc<dyn ApiHandler>,
) -> Result<bool, DemoError> {
    println!("sage-events demo\n");
    let sim = SageSim::start(SimConfig::default())
        .await
        .map_err(|e| DemoError::Setup(format!("simulator: {e}")))?;
    let receiver = Receiver::start()
        .await
        .map_err(|e| DemoError::Setup(format!("callback receiver: {e}")))?;
    let signature_key = format!("whsec_{}", {
        use base64::Engine;
        let mut key = [0u8; 24];
        rand::rng().fill_bytes(&mut key);
        base64::engine::general_purpose::STANDARD.encode(key)
    });
    receiver.set_key(Secret::new(signature_key.clone()));
    let callback_url = receiver.url("/sage-events");
    let dir = TempDir::new()?;
    let (organization, user) = (random_token(16), random_token(16));
    let endpoints = SageEndpoints {
        api_url: sim
            .api_url()
            .parse()
            .map_err(|e| DemoError::Setup(format!("simulator URL: {e}")))?,
        token_url: sim
            .token_url()
            .parse()
            .map_err(|e| DemoError::Setup(format!("simulator URL: {e}")))?,
        revoke_url: sim
            .revoke_url()
            .parse()
            .map_err(|e| DemoError::Setup(format!("simulator URL: {e}")))?,
    };
    let config = RunnerConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        database: dir.0.join("sage-events.db"),
        key: SecretKey::generate().map_err(|e| DemoError::Setup(e.to_string()))?,
        endpoints,
        auth: Authenticator::new(&[OrganizationCredential {
            id: None,
            organization_secret: Secret::new(organization.clone()),
            user_secret: Secret::new(user.clone()),
        }]),
        settings: Settings {
            allow_loopback_callbacks: true,
            min_refresh_interval_minutes: 1,
            ..Settings::default()
        },
        scheduler: SchedulerSettings::default(),
        server: Default::default(),
        workers: WorkerSettings {
            idle: Duration::from_millis(100),
            ..WorkerSettings::default()
        },
        shutdown_grace: Duration::from_secs(5),
    };
    let polls: PollObserver = Arc::new(|report: &PollReport| println!("{}", describe_poll(report)));
    let deliveries: DeliveryObserver = Arc::new(|message, disposition| match disposition {
        Disposition::Done => {}
        Disposition::RetryAfter(delay) => println!(
            "↻ notification {} not accepted (attempt {}); retrying in {:.1} s",
            short(&message.id),
            message.receive_count,
            delay.as_secs_f64()
        ),
        Disposition::DeadLetter(reason) => println!(
            "✘ notification {} dead-lettered: {reason}",
            short(&message.id)
        ),
    });
    let runner = Runner::start_with_handler(
        config,
        Observers {
            polls: Some(polls),
            deliveries: Some(deliveries),
        },
        make_handler,
    )
    .await
    .map_err(|e| DemoError::Setup(format!("runner: {e}")))?;
    let base = format!("http://{}", runner.addr());
    println!("  • Sage simulator     {}", sim.base_url());
    println!("  • callback receiver  {callback_url} (verifies both signatures)");
    println!(
        "  • sage-events API    {base} (database in {})\n",
        dir.0.display()
    );

    let outcome = exercise(
        &sim,
        &receiver,
        &base,
        &organization,
        &user,
        &signature_key,
        started,
    )
    .await;
    runner.shutdown().await;
    sim.shutdown();
    outcome
}

async fn exercise(
    sim: &SageSim,
    receiver: &Receiver,
    base: &str,
    organization: &str,
    user: &str,
    signature_key: &str,
    started: Instant,
) -> Result<bool, DemoError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| DemoError::Setup(format!("HTTP client: {e}")))?;
    let authorization = format!("User {user}, Organization {organization}");

    // Two customers that exist before the registration (not events themselves).
    let long_ago = sim.now() - ChronoDuration::minutes(10);
    let existing: Vec<String> = ["Existing Customer A", "Existing Customer B"]
        .iter()
        .map(|name| {
            sim.create_at(
                "contacts",
                json!({ "name": name, "contact_types": ["CUSTOMER"] }),
                long_ago,
            )
        })
        .collect();

    let code = sim.issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI);
    let body = registration_body(&code, &receiver.url("/sage-events"), signature_key);
    let (status, created) = api_call(
        "register the instance",
        http.post(format!("{base}/instances"))
            .header("authorization", &authorization)
            .json(&body),
    )
    .await?;
    if !(200..300).contains(&status) {
        return Err(api_failure("register the instance", status, &created));
    }
    let id = created
        .get("id")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or_else(|| DemoError::Api {
            step: "register the instance",
            message: format!("no instance id in {created}"),
        })?;
    println!("→ POST /instances: registered instance {id} (polls every minute)");

    sim.advance(ChronoDuration::seconds(2));
    let new_a = sim.create(
        "contacts",
        json!({ "name": "New Customer 1", "contact_types": ["CUSTOMER"] }),
    );
    let new_b = sim.create(
        "contacts",
        json!({ "name": "New Customer 2", "contact_types": ["CUSTOMER"] }),
    );
    sim.update(
        "contacts",
        &existing[0],
        json!({ "name": "Renamed Customer A" }),
    );
    sim.delete("contacts", &existing[1]);
    println!(
        "→ at Sage: created customers {} and {}, updated {}, deleted {}",
        short(&new_a),
        short(&new_b),
        short(&existing[0]),
        short(&existing[1])
    );
    let expected: BTreeSet<(String, String)> = [
        ("CREATED", new_a.as_str()),
        ("CREATED", new_b.as_str()),
        ("UPDATED", existing[0].as_str()),
        ("DELETED", existing[1].as_str()),
    ]
    .iter()
    .map(|(kind, id)| ((*kind).to_owned(), (*id).to_owned()))
    .collect();

    let (status, answer) = api_call(
        "poll now",
        http.post(format!("{base}/instances/{id}/poll"))
            .header("authorization", &authorization),
    )
    .await?;
    if !(200..300).contains(&status) {
        return Err(api_failure("poll now", status, &answer));
    }
    println!("→ POST /instances/{id}/poll: {status}\n");

    let (delivered, verified) = watch_deliveries(receiver, &expected, started).await;

    let (status, instance) = api_call(
        "read the instance",
        http.get(format!("{base}/instances/{id}"))
            .header("authorization", &authorization),
    )
    .await?;
    if (200..300).contains(&status) {
        println!(
            "\n→ GET /instances/{id}: valid={}, events so far={}, last delivery: {}",
            instance.get("valid").unwrap_or(&Value::Null),
            instance
                .pointer("/pollStatus/totalEvents")
                .unwrap_or(&Value::Null),
            instance
                .pointer("/deliveryStatus/lastStatus")
                .and_then(Value::as_str)
                .unwrap_or("none yet")
        );
    }

    let all = delivered.is_superset(&expected) && verified == delivered.len();
    println!(
        "\n{} {}/{} expected events delivered, {} with both signatures verified, in {:.1} s",
        if all { "✔ Summary:" } else { "✘ Summary:" },
        expected.intersection(&delivered).count(),
        expected.len(),
        verified,
        started.elapsed().as_secs_f64()
    );
    Ok(all)
}

/// Print each delivered event as it arrives, until every expected one is in or the
/// deadline passes. Returns the `(eventType, objectId)` pairs delivered and how many of
/// them came with both signatures verified.
async fn watch_deliveries(
    receiver: &Receiver,
    expected: &BTreeSet<(String, String)>,
    started: Instant,
) -> (BTreeSet<(String, String)>, usize) {
    let mut seen_requests = 0;
    let mut delivered = BTreeSet::new();
    let mut verified = 0;
    while started.elapsed() < DEADLINE && !delivered.is_superset(expected) {
        let received = receiver.received();
        for request in received.iter().skip(seen_requests) {
            if !(200..300).contains(&request.status) {
                continue;
            }
            let body = request.json();
            let events = body
                .pointer("/message/events")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for event in events {
                let kind = event["eventType"].as_str().unwrap_or("?").to_owned();
                let object_type = event["objectType"].as_str().unwrap_or("?");
                let object_id = event["objectId"].as_str().unwrap_or("?").to_owned();
                if request.verified {
                    println!(
                        "✔ {kind} {object_type} {} (signature verified: Elements + Standard Webhooks)",
                        short(&object_id)
                    );
                } else {
                    println!(
                        "✘ {kind} {object_type} {} (signature NOT verified: {})",
                        short(&object_id),
                        request.verify_error.as_deref().unwrap_or("unknown")
                    );
                }
                if delivered.insert((kind, object_id)) && request.verified {
                    verified += 1;
                }
            }
        }
        seen_requests = received.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (delivered, verified)
}
