//! What the Sage client puts on the wire, and how it treats answers the simulator does not
//! give (looping `$next`, redirects), checked against a tiny scripted HTTP server.

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use sage_events_core::clock::{Clock, ManualClock};
use sage_events_core::sage::{
    AppCredentials, ClientSettings, SageClient, SageEndpoints, SageError, SageSession, TokenSet,
    TokenStore, TokenStoreError,
};
use sage_events_core::secret::Secret;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BUSINESS_ID: &str = "0123456789abcdef0123456789abcdef";

/// One request as received: the request line, lower-cased headers and the body.
#[derive(Debug, Clone)]
struct Received {
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn target(&self) -> &str {
        self.line.split(' ').nth(1).unwrap_or("")
    }
}

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn json(body: serde_json::Value) -> Answer {
    Answer {
        status: 200,
        headers: vec![("Content-Type", "application/json".to_owned())],
        body: body.to_string(),
    }
}

type Script = dyn Fn(&Received) -> Answer + Send + Sync;

/// A one-request-per-connection HTTP/1.1 server answering by `script`.
struct WireServer {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
    /// The clients' clock; it stands still.
    clock: ManualClock,
}

impl WireServer {
    async fn start(script: impl Fn(&Received) -> Answer + Send + Sync + 'static) -> WireServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let script: Arc<Script> = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = log.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    log.lock().unwrap().push(request.clone());
                    let answer = script(&request);
                    let mut head = format!("HTTP/1.1 {} X\r\n", answer.status);
                    for (name, value) in &answer.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str(&format!(
                        "Content-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.body.len()
                    ));
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(answer.body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        WireServer {
            base,
            received,
            clock: ManualClock::new(Utc::now()),
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn client(&self) -> SageClient {
        let endpoints = SageEndpoints {
            api_url: format!("{}/v3.1", self.base).parse().unwrap(),
            token_url: format!("{}/token", self.base).parse().unwrap(),
            revoke_url: format!("{}/revoke", self.base).parse().unwrap(),
        };
        let settings = ClientSettings {
            request_timeout: Duration::from_secs(2),
            call_budget: Duration::from_secs(5),
            max_attempts: 3,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(20),
        };
        SageClient::new(endpoints, settings, Arc::new(self.clock.clone())).unwrap()
    }

    fn session(&self, business_id: Option<&str>) -> SageSession {
        let client = self.client();
        let now = self.clock.now();
        let tokens = TokenSet {
            access_token: Secret::new("wire-access-token"),
            access_expires_at: now + TimeDelta::hours(1),
            refresh_token: Secret::new("wire-refresh-token"),
            refresh_expires_at: now + TimeDelta::days(30),
            scope: None,
            requested_by_id: None,
        };
        client.session(
            creds(),
            Arc::new(FixedStore(tokens)),
            business_id.map(str::to_owned),
        )
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        line,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

struct FixedStore(TokenSet);

#[async_trait]
impl TokenStore for FixedStore {
    async fn load_tokens(&self) -> Result<TokenSet, TokenStoreError> {
        Ok(self.0.clone())
    }
    async fn save_tokens(&self, _tokens: &TokenSet) -> Result<(), TokenStoreError> {
        Err(TokenStoreError::Unavailable("read-only test store".into()))
    }
}

fn creds() -> AppCredentials {
    AppCredentials {
        client_id: "wire-client".to_owned(),
        client_secret: Secret::new("wire-secret"),
        redirect_uri: "https://app.example/cb?x=1".to_owned(),
    }
}

fn empty_page() -> Answer {
    json(serde_json::json!({"$items": [], "$next": null}))
}

#[tokio::test]
async fn api_requests_carry_bearer_accept_business_and_user_agent() {
    let server = WireServer::start(|_| empty_page()).await;
    server
        .session(Some(BUSINESS_ID))
        .get_json("/contacts", &[])
        .await
        .unwrap();
    server
        .session(None)
        .get_json("/contacts", &[])
        .await
        .unwrap();

    let received = server.received();
    assert_eq!(received.len(), 2);
    let with = &received[0];
    assert_eq!(with.line, "GET /v3.1/contacts HTTP/1.1");
    assert_eq!(
        with.header("authorization"),
        Some("Bearer wire-access-token")
    );
    assert_eq!(with.header("accept"), Some("application/json"));
    assert_eq!(with.header("x-business"), Some(BUSINESS_ID));
    assert_eq!(
        with.header("user-agent"),
        Some(format!("sage-events/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(received[1].header("x-business"), None);
}

#[tokio::test]
async fn token_requests_are_form_encoded_and_read_lifetimes() {
    let server = WireServer::start(|_| {
        json(serde_json::json!({
            "access_token": "new-access", "scope": "full_access", "token_type": "bearer",
            "expires_in": "90", "refresh_token": "new-refresh",
            "refresh_token_expires_in": 600, "requested_by_id": "user-1"
        }))
    })
    .await;
    let client = server.client();
    let now = server.clock.now();
    let tokens = client
        .exchange_code(&creds(), &Secret::new("grant-code"))
        .await
        .unwrap();
    assert_eq!(tokens.access_token, Secret::new("new-access"));
    assert_eq!(tokens.refresh_token, Secret::new("new-refresh"));
    assert_eq!(tokens.scope.as_deref(), Some("full_access"));
    assert_eq!(tokens.requested_by_id.as_deref(), Some("user-1"));
    assert_eq!(tokens.access_expires_at, now + TimeDelta::seconds(90));
    assert_eq!(tokens.refresh_expires_at, now + TimeDelta::seconds(600));

    let received = server.received();
    let request = &received[0];
    assert_eq!(request.line, "POST /token HTTP/1.1");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("grant_type"), Some("authorization_code"));
    assert_eq!(field("code"), Some("grant-code"));
    assert_eq!(field("client_id"), Some("wire-client"));
    assert_eq!(field("client_secret"), Some("wire-secret"));
    assert_eq!(field("redirect_uri"), Some("https://app.example/cb?x=1"));
}

#[tokio::test]
async fn a_token_answer_without_lifetimes_is_refused_without_revealing_it() {
    let server = WireServer::start(|_| {
        json(serde_json::json!({"access_token": "leaky-access", "refresh_token": "leaky-refresh"}))
    })
    .await;
    let err = server
        .client()
        .refresh(&creds(), &Secret::new("r"))
        .await
        .unwrap_err();
    assert!(matches!(err, SageError::InvalidResponse { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("expires_in"), "{shown}");
    assert!(!shown.contains("leaky"), "{shown}");
}

#[tokio::test]
async fn a_next_link_to_the_same_page_stops_the_listing() {
    let server = WireServer::start(|_| {
        json(serde_json::json!({"$items": [{"id": "a"}], "$next": "/contacts?page=2"}))
    })
    .await;
    let session = server.session(None);
    let mut cursor = session.list("/contacts", &[]);
    assert!(cursor.next_page().await.unwrap().is_some());
    assert!(cursor.next_page().await.unwrap().is_some());
    let err = cursor.next_page().await.unwrap_err();
    assert!(matches!(err, SageError::PagingLoop { .. }), "{err:?}");
    assert_eq!(server.received().len(), 2);
    assert_eq!(cursor.next_page().await.unwrap(), None);
}

#[tokio::test]
async fn a_next_link_cycle_stops_the_listing() {
    let server = WireServer::start(|request| {
        let next = if request.target().ends_with("page=2") {
            "/contacts?page=3"
        } else {
            "/contacts?page=2"
        };
        json(serde_json::json!({"$items": [{"id": request.target()}], "$next": next}))
    })
    .await;
    let session = server.session(None);
    let mut cursor = session.list("/contacts", &[]);
    for _ in 0..3 {
        assert!(cursor.next_page().await.unwrap().is_some());
    }
    let err = cursor.next_page().await.unwrap_err();
    assert!(matches!(err, SageError::PagingLoop { .. }), "{err:?}");
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn a_page_number_going_backwards_is_a_loop() {
    let server = WireServer::start(|request| {
        let (page, next) = if request.target().contains("page=2") {
            (1, serde_json::Value::Null)
        } else {
            (1, serde_json::json!("/contacts?page=2"))
        };
        json(serde_json::json!({"$items": [{"id": "x"}], "$page": page, "$next": next}))
    })
    .await;
    let session = server.session(None);
    let mut cursor = session.list("/contacts", &[]);
    assert!(cursor.next_page().await.unwrap().is_some());
    let err = cursor.next_page().await.unwrap_err();
    assert!(matches!(err, SageError::PagingLoop { .. }), "{err:?}");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let server = WireServer::start(|_| {
        json(serde_json::json!({"$items": [], "$next": "http://elsewhere.example/v3.1/contacts?page=2"}))
    })
    .await;
    let session = server.session(None);
    let mut cursor = session.list("/contacts", &[]);
    assert!(cursor.next_page().await.unwrap().is_some());
    let err = cursor.next_page().await.unwrap_err();
    assert!(matches!(err, SageError::InvalidResponse { .. }), "{err:?}");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = WireServer::start(|request| {
        if request.target().starts_with("/v3.1/contacts") {
            Answer {
                status: 302,
                headers: vec![("Location", "/v3.1/other".to_owned())],
                body: String::new(),
            }
        } else {
            empty_page()
        }
    })
    .await;
    let err = server
        .session(None)
        .get_json("/contacts", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SageError::Api { status: 302, .. }), "{err:?}");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn non_json_server_errors_are_retried_and_reported_readably() {
    let server = WireServer::start(|_| Answer {
        status: 502,
        headers: vec![("Content-Type", "text/html".to_owned())],
        body: "<html>Bad Gateway</html>".to_owned(),
    })
    .await;
    let err = server
        .session(None)
        .get_json("/contacts", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Sage server error (HTTP 502): <html>Bad Gateway</html>"
    );
    assert_eq!(server.received().len(), 3);
}
