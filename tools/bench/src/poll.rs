//! Poll throughput and memory: 100,000 changed records (500 pages of 200) from the Sage
//! simulator, running in a child process so its records don't count in our memory.
//!
//! Side by side in one run:
//! - wall time of the poll vs a bare download of the same pages with the same client
//!   (goal ≤ 1.25×);
//! - peak RSS after polling 1,000 changes vs after 100,000 (goal: flat, ≤ 64 MiB);
//! - HTTP requests of an idle poll (goal: 1 list call per resource, 1 deleted call where
//!   supported, no token call while the access token is fresh).

use crate::measure::peak_rss_kib;
use async_trait::async_trait;
use chrono::{Duration as ChronoDuration, Utc};
use sage_events_core::clock::SystemClock;
use sage_events_core::config::{ValidationOptions, parse_instance_request};
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::instance_secrets::{InstanceSecrets, SecretTokenStore};
use sage_events_core::poll::{PollOutcome, PollSettings, PollerDeps, poll_instance};
use sage_events_core::ports::{
    EventQueue, InstanceRecord, InstanceStore, OutgoingMessage, PortError, SecretStore, Watermark,
    WatermarkStore,
};
use sage_events_core::sage::{AppCredentials, ClientSettings, SageClient, SageEndpoints};
use sage_events_core::secret::Secret;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const REDIRECT: &str = "https://bench.example/callback";

/// A queue that only counts: the poll, not the queue, is what is measured.
#[derive(Default)]
struct CountingSink {
    messages: AtomicU64,
    bytes: AtomicU64,
}

#[async_trait]
impl EventQueue for CountingSink {
    async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), PortError> {
        self.messages
            .fetch_add(messages.len() as u64, Ordering::Relaxed);
        let bytes: usize = messages.iter().map(|m| m.body.len()).sum();
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// The simulator in a child process (this same binary, `sim-server` mode).
struct SimProcess {
    child: Child,
    api: String,
    token: String,
    revoke: String,
    code: String,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_sim(records: usize) -> Result<SimProcess, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["sim-server", &records.to_string()])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the simulator process: {e}"))?;
    let stdout = child.stdout.take().ok_or("no simulator stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut field = |prefix: &str| -> Result<String, String> {
        for line in lines.by_ref() {
            let line = line.map_err(|e| e.to_string())?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().to_owned());
            }
        }
        Err(format!("simulator did not print {prefix}"))
    };
    let api = field("api ")?;
    let token = field("token ")?;
    let revoke = field("revoke ")?;
    let code = field("code ")?;
    Ok(SimProcess {
        child,
        api,
        token,
        revoke,
        code,
    })
}

/// `sim-server N`: serve N seeded contacts until killed; print what the parent needs.
pub async fn sim_server(args: &[String]) -> Result<(), String> {
    let records: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let sim = sage_sim::SageSim::start(sage_sim::SimConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    // Changed half an hour ago: outside the poll's lookback window, so the measured memory
    // is the engine's, not the de-duplication memory of a burst inside the last minute
    // (bounded separately by `poll::classify::MAX_SEEN`).
    let now = chrono::Utc::now();
    sim.set_now(now - ChronoDuration::minutes(30));
    sim.seed("contacts", records);
    sim.set_now(now);
    println!("api {}", sim.api_url());
    println!("token {}", sim.token_url());
    println!("revoke {}", sim.revoke_url());
    println!(
        "code {}",
        sim.issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT)
    );
    std::future::pending::<()>().await;
    Ok(())
}

struct Run {
    poll: Duration,
    download: Duration,
    events: u64,
    notifications: u64,
    pages: u64,
    peak_rss_kib: u64,
}

