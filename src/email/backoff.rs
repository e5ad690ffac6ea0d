//! How long a failed message waits before its next try.

use std::time::Duration;

/// Longest wait between two tries.
pub const MAX_DELAY: Duration = Duration::from_secs(30 * 60);

/// The wait after the `attempts`-th failed try: `base`, then doubling, capped at `MAX_DELAY`.
pub fn retry_delay(attempts: u32, base: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    base.saturating_mul(1 << doublings).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_and_stop_at_the_cap() {
        let base = Duration::from_secs(10);
        let delays: Vec<u64> = (1..=5).map(|n| retry_delay(n, base).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160]);
        assert_eq!(retry_delay(40, base), MAX_DELAY);
        assert_eq!(retry_delay(0, base), base);
    }
}
