//! The lost wakeup that `patches/apalis-core` fixes, reproduced against apalis's own `Persisted`
//! state machine, which every storage backend drives: once upstream ships the fix and the patch
//! goes, this test says whether the fix holds.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::persistence::{Persisted, Persistence, TaskEvent};
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;

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
