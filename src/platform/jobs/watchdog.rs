//! The stall watchdog: a queue worker that stopped heartbeating while its queue has due jobs is
//! reported (log, metric, `/readyz`) and restarted by the runner.
//!
//! An apalis worker heartbeats from the same loop that fetches, so a worker whose heartbeats stop
//! has stopped fetching too: a lost wakeup, a handler blocking its thread, a wedged connection.

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

    /// Marks the worker of `queue` stalled and asks the runner to restart it. Returns false if it
    /// was already marked (so a stall is reported once).
    pub(super) fn stall(&self, queue: Queue) -> bool {
        let mut workers = self.lock();
        let Some(life) = workers.get_mut(&queue) else {
            return false;
        };
        if life.stalled {
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
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use apalis_core::backend::persistence::{Persisted, Persistence, TaskEvent};
    use apalis_core::task::Task;
    use apalis_core::worker::context::WorkerContext;

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
        assert!(health.stall(Queue::SYSTEM));
        assert!(!health.stall(Queue::SYSTEM), "reported twice");
        assert!(restart.is_cancelled());
        assert_eq!(health.report(), vec![(Queue::SYSTEM, true)]);
        health.alive(Queue::SYSTEM);
        assert_eq!(health.report(), vec![(Queue::SYSTEM, false)]);
    }

    /// A backend whose fetches are slower than its heartbeat and always come back empty.
    #[derive(Clone, Default)]
    struct SlowEmptyQueue {
        fetches: Arc<AtomicUsize>,
    }

    impl Persistence for SlowEmptyQueue {
        type Compact = ();
        type Response = ();
        type Error = std::io::Error;

        async fn register(&mut self, _: &WorkerContext) -> Result<(), Self::Error> {
            Ok(())
        }
        async fn heartbeat(&mut self, _: &WorkerContext) -> Result<(), Self::Error> {
            Ok(())
        }
        async fn fetch_next(&mut self, _: &WorkerContext) -> Result<Vec<Task<()>>, Self::Error> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(FETCH).await;
            Ok(Vec::new())
        }
        async fn reenqueue_abandoned(
            &mut self,
            _: Vec<Task<()>>,
            _: &WorkerContext,
        ) -> Result<u64, Self::Error> {
            Ok(0)
        }
        async fn handle_events(
            &mut self,
            _: Vec<TaskEvent<()>>,
            _: &WorkerContext,
        ) -> Result<(), Self::Error> {
            Ok(())
        }
        async fn push_tasks(&mut self, _: Vec<Task<()>>) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    const HEARTBEAT: Duration = Duration::from_millis(20);
    const FETCH: Duration = Duration::from_millis(60);

    /// The worker loop's use of a backend (apalis's `CallAll`), for a queue that stays empty.
    struct IdleWorker {
        backend: Persisted<SlowEmptyQueue>,
        worker: WorkerContext,
    }

    impl Future for IdleWorker {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let IdleWorker { backend, worker } = &mut *self;
            match backend.poll_ready(cx, worker, HEARTBEAT) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => result.expect("heartbeat"),
            }
            match backend.poll_next(cx, worker) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(_) => unreachable!("the queue is empty"),
            }
        }
    }

    /// apalis-core 1.0.0 parked an idle worker for good when a heartbeat fell due during an empty
    /// fetch (see `patches/README.md`): it fetched once and never again.
    #[tokio::test]
    async fn an_idle_worker_keeps_fetching_when_its_heartbeat_falls_during_a_fetch() {
        let queue = SlowEmptyQueue::default();
        let worker = IdleWorker {
            backend: Persisted::new(queue.clone()),
            worker: WorkerContext::new("idle"),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), worker).await;
        let fetches = queue.fetches.load(Ordering::SeqCst);
        assert!(
            fetches >= 5,
            "the worker fetched {fetches} times in a second, with a {FETCH:?} fetch and a \
             {HEARTBEAT:?} heartbeat"
        );
    }
}
