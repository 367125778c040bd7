//! A Sage client aimed at a simulator, with retry settings small enough for tests.

use sage_events_core::clock::SystemClock;
use sage_events_core::sage::{ClientSettings, SageClient, SageEndpoints};
use sage_sim::SageSim;
use std::sync::Arc;
use std::time::Duration;

/// Short timeouts and backoff: faults resolve in well under a second per call.
pub fn quick_settings(call_budget: Duration) -> ClientSettings {
    ClientSettings {
        request_timeout: Duration::from_secs(1),
        call_budget,
        max_attempts: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
    }
}

pub fn client_for(sim: &SageSim, settings: ClientSettings) -> SageClient {
    let endpoints = SageEndpoints {
        api_url: sim.api_url().parse().expect("api url"),
        token_url: sim.token_url().parse().expect("token url"),
        revoke_url: sim.revoke_url().parse().expect("revoke url"),
    };
    SageClient::new(endpoints, settings, Arc::new(SystemClock)).expect("client")
}
