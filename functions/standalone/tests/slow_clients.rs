//! `sage-events serve` against slow, idle and numerous clients: connections stalled
//! mid-header, mid-body and mid-chunked-body are answered 408 or closed within the
//! timeouts, the server keeps answering `GET /health` meanwhile, and their descriptors are
//! freed. Short timeouts are set through the flags' environment variables.

mod support;

use std::time::{Duration, Instant};
use support::{TempDir, free_port, signal, spawn_serve, wait_exit, wait_healthy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections of each stalled kind.
const PER_KIND: usize = 75;
/// Header and body timeouts of the server under test, seconds.
const TIMEOUT: f64 = 2.5;
/// Idle timeout of the server under test, seconds.
const IDLE: f64 = 1.5;
/// Scheduling slack on a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    /// Connects and sends nothing.
    Silent,
    /// Sends half a request head.
    MidHeader,
    /// Sends the head and 10 of 1,000 announced body bytes.
    MidBody,
    /// Sends the head and one chunk of a chunked body, never the last chunk.
    MidChunkedBody,
}

impl Stall {
    fn bytes(self) -> &'static [u8] {
        match self {
            Stall::Silent => b"",
            Stall::MidHeader => b"POST /instances HTTP/1.1\r\nHost: localhost\r\nContent-",
            Stall::MidBody => {
                b"POST /instances HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":\"x"
            }
            Stall::MidChunkedBody => {
                b"POST /instances HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"nam\r\n"
            }
        }
    }
}

fn limits_env(max_connections: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "SAGE_EVENTS_HEADER_READ_TIMEOUT_SECONDS",
            TIMEOUT.to_string(),
        ),
        ("SAGE_EVENTS_BODY_READ_TIMEOUT_SECONDS", TIMEOUT.to_string()),
        ("SAGE_EVENTS_IDLE_TIMEOUT_SECONDS", IDLE.to_string()),
        ("SAGE_EVENTS_MAX_CONNECTIONS", max_connections.to_owned()),
    ]
}

fn spawn(dir: &TempDir, port: u16, max_connections: &str) -> std::process::Child {
    let env = limits_env(max_connections);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_serve(&dir.path("events.db"), port, &env)
}

async fn stalled(port: u16, stall: Stall) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(stall.bytes()).await.expect("write");
    stream
}

/// Read until the server closes the connection (or `deadline`); returns what was read
/// and whether it was closed.
async fn read_to_close(mut stream: TcpStream, deadline: Instant) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (received, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Open descriptors of a process (Linux), to show stalled connections are freed.
fn open_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|dir| dir.count())
}

async fn health_within(port: u16, limit: Duration) -> Duration {
    let client = reqwest::Client::builder()
        .timeout(limit)
        .build()
        .expect("client");
    let started = Instant::now();
    let response = client
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("GET /health answered in time");
    assert_eq!(response.status().as_u16(), 200);
    started.elapsed()
}

