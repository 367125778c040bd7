//! The test world of the poller suite: a Sage simulator, one set of adapters (embedded or
//! AWS on moto), a registered instance, and fault switches on the storage side.

use super::support::{self, moto};
use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::{DateTime, Utc};
use sage_events_core::aws::{
    DynamoInstanceStore, DynamoLeaseStore, DynamoWatermarkStore, SecretsManagerStore, SqsQueue,
};
use sage_events_core::clock::SystemClock;
use sage_events_core::config::{ValidationOptions, parse_instance_request};
use sage_events_core::embedded::{EmbeddedStore, ProcessLeases, SecretKey};
use sage_events_core::event::Notification;
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::poll::{PollSettings, PollSummary, PollerDeps, poll_instance};
use sage_events_core::ports::{
    EventQueue, InstanceRecord, InstanceStore, LeaseStore, PortError, QueueConsumer, SecretStore,
    Watermark, WatermarkStore,
};
use sage_events_core::sage::{AppCredentials, SageClient, TokenSet};
use sage_events_core::secret::Secret;
use sage_sim::{SageSim, SimConfig};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SEED: &[u8] = include_bytes!("../../../tests/fixtures/seed-example-instance.json");
pub const REDIRECT_URI: &str = "https://mycoolapp.com";

/// Every port the poller uses, from one backend.
type Ports = (
    Arc<dyn InstanceStore>,
    Arc<dyn WatermarkStore>,
    Arc<dyn LeaseStore>,
    Arc<dyn SecretStore>,
    Arc<dyn EventQueue>,
    Arc<dyn QueueConsumer>,
);

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Embedded,
    Aws,
}

/// One event as read back from the queue.
#[derive(Debug, Clone)]
pub struct EventView {
    pub event_type: String,
    pub object_type: String,
    pub object_id: String,
    pub event_id: String,
    pub notification_id: String,
    /// The event's `date`: the change time of the version it reports.
    pub date: String,
}

/// DynamoDB requests by operation (`PutItem`, `Query`, …), counted by an interceptor on
/// the client the adapters use.
#[derive(Debug, Default)]
pub struct DynamoRequests(Mutex<BTreeMap<String, u64>>);

impl DynamoRequests {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().expect("counts").clone()
    }
}

#[derive(Debug)]
struct CountRequests(Arc<DynamoRequests>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // `X-Amz-Target: DynamoDB_20120810.PutItem`: the operation, retries included.
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self
            .0
            .0
            .lock()
            .expect("counts")
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}

pub struct World {
    pub sim: SageSim,
    /// The embedded store (embedded backend), for its commit counter.
    pub embedded: Option<EmbeddedStore>,
    /// DynamoDB requests (AWS backend).
    pub dynamo_requests: Arc<DynamoRequests>,
    client: SageClient,
    instances: Arc<dyn InstanceStore>,
    watermarks: Arc<FlakyWatermarks>,
    leases: Arc<dyn LeaseStore>,
    secrets: Arc<FlakySecrets>,
    queue: Arc<dyn EventQueue>,
    consumer: Arc<dyn QueueConsumer>,
}

impl World {
    pub async fn new(backend: Backend) -> World {
        // Shorter than the client's 60 s refresh margin: every poll refreshes, so every
        // poll exercises the rotation path.
        Self::with_options(backend, false, Duration::from_secs(30)).await
    }

