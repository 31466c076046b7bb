//! Retry delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
//! Backoff And Jitter"): the delay after attempt `n` is uniform in `[0, min(max, base * 2^(n-1))]`,
//! so retries of many events spread out instead of hitting the broker together.

use std::time::Duration;

/// The backoff ceiling after `attempts` failures (before jitter).
pub fn ceiling(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(32);
    base.checked_mul(1_u32 << exponent.min(31))
        .unwrap_or(max)
        .min(max)
}

/// The delay before the next attempt after `attempts` failures: uniform in `[base/2, ceiling]`
/// so that a retry never comes back immediately.
pub fn delay(attempts: i32, base: Duration, max: Duration) -> Duration {
    let ceiling = ceiling(attempts, base, max);
    let floor = (base / 2).min(ceiling);
    let span = ceiling.saturating_sub(floor);
    floor + span.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        let ceilings: Vec<u64> = (1..=8).map(|n| ceiling(n, base, max).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(ceiling(1000, base, max), max);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(10));
        for attempts in 1..20 {
            for _ in 0..50 {
                let d = delay(attempts, base, max);
                assert!(
                    d >= Duration::from_millis(50) && d <= ceiling(attempts, base, max),
                    "{attempts}: {d:?}"
                );
            }
        }
    }
}
