//! When to try a failed callback again.
//!
//! Modelled on Cloud Elements' schedule (4^n seconds) so customers migrating see the same
//! rhythm, capped at SQS's 12-hour visibility limit, with ±20 % jitter so a receiver that
//! comes back after an outage is not hit by every retry in the same second. A receiver's
//! `Retry-After` wins when it asks for longer (within the cap).
//!
//! With the default `maxReceiveCount` of 10 the tries span 4 s, 16 s, 64 s, 256 s, 17 min,
//! 68 min, 4.6 h, then 12 h twice: about 30 hours before the dead-letter queue.

use rand::Rng;
use std::time::Duration;

/// SQS refuses a visibility timeout above 12 hours.
pub const MAX_DELAY: Duration = Duration::from_secs(12 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySchedule {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Each further failure multiplies the delay by this.
    pub factor: u32,
    /// Upper bound of any delay (≤ 12 h).
    pub cap: Duration,
    /// Relative jitter, 0.2 = ±20 %.
    pub jitter: f64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            base: Duration::from_secs(4),
            factor: 4,
            cap: MAX_DELAY,
            jitter: 0.2,
        }
    }
}

impl RetrySchedule {
    /// Parse `"4s*4,max=43200s"`-free simple forms used by the deployment settings:
    /// `base_seconds,factor,cap_seconds` (e.g. `4,4,43200`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [base, factor, cap] = parts.as_slice() else {
            return Err(format!(
                "retry schedule {text:?}: expected base_seconds,factor,cap_seconds"
            ));
        };
        let number = |name: &str, v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("retry schedule {text:?}: {name} must be a whole number"))
        };
        let base = number("base_seconds", base)?;
        let factor = number("factor", factor)?;
        let cap = number("cap_seconds", cap)?;
        if base == 0 || factor == 0 || cap == 0 {
            return Err(format!("retry schedule {text:?}: values must be ≥ 1"));
        }
        Ok(RetrySchedule {
            base: Duration::from_secs(base),
            factor: factor.min(u32::MAX as u64) as u32,
            cap: Duration::from_secs(cap).min(MAX_DELAY),
            jitter: 0.2,
        })
    }

    /// The nominal delay after the `attempt`-th failed attempt (1-based), before jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(40);
        let multiplier = (self.factor as u64).saturating_pow(exponent);
        let secs = self.base.as_secs().saturating_mul(multiplier);
        Duration::from_secs(secs).min(self.cap)
    }

    /// The delay to wait after the `attempt`-th failure, jittered, honouring a receiver's
    /// `Retry-After` when it asks for longer.
    pub fn delay<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        let nominal = self.nominal(attempt).as_secs_f64();
        let spread = nominal * self.jitter;
        let jittered = if spread > 0.0 {
            rng.random_range((nominal - spread)..=(nominal + spread))
        } else {
            nominal
        };
        let mut delay = Duration::from_secs_f64(jittered.max(1.0));
        if let Some(asked) = retry_after {
            delay = delay.max(asked);
        }
        delay.min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn nominal_schedule_is_four_to_the_n_capped_at_twelve_hours() {
        let s = RetrySchedule::default();
        let secs: Vec<u64> = (1..=10).map(|n| s.nominal(n).as_secs()).collect();
        assert_eq!(
            secs,
            vec![4, 16, 64, 256, 1024, 4096, 16384, 43200, 43200, 43200]
        );
    }

    #[test]
    fn ten_receives_span_more_than_a_day() {
        // Nine waits separate ten attempts.
        let s = RetrySchedule::default();
        let total: u64 = (1..=9).map(|n| s.nominal(n).as_secs()).sum();
        assert!(total >= 24 * 3600, "total {total}s");
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let s = RetrySchedule::default();
        let mut rng = StdRng::seed_from_u64(7);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = s.delay(3, None, &mut rng).as_secs_f64();
            assert!((51.2..=76.8).contains(&d), "{d}");
            distinct.insert(d.to_bits());
        }
        assert!(distinct.len() > 50, "jitter should spread retries");
    }

    #[test]
    fn retry_after_wins_when_longer_but_never_beyond_cap() {
        let s = RetrySchedule::default();
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            s.delay(1, Some(Duration::from_secs(120)), &mut rng),
            Duration::from_secs(120)
        );
        assert_eq!(
            s.delay(1, Some(Duration::from_secs(100_000)), &mut rng),
            MAX_DELAY
        );
        assert!(s.delay(5, Some(Duration::from_secs(1)), &mut rng) > Duration::from_secs(800));
    }

    #[test]
    fn parses_settings() {
        let s = RetrySchedule::parse("2, 3, 600").unwrap();
        assert_eq!(s.nominal(1), Duration::from_secs(2));
        assert_eq!(s.nominal(3), Duration::from_secs(18));
        assert_eq!(s.nominal(10), Duration::from_secs(600));
        assert!(RetrySchedule::parse("2,3").is_err());
        assert!(RetrySchedule::parse("a,3,4").is_err());
        assert!(RetrySchedule::parse("0,3,4").is_err());
        assert_eq!(RetrySchedule::parse("1,2,99999999").unwrap().cap, MAX_DELAY);
    }
}
