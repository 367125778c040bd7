//! The demo end to end, on the real registration service: it registers the seed body over
//! HTTP, makes changes at the Sage simulator, polls, and every event must reach the
//! loopback receiver with both signatures verified — then it exits 0.

use async_trait::async_trait;
use sage_events_core::registration::http::{ApiError, ApiRequest, ApiResponse};
use sage_events_standalone::api::{ApiHandler, RegistrationParts};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_delivers_every_change_with_verified_signatures_and_exits_0() {
    let started = std::time::Instant::now();
    let code = sage_events_standalone::demo::run().await;
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