    /// [`World::new`] with Sage's access tokens living `access_token_ttl`; with
    /// `process_leases`, the embedded backend keeps its leases in memory, as the
    /// standalone runner does.
    pub async fn with_options(
        backend: Backend,
        process_leases: bool,
        access_token_ttl: Duration,
    ) -> World {
        let sim = SageSim::start(SimConfig {
            access_token_ttl,
            ..SimConfig::default()
        })
        .await
        .expect("simulator");
        let client =
            support::sage::client_for(&sim, support::sage::quick_settings(Duration::from_secs(10)));
        let dynamo_requests = Arc::new(DynamoRequests::default());
        let mut embedded = None;
        let (instances, watermarks, leases, secrets, queue, consumer): Ports = match backend {
            Backend::Embedded => {
                let store = EmbeddedStore::open_in_memory(
                    SecretKey::generate().expect("key"),
                    Arc::new(SystemClock),
                )
                .expect("store");
                embedded = Some(store.clone());
                let s = Arc::new(store);
                let leases: Arc<dyn LeaseStore> = if process_leases {
                    Arc::new(ProcessLeases::new())
                } else {
                    s.clone()
                };
                (s.clone(), s.clone(), leases, s.clone(), s.clone(), s)
            }
            Backend::Aws => {
                let config = moto::sdk_config().await;
                let table = moto::create_table(&config).await;
                let queue = moto::create_queue(&config).await;
                let sqs = Arc::new(SqsQueue::from_config(&config, queue.url));
                let dynamo = aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(&config)
                        .interceptor(CountRequests(dynamo_requests.clone()))
                        .build(),
                );
                (
                    Arc::new(DynamoInstanceStore::new(dynamo.clone(), &table)),
                    Arc::new(DynamoWatermarkStore::new(dynamo.clone(), &table)),
                    Arc::new(DynamoLeaseStore::new(dynamo, &table)),
                    Arc::new(SecretsManagerStore::from_config(
                        &config,
                        moto::unique("sage-events/instances/") + "/",
                    )),
                    sqs.clone(),
                    sqs,
                )
            }
        };
        World {
            sim,
            embedded,
            dynamo_requests,
            client,
            instances,
            watermarks: Arc::new(FlakyWatermarks {
                inner: watermarks,
                fail_next: AtomicBool::new(false),
            }),
            leases,
            secrets: Arc::new(FlakySecrets {
                inner: secrets,
                fail_next_put: AtomicBool::new(false),
            }),
            queue,
            consumer,
        }
    }

    fn deps(&self) -> PollerDeps {
        PollerDeps {
            instances: self.instances.clone(),
            watermarks: self.watermarks.clone(),
            leases: self.leases.clone(),
            secrets: self.secrets.clone(),
            queue: self.queue.clone(),
            sage: self.client.clone(),
            clock: Arc::new(SystemClock),
        }
    }

    fn credentials() -> AppCredentials {
        AppCredentials {
            client_id: sage_sim::DEFAULT_CLIENT_ID.into(),
            client_secret: Secret::new(sage_sim::DEFAULT_CLIENT_SECRET),
            redirect_uri: REDIRECT_URI.into(),
        }
    }

    /// Register the seed's example instance (customers) the way registration does:
    /// exchange a fresh grant code, store secrets and record, watermarks at now.
    pub async fn register(&self) -> u64 {
        self.register_with_start(None).await
    }

    /// [`World::register`] with `event.poller.start` set (the customer's history start).
    pub async fn register_with_start(&self, start: Option<DateTime<Utc>>) -> u64 {
        let request =
            parse_instance_request(SEED, &ValidationOptions::default()).expect("seed validates");
        let code = self
            .sim
            .issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI);
        let tokens = self
            .client
            .exchange_code(&Self::credentials(), &Secret::new(code))
            .await
            .expect("code exchange");
        let id = self.instances.next_id().await.expect("id");
        let now = Utc::now();
        let mut configuration = request.configuration.to_response_configuration();
        if let Some(start) = start {
            configuration.insert("event.poller.start".into(), start.to_rfc3339().into());
        }
        let configuration = serde_json::Value::Object(configuration);
        let mut record = InstanceRecord::new(id, "org", request.name.clone(), configuration, now);
        record.tags = request.tags.clone();
        let doc = InstanceSecrets::new(
            &Self::credentials(),
            tokens,
            Secret::new("whsec_dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXk="),
        );
        self.secrets
            .create(id, &doc.to_json())
            .await
            .expect("secret");
        self.instances.create(&record).await.expect("record");
        self.watermarks
            .advance(
                id,
                "customers",
                &Watermark {
                    // As registration does: the history start, else now.
                    at: start.unwrap_or(now),
                    seen: vec![],
                },
            )
            .await
            .expect("watermark");
        id
    }

    pub async fn poll(&self, id: u64) -> PollSummary {
        self.poll_as(id, &format!("test-{}", rand::random::<u32>()))
            .await
    }

    pub async fn poll_as(&self, id: u64, owner: &str) -> PollSummary {
        poll_instance(&self.deps(), &PollSettings::default(), id, owner)
            .await
            .expect("poll")
    }

    /// Every event on the queue (acknowledged, so the next drain sees only new ones).
    pub async fn drain_events(&self) -> Vec<EventView> {
        let mut events = Vec::new();
        let mut empty_rounds = 0;
        while empty_rounds < 2 {
            let messages = self
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
                let body: serde_json::Value =
                    serde_json::from_str(&notification.body).expect("body JSON");
                assert_eq!(body["message"]["eventId"], notification.event_id.as_str());
                for e in body["message"]["events"].as_array().expect("events") {
                    events.push(EventView {
                        event_type: e["eventType"].as_str().unwrap_or_default().to_owned(),
                        object_type: e["objectType"].as_str().unwrap_or_default().to_owned(),
                        object_id: e["objectId"].as_str().unwrap_or_default().to_owned(),
                        event_id: e["eventId"].as_str().unwrap_or_default().to_owned(),
                        notification_id: notification.event_id.clone(),
                        date: e["date"].as_str().unwrap_or_default().to_owned(),
                    });
                }
                self.consumer.ack(&m.receipt).await.expect("ack");
            }
        }
        events
    }

    pub async fn instance(&self, id: u64) -> InstanceRecord {
        self.instances
            .get(id)
            .await
            .expect("get")
            .expect("instance exists")
    }

    pub async fn watermark(&self, id: u64) -> DateTime<Utc> {
        self.watermarks
            .load(id, "customers")
            .await
            .expect("load")
            .expect("watermark")
            .at
    }

    pub async fn secret_tokens(&self, id: u64) -> TokenSet {
        let text = self.secrets.get(id).await.expect("get").expect("secret");
        InstanceSecrets::from_json(&text).expect("doc").tokens
    }

    pub async fn revoke_at_sage(&self, id: u64) {
        let tokens = self.secret_tokens(id).await;
        self.client
            .revoke(&Self::credentials(), &tokens.refresh_token)
            .await
            .expect("revoke");
    }

    pub async fn set_flags(&self, id: u64, disabled: bool, events_enabled: bool) {
        let mut record = self.instance(id).await;
        record.disabled = disabled;
        record.events_enabled = events_enabled;
        self.instances.update(&record).await.expect("update");
    }

    pub fn fail_next_watermark_write(&self) {
        self.watermarks.fail_next.store(true, Ordering::SeqCst);
    }

    pub fn fail_next_secret_write(&self) {
        self.secrets.fail_next_put.store(true, Ordering::SeqCst);
    }
}

