//! A scripted stand-in for SQS' `SendMessageBatch` (JSON protocol), to provoke the
//! partial batch failures moto never produces.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the fake answers one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFate {
    Succeed,
    /// A failure on SQS' side (`SenderFault: false`, worth retrying).
    ServerFault,
    /// The sender's fault (`SenderFault: true`, not worth retrying).
    SenderFault,
}

/// One received entry: the request number (from 0) and the entry's `event_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEntry {
    pub request: usize,
    pub event_id: String,
}

type Script = dyn Fn(usize, &str) -> EntryFate + Send + Sync;

pub struct FakeSqs {
    pub endpoint: String,
    pub seen: Arc<Mutex<Vec<SeenEntry>>>,
}

/// Serve on a free loopback port; `script(request_number, event_id)` decides each
/// entry's fate.
pub async fn start(script: impl Fn(usize, &str) -> EntryFate + Send + Sync + 'static) -> FakeSqs {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind fake SQS");
    let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script: Arc<Script> = Arc::new(script);
    let requests = Arc::new(Mutex::new(0usize));
    let state = (seen.clone(), requests);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (seen, requests) = state.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut reader = BufReader::new(read);
                loop {
                    let mut content_length = 0usize;
                    let mut line = String::new();
                    // request line + headers
                    loop {
                        line.clear();
                        match reader.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let trimmed = line.trim_end();
                        if trimmed.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = trimmed.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            content_length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; content_length];
                    if reader.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let number = {
                        let mut n = requests.lock().expect("lock");
                        *n += 1;
                        *n - 1
                    };
                    let mut successful = Vec::new();
                    let mut failed = Vec::new();
                    for entry in request["Entries"].as_array().cloned().unwrap_or_default() {
                        let id = entry["Id"].as_str().unwrap_or_default().to_owned();
                        let event_id = entry["MessageAttributes"]["event_id"]["StringValue"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        seen.lock().expect("lock").push(SeenEntry {
                            request: number,
                            event_id: event_id.clone(),
                        });
                        match script(number, &event_id) {
                            EntryFate::Succeed => successful.push(json!({
                                "Id": id,
                                "MessageId": format!("m-{number}-{id}"),
                                "MD5OfMessageBody": "00000000000000000000000000000000",
                            })),
                            EntryFate::ServerFault => failed.push(json!({
                                "Id": id, "SenderFault": false, "Code": "InternalError",
                                "Message": "try again",
                            })),
                            EntryFate::SenderFault => failed.push(json!({
                                "Id": id, "SenderFault": true, "Code": "InvalidMessageContents",
                                "Message": "bad message",
                            })),
                        }
                    }
                    let response = json!({"Successful": successful, "Failed": failed}).to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n\
                         x-amzn-RequestId: fake-{number}\r\nContent-Length: {}\r\n\r\n",
                        response.len()
                    );
                    if write.write_all(head.as_bytes()).await.is_err()
                        || write.write_all(response.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    FakeSqs { endpoint, seen }
}
