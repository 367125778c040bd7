//! Retry arithmetic: the time budget of one logical call, backoff with jitter, and
//! `Retry-After`.

use super::settings::ClientSettings;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::Duration;
use tokio::time::Instant;

/// The time one logical call may take, retries and waits included. Measured on tokio's
/// monotonic clock (real elapsed time, which is what a Lambda deadline counts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallBudget {
    started: Instant,
    total: Duration,
}

impl CallBudget {
    pub(crate) fn start(total: Duration) -> Self {
        CallBudget {
            started: Instant::now(),
            total,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.total.saturating_sub(self.elapsed())
    }

    /// Whether waiting `wait` now would still leave time for another attempt.
    pub(crate) fn allows_wait(&self, wait: Duration) -> bool {
        self.elapsed() + wait < self.total
    }
}

/// The wait after failed attempt number `attempt` (1-based) when the server did not say
/// how long: "equal jitter" — half of the exponential step fixed, half random — so
/// parallel pollers spread out yet every wait really backs off.
pub(crate) fn backoff_delay(settings: &ClientSettings, attempt: u32) -> Duration {
    let step = exponential_step(settings, attempt);
    let half = step / 2;
    let jitter_nanos = u64::try_from((step - half).as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(rand::rng().random_range(0..=jitter_nanos))
}

fn exponential_step(settings: &ClientSettings, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    settings
        .backoff_base
        .checked_mul(1u32 << exponent)
        .unwrap_or(settings.backoff_max)
        .min(settings.backoff_max)
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date (compared with `now`). A date
/// in the past means "now". Unreadable values are ignored (the caller backs off instead).
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn settings(base_ms: u64, max_ms: u64) -> ClientSettings {
        ClientSettings {
            backoff_base: Duration::from_millis(base_ms),
            backoff_max: Duration::from_millis(max_ms),
            ..ClientSettings::default()
        }
    }

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds_and_caps() {
        let s = settings(100, 1_000);
        for _ in 0..200 {
            for (attempt, step) in [
                (1, 100),
                (2, 200),
                (3, 400),
                (4, 800),
                (5, 1000),
                (40, 1000),
            ] {
                let d = backoff_delay(&s, attempt);
                assert!(d >= Duration::from_millis(step / 2), "{attempt}: {d:?}");
                assert!(d <= Duration::from_millis(step), "{attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let s = settings(1_000, 60_000);
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff_delay(&s, 3)).collect();
        assert!(waits.len() > 1);
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn budget_allows_only_waits_that_fit() {
        let budget = CallBudget::start(Duration::from_secs(10));
        assert!(budget.allows_wait(Duration::from_secs(9)));
        assert!(!budget.allows_wait(Duration::from_secs(10)));
        assert!(budget.remaining() <= Duration::from_secs(10));
        assert!(budget.remaining() > Duration::from_secs(9));
        let spent = CallBudget::start(Duration::ZERO);
        assert_eq!(spent.remaining(), Duration::ZERO);
        assert!(!spent.allows_wait(Duration::ZERO));
    }
}
