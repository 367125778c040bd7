//! The port contract suites — the same ones the AWS adapters pass on moto — against the
//! embedded (SQLite) adapters.
#![cfg(all(feature = "embedded", feature = "contract-tests"))]

use sage_events_core::clock::SystemClock;
use sage_events_core::embedded::{EmbeddedStore, ProcessLeases, SecretKey};
use sage_events_core::ports::contract;
use std::sync::Arc;

fn store() -> EmbeddedStore {
    let dir = std::env::temp_dir().join(format!("sage-events-contract-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    EmbeddedStore::open_with_clock(
        &dir.join("store.db"),
        SecretKey::generate().expect("key"),
        Arc::new(SystemClock),
    )
    .expect("open store")
}

fn rand_suffix() -> String {
    format!("{}-{}", std::process::id(), rand::random::<u64>())
}

#[tokio::test]
async fn instance_store() {
    contract::instance_store_contract(&store()).await;
}

#[tokio::test]
async fn watermark_store() {
    contract::watermark_store_contract(&store()).await;
}

#[tokio::test]
async fn lease_store() {
    let store = store();
    contract::lease_store_contract(&store, &store).await;
}

#[tokio::test]
async fn process_leases() {
    contract::lease_store_contract(&ProcessLeases::new(), &store()).await;
}

#[tokio::test]
async fn secret_store() {
    contract::secret_store_contract(&store()).await;
}

#[tokio::test]
async fn event_queue() {
    let s = store();
    contract::event_queue_contract(&s, &s).await;
}

#[tokio::test]
async fn poll_scheduler() {
    contract::poll_scheduler_contract(&store()).await;
}
