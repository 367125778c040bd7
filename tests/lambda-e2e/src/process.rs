//! A built Lambda binary started as Lambda starts it: a clean environment holding only
//! Lambda's reserved variables and the function's own, `AWS_LAMBDA_RUNTIME_API` aimed at a
//! [`RuntimeDouble`], its stdout and stderr (what CloudWatch would get) captured.

use crate::runtime::{InvocationResult, InvokeError, RuntimeDouble};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Set to `1` to echo every function's output to the test's stderr as it arrives.
pub const ECHO_ENV: &str = "LAMBDA_E2E_ECHO";

/// The variables Lambda itself sets in every execution environment (those a runtime
/// reads), for a function called `name` with `memory_mb` of memory. The Runtime API
/// address is added by [`FunctionProcess::spawn`].
pub fn lambda_reserved_env(name: &str, memory_mb: u32) -> BTreeMap<String, String> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/01/[$LATEST]0123456789abcdef".to_owned(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// One running function process and its Runtime API double. The process is killed when
/// this is dropped.
pub struct FunctionProcess {
    name: String,
    binary: PathBuf,
    child: tokio::process::Child,
    double: RuntimeDouble,
    spawned_at: Instant,
    output: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for FunctionProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionProcess")
            .field("name", &self.name)
            .field("binary", &self.binary)
            .field("double", &self.double)
            .finish_non_exhaustive()
    }
}

impl FunctionProcess {
    /// Start `binary` with exactly `env` plus `AWS_LAMBDA_RUNTIME_API` (no variable of
    /// the test process leaks in). `name` labels the output.
    pub fn spawn(
        name: &str,
        binary: &Path,
        env: &BTreeMap<String, String>,
        double: RuntimeDouble,
    ) -> std::io::Result<FunctionProcess> {
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", double.runtime_api())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = command.spawn()?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let echo = std::env::var(ECHO_ENV).is_ok_and(|v| v == "1");
        if let Some(stdout) = child.stdout.take() {
            capture(stdout, output.clone(), name.to_owned(), echo);
        }
        if let Some(stderr) = child.stderr.take() {
            capture(stderr, output.clone(), name.to_owned(), echo);
        }
        Ok(FunctionProcess {
            name: name.to_owned(),
            binary: binary.to_owned(),
            child,
            double,
            spawned_at,
            output,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn double(&self) -> &RuntimeDouble {
        &self.double
    }

    /// Wait for the end of init (the first `next`); returns the init time. An init
    /// error, or the process exiting first, is an error carrying its output.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.double.wait_ready(Duration::from_millis(50)).await {
                Ok(at) => return Ok(at.saturating_duration_since(self.spawned_at)),
                Err(InvokeError::InitError(report)) => {
                    return Err(format!(
                        "{} reported an init error {report:?}; output:\n{}",
                        self.name,
                        self.output()
                    ));
                }
                Err(_) => {}
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before asking for an event; output:\n{}",
                    self.name,
                    self.output()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not ask for an event within {timeout:?}; output:\n{}",
                    self.name,
                    self.output()
                ));
            }
        }
    }

    /// Spawn to first `next`: the cold start (Lambda's "Init Duration"), once known.
    pub fn init_time(&self) -> Option<Duration> {
        self.double
            .first_next_at()
            .map(|at| at.saturating_duration_since(self.spawned_at))
    }

    /// One invocation (see [`RuntimeDouble::invoke`]).
    pub async fn invoke(
        &self,
        payload: &serde_json::Value,
    ) -> Result<InvocationResult, InvokeError> {
        self.double.invoke(payload).await
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .map(|o| String::from_utf8_lossy(&o).into_owned())
            .unwrap_or_default()
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stop the process (SIGKILL) and wait for it.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

fn capture(
    mut stream: impl AsyncRead + Unpin + Send + 'static,
    output: Arc<Mutex<Vec<u8>>>,
    name: String,
    echo: bool,
) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if echo {
                        use std::io::Write;
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let mut err = std::io::stderr();
                        for line in text.lines() {
                            let _ = writeln!(err, "[{name}] {line}");
                        }
                    }
                    if let Ok(mut output) = output.lock() {
                        output.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
    });
}
