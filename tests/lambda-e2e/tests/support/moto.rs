//! One moto_server (the AWS emulator, `pip install 'moto[server]'`) per test binary.
//!
//! It binds a free loopback port (`-p 0`, read from its "Running on" line) and dies with
//! the test process: a small shell kills it when its stdin, a pipe from this process,
//! closes. Unlike the core's adapter tests, nothing here sets process-wide environment
//! variables: the functions get their AWS environment explicitly, and the test's own
//! clients get an explicit configuration.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "moto_server (the AWS emulator) is required: install it with \
     `python3 -m pip install 'moto[server]'` (scripts/test does this) and put it on PATH";

pub struct Moto {
    pub endpoint: String,
    _child: Mutex<Child>,
    /// Closing this pipe (at process exit) stops the server.
    _stdin: Mutex<Option<ChildStdin>>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

pub fn moto() -> &'static Moto {
    MOTO.get_or_init(start)
}

fn start() -> Moto {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            // Background jobs of a non-interactive shell read /dev/null, so the watcher
            // reads the pipe through fd 3.
            "exec 3<&0; moto_server -H 127.0.0.1 -p 0 3<&- & pid=$!; \
             ( exec 2>/dev/null; read -r _ignored <&3; kill $pid ) & \
             wait $pid",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start moto_server: {e}. {INSTALL_HINT}"));
    let stdin = child.stdin.take();
    let stderr = child.stderr.take().expect("moto stderr is piped");
    let (port_tx, port_rx) = mpsc::channel::<Result<u16, String>>();
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        let mut early = String::new();
        // Keep draining after the banner so the server never blocks on a full pipe.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &port_tx {
                early.push_str(&line);
                early.push('\n');
                if let Some(port) = line
                    .split("http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.trim().parse::<u16>().ok())
                {
                    let _ = tx.send(Ok(port));
                    port_tx = None;
                }
            }
        }
        if let Some(tx) = port_tx {
            let _ = tx.send(Err(early));
        }
    });
    let port = match port_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(port)) => port,
        Ok(Err(output)) => panic!("moto_server exited before listening:\n{output}\n{INSTALL_HINT}"),
        Err(_) => panic!("moto_server did not report its port within 60 s. {INSTALL_HINT}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server never accepted connections"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

/// The AWS variables Lambda gives a function (credentials and region), aimed at moto.
pub fn function_aws_env() -> Vec<(String, String)> {
    let moto = moto();
    [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The test's own SDK configuration for moto.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let moto = moto();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}
