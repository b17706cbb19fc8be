//! Where CPU-bound work runs (image codecs, label layout and PDF): on the blocking pool, at most
//! one piece per core at a time across the whole process, every module sharing the permits, so
//! a burst of large images or label batches neither stalls the async threads nor multiplies
//! peak memory.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

static PERMITS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from)));

/// Runs `work` on the blocking pool once a core is free. Fails only if `work` panicked.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = PERMITS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    Ok(tokio::task::spawn_blocking(work).await?)
}