#[tokio::test]
async fn stalled_connections_are_closed_in_time_and_health_still_answers() {
    let dir = TempDir::new("slow");
    let port = free_port();
    let mut child = spawn(&dir, port, "1000");
    wait_healthy(port, Duration::from_secs(30)).await;
    let baseline = open_fds(child.id());

    let kinds = [
        Stall::Silent,
        Stall::MidHeader,
        Stall::MidBody,
        Stall::MidChunkedBody,
    ];
    let opened = Instant::now();
    let mut connections = Vec::new();
    for kind in kinds {
        for _ in 0..PER_KIND {
            connections.push((kind, stalled(port, kind).await));
        }
    }
    let held = open_fds(child.id());

    // With 300 connections stalled, the server still answers at once.
    let took = health_within(port, Duration::from_secs(2)).await;
    assert!(
        opened.elapsed() < Duration::from_secs_f64(IDLE),
        "opening the connections took {:?}; the test proves nothing",
        opened.elapsed()
    );
    eprintln!(
        "GET /health with {} stalled connections: {took:?}",
        connections.len()
    );

    let deadline = opened + Duration::from_secs_f64(TIMEOUT) + SLACK;
    let reads = connections
        .into_iter()
        .map(|(kind, stream)| async move { (kind, read_to_close(stream, deadline).await) });
    let results = futures::future::join_all(reads).await;
    let closed_after = opened.elapsed();
    let mut answered_408 = 0;
    for (kind, (received, closed)) in &results {
        assert!(
            closed,
            "a {kind:?} connection is still open after {closed_after:?}"
        );
        let text = String::from_utf8_lossy(received);
        match kind {
            Stall::Silent | Stall::MidHeader => {
                // Closed, or answered 408 by hyper: either way, no other answer.
                assert!(
                    text.is_empty() || text.starts_with("HTTP/1.1 408"),
                    "{kind:?}: {text}"
                );
            }
            Stall::MidBody | Stall::MidChunkedBody => {
                assert!(text.starts_with("HTTP/1.1 408"), "{kind:?}: {text}");
                assert!(text.contains("\"message\""), "{kind:?}: {text}");
                answered_408 += 1;
            }
        }
    }
    assert_eq!(answered_408, 2 * PER_KIND);
    eprintln!("all stalled connections closed after {closed_after:?}");

    // Their descriptors were freed (Linux only; elsewhere /proc is absent).
    if let (Some(baseline), Some(held)) = (baseline, held) {
        assert!(
            held >= baseline + 3 * PER_KIND,
            "the connections were not held: {baseline} → {held}"
        );
        let freed_by = Instant::now() + SLACK;
        loop {
            let now = open_fds(child.id()).unwrap_or(0);
            if now <= baseline + 5 {
                break;
            }
            assert!(
                Instant::now() < freed_by,
                "descriptors not freed: {baseline} at start, {now} now"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    health_within(port, Duration::from_secs(2)).await;

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let dir = TempDir::new("idle");
    let port = free_port();
    let mut child = spawn(&dir, port, "1000");
    wait_healthy(port, Duration::from_secs(30)).await;

    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    let answered = Instant::now();

    // Kept alive: a second request on the same connection is answered.
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let (received, closed) = read_to_close(stream, answered + SLACK).await;
    assert!(closed, "the idle connection was not closed");
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        answered.elapsed() >= Duration::from_secs_f64(IDLE) - Duration::from_millis(100),
        "closed before the idle timeout: {:?}",
        answered.elapsed()
    );

    signal(&child, "TERM");
    wait_exit(&mut child, Duration::from_secs(15)).expect("exits after SIGTERM");
}

#[tokio::test]
async fn past_the_connection_cap_new_clients_wait_until_a_slot_frees() {
    let dir = TempDir::new("cap");
    let port = free_port();
    let mut child = spawn(&dir, port, "4");
    wait_healthy(port, Duration::from_secs(30)).await;
    // Let the readiness probe's connection go idle and close.
    tokio::time::sleep(Duration::from_secs_f64(IDLE) + Duration::from_millis(500)).await;

    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(stalled(port, Stall::MidHeader).await);
    }
    let opened = Instant::now();
    // A fifth client is not served while the four hold every slot...
    let mut fifth = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(500), fifth.read(&mut buf)).await;
    assert!(early.is_err(), "served past the connection cap");
    // ...and is served once the stalled ones time out.
    let n = tokio::time::timeout(
        Duration::from_secs_f64(TIMEOUT) + SLACK,
        fifth.read(&mut buf),
    )
    .await
    .expect("served after the stalled connections closed")
    .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(opened.elapsed() >= Duration::from_secs_f64(IDLE) - Duration::from_millis(100));
    drop(held);

    signal(&child, "TERM");
    wait_exit(&mut child, Duration::from_secs(15)).expect("exits after SIGTERM");
}
