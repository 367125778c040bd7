//! One moto server (the AWS emulator, `pip install 'moto[server]'`) per test binary, and
//! the AWS resources the adapters expect, created fresh per test.
//!
//! The server binds a free loopback port (`-p 0`; the port is read from its
//! "Running on http://…" line) and is stopped when the test process ends: it runs under
//! a small shell that kills it when its stdin — a pipe from this process — closes (and
//! that exits, closing the log pipe, if the server dies first).
//! Statics are never dropped, so that pipe, not `Drop`, is what stops it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use sage_events_core::aws::{SdkConfig, load_sdk_config};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const POLLER_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:sage-events-poller";
pub const SCHEDULER_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sage-events-scheduler";
/// The DLQ's redrive threshold of the test queues.
pub const MAX_RECEIVE_COUNT: u32 = 5;

const INSTALL_HINT: &str = "moto_server (the AWS emulator) is required by the AWS adapter \
     tests: install it with `python3 -m pip install 'moto[server]'` (scripts/test does this) \
     and make sure `moto_server` is on PATH";

/// The running server.
pub struct Moto {
    pub endpoint: String,
    child: Mutex<Child>,
    /// Closing this pipe stops the server.
    stdin: Mutex<Option<ChildStdin>>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(mut stdin) = self.stdin.lock() {
            stdin.take();
        }
        if let Ok(mut child) = self.child.lock() {
            let _ = child.wait();
        }
    }
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The server of this test binary, started on first use, with the AWS environment
/// variables pointing the SDK at it.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(start)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn start() -> Moto {
    assert!(on_path("moto_server"), "{INSTALL_HINT}");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            // Background jobs of a non-interactive shell read /dev/null, so the
            // watcher reads the pipe through fd 3.
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

    // Read the port from the startup banner, then keep draining the request log so the
    // server never blocks on a full pipe.
    let (port_tx, port_rx) = mpsc::channel::<Result<u16, String>>();
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        let mut early_output = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &port_tx {
                early_output.push_str(&line);
                early_output.push('\n');
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
            let _ = tx.send(Err(early_output));
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
            "moto_server on port {port} never accepted connections"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    for (name, value) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        // SAFETY: runs once, inside `OnceLock::get_or_init`, before any test of this
        // binary reads the environment: every test that touches AWS calls `moto()` first
        // and waits here, and no other test reads these variables.
        unsafe { std::env::set_var(name, value) };
    }
    Moto {
        endpoint,
        child: Mutex::new(child),
        stdin: Mutex::new(stdin),
    }
}

/// SDK configuration aimed at moto (through the environment, as in production).
pub async fn sdk_config() -> SdkConfig {
    moto();
    load_sdk_config().await
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("key schema element")
}

/// A fresh single table as the adapters expect it (`pk`/`sk`, GSI `gsi1` projecting all).
pub async fn create_table(config: &SdkConfig) -> String {
    let name = unique("sage-events");
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(&name)
        .set_attribute_definitions(Some(vec![
            attribute("pk"),
            attribute("sk"),
            attribute("gsi1pk"),
            attribute("gsi1sk"),
        ]))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .key_schema(key("gsi1pk", KeyType::Hash))
                .key_schema(key("gsi1sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("gsi"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table on moto");
    name
}

/// A fresh event queue with its dead-letter queue.
pub struct TestQueue {
    pub url: String,
    pub dlq_url: String,
}

/// A fresh standard queue whose messages move to a DLQ after [`MAX_RECEIVE_COUNT`]
/// receives.
pub async fn create_queue(config: &SdkConfig) -> TestQueue {
    let sqs = aws_sdk_sqs::Client::new(config);
    let name = unique("sage-events");
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .expect("create DLQ on moto")
        .queue_url()
        .expect("DLQ url")
        .to_owned();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("DLQ attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("DLQ arn");
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    })
    .to_string();
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .expect("create queue on moto")
        .queue_url()
        .expect("queue url")
        .to_owned();
    TestQueue { url, dlq_url }
}

/// A fresh schedule group.
pub async fn create_schedule_group(config: &SdkConfig) -> String {
    let name = unique("sage-events");
    aws_sdk_scheduler::Client::new(config)
        .create_schedule_group()
        .name(&name)
        .send()
        .await
        .expect("create schedule group on moto");
    name
}
