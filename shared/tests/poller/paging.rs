//! Nothing is lost when Sage's list changes between the pages a poll reads.
//!
//! Sage pages by `page` × `items_per_page` over the live result set. The simulator pages
//! the same way (records in id order), and its list hook changes records between the
//! requests of one poll: the interleavings a busy company produces.

use super::world::{Backend, World};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sage_events_core::poll::PollOutcome;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The customers a scenario created after registration, and what became of them.
#[derive(Default)]
struct Book {
    live: Vec<String>,
    deleted: Vec<String>,
}

/// Runs two polls (the second after the churn stopped, as the next scheduled poll) and
/// checks the promise: every surviving record's latest version is delivered, every
/// deletion is reported, and no version is emitted twice.
async fn assert_everything_delivered(w: &World, id: u64, book: &Mutex<Book>, label: &str) {
    let first = w.poll(id).await;
    assert_eq!(first.outcome, PollOutcome::Polled, "{label}: {first:?}");
    w.sim.clear_list_hook();
    w.sim.advance(ChronoDuration::seconds(1));
    let second = w.poll(id).await;
    assert_eq!(second.outcome, PollOutcome::Polled, "{label}: {second:?}");
    let events = w.drain_events().await;

    let mut ids = HashSet::new();
    for e in &events {
        assert!(
            ids.insert(e.event_id.clone()),
            "{label}: version emitted twice: {} {} {}",
            e.event_type,
            e.object_id,
            e.date
        );
    }
    let mut latest: HashMap<&str, DateTime<Utc>> = HashMap::new();
    let mut deletions: HashSet<&str> = HashSet::new();
    for e in &events {
        if e.event_type == "DELETED" {
            deletions.insert(&e.object_id);
            continue;
        }
        let date = parse(&e.date);
        let slot = latest.entry(&e.object_id).or_insert(date);
        *slot = (*slot).max(date);
    }
    let book = book.lock().expect("book");
    let mut missing = Vec::new();
    for record in &book.live {
        let at_sage = w.sim.record("contacts", record).expect("live record");
        let updated = parse(at_sage["updated_at"].as_str().expect("updated_at"));
        if latest.get(record.as_str()) != Some(&updated) {
            missing.push(record.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{label}: {} of {} surviving records lack their latest version (first poll {:?})",
        missing.len(),
        book.live.len(),
        first.resources
    );
    for record in &book.deleted {
        assert!(
            deletions.contains(record.as_str()),
            "{label}: deletion of {record} not reported"
        );
    }
}

fn parse(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("date {text:?}: {e}"))
        .with_timezone(&Utc)
}

/// Registers with a history start 15 minutes back, and creates `n` customers changed
/// 10 minutes ago: inside the first poll's window, but older than the lookback the next
/// poll re-reads (the normal case with a 15-minute interval). A record the first poll
/// skips is then lost for good.
async fn world_with_customers(backend: Backend, n: usize) -> (World, u64, Arc<Mutex<Book>>) {
    let w = World::new(backend).await;
    let now = Utc::now();
    let id = w
        .register_with_start(Some(now - ChronoDuration::minutes(15)))
        .await;
    let live = (0..n)
        .map(|i| {
            w.sim.create_at(
                "contacts",
                serde_json::json!({"name": format!("C{i}")}),
                now - ChronoDuration::minutes(10),
            )
        })
        .collect();
    (
        w,
        id,
        Arc::new(Mutex::new(Book {
            live,
            deleted: Vec::new(),
        })),
    )
}

/// The reported reproduction: rows on page 1 deleted while the poll is between two
/// later pages shift the rest back across the page boundary.
pub async fn deleting_rows_of_page_one_mid_listing(backend: Backend) {
    let (w, id, book) = world_with_customers(backend, 1_000).await;
    let sim = w.sim.clone();
    let hook_book = book.clone();
    let mut sorted = book.lock().expect("book").live.clone();
    sorted.sort();
    let victims: Vec<String> = sorted[..2].to_vec();
    let fired = Arc::new(Mutex::new(false));
    w.sim.on_list(move |call| {
        let mut fired = fired.lock().expect("fired");
        if call.deleted || call.page != Some(4) || *fired {
            return;
        }
        *fired = true;
        let mut book = hook_book.lock().expect("book");
        for victim in &victims {
            assert!(sim.delete("contacts", victim));
            book.live.retain(|r| r != victim);
            book.deleted.push(victim.clone());
        }
    });
    assert_everything_delivered(&w, id, &book, &format!("{backend:?}")).await;
}

/// Random interleavings of creates, updates and deletes with page fetches.
pub async fn random_churn_between_pages(backend: Backend, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let records = rng.random_range(250..900);
    let (w, id, book) = world_with_customers(backend, records).await;
    let sim = w.sim.clone();
    let hook_book = book.clone();
    let rng = Mutex::new(rng);
    let serial = Mutex::new(0u32);
    w.sim.on_list(move |call| {
        if call.deleted {
            return;
        }
        let mut rng = rng.lock().expect("rng");
        let mut book = hook_book.lock().expect("book");
        // Mostly a few changes per page; sometimes a burst that moves rows by more than
        // the reader's overlap.
        let changes = if rng.random_bool(0.2) {
            rng.random_range(6..=25)
        } else {
            rng.random_range(0..=3)
        };
        for _ in 0..changes {
            let roll = rng.random_range(0..10);
            if book.live.is_empty() || roll >= 8 {
                let mut serial = serial.lock().expect("serial");
                *serial += 1;
                let created = sim.create(
                    "contacts",
                    serde_json::json!({"name": format!("New {}", *serial)}),
                );
                book.live.push(created);
            } else if roll < 5 {
                let at = rng.random_range(0..book.live.len());
                let victim = book.live.swap_remove(at);
                assert!(sim.delete("contacts", &victim));
                book.deleted.push(victim);
            } else {
                let target = &book.live[rng.random_range(0..book.live.len())];
                assert!(sim.update(
                    "contacts",
                    target,
                    serde_json::json!({"notes": format!("changed {}", rng.random::<u32>())})
                ));
            }
        }
    });
    assert_everything_delivered(&w, id, &book, &format!("{backend:?} seed {seed}")).await;
}
