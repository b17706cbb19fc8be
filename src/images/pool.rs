//! Where decoding, resizing and encoding run: on the blocking pool, at most one job per core at
//! a time in this process (uploads, deliveries and the variants job share the permits), so a
//! burst of large images neither stalls the async threads nor multiplies peak memory.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

static PERMITS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from)));

/// Runs `work` on the blocking pool once a core is free.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = PERMITS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    Ok(tokio::task::spawn_blocking(work).await?)
}
