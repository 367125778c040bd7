//! The registration test world: a Sage simulator, one backend (embedded or AWS on moto)
//! behind fault-injecting decorators, and the service, with every response checked
//! against openapi.yaml and every log line captured.

use super::faults::{
    FailingInstances, FailingScheduler, FailingSecrets, FailingWatermarks, FaultSwitch,
    RecordingTrigger,
};
use super::openapi;
use super::support::{self, moto};
use sage_events_core::aws::{
    DynamoInstanceStore, DynamoLeaseStore, DynamoWatermarkStore, EventBridgePollScheduler,
    SecretsManagerStore, SqsQueue,
};
use sage_events_core::clock::SystemClock;
use sage_events_core::embedded::{EmbeddedStore, SecretKey};
use sage_events_core::event::Notification;
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::poll::{PollSettings, PollSummary, PollerDeps, poll_instance};
use sage_events_core::ports::{
    EventQueue, InstanceStore, LeaseStore, PollScheduler, QueueConsumer, SecretStore,
    WatermarkStore,
};
use sage_events_core::registration::auth::Authenticator;
use sage_events_core::registration::{
    ApiRequest, ApiResponse, RegistrationDeps, RegistrationService,
};
use sage_events_core::sage::SageClient;
use sage_events_core::settings::Settings;
use sage_sim::{SageSim, SimConfig};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub const SEED: &[u8] = include_bytes!("../../../tests/fixtures/seed-example-instance.json");
pub const TEMPLATE: &[u8] = include_bytes!("../../../tests/fixtures/seed-template-instance.json");
pub const REDIRECT_URI: &str = "https://mycoolapp.com";

pub const ACME: &str = "User acme-user-secret, Organization acme-org-secret";
pub const GLOBEX: &str = "Organization globex-org-secret, User globex-user-secret";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Embedded,
    Aws,
}

/// Every log line of this test binary.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    });
}

/// The captured log text so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// The ports as the tests see them (no fault injection).
pub struct Ports {
    pub instances: Arc<dyn InstanceStore>,
    pub watermarks: Arc<dyn WatermarkStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub scheduler: Arc<dyn PollScheduler>,
    /// The event queue a poll writes to, and its consumer side.
    pub queue: Arc<dyn EventQueue>,
    pub consumer: Arc<dyn QueueConsumer>,
}

pub struct World {
    pub sim: SageSim,
    pub client: SageClient,
    pub service: RegistrationService,
    pub ports: Ports,
    pub faults: Arc<FaultSwitch>,
    pub trigger: Arc<RecordingTrigger>,
}

/// One response, already checked against openapi.yaml.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn field(&self) -> Option<&str> {
        self.body.get("field").and_then(Value::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every field named by the error body.
    pub fn error_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.body["errors"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if fields.is_empty()
            && let Some(f) = self.field()
        {
            fields.push(f.to_owned());
        }
        fields
    }
}

