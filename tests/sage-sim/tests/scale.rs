//! The simulator serves 100,000 records in 500 pages of 200 without being the bottleneck.

mod common;

use common::*;
use std::collections::HashSet;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_100_000_records_in_500_pages() {
    let sim = frozen_sim().await;
    let started = Instant::now();
    let seeded = sim.seed("contacts", 100_000);
    let seeding = started.elapsed();
    let (token, _) = login(&sim).await;
    let started = Instant::now();
    let pages = all_pages(&sim, &token, "/contacts?items_per_page=200").await;
    let paging = started.elapsed();
    eprintln!("seeding {seeding:?}, paging {paging:?}");
    assert_eq!(pages.len(), 500);
    let mut ids = HashSet::new();
    for page in &pages {
        for item in page["$items"].as_array().unwrap() {
            assert!(
                ids.insert(item["id"].as_str().unwrap().to_owned()),
                "doubled"
            );
        }
    }
    assert_eq!(ids, seeded.into_iter().collect::<HashSet<_>>());
}
