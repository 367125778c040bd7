//! [`LeaseStore`] in the process's memory, for a process that holds its database alone.
//!
//! Why: the standalone runner takes an exclusive lock on its database file before it
//! opens it, so no other process can poll its instances; a lease then only has to keep
//! two tasks of this one process apart, and memory does that without a durable commit.
//! Writing it to SQLite cost two fsyncs per poll (acquire, release) — on an idle poll, two
//! of its three. A crash loses nothing: the leases die with the process that held them.
//!
//! Same semantics as the stored leases (the same contract suite runs against it): held
//! through `expires_at` inclusive, renewable by its owner, released only by its owner.

use crate::ports::{LeaseStore, PortError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Poll leases kept in memory. Share one (`Arc`) between every service of the process.
#[derive(Debug, Default)]
pub struct ProcessLeases {
    held: Mutex<HashMap<u64, (String, DateTime<Utc>)>>,
}

impl ProcessLeases {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl LeaseStore for ProcessLeases {
    async fn acquire(
        &self,
        instance: u64,
        owner: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let free = match held.get(&instance) {
            None => true,
            Some((holder, until)) => holder == owner || *until < now,
        };
        if free {
            held.insert(instance, (owner.to_owned(), expires_at));
        }
        Ok(free)
    }

    async fn release(&self, instance: u64, owner: &str) -> Result<(), PortError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held
            .get(&instance)
            .is_some_and(|(holder, _)| holder == owner)
        {
            held.remove(&instance);
        }
        Ok(())
    }
}
