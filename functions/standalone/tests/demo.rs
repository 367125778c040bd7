//! The demo end to end, around a minimal stand-in for the registration service (the real
//! one is wired in by `api::registration_service` after the merge): it must register,
//! see the changes polled, every event delivered with verified signatures, and exit 0.

use async_trait::async_trait;
use chrono::Utc;
use sage_events_core::config::{ValidationOptions, parse_instance_request};
use sage_events_core::embedded::EmbeddedStore;
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::ports::{
    InstanceRecord, InstanceStore, PollScheduler, PollTrigger, SecretStore, Watermark,
    WatermarkStore,
};
use sage_events_core::registration::auth::Authenticator;
use sage_events_core::registration::http::{ApiError, ApiRequest, ApiResponse};
use sage_events_core::sage::{AppCredentials, SageClient};
use sage_events_core::secret::Secret;
use sage_events_standalone::api::{ApiHandler, RegistrationParts};
use std::sync::Arc;

/// Just enough of `/instances` for the demo: create, poll now, read.
struct StandIn {
    store: EmbeddedStore,
    trigger: Arc<dyn PollTrigger>,
    sage: SageClient,
    auth: Authenticator,
}

impl StandIn {
    async fn create(&self, body: &[u8]) -> Result<ApiResponse, ApiError> {
        let options = ValidationOptions {
            min_refresh_interval_minutes: 1,
            require_code: true,
        };
        let request = parse_instance_request(body, &options)
            .map_err(|e| ApiError::bad_request(format!("{e:?}")))?;
        let config = &request.configuration;
        let code = request
            .code
            .clone()
            .ok_or_else(|| ApiError::bad_request("no code"))?;
        let tokens = self
            .sage
            .exchange_code(
                &AppCredentials {
                    client_id: config.oauth_api_key.clone(),
                    client_secret: config.oauth_api_secret.clone(),
                    redirect_uri: config.oauth_callback_url.clone(),
                },
                &code,
            )
            .await
            .map_err(|e| ApiError::new(502, e.to_string()))?;
        let port = |e: sage_events_core::ports::PortError| ApiError::new(500, e.to_string());
        let id = InstanceStore::next_id(&self.store).await.map_err(port)?;
        let now = Utc::now();
        let doc = InstanceSecrets {
            client_id: config.oauth_api_key.clone(),
            client_secret: config.oauth_api_secret.clone(),
            redirect_uri: config.oauth_callback_url.clone(),
            tokens,
            signature_key: config
                .notification_signature_key
                .clone()
                .unwrap_or_else(|| Secret::new("whsec_c3RhbmQtaW4ta2V5")),
            signature_secret: None,
            apim_subscription_key: None,
        };
        SecretStore::create(&self.store, id, &doc.to_json())
            .await
            .map_err(port)?;
        let record = InstanceRecord {
            id,
            organization: "org".into(),
            name: request.name.clone(),
            tags: request.tags.clone(),
            token_hash: String::new(),
            configuration: serde_json::Value::Object(config.to_response_configuration()),
            events_enabled: true,
            disabled: false,
            valid: true,
            invalid_reason: None,
            created_at: now,
            updated_at: now,
            poll: Default::default(),
            delivery: Default::default(),
        };
        InstanceStore::create(&self.store, &record)
            .await
            .map_err(port)?;
        let raw: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let resources = raw
            .pointer("/configuration/event.poller.configuration")
            .and_then(|v| v.as_object())
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for resource in resources {
            let mark = Watermark {
                at: now,
                seen: vec![],
            };
            WatermarkStore::advance(&self.store, id, &resource, &mark)
                .await
                .map_err(port)?;
        }
        let minutes = config.events.refresh_interval_minutes.unwrap_or(15);
        PollScheduler::upsert(&self.store, id, minutes)
            .await
            .map_err(port)?;
        Ok(ApiResponse::json(200, serde_json::json!({ "id": id })))
    }
}

#[async_trait]
impl ApiHandler for StandIn {
    async fn handle(&self, request: ApiRequest) -> ApiResponse {
        if self
            .auth
            .authenticate(request.authorization.as_deref())
            .is_err()
        {
            return ApiError::unauthorized("who are you").into_response();
        }
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        let result = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["instances"]) => self.create(&request.body).await,
            ("POST", ["instances", id, "poll"]) => match id.parse::<u64>() {
                Ok(id) => match self.trigger.poll_now(id).await {
                    Ok(()) => Ok(ApiResponse::empty(202)),
                    Err(e) => Err(ApiError::new(503, e.to_string())),
                },
                Err(_) => Err(ApiError::not_found()),
            },
            ("GET", ["instances", id]) => match id.parse::<u64>() {
                Ok(id) => match InstanceStore::get(&self.store, id).await {
                    Ok(Some(record)) => Ok(ApiResponse::json(200, record)),
                    _ => Err(ApiError::not_found()),
                },
                Err(_) => Err(ApiError::not_found()),
            },
            _ => Err(ApiError::new(404, "no such route")),
        };
        result.unwrap_or_else(ApiError::into_response)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_delivers_every_change_with_verified_signatures_and_exits_0() {
    let started = std::time::Instant::now();
    let code = sage_events_standalone::demo::run_with_handler(|parts: RegistrationParts| {
        Arc::new(StandIn {
            store: parts.store,
            trigger: parts.poll_trigger,
            sage: parts.sage,
            auth: parts.auth,
        }) as Arc<dyn ApiHandler>
    })
    .await;
    assert_eq!(code, 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// An API that refuses everything.
struct Refusing;

#[async_trait]
impl ApiHandler for Refusing {
    async fn handle(&self, _request: ApiRequest) -> ApiResponse {
        ApiError::unauthorized("no").into_response()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_exits_1_when_registration_is_refused() {
    let code = sage_events_standalone::demo::run_with_handler(|_parts: RegistrationParts| {
        Arc::new(Refusing) as Arc<dyn ApiHandler>
    })
    .await;
    assert_eq!(code, 1);
}