fn poller_configuration() -> serde_json::Value {
    serde_json::json!({
        "element": {"key": "sageone"},
        "providerData": {"code": "unused"},
        "name": "bench",
        "configuration": {
            "oauth.api.key": sage_sim::DEFAULT_CLIENT_ID,
            "oauth.api.secret": sage_sim::DEFAULT_CLIENT_SECRET,
            "oauth.callback.url": REDIRECT,
            "event.notification.enabled": true,
            "event.notification.callback.url": "https://receiver.example/hook",
            "event.poller.refresh_interval": 5,
            "event.poller.configuration": {
                "contacts": {
                    "url": "/hubs/finance/contacts?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
                    "idField": "id"
                }
            }
        }
    })
}

async fn run_once(records: usize) -> Result<Run, String> {
    let sim = spawn_sim(records)?;
    let (client, creds) = client_for(&sim.api, &sim.token, &sim.revoke)?;
    let tokens = client
        .exchange_code(&creds, &Secret::new(sim.code.clone()))
        .await
        .map_err(|e| e.to_string())?;

    // Registered an hour ago: every seeded record is a change to report.
    let start = Utc::now() - ChronoDuration::hours(1);
    let (store, id, configuration) = register(&creds, tokens, start).await?;

    // Bare download: the same pages, the same client and query, nothing done with them.
    let resources =
        sage_events_core::poller_config::resources_from_stored_configuration(&configuration)
            .map_err(|e| e.to_string())?;
    let query = resources[0].request.query_for(start);
    let session = client.session(
        creds.clone(),
        Arc::new(SecretTokenStore::new(store.clone(), id)),
        None,
    );
    let download = || async {
        let started = Instant::now();
        let mut cursor = session.list("/contacts", &query);
        let mut pages = 0u64;
        while let Some(_page) = cursor.next_page().await.map_err(|e| e.to_string())? {
            pages += 1;
        }
        Ok::<_, String>((started.elapsed(), pages))
    };
    let (first_download, pages) = download().await?;

    let sink = Arc::new(CountingSink::default());
    let deps = PollerDeps {
        instances: store.clone(),
        watermarks: store.clone(),
        leases: store.clone(),
        secrets: store.clone(),
        queue: sink.clone(),
        sage: client.clone(),
        clock: Arc::new(SystemClock),
    };
    let started = Instant::now();
    let summary = poll_instance(&deps, &PollSettings::default(), id, "bench")
        .await
        .map_err(|e| e.to_string())?;
    let poll = started.elapsed();
    if summary.outcome != PollOutcome::Polled {
        return Err(format!("poll did not succeed: {summary:?}"));
    }
    let (second_download, _) = download().await?;
    let stats = &summary.resources["contacts"];
    Ok(Run {
        poll,
        download: (first_download + second_download) / 2,
        events: stats.created + stats.updated + stats.deleted,
        notifications: sink.messages.load(Ordering::Relaxed),
        pages,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// Requests an idle poll makes, counted by an in-process simulator's request log.
async fn idle_poll_requests() -> Result<Vec<String>, String> {
    let sim = sage_sim::SageSim::start(sage_sim::SimConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let (client, creds) = client_for(&sim.api_url(), &sim.token_url(), &sim.revoke_url())?;
    let code = sim.issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT);
    let tokens = client
        .exchange_code(&creds, &Secret::new(code))
        .await
        .map_err(|e| e.to_string())?;
    let (store, id, _) = register(&creds, tokens, Utc::now()).await?;
    let deps = PollerDeps {
        instances: store.clone(),
        watermarks: store.clone(),
        leases: store.clone(),
        secrets: store.clone(),
        queue: Arc::new(CountingSink::default()),
        sage: client,
        clock: Arc::new(SystemClock),
    };
    sim.clear_requests();
    poll_instance(&deps, &PollSettings::default(), id, "bench")
        .await
        .map_err(|e| e.to_string())?;
    Ok(sim
        .requests()
        .iter()
        .map(|r| {
            let filter = r
                .query
                .iter()
                .find(|(k, _)| k == "deleted_since" || k == "updated_or_created_since")
                .map(|(k, _)| format!(" ({k})"))
                .unwrap_or_default();
            format!("{} {}{}", r.method, r.path, filter)
        })
        .collect())
}

/// An in-memory store with one instance polling `contacts`, registered at `start`
/// (record, secret document, watermark). Returns the store, the id and the stored
/// configuration.
async fn register(
    creds: &AppCredentials,
    tokens: sage_events_core::sage::TokenSet,
    start: chrono::DateTime<Utc>,
) -> Result<(Arc<EmbeddedStore>, u64, serde_json::Value), String> {
    let key = SecretKey::generate().map_err(|e| e.to_string())?;
    let store = Arc::new(
        EmbeddedStore::open_in_memory(key, Arc::new(SystemClock)).map_err(|e| e.to_string())?,
    );
    let body = poller_configuration().to_string();
    let request = parse_instance_request(body.as_bytes(), &ValidationOptions::default())
        .map_err(|e| e.to_string())?;
    let configuration =
        serde_json::Value::Object(request.configuration.to_response_configuration());
    let instances: &dyn InstanceStore = store.as_ref();
    let id = instances.next_id().await.map_err(|e| e.to_string())?;
    instances
        .create(&InstanceRecord::new(
            id,
            "bench",
            "bench",
            configuration.clone(),
            start,
        ))
        .await
        .map_err(|e| e.to_string())?;
    let document = InstanceSecrets::new(creds, tokens, Secret::new("whsec_YmVuY2g="));
    let secrets: &dyn SecretStore = store.as_ref();
    secrets
        .create(id, &document.to_json())
        .await
        .map_err(|e| e.to_string())?;
    let watermarks: &dyn WatermarkStore = store.as_ref();
    watermarks
        .advance(
            id,
            "contacts",
            &Watermark {
                at: start,
                seen: vec![],
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((store, id, configuration))
}

/// A client for the simulator at these URLs, and the simulator's app credentials.
fn client_for(
    api: &str,
    token: &str,
    revoke: &str,
) -> Result<(SageClient, AppCredentials), String> {
    let client = SageClient::new(
        SageEndpoints {
            api_url: api.parse().map_err(|e| format!("{e}"))?,
            token_url: token.parse().map_err(|e| format!("{e}"))?,
            revoke_url: revoke.parse().map_err(|e| format!("{e}"))?,
        },
        ClientSettings::default(),
        Arc::new(SystemClock),
    )
    .map_err(|e| e.to_string())?;
    let creds = AppCredentials {
        client_id: sage_sim::DEFAULT_CLIENT_ID.into(),
        client_secret: Secret::new(sage_sim::DEFAULT_CLIENT_SECRET),
        redirect_uri: REDIRECT.into(),
    };
    Ok((client, creds))
}

pub async fn run(args: &[String]) -> Result<(), String> {
    let large: usize = args
        .iter()
        .position(|a| a == "--records")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let small = run_once(1_000).await?;
    let big = run_once(large).await?;
    let idle = idle_poll_requests().await?;
    println!("poll benchmark (simulator in a child process; queue = counting sink)");
    for (label, run) in [("1,000 changes", &small), ("large", &big)] {
        println!(
            "  {label:<14} events {:>7}  notifications {:>6}  pages {:>4}  poll {:>6.2} s  bare download {:>6.2} s  ratio {:.2}x  peak RSS {} MiB",
            run.events,
            run.notifications,
            run.pages,
            run.poll.as_secs_f64(),
            run.download.as_secs_f64(),
            run.poll.as_secs_f64() / run.download.as_secs_f64(),
            run.peak_rss_kib / 1024,
        );
    }
    println!(
        "  peak RSS growth from {} to {} changes: {:.2}x (goal: flat, <= 64 MiB)",
        small.events,
        big.events,
        big.peak_rss_kib as f64 / small.peak_rss_kib.max(1) as f64
    );
    println!("  idle poll requests ({}): {}", idle.len(), idle.join(", "));
    Ok(())
}
