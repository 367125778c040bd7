//! The simulator's clock: tests move it instead of sleeping.

use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Mutex;

use crate::sync::lock;

/// Real time (or a frozen start) plus an offset that tests change.
#[derive(Debug)]
pub(crate) struct SimClock {
    frozen_start: Option<DateTime<Utc>>,
    offset: Mutex<TimeDelta>,
}

impl SimClock {
    pub(crate) fn new(frozen_start: Option<DateTime<Utc>>) -> Self {
        SimClock {
            frozen_start,
            offset: Mutex::new(TimeDelta::zero()),
        }
    }

    fn base(&self) -> DateTime<Utc> {
        self.frozen_start.unwrap_or_else(Utc::now)
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        let offset = *lock(&self.offset);
        self.base() + offset
    }

    pub(crate) fn advance(&self, by: TimeDelta) {
        *lock(&self.offset) += by;
    }

    pub(crate) fn set_now(&self, to: DateTime<Utc>) {
        let mut offset = lock(&self.offset);
        *offset = to - self.base();
    }
}

/// Sage's timestamps have whole-second resolution (`2023-06-13T10:40:55Z`).
pub(crate) fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// `2023-06-13T10:40:55Z`, the way Sage writes times.
pub(crate) fn sage_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
