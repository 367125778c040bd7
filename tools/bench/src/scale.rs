//! Scale: N instances on a 1-minute interval on one runner, against a Sage that answers in
//! `--sage-latency-ms` and a receiver that answers in `--receiver-latency-ms` (issue #19).
//!
//! The runner is the standalone runner's own pieces in this process: the scheduler
//! (due-time queue, capped polls), the poll engine, the embedded store on a SQLite file
//! (WAL, `synchronous=FULL`, as `sage-events serve` runs it) and the delivery workers.
//! Only registration is shortened: instances are written straight into the store (one
//! real OAuth code exchange each), not through 10,000 HTTP calls. The Sage simulator and
//! the callback receiver run in a child process (this binary, `scale-sim` mode), so their
//! CPU, memory and threads are not counted as the runner's.
//!
//! Every 100th instance polls `services`, where the simulator creates a record every 5 s
//! (its name carries the creation time, so the child measures change → delivery); the
//! others poll `products`, which never changes: their polls are idle polls.
//!
//! Reported: polls/minute, lag due → poll start (p50/p95/max), the gap between two polls
//! of one instance against the interval + 20 %, change → delivery lag, CPU per poll,
//! durable SQLite commits per poll, Sage requests per poll, peak RSS and threads.

use crate::measure::{cpu_time, peak_rss_kib};
use sage_events_core::clock::{Clock, SystemClock};
use sage_events_core::config::{ValidationOptions, parse_instance_request};
use sage_events_core::embedded::{EmbeddedStore, ProcessLeases, SecretKey};
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::ports::{
    InstanceRecord, InstanceStore, PollScheduler, SecretStore, Watermark, WatermarkStore,
};
use sage_events_core::sage::{AppCredentials, ClientSettings, SageClient, SageEndpoints};
use sage_events_core::secret::Secret;
use sage_events_core::settings::Settings;
use sage_events_standalone::runner::{deliverer, poller_deps};
use sage_events_standalone::scheduler::{PollCause, PollReport, Scheduler, SchedulerSettings};
use sage_events_standalone::worker::{DeliveryWorkers, WorkerSettings};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const REDIRECT: &str = "https://bench.example/callback";
/// Every `CHANGING`-th instance polls the resource that changes.
const CHANGING: u64 = 100;
/// How often the simulator creates a record in the changing resource.
const CHANGE_EVERY: Duration = Duration::from_secs(5);
const MARKER: &str = "bench-ms-";

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `scale-sim N SAGE_MS RECEIVER_MS`: the simulator and the receiver, until killed.
/// Prints the URLs and N grant codes, then, as they happen: `delivered <lag ms>` per
/// callback carrying a marked record, `requests <api> <token refreshes>` every 5 s.
pub async fn sim_server(args: &[String]) -> Result<(), String> {
    let arg = |i: usize, default: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (codes, sage_ms, receiver_ms) = (arg(0, 1000), arg(1, 50), arg(2, 20));
    let sim = sage_sim::SageSim::start(sage_sim::SimConfig {
        // Registration of 10,000 instances takes longer than Sage's 60 s.
        code_ttl: Duration::from_secs(4 * 3600),
        ..sage_sim::SimConfig::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    sim.inject(sage_sim::FaultRule::new(
        sage_sim::Fault::Slow(Duration::from_millis(sage_ms)),
        sage_sim::FaultTarget::AnyApi,
        usize::MAX,
    ));
    let receiver = callback_receiver::Receiver::start()
        .await
        .map_err(|e| e.to_string())?;
    receiver.set_default_reply(callback_receiver::Reply::Slow(Duration::from_millis(
        receiver_ms,
    )));
    {
        let mut out = std::io::stdout().lock();
        let mut say = |line: String| -> Result<(), String> {
            writeln!(out, "{line}")
                .and_then(|_| out.flush())
                .map_err(|e| e.to_string())
        };
        say(format!("api {}", sim.api_url()))?;
        say(format!("token {}", sim.token_url()))?;
        say(format!("revoke {}", sim.revoke_url()))?;
        say(format!("receiver {}", receiver.url("/hook")))?;
        for _ in 0..codes {
            say(format!(
                "code {}",
                sim.issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT)
            ))?;
        }
        say("ready".into())?;
    }

    let mut seen = 0usize;
    let mut last_change = Instant::now();
    let mut last_count = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    loop {
        ticker.tick().await;
        if last_change.elapsed() >= CHANGE_EVERY {
            last_change = Instant::now();
            sim.create(
                "services",
                serde_json::json!({ "description": format!("{MARKER}{}", epoch_ms()) }),
            );
        }
        let received = receiver.received();
        let now = epoch_ms();
        let mut out = std::io::stdout().lock();
        for callback in &received[seen.min(received.len())..] {
            let body = String::from_utf8_lossy(&callback.body);
            for (at, _) in body.match_indices(MARKER) {
                let digits: String = body[at + MARKER.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(created) = digits.parse::<u64>() {
                    let _ = writeln!(out, "delivered {}", now.saturating_sub(created));
                }
            }
        }
        seen = received.len();
        if last_count.elapsed() >= Duration::from_secs(5) {
            last_count = Instant::now();
            let requests = sim.requests();
            sim.clear_requests();
            let token = requests
                .iter()
                .filter(|r| r.grant_type.as_deref() == Some("refresh_token"))
                .count();
            let api = requests
                .iter()
                .filter(|r| r.path != "/token" && r.path != "/revoke")
                .count();
            let _ = writeln!(out, "requests {api} {token}");
        }
        let _ = out.flush();
    }
}

/// What the child process reports, gathered by a reader thread.
#[derive(Default)]
struct ChildReport {
    delivery_lags_ms: Vec<u64>,
    /// `(when, api requests, token refreshes)` per 5-s report.
    requests: Vec<(Instant, u64, u64)>,
}

struct SimChild {
    child: Child,
    api: String,
    token: String,
    revoke: String,
    receiver: String,
    codes: Vec<String>,
    report: Arc<Mutex<ChildReport>>,
}

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_sim(instances: u64, sage_ms: u64, receiver_ms: u64) -> Result<SimChild, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args([
            "scale-sim",
            &instances.to_string(),
            &sage_ms.to_string(),
            &receiver_ms.to_string(),
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the simulator process: {e}"))?;
    let stdout = child.stdout.take().ok_or("no simulator stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut codes = Vec::new();
    for line in lines.by_ref() {
        let line = line.map_err(|e| e.to_string())?;
        if line == "ready" {
            break;
        }
        if let Some((key, value)) = line.split_once(' ') {
            if key == "code" {
                codes.push(value.to_owned());
            } else {
                fields.insert(key.to_owned(), value.to_owned());
            }
        }
    }
    let mut field = |name: &str| {
        fields
            .remove(name)
            .ok_or(format!("simulator did not print {name}"))
    };
    let (api, token, revoke, receiver) = (
        field("api")?,
        field("token")?,
        field("revoke")?,
        field("receiver")?,
    );
    let report = Arc::new(Mutex::new(ChildReport::default()));
    let sink = report.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut report = sink.lock().unwrap_or_else(|e| e.into_inner());
            let mut words = line.split_whitespace();
            match words.next() {
                Some("delivered") => {
                    if let Some(ms) = words.next().and_then(|v| v.parse().ok()) {
                        report.delivery_lags_ms.push(ms);
                    }
                }
                Some("requests") => {
                    let mut next = || words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
                    let (api, token) = (next(), next());
                    report.requests.push((Instant::now(), api, token));
                }
                _ => {}
            }
        }
    });
    Ok(SimChild {
        child,
        api,
        token,
        revoke,
        receiver,
        codes,
        report,
    })
}

fn configuration(resource: &str, callback: &str) -> Result<serde_json::Value, String> {
    let body = serde_json::json!({
        "element": {"key": "sageone"},
        "providerData": {"code": "unused"},
        "name": "scale",
        "configuration": {
            "oauth.api.key": sage_sim::DEFAULT_CLIENT_ID,
            "oauth.api.secret": sage_sim::DEFAULT_CLIENT_SECRET,
            "oauth.callback.url": REDIRECT,
            "event.notification.enabled": true,
            "event.notification.callback.url": callback,
            "event.poller.refresh_interval": 1,
            "event.poller.configuration": {
                resource: {
                    "url": format!("/hubs/finance/{resource}?where=lastModifiedDate>='${{date:yyyy-MM-dd'T'HH:mm:ss'Z'}}'"),
                    "idField": "id"
                }
            }
        }
    })
    .to_string();
    let request = parse_instance_request(body.as_bytes(), &ValidationOptions::default())
        .map_err(|e| e.to_string())?;
    Ok(serde_json::Value::Object(
        request.configuration.to_response_configuration(),
    ))
}

/// Register every instance straight into the store: code exchange, secret document,
/// record, watermark at now, 1-minute schedule. 16 at a time.
async fn register_all(
    store: &EmbeddedStore,
    client: &SageClient,
    sim: &SimChild,
) -> Result<(), String> {
    let creds = AppCredentials {
        client_id: sage_sim::DEFAULT_CLIENT_ID.into(),
        client_secret: Secret::new(sage_sim::DEFAULT_CLIENT_SECRET),
        redirect_uri: REDIRECT.into(),
    };
    let idle = Arc::new(configuration("products", &sim.receiver)?);
    let changing = Arc::new(configuration("services", &sim.receiver)?);
    let codes = Arc::new(Mutex::new(sim.codes.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (store, client, creds, codes) =
            (store.clone(), client.clone(), creds.clone(), codes.clone());
        let (idle, changing) = (idle.clone(), changing.clone());
        tasks.spawn(async move {
            loop {
                let Some(code) = codes.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    return Ok::<(), String>(());
                };
                let tokens = client
                    .exchange_code(&creds, &Secret::new(code))
                    .await
                    .map_err(|e| e.to_string())?;
                let id = InstanceStore::next_id(&store)
                    .await
                    .map_err(|e| e.to_string())?;
                let (config, resource) = if id % CHANGING == 0 {
                    (changing.as_ref().clone(), "services")
                } else {
                    (idle.as_ref().clone(), "products")
                };
                let now = chrono::Utc::now();
                let doc = InstanceSecrets::new(&creds, tokens, Secret::new("whsec_c2NhbGU="));
                SecretStore::create(&store, id, &doc.to_json())
                    .await
                    .map_err(|e| e.to_string())?;
                InstanceStore::create(
                    &store,
                    &InstanceRecord::new(id, "bench", "scale", config, now),
                )
                .await
                .map_err(|e| e.to_string())?;
                WatermarkStore::advance(
                    &store,
                    id,
                    resource,
                    &Watermark {
                        at: now,
                        seen: vec![],
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
                PollScheduler::upsert(&store, id, 1)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// What the scheduler's observer collects.
#[derive(Default)]
struct Observed {
    /// Scheduled polls: due → start, microseconds.
    lags_us: Vec<u64>,
    /// Per instance, the last scheduled start; and every gap between two starts, ms.
    last_start: HashMap<u64, Instant>,
    gaps_ms: Vec<u64>,
    failed: u64,
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub async fn run(args: &[String]) -> Result<(), String> {
    let instances = flag(args, "--instances", 1000).max(1);
    let sage_ms = flag(args, "--sage-latency-ms", 50);
    let receiver_ms = flag(args, "--receiver-latency-ms", 20);
    let minutes = flag(args, "--minutes", 3).max(1);
    let max_polls = flag(args, "--max-polls", 32).max(1) as usize;
    let minute = Duration::from_secs(flag(args, "--minute-secs", 60).max(1));

    let sim = spawn_sim(instances, sage_ms, receiver_ms)?;
    let dir = std::env::temp_dir().join(format!("sage-events-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let _cleanup = RemoveOnDrop(dir.clone());
    let store = EmbeddedStore::open(
        &dir.join("sage-events.db"),
        SecretKey::generate().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let endpoints = SageEndpoints {
        api_url: sim.api.parse().map_err(|e| format!("{e}"))?,
        token_url: sim.token.parse().map_err(|e| format!("{e}"))?,
        revoke_url: sim.revoke.parse().map_err(|e| format!("{e}"))?,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registering = Instant::now();
    {
        let client = SageClient::new(endpoints.clone(), ClientSettings::default(), clock.clone())
            .map_err(|e| e.to_string())?;
        register_all(&store, &client, &sim).await?;
    }
    eprintln!(
        "registered {instances} instances in {:.1} s; running {minutes} scheduler minute(s) of {} s",
        registering.elapsed().as_secs_f64(),
        minute.as_secs()
    );

    // As `Runner::start` wires it: holding the database alone, leases live in memory.
    let mut deps = poller_deps(&store, endpoints, clock.clone()).map_err(|e| e.to_string())?;
    deps.leases = Arc::new(ProcessLeases::new());
    let settings = Settings {
        allow_loopback_callbacks: true,
        ..Settings::default()
    };
    let deliverer = deliverer(&store, &settings, clock.clone())?;
    let observed = Arc::new(Mutex::new(Observed::default()));
    let polls = Arc::new(AtomicU64::new(0));
    let (sink, count) = (observed.clone(), polls.clone());
    let scheduler = Scheduler::new(
        store.clone(),
        deps,
        SchedulerSettings {
            minute,
            max_concurrent_polls: max_polls,
            ..SchedulerSettings::default()
        },
    )
    .with_observer(Arc::new(move |report: &PollReport| {
        count.fetch_add(1, Ordering::Relaxed);
        let mut seen = sink.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(&report.result, Ok(s) if s.outcome == sage_events_core::poll::PollOutcome::Polled)
        {
            seen.failed += 1;
        }
        if report.cause != PollCause::Scheduled {
            return;
        }
        if let Some(due) = report.due {
            let lag = report.started.saturating_duration_since(due);
            seen.lags_us.push(lag.as_micros() as u64);
        }
        let started = report.started.into_std();
        if let Some(previous) = seen.last_start.insert(report.instance_id, started) {
            let gap = started.saturating_duration_since(previous);
            seen.gaps_ms.push(gap.as_millis() as u64);
        }
    }));
    let workers = DeliveryWorkers::new(
        Arc::new(store.clone()),
        deliverer,
        WorkerSettings::default(),
    );

    let commits_before = store.commit_count();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let (_trigger, requests) = sage_events_standalone::scheduler::local_trigger();
    let scheduler = tokio::spawn(scheduler.run(requests, stopped.clone(), Duration::from_secs(30)));
    let workers = tokio::spawn(workers.run(stopped));
    let run_for = minute * minutes as u32;
    let mut peak_threads = 0;
    let mut peak_rss_run = 0;
    // Steady state: from the end of the first interval (when every instance has had its
    // first poll, which moves the registration-time watermarks) to the end.
    let mut steady: Option<(u64, Duration, u64, usize, Instant)> = None;
    while started.elapsed() < run_for {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if steady.is_none() && started.elapsed() >= minute && minutes > 1 {
            let delivered = sim
                .report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .delivery_lags_ms
                .len();
            steady = Some((
                store.commit_count(),
                cpu_time(),
                polls.load(Ordering::Relaxed),
                delivered,
                Instant::now(),
            ));
        }
        peak_threads = peak_threads.max(status_kib("Threads:"));
        peak_rss_run = peak_rss_run.max(status_kib("VmRSS:"));
    }
    let _ = stop.send(true);
    let _ = tokio::join!(scheduler, workers);
    let wall = started.elapsed();
    let cpu_at_end = cpu_time();
    let commits_at_end = store.commit_count();
    let cpu = cpu_at_end.saturating_sub(cpu_before);
    let commits = commits_at_end.saturating_sub(commits_before);
    let polls = polls.load(Ordering::Relaxed);
    // Let the child report the last deliveries and request counts.
    tokio::time::sleep(Duration::from_secs(6)).await;

    let mut seen = observed.lock().unwrap_or_else(|e| e.into_inner());
    seen.lags_us.sort_unstable();
    seen.gaps_ms.sort_unstable();
    let child = sim.report.lock().unwrap_or_else(|e| e.into_inner());
    let mut deliveries = child.delivery_lags_ms.clone();
    deliveries.sort_unstable();
    let window_end = started + wall + Duration::from_secs(5);
    let (api, token) = child
        .requests
        .iter()
        .filter(|(at, _, _)| *at > started && *at <= window_end)
        .fold((0, 0), |(a, t), (_, api, token)| (a + api, t + token));
    let limit_ms = (minute.as_millis() as u64) * 12 / 10;
    let over = seen.gaps_ms.iter().filter(|g| **g > limit_ms).count();
    let per_poll = |x: f64| x / polls.max(1) as f64;
    let minutes_run = wall.as_secs_f64() / minute.as_secs_f64();

    println!(
        "scale benchmark: {instances} instances every scheduler minute ({} s{}), Sage latency {sage_ms} ms, receiver latency {receiver_ms} ms, max polls in flight {max_polls}",
        minute.as_secs(),
        if minute == Duration::from_secs(60) {
            ""
        } else {
            ", SHORTENED"
        }
    );
    println!(
        "  run:                    {:.1} s ({minutes_run:.2} interval(s)); every {CHANGING}th instance sees a change every {} s",
        wall.as_secs_f64(),
        CHANGE_EVERY.as_secs()
    );
    println!(
        "  polls:                  {polls} ({:.0}/interval, ideal {instances}); not Polled: {}",
        polls as f64 / minutes_run,
        seen.failed
    );
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "  lag due -> start:       p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms ({} scheduled polls)",
        ms(percentile(&seen.lags_us, 0.5)),
        ms(percentile(&seen.lags_us, 0.95)),
        ms(seen.lags_us.last().copied().unwrap_or(0)),
        seen.lags_us.len()
    );
    println!(
        "  gap between polls:      p50 {:.1} s  p95 {:.1} s  max {:.1} s; over interval + 20 %: {over} of {}",
        percentile(&seen.gaps_ms, 0.5) as f64 / 1000.0,
        percentile(&seen.gaps_ms, 0.95) as f64 / 1000.0,
        seen.gaps_ms.last().copied().unwrap_or(0) as f64 / 1000.0,
        seen.gaps_ms.len()
    );
    println!(
        "  change -> delivery:     p50 {:.1} s  p95 {:.1} s  max {:.1} s ({} deliveries)",
        percentile(&deliveries, 0.5) as f64 / 1000.0,
        percentile(&deliveries, 0.95) as f64 / 1000.0,
        deliveries.last().copied().unwrap_or(0) as f64 / 1000.0,
        deliveries.len()
    );
    println!(
        "  CPU:                    {:.2} s = {:.1} % of one core; {:.0} us per poll (runner process: scheduler, polls, SQLite, delivery)",
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        per_poll(cpu.as_micros() as f64)
    );
    // The delivery path commits once per received batch and once per ack: at most two
    // per delivered callback, subtracted for the poll's own share.
    let delivery_commits = 2 * deliveries.len() as u64;
    println!(
        "  SQLite commits:         {commits} = {:.2} per poll with deliveries, ~{:.2} without (synchronous=FULL: one fsync each)",
        per_poll(commits as f64),
        per_poll(commits.saturating_sub(delivery_commits) as f64)
    );
    if let Some((commits_at, cpu_at, polls_at, delivered_at, at)) = steady {
        let end = started + wall;
        let polls = polls.saturating_sub(polls_at).max(1) as f64;
        let commits = commits_at_end.saturating_sub(commits_at);
        let delivered = deliveries.len().saturating_sub(delivered_at) as u64;
        let cpu = cpu_at_end.saturating_sub(cpu_at);
        println!(
            "  steady state (after the first interval, {:.0} s): {polls:.0} polls; {:.0} us CPU per poll ({:.1} % of a core); {:.2} commits per poll with deliveries, ~{:.2} without",
            end.saturating_duration_since(at).as_secs_f64(),
            cpu.as_micros() as f64 / polls,
            100.0 * cpu.as_secs_f64() / end.saturating_duration_since(at).as_secs_f64(),
            commits as f64 / polls,
            commits.saturating_sub(2 * delivered) as f64 / polls,
        );
    }
    println!(
        "  Sage requests:          {api} API = {:.2} per poll; {token} token refreshes",
        per_poll(api as f64)
    );
    println!(
        "  memory / threads:       peak RSS {} MiB (during the run {} MiB); peak threads {peak_threads}",
        peak_rss_kib() / 1024,
        peak_rss_run / 1024
    );
    Ok(())
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
