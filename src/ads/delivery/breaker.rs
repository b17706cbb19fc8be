//! A circuit breaker in front of the cache store on the delivery path: after
//! `breaker_failures` failed calls in a row, requests stop calling it for `breaker_cooldown`
//! and deliver without ingredient targeting at once instead of each waiting out its timeout.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    epoch: Instant,
    failures: AtomicU32,
    /// Milliseconds after `epoch` until which the circuit is open.
    open_until_ms: AtomicU64,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold,
            cooldown,
            epoch: Instant::now(),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether a call may be tried now.
    pub fn allows(&self) -> bool {
        self.now_ms() >= self.open_until_ms.load(Ordering::Relaxed)
    }

    pub fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
    }

    /// Counts a failure; true when this one opened the circuit.
    pub fn failed(&self) -> bool {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures < self.threshold {
            return false;
        }
        self.failures.store(0, Ordering::Relaxed);
        let until = self.now_ms() + self.cooldown.as_millis() as u64;
        self.open_until_ms.store(until, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_in_a_row_and_closes_after_the_cooldown() {
        let breaker = Breaker::new(3, Duration::from_millis(50));
        assert!(breaker.allows());
        assert!(!breaker.failed() && !breaker.failed());
        breaker.succeeded();
        assert!(
            !breaker.failed() && !breaker.failed(),
            "success reset the count"
        );
        assert!(breaker.failed(), "the third in a row opens it");
        assert!(!breaker.allows());
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allows(), "closed again after the cooldown");
    }
}
