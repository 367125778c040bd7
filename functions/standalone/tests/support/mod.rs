//! Helpers shared by the runner's integration tests.
#![allow(dead_code)]

use chrono::Utc;
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::event::{ChangeEvent, EventType, InstanceRef, build_notifications};
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::ports::{
    EventQueue, InstanceRecord, InstanceStore, OutgoingMessage, SecretStore,
};
use sage_events_core::sage::TokenSet;
use sage_events_core::secret::Secret;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "sage-events-test-{tag}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A signing key for instance `id`.
pub fn key_for(id: u64) -> Secret {
    use base64::Engine;
    Secret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([id as u8; 24])
    ))
}

/// An instance row + secrets whose callbacks go to `callback`.
pub async fn add_instance(store: &EmbeddedStore, callback: &str) -> u64 {
    let instances: &dyn InstanceStore = store;
    let secrets: &dyn SecretStore = store;
    let id = instances.next_id().await.expect("id");
    let now = Utc::now();
    let record = InstanceRecord {
        id,
        organization: "org".into(),
        name: format!("instance {id}"),
        tags: vec![],
        token_hash: String::new(),
        configuration: serde_json::json!({ "event.notification.callback.url": callback }),
        events_enabled: true,
        disabled: false,
        valid: true,
        invalid_reason: None,
        created_at: now,
        updated_at: now,
        poll: Default::default(),
        delivery: Default::default(),
    };
    instances.create(&record).await.expect("record");
    let doc = InstanceSecrets {
        client_id: "cid".into(),
        client_secret: Secret::new("csecret"),
        redirect_uri: "https://app.example/cb".into(),
        tokens: TokenSet {
            access_token: Secret::new("a"),
            access_expires_at: now,
            refresh_token: Secret::new("r"),
            refresh_expires_at: now,
            scope: None,
            requested_by_id: None,
        },
        signature_key: key_for(id),
        signature_secret: None,
        apim_subscription_key: None,
    };
    secrets.create(id, &doc.to_json()).await.expect("secret");
    id
}

/// Queue `count` notifications of one event each for `instance`; returns their ids.
pub async fn enqueue(store: &EmbeddedStore, instance: u64, count: usize) -> Vec<String> {
    let instance_ref = InstanceRef {
        id: instance,
        name: format!("instance {instance}"),
        tags: vec![],
    };
    let mut ids = Vec::new();
    for i in 0..count {
        let now = Utc::now();
        let event = ChangeEvent {
            event_type: EventType::Created,
            object_type: "customers".into(),
            object_id: format!("obj-{}-{i}", rand::random::<u32>()),
            date: now,
            poll_date: now,
            version: "v1".into(),
            record: None,
        };
        let notifications = build_notifications(&instance_ref, [event]);
        let messages: Vec<OutgoingMessage> = notifications
            .iter()
            .map(|n| OutgoingMessage {
                id: n.event_id.clone(),
                body: serde_json::to_string(n).expect("json"),
            })
            .collect();
        let queue: &dyn EventQueue = store;
        queue.send(&messages).await.expect("send");
        ids.extend(notifications.into_iter().map(|n| n.event_id));
    }
    ids
}

/// The database's key, written to the key file the runner reads by default.
pub fn write_key(database: &Path) -> SecretKey {
    let mut key_file = database.as_os_str().to_owned();
    key_file.push(".key");
    // `from_env_or_file` creates the file with a fresh key when missing.
    SecretKey::from_env_or_file("SAGE_EVENTS_TEST_UNSET_KEY_VARIABLE", Path::new(&key_file))
        .expect("key file")
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `sage-events serve` on `port` with the given database and extra environment.
pub fn spawn_serve(database: &Path, port: u16, extra_env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sage-events"));
    command
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database")
        .arg(database)
        .env_remove("SAGE_EVENTS_SECRET_KEY")
        .env("ORGANIZATION_SECRET", "test-org-secret")
        .env("USER_SECRET", "test-user-secret")
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command.spawn().expect("spawn sage-events serve")
}

/// Wait until `/health` answers 200, or panic after `timeout`.
pub async fn wait_healthy(port: u16, timeout: Duration) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            && response.status().as_u16() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the runner never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Send SIGTERM (or SIGKILL) to a child.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Wait for a child to exit, up to `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
