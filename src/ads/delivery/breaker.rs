//! A circuit breaker in front of the cache store on the delivery path. It opens when, within
//! one second, at least `breaker_failures` calls failed and they were at least half of the
//! calls: a dead or frozen cache store then costs requests nothing for `breaker_cooldown`,
//! while a stall of a few milliseconds under load (a few dozen timeouts among thousands of
//! calls) does not switch ingredient targeting off. When the cooldown is over, one call tries
//! the cache store; its success closes the circuit, its failure opens it again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Breaker {
    min_failures: u64,
    cooldown: Duration,
    epoch: Instant,
    /// The second (since `epoch`) that `calls` and `failures` count.
    window: AtomicU64,
    calls: AtomicU64,
    failures: AtomicU64,
    /// Milliseconds after `epoch` until which the circuit is open.
    open_until_ms: AtomicU64,
    /// Set while the one call allowed after a cooldown is out.
    probing: AtomicBool,
    /// Whether the circuit has been opened and not closed since.
    opened: AtomicBool,
}

impl Breaker {
    pub fn new(min_failures: u32, cooldown: Duration) -> Self {
        Breaker {
            min_failures: u64::from(min_failures),
            cooldown,
            epoch: Instant::now(),
            window: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            open_until_ms: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            opened: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether a call may be tried now.
    pub fn allows(&self) -> bool {
        if !self.opened.load(Ordering::Acquire) {
            return true;
        }
        if self.now_ms() < self.open_until_ms.load(Ordering::Acquire) {
            return false;
        }
        // Cooled down: one call at a time tries.
        !self.probing.swap(true, Ordering::AcqRel)
    }

    pub fn succeeded(&self) {
        self.count(false);
        if self.opened.load(Ordering::Acquire) {
            self.opened.store(false, Ordering::Release);
            self.probing.store(false, Ordering::Release);
        }
    }

    /// Counts a failure; true when this one opened the circuit.
    pub fn failed(&self) -> bool {
        let (calls, failures) = self.count(true);
        let probe_failed = self.opened.load(Ordering::Acquire);
        let too_many = failures >= self.min_failures && failures * 2 >= calls;
        if !(probe_failed || too_many) {
            return false;
        }
        let until = self.now_ms() + self.cooldown.as_millis() as u64;
        self.open_until_ms.store(until, Ordering::Release);
        self.probing.store(false, Ordering::Release);
        !self.opened.swap(true, Ordering::AcqRel)
    }

    /// Counts a call in the current second's window; returns the window's (calls, failures).
    fn count(&self, failed: bool) -> (u64, u64) {
        let second = self.now_ms() / 1000;
        let window = self.window.load(Ordering::Acquire);
        if window != second
            && self
                .window
                .compare_exchange(window, second, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.calls.store(0, Ordering::Release);
            self.failures.store(0, Ordering::Release);
        }
        let calls = self.calls.fetch_add(1, Ordering::AcqRel) + 1;
        let failures = if failed {
            self.failures.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.failures.load(Ordering::Acquire)
        };
        (calls, failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_failures_among_many_calls_do_not_open_it() {
        let breaker = Breaker::new(3, Duration::from_secs(60));
        for _ in 0..100 {
            breaker.succeeded();
        }
        for _ in 0..10 {
            assert!(!breaker.failed());
        }
        assert!(breaker.allows(), "10 failures in 110 calls");
    }

    #[test]
    fn mostly_failures_open_it_and_one_probe_closes_it() {
        let breaker = Breaker::new(3, Duration::from_millis(50));
        breaker.succeeded();
        assert!(!breaker.failed() && !breaker.failed());
        assert!(breaker.failed(), "3 failures in 4 calls open it");
        assert!(!breaker.allows());
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allows(), "one probe after the cooldown");
        assert!(!breaker.allows(), "only one");
        breaker.succeeded();
        assert!(breaker.allows() && breaker.allows(), "closed");
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let breaker = Breaker::new(1, Duration::from_millis(50));
        assert!(breaker.failed());
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allows());
        breaker.failed();
        assert!(!breaker.allows(), "open again for another cooldown");
    }
}
