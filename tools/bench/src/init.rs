//! Cold start and size of the shipped Lambda binaries, side by side with a hello-world
//! `lambda_runtime` function built with the same profile (`tools/lambda-hello`).
//!
//! Each binary is built on its own (`cargo build --profile P -p <package>`), exactly as
//! `scripts/sam-build` and `cargo build -p <function>` build it, so no feature reaches it
//! through unification with another package. Then, round after round, every binary is
//! started under a Lambda Runtime API double (`lambda-e2e`) with a Lambda-shaped
//! environment, and its init time is taken as Lambda takes it: process spawn → first
//! `GET /2018-06-01/runtime/invocation/next`. The order rotates every round (A B C D,
//! B C D A, …) so a noisy neighbour hits every binary alike; medians are reported.
//!
//! `AWS_ENDPOINT_URL` points at a loopback sentinel that counts requests: a shipped
//! binary must make no network call before its first `next` (the column "AWS calls").
//! The sentinel answers Secrets Manager's `GetSecretValue` with placeholder API
//! credentials, so a binary that does read a secret at init still starts and is counted
//! rather than failing.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lambda_e2e::{FunctionProcess, RuntimeDouble, lambda_reserved_env};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The binaries measured: the baseline first. (package, binary)
const BINARIES: [(&str, &str); 4] = [
    ("lambda-hello", "lambda-hello"),
    ("poller", "poller"),
    ("registration", "registration"),
    ("delivery", "delivery"),
];

/// The goals of issue #13: init ≤ 2× hello-world, every shipped binary ≤ 10 MiB.
const MAX_INIT_RATIO: f64 = 2.0;
const MAX_SIZE_BYTES: u64 = 10 * 1024 * 1024;

struct Options {
    runs: usize,
    profile: String,
    build: bool,
    /// The shipped binaries to measure (the baseline is always measured).
    only: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        runs: 7,
        profile: "release".to_owned(),
        build: true,
        only: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                options.runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--runs takes a positive number")?;
            }
            "--profile" => {
                options.profile = args.next().ok_or("--profile takes a name")?.clone();
            }
            "--no-build" => options.build = false,
            "--only" => {
                let list = args.next().ok_or("--only takes a comma-separated list")?;
                options.only = list.split(',').map(str::to_owned).collect();
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

pub async fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let root = workspace_root();
    let mut binaries = Vec::new();
    for (package, binary) in BINARIES {
        let wanted = binary == BINARIES[0].1 || options.only.is_empty();
        if !wanted && !options.only.iter().any(|o| o == binary) {
            continue;
        }
        let path = if options.build {
            eprintln!("building {package} alone ({} profile)…", options.profile);
            build_alone(&root, package, binary, &options.profile)?
        } else {
            target_dir(&root).join(&options.profile).join(binary)
        };
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        binaries.push(Measured {
            name: binary,
            path,
            size,
            inits: Vec::new(),
            aws_calls: 0,
        });
    }

    let sentinel = Sentinel::start().await?;
    for round in 0..options.runs {
        for i in 0..binaries.len() {
            let count = binaries.len();
            let measured = &mut binaries[(round + i) % count];
            let (init, calls) = cold_start(measured, &sentinel).await?;
            measured.inits.push(init);
            measured.aws_calls = measured.aws_calls.max(calls);
        }
    }

    report(&binaries, &options);
    Ok(())
}

struct Measured {
    name: &'static str,
    path: PathBuf,
    size: u64,
    inits: Vec<Duration>,
    /// The most requests the sentinel saw during one init of this binary.
    aws_calls: usize,
}

/// One cold start: spawn → first `next`, and the AWS requests made meanwhile.
async fn cold_start(measured: &Measured, sentinel: &Sentinel) -> Result<(Duration, usize), String> {
    let double = RuntimeDouble::start().await.map_err(|e| e.to_string())?;
    let env = function_env(measured.name, &sentinel.endpoint());
    let before = sentinel.requests();
    let mut process = FunctionProcess::spawn(measured.name, &measured.path, &env, double)
        .map_err(|e| format!("{}: {e}", measured.path.display()))?;
    let init = process.wait_ready(Duration::from_secs(20)).await;
    let calls = sentinel.requests() - before;
    process.kill().await;
    Ok((init?, calls))
}

