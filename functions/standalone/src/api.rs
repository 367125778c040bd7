//! The seam between the HTTP layer and the `/instances` API core.
//!
//! The server speaks only [`ApiHandler`]; [`registration_service`] is the one place that
//! builds the real handler, so swapping it is a one-function change.

use async_trait::async_trait;
use sage_events_core::clock::Clock;
use sage_events_core::embedded::EmbeddedStore;
use sage_events_core::ports::{LeaseStore, PollTrigger};
use sage_events_core::registration::auth::Authenticator;
use sage_events_core::registration::http::{ApiRequest, ApiResponse};
use sage_events_core::registration::{RegistrationDeps, RegistrationService};
use sage_events_core::sage::SageClient;
use sage_events_core::settings::Settings;
use std::sync::Arc;

/// Answers one transport-free API request (routing, auth, validation are its business).
#[async_trait]
pub trait ApiHandler: Send + Sync {
    async fn handle(&self, request: ApiRequest) -> ApiResponse;
}

/// Everything the registration service is built from.
pub struct RegistrationParts {
    pub store: EmbeddedStore,
    /// The runner's poll leases (in memory: it holds the database alone).
    pub leases: Arc<dyn LeaseStore>,
    pub poll_trigger: Arc<dyn PollTrigger>,
    pub sage: SageClient,
    pub clock: Arc<dyn Clock>,
    pub auth: Authenticator,
    pub settings: Settings,
}

/// The registration service on the embedded store: the same routes, auth and errors as
/// the Lambda behind API Gateway.
pub fn registration_service(parts: RegistrationParts) -> Arc<dyn ApiHandler> {
    let store = Arc::new(parts.store);
    let deps = RegistrationDeps {
        instances: store.clone(),
        watermarks: store.clone(),
        leases: parts.leases,
        secrets: store.clone(),
        scheduler: store,
        poll_trigger: parts.poll_trigger,
        sage: parts.sage,
        clock: parts.clock,
    };
    Arc::new(RegistrationService::new(deps, parts.auth, parts.settings))
}

#[async_trait]
impl ApiHandler for RegistrationService {
    async fn handle(&self, request: ApiRequest) -> ApiResponse {
        RegistrationService::handle(self, request).await
    }
}