/// A watermark store that can be told to fail its next write: the crash between
/// "enqueued" and "watermark stored".
struct FlakyWatermarks {
    inner: Arc<dyn WatermarkStore>,
    fail_next: AtomicBool,
}

#[async_trait]
impl WatermarkStore for FlakyWatermarks {
    async fn load(&self, instance: u64, resource: &str) -> Result<Option<Watermark>, PortError> {
        self.inner.load(instance, resource).await
    }
    async fn load_all(
        &self,
        instance: u64,
    ) -> Result<std::collections::BTreeMap<String, Watermark>, PortError> {
        self.inner.load_all(instance).await
    }

    async fn advance(
        &self,
        instance: u64,
        resource: &str,
        new: &Watermark,
    ) -> Result<bool, PortError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(PortError::unavailable(
                "simulated crash before the watermark write",
            ));
        }
        self.inner.advance(instance, resource, new).await
    }

    async fn delete_instance(&self, instance: u64) -> Result<(), PortError> {
        self.inner.delete_instance(instance).await
    }
}

/// A secret store that can be told to fail its next overwrite (a rotated token save).
struct FlakySecrets {
    inner: Arc<dyn SecretStore>,
    fail_next_put: AtomicBool,
}

#[async_trait]
impl SecretStore for FlakySecrets {
    async fn create(&self, instance: u64, value: &str) -> Result<(), PortError> {
        self.inner.create(instance, value).await
    }

    async fn get(&self, instance: u64) -> Result<Option<String>, PortError> {
        self.inner.get(instance).await
    }

    async fn put(&self, instance: u64, value: &str) -> Result<(), PortError> {
        if self.fail_next_put.swap(false, Ordering::SeqCst) {
            return Err(PortError::unavailable("simulated secret store outage"));
        }
        self.inner.put(instance, value).await
    }

    async fn delete(&self, instance: u64) -> Result<(), PortError> {
        self.inner.delete(instance).await
    }
}