/// Lambda's reserved variables plus what template.yaml gives the function (placeholder
/// values: nothing is contacted before the first event), with AWS credentials in the
/// environment as Lambda provides them.
fn function_env(name: &str, aws_endpoint: &str) -> BTreeMap<String, String> {
    let mut env = lambda_reserved_env(name, 256);
    let account = "arn:aws:lambda:us-east-1:123456789012";
    let queue = "https://sqs.us-east-1.amazonaws.com/123456789012";
    for (key, value) in [
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCHMARK".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "benchmark-secret".to_owned()),
        ("AWS_SESSION_TOKEN", "benchmark-token".to_owned()),
        ("AWS_ENDPOINT_URL", aws_endpoint.to_owned()),
        ("TABLE_NAME", "sage-events".to_owned()),
        ("EVENT_QUEUE_URL", format!("{queue}/events")),
        ("DEAD_LETTER_QUEUE_URL", format!("{queue}/events-dlq")),
        ("SCHEDULE_GROUP", "sage-events".to_owned()),
        ("POLLER_FUNCTION_ARN", format!("{account}:function:poller")),
        (
            "SCHEDULER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/scheduler".to_owned(),
        ),
        ("API_CREDENTIALS_SECRET_ID", "sage-events/api".to_owned()),
    ] {
        env.insert(key.to_owned(), value);
    }
    env
}

/// Build one package's binary alone and return its path, from cargo's JSON messages.
fn build_alone(root: &Path, package: &str, binary: &str, profile: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--message-format=json-render-diagnostics"])
        .args(["--profile", profile, "-p", package, "--bin", binary])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("building {package} failed ({})", output.status));
    }
    output
        .stdout
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == binary)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo built no executable named {binary}"))
}

fn workspace_root() -> PathBuf {
    // tools/bench → the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts its output: `CARGO_TARGET_DIR` if set, else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(binaries: &[Measured], options: &Options) {
    let Some(baseline) = binaries.first() else {
        return;
    };
    let base_init = median(&baseline.inits);
    println!(
        "cold start (spawn → first `next`, median of {} runs, rotating order) and size, {} profile, {}",
        options.runs,
        options.profile,
        std::env::consts::ARCH
    );
    println!(
        "{:<14} {:>10} {:>8} {:>22} {:>8} {:>10}",
        "binary", "size", "×hello", "init median (min–max)", "×hello", "AWS calls"
    );
    let mut failures = Vec::new();
    for measured in binaries {
        let init = median(&measured.inits);
        let min = measured.inits.iter().min().copied().unwrap_or_default();
        let max = measured.inits.iter().max().copied().unwrap_or_default();
        let init_ratio = ms(init) / ms(base_init).max(f64::EPSILON);
        let size_ratio = measured.size as f64 / baseline.size.max(1) as f64;
        println!(
            "{:<14} {:>6.2} MiB {:>7.1}× {:>8.2} ms ({:.1}–{:.1}) {:>7.2}× {:>10}",
            measured.name,
            mib(measured.size),
            size_ratio,
            ms(init),
            ms(min),
            ms(max),
            init_ratio,
            measured.aws_calls
        );
        if measured.name == baseline.name {
            continue;
        }
        if init_ratio > MAX_INIT_RATIO {
            failures.push(format!(
                "{}: init {init_ratio:.2}× hello-world (goal ≤ {MAX_INIT_RATIO}×)",
                measured.name
            ));
        }
        if measured.size > MAX_SIZE_BYTES {
            failures.push(format!(
                "{}: {:.1} MiB (goal ≤ 10 MiB)",
                measured.name,
                mib(measured.size)
            ));
        }
        if measured.aws_calls > 0 {
            failures.push(format!(
                "{}: {} AWS request(s) before the first `next` (goal: none)",
                measured.name, measured.aws_calls
            ));
        }
    }
    if failures.is_empty() {
        println!(
            "goals met: init ≤ {MAX_INIT_RATIO}× hello-world, ≤ 10 MiB, no AWS call during init"
        );
    } else {
        for failure in failures {
            println!("goal missed: {failure}");
        }
    }
}

/// A loopback stand-in for every AWS endpoint: counts requests; answers Secrets Manager's
/// `GetSecretValue` with placeholder API credentials and anything else with a 400.
struct Sentinel {
    endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl Sentinel {
    async fn start() -> Result<Sentinel, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let app = Router::new().fallback(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                answer(&headers)
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Sentinel {
            endpoint: format!("http://{addr}"),
            requests,
        })
    }

    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn answer(headers: &HeaderMap) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if target.ends_with("GetSecretValue") {
        let secret = serde_json::json!({
            "organizationSecret": "benchmark-organization-secret",
            "userSecret": "benchmark-user-secret",
        });
        let body = serde_json::json!({
            "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:sage-events/api-AbCdEf",
            "Name": "sage-events/api",
            "SecretString": secret.to_string(),
            "VersionId": "00000000-0000-0000-0000-000000000000",
        });
        (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            body.to_string(),
        )
            .into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            r#"{"__type":"ValidationException","message":"benchmark sentinel"}"#,
        )
            .into_response()
    }
}
