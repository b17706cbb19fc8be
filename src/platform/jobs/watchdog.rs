//! The stall watchdog: a queue worker that stopped heartbeating while its queue has due jobs is
//! reported (log, metric, `/readyz`) and restarted by the runner.
//!
//! An apalis worker heartbeats from the same loop that fetches, and fetches only when it has a
//! free slot (one job per fetch, see `backend.rs`), so a worker that neither heartbeats nor
//! finishes jobs has stopped: a lost wakeup, a handler blocking its thread, a wedged connection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Queue;

/// This process's queue workers, as their heartbeats show them.
#[derive(Clone, Debug, Default)]
pub struct WorkerHealth {
    workers: Arc<Mutex<BTreeMap<Queue, Life>>>,
}

#[derive(Debug)]
struct Life {
    /// The worker's name in the backend, which marks the jobs it claimed.
    name: String,
    last_sign: Instant,
    stalled: bool,
    /// Cancelled to make the runner restart this worker.
    restart: CancellationToken,
}

impl WorkerHealth {
    /// A (re)started worker of `queue`; the token is cancelled when the watchdog wants it
    /// restarted.
    pub(super) fn started(&self, queue: Queue, name: &str) -> CancellationToken {
        let restart = CancellationToken::new();
        self.lock().insert(
            queue,
            Life {
                name: name.to_string(),
                last_sign: Instant::now(),
                stalled: false,
                restart: restart.clone(),
            },
        );
        restart
    }

    /// The worker of `queue` heartbeated or finished a job.
    pub(super) fn alive(&self, queue: Queue) {
        if let Some(life) = self.lock().get_mut(&queue) {
            life.last_sign = Instant::now();
            life.stalled = false;
        }
    }

    /// Queues whose worker has been silent for longer than `after`, with the worker's name.
    pub(super) fn silent_for(&self, after: Duration) -> Vec<(Queue, String)> {
        self.lock()
            .iter()
            .filter(|(_, life)| life.last_sign.elapsed() > after)
            .map(|(queue, life)| (*queue, life.name.clone()))
            .collect()
    }

    /// Marks the worker `name` of `queue` stalled and asks the runner to restart it, if it is
    /// still the queue's worker and still silent for longer than `after` (the caller looked at
    /// the backend meanwhile). Returns false otherwise, and when it was already marked, so a
    /// stall is reported once.
    pub(super) fn stall(&self, queue: Queue, name: &str, after: Duration) -> bool {
        let mut workers = self.lock();
        let Some(life) = workers.get_mut(&queue) else {
            return false;
        };
        if life.stalled || life.name != name || life.last_sign.elapsed() <= after {
            return false;
        }
        life.stalled = true;
        life.restart.cancel();
        true
    }

    /// Queues with a worker in this process, and whether that worker is stalled; empty when
    /// the process runs no worker role.
    pub fn report(&self) -> Vec<(Queue, bool)> {
        self.lock()
            .iter()
            .map(|(queue, life)| (*queue, life.stalled))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Queue, Life>> {
        self.workers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_worker_is_reported_once_and_cleared_by_its_next_sign_of_life() {
        let health = WorkerHealth::default();
        let restart = health.started(Queue::SYSTEM, "system@here.0");
        assert!(health.silent_for(Duration::from_secs(60)).is_empty());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            health.silent_for(Duration::from_millis(10)),
            vec![(Queue::SYSTEM, "system@here.0".to_string())]
        );
        let after = Duration::from_millis(10);
        assert!(
            !health.stall(Queue::SYSTEM, "system@here.1", after),
            "another worker"
        );
        assert!(health.stall(Queue::SYSTEM, "system@here.0", after));
        assert!(
            !health.stall(Queue::SYSTEM, "system@here.0", after),
            "reported twice"
        );
        assert!(restart.is_cancelled());
        assert_eq!(health.report(), vec![(Queue::SYSTEM, true)]);
        health.alive(Queue::SYSTEM);
        assert_eq!(health.report(), vec![(Queue::SYSTEM, false)]);
        assert!(
            !health.stall(Queue::SYSTEM, "system@here.0", after),
            "it beat since it was found silent"
        );
    }
}