impl World {
    pub async fn new(backend: Backend) -> World {
        capture_logs();
        let sim = SageSim::start(SimConfig::default())
            .await
            .expect("simulator");
        let client =
            support::sage::client_for(&sim, support::sage::quick_settings(Duration::from_secs(3)));
        let ports = match backend {
            Backend::Embedded => {
                let store = Arc::new(
                    EmbeddedStore::open_in_memory(
                        SecretKey::generate().expect("key"),
                        Arc::new(SystemClock),
                    )
                    .expect("store"),
                );
                Ports {
                    instances: store.clone(),
                    watermarks: store.clone(),
                    leases: store.clone(),
                    secrets: store.clone(),
                    scheduler: store.clone(),
                    queue: store.clone(),
                    consumer: store,
                }
            }
            Backend::Aws => {
                let config = moto::sdk_config().await;
                let table = moto::create_table(&config).await;
                let group = moto::create_schedule_group(&config).await;
                let sqs = Arc::new(SqsQueue::from_config(
                    &config,
                    moto::create_queue(&config).await.url,
                ));
                Ports {
                    instances: Arc::new(DynamoInstanceStore::from_config(&config, &table)),
                    watermarks: Arc::new(DynamoWatermarkStore::from_config(&config, &table)),
                    leases: Arc::new(DynamoLeaseStore::from_config(&config, &table)),
                    secrets: Arc::new(SecretsManagerStore::from_config(
                        &config,
                        moto::unique("sage-events/instances/") + "/",
                    )),
                    scheduler: Arc::new(EventBridgePollScheduler::from_config(
                        &config,
                        group,
                        moto::POLLER_ARN,
                        moto::SCHEDULER_ROLE_ARN,
                    )),
                    queue: sqs.clone(),
                    consumer: sqs,
                }
            }
        };
        let faults = Arc::new(FaultSwitch::default());
        let trigger = Arc::new(RecordingTrigger::default());
        let deps = RegistrationDeps {
            instances: Arc::new(FailingInstances {
                inner: ports.instances.clone(),
                switch: faults.clone(),
            }),
            watermarks: Arc::new(FailingWatermarks {
                inner: ports.watermarks.clone(),
                switch: faults.clone(),
            }),
            leases: ports.leases.clone(),
            secrets: Arc::new(FailingSecrets {
                inner: ports.secrets.clone(),
                switch: faults.clone(),
            }),
            scheduler: Arc::new(FailingScheduler {
                inner: ports.scheduler.clone(),
                switch: faults.clone(),
            }),
            poll_trigger: trigger.clone(),
            sage: client.clone(),
            clock: Arc::new(SystemClock),
        };
        let auth = Authenticator::from_json(
            r#"{"organizations":[
                {"id":"acme","organizationSecret":"acme-org-secret","userSecret":"acme-user-secret"},
                {"id":"globex","organizationSecret":"globex-org-secret","userSecret":"globex-user-secret"}]}"#,
        )
        .expect("credentials");
        let service = RegistrationService::new(deps, auth, Settings::default());
        World {
            sim,
            client,
            service,
            ports,
            faults,
            trigger,
        }
    }

    /// Send one request; the response is checked against openapi.yaml.
    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        auth: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path_and_query, ""),
        };
        let query = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let response: ApiResponse = self
            .service
            .handle(ApiRequest {
                method: method.into(),
                path: path.into(),
                query,
                authorization: auth.map(str::to_owned),
                body: body.into(),
            })
            .await;
        openapi::check_response(method, path, response.status, &response.body);
        Answer {
            status: response.status,
            body: response.body,
            headers: response.headers,
        }
    }

    /// A fresh grant code for the simulator's default client.
    pub fn code(&self) -> String {
        self.sim
            .issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI)
    }

    /// The seed example body with a simulator-issued code and the simulator's client.
    pub fn seed_body(&self) -> Value {
        seed_with_code(&self.code())
    }

    /// Register the seed example; returns `(id, token, response body)`.
    pub async fn register(&self) -> (u64, String, Value) {
        let answer = self
            .call(
                "POST",
                "/instances",
                Some(ACME),
                self.seed_body().to_string(),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let id = answer.body["id"].as_u64().expect("id");
        let token = answer.body["token"].as_str().expect("token").to_owned();
        (id, token, answer.body)
    }

    /// The stored secret document of an instance.
    pub async fn secrets_of(&self, id: u64) -> Option<InstanceSecrets> {
        self.ports
            .secrets
            .get(id)
            .await
            .expect("secret store")
            .map(|text| InstanceSecrets::from_json(&text).expect("secret document"))
    }

    /// Assert nothing of instance `id` is stored anywhere.
    pub async fn assert_nothing_left(&self, id: u64) {
        assert!(
            self.ports.instances.get(id).await.unwrap().is_none(),
            "record of {id} left"
        );
        assert!(
            self.ports.secrets.get(id).await.unwrap().is_none(),
            "secret of {id} left"
        );
        assert!(
            self.ports
                .watermarks
                .load(id, "customers")
                .await
                .unwrap()
                .is_none(),
            "watermark of {id} left"
        );
        assert!(
            self.ports.scheduler.get(id).await.unwrap().is_none(),
            "schedule of {id} left"
        );
    }

    /// Poll instance `id` once, as the poller function would, on this world's ports.
    pub async fn poll(&self, id: u64) -> PollSummary {
        let deps = PollerDeps {
            instances: self.ports.instances.clone(),
            watermarks: self.ports.watermarks.clone(),
            leases: self.ports.leases.clone(),
            secrets: self.ports.secrets.clone(),
            queue: self.ports.queue.clone(),
            sage: self.client.clone(),
            clock: Arc::new(SystemClock),
        };
        let owner = format!("test-poller-{}", rand::random::<u32>());
        poll_instance(&deps, &PollSettings::default(), id, &owner)
            .await
            .expect("poll")
    }

    /// Every event enqueued so far, as `(eventType, objectId)`, acknowledged so the next
    /// drain sees only new ones.
    pub async fn drain_events(&self) -> Vec<(String, String)> {
        let mut events = Vec::new();
        let mut empty_rounds = 0;
        while empty_rounds < 2 {
            let messages = self
                .ports
                .consumer
                .receive(10, Duration::from_secs(60))
                .await
                .expect("receive");
            if messages.is_empty() {
                empty_rounds += 1;
                continue;
            }
            for m in messages {
                let notification: Notification =
                    serde_json::from_str(&m.body).expect("notification JSON");
                let body: Value = serde_json::from_str(&notification.body).expect("body JSON");
                for e in body["message"]["events"].as_array().expect("events") {
                    events.push((
                        e["eventType"].as_str().unwrap_or_default().to_owned(),
                        e["objectId"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
                self.ports.consumer.ack(&m.receipt).await.expect("ack");
            }
        }
        events
    }

    /// Number of successful `/revoke` calls the simulator answered.
    pub fn revocations(&self) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.path == "/revoke" && r.status == 200)
            .count()
    }
}

/// The seed example body, unchanged but for the code and the simulator's client.
pub fn seed_with_code(code: &str) -> Value {
    let mut body: Value = serde_json::from_slice(SEED).expect("seed JSON");
    body["providerData"]["code"] = code.into();
    body["configuration"]["oauth.api.key"] = sage_sim::DEFAULT_CLIENT_ID.into();
    body["configuration"]["oauth.api.secret"] = sage_sim::DEFAULT_CLIENT_SECRET.into();
    body
}

/// Assert that no secret value appears anywhere in `text`.
pub fn assert_no_secret(text: &str, secrets: &[&str], context: &str) {
    for secret in secrets {
        assert!(
            !secret.is_empty() && !text.contains(secret),
            "{context} contains a secret value ({} chars)",
            secret.len()
        );
    }
}
